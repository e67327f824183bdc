package rooms

import (
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// Manager is the parent of every room on this node. Joins, leaves and
// publishes all pass through it, so it creates a room on its first join,
// stops it after its last leave, and knows every room's size without asking.
type Manager struct {
	rooms    map[string]*roomRef
	names    map[string]string // room name by PID id, until its Terminated
	log      *slog.Logger
	counters *Counters
	peers    Peers // nil on a single node
}

// Counters are the manager's running totals, safe to read from any
// goroutine.
type Counters struct {
	Published atomic.Int64 // broadcasts published
	Addressed atomic.Int64 // sockets addressed by those broadcasts
}

type roomRef struct {
	pid  *actor.PID
	size int
}

// NewManagerProps returns the props of a room manager. Rooms it spawns are
// restarted on failure, OneForOne, up to 10 times a minute each; a
// restarted room keeps its members (see room). A room that fails more often
// is stopped: the manager then forgets it and logs, at error level, how
// many memberships went with it.
func NewManagerProps(log *slog.Logger, counters *Counters) *actor.Props {
	return NewClusterManagerProps(log, counters, nil)
}

// NewClusterManagerProps is NewManagerProps for a node of a cluster: every
// publish made on this node, and every join announcement, also goes to
// peers. A nil peers is a single node.
func NewClusterManagerProps(log *slog.Logger, counters *Counters, peers Peers) *actor.Props {
	if log == nil {
		log = slog.Default()
	}
	if counters == nil {
		counters = &Counters{}
	}
	return actor.PropsFromProducer(func() actor.Actor {
		return &Manager{rooms: make(map[string]*roomRef), names: make(map[string]string), log: log, counters: counters, peers: peers}
	},
		actor.WithSupervisor(actor.NewOneForOneStrategy(10, time.Minute, actor.DefaultDecider)),
		// A restart would stop every room with the manager, and every
		// membership of the node with them; a message that makes the
		// manager panic is dropped instead, and the manager goes on with
		// its rooms (the guardian applies when spawned from the root).
		actor.WithGuardian(actor.NewOneForOneStrategy(10, time.Minute, resume)))
}

func resume(any) actor.Directive { return actor.ResumeDirective }

func (m *Manager) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started, *actor.Stopping, *actor.Stopped:
	case *actor.Restarting:
		m.restarting()
	case *actor.Terminated:
		m.terminated(msg)
	case *Join:
		m.join(ctx, msg)
	case *Leave:
		m.leave(ctx, msg)
	case *LeaveAll:
		m.leaveAll(ctx, msg)
	case *Publish:
		m.publish(ctx, msg)
	case *deliver:
		m.forward(ctx, msg)
	case *GetStats:
		m.stats(msg)
	case *Fail:
		if ref, ok := m.rooms[msg.Room]; ok {
			ctx.Send(ref.pid, msg)
		}
	case *FailManager:
		panic("rooms: manager failure injected by a test")
	default:
		m.log.Warn("room manager: unknown message", slog.String("type", fmt.Sprintf("%T", msg)))
	}
}

func (m *Manager) join(ctx actor.Context, msg *Join) {
	ref, ok := m.rooms[msg.Room]
	if !ok {
		// One *room for every incarnation: the membership outlives a restart.
		r := newRoom(msg.Room, m.log)
		pid := ctx.Spawn(actor.PropsFromProducer(func() actor.Actor { return r }))
		ref = &roomRef{pid: pid}
		m.rooms[msg.Room] = ref
		m.names[pid.Id] = msg.Room
	}
	ref.size++
	ctx.Send(ref.pid, msg)
	if m.peers != nil && msg.Announce != nil {
		// The other nodes' members of the room hear the announcement too;
		// the joining socket is not one of them.
		m.peers.Publish(&Publish{Rooms: []string{msg.Room}, Broadcast: msg.Announce})
	}
}

func (m *Manager) leave(ctx actor.Context, msg *Leave) {
	ref, ok := m.rooms[msg.Room]
	if !ok {
		if msg.ReplyTo != nil {
			ctx.Send(msg.ReplyTo, &Left{Room: msg.Room, SocketID: msg.SocketID, Ref: msg.Ref})
		}
		return
	}
	ctx.Send(ref.pid, msg)
	m.shrink(ctx, msg.Room, ref)
}

func (m *Manager) leaveAll(ctx actor.Context, msg *LeaveAll) {
	for _, name := range msg.Rooms {
		if ref, ok := m.rooms[name]; ok {
			ctx.Send(ref.pid, &Leave{Room: name, SocketID: msg.SocketID})
			m.shrink(ctx, name, ref)
		}
	}
}

// shrink counts one member out and stops the room when it is empty. The
// stop is queued behind the leave, so the room handles that first.
func (m *Manager) shrink(ctx actor.Context, name string, ref *roomRef) {
	ref.size--
	if ref.size <= 0 {
		delete(m.rooms, name)
		ctx.Poison(ref.pid)
	}
}

// restarting reports what a restart of the manager itself loses: protoactor
// stops a restarting actor's children, so every room stops with it.
func (m *Manager) restarting() {
	members := 0
	for _, ref := range m.rooms {
		members += ref.size
	}
	m.log.Error("room manager restarting; its rooms stop with it and their members must join again",
		slog.Int("rooms", len(m.rooms)), slog.Int("members", members))
}

// terminated forgets a room its supervisor stopped after too many failures.
// A room stopped because it emptied is already forgotten.
func (m *Manager) terminated(msg *actor.Terminated) {
	name, ok := m.names[msg.Who.Id]
	if !ok {
		return
	}
	delete(m.names, msg.Who.Id)
	if ref, live := m.rooms[name]; live && ref.pid.Equal(msg.Who) {
		delete(m.rooms, name)
		m.log.Error("room stopped after repeated failures; its members must join again",
			slog.String("room", name), slog.Int("members", ref.size))
	}
}

func (m *Manager) publish(ctx actor.Context, msg *Publish) {
	recipients := 0
	var names []string
	for _, name := range msg.Rooms {
		if ref, ok := m.rooms[name]; ok {
			names = append(names, name)
			recipients += ref.size
		}
	}
	m.counters.Published.Add(1)
	m.counters.Addressed.Add(int64(recipients))
	switch {
	case m.peers != nil && !msg.Forwarded && msg.Reply != nil:
		m.peers.PublishCounted(msg, recipients)
	case m.peers != nil && !msg.Forwarded:
		m.peers.Publish(msg)
	case msg.Reply != nil:
		msg.Reply <- recipients
	}
	if len(names) == 0 {
		return
	}
	d := &deliver{broadcast: msg.Broadcast, except: msg.Except, next: names}
	if len(names) > 1 {
		d.seen = make(map[string]struct{}, recipients)
	}
	m.forward(ctx, d)
}

// forward passes a delivery to the next of its rooms that still exists.
func (m *Manager) forward(ctx actor.Context, d *deliver) {
	for len(d.next) > 0 {
		name := d.next[0]
		d.next = d.next[1:]
		if ref, ok := m.rooms[name]; ok {
			ctx.Send(ref.pid, d)
			return
		}
	}
}

func (m *Manager) stats(msg *GetStats) {
	s := Stats{Rooms: len(m.rooms), Sizes: make(map[string]int, len(m.rooms))}
	for name, ref := range m.rooms {
		s.Members += ref.size
		s.Sizes[name] = ref.size
	}
	msg.Reply <- s
}
