package cluster

import (
	"log/slog"
	"slices"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/queuecast/queuecast/actors/cluster/wire"
)

// Query names, the parts of a cluster-wide answer a node is asked for.
const (
	QueryClients = "clients" // every client record of the node
	QueryClient  = "client"  // one socket's record, if it is on the node
	QueryStats   = "stats"   // the node's figures for loadBalancingMetrics
)

// Answerer answers a query for this node, in JSON; nil means nothing to
// add. It runs in a goroutine of its own and must return within the
// query's timeout to count.
type Answerer func(what, socketID string) []byte

// Answers is a cluster-wide answer: the other nodes' parts, by node name,
// and the names of the nodes that did not answer in time.
type Answers struct {
	Parts   map[string][]byte
	Missing []string
}

// query is a scatter-gather in progress, owned by the relay actor.
type query struct {
	id      uint64
	reply   chan<- Answers
	parts   map[string][]byte
	waiting map[string]struct{} // addresses not yet answered
}

// queryExpired ends a query whose nodes did not all answer in time.
type queryExpired struct{ id uint64 }

// Query asks every other live node for its part of what and waits at most
// timeout (zero: Config.GatherTimeout) for the answers; a node that does
// not answer in time is named in Missing, never an error. With no other
// node it returns at once.
func (b *Bridge) Query(what, socketID string, timeout time.Duration) Answers {
	if timeout <= 0 {
		timeout = b.cfg.GatherTimeout
	}
	others := b.peers()
	if len(others) == 0 || b.local == nil {
		return Answers{Parts: map[string][]byte{}}
	}
	id := b.gatherID.Add(1)
	payload, err := proto.Marshal(&wire.Query{GatherId: id, ReplyTo: b.self, What: what, SocketId: socketID})
	if err != nil {
		b.cfg.Logger.Error("cluster: encode query", slog.Any("err", err))
		return Answers{Parts: map[string][]byte{}, Missing: b.names(others)}
	}
	ch := make(chan Answers, 1)
	q := &query{id: id, reply: ch, parts: map[string][]byte{}, waiting: make(map[string]struct{}, len(others))}
	for _, a := range others {
		q.waiting[a] = struct{}{}
	}
	b.sys.Root.Send(b.local, q)
	env := &wire.Envelope{Version: envelopeVersion, Kind: wire.Kind_KIND_QUERY, Payload: payload}
	for _, a := range others {
		b.relay.Send(a, env)
	}
	sys, self := b.sys, b.local
	t := time.AfterFunc(timeout, func() { sys.Root.Send(self, &queryExpired{id: id}) })
	defer t.Stop()
	return <-ch
}

// names returns the names of the nodes at addresses, by what they told
// this node, or their addresses.
func (b *Bridge) names(addresses []string) []string {
	t := b.table.Load()
	out := make([]string, 0, len(addresses))
	for _, a := range addresses {
		name := a
		if t != nil {
			if p, ok := t.byAddr[a]; ok && p.Name != "" {
				name = p.Name
			}
		}
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

func (r *relayActor) startQuery(q *query) { r.queries[q.id] = q }

// answerQuery runs the node's Answerer off the actor and sends its part
// back.
func (r *relayActor) answerQuery(m *wire.Query) {
	b := r.bridge
	if m.ReplyTo == "" || b.answer == nil {
		return
	}
	go func() {
		payload, err := proto.Marshal(&wire.Answer{GatherId: m.GatherId, Node: b.self, Data: b.answer(m.What, m.SocketId)})
		if err != nil {
			b.cfg.Logger.Error("cluster: encode answer", slog.Any("err", err))
			return
		}
		b.relay.Send(m.ReplyTo, &wire.Envelope{Version: envelopeVersion, Kind: wire.Kind_KIND_ANSWER, Payload: payload})
	}()
}

func (r *relayActor) takeAnswer(m *wire.Answer) {
	q, ok := r.queries[m.GatherId]
	if !ok {
		return // after the deadline: the node is already named missing
	}
	if _, waiting := q.waiting[m.Node]; !waiting {
		return
	}
	delete(q.waiting, m.Node)
	if len(m.Data) > 0 {
		q.parts[r.bridge.names([]string{m.Node})[0]] = m.Data
	}
	if len(q.waiting) == 0 {
		delete(r.queries, q.id)
		q.reply <- Answers{Parts: q.parts}
	}
}

func (r *relayActor) expireQuery(m *queryExpired) {
	q, ok := r.queries[m.id]
	if !ok {
		return
	}
	delete(r.queries, q.id)
	q.reply <- Answers{Parts: q.parts, Missing: r.bridge.names(unanswered(q.waiting))}
}

// unanswered lists, sorted, the addresses of a scatter-gather that have not
// answered.
func unanswered(waiting map[string]struct{}) []string {
	out := make([]string, 0, len(waiting))
	for a := range waiting {
		out = append(out, a)
	}
	slices.Sort(out)
	return out
}
