package cluster

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"

	"github.com/queuecast/queuecast/actors/cluster/wire"
	"github.com/queuecast/queuecast/actors/rooms"
)

// relayActor receives the envelopes other nodes send this one: their
// publishes go to this node's room manager, marked Forwarded, and recipient
// counts go to the gather they answer. It keeps no state that a restart
// would need: a gather lost with it answers nobody, and its caller's own
// deadline answers instead.
type relayActor struct {
	rooms   *actor.PID
	bridge  *Bridge
	gathers map[uint64]*gather
	queries map[uint64]*query
	left    map[string]bool // addresses that left, until they rejoin
	stop    chan struct{}   // ends the heartbeat
}

func (r *relayActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		r.stop = make(chan struct{})
		startHeartbeat(ctx.ActorSystem(), ctx.Self(), r.bridge.cfg.Heartbeat, r.stop)
	case *actor.Stopping, *actor.Restarting:
		if r.stop != nil {
			close(r.stop)
			r.stop = nil
		}
	case *actor.Stopped:
	case *heartbeat:
		r.bridge.sendInfo(r.bridge.peers())
	case *membersChanged:
		r.members(m)
	case *query:
		r.startQuery(m)
	case *queryExpired:
		r.expireQuery(m)
	case *wire.Envelope:
		r.receive(ctx, m)
	case *gather:
		r.startGather(ctx, m)
	case *gatherExpired:
		r.expire(m)
	default:
		r.bridge.drops.drop("not an envelope", slog.String("type", fmt.Sprintf("%T", m)))
	}
}

func (r *relayActor) receive(ctx actor.Context, env *wire.Envelope) {
	r.bridge.received.Add(1)
	if env.Version != envelopeVersion {
		r.bridge.drops.drop("unknown envelope version", slog.Uint64("version", uint64(env.Version)), slog.Int("kind", int(env.Kind)))
		return
	}
	switch env.Kind {
	case wire.Kind_KIND_BROADCAST:
		var m wire.Broadcast
		if err := proto.Unmarshal(env.Payload, &m); err != nil {
			r.bridge.drops.drop("undecodable broadcast", slog.Any("err", err))
			return
		}
		r.broadcast(ctx, &m)
	case wire.Kind_KIND_COUNT:
		var m wire.Count
		if err := proto.Unmarshal(env.Payload, &m); err != nil {
			r.bridge.drops.drop("undecodable count", slog.Any("err", err))
			return
		}
		r.count(&m)
	case wire.Kind_KIND_NODE_INFO:
		var m wire.NodeInfo
		if err := proto.Unmarshal(env.Payload, &m); err != nil {
			r.bridge.drops.drop("undecodable node info", slog.Any("err", err))
			return
		}
		r.nodeInfo(&m)
	case wire.Kind_KIND_QUERY:
		var m wire.Query
		if err := proto.Unmarshal(env.Payload, &m); err != nil {
			r.bridge.drops.drop("undecodable query", slog.Any("err", err))
			return
		}
		r.answerQuery(&m)
	case wire.Kind_KIND_ANSWER:
		var m wire.Answer
		if err := proto.Unmarshal(env.Payload, &m); err != nil {
			r.bridge.drops.drop("undecodable answer", slog.Any("err", err))
			return
		}
		r.takeAnswer(&m)
	case wire.Kind_KIND_QUEUE_CALL:
		var m wire.QueueCall
		q := r.bridge.queues.Load()
		if err := proto.Unmarshal(env.Payload, &m); err != nil || q == nil {
			r.bridge.drops.drop("undecodable queue call, or no queue front door", slog.Any("err", err))
			return
		}
		go q.serve(&m)
	case wire.Kind_KIND_QUEUE_REPLY:
		var m wire.QueueReply
		q := r.bridge.queues.Load()
		if err := proto.Unmarshal(env.Payload, &m); err != nil || q == nil {
			r.bridge.drops.drop("undecodable queue reply, or no queue front door", slog.Any("err", err))
			return
		}
		q.reply(&m)
	default:
		r.bridge.drops.drop("unknown envelope kind", slog.Int("kind", int(env.Kind)))
	}
}

// broadcast delivers another node's publish here. The room manager answers
// a counted one at once (the count is taken when the publish is handled),
// so the goroutine that carries the answer back lives as long as one
// manager turn; admin broadcasts are the only counted publishes.
func (r *relayActor) broadcast(ctx actor.Context, m *wire.Broadcast) {
	b := &rooms.Broadcast{Event: m.Event}
	if len(m.Data) > 0 {
		b.Data = m.Data
	}
	p := &rooms.Publish{Rooms: m.Rooms, Except: m.Except, Broadcast: b, Forwarded: true}
	if m.GatherId != 0 && m.ReplyTo != "" {
		ch := make(chan int, 1)
		p.Reply = ch
		id, to, bridge := m.GatherId, m.ReplyTo, r.bridge
		go func() {
			t := time.NewTimer(bridge.cfg.GatherTimeout)
			defer t.Stop()
			select {
			case n := <-ch:
				bridge.sendCount(to, id, n)
			case <-t.C:
			}
		}()
	}
	ctx.Send(r.rooms, p)
}

func (r *relayActor) startGather(ctx actor.Context, g *gather) {
	g.started = time.Now()
	r.gathers[g.id] = g
	sys, self, id := ctx.ActorSystem(), ctx.Self(), g.id
	time.AfterFunc(r.bridge.cfg.GatherTimeout, func() { sys.Root.Send(self, &gatherExpired{id: id}) })
}

func (r *relayActor) count(m *wire.Count) {
	g, ok := r.gathers[m.GatherId]
	if !ok {
		return // answered after the deadline; the figure has gone out
	}
	if _, waiting := g.waiting[m.Node]; !waiting {
		return
	}
	delete(g.waiting, m.Node)
	g.total += int(m.Recipients)
	if len(g.waiting) == 0 {
		delete(r.gathers, g.id)
		g.reply <- g.total
	}
}

func (r *relayActor) expire(m *gatherExpired) {
	g, ok := r.gathers[m.id]
	if !ok {
		return
	}
	delete(r.gathers, g.id)
	missing := unanswered(g.waiting)
	r.bridge.cfg.Logger.Warn("cluster: nodes did not answer a broadcast's recipient count in time; recipients counts the others",
		slog.Any("nodes", missing), slog.Duration("timeout", r.bridge.cfg.GatherTimeout), slog.Int("recipients", g.total))
	g.reply <- g.total
}

// sendCount answers a counted broadcast from another node.
func (b *Bridge) sendCount(to string, id uint64, n int) {
	payload, err := proto.Marshal(&wire.Count{GatherId: id, Recipients: int64(n), Node: b.self})
	if err != nil {
		b.cfg.Logger.Error("cluster: encode count", slog.Any("err", err))
		return
	}
	b.relay.Send(to, &wire.Envelope{Version: envelopeVersion, Kind: wire.Kind_KIND_COUNT, Payload: payload})
}
