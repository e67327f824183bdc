package transport

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The RFC 6455 behaviours of the Autobahn TestSuite's case list, sent as
// raw frames over a real TCP connection to the real server, read by the
// poller and by the fallback goroutine, and written whole or chopped into
// small writes. The server is the echo fixture: every Engine.IO message is
// sent back, so text payloads start with the message type "4" (a text
// message Engine.IO cannot parse is an Engine.IO matter and closes the
// session, as before; those cases are not here).

// Client frames.
func txt(s string) []byte               { return clientFrame(true, 0x1, []byte(s)) }
func bin(b []byte) []byte               { return clientFrame(true, 0x2, b) }
func frag(op byte, s string) []byte     { return clientFrame(false, op, []byte(s)) }
func cont(fin bool, s string) []byte    { return clientFrame(fin, 0x0, []byte(s)) }
func ping(s string) []byte              { return clientFrame(true, 0x9, []byte(s)) }
func pong(s string) []byte              { return clientFrame(true, 0xA, []byte(s)) }
func closeFrame(payload ...byte) []byte { return clientFrame(true, 0x8, payload) }
func closeCodeFrame(code uint16, reason string) []byte {
	return closeFrame(append(binary.BigEndian.AppendUint16(nil, code), reason...)...)
}

// withRSV sets reserved bits (0x70 mask) on a frame.
func withRSV(f []byte, bits byte) []byte { f[0] |= bits << 4; return f }

// withOpcode is a final frame with any opcode.
func withOpcode(op byte, s string) []byte { return clientFrame(true, op, []byte(s)) }

// bytewise fragments a text message into one frame per byte.
func bytewise(s string) [][]byte {
	var fs [][]byte
	for i := 0; i < len(s); i++ {
		op := byte(0x0)
		if i == 0 {
			op = 0x1
		}
		fs = append(fs, clientFrame(i == len(s)-1, op, []byte{s[i]}))
	}
	return fs
}

// fragments splits a message into frames of at most n bytes.
func fragments(op byte, p []byte, n int) [][]byte {
	var fs [][]byte
	for first := true; first || len(p) > 0; first = false {
		k := min(n, len(p))
		o := byte(0x0)
		if first {
			o = op
		}
		fs = append(fs, clientFrame(k == len(p), o, p[:k]))
		p = p[k:]
	}
	return fs
}

// Descriptions of server frames.
func wText(s string) string    { return describe(0x1, []byte(s)) }
func wBin(b []byte) string     { return describe(0x2, b) }
func wPong(s string) string    { return describe(0xA, []byte(s)) }
func wClose(code int) string   { return fmt.Sprintf("close:%d", code) }
func failed(code int) []string { return []string{wText("1"), wClose(code)} } // Engine.IO close packet, then the close frame

func describe(op byte, p []byte) string {
	kind := map[byte]string{0x1: "text", 0x2: "binary", 0x9: "ping", 0xA: "pong"}[op]
	if kind == "" {
		kind = fmt.Sprintf("op%x", op)
	}
	if len(p) > 64 {
		return fmt.Sprintf("%s:%d bytes:%x", kind, len(p), sha256.Sum256(p))
	}
	return fmt.Sprintf("%s:%q", kind, p)
}

func cat(frames ...any) [][]byte {
	var out [][]byte
	for _, f := range frames {
		switch f := f.(type) {
		case []byte:
			out = append(out, f)
		case [][]byte:
			out = append(out, f...)
		}
	}
	return out
}

type wsCase struct {
	name string
	send [][]byte
	want []string // server frames after the open packet; a close frame last, or the client closes
}

func conformanceCases() []wsCase {
	big := func(n int) string { return "4" + strings.Repeat("*", n-1) }
	rnd := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i*7 + i>>8)
		}
		return b
	}
	cases := []wsCase{
		// 1.x framing: text and binary at each length boundary.
		{"1.1 text 1", cat(txt("4")), []string{wText("4")}},
	}
	for _, n := range []int{125, 126, 127, 128, 65535, 65536} {
		cases = append(cases,
			wsCase{fmt.Sprintf("1.1 text %d", n), cat(txt(big(n))), []string{wText(big(n))}},
			wsCase{fmt.Sprintf("1.2 binary %d", n), cat(bin(rnd(n))), []string{wBin(rnd(n))}})
	}
	p125 := strings.Repeat("p", 125)
	cases = append(cases, []wsCase{
		{"1.2 binary 0", cat(bin(nil)), []string{wBin(nil)}},

		// 2.x pings and pongs.
		{"2.1 ping empty", cat(ping("")), []string{wPong("")}},
		{"2.2 ping text", cat(ping("Hello, world!")), []string{wPong("Hello, world!")}},
		{"2.3 ping binary", cat(clientFrame(true, 0x9, []byte{0, 0xff, 0xfe, 0xfd})), []string{describe(0xA, []byte{0, 0xff, 0xfe, 0xfd})}},
		{"2.4 ping 125", cat(ping(p125)), []string{wPong(p125)}},
		{"2.5 ping 126", cat(ping(p125 + "p")), failed(1002)},
		{"2.7 unsolicited pong", cat(pong(""), txt("4after")), []string{wText("4after")}},
		{"2.8 unsolicited pong with payload", cat(pong("unsolicited"), txt("4after")), []string{wText("4after")}},
		{"2.9 unsolicited pong then ping", cat(pong("x"), ping("y")), []string{wPong("y")}},
		{"2.10 ten pings", cat(ping("0"), ping("1"), ping("2"), ping("3"), ping("4"), ping("5"), ping("6"), ping("7"), ping("8"), ping("9")),
			[]string{wPong("0"), wPong("1"), wPong("2"), wPong("3"), wPong("4"), wPong("5"), wPong("6"), wPong("7"), wPong("8"), wPong("9")}},

		// 3.x reserved bits: the connection fails, what came before is answered.
		{"3.1 rsv1 text", cat(withRSV(txt("4x"), 4)), failed(1002)},
		{"3.2 rsv2 after a text", cat(txt("4x"), withRSV(txt("4y"), 2), ping("z")), append([]string{wText("4x")}, failed(1002)...)},
		{"3.3 rsv3", cat(txt("4x"), withRSV(txt("4y"), 1), ping("z")), append([]string{wText("4x")}, failed(1002)...)},
		{"3.4 rsv1+rsv3", cat(withRSV(txt("4y"), 5)), failed(1002)},
		{"3.5 rsv on binary", cat(withRSV(bin([]byte{1}), 6)), failed(1002)},
		{"3.6 rsv on ping", cat(withRSV(ping("z"), 7)), failed(1002)},
		{"3.7 rsv on close", cat(withRSV(closeCodeFrame(1000, ""), 7)), failed(1002)},
	}...)

	// 4.x reserved opcodes.
	for _, op := range []byte{3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF} {
		cases = append(cases,
			wsCase{fmt.Sprintf("4.x opcode %x", op), cat(withOpcode(op, "")), failed(1002)},
			wsCase{fmt.Sprintf("4.x opcode %x with payload after a text", op), cat(txt("4x"), withOpcode(op, "junk"), ping("")),
				append([]string{wText("4x")}, failed(1002)...)})
	}

	cases = append(cases, []wsCase{
		// 5.x fragmentation.
		{"5.1 fragmented ping", cat(frag(0x9, "a"), cont(true, "b")), failed(1002)},
		{"5.2 fragmented pong", cat(frag(0xA, "a"), cont(true, "b")), failed(1002)},
		{"5.3 text in two fragments", cat(frag(0x1, "4frag"), cont(true, "ment")), []string{wText("4fragment")}},
		{"5.6 ping between fragments", cat(frag(0x1, "4frag"), ping("p"), cont(true, "ment")), []string{wPong("p"), wText("4fragment")}},
		{"5.8 close between fragments", cat(frag(0x1, "4frag"), closeCodeFrame(1000, ""), cont(true, "ment")), []string{wClose(1000)}},
		{"5.9 continuation first", cat(cont(true, "x"), txt("4x")), failed(1002)},
		{"5.10 unfinished continuation first", cat(cont(false, "x"), txt("4x")), failed(1002)},
		{"5.13 continuation after a whole text", cat(txt("4x"), cont(true, "y")), append([]string{wText("4x")}, failed(1002)...)},
		{"5.15 continuation after a finished message", cat(frag(0x1, "4a"), cont(true, "b"), cont(false, "c"), txt("4d")),
			append([]string{wText("4ab")}, failed(1002)...)},
		{"5.18 text while a text is open", cat(frag(0x1, "4a"), txt("4b")), failed(1002)},
		{"5.18 binary while a text is open", cat(frag(0x1, "4a"), bin([]byte{1})), failed(1002)},
		{"5.19 five fragments with pings", cat(frag(0x1, "4f1"), cont(false, "f2"), ping("p1"), cont(false, "f3"), cont(false, "f4"), ping("p2"), cont(true, "f5")),
			[]string{wPong("p1"), wPong("p2"), wText("4f1f2f3f4f5")}},
		{"5.x binary fragments", cat(fragments(0x2, rnd(5000), 999)), []string{wBin(rnd(5000))}},
		{"5.x empty fragments", cat(frag(0x1, ""), cont(false, "4"), cont(false, ""), cont(true, "x")), []string{wText("4x")}},
	}...)

	// 6.x UTF-8 in text messages: valid ones are echoed whole and byte by
	// byte; invalid ones fail with 1007, at the first fragment that cannot
	// be completed into UTF-8, or at the end for a truncated character.
	valid := []string{
		"Hello-µ@ßöäüàá-UTF-8!!", "κόσμε", "\x00", "\u007f", "\u0080", "\u07ff", "\u0800", "\ud7ff", "\ue000",
		"\ufffd", "\uffff", "\U00010000", "\U0010ffff", "\xef\xbb\xbf", "𝄞 and ☃ and 中文",
	}
	for _, v := range valid {
		cases = append(cases,
			wsCase{fmt.Sprintf("6.x valid %q", v), cat(txt("4" + v)), []string{wText("4" + v)}},
			wsCase{fmt.Sprintf("6.x valid %q byte by byte", v), bytewise("4" + v), []string{wText("4" + v)}})
	}
	invalid := []string{
		"\x80", "\xbf", "\x80\xbf", "\xc0\xaf", "\xc1\xbf", "\xe0\x80\xaf", "\xf0\x80\x80\xaf", "\xf8\x88\x80\x80\xaf",
		"\xed\xa0\x80", "\xed\xbf\xbf", "\xed\xa0\x80\xed\xb0\x80", "\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\xfe", "\xff",
		"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80\x65\x64\x69\x74\x65\x64", "\xc2", "\xe2\x82", "\xf0\x9f\x98",
		"κόσμε\xc0", "\xe0\xa0", // truncated at the end
	}
	for _, v := range invalid {
		cases = append(cases,
			wsCase{fmt.Sprintf("6.x invalid %q", v), cat(txt("4" + v)), failed(1007)},
			wsCase{fmt.Sprintf("6.x invalid %q byte by byte", v), bytewise("4" + v), failed(1007)})
	}
	cases = append(cases, []wsCase{
		// Fail fast: the message never ends, the fragment that cannot be
		// UTF-8 must fail it.
		{"6.4.1 fail fast on a whole bad character", cat(frag(0x1, "4κόσμε"), cont(false, "\xf4\x90\x80\x80")), failed(1007)},
		{"6.4.2 fail fast on its second byte", cat(frag(0x1, "4κόσμε\xf4"), cont(false, "\x90")), failed(1007)},
		{"6.4.3 fail fast inside a fragment", cat(frag(0x1, "4κόσμε"), cont(false, "ab\xed\xa0cd")), failed(1007)},
		{"6.4.4 fail fast on the first fragment", cat(frag(0x1, "4\xc0\xaf")), failed(1007)},
		{"6.x character split across fragments", cat(frag(0x1, "4\xf0\x9d"), cont(false, "\x84"), cont(true, "\x9e!")), []string{wText("4\U0001d11e!")}},
		{"6.x truncated at the last fragment", cat(frag(0x1, "4ok"), cont(true, "\xf0\x9d\x84")), failed(1007)},

		// 7.x closing.
		{"7.1.1 text then close", cat(txt("4x"), closeCodeFrame(1000, "")), []string{wText("4x"), wClose(1000)}},
		{"7.1.2 close twice", cat(closeCodeFrame(1000, ""), closeCodeFrame(1000, "")), []string{wClose(1000)}},
		{"7.1.3 ping after close", cat(closeCodeFrame(1000, ""), ping("p")), []string{wClose(1000)}},
		{"7.1.4 text after close", cat(closeCodeFrame(1000, ""), txt("4x")), []string{wClose(1000)}},
		{"7.1.5 fragment, close, rest", cat(frag(0x1, "4a"), closeCodeFrame(1000, ""), cont(true, "b")), []string{wClose(1000)}},
		{"7.1.6 large text then close", cat(txt(big(256<<10)), closeCodeFrame(1000, "")), []string{wText(big(256 << 10)), wClose(1000)}},
		{"7.3.1 close without payload", cat(closeFrame()), []string{"close:none"}},
		{"7.3.2 close with one byte", cat(closeFrame(0x03)), failed(1002)},
		{"7.3.3 close with a code", cat(closeCodeFrame(1000, "")), []string{wClose(1000)}},
		{"7.3.4 close with a reason", cat(closeCodeFrame(1000, "Hello World!")), []string{wClose(1000)}},
		{"7.3.5 close with a 123-byte reason", cat(closeCodeFrame(1000, strings.Repeat("r", 123))), []string{wClose(1000)}},
		{"7.3.6 close with a 124-byte reason", cat(closeCodeFrame(1000, strings.Repeat("r", 124))), failed(1002)},
		{"7.5.1 close reason not UTF-8", cat(closeCodeFrame(1000, "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80")), failed(1007)},
	}...)
	for _, code := range []uint16{1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999} {
		cases = append(cases, wsCase{fmt.Sprintf("7.7 valid code %d", code), cat(closeCodeFrame(code, "")), []string{wClose(int(code))}})
	}
	for _, code := range []uint16{0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535} {
		cases = append(cases, wsCase{fmt.Sprintf("7.9 invalid code %d", code), cat(closeCodeFrame(code, "")), failed(1002)})
	}

	// 9.x large messages within MAX_HTTP_BUFFER_SIZE (1,000,000 bytes
	// here), whole and in fragments; one byte more fails with 1009.
	for _, n := range []int{64 << 10, 256 << 10, 1_000_000} {
		cases = append(cases,
			wsCase{fmt.Sprintf("9.1 text %d", n), cat(txt(big(n))), []string{wText(big(n))}},
			wsCase{fmt.Sprintf("9.2 binary %d", n), cat(bin(rnd(n))), []string{wBin(rnd(n))}},
			wsCase{fmt.Sprintf("9.3 text %d in 64 KiB fragments", n), cat(fragments(0x1, []byte(big(n)), 64<<10)), []string{wText(big(n))}},
			wsCase{fmt.Sprintf("9.4 binary %d in 4 KiB fragments", n), cat(fragments(0x2, rnd(n), 4<<10)), []string{wBin(rnd(n))}})
	}
	cases = append(cases,
		wsCase{"9.x text over the limit", cat(txt(big(1_000_001))), failed(1009)},
		wsCase{"9.x fragments over the limit", cat(fragments(0x1, []byte(big(1_000_001)), 64<<10)), failed(1009)},
		// 10.x: a 64 KiB message sent in 1,300-byte frames is one message.
		wsCase{"10.1.1 auto-fragmented", cat(fragments(0x1, []byte(big(65536)), 1300)), []string{wText(big(65536))}},
	)
	return cases
}

func TestWebSocketConformance(t *testing.T) {
	cases := conformanceCases()
	for _, reader := range []string{"poller", "goroutine"} {
		t.Run(reader, func(t *testing.T) {
			ts := startServer(t, Config{PingInterval: time.Minute})
			if reader == "goroutine" {
				ts.srv.pollers.close()
				ts.srv.pollers = nil
			} else if ts.srv.pollers == nil {
				t.Skip("no poller on this platform")
			}
			for _, chop := range []bool{false, true} {
				for _, tc := range cases {
					name := tc.name
					if chop {
						name += " chopped"
					}
					t.Run(name, func(t *testing.T) { runConformance(t, ts, tc, chop) })
				}
			}
		})
	}
}

// runConformance sends the case's frames (in one write, or chopped into
// small writes so the reader sees every split), reads the server's frames,
// and ends with the closing handshake: the client answers a close frame
// from the server, or closes itself, and the server must then end the TCP
// connection cleanly (end of stream, not a reset).
func runConformance(t *testing.T, ts *testServer, tc wsCase, chop bool) {
	c := dialRaw(t, ts, "")
	stream := bytes.Join(tc.send, nil)
	go func() {
		// Errors are expected once the server fails the connection.
		if !chop {
			_, _ = c.conn.Write(stream)
			return
		}
		chunk := 1
		if len(stream) > 4096 {
			chunk = 1300
		}
		for len(stream) > 0 {
			n := min(chunk, len(stream))
			if _, err := c.conn.Write(stream[:n]); err != nil {
				return
			}
			stream = stream[n:]
		}
	}()
	want := tc.want
	if last := want[len(want)-1]; !strings.HasPrefix(last, "close:") {
		for i, w := range tc.want {
			require.Equal(t, w, c.next(), "frame %d", i)
		}
		// The client closes: the server echoes its code.
		_, err := c.conn.Write(closeCodeFrame(1000, "done"))
		require.NoError(t, err)
		require.Equal(t, wClose(1000), c.next())
	} else {
		for i, w := range want {
			require.Equal(t, w, c.next(), "frame %d", i)
		}
		// Answer the server's close frame; if the client sent its own
		// first, this is more data after its close, which the server
		// must ignore.
		_, _ = c.conn.Write(closeCodeFrame(1000, ""))
	}
	c.requireEOF()
}

// rawClient is a WebSocket client that writes raw frames.
type rawClient struct {
	t    *testing.T
	conn net.Conn
	br   *bufio.Reader
}

// dialRaw opens a WebSocket, for a new session or, with sid, as the upgrade
// probe of a polling session. A new session's open packet is read.
func dialRaw(t *testing.T, ts *testServer, sid string) *rawClient {
	t.Helper()
	addr := strings.TrimSuffix(strings.TrimPrefix(ts.url, "http://"), "/engine.io/")
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	require.NoError(t, conn.SetDeadline(time.Now().Add(10*time.Second)))
	query := "EIO=4&transport=websocket"
	if sid != "" {
		query += "&sid=" + sid
	}
	_, err = fmt.Fprintf(conn, "GET /engine.io/?%s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", query, addr)
	require.NoError(t, err)
	br := bufio.NewReaderSize(conn, 64<<10)
	res, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusSwitchingProtocols, res.StatusCode)
	c := &rawClient{t: t, conn: conn, br: br}
	if sid != "" {
		return c
	}
	op, p := c.frame()
	require.Equal(t, byte(0x1), op)
	require.True(t, bytes.HasPrefix(p, []byte("0{")), "the open packet comes first")
	return c
}

// next reads one server frame and describes it.
func (c *rawClient) next() string {
	c.t.Helper()
	op, p := c.frame()
	if op == 0x8 {
		switch len(p) {
		case 0:
			return "close:none"
		case 1:
			c.t.Fatal("a close frame with a one-byte payload")
		}
		return wClose(int(binary.BigEndian.Uint16(p)))
	}
	return describe(op, p)
}

// frame reads one server frame.
func (c *rawClient) frame() (op byte, payload []byte) {
	c.t.Helper()
	var h [2]byte
	_, err := io.ReadFull(c.br, h[:])
	require.NoError(c.t, err, "reading a frame")
	require.Equal(c.t, byte(0x80), h[0]&0xF0, "a final frame without reserved bits")
	require.Zero(c.t, h[1]&0x80, "server frames are not masked")
	n := uint64(h[1] & 0x7F)
	switch n {
	case 126:
		var ext [2]byte
		_, err = io.ReadFull(c.br, ext[:])
		n = uint64(binary.BigEndian.Uint16(ext[:]))
	case 127:
		var ext [8]byte
		_, err = io.ReadFull(c.br, ext[:])
		n = binary.BigEndian.Uint64(ext[:])
	}
	require.NoError(c.t, err)
	p := make([]byte, n)
	_, err = io.ReadFull(c.br, p)
	require.NoError(c.t, err)
	return h[0] & 0x0F, p
}

// requireEOF checks that the server ends the connection with end of
// stream and sends nothing more.
func (c *rawClient) requireEOF() {
	c.t.Helper()
	b, err := c.br.ReadByte()
	require.Truef(c.t, errors.Is(err, io.EOF), "want end of stream, got byte %#x, err %v", b, err)
}

// A client that closes its upgrade probe gets the closing handshake too;
// its polling session carries on.
func TestProbeClosedByClient(t *testing.T) {
	ts := startServer(t, Config{PingInterval: time.Minute})
	sid, q := pollingSession(t, ts)
	c := dialRaw(t, ts, sid)
	_, err := c.conn.Write(txt("2probe"))
	require.NoError(t, err)
	require.Equal(t, wText("3probe"), c.next())
	_, err = c.conn.Write(closeCodeFrame(1001, "going"))
	require.NoError(t, err)
	require.Equal(t, wClose(1001), c.next())
	c.requireEOF()

	status, _ := do(t, "POST", q, "4still-polling")
	require.Equal(t, 200, status)
	status, body := do(t, "GET", q, "")
	require.Equal(t, 200, status)
	require.Contains(t, body, "4still-polling")
}
