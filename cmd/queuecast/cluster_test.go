package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"
	"github.com/fasthttp/websocket"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"

	"github.com/queuecast/queuecast/actors/cluster/wire"
	"github.com/queuecast/queuecast/gateway/auth"
	"github.com/queuecast/queuecast/persistence/pgtest"
)

// The cluster tests run three `queuecast serve` processes on loopback and
// one PostgreSQL schema. The node binary is QUEUECAST_BIN, or built once
// here without -race: the cluster library has data races of its own
// (shared/notes/protoactor.md), which would fail a race-built node; this
// package's own code still runs under -race in the test binary.

var (
	nodeBinOnce sync.Once
	nodeBin     string
	nodeBinErr  error
)

func nodeBinary(t *testing.T) string {
	t.Helper()
	nodeBinOnce.Do(func() {
		if nodeBin = os.Getenv("QUEUECAST_BIN"); nodeBin != "" {
			return
		}
		dir, err := os.MkdirTemp("", "queuecast-node")
		if err != nil {
			nodeBinErr = err
			return
		}
		nodeBin = filepath.Join(dir, "queuecast")
		out, err := exec.Command("go", "build", "-o", nodeBin, ".").CombinedOutput()
		if err != nil {
			nodeBinErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	require.NoError(t, nodeBinErr)
	return nodeBin
}

const clusterSecret = "cluster-test-secret-cluster-test-secret"

// node is one cluster member process.
type node struct {
	name     string
	base     string // HTTP
	ws       string
	grpcAddr string // NODE_HOST:NODE_PORT
	env      []string
	held     *ports // its ports until it first starts
	cmd      *exec.Cmd
	log      *syncBuffer
	done     chan struct{}
}

// start runs the node's process (again, after kill).
func (nd *node) start(t *testing.T) {
	t.Helper()
	nd.held.release()
	nd.cmd = exec.Command(nodeBinary(t), "serve")
	nd.cmd.Env = nd.env
	nd.cmd.Stdout, nd.cmd.Stderr = nd.log, nd.log
	nd.done = make(chan struct{})
	require.NoError(t, nd.cmd.Start())
	cmd, done := nd.cmd, nd.done
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
		if t.Failed() {
			t.Logf("%s log:\n%s", nd.name, nd.log.String())
		}
	})
}

// kill ends the node's process with SIGKILL.
func (nd *node) kill(t *testing.T) {
	t.Helper()
	require.NoError(t, nd.cmd.Process.Kill())
	<-nd.done
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// ports holds loopback ports open until release, so that the ports it
// hands out are distinct and nobody else's meanwhile. They come from below
// the kernel's ephemeral range (32768 and up on Linux), where no outgoing
// connection or ":0" listener of another test can take them once released.
type ports struct {
	t   *testing.T
	lns []net.Listener
}

// take returns a free port; with pair, port+1 is free too (a node's
// automanaged health listener).
func (p *ports) take(pair bool) int {
	p.t.Helper()
	for range 200 {
		port := 20000 + rand.IntN(12000)
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			continue
		}
		if !pair {
			p.lns = append(p.lns, ln)
			return port
		}
		next, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port+1))
		if err == nil {
			p.lns = append(p.lns, ln, next)
			return port
		}
		_ = ln.Close()
	}
	p.t.Fatal("no free port")
	return 0
}

func (p *ports) release() {
	for _, ln := range p.lns {
		_ = ln.Close()
	}
	p.lns = nil
}

// provider is extra environment for every node: the membership provider
// (automanaged when empty).
func startCluster(t *testing.T, n int, provider ...string) []*node {
	t.Helper()
	nodeBinary(t)
	dsn := pgtest.DSN(t)
	nodes := make([]*node, n)
	var seeds []string
	held := make([]*ports, n) // each node's ports, released as it starts
	for i := range nodes {
		held[i] = &ports{t: t}
		t.Cleanup(held[i].release)
		httpPort, nodePort := held[i].take(false), held[i].take(true)
		nodes[i] = &node{
			name: "n" + strconv.Itoa(i+1), base: "http://127.0.0.1:" + strconv.Itoa(httpPort),
			ws:       "ws://127.0.0.1:" + strconv.Itoa(httpPort) + "/socket.io/?EIO=4&transport=websocket",
			grpcAddr: "127.0.0.1:" + strconv.Itoa(nodePort), log: &syncBuffer{},
		}
		seeds = append(seeds, nodes[i].grpcAddr)
	}
	// A name of its own, so that concurrent runs on one etcd never meet.
	name := "test-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	for i, nd := range nodes {
		_, nodePort, _ := net.SplitHostPort(nd.grpcAddr)
		nd.env = append(os.Environ(), "DATA_DIR="+t.TempDir(), "JWT_SECRET="+clusterSecret,
			"PORT="+strings.TrimPrefix(nd.base, "http://127.0.0.1:"), "LOG_LEVEL=warn", "NODE_NAME="+nd.name,
			"DATABASE_URL="+dsn, "CLUSTER_NAME="+name, "NODE_HOST=127.0.0.1", "NODE_PORT="+nodePort,
			"CLUSTER_SEEDS="+strings.Join(seeds, ","), "SHUTDOWN_TIMEOUT=5s")
		nd.env = append(nd.env, provider...)
		nd.held = held[i]
	}
	start := func(i int) { nodes[i].start(t) }
	// The first node migrates the fresh schema alone; the others start
	// together once it is ready.
	start(0)
	waitReady(t, nodes[0])
	for i := range nodes[1:] {
		start(i + 1)
	}
	for _, nd := range nodes {
		waitReady(t, nd)
	}
	for _, nd := range nodes {
		require.Eventually(t, func() bool { return metric(nd, "queuecast_cluster_members") == float64(n) },
			15*time.Second, 50*time.Millisecond, "%s does not see %d members", nd.name, n)
	}
	return nodes
}

func waitReady(t *testing.T, nd *node) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-nd.done:
			t.Fatalf("%s exited:\n%s", nd.name, nd.log.String())
		case <-time.After(50 * time.Millisecond):
		}
		if res, err := http.Get(nd.base + "/ready"); err == nil {
			_ = res.Body.Close()
			if res.StatusCode == 200 {
				return
			}
		}
	}
	t.Fatalf("%s did not become ready", nd.name)
}

// metric reads one unlabelled series from a node's /metrics; -1 when absent.
func metric(nd *node, name string) float64 {
	res, err := http.Get(nd.base + "/metrics")
	if err != nil {
		return -1
	}
	defer res.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(res.Body)
	m := regexp.MustCompile(`(?m)^` + name + ` (\S+)$`).FindStringSubmatch(buf.String())
	if m == nil {
		return -1
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

// wsClient is a minimal Socket.IO client over a raw WebSocket.
type wsClient struct {
	t      *testing.T
	name   string
	conn   *websocket.Conn
	frames chan string
	ack    int
}

func connect(t *testing.T, nd *node, token, name string) *wsClient {
	t.Helper()
	conn, _, err := websocket.DefaultDialer.Dial(nd.ws, nil)
	require.NoError(t, err)
	c := &wsClient{t: t, name: name, conn: conn, frames: make(chan string, 1024)}
	t.Cleanup(func() { _ = conn.Close() })
	go func() {
		defer close(c.frames)
		for {
			_, b, err := conn.ReadMessage()
			if err != nil {
				return
			}
			if string(b) == "2" {
				_ = conn.WriteMessage(websocket.TextMessage, []byte("3"))
				continue
			}
			c.frames <- string(b)
		}
	}()
	require.True(t, strings.HasPrefix(c.next(), "0{"), "engine.io open")
	c.send(`40{"token":"` + token + `"}`)
	require.True(t, strings.HasPrefix(c.next(), "40"), "socket.io connect")
	require.Equal(t, "connected", parseWire(t, c.next()).name, "the server's greeting")
	return c
}

func (c *wsClient) send(s string) {
	require.NoError(c.t, c.conn.WriteMessage(websocket.TextMessage, []byte(s)))
}

func (c *wsClient) next() string {
	c.t.Helper()
	select {
	case f, ok := <-c.frames:
		require.True(c.t, ok, "%s: connection closed", c.name)
		return f
	case <-time.After(10 * time.Second):
		c.t.Fatalf("%s: no frame in 10s", c.name)
		return ""
	}
}

// wireEvent is an event frame's name and raw payload.
type wireEvent struct{ name, data string }

func parseWire(t *testing.T, f string) wireEvent {
	t.Helper()
	require.True(t, strings.HasPrefix(f, "42["), "want an event, got %q", f)
	var parts []json.RawMessage
	require.NoError(t, json.Unmarshal([]byte(f[2:]), &parts))
	var e wireEvent
	require.NoError(t, json.Unmarshal(parts[0], &e.name))
	if len(parts) > 1 {
		e.data = string(parts[1])
	}
	return e
}

// emit sends an event with an ack and waits for a successful ack; events
// that arrive meanwhile are returned.
func (c *wsClient) emit(name string, data any) []wireEvent {
	c.t.Helper()
	c.ack++
	raw, _ := json.Marshal([]any{name, data})
	id := strconv.Itoa(c.ack)
	c.send("42" + id + string(raw))
	var seen []wireEvent
	for {
		f := c.next()
		if strings.HasPrefix(f, "43"+id+"[") {
			require.Contains(c.t, f, `"success":true`, f)
			return seen
		}
		seen = append(seen, parseWire(c.t, f))
	}
}

// until collects events up to and including the admin broadcast marker;
// loadBalancingMetrics, which each node sends on its own schedule, are
// left out.
func (c *wsClient) until(marker string) []wireEvent {
	c.t.Helper()
	var out []wireEvent
	for {
		e := parseWire(c.t, c.next())
		if e.name == "loadBalancingMetrics" {
			continue
		}
		out = append(out, e)
		if e.name == marker {
			return out
		}
	}
}

func post(t *testing.T, nd *node, path, token string, body any, v any) {
	t.Helper()
	code, out, err := call(context.Background(), nd.base, "POST", path, token, body)
	require.NoError(t, err)
	require.Less(t, code, 300, "%s %s: %d %s", nd.name, path, code, out)
	if v != nil {
		require.NoError(t, json.Unmarshal(out, v), string(out))
	}
}

// take collects the next n events, leaving out loadBalancingMetrics.
func (c *wsClient) take(n int) []wireEvent {
	c.t.Helper()
	var out []wireEvent
	for len(out) < n {
		if e := parseWire(c.t, c.next()); e.name != "loadBalancingMetrics" {
			out = append(out, e)
		}
	}
	return out
}

func withoutJoins(events []wireEvent) []wireEvent {
	var out []wireEvent
	for _, e := range events {
		if e.name != "queueUserJoined" && e.name != "staffConnectionUpdate" {
			out = append(out, e)
		}
	}
	return out
}

// without is the events not named name, in order.
func without(events []wireEvent, name string) []wireEvent {
	var out []wireEvent
	for _, e := range events {
		if e.name != name {
			out = append(out, e)
		}
	}
	return out
}

// only is the events named name, in order.
func only(events []wireEvent, name string) []wireEvent {
	var out []wireEvent
	for _, e := range events {
		if e.name == name {
			out = append(out, e)
		}
	}
	return out
}

func names(events []wireEvent) []string {
	out := make([]string, len(events))
	for i, e := range events {
		out[i] = e.name
	}
	return out
}

func countOf(events []wireEvent, name string) int {
	n := 0
	for _, e := range events {
		if e.name == name {
			n++
		}
	}
	return n
}

// A socket on node 1 receives each event caused by REST calls on node 3
// exactly once, in order: the same events as a socket in the same rooms on
// node 3 itself. An admin broadcast reaches every socket on the three nodes
// once, and its recipients is the cluster's total.
func TestClusterBroadcastsReachEveryNodeOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three server processes")
	}
	testClusterBroadcasts(t, startCluster(t, 3))
}

// The same on etcd membership, when QUEUECAST_TEST_ETCD names an etcd
// server (e.g. http://127.0.0.1:2379; Debian's etcd-server works). The
// nodes register under /queuecast in it.
func TestClusterBroadcastsOnEtcd(t *testing.T) {
	endpoints := os.Getenv("QUEUECAST_TEST_ETCD")
	if endpoints == "" || testing.Short() {
		t.Skip("QUEUECAST_TEST_ETCD is not set")
	}
	testClusterBroadcasts(t, startCluster(t, 3, "CLUSTER_PROVIDER=etcd", "ETCD_ENDPOINTS="+endpoints))
}

func testClusterBroadcasts(t *testing.T, nodes []*node) {
	authority := auth.NewAuthority([]byte(clusterSecret))
	admin, err := authority.Issue(auth.Identity{UserID: "admin-c", Role: auth.RoleAdmin}, time.Hour)
	require.NoError(t, err)
	staff := func(id string) string {
		tok, err := authority.Issue(auth.Identity{UserID: id, Role: auth.RoleStaff}, time.Hour)
		require.NoError(t, err)
		return tok
	}

	// Two dashboards watching Finance, one on node 1 and one on node 3.
	far := connect(t, nodes[0], staff("staff-n1"), "n1-dashboard")
	near := connect(t, nodes[2], staff("staff-n3"), "n3-dashboard")
	far.emit("joinDashboard", map[string]any{"userRole": "staff", "userId": "staff-n1"})
	far.emit("joinServiceQueue", map[string]any{"serviceType": "Finance"})
	joined := near.emit("joinDashboard", map[string]any{"userRole": "staff", "userId": "staff-n3"})
	// The joining dashboard hears itself, once. node 1's announcement of
	// the far dashboard may reach node 3 only now, so it is not counted.
	own := 0
	for _, e := range joined {
		if e.name == "staffConnectionUpdate" && strings.Contains(e.data, `"userId":"staff-n3"`) {
			own++
		}
	}
	require.Equal(t, 1, own, "the joining dashboard hears itself: %v", joined)
	near.emit("joinServiceQueue", map[string]any{"serviceType": "Finance"})
	// The far dashboard hears of the near one's join (a join announcement
	// made on node 3) and of its service room join, once.
	// Two rooms fan out independently, so the two may come in either order.
	seen := far.take(2)
	sort.Slice(seen, func(i, j int) bool { return seen[i].name > seen[j].name })
	require.Equal(t, []string{"staffConnectionUpdate", "queueUserJoined"}, names(seen), "%v", seen)
	require.Contains(t, seen[0].data, `"userId":"staff-n3"`)
	require.Contains(t, seen[1].data, `"serviceType":"Finance"`)

	// Other sockets: guests, one more on node 1, one on node 2.
	guest := connect(t, nodes[1], admin, "n2-guest")
	extra := connect(t, nodes[0], admin, "n1-guest")

	// REST on node 3: a ticket, a call, a completion.
	var counters struct {
		Items []struct{ ID, Name string }
	}
	code, out, err := call(context.Background(), nodes[2].base, "GET", "/api/counters", "", nil)
	require.NoError(t, err)
	require.Equal(t, 200, code)
	require.NoError(t, json.Unmarshal(out, &counters))
	var created struct {
		Ticket struct{ ID, DisplayNumber string }
	}
	post(t, nodes[2], "/api/tickets", "", map[string]any{"serviceType": "Finance"}, &created)
	var called struct {
		Ticket struct{ ID string }
	}
	post(t, nodes[2], "/api/counters/"+counters.Items[0].ID+"/call-next", staff("staff-rest"), nil, &called)
	post(t, nodes[2], "/api/tickets/"+created.Ticket.ID+"/complete", staff("staff-rest"), nil, nil)

	// The marker goes to the room every one of those events reached (the
	// service room). The events come from the node that holds the queue
	// actors, the marker from node 3, so the two streams may interleave:
	// each dashboard reads until it has both the marker and the last event.
	var sent struct{ Recipients int }
	post(t, nodes[2], "/api/admin/broadcast", admin, map[string]any{"event": "marker1", "room": "service-Finance"}, &sent)
	require.Equal(t, 2, sent.Recipients, "the service room's members on nodes 1 and 3")

	// A join announcement reaches another node's members of the room when
	// it gets there, which may be after a later join on that node: the
	// announcements of the joins above are left out of the comparison.
	farEv, nearEv := withoutJoins(untilAll(far, "marker1", "ticketCompleted")), withoutJoins(untilAll(near, "marker1", "ticketCompleted"))
	// Node 1 sees what node 3 sees, each event once. Publishes to the same
	// rooms keep their order; publishes to different rooms are fanned out
	// by different room actors, on one node as on several, so only the
	// order of each event kind is compared. The queueUpdated that follows
	// the completion may come after both reads stopped on one node and not
	// on the other, so queueUpdated is compared as far as both got.
	require.ElementsMatch(t, without(nearEv, "queueUpdated"), without(farEv, "queueUpdated"), "node 1: %v\nnode 3: %v", names(farEv), names(nearEv))
	for _, name := range []string{"ticketCreated", "ticketServing", "ticketCompleted", "marker1"} {
		require.Equal(t, only(nearEv, name), only(farEv, name), name)
	}
	nq, fq := only(nearEv, "queueUpdated"), only(farEv, "queueUpdated")
	common := min(len(nq), len(fq))
	require.Equal(t, nq[:common], fq[:common], "queueUpdated in the same order on both nodes")
	for _, ev := range []string{"ticketCreated", "ticketServing", "ticketCompleted", "marker1"} {
		require.Equal(t, 1, countOf(farEv, ev), "%s on node 1: %v", ev, names(farEv))
	}
	// queueUpdated follows a change on the queue's own schedule, not
	// necessarily before the REST answer; the last may come after the
	// marker.
	require.GreaterOrEqual(t, countOf(farEv, "queueUpdated"), 2, "%v", names(farEv))
	require.GreaterOrEqual(t, countOf(nearEv, "queueUpdated"), 2, "%v", names(nearEv))
	require.Contains(t, only(farEv, "ticketCreated")[0].data, created.Ticket.DisplayNumber)

	// An admin broadcast to everyone, posted on node 2, reaches the four
	// sockets of the cluster once each: the next one is the next event
	// everyone gets.
	post(t, nodes[1], "/api/admin/broadcast", admin, map[string]any{"event": "hello", "data": map[string]any{"n": 1}}, &sent)
	require.Equal(t, 4, sent.Recipients, "every socket of the cluster: 2 on node 1, 1 on node 2, 1 on node 3")
	post(t, nodes[1], "/api/admin/broadcast", admin, map[string]any{"event": "bye"}, &sent)
	require.Equal(t, 4, sent.Recipients)
	for _, c := range []*wsClient{far, near, guest, extra} {
		got := c.until("bye")
		require.Equal(t, []string{"hello", "bye"}, append(names(only(got, "hello")), names(only(got, "bye"))...), "%s: %v", c.name, names(got))
	}
}

// A node that dies takes only its own sockets with it: the others keep
// their rooms and keep receiving; a broadcast made before the survivors
// noticed answers within the count deadline with the nodes that answered.
// The node back on the same address is relayed to again.
func TestClusterNodeLeavesAndComesBack(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three server processes")
	}
	nodes := startCluster(t, 3)
	authority := auth.NewAuthority([]byte(clusterSecret))
	admin, err := authority.Issue(auth.Identity{UserID: "admin-c", Role: auth.RoleAdmin}, time.Hour)
	require.NoError(t, err)
	var socks []*wsClient
	for _, nd := range nodes {
		c := connect(t, nd, admin, nd.name)
		c.emit("joinServiceQueue", map[string]any{"serviceType": "Registrar"})
		socks = append(socks, c)
	}
	var sent struct{ Recipients int }
	broadcast := func(event string) int {
		post(t, nodes[0], "/api/admin/broadcast", admin, map[string]any{"event": event, "room": "service-Registrar"}, &sent)
		return sent.Recipients
	}
	require.Equal(t, 3, broadcast("before"))

	nodes[2].kill(t)
	start := time.Now()
	got := broadcast("during")
	t.Logf("broadcast right after the kill answered in %v with %d recipients", time.Since(start), got)
	require.Less(t, time.Since(start), 4*time.Second, "bounded by the count deadline")
	require.Contains(t, []int{2, 3}, got, "the dead node answered nothing, or was already gone")
	require.Eventually(t, func() bool { return metric(nodes[0], "queuecast_cluster_members") == 2 }, 10*time.Second, 50*time.Millisecond)
	require.Equal(t, 2, broadcast("after"))
	for _, c := range socks[:2] {
		require.Equal(t, []string{"before", "during", "after"}, names(withoutJoins(c.until("after"))), c.name)
	}

	nodes[2].start(t)
	waitReady(t, nodes[2])
	for _, nd := range nodes {
		require.Eventually(t, func() bool { return metric(nd, "queuecast_cluster_members") == 3 }, 15*time.Second, 50*time.Millisecond, nd.name)
	}
	back := connect(t, nodes[2], admin, "n3-again")
	back.emit("joinServiceQueue", map[string]any{"serviceType": "Registrar"})
	require.Equal(t, 3, broadcast("again"))
	for _, c := range []*wsClient{socks[0], socks[1], back} {
		require.Equal(t, []string{"again"}, names(withoutJoins(c.until("again"))), c.name)
	}
}

// A message of a type a node does not know, an envelope of an unknown
// version and an envelope of an unknown kind are dropped: the node stays
// up, counts them, and keeps relaying broadcasts.
func TestClusterDropsUnknownMessages(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three server processes")
	}
	nodes := startCluster(t, 3)
	authority := auth.NewAuthority([]byte(clusterSecret))
	admin, err := authority.Issue(auth.Identity{UserID: "admin-c", Role: auth.RoleAdmin}, time.Hour)
	require.NoError(t, err)
	target := nodes[1]
	sock := connect(t, target, admin, "n2")

	conn, err := grpc.NewClient(target.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	relay := &actor.PID{Address: target.grpcAddr, Id: "relay"}
	batch := func(typeName string, data []byte, serializer int32) *remote.RemoteMessage {
		return &remote.RemoteMessage{MessageType: &remote.RemoteMessage_MessageBatch{MessageBatch: &remote.MessageBatch{
			TypeNames: []string{typeName}, Targets: []*actor.PID{relay},
			Envelopes: []*remote.MessageEnvelope{{MessageData: data, TypeId: 0, Target: 0, SerializerId: serializer}},
		}}}
	}
	envelope := func(env *wire.Envelope) []byte {
		b, err := proto.Marshal(env)
		require.NoError(t, err)
		return b
	}

	// Envelopes the relay does not know: one stream, which stays open.
	stream, err := remote.NewRemotingClient(conn).Receive(ctx)
	require.NoError(t, err)
	require.NoError(t, stream.Send(batch("queuecast.cluster.v1.Envelope", envelope(&wire.Envelope{Version: 99, Kind: wire.Kind_KIND_BROADCAST}), 0)))
	require.NoError(t, stream.Send(batch("queuecast.cluster.v1.Envelope", envelope(&wire.Envelope{Version: 1, Kind: wire.Kind(42)}), 0)))
	require.Eventually(t, func() bool { return metric(target, "queuecast_cluster_dropped_total") >= 2 }, 10*time.Second, 20*time.Millisecond)

	// A proto type the node has never heard of, and a serializer it does
	// not have, would each crash a stock node; each costs its stream here.
	for i, m := range []*remote.RemoteMessage{
		batch("queuecast.test.NoSuchMessage", []byte{0x08, 0x01}, 0),
		batch("queuecast.cluster.v1.Envelope", nil, 7),
	} {
		s, err := remote.NewRemotingClient(conn).Receive(ctx)
		require.NoError(t, err)
		require.NoError(t, s.Send(m))
		_, err = s.Recv()
		require.Error(t, err, "the stream of message %d is closed", i)
		require.Contains(t, err.Error(), "message dropped")
	}
	require.Eventually(t, func() bool { return metric(target, "queuecast_cluster_dropped_total") >= 4 }, 10*time.Second, 20*time.Millisecond)

	// The node is still up, still a member, and still relays.
	select {
	case <-target.done:
		t.Fatalf("node exited:\n%s", target.log.String())
	default:
	}
	for _, nd := range nodes {
		require.Equal(t, float64(3), metric(nd, "queuecast_cluster_members"), nd.name)
	}
	var sent struct{ Recipients int }
	post(t, nodes[0], "/api/admin/broadcast", admin, map[string]any{"event": "after"}, &sent)
	require.Equal(t, 1, sent.Recipients)
	require.Equal(t, []string{"after"}, names(sock.until("after")))
}

// untilAll reads c's events until each of the named ones has come (each
// event of the test comes once).
func untilAll(c *wsClient, names ...string) []wireEvent {
	var got []wireEvent
	for _, n := range names {
		if countOf(got, n) == 0 {
			got = append(got, c.until(n)...)
		}
	}
	return got
}
