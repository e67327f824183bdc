package cluster

import (
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"

	"github.com/queuecast/queuecast/actors/cluster/wire"
	"github.com/queuecast/queuecast/actors/rooms"
)

// dropLogInterval is the least time between two lines about dropped
// messages.
const dropLogInterval = 10 * time.Second

// Bridge is a node's side of the cluster for rooms: as the manager's
// rooms.Peers it sends every local publish once to each other live node,
// and its relay actor takes the other nodes' publishes to the manager.
type Bridge struct {
	sys        *actor.ActorSystem
	membership Membership
	relay      Relay
	cfg        Config
	self       string
	others     atomic.Pointer[[]string] // live members but this node
	members    atomic.Int64             // live members, this node included
	local      *actor.PID               // this node's relay actor
	gatherID   atomic.Uint64
	drops      *dropLog
	received   atomic.Int64 // envelopes from other nodes

	name             string
	tag              uint32
	table            atomic.Pointer[peerTable] // written by the relay actor only
	answer           Answerer                  // set before Start
	localConnections func() int64              // set before Start
	queues           atomic.Pointer[Queues]    // the queue front door other nodes' calls go to
}

// NewBridge returns a bridge that learns the members from membership and
// sends through relay. It relays nothing until Start.
func NewBridge(sys *actor.ActorSystem, membership Membership, relay Relay, cfg Config) *Bridge {
	cfg = cfg.withDefaults()
	b := &Bridge{sys: sys, membership: membership, relay: relay, cfg: cfg, self: membership.Self(),
		drops: newDropLog(cfg.Logger, dropLogInterval), name: cfg.NodeName, tag: newTag()}
	if b.name == "" {
		b.name = b.self
	}
	return b
}

// Serve makes this node answer other nodes' queries with answer and report
// connections() as its connection count. Call it before Start.
func (b *Bridge) Serve(answer Answerer, connections func() int64) {
	b.answer, b.localConnections = answer, connections
}

// Start spawns the relay actor, which hands other nodes' publishes to
// roomsPID, and begins following the member list.
func (b *Bridge) Start(roomsPID *actor.PID) error {
	pid, err := b.sys.Root.SpawnNamed(actor.PropsFromProducer(func() actor.Actor {
		return &relayActor{rooms: roomsPID, bridge: b, gathers: make(map[uint64]*gather),
			queries: make(map[uint64]*query), left: make(map[string]bool)}
	}), relayName)
	if err != nil {
		return err
	}
	b.local = pid
	b.membership.Watch(b.setMembers)
	return nil
}

func (b *Bridge) setMembers(members []string) {
	others := make([]string, 0, len(members))
	for _, m := range members {
		if m != b.self {
			others = append(others, m)
		}
	}
	b.others.Store(&others)
	b.members.Store(int64(len(others) + 1))
	if b.local != nil {
		b.sys.Root.Send(b.local, &membersChanged{members: members})
	}
}

// Members is the number of live members this node knows, itself included.
func (b *Bridge) Members() int { return int(b.members.Load()) }

// Dropped is the number of messages from other nodes this node dropped.
func (b *Bridge) Dropped() int64 { return b.drops.Total() }

// Received returns the envelopes this node's relay has taken from other
// nodes.
func (b *Bridge) Received() int64 { return b.received.Load() }

func (b *Bridge) peers() []string {
	if p := b.others.Load(); p != nil {
		return *p
	}
	return nil
}

// Publish implements rooms.Peers.
func (b *Bridge) Publish(p *rooms.Publish) {
	if others := b.peers(); len(others) > 0 {
		if env := b.envelope(p, 0); env != nil {
			for _, a := range others {
				b.relay.Send(a, env)
			}
		}
	}
}

// PublishCounted implements rooms.Peers: the nodes' counts are gathered by
// the relay actor, which answers p.Reply when every node has answered or
// GatherTimeout has passed, whichever is first; a node that has not
// answered by then is left out of the figure and named in a warning.
func (b *Bridge) PublishCounted(p *rooms.Publish, local int) {
	others := b.peers()
	if len(others) == 0 || b.local == nil {
		p.Reply <- local
		return
	}
	id := b.gatherID.Add(1)
	env := b.envelope(p, id)
	if env == nil {
		p.Reply <- local
		return
	}
	g := &gather{id: id, reply: p.Reply, total: local, waiting: make(map[string]struct{}, len(others))}
	for _, a := range others {
		g.waiting[a] = struct{}{}
	}
	// Registered first: the relay's mailbox has it before any answer.
	b.sys.Root.Send(b.local, g)
	for _, a := range others {
		b.relay.Send(a, env)
	}
}

// envelope encodes a publish once for every node; nil when it cannot go.
func (b *Bridge) envelope(p *rooms.Publish, gatherID uint64) *wire.Envelope {
	m := &wire.Broadcast{Rooms: p.Rooms, Except: p.Except, Event: p.Broadcast.Event, Data: p.Broadcast.Data, GatherId: gatherID}
	if gatherID != 0 {
		m.ReplyTo = b.self
	}
	payload, err := proto.Marshal(m)
	if err == nil && len(payload) > b.cfg.MaxMessageBytes {
		b.cfg.Logger.Error("cluster: broadcast too large for other nodes; delivered on this node only",
			slog.String("event", p.Broadcast.Event), slog.Int("bytes", len(payload)), slog.Int("max", b.cfg.MaxMessageBytes))
		return nil
	}
	if err != nil {
		b.cfg.Logger.Error("cluster: encode broadcast", slog.String("event", p.Broadcast.Event), slog.Any("err", err))
		return nil
	}
	return &wire.Envelope{Version: envelopeVersion, Kind: wire.Kind_KIND_BROADCAST, Payload: payload}
}
