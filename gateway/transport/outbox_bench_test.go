package transport

import (
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkOutboxWrite measures the connection write path: frames pushed
// into one WebSocket outbox over a loopback TCP connection, batched by the
// writer into writev calls, and read to the end by a peer.
func BenchmarkOutboxWrite(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	var read atomic.Int64
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		buf := make([]byte, 64<<10)
		for {
			n, err := c.Read(buf)
			read.Add(int64(n))
			if err != nil {
				return
			}
		}
	}()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	pool := newWriters(1)
	defer pool.close()
	o := newOutbox(64<<20, 10*time.Second, pool, func(r Reason) { b.Errorf("outbox failed: %s", r) })
	o.useWebSocket(&wsConn{raw: conn})
	f := NewMessageFrame([]byte(`2["tick",{"t":1700000000000000000,"seq":12345}]`))
	want := int64(f.Size()) * int64(b.N)
	b.SetBytes(int64(f.Size()))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for !o.Push(f) {
			b.Fatal("push refused")
		}
	}
	for read.Load() < want {
		time.Sleep(50 * time.Microsecond) // benchmark drain, not a test wait
	}
	b.StopTimer()
}
