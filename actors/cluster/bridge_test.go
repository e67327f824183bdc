package cluster

import (
	"io"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/queuecast/queuecast/actors/cluster/wire"
	"github.com/queuecast/queuecast/actors/rooms"
)

// fabric stands in for the library at the package's seams: each node is an
// actor system of its own in this process, and an envelope is encoded and
// decoded on the way, as on the wire. Nodes in cut are unreachable.
type fabric struct {
	mu    sync.Mutex
	nodes map[string]*testNode
	cut   map[string]bool
	sent  map[string]*atomic.Int64 // envelopes sent, by sender
}

type testNode struct {
	addr     string
	fab      *fabric
	sys      *actor.ActorSystem
	bridge   *Bridge
	rooms    *actor.PID
	watchers []func([]string)
}

func (n *testNode) Self() string                    { return n.addr }
func (n *testNode) Watch(fn func(members []string)) { n.watchers = append(n.watchers, fn) }

func (n *testNode) Send(address string, env *wire.Envelope) {
	if env.Kind == wire.Kind_KIND_BROADCAST || env.Kind == wire.Kind_KIND_COUNT {
		n.fab.sent[n.addr].Add(1) // room traffic; node infos and queries are not counted
	}
	raw, err := proto.Marshal(env)
	if err != nil {
		panic(err)
	}
	n.fab.mu.Lock()
	to, cut := n.fab.nodes[address], n.fab.cut[address]
	n.fab.mu.Unlock()
	if to == nil || cut {
		return
	}
	var got wire.Envelope
	if err := proto.Unmarshal(raw, &got); err != nil {
		panic(err)
	}
	to.sys.Root.Send(actor.NewPID("nonhost", relayName), &got)
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// newFabric starts n nodes that all know each other.
func newFabric(t *testing.T, n int, cfg Config) (*fabric, []*testNode) {
	t.Helper()
	return newFabricWith(t, n, cfg, nil)
}

// newFabricWith is newFabric with setup run on each bridge before it starts.
func newFabricWith(t *testing.T, n int, cfg Config, setup func(i int, b *Bridge)) (*fabric, []*testNode) {
	t.Helper()
	f := &fabric{nodes: map[string]*testNode{}, cut: map[string]bool{}, sent: map[string]*atomic.Int64{}}
	var all []string
	var nodes []*testNode
	for i := range n {
		addr := "node" + strconv.Itoa(i)
		all = append(all, addr)
		sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return quiet() }))
		tn := &testNode{addr: addr, fab: f, sys: sys}
		cfg.Logger = quiet()
		tn.bridge = NewBridge(sys, tn, tn, cfg)
		if setup != nil {
			setup(i, tn.bridge)
		}
		var err error
		tn.rooms, err = sys.Root.SpawnNamed(rooms.NewClusterManagerProps(quiet(), nil, tn.bridge), "rooms")
		require.NoError(t, err)
		require.NoError(t, tn.bridge.Start(tn.rooms))
		f.nodes[addr] = tn
		f.sent[addr] = &atomic.Int64{}
		nodes = append(nodes, tn)
		t.Cleanup(sys.Shutdown)
	}
	for _, tn := range nodes {
		for _, w := range tn.watchers {
			w(all)
		}
	}
	return f, nodes
}

// sink records the broadcasts one member receives.
type sink struct {
	mu  sync.Mutex
	got []string
}

func (s *sink) Deliver(b *rooms.Broadcast) bool {
	s.mu.Lock()
	s.got = append(s.got, b.Event+" "+string(b.Data))
	s.mu.Unlock()
	return true
}

func (s *sink) events() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.got...)
}

// join adds a member to a room on node n and waits for the room's answer.
func join(t *testing.T, n *testNode, room, socket string, announce *rooms.Broadcast) *sink {
	t.Helper()
	s := &sink{}
	joined := make(chan struct{}, 1)
	pid := n.sys.Root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
		if _, ok := ctx.Message().(*rooms.Joined); ok {
			joined <- struct{}{}
		}
	}))
	n.sys.Root.Send(n.rooms, &rooms.Join{Room: room, Member: rooms.Member{SocketID: socket, PID: pid, Outbox: s}, Announce: announce})
	select {
	case <-joined:
	case <-time.After(5 * time.Second):
		t.Fatal("join not answered")
	}
	return s
}

func publishCounted(t *testing.T, n *testNode, room string, b *rooms.Broadcast) int {
	t.Helper()
	ch := make(chan int, 1)
	n.sys.Root.Send(n.rooms, &rooms.Publish{Rooms: []string{room}, Broadcast: b, Reply: ch})
	select {
	case got := <-ch:
		return got
	case <-time.After(10 * time.Second):
		t.Fatal("no recipient count")
		return 0
	}
}

// A publish made on one node reaches every member on every node once, in
// the publisher's order, and a node that received it sends nothing on.
func TestPublishReachesEveryNodeOnceInOrder(t *testing.T) {
	f, nodes := newFabric(t, 3, Config{})
	var sinks []*sink
	for i, n := range nodes {
		for j := range 2 {
			sinks = append(sinks, join(t, n, "r", "s"+strconv.Itoa(i)+strconv.Itoa(j), nil))
		}
	}
	const count = 200
	var want []string
	for i := range count {
		data := []byte(strconv.Itoa(i))
		want = append(want, "e "+string(data))
		nodes[0].sys.Root.Send(nodes[0].rooms, &rooms.Publish{Rooms: []string{"r"}, Broadcast: &rooms.Broadcast{Event: "e", Data: data}})
	}
	for _, s := range sinks {
		require.Eventually(t, func() bool { return len(s.events()) >= count }, 5*time.Second, time.Millisecond)
	}
	// The counted publish goes out after the others and comes back after
	// every node handled them: nothing more arrives after it.
	require.Equal(t, 6, publishCounted(t, nodes[0], "r", &rooms.Broadcast{Event: "end"}))
	want = append(want, "end ")
	for _, s := range sinks {
		require.Eventually(t, func() bool { return len(s.events()) == count+1 }, 5*time.Second, time.Millisecond)
		require.Equal(t, want, s.events())
	}
	require.EqualValues(t, 2*(count+1), f.sent["node0"].Load(), "one envelope per publish per other node")
	require.EqualValues(t, 1, f.sent["node1"].Load(), "a received publish is not sent on (only the count answer)")
	require.EqualValues(t, 1, f.sent["node2"].Load())
}

// The announcement of a join reaches the room's members on the other nodes
// too, and only them.
func TestJoinAnnouncementCrossesNodes(t *testing.T) {
	_, nodes := newFabric(t, 2, Config{})
	remote := join(t, nodes[1], "svc", "b1", nil)
	other := join(t, nodes[1], "elsewhere", "b2", nil)
	join(t, nodes[0], "svc", "a1", &rooms.Broadcast{Event: "queueUserJoined"})
	require.Eventually(t, func() bool { return len(remote.events()) == 1 }, 5*time.Second, time.Millisecond)
	require.Equal(t, []string{"queueUserJoined "}, remote.events())
	require.Empty(t, other.events())
}

// A counted publish answers the cluster total; a node that does not answer
// within GatherTimeout is left out of it, and the answer still comes.
func TestCountedPublishGathersEveryNode(t *testing.T) {
	f, nodes := newFabric(t, 3, Config{GatherTimeout: 200 * time.Millisecond})
	join(t, nodes[0], "r", "a", nil)
	join(t, nodes[1], "r", "b", nil)
	join(t, nodes[1], "r", "c", nil)
	join(t, nodes[2], "r", "d", nil)
	require.Equal(t, 4, publishCounted(t, nodes[0], "r", &rooms.Broadcast{Event: "x"}))
	require.Zero(t, publishCounted(t, nodes[2], "empty", &rooms.Broadcast{Event: "nobody"}), "a room nobody is in")

	f.mu.Lock()
	f.cut["node2"] = true
	f.mu.Unlock()
	start := time.Now()
	require.Equal(t, 3, publishCounted(t, nodes[0], "r", &rooms.Broadcast{Event: "y"}))
	require.GreaterOrEqual(t, time.Since(start), 200*time.Millisecond)
}

// Envelopes of an unknown version or kind, undecodable payloads and other
// message types are dropped and counted; the relay goes on working.
func TestUnknownEnvelopesAreDropped(t *testing.T) {
	_, nodes := newFabric(t, 2, Config{})
	s := join(t, nodes[1], "r", "b", nil)
	relay := actor.NewPID("nonhost", relayName)
	for _, m := range []any{
		&wire.Envelope{Version: 2, Kind: wire.Kind_KIND_BROADCAST},
		&wire.Envelope{Version: 1, Kind: wire.Kind(99)},
		&wire.Envelope{Version: 1, Kind: wire.Kind_KIND_BROADCAST, Payload: []byte{0xff, 0xff}},
		&wire.Count{GatherId: 1},
		"not even proto",
	} {
		nodes[1].sys.Root.Send(relay, m)
	}
	require.Eventually(t, func() bool { return nodes[1].bridge.Dropped() == 5 }, 5*time.Second, time.Millisecond)
	nodes[0].sys.Root.Send(nodes[0].rooms, &rooms.Publish{Rooms: []string{"r"}, Broadcast: &rooms.Broadcast{Event: "after"}})
	require.Eventually(t, func() bool { return len(s.events()) == 1 }, 5*time.Second, time.Millisecond)
}

// A broadcast larger than MaxMessageBytes stays on its node.
func TestOversizedBroadcastStaysLocal(t *testing.T) {
	f, nodes := newFabric(t, 2, Config{MaxMessageBytes: 1024})
	local := join(t, nodes[0], "r", "a", nil)
	join(t, nodes[1], "r", "b", nil)
	big := make([]byte, 2048)
	for i := range big {
		big[i] = 'a'
	}
	require.Equal(t, 1, publishCounted(t, nodes[0], "r", &rooms.Broadcast{Event: "big", Data: big}))
	require.Eventually(t, func() bool { return len(local.events()) == 1 }, 5*time.Second, time.Millisecond)
	require.Zero(t, f.sent["node0"].Load())
}
