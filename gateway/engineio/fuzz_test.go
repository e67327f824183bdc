package engineio

import (
	"bytes"
	"errors"
	"testing"
)

var seedFrames = []string{
	"0{\"sid\":\"a\",\"upgrades\":[\"websocket\"],\"pingInterval\":300,\"pingTimeout\":200,\"maxPayload\":1000000}",
	"1", "2", "2probe", "3", "3probe", "4hello", "5", "6", "abc", "",
	`40`, `40/custom,{"token":"abc"}`, `42["message",1,"2",{"3":[true]}]`,
	`452-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`,
}

var seedPayloads = []string{
	"4hello", "4abc\x1e3\x1e4def", "4test1\x1e4test2\x1e4test3", "4hello\x1ebAQIDBA==",
	"b3q0=", "b", "abc", "4a\x1e\x1e4b", "4a\x1e", "\x1e", "bAQIDBA", "2\x1e6",
	"451-[\"upload\",\"a.png\",{\"_placeholder\":true,\"num\":0}]\x1ebAQID",
}

func FuzzDecodeText(f *testing.F) {
	for _, s := range seedFrames {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		p, err := DecodeText(in)
		if err != nil {
			if !errors.Is(err, ErrInvalidPacket) {
				t.Fatalf("error %v does not wrap ErrInvalidPacket", err)
			}
			return
		}
		if !p.Type.Valid() || p.Binary {
			t.Fatalf("decoded %+v", p)
		}
		out := AppendText(nil, p)
		if !bytes.Equal(out, in) {
			t.Fatalf("re-encoded %q as %q", in, out)
		}
		q, err := DecodeText(out)
		if err != nil || q.Type != p.Type || !bytes.Equal(q.Data, p.Data) {
			t.Fatalf("round trip: %+v, %v; want %+v", q, err, p)
		}
	})
}

func FuzzDecodePayload(f *testing.F) {
	for _, s := range seedPayloads {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var pkts []Packet
		err := DecodePayload(body, func(p Packet) error {
			if !p.Type.Valid() || (p.Binary && p.Type != Message) {
				t.Fatalf("decoded %+v", p)
			}
			pkts = append(pkts, p)
			return nil
		})
		if err != nil {
			if !errors.Is(err, ErrInvalidPayload) {
				t.Fatalf("error %v does not wrap ErrInvalidPayload", err)
			}
			return
		}
		if len(pkts) != bytes.Count(body, []byte{RecordSeparator})+1 {
			t.Fatalf("%d packets from %q", len(pkts), body)
		}
		out := AppendPayload(nil, pkts...)
		var again []Packet
		if err := DecodePayload(out, func(p Packet) error { again = append(again, p); return nil }); err != nil {
			t.Fatalf("re-encoded %q does not decode: %v", out, err)
		}
		if len(again) != len(pkts) {
			t.Fatalf("round trip: %d packets, want %d", len(again), len(pkts))
		}
		for i := range pkts {
			if again[i].Type != pkts[i].Type || again[i].Binary != pkts[i].Binary || !bytes.Equal(again[i].Data, pkts[i].Data) {
				t.Fatalf("round trip packet %d: %+v, want %+v", i, again[i], pkts[i])
			}
		}
	})
}
