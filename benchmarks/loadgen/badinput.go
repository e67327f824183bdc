package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/queuecast/queuecast/benchmarks/internal/sioclient"
)

// badCase is one kind of bad input and the check that the server turned it
// away: run returns nil when the server answered as a server should (closed
// the connection, answered 4xx, refused the CONNECT), an error otherwise.
type badCase struct {
	name string
	run  func(ctx context.Context, g *rig) error
}

// badWait bounds how long a bad-input case waits for the server's answer.
const badWait = 5 * time.Second

// errNotClosed: the server kept a connection open after input it must refuse.
var errNotClosed = errors.New("connection still open")

// badCases is every kind of bad input the soak sends; maxMessage is the
// server's MAX_HTTP_BUFFER_SIZE, for the oversized frame.
func badCases(maxMessage int) []badCase {
	oversized := maskedFrame(0x1, bytes.Repeat([]byte("4"), maxMessage+1))
	wsAfter := func(frames ...[]byte) func(ctx context.Context, g *rig) error {
		return func(ctx context.Context, g *rig) error { return wsExpectClose(ctx, g.addr(), frames...) }
	}
	connect := maskedFrame(0x1, []byte("40"))
	return []badCase{
		{"ws: unknown Engine.IO packet type", wsAfter(maskedFrame(0x1, []byte("9garbage")))},
		{"ws: unknown Socket.IO packet type", wsAfter(maskedFrame(0x1, []byte("4"+"9nonsense")))},
		{"ws: CONNECT with malformed auth", wsAfter(maskedFrame(0x1, []byte(`40{"token":`)))},
		{"ws: event with unterminated JSON", wsAfter(connect, maskedFrame(0x1, []byte(`42["joinServiceQueue",{"serviceType":`)))},
		{"ws: event before CONNECT", wsAfter(maskedFrame(0x1, []byte(`42["ping"]`)))},
		{"ws: message over MAX_HTTP_BUFFER_SIZE", wsAfter(oversized)},
		{"ws: unmasked client frame", wsAfter(frame(0x1, []byte("40"), false))},
		{"ws: reserved opcode", wsAfter(maskedFrame(0x3, []byte("x")))},
		// RFC 6455 wants 1007 here; until the reader checks UTF-8 the server
		// may also treat it as any other event, so either answer passes.
		{"ws: text frame with invalid UTF-8", func(ctx context.Context, g *rig) error {
			err := wsExpectClose(ctx, g.addr(), connect, maskedFrame(0x1, []byte("42[\"ping\",\"\xff\xfe\"]")))
			if errors.Is(err, errNotClosed) {
				return nil
			}
			return err
		}},
		{"polling: unknown sid", func(ctx context.Context, g *rig) error {
			return expect4xx(g.rawPost(ctx, "/socket.io/?EIO=4&transport=polling&sid=nosuchsession", "text/plain", []byte("4garbage")))
		}},
		{"polling: unsupported EIO version", func(ctx context.Context, g *rig) error {
			return expect4xx(g.rawGet(ctx, "/socket.io/?EIO=9&transport=polling", ""))
		}},
		{"polling: garbage body on a live session", pollingGarbage},
		{"http: not an HTTP request", httpGarbage},
		{"rest: malformed JSON", func(ctx context.Context, g *rig) error {
			return expect4xx(g.rawPost(ctx, "/api/tickets", "application/json", []byte(`{"serviceType":`)))
		}},
		{"rest: unknown service", func(ctx context.Context, g *rig) error {
			return expect4xx(g.rawPost(ctx, "/api/tickets", "application/json", []byte(`{"serviceType":"No Such Service"}`)))
		}},
		{"rest: body over the limit", func(ctx context.Context, g *rig) error {
			return expect4xx(g.rawPost(ctx, "/api/tickets", "application/json", bytes.Repeat([]byte(" "), maxMessage+2)))
		}},
		{"rest: garbage bearer token", func(ctx context.Context, g *rig) error {
			return expect4xx(g.rawGet(ctx, "/api/tickets", "garbage.not.jwt"))
		}},
		{"rest: token signed with another secret", func(ctx context.Context, g *rig) error {
			return expect4xx(g.rawGet(ctx, "/api/admin/clients", foreignToken))
		}},
		{"socket.io: CONNECT with a bad token", func(ctx context.Context, g *rig) error {
			c, err := sioclient.Dial(ctx, sioclient.Options{Addr: g.addr(), Token: foreignToken, Timeout: badWait})
			if err == nil {
				_ = c.Close()
				return errors.New("CONNECT accepted")
			}
			if errors.Is(err, sioclient.ErrRefused) {
				return nil
			}
			return err
		}},
	}
}

// foreignToken is an admin token signed with a secret no server uses.
var foreignToken = func() string {
	g := &rig{cfg: &config{secret: "not-the-server-secret"}}
	t, _ := g.token("intruder", "admin", "")
	return t
}()

// badInput runs the cases round-robin on a few workers until ctx ends and
// counts, per case, the inputs turned away and the unexpected answers.
type badInput struct {
	cases      []badCase
	ok, failed []atomic.Int64
	mu         sync.Mutex
	firstErr   map[string]string
}

func newBadInput(maxMessage int) *badInput {
	cs := badCases(maxMessage)
	return &badInput{cases: cs, ok: make([]atomic.Int64, len(cs)), failed: make([]atomic.Int64, len(cs)), firstErr: map[string]string{}}
}

func (b *badInput) run(ctx context.Context, g *rig, workers int, pause time.Duration) {
	var wg sync.WaitGroup
	var next atomic.Uint64
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1)-1) % len(b.cases)
				cctx, cancel := context.WithTimeout(ctx, 2*badWait)
				err := b.cases[i].run(cctx, g)
				cancel()
				switch {
				case ctx.Err() != nil:
					return // the soak ended during the case: not the server's fault
				case err == nil:
					b.ok[i].Add(1)
				default:
					b.failed[i].Add(1)
					b.mu.Lock()
					if _, seen := b.firstErr[b.cases[i].name]; !seen {
						b.firstErr[b.cases[i].name] = err.Error()
						g.logf("soak: bad input %q: unexpected answer: %v", b.cases[i].name, err)
					}
					b.mu.Unlock()
				}
				sleepCtx(ctx, pause)
			}
		}()
	}
	wg.Wait()
}

func (b *badInput) totals() (ok, failed int64) {
	for i := range b.cases {
		ok += b.ok[i].Load()
		failed += b.failed[i].Load()
	}
	return ok, failed
}

// wsExpectClose opens a WebSocket at /socket.io/, writes frames and
// requires the server to close the connection within badWait.
func wsExpectClose(ctx context.Context, addr string, frames ...[]byte) error {
	c, br, err := rawWebSocket(ctx, addr)
	if err != nil {
		return err
	}
	defer c.Close()
	for _, f := range frames {
		if _, err := c.Write(f); err != nil {
			// The server may close while a large frame is still being written.
			return nil
		}
	}
	return expectEOF(c, br)
}

// expectEOF reads (and discards) until the server closes the connection.
func expectEOF(c net.Conn, r io.Reader) error {
	_ = c.SetReadDeadline(time.Now().Add(badWait))
	_, err := io.Copy(io.Discard, r)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return errNotClosed
	}
	return nil // EOF or reset: closed
}

// rawWebSocket performs the RFC 6455 handshake by hand, so that the caller
// may write frames no WebSocket library would.
func rawWebSocket(ctx context.Context, addr string) (net.Conn, *bufio.Reader, error) {
	d := net.Dialer{Timeout: badWait}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, nil, err
	}
	var key [16]byte
	_, _ = rand.Read(key[:])
	_ = c.SetDeadline(time.Now().Add(badWait))
	_, err = fmt.Fprintf(c, "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"+
		"Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n", addr, base64.StdEncoding.EncodeToString(key[:]))
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		c.Close()
		return nil, nil, fmt.Errorf("upgrade: %w", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		c.Close()
		return nil, nil, fmt.Errorf("upgrade: %s", resp.Status)
	}
	_ = c.SetDeadline(time.Time{})
	return c, br, nil
}

// frame encodes one final WebSocket frame, masked as clients must unless
// masked is false.
func frame(opcode byte, payload []byte, masked bool) []byte {
	b := []byte{0x80 | opcode}
	var m byte
	if masked {
		m = 0x80
	}
	switch n := len(payload); {
	case n < 126:
		b = append(b, m|byte(n))
	case n < 1<<16:
		b = append(b, m|126, byte(n>>8), byte(n))
	default:
		b = binary.BigEndian.AppendUint64(append(b, m|127), uint64(n))
	}
	if !masked {
		return append(b, payload...)
	}
	key := [4]byte{0x5a, 0x17, 0xc3, 0x81}
	b = append(b, key[:]...)
	for i, c := range payload {
		b = append(b, c^key[i%4])
	}
	return b
}

func maskedFrame(opcode byte, payload []byte) []byte { return frame(opcode, payload, true) }

// pollingGarbage opens a polling session and posts bytes that are no
// Engine.IO payload to it.
func pollingGarbage(ctx context.Context, g *rig) error {
	code, body, err := g.rawGet(ctx, "/socket.io/?EIO=4&transport=polling", "")
	if err != nil {
		return err
	}
	if code != http.StatusOK {
		return fmt.Errorf("handshake: %d %s", code, trimBody(body))
	}
	i := bytes.Index(body, []byte(`"sid":"`))
	if i < 0 {
		return fmt.Errorf("handshake without sid: %s", trimBody(body))
	}
	sid, _, _ := strings.Cut(string(body[i+len(`"sid":"`):]), `"`)
	return expect4xx(g.rawPost(ctx, "/socket.io/?EIO=4&transport=polling&sid="+sid, "text/plain", []byte("\x00\x01\x02 not a packet")))
}

// httpGarbage writes a line that is no HTTP request: the server answers 400
// or closes.
func httpGarbage(ctx context.Context, g *rig) error {
	d := net.Dialer{Timeout: badWait}
	c, err := d.DialContext(ctx, "tcp", g.addr())
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.Write([]byte("\x16\x03\x01 NOT HTTP AT ALL\r\n\r\n")); err != nil {
		return nil
	}
	br := bufio.NewReader(c)
	_ = c.SetReadDeadline(time.Now().Add(badWait))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return errNotClosed
		}
		return nil // closed without an answer
	}
	_ = resp.Body.Close()
	if resp.StatusCode < 400 || resp.StatusCode >= 500 {
		return fmt.Errorf("answered %s", resp.Status)
	}
	return nil
}

// expect4xx accepts a 4xx answer (429 included: a limit turned it away).
func expect4xx(code int, body []byte, err error) error {
	if err != nil {
		return err
	}
	if code < 400 || code >= 500 {
		return fmt.Errorf("answered %d %s", code, trimBody(body))
	}
	return nil
}

// rawGet and rawPost send one request on a connection of their own (bad
// input should not share the healthy traffic's keep-alive connections).
func (g *rig) rawGet(ctx context.Context, path, bearer string) (int, []byte, error) {
	return g.rawDo(ctx, http.MethodGet, path, "", bearer, nil)
}

func (g *rig) rawPost(ctx context.Context, path, contentType string, body []byte) (int, []byte, error) {
	return g.rawDo(ctx, http.MethodPost, path, contentType, "", body)
}

func (g *rig) rawDo(ctx context.Context, method, path, contentType, bearer string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, "http://"+g.addr()+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Close = true
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := badHTTP.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	return resp.StatusCode, b, err
}

var badHTTP = &http.Client{Timeout: badWait, Transport: &http.Transport{DisableKeepAlives: true}}

// sleepCtx sleeps for d or until ctx ends: workers pace themselves with it.
func sleepCtx(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
