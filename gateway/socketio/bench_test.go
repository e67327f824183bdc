package socketio

import (
	"encoding/json"
	"testing"
)

var (
	benchEvent    = []byte(`2["message",1,"2",{"3":[true]}]`)
	benchNsEvent  = []byte(`2/chat,17["chat message",{"room":"lobby","text":"hello there, how is everyone doing today?","ts":1732780800123}]`)
	benchEventArg = json.RawMessage(`{"room":"lobby","text":"hello there, how is everyone doing today?","ts":1732780800123}`)
)

func BenchmarkDecodeEvent(b *testing.B) {
	for _, bc := range []struct {
		name string
		in   []byte
	}{{"main", benchEvent}, {"namespace", benchNsEvent}} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(bc.in)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Decode(bc.in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkEncodeEvent(b *testing.B) {
	data := make([]byte, 0, 256)
	frame := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		data = AppendEventData(data[:0], "chat message", benchEventArg)
		p := Packet{Type: Event, Namespace: "/chat", ID: NoID, Data: data}
		frame = AppendEncode(append(frame[:0], '4'), &p)
	}
}

func BenchmarkEncodePacket(b *testing.B) {
	p := &Packet{Type: Event, Namespace: "/chat", ID: 17, Data: benchNsEvent[10:]}
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendEncode(buf[:0], p)
	}
}

func BenchmarkSplitEvent(b *testing.B) {
	data := benchEvent[1:]
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := SplitEvent(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecoderBinaryEvent(b *testing.B) {
	text := []byte(`52-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`)
	att := [][]byte{{1, 2, 3}, {4, 5, 6}}
	var d Decoder
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := d.AddText(text); err != nil {
			b.Fatal(err)
		}
		d.AddBinary(att[0])
		if _, ok, _ := d.AddBinary(att[1]); !ok {
			b.Fatal("incomplete")
		}
	}
}

// BenchmarkScanJSONvsValid compares the package's one-pass scanner with
// json.Valid on the same payload, to justify having a scanner at all.
func BenchmarkScanJSONvsValid(b *testing.B) {
	data := benchNsEvent[9:]
	b.Run("scanJSON", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			scanJSON(data, nil)
		}
	})
	b.Run("json.Valid", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			json.Valid(data)
		}
	})
}
