package transport

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestReadyListStaysBounded replays a load under which the ready list never
// empties (every outbox taken is scheduled again): the list must stay
// bounded by the number of outboxes, not grow with time.
func TestReadyListStaysBounded(t *testing.T) {
	w := &writers{}
	const n = 2000
	outs := make([]*Outbox, n)
	for i := range outs {
		outs[i] = &Outbox{}
		w.ready = append(w.ready, outs[i])
	}
	var batch [writerBatch]*Outbox
	maxLen := 0
	for round := 0; round < 200_000; round++ {
		k := w.takeLocked(batch[:])
		for i := 0; i < k; i++ {
			w.ready = append(w.ready, batch[i])
		}
		maxLen = max(maxLen, len(w.ready))
	}
	require.LessOrEqual(t, maxLen, 2*n+1024)
	require.Equal(t, n, len(w.ready)-w.head, "no outbox lost or duplicated")
}

func TestConsume(t *testing.T) {
	bufs := func() net.Buffers { return net.Buffers{[]byte("abc"), []byte("de"), []byte("fghi")} }
	for n, want := range map[int]string{0: "abcdefghi", 2: "cdefghi", 3: "defghi", 4: "efghi", 5: "fghi", 8: "i", 9: ""} {
		var got []byte
		for _, b := range consume(bufs(), n) {
			got = append(got, b...)
		}
		require.Equal(t, want, string(got), "after %d bytes", n)
	}
}

// A write deadline left on a connection by an earlier bounded write (the
// slow path, an upgrade probe) does not fail the pool's writes once it has
// passed.
func TestPoolWriteIgnoresStaleDeadline(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer client.Close()
	server, err := ln.Accept()
	require.NoError(t, err)
	ws := &wsConn{raw: server}
	ws.rc, err = server.(*net.TCPConn).SyscallConn()
	require.NoError(t, err)
	require.NoError(t, server.SetWriteDeadline(time.Unix(1, 0)))

	pool := newWriters(1)
	defer pool.close()
	failed := make(chan Reason, 1)
	o := newOutbox(1<<20, time.Second, pool, func(r Reason) { failed <- r })
	o.useWebSocket(ws)
	f := NewMessageFrame([]byte("still writing"))
	require.True(t, o.Push(f))

	got := make([]byte, f.Size())
	require.NoError(t, client.SetReadDeadline(time.Now().Add(5*time.Second)))
	_, err = io.ReadFull(client, got)
	require.NoError(t, err)
	require.Equal(t, f.ws, got)
	select {
	case r := <-failed:
		t.Fatalf("outbox failed: %s", r)
	default:
	}
}
