package socketio

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"unicode/utf8"
)

// seedPackets are real frames (without the Engine.IO '4') plus near misses.
var seedPackets = []string{
	"0", `0{"token":"123"}`, "0/custom,", `0/custom,{"token":"abc"}`, "0/random", "1", "1/custom",
	`2["message",1,"2",{"3":[true]}]`, `2456["message-with-ack",1,"2",{"3":[false]}]`, `2/chat,["typing"]`,
	`3456[1,"2",{"3":[false]}]`, "3/chat,7[]", `4/random,{"message":"Invalid namespace"}`,
	`51-["upload","a.png",{"_placeholder":true,"num":0}]`,
	`52-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`,
	`62-789[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`,
	"abc", "2{}", `2abc["message-with-ack"]`, `2["connect"]`, `2["\u0063onnect"]`, "5-[]", `2[1.5e3,"x"]`,
}

// checkRoundTrip asserts that encoding p and decoding the result gives p back.
func checkRoundTrip(t *testing.T, p *Packet) {
	t.Helper()
	if p.Namespace == "" || p.Namespace[0] != '/' || p.ID < NoID || p.Attachments < 0 || p.Attachments > MaxAttachments {
		t.Fatalf("decoded out of range: %+v", p)
	}
	enc := AppendEncode(nil, p)
	q, err := Decode(enc)
	if err != nil {
		t.Fatalf("re-encoded %q does not decode: %v", enc, err)
	}
	want := *p
	want.Buffers = nil
	if want.Attachments == 0 {
		want.Attachments = len(p.Buffers)
	}
	if !reflect.DeepEqual(*q, want) {
		t.Fatalf("round trip of %q: %+v, want %+v", enc, *q, want)
	}
}

// checkEvent asserts that a decoded event splits and rebuilds exactly.
func checkEvent(t *testing.T, p *Packet) {
	t.Helper()
	if p.Type != Event && p.Type != BinaryEvent {
		return
	}
	name, args, err := SplitEvent(p.Data)
	if err != nil {
		t.Fatalf("SplitEvent(%q) of a valid packet: %v", p.Data, err)
	}
	if p.Data[skipSpace(p.Data, 0)+1] == '"' || !utf8.ValidString(name) {
		return // a numeric name is rebuilt as a string; invalid UTF-8 is replaced
	}
	rebuilt := AppendEventData(nil, name, args...)
	name2, args2, err := SplitEvent(rebuilt)
	if err != nil || name2 != name || !reflect.DeepEqual(args2, args) {
		t.Fatalf("rebuilt %q: %q %q %v; want %q %q", rebuilt, name2, args2, err, name, args)
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range seedPackets {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		p, err := Decode(in)
		if err != nil {
			if !errors.Is(err, ErrInvalidPacket) || p != nil {
				t.Fatalf("Decode(%q) = %v, %v", in, p, err)
			}
			return
		}
		if p.Data != nil && !json.Valid(p.Data) {
			t.Fatalf("Decode(%q) accepted invalid JSON %q", in, p.Data)
		}
		checkRoundTrip(t, p)
		checkEvent(t, p)
	})
}

// FuzzDecoder feeds a text packet and then attachment bytes, once whole and
// once split in two, checking the Decoder's state machine either way.
func FuzzDecoder(f *testing.F) {
	for _, s := range seedPackets {
		f.Add([]byte(s), []byte{1, 2, 3, 4, 5, 6}, uint8(3))
	}
	f.Fuzz(func(t *testing.T, text, bin []byte, cut uint8) {
		c := int(cut)
		if c > len(bin) {
			c = len(bin)
		}
		whole := [][]byte{bin}
		split := [][]byte{bin[:c], bin[c:]}
		for _, atts := range [][][]byte{whole, split} {
			var d Decoder
			p, complete, err := d.AddText(bytes.Clone(text))
			if err != nil {
				if !errors.Is(err, ErrInvalidPacket) || p != nil || complete || d.Awaiting() != 0 {
					t.Fatalf("AddText(%q) = %v, %v, %v, awaiting %d", text, p, complete, err, d.Awaiting())
				}
				continue
			}
			if complete != (p != nil) {
				t.Fatalf("AddText(%q): complete=%v with packet %v", text, complete, p)
			}
			if !complete {
				want := d.Awaiting()
				if want < 1 || want > MaxAttachments {
					t.Fatalf("awaiting %d", want)
				}
				for i, a := range atts {
					p, complete, err = d.AddBinary(a)
					if err != nil {
						t.Fatalf("AddBinary %d: %v", i, err)
					}
					if complete != (i+1 == want) || complete != (p != nil) {
						t.Fatalf("AddBinary %d of %d: complete=%v packet=%v", i+1, want, complete, p)
					}
					if complete {
						break
					}
				}
				if !complete {
					if _, _, err := d.AddText([]byte("1")); !errors.Is(err, ErrInvalidPacket) {
						t.Fatalf("text while awaiting: %v", err)
					}
					continue
				}
				if len(p.Buffers) != p.Attachments {
					t.Fatalf("%d buffers for %d attachments", len(p.Buffers), p.Attachments)
				}
			}
			if _, _, err := d.AddBinary([]byte{0}); !errors.Is(err, ErrInvalidPacket) {
				t.Fatalf("binary while idle: %v", err)
			}
			checkRoundTrip(t, p)
			checkEvent(t, p)
		}
	})
}

// FuzzScanJSON checks the package's JSON scanner against encoding/json.
func FuzzScanJSON(f *testing.F) {
	for _, s := range []string{`["message",1,"2",{"3":[true]}]`, `{"a":[1.5e-3,null,false]}`, `"\u00e9\n"`, ` [ ] `, `-0.0E+1`, `[1,]`, `{"a" 1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var elems []json.RawMessage
		v, ok := scanJSON(in, &elems)
		if ok != json.Valid(in) {
			t.Fatalf("scanJSON(%q) = %v, json.Valid = %v", in, ok, !ok)
		}
		if !ok || v.kind != '[' {
			return
		}
		var want []json.RawMessage
		if err := json.Unmarshal(in, &want); err != nil {
			t.Fatal(err)
		}
		if len(want) != len(elems) {
			t.Fatalf("scanJSON(%q): %d elements, want %d", in, len(elems), len(want))
		}
		for i := range want {
			if !bytes.Equal(want[i], elems[i]) {
				t.Fatalf("scanJSON(%q) element %d = %q, want %q", in, i, elems[i], want[i])
			}
		}
		if len(elems) > 0 && !bytes.Equal(v.first, elems[0]) {
			t.Fatalf("first = %q, want %q", v.first, elems[0])
		}
	})
}
