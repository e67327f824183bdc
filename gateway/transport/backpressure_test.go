package transport

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	fws "github.com/fasthttp/websocket"
	"github.com/stretchr/testify/require"

	"github.com/queuecast/queuecast/gateway/engineio"
)

// holdHandler blocks its session on "hold" until gate is closed, counts
// the other messages and echoes "echo".
type holdHandler struct {
	conns chan *wsConn
	held  chan struct{}
	gate  chan struct{}
	count atomic.Int64
}

func (h *holdHandler) Open(s *Session) { h.conns <- s.ws }
func (h *holdHandler) Message(s *Session, p engineio.Packet) {
	switch string(p.Data) {
	case "hold":
		close(h.held)
		<-h.gate
	case "echo":
		s.Push(NewMessageFrame([]byte("echo")))
	default:
		h.count.Add(1)
	}
}
func (h *holdHandler) Receive(*Session, any)   {}
func (h *holdHandler) Closed(*Session, Reason) {}

// A session that stops handling messages stops its reader: what was read
// and not handled stays within MaxInboundBytes (plus the one read that
// crossed it), the rest waits in the kernel and the client's writes block.
// Once the session catches up, reading resumes and every message arrives.
func TestReaderStopsWhileSessionIsBehind(t *testing.T) {
	for _, reader := range []string{"poller", "goroutine"} {
		t.Run(reader, func(t *testing.T) {
			const limit, size, n = 256 << 10, 64 << 10, 128 // 8 MiB sent, 32 times the bound
			h := &holdHandler{conns: make(chan *wsConn, 1), held: make(chan struct{}), gate: make(chan struct{})}
			ts := startHandlerServer(t, Config{PingInterval: time.Minute, MaxPayload: 1 << 20, MaxInboundBytes: limit}, h)
			if reader == "goroutine" {
				ts.srv.pollers.close()
				ts.srv.pollers = nil
			} else if ts.srv.pollers == nil {
				t.Skip("no poller on this platform")
			}
			c := dial(t, ts, "?EIO=4&transport=websocket")
			read(t, c)
			conn := <-h.conns

			require.NoError(t, c.WriteMessage(fws.TextMessage, []byte("4hold")))
			<-h.held
			msg := []byte("4" + strings.Repeat("m", size-1))
			sent := make(chan error, 1)
			go func() {
				for i := 0; i < n; i++ {
					if err := c.WriteMessage(fws.TextMessage, msg); err != nil {
						sent <- err
						return
					}
				}
				sent <- nil
			}()
			require.Eventually(t, conn.paused.Load, 10*time.Second, time.Millisecond, "the reader never stopped")
			// The session handles nothing while held: what is counted now
			// is the most the reader ever had in flight (or a little more:
			// behind may include what the session handled before "hold").
			peak := conn.behind.Load()
			require.Greater(t, peak, int64(limit))
			require.LessOrEqual(t, peak, limit+inboundCost(size), "in flight past the bound and one read")
			require.Zero(t, h.count.Load())

			close(h.gate)
			require.NoError(t, <-sent)
			require.Eventually(t, func() bool { return h.count.Load() == n }, 10*time.Second, time.Millisecond)
			require.NoError(t, c.WriteMessage(fws.TextMessage, []byte("4echo")))
			_, got := read(t, c)
			require.Equal(t, "4echo", got)
			// Nothing is in flight; behind may still count what the
			// session handled since its last report.
			require.Less(t, conn.behind.Load(), conn.flushEvery())
			require.False(t, conn.paused.Load())
		})
	}
}
