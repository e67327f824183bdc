package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/queuecast/queuecast/actors/ask"
	"github.com/queuecast/queuecast/actors/rooms"
	"github.com/queuecast/queuecast/persistence"
)

// ErrCallInProgress: the counter is already calling a ticket and has
// maxQueuedCalls more waiting (409).
var ErrCallInProgress = fmt.Errorf("a call is already in progress at this counter: %w", persistence.ErrCounterBusy)

// maxQueuedCalls bounds the call-next requests that wait at a counter for
// the one in flight (a double click, two staff at one desk).
const maxQueuedCalls = 16

// counterActor owns one counter's status and current ticket, loaded from the
// database on start and whenever an outcome leaves it unsure.
//
// Call-next never waits on another actor: the counter picks the service
// whose head scores best from the services' published views, sends that
// service actor a takeHead, and answers the caller when the *taken outcome
// comes back as a message. One call is in flight at a time.
type counterActor struct {
	env     *env
	id      string
	view    *atomic.Pointer[counterView]
	self    *actor.PID
	c       persistence.Counter
	current *persistence.Ticket
	// currentKey is the Idempotency-Key of the call that called current,
	// so that a retry of it is answered with current instead of 409.
	currentKey string
	// mean is the EWMA of completed service times in seconds; zero until
	// seeded from the services' defaults.
	mean float64
	// idleSince is when the counter last had nothing to serve.
	idleSince time.Time
	loaded    bool
	calls     uint64
	pending   *pendingCall
	// queued are call-next requests that came while one was in flight,
	// taken in order once it ends (each then sees the counter as the first
	// call left it).
	queued []*callNext
	reload reloader
}

// pendingCall is the call-next in flight.
type pendingCall struct {
	id    uint64
	m     *callNext
	tried []string
	timer *time.Timer
}

func newCounterProps(e *env, id string, view *atomic.Pointer[counterView]) *actor.Props {
	return actor.PropsFromProducer(func() actor.Actor { return &counterActor{env: e, id: id, view: view} })
}

func (a *counterActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		a.self = ctx.Self()
		a.refresh()
	case *actor.Stopping, *actor.Restarting:
		a.reload.stop()
		if a.pending != nil {
			a.pending.timer.Stop()
			a.pending = nil
		}
		a.queued = nil // their callers were not begun: they give up unanswered, and nothing was done
	case *actor.Stopped:
	case *callNext:
		a.callNext(m)
	case *taken:
		a.taken(m)
	case *callExpired:
		a.expired(m)
	case *setStatus:
		m.reply <- a.setStatus(m)
	case *move:
		m.reply <- a.move(m)
	case *reload:
		a.reload.fired()
		a.refresh()
	default:
		a.env.log.Debug("queue counter: unknown message", slog.Any("type", m))
	}
}

func (a *counterActor) load(ctx context.Context) error {
	c, err := a.env.store.GetCounter(ctx, a.id)
	if err != nil {
		return err
	}
	var cur *persistence.Ticket
	if c.CurrentTicketID != nil {
		t, err := a.env.store.GetTicket(ctx, *c.CurrentTicketID)
		if err != nil {
			return err
		}
		cur = &t
	}
	if a.current == nil || cur == nil || a.current.ID != cur.ID {
		a.currentKey = ""
		a.idleSince = a.env.now()
	}
	if cur != nil {
		a.idleSince = time.Time{}
	}
	a.c, a.current, a.loaded = c, cur, true
	a.reload.done()
	return nil
}

// refresh reloads now, or later with backoff while the database fails.
func (a *counterActor) refresh() {
	ctx, cancel := context.WithTimeout(context.Background(), a.loadBound())
	defer cancel()
	if err := a.load(ctx); err != nil {
		a.reload.later(a.env.sys, a.self)
		return
	}
	a.publish()
}

// loadBound is the first load's time (the node is starting), or a
// reload's, which holds up the actor's mailbox and so is kept short.
func (a *counterActor) loadBound() time.Duration {
	if a.loaded {
		return reloadTimeout
	}
	return loadTimeout
}

// ready loads a counter that was never loaded, within the command's time.
func (a *counterActor) ready(ctx context.Context) error {
	if a.loaded {
		return nil
	}
	if err := a.load(ctx); err != nil {
		return err
	}
	a.publish()
	return nil
}

func (a *counterActor) stale() { a.reload.later(a.env.sys, a.self) }

func (a *counterActor) callNext(m *callNext) {
	if !m.req.Live() {
		m.reply <- callResult{err: ErrTimeout}
		return
	}
	if !a.loaded {
		ctx, cancel := m.req.WorkContext()
		err := a.ready(ctx)
		cancel()
		if err != nil {
			m.reply <- callResult{err: err}
			return
		}
	}
	if p := a.pending; p != nil && !p.m.req.Begun() && !p.m.req.Live() {
		// Its caller gave up before any service began it, and none ever
		// will: it no longer holds the counter.
		a.end(callResult{err: ErrTimeout})
	}
	key := m.by.Request.Key
	switch {
	case key != "" && a.current != nil && a.currentKey == key:
		m.reply <- callResult{ticket: *a.current, counter: a.c, replayed: true}
		return
	case a.pending != nil && len(a.queued) < maxQueuedCalls:
		a.queued = append(a.queued, m)
		return
	case a.pending != nil:
		m.reply <- callResult{err: ErrCallInProgress}
		return
	case a.c.Status != persistence.CounterOpen:
		m.reply <- callResult{err: persistence.ErrCounterNotOpen}
		return
	case a.current != nil && key != "" && a.currentKey == "":
		a.replayCurrent(m)
		return
	case a.current != nil:
		m.reply <- callResult{err: persistence.ErrCounterBusy}
		return
	}
	a.calls++
	a.pending = &pendingCall{id: a.calls, m: m}
	// The safety net for an outcome that never comes back: the caller has
	// stopped waiting by then.
	call, self, sys := a.calls, a.self, a.env.sys
	a.pending.timer = time.AfterFunc(time.Until(m.req.Deadline())+ask.Grace, func() {
		sys.Root.Send(self, &callExpired{call: call})
	})
	a.take()
}

// take sends the pending call to the service whose head scores best among
// those not tried yet, or ends it when every service was tried. The views
// only order the services: one that shows nobody waiting is still asked
// (last), since its view may not have caught up with a message already in
// its mailbox (a ticket transferred to it a moment ago), and only the
// service actor itself can say its line is empty.
func (a *counterActor) take() {
	p := a.pending
	dir := a.env.dir.Load()
	now := a.env.now()
	var best *actor.PID
	bestScore := 0.0
	for _, name := range a.c.Services {
		pid := dir.servicePID(name)
		if pid == nil || slices.Contains(p.tried, name) {
			continue
		}
		sc := -1.0 // nobody waiting, as far as the view knows
		if v := dir.serviceView(name); v != nil {
			if s, ok := v.headScore(now); ok {
				sc = s
			}
		}
		if best == nil || sc > bestScore {
			best, bestScore = pid, sc
		}
	}
	if best == nil {
		a.end(callResult{err: ErrNothingWaiting})
		return
	}
	a.env.sys.Root.Send(best, &takeHead{req: p.m.req, call: p.id, counter: a.c, by: p.m.by, replyTo: a.self})
}

// end answers the pending call, then takes the queued ones in order until
// one is in flight again.
func (a *counterActor) end(r callResult) {
	p := a.pending
	p.timer.Stop()
	a.pending = nil
	p.m.reply <- r
	for a.pending == nil && len(a.queued) > 0 {
		m := a.queued[0]
		a.queued[0] = nil
		a.queued = a.queued[1:]
		a.callNext(m)
	}
}

func (a *counterActor) taken(m *taken) {
	p := a.pending
	if p == nil || p.id != m.call {
		// The outcome of a call that ended without it: only one that did
		// something leaves this actor's memory behind the database.
		if m.result.err == nil || uncertain(m.result.err) {
			a.refresh()
		}
		return
	}
	r := m.result
	switch {
	case r.replayed:
		a.end(callResult{ticket: r.ticket, counter: a.c, replayed: true})
	case errors.Is(r.err, ErrNothingWaiting):
		p.tried = append(p.tried, m.tried)
		a.take()
	case errors.Is(r.err, persistence.ErrCounterBusy), errors.Is(r.err, persistence.ErrCounterNotOpen), uncertain(r.err):
		// The database disagrees with this actor, or may: read it again.
		a.end(callResult{err: r.err})
		a.refresh()
	case r.err != nil:
		a.end(callResult{err: r.err})
	default:
		t := r.ticket
		a.current, a.currentKey = &t, p.m.by.Request.Key
		a.c.CurrentTicketID = &t.ID
		a.idleSince = time.Time{}
		a.publish()
		a.end(callResult{ticket: t, counter: a.c})
	}
}

// expired ends a call whose outcome never came back: the counter reads the
// database, and what it holds is the outcome.
func (a *counterActor) expired(m *callExpired) {
	if a.pending == nil || a.pending.id != m.call {
		return
	}
	a.refresh()
	if a.current != nil {
		a.end(callResult{ticket: *a.current, counter: a.c})
		return
	}
	a.end(callResult{err: ErrTimeout})
}

func (a *counterActor) setStatus(m *setStatus) counterResult {
	if !m.req.Begin() {
		return counterResult{err: ErrTimeout}
	}
	ctx, cancel := m.req.WorkContext()
	defer cancel()
	if err := a.ready(ctx); err != nil {
		return counterResult{err: err}
	}
	c, prev, err := a.env.store.SetCounterStatus(ctx, a.id, m.status, m.by)
	if uncertain(err) {
		prev = a.c.Status
		c, err = a.confirmStatus(m.status, err)
	}
	if err != nil {
		return counterResult{err: err}
	}
	a.c = c
	if prev != c.Status {
		if c.Status == persistence.CounterOpen {
			a.idleSince = a.env.now()
		}
		a.publish()
		a.env.ann.counter(c, prev)
		dir := a.env.dir.Load()
		for _, name := range c.Services {
			if pid := dir.servicePID(name); pid != nil {
				a.env.sys.Root.Send(pid, &counterOpen{counterID: c.ID, open: c.Status == persistence.CounterOpen})
			}
		}
	}
	return counterResult{counter: c}
}

// confirmStatus settles an uncertain status change by reading the counter.
func (a *counterActor) confirmStatus(want persistence.CounterStatus, cause error) (persistence.Counter, error) {
	ctx, cancel := context.WithTimeout(context.Background(), confirmTimeout)
	defer cancel()
	c, err := a.env.store.GetCounter(ctx, a.id)
	if err != nil {
		a.stale()
		return c, cause
	}
	if c.Status != want {
		return c, cause
	}
	return c, nil
}

// moved says, for an uncertain move, whether the ticket as read shows it.
func moved(kind moveKind, before persistence.Ticket, toService string) func(persistence.Ticket) bool {
	return func(t persistence.Ticket) bool {
		switch kind {
		case moveComplete:
			return t.Status == persistence.TicketCompleted
		case moveNoShow:
			return t.Status == persistence.TicketNoShow
		case moveRecall:
			return t.Status == persistence.TicketServing && t.RecallCount > before.RecallCount
		case moveTransfer:
			return t.Status == persistence.TicketWaiting && t.ServiceType == toService
		}
		return false
	}
}

func (a *counterActor) move(m *move) ticketResult {
	if !m.req.Begin() {
		return ticketResult{err: ErrTimeout}
	}
	ctx, cancel := m.req.WorkContext()
	defer cancel()
	if err := a.ready(ctx); err != nil {
		return ticketResult{err: err}
	}
	if a.current == nil || a.current.ID != m.ticketID {
		return ticketResult{err: fmt.Errorf("ticket is not served at this counter: %w", persistence.ErrIllegalMove)}
	}
	dir := a.env.dir.Load()
	from := a.current.ServiceType
	var (
		t     persistence.Ticket
		err   error
		event string
	)
	switch m.kind {
	case moveComplete:
		t, err = a.env.store.CompleteTicket(ctx, m.ticketID, m.by)
		event = EventTicketCompleted
	case moveNoShow:
		t, err = a.env.store.NoShowTicket(ctx, m.ticketID, m.by)
		event = EventTicketNoShow
	case moveRecall:
		t, err = a.env.store.RecallTicket(ctx, m.ticketID, m.by)
		event = EventTicketRecalled
	case moveTransfer:
		to, ok := dir.service(m.toService)
		if !ok {
			return ticketResult{err: fmt.Errorf("service %q: %w", m.toService, persistence.ErrNotFound)}
		}
		t, err = a.env.store.TransferTicket(ctx, m.ticketID, to.ID, m.by)
		event = EventTicketTransferred
	}
	if uncertain(err) {
		if got, ok := settle(a.env, m.ticketID, moved(m.kind, *a.current, m.toService), a.stale); ok {
			t, err = got, nil
		}
	}
	if err != nil {
		return ticketResult{err: err}
	}
	if m.kind == moveRecall {
		a.current = &t
		a.publish()
		c := a.c
		a.env.ann.ticket(event, t, &c)
		return ticketResult{ticket: t}
	}
	c := a.c
	a.current, a.currentKey, a.c.CurrentTicketID = nil, "", nil
	a.idleSince = a.env.now()
	done := &finished{ticketID: t.ID, completed: m.kind == moveComplete}
	if m.kind == moveComplete && t.CalledAt != nil && t.CompletedAt != nil {
		done.served = t.CompletedAt.Sub(t.CalledAt.Time)
		if done.served > 0 {
			a.mean = ewmaAlpha*done.served.Seconds() + (1-ewmaAlpha)*a.seedMean()
		}
	}
	a.publish()
	if m.kind == moveTransfer {
		a.env.ann.ticket(event, t, &c, rooms.Service(from))
	} else {
		a.env.ann.ticket(event, t, &c)
	}
	if pid := dir.servicePID(from); pid != nil {
		a.env.sys.Root.Send(pid, done)
	}
	if m.kind == moveTransfer {
		if pid := dir.servicePID(t.ServiceType); pid != nil {
			a.env.sys.Root.Send(pid, &requeued{ticket: t})
		}
	}
	return ticketResult{ticket: t}
}

// seedMean returns the mean, seeding it first with the mean default service
// time of the counter's services.
func (a *counterActor) seedMean() float64 {
	if a.mean > 0 {
		return a.mean
	}
	dir := a.env.dir.Load()
	sum, n := 0, 0
	for _, name := range a.c.Services {
		if svc, ok := dir.service(name); ok && svc.DefaultServiceSeconds > 0 {
			sum += svc.DefaultServiceSeconds
			n++
		}
	}
	if n == 0 {
		return persistence.DefaultServiceSeconds
	}
	a.mean = float64(sum) / float64(n)
	return a.mean
}

// publish replaces the view with a copy of the current state.
func (a *counterActor) publish() {
	v := &counterView{c: a.c, mean: a.seedMean(), idleSince: a.idleSince}
	if a.current != nil {
		t := *a.current
		v.current = &t
	}
	a.view.Store(v)
}

// replayCurrent answers a keyed call-next at a counter that serves a ticket
// whose call's key it does not know (it loaded the ticket from the
// database: after a reload, or on a new owner node in a cluster). The store
// knows the key: a retry of the call that called the ticket gets it,
// replayed; any other call is refused as busy. The store call cannot call
// anything, since the counter is busy and its ticket is not waiting.
func (a *counterActor) replayCurrent(m *callNext) {
	if !m.req.Begin() {
		m.reply <- callResult{err: ErrTimeout}
		return
	}
	ctx, cancel := m.req.WorkContext()
	t, err := a.env.store.CallTicket(ctx, a.id, a.current.ID, m.by)
	cancel()
	switch {
	case errors.Is(err, persistence.ErrReplayed) && t.ID == a.current.ID:
		a.currentKey = m.by.Request.Key
		m.reply <- callResult{ticket: *a.current, counter: a.c, replayed: true}
	case errors.Is(err, persistence.ErrReplayed), errors.Is(err, persistence.ErrConflict):
		m.reply <- callResult{err: persistence.ErrCounterBusy}
	case err != nil:
		m.reply <- callResult{err: err}
	default:
		// Not reachable by the store's contract; the database now holds a
		// state this actor did not expect, so it reloads.
		a.env.log.Error("queue: a replay check called a ticket", slog.String("counter", a.id), slog.String("ticket", t.ID))
		m.reply <- callResult{err: persistence.ErrCounterBusy}
		a.stale()
	}
}
