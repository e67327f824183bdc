package engineio

import "testing"

func BenchmarkDecodePayload(b *testing.B) {
	body := []byte("4" + `2["message",1,"2",{"3":[true]}]` + "\x1e3\x1e4" + `2["chat","hello world"]` + "\x1ebAQIDBAUGBwgJCgsMDQ4PEA==")
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		if err := DecodePayload(body, func(p Packet) error { n += len(p.Data); return nil }); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodePayloadText(b *testing.B) {
	body := []byte("4test1\x1e4test2\x1e4test3\x1e3")
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if err := DecodePayload(body, func(Packet) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendPayload(b *testing.B) {
	pkts := []Packet{
		{Type: Message, Data: []byte(`2["message-back",1,"2",{"3":[true]}]`)},
		{Type: Ping},
		{Type: Message, Data: []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, Binary: true},
	}
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendPayload(buf[:0], pkts...)
	}
}
