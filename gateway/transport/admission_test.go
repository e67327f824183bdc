package transport

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	fws "github.com/fasthttp/websocket"
	"github.com/stretchr/testify/require"

	"github.com/queuecast/queuecast/gateway/limits"
)

// from is a client whose connections leave from one loopback address
// (127.0.0.0/8 is all local on Linux).
type from struct {
	ip   string
	http *http.Client
	ws   *fws.Dialer
}

func newFrom(ip string) *from {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	return &from{
		ip:   ip,
		http: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}},
		ws:   &fws.Dialer{NetDialContext: d.DialContext, HandshakeTimeout: 5 * time.Second},
	}
}

// refusal is a handshake's answer when it is not 200.
type refusal struct {
	status     int
	retryAfter int
	code       float64
	message    string
}

// poll opens a polling session; it returns its sid, or the refusal.
func (f *from) poll(t *testing.T, ts *testServer) (string, *refusal) {
	t.Helper()
	res, err := f.http.Get(ts.url + "?EIO=4&transport=polling")
	require.NoError(t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	if res.StatusCode != 200 {
		return "", parseRefusal(t, res, body)
	}
	var hs struct{ SID string }
	require.NoError(t, json.Unmarshal(body[1:], &hs), string(body))
	return hs.SID, nil
}

// dial opens a WebSocket session (or upgrades sid); it returns the
// connection, or the refusal.
func (f *from) dial(t *testing.T, ts *testServer, sid string) (*fws.Conn, *refusal) {
	t.Helper()
	u := strings.Replace(ts.url, "http", "ws", 1) + "?EIO=4&transport=websocket"
	if sid != "" {
		u += "&sid=" + sid
	}
	c, res, err := f.ws.Dial(u, nil)
	if err == nil {
		t.Cleanup(func() { _ = c.Close() })
		return c, nil
	}
	require.NotNil(t, res, "dial: %v", err)
	body, _ := io.ReadAll(res.Body)
	return nil, parseRefusal(t, res, body)
}

func parseRefusal(t *testing.T, res *http.Response, body []byte) *refusal {
	t.Helper()
	r := &refusal{status: res.StatusCode}
	r.retryAfter, _ = strconv.Atoi(res.Header.Get("Retry-After"))
	var e struct {
		Code    float64
		Message string
	}
	require.NoError(t, json.Unmarshal(body, &e), string(body))
	r.code, r.message = e.Code, e.Message
	return r
}

func TestNewConnectionsPerAddressAreRateLimited(t *testing.T) {
	cfg := fastConfig()
	cfg.ConnRate = limits.Rate{Per: 0.01, Burst: 3} // one more every 100 s
	ts := startServer(t, cfg)
	flood, calm := newFrom("127.0.0.2"), newFrom("127.0.0.3")

	_, r := flood.poll(t, ts)
	require.Nil(t, r)
	_, r = flood.dial(t, ts, "")
	require.Nil(t, r, "either transport takes from the same bucket")
	_, r = flood.poll(t, ts)
	require.Nil(t, r)

	_, r = flood.poll(t, ts)
	require.Equal(t, &refusal{status: 429, retryAfter: 100, code: 3, message: "Too many new connections from this address"}, r)
	_, r = flood.dial(t, ts, "")
	require.NotNil(t, r)
	require.Equal(t, 429, r.status)
	require.Equal(t, 100, r.retryAfter)

	_, r = calm.poll(t, ts)
	require.Nil(t, r, "another address has its own bucket")
	requireSessions(t, ts, 4)
}

func TestOpenConnectionsAreCapped(t *testing.T) {
	cfg := fastConfig()
	cfg.PingInterval = time.Minute // the sessions stay open without polling
	cfg.MaxConns, cfg.MaxConnsPerAddr = 3, 2
	ts := startServer(t, cfg)
	a, b, c := newFrom("127.0.0.2"), newFrom("127.0.0.3"), newFrom("127.0.0.4")

	sid, r := a.poll(t, ts)
	require.Nil(t, r)
	ws, r := a.dial(t, ts, "")
	require.Nil(t, r)
	// A WebSocket's session starts (and is counted) once the handshake's
	// answer is written, a moment after the client has it.
	requireSessions(t, ts, 2)
	_, r = a.poll(t, ts)
	require.Equal(t, &refusal{status: 429, retryAfter: 5, code: 3, message: "Too many connections from this address"}, r)
	_, r = a.dial(t, ts, "")
	require.NotNil(t, r)
	require.Equal(t, 429, r.status)

	// Upgrading a session is not a new connection.
	probe, r := a.dial(t, ts, sid)
	require.Nil(t, r, "the upgrade of a counted session passes the cap")
	_ = probe.Close()

	_, r = b.poll(t, ts)
	require.Nil(t, r)
	_, r = c.poll(t, ts)
	require.Equal(t, &refusal{status: 503, retryAfter: 5, code: 3, message: "Server at connection capacity"}, r)
	_, r = c.dial(t, ts, "")
	require.NotNil(t, r)
	require.Equal(t, 503, r.status)

	// A closed session gives its place back, whatever its transport.
	require.NoError(t, ws.WriteMessage(fws.TextMessage, []byte("1")))
	requireSessions(t, ts, 2)
	_, r = c.dial(t, ts, "")
	require.Nil(t, r, "the WebSocket session's place is free")
	requireSessions(t, ts, 3)
	status, _ := do(t, "POST", ts.url+"?EIO=4&transport=polling&sid="+sid, "1")
	require.Equal(t, 200, status)
	requireSessions(t, ts, 2)
	_, r = a.poll(t, ts)
	require.Nil(t, r, "the polling session's place is free")
}

// A session refused by the caps leaves nothing counted: after a burst of
// refused handshakes, closing the admitted sessions frees every place.
func TestRefusedHandshakesCountNothing(t *testing.T) {
	cfg := fastConfig()
	cfg.PingInterval = time.Minute
	cfg.MaxConnsPerAddr = 1
	ts := startServer(t, cfg)
	a := newFrom("127.0.0.2")
	ws, r := a.dial(t, ts, "")
	require.Nil(t, r)
	requireSessions(t, ts, 1)
	for range 20 {
		_, r = a.poll(t, ts)
		require.NotNil(t, r)
		_, r = a.dial(t, ts, "")
		require.NotNil(t, r)
	}
	require.NoError(t, ws.Close())
	requireSessions(t, ts, 0)
	total, _ := ts.srv.admission.conns.Open(limits.Addr("127.0.0.2:1"))
	require.Zero(t, total)
	_, r = a.poll(t, ts)
	require.Nil(t, r)
}

func requireSessions(t *testing.T, ts *testServer, n int64) {
	t.Helper()
	require.Eventually(t, func() bool { return ts.srv.Sessions() == n }, 5*time.Second, 5*time.Millisecond, "want %d sessions", n)
}
