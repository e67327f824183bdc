package transport

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	fws "github.com/fasthttp/websocket"
	"github.com/gofiber/fiber/v2"
	"github.com/stretchr/testify/require"

	"github.com/queuecast/queuecast/gateway/engineio"
)

// echoHandler sends every message back and reports how sessions end.
type echoHandler struct {
	closed chan Reason
	opened chan *RequestInfo
}

func (h *echoHandler) Open(s *Session) {
	select {
	case h.opened <- s.Info():
	default:
	}
}
func (h *echoHandler) Message(s *Session, p engineio.Packet) {
	if string(p.Data) == "bye" {
		s.Push(NewMessageFrame([]byte("bye-ack")))
		s.Close(ReasonForcedClose)
		return
	}
	if n, ok := strings.CutPrefix(string(p.Data), "many "); ok {
		k, _ := strconv.Atoi(n)
		for i := 0; i < k; i++ {
			s.Push(NewMessageFrame([]byte(strconv.Itoa(i))))
		}
		return
	}
	if string(p.Data) == "panic" {
		panic("handler failed on purpose")
	}
	if string(p.Data) == "flood" {
		big := NewMessageFrame(bytes.Repeat([]byte("x"), 64<<10))
		for i := 0; i < 200; i++ {
			s.Push(big)
		}
		return
	}
	s.Push(NewFrame(engineio.Packet{Type: engineio.Message, Data: append([]byte(nil), p.Data...), Binary: p.Binary}))
}
func (h *echoHandler) Receive(*Session, any) {}
func (h *echoHandler) Closed(_ *Session, r Reason) {
	select {
	case h.closed <- r:
	default:
	}
}

type testServer struct {
	url     string
	srv     *Server
	handler *echoHandler
}

func startServer(t *testing.T, cfg Config) *testServer {
	t.Helper()
	return startServerOn(t, cfg, func(ln net.Listener) net.Listener { return ln })
}

// startServerOn serves through wrap(listener).
func startServerOn(t *testing.T, cfg Config, wrap func(net.Listener) net.Listener) *testServer {
	t.Helper()
	h := &echoHandler{closed: make(chan Reason, 16), opened: make(chan *RequestInfo, 16)}
	ts := startWith(t, cfg, wrap, h)
	ts.handler = h
	return ts
}

// startHandlerServer serves sessions whose handler is h.
func startHandlerServer(tb testing.TB, cfg Config, h Handler) *testServer {
	tb.Helper()
	return startWith(tb, cfg, func(ln net.Listener) net.Listener { return ln }, h)
}

func startWith(tb testing.TB, cfg Config, wrap func(net.Listener) net.Listener, h Handler) *testServer {
	tb.Helper()
	system := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}))
	srv := NewServer(system, cfg, func(*RequestInfo) Handler { return h })
	app := fiber.New(fiber.Config{DisableStartupMessage: true, BodyLimit: 10 << 20})
	srv.Mount(app, "/engine.io/")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(tb, err)
	served := wrap(ln)
	go func() { _ = app.Listener(served) }()
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		_ = app.ShutdownWithContext(ctx)
		system.Shutdown()
	})
	return &testServer{url: "http://" + ln.Addr().String() + "/engine.io/", srv: srv}
}

func fastConfig() Config {
	return Config{PingInterval: 300 * time.Millisecond, PingTimeout: 200 * time.Millisecond, MaxPayload: 1000}
}

func do(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	require.NoError(t, err)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res.StatusCode, string(b)
}

func handshake(t *testing.T, ts *testServer) (sid string, hs map[string]any) {
	t.Helper()
	status, body := do(t, "GET", ts.url+"?EIO=4&transport=polling", "")
	require.Equal(t, 200, status)
	require.True(t, strings.HasPrefix(body, "0{"), body)
	require.NoError(t, json.Unmarshal([]byte(body[1:]), &hs))
	return hs["sid"].(string), hs
}

func TestPollingHandshake(t *testing.T) {
	ts := startServer(t, fastConfig())
	sid, hs := handshake(t, ts)
	require.Len(t, hs, 5, "exactly sid, upgrades, pingInterval, pingTimeout, maxPayload")
	require.Equal(t, []any{"websocket"}, hs["upgrades"])
	require.EqualValues(t, 300, hs["pingInterval"])
	require.EqualValues(t, 200, hs["pingTimeout"])
	require.EqualValues(t, 1000, hs["maxPayload"])
	require.GreaterOrEqual(t, len(sid), 20)
	sid2, _ := handshake(t, ts)
	require.NotEqual(t, sid, sid2)
}

func TestBadRequests(t *testing.T) {
	ts := startServer(t, fastConfig())
	cases := []struct {
		method, query string
		status        int
		code          float64
	}{
		{"GET", "?transport=polling", 400, 5},
		{"GET", "?EIO=abc&transport=polling", 400, 5},
		{"GET", "?EIO=3&transport=polling", 400, 5},
		{"GET", "?EIO=4", 400, 0},
		{"GET", "?EIO=4&transport=abc", 400, 0},
		{"POST", "?EIO=4&transport=polling", 400, 2},
		{"PUT", "?EIO=4&transport=polling", 400, 2},
		{"GET", "?EIO=4&transport=polling&sid=nope", 400, 1},
		{"POST", "?EIO=4&transport=polling&sid=nope", 400, 1},
	}
	for _, c := range cases {
		status, body := do(t, c.method, ts.url+c.query, "4x")
		require.Equal(t, c.status, status, "%s %s", c.method, c.query)
		var e struct {
			Code    float64 `json:"code"`
			Message string  `json:"message"`
		}
		require.NoError(t, json.Unmarshal([]byte(body), &e), body)
		require.Equal(t, c.code, e.Code, "%s %s", c.method, c.query)
		require.NotEmpty(t, e.Message)
	}
}

func TestPollingEcho(t *testing.T) {
	ts := startServer(t, fastConfig())
	_, q := pollingSession(t, ts)
	status, body := do(t, "POST", q, "4hello\x1ebAQIDBA==\x1e4again")
	require.Equal(t, 200, status)
	require.Equal(t, "ok", body)
	status, body = do(t, "GET", q, "")
	require.Equal(t, 200, status)
	require.Equal(t, "4hello\x1ebAQIDBA==\x1e4again", body)
}

func TestPollingInvalidBodyClosesSession(t *testing.T) {
	ts := startServer(t, fastConfig())
	_, q := pollingSession(t, ts)
	status, _ := do(t, "POST", q, "abc")
	require.Equal(t, 400, status)
	require.Equal(t, ReasonParseError, <-ts.handler.closed)
	status, _ = do(t, "GET", q, "")
	require.Equal(t, 400, status)
}

func TestPollingPayloadTooLarge(t *testing.T) {
	ts := startServer(t, fastConfig())
	_, q := pollingSession(t, ts)
	status, _ := do(t, "POST", q, "4"+strings.Repeat("x", 1000))
	require.Equal(t, 413, status)
	require.Equal(t, ReasonPayloadTooLarge, <-ts.handler.closed)
}

func TestDuplicateGetClosesSession(t *testing.T) {
	ts := startServer(t, Config{PingInterval: 5 * time.Second, PingTimeout: time.Second})
	_, q := pollingSession(t, ts)
	first := getAsync(t, q)
	// The first GET must be parked before the second arrives; nothing
	// observable says it is, so give it a moment.
	time.Sleep(50 * time.Millisecond)
	status, _ := do(t, "GET", q, "")
	require.Equal(t, 400, status)
	require.Equal(t, "1", <-first)
	require.Equal(t, ReasonProtocolError, <-ts.handler.closed)
}

func TestPollingHeartbeatAndTimeout(t *testing.T) {
	ts := startServer(t, fastConfig())
	_, q := pollingSession(t, ts)
	for i := 0; i < 3; i++ {
		status, body := do(t, "GET", q, "")
		require.Equal(t, 200, status)
		require.Equal(t, "2", body)
		status, _ = do(t, "POST", q, "3")
		require.Equal(t, 200, status)
	}
	require.Equal(t, ReasonPingTimeout, <-ts.handler.closed)
	status, _ := do(t, "GET", q, "")
	require.Equal(t, 400, status)
}

func TestPollingClientClose(t *testing.T) {
	ts := startServer(t, Config{PingInterval: 5 * time.Second, PingTimeout: time.Second})
	_, q := pollingSession(t, ts)
	got := getAsync(t, q)
	// The GET must be parked when the close arrives; nothing observable
	// says it is, so give it a moment (the official suite does the same).
	time.Sleep(50 * time.Millisecond)
	status, _ := do(t, "POST", q, "1")
	require.Equal(t, 200, status)
	require.Equal(t, "6", <-got)
	require.Equal(t, ReasonClientClose, <-ts.handler.closed)
}

// pollingSession opens a polling session and returns its id and URL.
func pollingSession(t *testing.T, ts *testServer) (sid, url string) {
	t.Helper()
	sid, _ = handshake(t, ts)
	return sid, ts.url + "?EIO=4&transport=polling&sid=" + sid
}

// getAsync issues a GET in the background; the channel gets its body.
func getAsync(t *testing.T, url string) <-chan string {
	got := make(chan string, 1)
	go func() {
		_, body := do(t, "GET", url, "")
		got <- body
	}()
	return got
}

// probe opens the upgrade WebSocket of a polling session and exchanges
// 2probe/3probe on it.
func probe(t *testing.T, ts *testServer, sid string) *fws.Conn {
	t.Helper()
	c := dial(t, ts, "?EIO=4&transport=websocket&sid="+sid)
	require.NoError(t, c.WriteMessage(fws.TextMessage, []byte("2probe")))
	_, msg := read(t, c)
	require.Equal(t, "3probe", msg)
	return c
}

func dial(t *testing.T, ts *testServer, query string) *fws.Conn {
	t.Helper()
	u := "ws" + strings.TrimPrefix(ts.url, "http") + query
	c, _, err := fws.DefaultDialer.Dial(u, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	return c
}

func read(t *testing.T, c *fws.Conn) (int, string) {
	t.Helper()
	mt, b, err := c.ReadMessage()
	require.NoError(t, err)
	return mt, string(b)
}

func TestWebSocketEchoAndHeartbeat(t *testing.T) {
	ts := startServer(t, fastConfig())
	c := dial(t, ts, "?EIO=4&transport=websocket")
	_, open := read(t, c)
	require.True(t, strings.HasPrefix(open, "0{"), open)
	require.Contains(t, open, `"upgrades":[]`)

	require.NoError(t, c.WriteMessage(fws.TextMessage, []byte("4hello")))
	require.NoError(t, c.WriteMessage(fws.BinaryMessage, []byte{1, 2, 3, 4}))
	mt, msg := read(t, c)
	require.Equal(t, fws.TextMessage, mt)
	require.Equal(t, "4hello", msg)
	mt, msg = read(t, c)
	require.Equal(t, fws.BinaryMessage, mt)
	require.Equal(t, "\x01\x02\x03\x04", msg)
	for i := 0; i < 2; i++ {
		_, msg = read(t, c)
		require.Equal(t, "2", msg)
		require.NoError(t, c.WriteMessage(fws.TextMessage, []byte("3")))
	}
	// Stop answering pings: the server must give up.
	_, msg = read(t, c)
	require.Equal(t, "2", msg)
	require.Equal(t, ReasonPingTimeout, <-ts.handler.closed)
	_, msg = read(t, c)
	require.Equal(t, "1", msg, "the client is told the session is over")
	_, _, err := c.ReadMessage()
	require.Error(t, err)
}

func TestWebSocketInvalidPacketCloses(t *testing.T) {
	ts := startServer(t, fastConfig())
	c := dial(t, ts, "?EIO=4&transport=websocket")
	read(t, c)
	require.NoError(t, c.WriteMessage(fws.TextMessage, []byte("abc")))
	require.Equal(t, ReasonParseError, <-ts.handler.closed)
}

// A message over the limit, or a frame breaking RFC 6455, ends the session
// with a close frame naming the error, as a browser expects (not a bare
// connection reset).
// Both readers: the poller, and the goroutine for a connection that exposes
// no descriptor (as behind TLS).
func TestWebSocketMessageTooLarge(t *testing.T) {
	for name, wrap := range map[string]func(net.Listener) net.Listener{
		"polled": func(ln net.Listener) net.Listener { return ln },
		"opaque": func(ln net.Listener) net.Listener { return opaqueListener{ln} },
	} {
		t.Run(name, func(t *testing.T) {
			ts := startServerOn(t, fastConfig(), wrap)
			c := dial(t, ts, "?EIO=4&transport=websocket")
			_, open := read(t, c)
			require.True(t, strings.HasPrefix(open, "0{"))
			require.NoError(t, c.WriteMessage(fws.TextMessage, []byte("4echo")))
			_, got := read(t, c)
			require.Equal(t, "4echo", got)
			require.NoError(t, c.WriteMessage(fws.TextMessage, []byte("4"+strings.Repeat("x", 2000))))
			require.Equal(t, ReasonPayloadTooLarge, <-ts.handler.closed)
			requireCloseCode(t, c, fws.CloseMessageTooBig)
		})
	}
}

func TestWebSocketProtocolErrorGetsCloseFrame(t *testing.T) {
	ts := startServer(t, fastConfig())
	c := dial(t, ts, "?EIO=4&transport=websocket")
	read(t, c)
	_, err := c.NetConn().Write(reservedBitFrame("4x"))
	require.NoError(t, err)
	require.Equal(t, ReasonProtocolError, <-ts.handler.closed)
	requireCloseCode(t, c, fws.CloseProtocolError)
}

// requireCloseCode reads up to the close frame and checks its code.
func requireCloseCode(t *testing.T, c *fws.Conn, code int) {
	t.Helper()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
	for {
		_, msg, err := c.ReadMessage()
		if err == nil {
			require.Equal(t, "1", string(msg), "only the Engine.IO close packet comes before the close frame")
			continue
		}
		var ce *fws.CloseError
		require.ErrorAs(t, err, &ce)
		require.Equal(t, code, ce.Code)
		return
	}
}

func TestUpgrade(t *testing.T) {
	ts := startServer(t, Config{PingInterval: 5 * time.Second, PingTimeout: time.Second})
	sid, q := pollingSession(t, ts)
	c := probe(t, ts, sid)
	status, body := do(t, "GET", q, "")
	require.Equal(t, 200, status)
	require.Equal(t, "6", body, "a GET during the upgrade is released with a noop")
	require.NoError(t, c.WriteMessage(fws.TextMessage, []byte("5")))
	require.NoError(t, c.WriteMessage(fws.TextMessage, []byte("4hello")))
	_, msg := read(t, c)
	require.Equal(t, "4hello", msg)
	status, _ = do(t, "GET", q, "")
	require.Equal(t, 400, status, "polling is refused once upgraded")
	second := dial(t, ts, "?EIO=4&transport=websocket&sid="+sid)
	_, _, err := second.ReadMessage()
	require.Error(t, err, "a second WebSocket for an upgraded session is closed")
}

func TestUpgradeFlushesPacketsQueuedForPolling(t *testing.T) {
	ts := startServer(t, Config{PingInterval: 5 * time.Second, PingTimeout: time.Second})
	sid, q := pollingSession(t, ts)
	c := probe(t, ts, sid)
	// Queued while the client has stopped polling.
	status, _ := do(t, "POST", q, "4queued")
	require.Equal(t, 200, status)
	require.NoError(t, c.WriteMessage(fws.TextMessage, []byte("5")))
	_, msg := read(t, c)
	require.Equal(t, "4queued", msg)
}

func TestSlowConsumerIsDisconnected(t *testing.T) {
	cfg := fastConfig()
	cfg.PingInterval = 10 * time.Second
	cfg.MaxQueueBytes = 256 << 10
	cfg.WriteTimeout = 500 * time.Millisecond
	ts := startServer(t, cfg)
	c := dial(t, ts, "?EIO=4&transport=websocket")
	read(t, c)
	// Ask for ~12 MiB and never read it: the queue limit or the write
	// deadline must cut the client off.
	require.NoError(t, c.WriteMessage(fws.TextMessage, []byte("4flood")))
	select {
	case r := <-ts.handler.closed:
		require.Equal(t, ReasonSlowConsumer, r)
	case <-time.After(5 * time.Second):
		t.Fatal("slow consumer was not disconnected")
	}
}

func TestShutdownSendsClosePacket(t *testing.T) {
	ts := startServer(t, Config{PingInterval: 5 * time.Second, PingTimeout: time.Second})
	c := dial(t, ts, "?EIO=4&transport=websocket")
	read(t, c)
	_, q := pollingSession(t, ts)
	polled := getAsync(t, q)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		// Give the GET a moment to park; Shutdown answers it either way.
		time.Sleep(50 * time.Millisecond)
		require.NoError(t, ts.srv.Shutdown(ctx))
	}()
	_, msg := read(t, c)
	require.Equal(t, "1", msg)
	_, _, err := c.ReadMessage()
	var ce *fws.CloseError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, fws.CloseGoingAway, ce.Code)
	require.Contains(t, []string{"1", ""}, <-polled)
	wg.Wait()
	status, _ := do(t, "GET", ts.url+"?EIO=4&transport=polling", "")
	require.Equal(t, 503, status, "no new sessions after shutdown")
}

// TestGetRacingUpgradeIsRefused covers a GET that reaches the session
// between "2probe" and "5" although the client sent "5" first: it is held,
// and the "5" answers it 400 rather than a noop.
func TestGetRacingUpgradeIsRefused(t *testing.T) {
	ts := startServer(t, Config{PingInterval: 5 * time.Second, PingTimeout: time.Second})
	sid, q := pollingSession(t, ts)
	c := probe(t, ts, sid)
	got := make(chan int, 1)
	go func() {
		status, _ := do(t, "GET", q, "")
		got <- status
	}()
	// Let the GET reach the session (it is held for 100ms), then upgrade.
	time.Sleep(20 * time.Millisecond)
	require.NoError(t, c.WriteMessage(fws.TextMessage, []byte("5")))
	require.Equal(t, 400, <-got)
}

// The next GET after a polling session closed, with no GET parked:
//   - the server closed it: what it queued reaches that GET, close packet
//     last, as the reference server does;
//   - the client closed it while a GET was still on its way (two
//     connections, either may arrive first): that GET still gets its noop.
//
// Later GETs and POSTs are refused: the session is gone.
func TestPollingGetAfterClose(t *testing.T) {
	for _, tc := range []struct {
		name, post, next string
		reason           Reason
	}{
		{"server close", "4bye", "4bye-ack\x1e1", ReasonForcedClose},
		{"client close", "1", "6", ReasonClientClose},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := startServer(t, Config{PingInterval: 5 * time.Second, PingTimeout: time.Second})
			_, q := pollingSession(t, ts)
			status, _ := do(t, "POST", q, tc.post)
			require.Equal(t, 200, status)
			require.Equal(t, tc.reason, <-ts.handler.closed)
			status, body := do(t, "GET", q, "")
			require.Equal(t, 200, status)
			require.Equal(t, tc.next, body)
			status, _ = do(t, "GET", q, "")
			require.Equal(t, 400, status)
			status, _ = do(t, "POST", q, "4late")
			require.Equal(t, 400, status, "a closed session refuses posts at once")
		})
	}
}

// TestUpgradeToClosedSessionIsRefused checks that a WebSocket offered to a
// session that has just closed is closed by the server, not left open.
func TestUpgradeToClosedSessionIsRefused(t *testing.T) {
	ts := startServer(t, Config{PingInterval: 5 * time.Second, PingTimeout: time.Second})
	sid, q := pollingSession(t, ts)
	status, _ := do(t, "POST", q, "4bye")
	require.Equal(t, 200, status)
	require.Equal(t, ReasonForcedClose, <-ts.handler.closed)
	u := "ws" + strings.TrimPrefix(ts.url, "http") + "?EIO=4&transport=websocket&sid=" + sid
	c, _, err := fws.DefaultDialer.Dial(u, nil)
	if err != nil {
		return // refused at the handshake: also fine
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
	_, _, err = c.ReadMessage()
	var ce *fws.CloseError
	require.ErrorAs(t, err, &ce, "the probe is closed by the server, not by the read deadline")
}
