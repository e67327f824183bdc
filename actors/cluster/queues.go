package cluster

import (
	"context"
	"errors"
	"hash/fnv"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/queuecast/queuecast/actors/ask"
	"github.com/queuecast/queuecast/actors/cluster/wire"
	"github.com/queuecast/queuecast/actors/queue"
	"github.com/queuecast/queuecast/persistence"
)

const (
	// retryPause is the wait before asking again while no node holds the
	// queue actors yet (a new owner loading, the members not agreed).
	retryPause = 20 * time.Millisecond
	// catalogTimeout bounds an existence check asked of the owner (a
	// socket's join): it never waits a whole request's time.
	catalogTimeout = 2 * time.Second
	// replySlack is how long past the owner's own bound (the caller's
	// deadline plus ask.Grace) a caller waits for a reply in flight.
	replySlack = time.Second
)

// Queues is the queue domain's front door on a node of a cluster. The whole
// domain (registry, service and counter actors, day rollover) runs on one
// node, the owner, chosen by rendezvous hashing over the live members, so
// every node computes the same owner from its member list without asking
// anyone. The owner serves its own callers directly; other nodes send it
// each call as a QueueCall envelope with the caller's deadline, and it
// answers with a QueueReply. The owner Begins the work (ask.Request) only
// with time left before that deadline, so a failure answer still means
// nothing was done. A node that becomes the owner loads the domain from the
// database; one that stops being the owner stops its queue actors. While two
// copies briefly overlap, the database keeps guarding numbering and
// exclusive serving. Every read goes to the owner too, so every node gives
// the same answers.
//
// A call whose owner leaves before it answered has an unknown outcome: a
// read, and a ticket creation or call-next carrying an Idempotency-Key, is
// asked again of the next owner (the key makes the retry return the first
// attempt's result); anything else answers queue.ErrUnanswered.
//
// Safe for concurrent use. Its state: the owner and members (atomics
// written by the membership watcher), the calls waiting for a reply (a
// mutex-guarded map), and this node's queue actors while it owns them,
// started and stopped by one goroutine.
type Queues struct {
	cfg     queue.Config
	self    string
	relay   Relay
	log     *slog.Logger
	timeout time.Duration

	owner   atomic.Pointer[string]
	members atomic.Pointer[map[string]bool]
	local   atomic.Pointer[queue.Queues]
	nextID  atomic.Uint64
	known   sync.Map // service names ("s:") and counter ids ("c:") seen to exist; none is ever deleted

	mu      sync.Mutex
	pending map[uint64]*pendingCall

	changed  chan struct{}
	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
}

type pendingCall struct {
	to    string
	reply chan *wire.QueueReply // nil reply: the owner was lost
}

// NewQueues returns the front door; it owns nothing until Start.
// cfg.System and cfg.Store are required, as for queue.Start.
func NewQueues(cfg queue.Config, membership Membership, relay Relay) *Queues {
	q := &Queues{cfg: cfg, self: membership.Self(), relay: relay, log: cfg.Logger, timeout: cfg.RequestTimeout,
		pending: make(map[uint64]*pendingCall), changed: make(chan struct{}, 1),
		stop: make(chan struct{}), done: make(chan struct{})}
	if q.log == nil {
		q.log = slog.Default()
	}
	if q.timeout <= 0 {
		q.timeout = 10 * time.Second
	}
	empty := ""
	q.owner.Store(&empty)
	q.members.Store(&map[string]bool{})
	return q
}

// Start follows the member list: from now on this node loads the queue
// actors whenever it is the owner. The bridge's relay hands the calls and
// replies of other nodes to q.
func (q *Queues) Start(membership Membership, b *Bridge) {
	b.queues.Store(q)
	go q.run()
	membership.Watch(q.setMembers)
}

// Owner is the address of the node that should hold the queue actors; ""
// before the first member list.
func (q *Queues) Owner() string { return *q.owner.Load() }

// Holding reports whether this node holds loaded queue actors.
func (q *Queues) Holding() bool { return q.local.Load() != nil }

// ownerOf picks the member with the highest FNV-1a hash of its address: a
// member leaving moves the domain only if it was the owner.
func ownerOf(members []string) string {
	var best string
	var bestH uint64
	for _, m := range members {
		h := fnv.New64a()
		_, _ = h.Write([]byte("queues@" + m))
		if v := h.Sum64(); best == "" || v > bestH || v == bestH && m < best {
			best, bestH = m, v
		}
	}
	return best
}

func (q *Queues) setMembers(members []string) {
	set := make(map[string]bool, len(members))
	for _, m := range members {
		set[m] = true
	}
	owner := ownerOf(members)
	if prev := q.Owner(); prev != owner {
		q.log.Info("cluster: queue owner", slog.String("owner", owner), slog.String("previous", prev))
	}
	q.owner.Store(&owner)
	q.members.Store(&set)
	q.mu.Lock()
	for id, p := range q.pending {
		if !set[p.to] {
			delete(q.pending, id)
			p.reply <- nil
		}
	}
	q.mu.Unlock()
	select {
	case q.changed <- struct{}{}:
	default:
	}
}

// run starts and stops this node's queue actors as ownership moves.
func (q *Queues) run() {
	defer close(q.done)
	var retry <-chan time.Time
	for {
		select {
		case <-q.stop:
			q.release()
			return
		case <-q.changed:
		case <-retry:
		}
		retry = nil
		owner := q.Owner()
		switch {
		case owner == q.self && q.local.Load() == nil:
			began := time.Now()
			l, err := queue.Start(q.cfg)
			if err != nil {
				q.log.Error("cluster: this node owns the queues but could not load them; trying again", slog.Any("err", err))
				retry = time.After(time.Second)
				continue
			}
			q.local.Store(l)
			q.log.Info("cluster: this node holds the queue actors", slog.Duration("load", time.Since(began)))
			select {
			case q.changed <- struct{}{}: // ownership may have moved while loading
			default:
			}
		case owner != q.self:
			q.release()
		}
	}
}

func (q *Queues) release() {
	if l := q.local.Swap(nil); l != nil {
		if err := l.Stop(); err != nil {
			q.log.Warn("cluster: stop queue actors", slog.Any("err", err))
		}
		q.log.Info("cluster: this node no longer holds the queue actors")
	}
}

// Stop stops this node's queue actors, if it holds them, and stops
// following ownership.
func (q *Queues) Stop() error {
	q.stopOnce.Do(func() { close(q.stop) })
	<-q.done
	return nil
}

// call runs method on the owner until ctx's deadline (or the request
// timeout): directly when this node holds the queue actors, otherwise as a
// QueueCall. While no node answers as the owner it asks again.
func (q *Queues) call(ctx context.Context, method string, a *callArgs) (*callResult, error) {
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(q.timeout)
	}
	retryable := readOnly[method] ||
		(method == mCreateTicket || method == mCallNext) && a.By.Request.Key != ""
	for {
		owner := q.Owner()
		if l := q.local.Load(); l != nil && owner == q.self {
			c, cancel := context.WithDeadline(ctx, deadline)
			r, err := serveLocal(c, l, method, a)
			cancel()
			return r, err
		}
		var r *callResult
		err := errNotOwner
		if owner != "" && owner != q.self {
			r, err = q.remote(owner, deadline, method, a)
		}
		switch {
		case err == nil:
			return r, nil
		case errors.Is(err, errNotOwner):
		case errors.Is(err, queue.ErrUnanswered) && retryable:
		default:
			return r, err
		}
		if time.Until(deadline) < ask.Margin+retryPause {
			if errors.Is(err, queue.ErrUnanswered) {
				return nil, err
			}
			return nil, queue.ErrTimeout // no owner answered: nothing was done
		}
		time.Sleep(retryPause)
	}
}

func (q *Queues) remote(owner string, deadline time.Time, method string, a *callArgs) (*callResult, error) {
	args, err := encodeGob(a)
	if err != nil {
		return nil, err
	}
	id := q.nextID.Add(1)
	payload, err := proto.Marshal(&wire.QueueCall{Id: id, ReplyTo: q.self, DeadlineUnixNano: deadline.UnixNano(), Method: method, Args: args})
	if err != nil {
		return nil, err
	}
	p := &pendingCall{to: owner, reply: make(chan *wire.QueueReply, 1)}
	q.mu.Lock()
	if !(*q.members.Load())[owner] {
		q.mu.Unlock()
		return nil, errNotOwner
	}
	q.pending[id] = p
	q.mu.Unlock()
	q.relay.Send(owner, &wire.Envelope{Version: envelopeVersion, Kind: wire.Kind_KIND_QUEUE_CALL, Payload: payload})
	t := time.NewTimer(time.Until(deadline) + ask.Grace + replySlack)
	defer t.Stop()
	var rep *wire.QueueReply
	select {
	case rep = <-p.reply:
	case <-t.C:
		q.mu.Lock()
		delete(q.pending, id)
		q.mu.Unlock()
	}
	if rep == nil {
		return nil, queue.ErrUnanswered
	}
	if rep.ErrorCode != "" {
		return nil, decodeError(rep.ErrorCode, rep.ErrorMessage)
	}
	var r callResult
	if err := decodeGob(rep.Result, &r); err != nil {
		return nil, queue.ErrUnanswered // done on the owner, answer unreadable
	}
	return &r, nil
}

// reply is a QueueReply from the owner, handed over by the relay actor.
func (q *Queues) reply(m *wire.QueueReply) {
	q.mu.Lock()
	p, ok := q.pending[m.Id]
	delete(q.pending, m.Id)
	q.mu.Unlock()
	if ok {
		p.reply <- m
	}
}

// serve answers another node's QueueCall, in a goroutine of its own (the
// relay actor never waits on the queue actors).
func (q *Queues) serve(m *wire.QueueCall) {
	rep := &wire.QueueReply{Id: m.Id}
	l := q.local.Load()
	if l == nil || q.Owner() != q.self {
		rep.ErrorCode, rep.ErrorMessage = codeNotOwner, errNotOwner.Error()
	} else {
		var a callArgs
		if err := decodeGob(m.Args, &a); err != nil {
			rep.ErrorCode, rep.ErrorMessage = errorCode(persistence.ErrInvalid), "undecodable queue call"
		} else {
			ctx, cancel := context.WithDeadline(context.Background(), time.Unix(0, m.DeadlineUnixNano))
			r, err := serveLocal(ctx, l, m.Method, &a)
			cancel()
			if err == nil {
				rep.Result, err = encodeGob(r)
			}
			if err != nil {
				rep.ErrorCode, rep.ErrorMessage = errorCode(err), err.Error()
			}
		}
	}
	payload, err := proto.Marshal(rep)
	if err != nil {
		q.log.Error("cluster: encode queue reply", slog.Any("err", err))
		return
	}
	q.relay.Send(m.ReplyTo, &wire.Envelope{Version: envelopeVersion, Kind: wire.Kind_KIND_QUEUE_REPLY, Payload: payload})
}

func (q *Queues) exists(key, method string, a *callArgs) bool {
	if _, ok := q.known.Load(key); ok {
		return true
	}
	ctx, cancel := context.WithTimeout(context.Background(), catalogTimeout)
	defer cancel()
	r, err := q.call(ctx, method, a)
	if err != nil || !r.Bool {
		return false
	}
	q.known.Store(key, struct{}{})
	return true
}

// ServiceExists reports whether a service has that name; a name seen once
// is answered locally from then on (services are never deleted).
func (q *Queues) ServiceExists(name string) bool {
	return q.exists("s:"+name, mServiceExists, &callArgs{Name: name})
}

// CounterExists reports whether a counter has that id.
func (q *Queues) CounterExists(id string) bool {
	return q.exists("c:"+id, mCounterExists, &callArgs{Counter: id})
}

// read runs a read on the owner within the request timeout; on failure it
// logs and returns nil (the reads of queue.Queues cannot fail on a single
// node).
func (q *Queues) read(method string, a *callArgs) *callResult {
	ctx, cancel := context.WithTimeout(context.Background(), q.timeout)
	defer cancel()
	r, err := q.call(ctx, method, a)
	if err != nil {
		q.log.Warn("cluster: queue read not answered", slog.String("method", method), slog.Any("err", err))
		return &callResult{}
	}
	return r
}

// Services returns every service, ordered by name.
func (q *Queues) Services() []persistence.Service {
	if s := q.read(mServices, &callArgs{}).Services; s != nil {
		return s
	}
	return []persistence.Service{}
}

// CounterList returns every counter, ordered by name.
func (q *Queues) CounterList() []persistence.Counter {
	if c := q.read(mCounterList, &callArgs{}).Counters; c != nil {
		return c
	}
	return []persistence.Counter{}
}

// States returns every service's live figures, ordered by service name.
func (q *Queues) States() []queue.State {
	if s := q.read(mStates, &callArgs{}).States; s != nil {
		return s
	}
	return []queue.State{}
}

// Fill sets a waiting ticket's position and estimate.
func (q *Queues) Fill(t *persistence.Ticket) {
	if t.Status != persistence.TicketWaiting {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), q.timeout)
	defer cancel()
	if r, err := q.call(ctx, mFill, &callArgs{Ticket: *t}); err == nil {
		t.Position, t.EstimatedWaitSeconds = r.Ticket.Position, r.Ticket.EstimatedWaitSeconds
	}
}

// Metrics returns the service and counter figures of loadBalancingMetrics.
func (q *Queues) Metrics(ctx context.Context) (queue.Metrics, error) {
	r, err := q.call(ctx, mMetrics, &callArgs{})
	if err != nil {
		return queue.Metrics{}, err
	}
	return r.Metrics, nil
}

// CheckDay makes the owner check the service day now.
func (q *Queues) CheckDay() {
	ctx, cancel := context.WithTimeout(context.Background(), q.timeout)
	defer cancel()
	_, _ = q.call(ctx, mCheckDay, &callArgs{})
}

// AddService creates a service.
func (q *Queues) AddService(ctx context.Context, in persistence.NewService) (persistence.Service, error) {
	r, err := q.call(ctx, mAddService, &callArgs{NewService: in})
	if err != nil {
		return persistence.Service{}, err
	}
	q.known.Store("s:"+r.Service.Name, struct{}{})
	return r.Service, nil
}

// AddCounter creates a counter serving the named services.
func (q *Queues) AddCounter(ctx context.Context, name string, services []string, status persistence.CounterStatus) (persistence.Counter, error) {
	r, err := q.call(ctx, mAddCounter, &callArgs{Name: name, Services: services, Status: status})
	if err != nil {
		return persistence.Counter{}, err
	}
	q.known.Store("c:"+r.Counter.ID, struct{}{})
	return r.Counter, nil
}

// SetCounterStatus opens, pauses or closes a counter.
func (q *Queues) SetCounterStatus(ctx context.Context, counterID string, status persistence.CounterStatus, by persistence.Stamp) (persistence.Counter, error) {
	r, err := q.call(ctx, mSetCounterStatus, &callArgs{Counter: counterID, Status: status, By: by})
	if err != nil {
		return persistence.Counter{}, err
	}
	return r.Counter, nil
}

// CreateTicket issues a ticket in the named service.
func (q *Queues) CreateTicket(ctx context.Context, service, userID string, prio persistence.Priority, maxActive int, by persistence.Stamp) (persistence.Ticket, bool, error) {
	r, err := q.call(ctx, mCreateTicket, &callArgs{Service: service, User: userID, Priority: prio, MaxActive: maxActive, By: by})
	if err != nil {
		return persistence.Ticket{}, false, err
	}
	return r.Ticket, r.Replayed, nil
}

// CallNext calls the next ticket to a counter.
func (q *Queues) CallNext(ctx context.Context, counterID string, by persistence.Stamp) (persistence.Ticket, persistence.Counter, bool, error) {
	r, err := q.call(ctx, mCallNext, &callArgs{Counter: counterID, By: by})
	if err != nil {
		return persistence.Ticket{}, persistence.Counter{}, false, err
	}
	return r.Ticket, r.Counter, r.Replayed, nil
}

// Cancel cancels a waiting ticket of the named service.
func (q *Queues) Cancel(ctx context.Context, service, ticketID string, by persistence.Stamp) (persistence.Ticket, error) {
	r, err := q.call(ctx, mCancel, &callArgs{Service: service, TicketID: ticketID, By: by})
	if err != nil {
		return persistence.Ticket{}, err
	}
	return r.Ticket, nil
}

// Move completes, marks no-show, recalls or transfers the ticket served at
// counterID.
func (q *Queues) Move(ctx context.Context, kind, counterID, ticketID, toService string, by persistence.Stamp) (persistence.Ticket, error) {
	r, err := q.call(ctx, mMove, &callArgs{Kind: kind, Counter: counterID, TicketID: ticketID, To: toService, By: by})
	if err != nil {
		return persistence.Ticket{}, err
	}
	return r.Ticket, nil
}
