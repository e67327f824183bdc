package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/stretchr/testify/require"

	"github.com/queuecast/queuecast/gateway/auth"
)

// edgeEnv lifts the per-address connection rate (every test socket comes
// from 127.0.0.1) and ticks loadBalancingMetrics every second.
var edgeEnv = []string{"CONN_RATE_PER_IP=100000", "CONN_BURST_PER_IP=100000", "METRICS_INTERVAL=1s"}

// greeting is a socket's "connected" event.
type greeting struct {
	SocketID       string `json:"socketId"`
	ClientID       int64  `json:"clientId"`
	Node           string `json:"node"`
	TotalConnected int64  `json:"totalConnected"`
}

// rawSocket connects a Socket.IO socket over a raw WebSocket and returns
// its greeting; the connection answers pings until the test ends.
func rawSocket(t *testing.T, nd *node, token string) (greeting, *websocket.Conn) {
	t.Helper()
	conn, _, err := websocket.DefaultDialer.Dial(nd.ws, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	read := func() string {
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, b, err := conn.ReadMessage()
		require.NoError(t, err)
		return string(b)
	}
	require.True(t, strings.HasPrefix(read(), "0{"))
	require.NoError(t, conn.WriteMessage(websocket.TextMessage, []byte(`40{"token":"`+token+`"}`)))
	require.True(t, strings.HasPrefix(read(), "40"))
	e := parseWire(t, read())
	require.Equal(t, "connected", e.name)
	var g greeting
	require.NoError(t, json.Unmarshal([]byte(e.data), &g))
	return g, conn
}

type clientList struct {
	Items []struct {
		SocketID string `json:"socketId"`
		ClientID int64  `json:"clientId"`
		Node     string `json:"node"`
	} `json:"items"`
	Total   int      `json:"total"`
	Partial bool     `json:"partial"`
	Missing []string `json:"missing"`
}

func getJSON(t *testing.T, nd *node, path, token string, v any) int {
	t.Helper()
	code, out, err := call(context.Background(), nd.base, "GET", path, token, nil)
	require.NoError(t, err)
	if v != nil && code == 200 {
		require.NoError(t, json.Unmarshal(out, v), string(out))
	}
	return code
}

// 1,000 sockets spread over three nodes have distinct client ids, each
// greeting names its node, the admin list of any node returns all of them,
// one socket is found from another node, and totalConnected counts the
// cluster. loadBalancingMetrics comes from one node for the whole cluster.
func TestClusterClientsAreClusterWide(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three server processes")
	}
	nodes := startCluster(t, 3, edgeEnv...)
	authority := auth.NewAuthority([]byte(clusterSecret))
	admin, err := authority.Issue(auth.Identity{UserID: "admin-e", Role: auth.RoleAdmin}, time.Hour)
	require.NoError(t, err)

	const total = 1000
	greetings := make([]greeting, total)
	var wg sync.WaitGroup
	work := make(chan int)
	for range 16 {
		wg.Go(func() {
			for i := range work {
				greetings[i], _ = rawSocket(t, nodes[i%3], admin)
			}
		})
	}
	start := time.Now()
	for i := range total {
		work <- i
	}
	close(work)
	wg.Wait()
	t.Logf("%d sockets connected over 3 nodes in %v", total, time.Since(start))

	ids := map[int64]bool{}
	bySocket := map[string]greeting{}
	for i, g := range greetings {
		require.Equal(t, nodes[i%3].name, g.Node)
		require.False(t, ids[g.ClientID], "client id %d given twice", g.ClientID)
		require.Less(t, g.ClientID, int64(1)<<53, "a client id JavaScript holds exactly")
		ids[g.ClientID] = true
		bySocket[g.SocketID] = g
	}

	for _, nd := range nodes {
		var list clientList
		require.Equal(t, 200, getJSON(t, nd, "/api/admin/clients", admin, &list))
		require.False(t, list.Partial, "%s: %v", nd.name, list.Missing)
		require.Empty(t, list.Missing)
		require.Equal(t, total, list.Total, nd.name)
		for _, r := range list.Items {
			g, ok := bySocket[r.SocketID]
			require.True(t, ok, "a socket the test did not open: %s", r.SocketID)
			require.Equal(t, g.ClientID, r.ClientID)
			require.Equal(t, g.Node, r.Node)
		}
	}
	var one struct {
		SocketID string `json:"socketId"`
		Node     string `json:"node"`
	}
	far := greetings[2] // on node 3
	require.Equal(t, 200, getJSON(t, nodes[0], "/api/admin/clients/"+far.SocketID, admin, &one))
	require.Equal(t, "n3", one.Node)
	require.Equal(t, 404, getJSON(t, nodes[0], "/api/admin/clients/nosuchsocket", admin, nil))

	// Each node's count reaches the others with its next heartbeat.
	require.Eventually(t, func() bool {
		g, conn := rawSocket(t, nodes[1], admin)
		defer conn.Close()
		return g.TotalConnected == total+1
	}, 10*time.Second, 200*time.Millisecond, "totalConnected counts the cluster")

	// A dashboard on node 2 hears loadBalancingMetrics once a second for
	// the cluster (not once per node), listing the three nodes.
	dash := connect(t, nodes[1], admin, "dash")
	dash.emit("joinDashboard", map[string]any{"userRole": "admin", "userId": "admin-e"})
	var got []string
	deadline := time.Now().Add(3500 * time.Millisecond)
	for time.Now().Before(deadline) {
		select {
		case f, ok := <-dash.frames:
			require.True(t, ok)
			if e := parseWire(t, f); e.name == "loadBalancingMetrics" {
				got = append(got, e.data)
			}
		case <-time.After(time.Until(deadline)):
		}
	}
	require.NotEmpty(t, got)
	require.LessOrEqual(t, len(got), 4, "about one per second over 3.5 s, not three: %d", len(got))
	var m struct {
		Nodes       []string `json:"nodes"`
		Connections int64    `json:"connections"`
		PerNode     []struct {
			Node        string `json:"node"`
			Connections int64  `json:"connections"`
		} `json:"perNode"`
	}
	require.NoError(t, json.Unmarshal([]byte(got[len(got)-1]), &m))
	require.Equal(t, []string{"n1", "n2", "n3"}, m.Nodes)
	require.Len(t, m.PerNode, 3)
	require.GreaterOrEqual(t, m.Connections, int64(total+1))

	// A node that is a member but does not answer (stopped, not dead):
	// the list comes within the gather timeout with the others' sockets,
	// naming it, instead of failing. (If the membership has dropped it by
	// then, the list is simply the live nodes'.)
	require.NoError(t, nodes[2].cmd.Process.Signal(syscall.SIGSTOP))
	stopped := time.Now()
	var partial clientList
	require.Equal(t, 200, getJSON(t, nodes[0], "/api/admin/clients", admin, &partial))
	took := time.Since(stopped)
	require.NoError(t, nodes[2].cmd.Process.Signal(syscall.SIGCONT))
	t.Logf("admin list with node 3 stopped: %v, partial=%v missing=%v total=%d", took, partial.Partial, partial.Missing, partial.Total)
	require.Less(t, took, 4*time.Second)
	if partial.Partial {
		require.Equal(t, []string{"n3"}, partial.Missing)
	}
	for _, r := range partial.Items {
		require.NotEqual(t, "n3", r.Node)
	}
	require.GreaterOrEqual(t, partial.Total, 2*total/3)

	for _, nd := range nodes {
		require.GreaterOrEqual(t, metric(nd, "queuecast_cluster_sent_total"), float64(1), nd.name)
		require.GreaterOrEqual(t, metric(nd, "queuecast_cluster_received_total"), float64(1), nd.name)
	}
}

// poll is one Engine.IO long-polling request to a node.
func poll(t *testing.T, base, method, sid string, body []byte, hdr ...string) (int, string) {
	t.Helper()
	u := base + "/socket.io/?EIO=4&transport=polling"
	if sid != "" {
		u += "&sid=" + sid
	}
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, u, r)
	require.NoError(t, err)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res.StatusCode, string(out)
}

// A polling session opened on node 1 is served through nodes 2 and 3 as
// on node 1: the connect, a held GET answered by a POST made elsewhere,
// 413 and the close packet last for a body too large; a session id of no
// live node is 400 at once; a forged hop header is refused; a WebSocket
// upgrade of the session made on another node succeeds.
func TestClusterPollingWithoutStickiness(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three server processes")
	}
	nodes := startCluster(t, 3, append(edgeEnv, "MAX_HTTP_BUFFER_SIZE=100000")...)
	authority := auth.NewAuthority([]byte(clusterSecret))
	admin, err := authority.Issue(auth.Identity{UserID: "admin-p", Role: auth.RoleAdmin}, time.Hour)
	require.NoError(t, err)

	open := func(nd *node) string {
		code, body := poll(t, nd.base, "GET", "", nil)
		require.Equal(t, 200, code, body)
		var hs struct{ Sid string }
		require.NoError(t, json.Unmarshal([]byte(body[1:]), &hs), body)
		return hs.Sid
	}
	sid := open(nodes[0])
	code, body := poll(t, nodes[1].base, "POST", sid, []byte(`40{"token":"`+admin+`"}`))
	require.Equal(t, 200, code)
	require.Equal(t, "ok", body)
	code, body = poll(t, nodes[2].base, "GET", sid, nil)
	require.Equal(t, 200, code)
	require.Contains(t, body, "40{")
	require.Contains(t, body, `"node":"n1"`, "the greeting comes from the owner")

	// A held GET through node 2, answered by an emit POSTed through node 3.
	held := make(chan string, 1)
	go func() {
		_, b := poll(t, nodes[1].base, "GET", sid, nil)
		held <- b
	}()
	// A ping event with an ack: its ack answers the GET, held or not yet.
	code, body = poll(t, nodes[2].base, "POST", sid, []byte(`421["ping",{}]`))
	require.Equal(t, 200, code, body)
	select {
	case b := <-held:
		require.Contains(t, b, "431[", "the ack reaches the held GET")
	case <-time.After(10 * time.Second):
		t.Fatal("the held GET was not answered")
	}
	require.Positive(t, metricLabelled(nodes[1], `queuecast_cluster_forwarded_total{kind="polling"}`))

	// What forwarding adds: a small POST (a pong) to the owner and through
	// another node, median of 200 each.
	median := func(base string) time.Duration {
		var ds []time.Duration
		for range 200 {
			start := time.Now()
			code, _ := poll(t, base, "POST", sid, []byte("3"))
			ds = append(ds, time.Since(start))
			require.Equal(t, 200, code)
		}
		slices.Sort(ds)
		return ds[len(ds)/2]
	}
	direct, forwarded := median(nodes[0].base), median(nodes[1].base)
	t.Logf("polling POST p50: %v at the owner, %v through another node (+%v)", direct, forwarded, forwarded-direct)

	// A WebSocket upgrade of a polling session, on another node.
	sid2 := open(nodes[0])
	code, _ = poll(t, nodes[2].base, "POST", sid2, []byte(`40{"token":"`+admin+`"}`))
	require.Equal(t, 200, code)
	code, body = poll(t, nodes[1].base, "GET", sid2, nil)
	require.Equal(t, 200, code)
	require.Contains(t, body, "40{")
	ws, _, err := websocket.DefaultDialer.Dial(nodes[2].ws+"&sid="+sid2, nil)
	require.NoError(t, err)
	defer ws.Close()
	require.NoError(t, ws.WriteMessage(websocket.TextMessage, []byte("2probe")))
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, b, err := ws.ReadMessage()
	require.NoError(t, err)
	require.Equal(t, "3probe", string(b))
	require.NoError(t, ws.WriteMessage(websocket.TextMessage, []byte("5")))
	require.NoError(t, ws.WriteMessage(websocket.TextMessage, []byte(`427["ping",{}]`)))
	for {
		_, b, err = ws.ReadMessage()
		require.NoError(t, err)
		if strings.HasPrefix(string(b), "437[") {
			break
		}
	}
	require.Positive(t, metricLabelled(nodes[2], `queuecast_cluster_forwarded_total{kind="websocket"}`))

	// Too large a body through another node: 413 from the owner, which
	// closes the session; its next GET is the close packet.
	sid3 := open(nodes[0])
	code, _ = poll(t, nodes[1].base, "POST", sid3, bytes.Repeat([]byte("a"), 100_001))
	require.Equal(t, 413, code)
	code, body = poll(t, nodes[2].base, "GET", sid3, nil)
	require.Truef(t, (code == 200 && body == "1") || code == 400, "close packet or gone: %d %q", code, body)

	// No live node owns these: 400 at once.
	for _, bad := range []string{"zzzz.AAAAAAAAAAAAAAAAAAAA", "AAAAAAAAAAAAAAAAAAAA", strings.Replace(sid, ".", "x.", 1)} {
		start := time.Now()
		code, body = poll(t, nodes[1].base, "GET", bad, nil)
		require.Equal(t, 400, code, bad)
		require.Contains(t, body, "Session ID unknown")
		require.Less(t, time.Since(start), time.Second)
	}
	// A request that claims to be forwarded but is not signed.
	code, _ = poll(t, nodes[1].base, "GET", sid, nil, "X-Queuecast-Hop", "1.forged")
	require.Equal(t, 403, code)
}

// metricLabelled reads one labelled series, as printed, from /metrics.
func metricLabelled(nd *node, series string) float64 {
	res, err := http.Get(nd.base + "/metrics")
	if err != nil {
		return -1
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			var f float64
			_ = json.Unmarshal([]byte(v), &f)
			return f
		}
	}
	return -1
}
