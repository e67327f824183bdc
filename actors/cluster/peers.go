package cluster

import (
	"crypto/rand"
	"encoding/binary"
	"hash/fnv"
	"log/slog"
	"slices"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"

	"github.com/queuecast/queuecast/actors/cluster/wire"
)

// TagBits is the width of a node tag: it leaves 33 bits of a client id to
// the node's own sequence, under JavaScript's 2^53.
const TagBits = 20

// Peer is what this node knows of another live node from its last
// NodeInfo.
type Peer struct {
	Address     string // cluster address
	Name        string
	HTTP        string // host:port of its HTTP listener
	Tag         uint32
	Connections int64
}

// peerTable is an immutable snapshot of the peers, replaced whole by the
// relay actor, read by anyone.
type peerTable struct {
	byAddr map[string]Peer
	byTag  map[uint32]string // tag -> address
}

// newTag picks this node's tag: random, nonzero, TagBits wide. A node
// restarted on the same address takes a new tag, so ids of its former
// sessions name no live node.
func newTag() uint32 {
	var b [4]byte
	_, _ = rand.Read(b[:])
	t := binary.BigEndian.Uint32(b[:]) & (1<<TagBits - 1)
	if t == 0 {
		t = 1
	}
	return t
}

// Tag is this node's tag, the prefix of its session ids and the high bits
// of its client ids.
func (b *Bridge) Tag() uint32 { return b.tag }

// Name is this node's name.
func (b *Bridge) Name() string { return b.name }

// Peers returns the other live nodes that have told this node about
// themselves, ordered by name.
func (b *Bridge) Peers() []Peer {
	t := b.table.Load()
	if t == nil {
		return nil
	}
	out := make([]Peer, 0, len(t.byAddr))
	for _, p := range t.byAddr {
		out = append(out, p)
	}
	slices.SortFunc(out, func(x, y Peer) int {
		if x.Name < y.Name {
			return -1
		}
		if x.Name > y.Name {
			return 1
		}
		return 0
	})
	return out
}

// Owner returns the HTTP address of the live node whose tag is tag; false
// when no live node has it (its owner is gone or not yet heard of).
func (b *Bridge) Owner(tag uint32) (string, bool) {
	t := b.table.Load()
	if t == nil {
		return "", false
	}
	addr, ok := t.byTag[tag]
	if !ok {
		return "", false
	}
	p := t.byAddr[addr]
	return p.HTTP, p.HTTP != ""
}

// Connected returns the cluster's connected sockets: local, this node's
// own count now, plus each other node's count from its last heartbeat
// (at most Config.Heartbeat old).
func (b *Bridge) Connected(local int64) int64 {
	t := b.table.Load()
	if t == nil {
		return local
	}
	for _, p := range t.byAddr {
		local += p.Connections
	}
	return local
}

// Leader reports whether this node is the one of the live members that
// does the cluster-wide job named key: the member with the lowest
// rendezvous hash of key, computed alike on every node from the member
// list, so exactly one node does it once membership has settled.
func (b *Bridge) Leader(key string) bool {
	best, bestHash := b.self, rendezvous(key, b.self)
	for _, m := range b.peers() {
		if h := rendezvous(key, m); h < bestHash || (h == bestHash && m < best) {
			best, bestHash = m, h
		}
	}
	return best == b.self
}

func rendezvous(key, member string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(key))
	_, _ = h.Write([]byte{0})
	_, _ = h.Write([]byte(member))
	return h.Sum64()
}

// membersChanged tells the relay actor the live members, this node
// included.
type membersChanged struct{ members []string }

// heartbeat makes the relay actor send this node's NodeInfo to the others.
type heartbeat struct{}

// info is this node's NodeInfo now.
func (b *Bridge) info() *wire.Envelope {
	var conns int64
	if b.localConnections != nil {
		conns = b.localConnections()
	}
	payload, err := proto.Marshal(&wire.NodeInfo{Node: b.self, Name: b.name, Http: b.cfg.HTTPAddress, Tag: b.tag, Connections: conns})
	if err != nil {
		b.cfg.Logger.Error("cluster: encode node info", slog.Any("err", err))
		return nil
	}
	return &wire.Envelope{Version: envelopeVersion, Kind: wire.Kind_KIND_NODE_INFO, Payload: payload}
}

// sendInfo sends this node's NodeInfo to each of to.
func (b *Bridge) sendInfo(to []string) {
	if len(to) == 0 {
		return
	}
	if env := b.info(); env != nil {
		for _, a := range to {
			b.relay.Send(a, env)
		}
	}
}

// startHeartbeat sends heartbeat to the relay actor every Config.Heartbeat
// until stop is closed.
func startHeartbeat(sys *actor.ActorSystem, self *actor.PID, every time.Duration, stop <-chan struct{}) {
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				sys.Root.Send(self, &heartbeat{})
			case <-stop:
				return
			}
		}
	}()
}

// members forgets the peers that left and greets the ones that joined.
func (r *relayActor) members(m *membersChanged) {
	live := make(map[string]bool, len(m.members))
	for _, a := range m.members {
		live[a] = true
	}
	t := r.peerTable()
	var joined []string
	for _, a := range m.members {
		if _, known := t.byAddr[a]; !known && a != r.bridge.self {
			joined = append(joined, a)
		}
	}
	next := &peerTable{byAddr: map[string]Peer{}, byTag: map[uint32]string{}}
	for a, p := range t.byAddr {
		if live[a] {
			next.byAddr[a], next.byTag[p.Tag] = p, a
		} else {
			r.left[a] = true
		}
	}
	for a := range live {
		delete(r.left, a)
	}
	r.bridge.table.Store(next)
	r.bridge.sendInfo(joined)
}

// nodeInfo records a peer's NodeInfo. A node not yet in the member list is
// recorded too (the library's list and the first heartbeat race), but not
// one that has left: a heartbeat still in flight must not bring it back.
func (r *relayActor) nodeInfo(m *wire.NodeInfo) {
	if m.Node == "" || m.Node == r.bridge.self || r.left[m.Node] {
		return
	}
	t := r.peerTable()
	old, known := t.byAddr[m.Node]
	p := Peer{Address: m.Node, Name: m.Name, HTTP: m.Http, Tag: m.Tag, Connections: m.Connections}
	if known && old == p {
		return
	}
	if m.Tag == r.bridge.tag || (t.byTag[m.Tag] != "" && t.byTag[m.Tag] != m.Node) {
		r.bridge.cfg.Logger.Error("cluster: two nodes have the same tag; session forwarding and client ids are ambiguous until one restarts",
			slog.String("node", m.Node), slog.Uint64("tag", uint64(m.Tag)))
	}
	next := &peerTable{byAddr: make(map[string]Peer, len(t.byAddr)+1), byTag: make(map[uint32]string, len(t.byTag)+1)}
	for a, q := range t.byAddr {
		if a != m.Node {
			next.byAddr[a], next.byTag[q.Tag] = q, a
		}
	}
	next.byAddr[m.Node], next.byTag[m.Tag] = p, m.Node
	r.bridge.table.Store(next)
	if !known {
		r.bridge.sendInfo([]string{m.Node}) // so a newcomer hears of us at once
	}
}

func (r *relayActor) peerTable() *peerTable {
	if t := r.bridge.table.Load(); t != nil {
		return t
	}
	return &peerTable{byAddr: map[string]Peer{}, byTag: map[uint32]string{}}
}
