package transport

import (
	"bytes"
	"strings"
	"sync/atomic"
	"testing"

	fws "github.com/fasthttp/websocket"

	"github.com/queuecast/queuecast/gateway/engineio"
)

// countHandler counts the messages its sessions get and reports when the
// count reaches want.
type countHandler struct {
	n    atomic.Int64
	want int64
	done chan struct{}
}

func (h *countHandler) Open(*Session) {}
func (h *countHandler) Message(_ *Session, _ engineio.Packet) {
	if h.n.Add(1) == h.want {
		close(h.done)
	}
}
func (h *countHandler) Receive(*Session, any)   {}
func (h *countHandler) Closed(*Session, Reason) {}

// BenchmarkWebSocketInbound measures the read path: small text messages
// written by a client over loopback, parsed by the poller and handled by
// the session actor.
func BenchmarkWebSocketInbound(b *testing.B) {
	h := &countHandler{want: int64(b.N), done: make(chan struct{})}
	ts := startHandlerServer(b, Config{}, h)
	c, _, err := fws.DefaultDialer.Dial(strings.Replace(ts.url, "http", "ws", 1)+"?EIO=4&transport=websocket", nil)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	if _, _, err := c.ReadMessage(); err != nil { // open
		b.Fatal(err)
	}
	msg := []byte(`42["takeTicket",{"serviceId":"svc-1","customer":"abc"}]`)
	// Many frames per write, as a busy client's TCP segments carry them.
	frame := clientFrame(true, 0x1, msg)
	batch := bytes.Repeat(frame, 64)
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	b.ResetTimer()
	go func() {
		for sent := 0; sent < b.N; {
			k := min(64, b.N-sent)
			if _, err := c.NetConn().Write(batch[:k*len(frame)]); err != nil {
				return
			}
			sent += k
		}
	}()
	<-h.done
	b.StopTimer()
}

// BenchmarkFrameReader measures the reader's own work per message, on one
// goroutine: parsing and unmasking 64 frames per read, checking UTF-8,
// copying the message for the session, and the accounting of what is in
// flight (the session's side of it is called in place of the session).
func BenchmarkFrameReader(b *testing.B) {
	c := &wsConn{srv: &Server{cfg: Config{}.withDefaults()}}
	c.sink = func(m any) {
		if w, ok := m.(*wsMessage); ok {
			c.handled(len(w.data))
		}
	}
	frame := clientFrame(true, 0x1, []byte(`42["takeTicket",{"serviceId":"svc-1","customer":"abc"}]`))
	batch := bytes.Repeat(frame, 64)
	buf := make([]byte, len(batch))
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	b.ResetTimer()
	for n := 0; n < b.N; n += 64 {
		copy(buf, batch) // the reader unmasks in place
		c.feed(buf)
	}
}
