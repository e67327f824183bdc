package transport

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/asynkron/protoactor-go/actor"
	fws "github.com/fasthttp/websocket"
	"github.com/stretchr/testify/require"
)

// clientFrame builds a masked client frame.
func clientFrame(fin bool, op byte, payload []byte) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	f := []byte{b0}
	switch n := len(payload); {
	case n <= 125:
		f = append(f, 0x80|byte(n))
	case n <= 0xFFFF:
		f = append(f, 0x80|126, byte(n>>8), byte(n))
	default:
		f = append(f, 0x80|127)
		f = binary.BigEndian.AppendUint64(f, uint64(n))
	}
	key := []byte{0x37, 0xfa, 0x21, 0x3d}
	f = append(f, key...)
	for i, b := range payload {
		f = append(f, b^key[i%4])
	}
	return f
}

// reservedBitFrame is a masked text frame with a reserved bit set, which
// no negotiated extension allows.
func reservedBitFrame(payload string) []byte {
	f := clientFrame(true, 0x1, []byte(payload))
	f[0] |= 0x40
	return f
}

// parserRig is a wsConn whose session is an actor recording what it gets.
type parserRig struct {
	conn *wsConn
	got  chan any
}

func newParserRig(t *testing.T, maxPayload int) *parserRig {
	t.Helper()
	system := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}))
	got := make(chan any, 64)
	pid := system.Root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
		switch m := ctx.Message().(type) {
		case *wsMessage, *wsPing, *wsClosed:
			got <- m
		}
	}))
	t.Cleanup(func() { system.Shutdown() })
	srv := &Server{cfg: Config{MaxPayload: maxPayload}.withDefaults(), system: system}
	a, b := net.Pipe()
	t.Cleanup(func() { _ = b.Close() })
	srv.conns.Add(1)
	return &parserRig{conn: &wsConn{raw: a, srv: srv, pid: pid}, got: got}
}

// next returns what the session got next, described as a string.
func (r *parserRig) next(t *testing.T) string {
	t.Helper()
	select {
	case m := <-r.got:
		switch m := m.(type) {
		case *wsMessage:
			if m.binary {
				return fmt.Sprintf("binary:%x", m.data)
			}
			return "text:" + string(m.data)
		case *wsPing:
			return "ping:" + string(m.data)
		case *wsClosed:
			return "closed:" + m.err.Error()
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the session got nothing")
	}
	return ""
}

func TestFrameParserReassemblesAnySplit(t *testing.T) {
	long := strings.Repeat("y", 300)   // 16-bit length
	huge := strings.Repeat("z", 70000) // 64-bit length
	var stream []byte
	stream = append(stream, clientFrame(true, 0x1, []byte("4hello"))...)
	stream = append(stream, clientFrame(true, 0x2, []byte{1, 2, 3, 4, 5, 6, 7, 8, 9})...)
	stream = append(stream, clientFrame(false, 0x1, []byte("4frag"))...)
	stream = append(stream, clientFrame(true, 0x9, []byte("hb"))...) // control between fragments
	stream = append(stream, clientFrame(false, 0x0, []byte("-men"))...)
	stream = append(stream, clientFrame(true, 0x0, []byte("ted"))...)
	stream = append(stream, clientFrame(true, 0xA, nil)...)
	stream = append(stream, clientFrame(true, 0x1, []byte(long))...)
	stream = append(stream, clientFrame(true, 0x1, []byte(huge))...)
	stream = append(stream, clientFrame(true, 0x1, nil)...)
	want := []string{"text:4hello", "binary:010203040506070809", "ping:hb", "text:4frag-mented", "text:" + long, "text:" + huge, "text:"}

	for _, chunk := range []int{1, 2, 3, 7, 64, 4096, len(stream)} {
		t.Run(fmt.Sprintf("chunk%d", chunk), func(t *testing.T) {
			r := newParserRig(t, 100_000)
			data := bytes.Clone(stream)
			for len(data) > 0 {
				n := min(chunk, len(data))
				// The reader's buffer is reused after each read.
				require.True(t, r.conn.feed(bytes.Clone(data[:n])))
				data = data[n:]
			}
			for _, w := range want {
				require.Equal(t, w, r.next(t))
			}
			require.Empty(t, r.conn.pending)
		})
	}
}

func TestFrameParserRefusesBadFrames(t *testing.T) {
	unmasked := clientFrame(true, 0x1, []byte("4x"))
	unmasked[1] &^= 0x80
	rsv := reservedBitFrame("4x")
	cases := map[string]struct {
		frames [][]byte
		want   error
	}{
		"unmasked":                  {[][]byte{unmasked}, errWSProtocol},
		"reserved bit":              {[][]byte{rsv}, errWSProtocol},
		"continuation first":        {[][]byte{clientFrame(true, 0x0, []byte("x"))}, errWSProtocol},
		"new message mid-fragment":  {[][]byte{clientFrame(false, 0x1, []byte("a")), clientFrame(true, 0x1, []byte("b"))}, errWSProtocol},
		"fragmented control":        {[][]byte{clientFrame(false, 0x9, []byte("a"))}, errWSProtocol},
		"long control":              {[][]byte{clientFrame(true, 0x9, bytes.Repeat([]byte("a"), 126))}, errWSProtocol},
		"unknown opcode":            {[][]byte{clientFrame(true, 0x3, nil)}, errWSProtocol},
		"frame over limit":          {[][]byte{clientFrame(true, 0x1, bytes.Repeat([]byte("a"), 101))}, errReadLimit},
		"fragments over limit":      {[][]byte{clientFrame(false, 0x1, bytes.Repeat([]byte("a"), 60)), clientFrame(true, 0x0, bytes.Repeat([]byte("a"), 41))}, errReadLimit},
		"close":                     {[][]byte{clientFrame(true, 0x8, []byte{0x03, 0xe8})}, errPeerClosed},
		"close without status":      {[][]byte{clientFrame(true, 0x8, nil)}, errPeerClosed},
		"close with one byte":       {[][]byte{clientFrame(true, 0x8, []byte{0x03})}, errWSProtocol},
		"close code 1005":           {[][]byte{clientFrame(true, 0x8, []byte{0x03, 0xed})}, errWSProtocol},
		"close reason not UTF-8":    {[][]byte{clientFrame(true, 0x8, []byte{0x03, 0xe8, 0xff})}, errInvalidUTF8},
		"text not UTF-8":            {[][]byte{clientFrame(true, 0x1, []byte("4\xc0\xaf"))}, errInvalidUTF8},
		"fragment not UTF-8":        {[][]byte{clientFrame(false, 0x1, []byte("4ok")), clientFrame(false, 0x0, []byte("\xed\xa0"))}, errInvalidUTF8},
		"text truncated at the end": {[][]byte{clientFrame(false, 0x1, []byte("4\xe2")), clientFrame(true, 0x0, []byte("\x82"))}, errInvalidUTF8},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := newParserRig(t, 100)
			var stream []byte
			for _, f := range tc.frames {
				stream = append(stream, f...)
			}
			stream = append(stream, clientFrame(true, 0x1, []byte("4after"))...)
			require.False(t, r.conn.feed(stream))
			require.Equal(t, "closed:"+tc.want.Error(), r.next(t))
			// Nothing after the error is delivered.
			require.False(t, r.conn.feed(clientFrame(true, 0x1, []byte("4later"))))
			select {
			case m := <-r.got:
				t.Fatalf("delivered after the error: %#v", m)
			case <-time.After(50 * time.Millisecond):
			}
		})
	}
}

// A header announcing more than the limit is refused before its payload
// is buffered.
func TestFrameParserRefusesOversizeHeaderEarly(t *testing.T) {
	r := newParserRig(t, 1000)
	hdr := []byte{0x81, 0x80 | 127}
	hdr = binary.BigEndian.AppendUint64(hdr, 1<<40)
	require.False(t, r.conn.feed(hdr))
	require.Equal(t, "closed:"+errReadLimit.Error(), r.next(t))
}

// Both readers, the poller and the goroutine per connection, carry
// fragmented messages, binary and control frames end to end.
func TestWebSocketReaders(t *testing.T) {
	for _, mode := range []string{"poller", "goroutine"} {
		t.Run(mode, func(t *testing.T) {
			ts := startServer(t, Config{})
			if mode == "goroutine" {
				ts.srv.pollers.close()
				ts.srv.pollers = nil
			} else if ts.srv.pollers == nil {
				t.Skip("no poller on this platform")
			}
			d := *fws.DefaultDialer
			d.WriteBufferSize = 256 // longer messages go out in several frames
			c, _, err := d.Dial(strings.Replace(ts.url, "http", "ws", 1)+"?EIO=4&transport=websocket", nil)
			require.NoError(t, err)
			defer c.Close()
			_, open := read(t, c)
			require.True(t, strings.HasPrefix(open, "0{"))
			long := "4" + strings.Repeat("q", 5000)
			require.NoError(t, c.WriteMessage(fws.TextMessage, []byte(long)))
			mt, got := read(t, c)
			require.Equal(t, fws.TextMessage, mt)
			require.Equal(t, long, got)
			require.NoError(t, c.WriteMessage(fws.BinaryMessage, []byte{9, 8, 7}))
			mt, got = read(t, c)
			require.Equal(t, fws.BinaryMessage, mt)
			require.Equal(t, string([]byte{9, 8, 7}), got)

			pong := make(chan string, 1)
			c.SetPongHandler(func(d string) error { pong <- d; return nil })
			require.NoError(t, c.WriteControl(fws.PingMessage, []byte("are-you-there"), time.Now().Add(time.Second)))
			require.NoError(t, c.WriteMessage(fws.TextMessage, []byte("4after-ping")))
			_, got = read(t, c) // the pong handler runs inside this read
			require.Equal(t, "4after-ping", got)
			require.Equal(t, "are-you-there", <-pong)

			// The close handshake: the client's close frame is answered
			// with one echoing its code, then the server ends TCP.
			require.NoError(t, c.WriteMessage(fws.CloseMessage, fws.FormatCloseMessage(fws.CloseGoingAway, "")))
			require.Equal(t, ReasonTransportClose, <-ts.handler.closed)
			requireCloseCode(t, c, fws.CloseGoingAway)
		})
	}
}

// A session whose handler panics is stopped by its guardian, not restarted:
// the client is told and the session is gone.
func TestHandlerPanicStopsSession(t *testing.T) {
	ts := startServer(t, Config{})
	c := dial(t, ts, "?EIO=4&transport=websocket")
	_, open := read(t, c)
	require.True(t, strings.HasPrefix(open, "0{"))
	require.NoError(t, c.WriteMessage(fws.TextMessage, []byte("4panic")))
	require.Equal(t, ReasonHandlerPanic, <-ts.handler.closed)
	_, last := read(t, c)
	require.Equal(t, "1", last) // the Engine.IO close packet
	_, _, err := c.ReadMessage()
	require.Error(t, err)
	require.Eventually(t, func() bool {
		ts.srv.live.mu.Lock()
		defer ts.srv.live.mu.Unlock()
		return ts.srv.Sessions() == 0 && len(ts.srv.live.live) == 0
	}, 5*time.Second, 10*time.Millisecond)
}

// More frames than one writev may carry (1,024 iovecs) queued in one turn
// all arrive, in order.
func TestManyFramesInOneTurn(t *testing.T) {
	ts := startServer(t, Config{})
	c := dial(t, ts, "?EIO=4&transport=websocket")
	read(t, c)
	const n = 3000
	require.NoError(t, c.WriteMessage(fws.TextMessage, []byte(fmt.Sprintf("4many %d", n))))
	for i := 0; i < n; i++ {
		_, got := read(t, c)
		require.Equal(t, fmt.Sprintf("4%d", i), got)
	}
}

// A session's request details are its own copies: the HTTP server reuses
// the request's buffers for later requests once the handshake returns.
func TestRequestInfoOutlivesTheRequest(t *testing.T) {
	ts := startServer(t, Config{})
	hdr := http.Header{"User-Agent": {"FIRST-AGENT-aaaaaaaaaaaaaaaaaaaa"}, "Accept-Language": {"xx-FIRST"}}
	c, _, err := fws.DefaultDialer.Dial(strings.Replace(ts.url, "http", "ws", 1)+"?EIO=4&transport=websocket", hdr)
	require.NoError(t, err)
	defer c.Close()
	info := <-ts.handler.opened
	for i := 0; i < 200; i++ {
		req, err := http.NewRequest("GET", ts.url+"?EIO=3&transport=polling", nil)
		require.NoError(t, err)
		req.Header.Set("User-Agent", "OTHER-AGENT-zzzzzzzzzzzzzzzzzzzz")
		req.Header.Set("Accept-Language", "zz-OTHER")
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, res.Body)
		_ = res.Body.Close()
	}
	require.Equal(t, "FIRST-AGENT-aaaaaaaaaaaaaaaaaaaa", info.UserAgent)
	require.Equal(t, "xx-FIRST", info.Language)
}

// opaqueListener hands out connections that expose no descriptor (as a TLS
// listener would): they cannot be polled and are read by a goroutine each.
type opaqueListener struct{ net.Listener }

func (l opaqueListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return struct{ net.Conn }{c}, nil
}

// An upgrade probe that breaks the protocol is refused with a close frame
// at once; the polling session carries on.
func TestBrokenProbeIsRefused(t *testing.T) {
	ts := startServer(t, Config{PingInterval: 5 * time.Second, PingTimeout: time.Second})
	sid, q := pollingSession(t, ts)
	c := dial(t, ts, "?EIO=4&transport=websocket&sid="+sid)
	_, err := c.NetConn().Write(reservedBitFrame("2probe"))
	require.NoError(t, err)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(500*time.Millisecond)))
	_, _, err = c.ReadMessage()
	var ce *fws.CloseError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, fws.CloseProtocolError, ce.Code)

	status, _ := do(t, "POST", q, "4still-polling")
	require.Equal(t, 200, status)
	status, body := do(t, "GET", q, "")
	require.Equal(t, 200, status)
	require.Contains(t, body, "4still-polling")
}

// utf8Prefix accepts exactly the texts that more bytes can still make
// UTF-8, checked against utf8.Valid over every one- and two-byte text and
// every three-byte text that starts a multi-byte character, alone and after
// a valid beginning, and over a few with an invalid beginning.
func TestUTF8Prefix(t *testing.T) {
	// completable reports whether some continuation makes p valid. A
	// character is at most four bytes, and only the second byte of one
	// has a range narrower than 0x80-0xBF, so trying each second byte
	// followed by 0x80s covers every case.
	var buf [16]byte
	completable := func(p []byte) bool {
		if utf8.Valid(p) {
			return true
		}
		q := append(buf[:0], p...)
		for k := 1; k <= 3; k++ {
			q = append(q[:len(p)], 0)
			for range k - 1 {
				q = append(q, 0x80)
			}
			for x := 0x80; x <= 0xBF; x++ {
				q[len(p)] = byte(x)
				if utf8.Valid(q) {
					return true
				}
			}
		}
		return false
	}
	check := func(p []byte) {
		n, ok := utf8Prefix(p)
		if want := completable(p); ok != want {
			t.Fatalf("utf8Prefix(%x) = %v, want %v", p, ok, want)
		}
		if ok && (!utf8.Valid(p[:n]) || len(p)-n > 3) {
			t.Fatalf("utf8Prefix(%x) = %d", p, n)
		}
	}
	for _, head := range [][]byte{nil, []byte("4κόσμε")} {
		p := make([]byte, len(head), len(head)+3)
		copy(p, head)
		for a := 0; a < 256; a++ {
			check(append(p, byte(a)))
			for b := 0; b < 256; b++ {
				check(append(p, byte(a), byte(b)))
			}
		}
		for a := 0xC0; a < 256; a++ {
			for b := 0x80; b <= 0xBF; b++ {
				for _, c := range []byte{0x7f, 0x80, 0xbf, 0xc0} {
					check(append(p, byte(a), byte(b), c))
				}
			}
		}
	}
	for _, p := range []string{"\xff\xe2", "\xff\xe2\x82", "\xc0\xafa\xf0"} {
		check([]byte(p)) // an invalid beginning whatever the end
	}
}

// readFrames feeds chunks to a fresh reader with the given size limit and
// describes everything it hands the session. It fails the test on a
// message over the limit, a text message that is not UTF-8 or a control
// payload over 125 bytes.
func readFrames(t *testing.T, limit int, chunks ...[]byte) []string {
	srv := &Server{cfg: Config{MaxPayload: limit}.withDefaults()}
	a, b := net.Pipe()
	defer b.Close()
	srv.conns.Add(1)
	c := &wsConn{raw: a, srv: srv}
	defer c.close()
	var got []string
	c.sink = func(msg any) {
		switch m := msg.(type) {
		case *wsMessage:
			require.LessOrEqual(t, len(m.data), limit, "a message over the limit")
			op := byte(0x2)
			if !m.binary {
				op = 0x1
				require.True(t, utf8.Valid(m.data), "a text message that is not UTF-8")
			}
			got = append(got, describe(op, m.data))
		case *wsPing:
			require.LessOrEqual(t, len(m.data), 125)
			got = append(got, describe(0x9, m.data))
		case *wsClosed:
			got = append(got, fmt.Sprintf("closed:%v:%d", m.err, m.code))
		}
	}
	for _, ch := range chunks {
		c.feed(bytes.Clone(ch)) // the reader's buffer is reused after each read
	}
	return got
}

// The frame reader never panics, never delivers a message over the limit or
// text that is not UTF-8, and gives the same result whether the bytes
// arrive whole or split in two anywhere.
func FuzzFrameReader(f *testing.F) {
	for _, tc := range conformanceCases() {
		if s := bytes.Join(tc.send, nil); len(s) <= 4096 {
			f.Add(s, uint16(len(s)/2))
			f.Add(s, uint16(1))
		}
	}
	f.Add(append(clientFrame(false, 0x1, []byte("4ab\xe2")), clientFrame(true, 0x0, []byte("\x82\xacc"))...), uint16(9))
	f.Fuzz(func(t *testing.T, data []byte, split uint16) {
		const limit = 1000
		whole := readFrames(t, limit, data)
		i := int(split) % (len(data) + 1)
		require.Equal(t, whole, readFrames(t, limit, data[:i], data[i:]))
	})
}
