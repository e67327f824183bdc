package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/fasthttp/websocket"
	"github.com/stretchr/testify/require"

	"github.com/queuecast/queuecast/gateway/server"
)

// Every path a browser takes (CORS preflight, an API request, the polling
// handshake, the WebSocket upgrade) accepts exactly the same origins.
func TestOriginChecksAgree(t *testing.T) {
	cases := []struct {
		allowed []string
		origins map[string]bool
	}{
		{[]string{"http://localhost:5173", "HTTPS://Queue.Example.org:443"}, map[string]bool{
			"http://localhost:5173":         true,
			"HTTP://LocalHost:5173":         true,
			"http://localhost:5174":         false,
			"https://localhost:5173":        false,
			"https://queue.example.org":     true,
			"https://QUEUE.example.org":     true,
			"https://queue.example.org:443": true,
			"https://queue.example.org:444": false,
			"http://queue.example.org":      false,
			"https://evil.example.org":      false,
			"null":                          false,
		}},
		{[]string{"*"}, map[string]bool{
			"http://localhost:5173":    true,
			"https://anything.example": true,
			"HTTP://UPPER.example":     true,
			"null":                     true,
		}},
	}
	for _, tc := range cases {
		h := start(t, server.Config{Database: sqliteDB(t), Origins: tc.allowed})
		for origin, want := range tc.origins {
			got := map[string]bool{
				"CORS preflight":    preflightAllows(t, h, origin),
				"API request":       status(t, h, "GET", "/api/services", origin) == 200,
				"polling handshake": status(t, h, "GET", "/socket.io/?EIO=4&transport=polling", origin) == 200,
				"WebSocket upgrade": upgradeAllows(t, h, origin),
			}
			for path, ok := range got {
				require.Equal(t, want, ok, "%v: %s from %q", tc.allowed, path, origin)
			}
		}
	}
}

func status(t *testing.T, h *harness, method, path, origin string) int {
	t.Helper()
	req, err := http.NewRequest(method, h.base+path, nil)
	require.NoError(t, err)
	req.Header.Set("Origin", origin)
	res, err := h.client.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	if res.StatusCode == 200 && strings.HasPrefix(path, "/api/") {
		// Fiber's CORS echoes the origin in lower case, as browsers send it.
		require.True(t, strings.EqualFold(origin, res.Header.Get("Access-Control-Allow-Origin")), "an allowed API answer carries CORS headers")
	}
	return res.StatusCode
}

func preflightAllows(t *testing.T, h *harness, origin string) bool {
	t.Helper()
	req, err := http.NewRequest("OPTIONS", h.base+"/api/tickets", nil)
	require.NoError(t, err)
	req.Header.Set("Origin", origin)
	req.Header.Set("Access-Control-Request-Method", "POST")
	res, err := h.client.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	return strings.EqualFold(res.Header.Get("Access-Control-Allow-Origin"), origin)
}

func upgradeAllows(t *testing.T, h *harness, origin string) bool {
	t.Helper()
	u := "ws" + strings.TrimPrefix(h.base, "http") + "/socket.io/?EIO=4&transport=websocket"
	c, res, err := websocket.DefaultDialer.Dial(u, http.Header{"Origin": {origin}})
	if err != nil {
		require.NotNil(t, res, "dial: %v", err)
		require.Equal(t, 403, res.StatusCode)
		return false
	}
	_ = c.Close()
	return true
}
