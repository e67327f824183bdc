package server_test

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/stretchr/testify/require"

	"github.com/queuecast/queuecast/gateway/auth"
	"github.com/queuecast/queuecast/gateway/limits"
	"github.com/queuecast/queuecast/gateway/server"
)

// localDialer dials from ip: every address of 127.0.0.0/8 is local on Linux,
// so tests can be several clients.
func localDialer(ip string) *net.Dialer {
	return &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
}

func httpFrom(ip string) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: localDialer(ip).DialContext, MaxIdleConnsPerHost: 16}}
}

func wsFrom(ip string) *websocket.Dialer {
	return &websocket.Dialer{NetDialContext: localDialer(ip).DialContext, HandshakeTimeout: 5 * time.Second}
}

// get sends GET path through c with an optional bearer token.
func get(t *testing.T, c *http.Client, h *harness, path, token string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest("GET", h.base+path, nil)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := c.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res.StatusCode, res.Header, string(b)
}

// ack sends an event asking for an ack and returns the ack's argument.
func (c *sioClient) ack(name string, data any) map[string]any {
	c.t.Helper()
	c.ackID++
	id := itoa(c.ackID)
	args := []any{name}
	if data != nil {
		args = append(args, data)
	}
	raw, _ := json.Marshal(args)
	c.send("42" + id + string(raw))
	for {
		f := c.next()
		if rest, ok := strings.CutPrefix(f, "43"+id); ok {
			var out []map[string]any
			require.NoError(c.t, json.Unmarshal([]byte(rest), &out), f)
			return out[0]
		}
	}
}

// closed waits for the connection to end and returns the close frame.
func (c *sioClient) closed() *websocket.CloseError {
	c.t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case _, ok := <-c.frames:
			if !ok {
				var ce *websocket.CloseError
				require.True(c.t, errors.As(c.err, &ce), "want a close frame, got %v", c.err)
				return ce
			}
		case <-deadline:
			c.t.Fatal("connection still open after 5s")
			return nil
		}
	}
}

func TestEventRateLimit(t *testing.T) {
	h := start(t, server.Config{Database: sqliteDB(t), Limits: limits.Config{
		EventRate: 0.01, EventBurst: 5, EventDebt: 3, // no token refills during the test
	}})
	c := dial(t, h, "") // the CONNECT takes the first token
	for range 4 {
		require.Equal(t, true, c.ack("ping", nil)["pong"])
	}
	require.Equal(t, map[string]any{"success": false, "error": "rate limit exceeded"}, c.ack("ping", nil))
	c.send(`42["ping"]`) // no ack: dropped, and counted against the debt
	require.Equal(t, map[string]any{"success": false, "error": "rate limit exceeded"}, c.ack("joinServiceQueue", map[string]any{"serviceType": "Finance"}))

	other := dial(t, h, "")
	require.Equal(t, true, other.ack("ping", nil)["pong"], "another connection has its own budget")

	c.send(`42["ping"]`) // four refused: over the debt of 3
	ce := c.closed()
	require.Equal(t, "rate limited", ce.Text)
	require.Equal(t, 1008, int(ce.Code), "policy violation")
	require.Equal(t, true, other.ack("ping", nil)["pong"])
}

func TestRESTRateLimits(t *testing.T) {
	h := start(t, server.Config{Database: sqliteDB(t), MetricsPublic: true, Limits: limits.Config{
		RESTRate: 0.01, RESTBurst: 5, TokenRate: 0.01, TokenBurst: 3,
	}})
	flood := httpFrom("127.0.0.2")
	for range 5 {
		code, _, body := get(t, flood, h, "/api/services", "")
		require.Equal(t, 200, code, body)
	}
	code, hdr, body := get(t, flood, h, "/api/services", "")
	require.Equal(t, 429, code)
	require.Equal(t, "100", hdr.Get("Retry-After"))
	require.JSONEq(t, `{"error":"rate limit exceeded"}`, body)
	for _, probe := range []string{"/health", "/ready", "/metrics"} {
		code, _, body := get(t, flood, h, probe, "")
		require.Equal(t, 200, code, "%s is not limited: %s", probe, body)
	}
	code, _, _ = get(t, httpFrom("127.0.0.3"), h, "/api/services", "")
	require.Equal(t, 200, code, "another address has its own bucket")

	// Per token subject, from any address and whatever the token string.
	bob := h.token(auth.Identity{UserID: "bob", Role: auth.RoleStaff})
	for _, ip := range []string{"127.0.0.4", "127.0.0.5", "127.0.0.6"} {
		code, _, body := get(t, httpFrom(ip), h, "/api/tickets", bob)
		require.Equal(t, 200, code, body)
	}
	code, hdr, _ = get(t, httpFrom("127.0.0.7"), h, "/api/tickets", bob)
	require.Equal(t, 429, code, "bob's bucket is shared by his addresses")
	require.Equal(t, "100", hdr.Get("Retry-After"))
	bobAgain, err := h.auth.Issue(auth.Identity{UserID: "bob", Role: auth.RoleStaff}, 2*time.Hour)
	require.NoError(t, err)
	require.NotEqual(t, bob, bobAgain)
	code, _, _ = get(t, httpFrom("127.0.0.7"), h, "/api/tickets", bobAgain)
	require.Equal(t, 429, code, "keyed by the subject, not the token string")
	code, _, _ = get(t, httpFrom("127.0.0.7"), h, "/api/tickets", h.staff)
	require.Equal(t, 200, code, "another subject has its own bucket")

	_, _, metrics := get(t, h.client, h, "/metrics", "")
	require.Contains(t, metrics, `queuecast_limit_refusals_total{limit="rest_per_ip"} 1`)
	require.Contains(t, metrics, `queuecast_limit_refusals_total{limit="rest_per_token"} 2`)
}

// The HTTP timeouts cut a request that never finishes and an idle
// keep-alive connection, and leave held long-polls and WebSockets alone.
func TestHTTPTimeouts(t *testing.T) {
	const timeout = 300 * time.Millisecond
	h := start(t, server.Config{Database: sqliteDB(t),
		HTTPReadTimeout: timeout, HTTPWriteTimeout: timeout, HTTPIdleTimeout: timeout,
		PingInterval: 1200 * time.Millisecond, PingTimeout: time.Second})
	addr := strings.TrimPrefix(h.base, "http://")

	t.Run("a request that never ends is cut", func(t *testing.T) {
		conn, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		defer conn.Close()
		_, err = conn.Write([]byte("GET /health HTTP/1.1\r\nHost: x\r\n")) // no blank line
		require.NoError(t, err)
		requireClosedWithin(t, conn, 3*time.Second)
	})
	t.Run("an idle keep-alive connection is closed", func(t *testing.T) {
		conn, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		defer conn.Close()
		_, err = conn.Write([]byte("GET /health HTTP/1.1\r\nHost: x\r\n\r\n"))
		require.NoError(t, err)
		requireClosedWithin(t, conn, 3*time.Second)
	})
	t.Run("a long-poll held past every timeout is answered", func(t *testing.T) {
		code, _, body := get(t, h.client, h, "/socket.io/?EIO=4&transport=polling", "")
		require.Equal(t, 200, code, body)
		var hs struct{ SID string }
		require.NoError(t, json.Unmarshal([]byte(body[1:]), &hs))
		start := time.Now()
		code, _, body = get(t, h.client, h, "/socket.io/?EIO=4&transport=polling&sid="+hs.SID, "")
		require.Equal(t, 200, code)
		require.Equal(t, "2", body, "the ping, after pingInterval")
		require.Greater(t, time.Since(start), 3*timeout)
	})
	t.Run("a WebSocket outlives every timeout", func(t *testing.T) {
		c := dial(t, h, "")
		start := time.Now()
		// The client answers pings (dial's reader); two rounds are 2.4 s.
		for time.Since(start) < 2400*time.Millisecond {
			require.Equal(t, true, c.ack("ping", nil)["pong"])
			select {
			case f, ok := <-c.frames:
				require.True(t, ok, "closed: %v", c.err)
				t.Fatalf("unexpected frame %q", f)
			case <-time.After(200 * time.Millisecond): // the pace of the client's pings, not a wait for the server
			}
		}
	})
}

// requireClosedWithin reads conn until the server closes it, failing after d.
func requireClosedWithin(t *testing.T, conn net.Conn, d time.Duration) {
	t.Helper()
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(d)))
	_, err := io.Copy(io.Discard, conn)
	var ne net.Error
	require.False(t, errors.As(err, &ne) && ne.Timeout(), "the server kept the connection open for %s", d)
}

// A flood from 127.0.0.2 (handshakes on both transports, API requests, and
// events over the rate on the sockets it got) is refused by the limits,
// while a client on 127.0.0.1 connects, emits with acks and uses the API as
// usual throughout.
func TestHealthyClientServedThroughFlood(t *testing.T) {
	h := start(t, server.Config{Database: sqliteDB(t), Limits: limits.Config{
		ConnRate: 20, ConnBurst: 20, MaxConnsPerAddr: 30, RESTRate: 50, RESTBurst: 50,
	}})
	var (
		done    = make(chan struct{})
		wg      sync.WaitGroup
		sent    atomic.Int64
		refused atomic.Int64
	)
	const perWorker = 3000 // bounds the flood if the healthy client is slow
	floodHTTP, floodWS := httpFrom("127.0.0.2"), wsFrom("127.0.0.2")
	u := "ws" + strings.TrimPrefix(h.base, "http") + "/socket.io/?EIO=4&transport=websocket"
	worker := func(step func() bool) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range perWorker {
				select {
				case <-done:
					return
				default:
				}
				sent.Add(1)
				if !step() {
					refused.Add(1)
				}
			}
		}()
	}
	status := func(path string) int {
		res, err := floodHTTP.Get(h.base + path)
		if err != nil {
			return 0
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode
	}
	worker(func() bool { return status("/socket.io/?EIO=4&transport=polling") == 200 })
	worker(func() bool { return status("/api/queues") == 200 })
	worker(func() bool { return status("/api/services") == 200 })
	worker(func() bool {
		c, _, err := floodWS.Dial(u, nil)
		if err != nil {
			return false
		}
		defer c.Close()
		// A socket that got in sends events far over its rate until it is
		// disconnected.
		_ = c.WriteMessage(websocket.TextMessage, []byte("40"))
		for range 500 {
			if c.WriteMessage(websocket.TextMessage, []byte(`42["ping"]`)) != nil {
				break
			}
		}
		return true
	})

	// The healthy client, once the flood is being refused.
	require.Eventually(t, func() bool { return refused.Load() > 0 }, 10*time.Second, 5*time.Millisecond)
	healthy := httpFrom("127.0.0.1")
	var slowest time.Duration
	for round := range 10 {
		c := dialWith(t, h, wsFrom("127.0.0.1"), "")
		for range 5 {
			sent := time.Now()
			require.Equal(t, true, c.ack("ping", nil)["pong"], "round %d", round)
			slowest = max(slowest, time.Since(sent))
		}
		require.Equal(t, true, c.ack("joinServiceQueue", map[string]any{"serviceType": "Finance"})["success"])
		code, _, body := get(t, healthy, h, "/api/queues", "")
		require.Equal(t, 200, code, "round %d: %s", round, body)
		var tk created
		h.expect(201, "POST", "/api/tickets", "", map[string]any{"serviceType": "Finance"}, &tk)
		_ = c.conn.Close()
	}
	close(done)
	wg.Wait()
	t.Logf("flood: %d attempts, %d refused; the healthy client's slowest ack: %s", sent.Load(), refused.Load(), slowest)
	require.Positive(t, refused.Load(), "the flood met the limits")
}
