package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/queuecast/queuecast/actors/ask"
	"github.com/queuecast/queuecast/persistence"
)

// Sentinel errors of the queue domain.
var (
	// ErrNothingWaiting: no ticket waits for the counter's services (404).
	ErrNothingWaiting = errors.New("no ticket is waiting for this counter")
	// ErrUnknownService: no service has that name (404); it wraps
	// persistence.ErrNotFound.
	ErrUnknownService = fmt.Errorf("unknown service: %w", persistence.ErrNotFound)
	// ErrUnknownCounter: no counter has that id (404).
	ErrUnknownCounter = fmt.Errorf("unknown counter: %w", persistence.ErrNotFound)
	// ErrTimeout: the command was not carried out in the caller's time
	// (503); nothing was changed.
	ErrTimeout = fmt.Errorf("not done in time: %w", persistence.ErrUnavailable)
	// ErrUnanswered: the node that holds the queue actors (cluster mode)
	// was lost before it answered, so the command may or may not have been
	// carried out (503); a retry with the same Idempotency-Key is safe.
	ErrUnanswered = fmt.Errorf("the queue node was lost before it answered; the outcome is unknown: %w", persistence.ErrUnavailable)
)

const (
	loadTimeout = 30 * time.Second
	opTimeout   = 20 * time.Second
	// defaultTimeout is a command's time when its context has no deadline.
	defaultTimeout = 10 * time.Second
)

// Config wires the queue actors. Zero values mean the defaults in the
// comments.
type Config struct {
	System *actor.ActorSystem
	Store  persistence.Store
	// Rooms is the room manager events are published to; nil publishes
	// nothing.
	Rooms *actor.PID
	// Location is the service-day zone (QUEUE_TIMEZONE); nil means
	// Africa/Nairobi.
	Location *time.Location
	// Ageing is how long a ticket must wait to gain one priority class
	// (normal -> priority -> vip); zero means 10 minutes.
	Ageing time.Duration
	// DayCheckInterval is how often the service day is checked; zero means
	// 30 seconds.
	DayCheckInterval time.Duration
	// RequestTimeout is a command's time when the caller's context has no
	// deadline; zero means 10 seconds.
	RequestTimeout time.Duration
	// Clock is the time source; nil means time.Now.
	Clock  func() time.Time
	Logger *slog.Logger
}

// Queues is the queue domain's front door: its commands send typed messages
// to the actors and wait for the answer until the caller's deadline (a
// failure answer means nothing was done); its reads use the actors' views
// and never wait. Safe for concurrent use.
type Queues struct {
	env      *env
	registry *actor.PID
}

// Start loads services and counters from the store and spawns their actors.
func Start(cfg Config) (*Queues, error) {
	if cfg.System == nil || cfg.Store == nil {
		return nil, errors.New("queue: Config.System and Config.Store are required")
	}
	e := &env{sys: cfg.System, store: cfg.Store, log: cfg.Logger, loc: cfg.Location,
		ageing: cfg.Ageing, dayCheck: cfg.DayCheckInterval, timeout: cfg.RequestTimeout, now: cfg.Clock}
	if e.timeout <= 0 {
		e.timeout = defaultTimeout
	}
	if e.log == nil {
		e.log = slog.Default()
	}
	if e.loc == nil {
		loc, err := time.LoadLocation("Africa/Nairobi")
		if err != nil {
			return nil, fmt.Errorf("queue: time zone: %w", err)
		}
		e.loc = loc
	}
	if e.ageing <= 0 {
		e.ageing = 10 * time.Minute
	}
	if e.dayCheck <= 0 {
		e.dayCheck = 30 * time.Second
	}
	if e.now == nil {
		e.now = time.Now
	}
	e.ann = &announcer{sys: cfg.System, rooms: cfg.Rooms, log: e.log, now: e.now}
	pid, err := cfg.System.Root.SpawnNamed(newRegistryProps(e), "queues")
	if err != nil {
		return nil, err
	}
	q := &Queues{env: e, registry: pid}
	deadline := time.Now().Add(loadTimeout)
	for d := e.dir.Load(); d == nil || !d.loaded(); d = e.dir.Load() {
		if time.Now().After(deadline) {
			_ = q.Stop()
			return nil, errors.New("queue: the queue actors did not load their state")
		}
		time.Sleep(5 * time.Millisecond) // the actors publish their views once loaded
	}
	return q, nil
}

// Stop stops the actors.
func (q *Queues) Stop() error { return q.env.sys.Root.PoisonFuture(q.registry).Wait() }

// call sends a command built around req to pid and waits for its answer
// (ask.Call): a failure answer means the command was not carried out.
func call[T any](q *Queues, ctx context.Context, pid *actor.PID, mk func(*ask.Request, chan T) any) (T, error) {
	req := q.env.request(ctx)
	v, err := ask.Call(q.env.sys, pid, req, func(ch chan T) any { return mk(req, ch) })
	if err != nil {
		return v, ErrTimeout
	}
	return v, nil
}

// Now is the queue clock.
func (q *Queues) Now() time.Time { return q.env.now() }

// ServiceExists reports whether a service has that name (the realtime
// catalog; it reads the snapshot and never blocks).
func (q *Queues) ServiceExists(name string) bool {
	_, ok := q.env.dir.Load().service(name)
	return ok
}

// CounterExists reports whether a counter has that id.
func (q *Queues) CounterExists(id string) bool {
	_, ok := q.env.dir.Load().counters[id]
	return ok
}

// Service returns a service by name from the snapshot.
func (q *Queues) Service(name string) (persistence.Service, bool) {
	return q.env.dir.Load().service(name)
}

// AddService creates a service and its actor.
func (q *Queues) AddService(ctx context.Context, in persistence.NewService) (persistence.Service, error) {
	r, err := call(q, ctx, q.registry, func(req *ask.Request, ch chan serviceResult) any {
		return &addService{req: req, in: in, reply: ch}
	})
	if err != nil {
		return persistence.Service{}, err
	}
	return r.service, r.err
}

// AddCounter creates a counter serving the named services, and its actor.
func (q *Queues) AddCounter(ctx context.Context, name string, services []string, status persistence.CounterStatus) (persistence.Counter, error) {
	in := persistence.NewCounter{Name: name, Status: status}
	dir := q.env.dir.Load()
	for _, s := range services {
		svc, ok := dir.service(s)
		if !ok {
			return persistence.Counter{}, fmt.Errorf("service %q: %w", s, persistence.ErrInvalid)
		}
		in.ServiceIDs = append(in.ServiceIDs, svc.ID)
	}
	r, err := call(q, ctx, q.registry, func(req *ask.Request, ch chan counterResult) any {
		return &addCounter{req: req, in: in, reply: ch}
	})
	if err != nil {
		return persistence.Counter{}, err
	}
	return r.counter, r.err
}

// CreateTicket issues a ticket in the named service. maxActive > 0 caps
// the waiting and serving tickets userID may hold, atomically with the
// insert (persistence.ErrTooManyActive beyond it). A failure answer means
// no ticket was created. With by.Request set, a retry of a create that was
// done returns its ticket and replayed.
func (q *Queues) CreateTicket(ctx context.Context, service, userID string, prio persistence.Priority, maxActive int, by persistence.Stamp) (t persistence.Ticket, replayed bool, err error) {
	pid := q.env.dir.Load().servicePID(service)
	if pid == nil {
		return persistence.Ticket{}, false, ErrUnknownService
	}
	by = q.stamp(by)
	r, err := call(q, ctx, pid, func(req *ask.Request, ch chan ticketResult) any {
		return &createTicket{req: req, in: persistence.NewTicket{UserID: userID, Priority: prio, MaxActive: maxActive}, by: by, reply: ch}
	})
	if err != nil {
		return persistence.Ticket{}, false, err
	}
	return r.ticket, r.replayed, r.err
}

// CallNext calls the next ticket to a counter. A failure answer means no
// ticket was called; with by.Request set, a retry of a call that was done
// returns the ticket it called and replayed.
func (q *Queues) CallNext(ctx context.Context, counterID string, by persistence.Stamp) (persistence.Ticket, persistence.Counter, bool, error) {
	e := q.env.dir.Load().counters[counterID]
	if e == nil {
		return persistence.Ticket{}, persistence.Counter{}, false, ErrUnknownCounter
	}
	by = q.stamp(by)
	r, err := call(q, ctx, e.pid, func(req *ask.Request, ch chan callResult) any { return &callNext{req: req, by: by, reply: ch} })
	if err != nil {
		return persistence.Ticket{}, persistence.Counter{}, false, err
	}
	return r.ticket, r.counter, r.replayed, r.err
}

// SetCounterStatus opens, pauses or closes a counter.
func (q *Queues) SetCounterStatus(ctx context.Context, counterID string, status persistence.CounterStatus, by persistence.Stamp) (persistence.Counter, error) {
	e := q.env.dir.Load().counters[counterID]
	if e == nil {
		return persistence.Counter{}, ErrUnknownCounter
	}
	by = q.stamp(by)
	r, err := call(q, ctx, e.pid, func(req *ask.Request, ch chan counterResult) any {
		return &setStatus{req: req, status: status, by: by, reply: ch}
	})
	if err != nil {
		return persistence.Counter{}, err
	}
	return r.counter, r.err
}

// Move kinds for Queues.Move.
const (
	Complete = "complete"
	NoShow   = "no-show"
	Recall   = "recall"
	Transfer = "transfer"
)

// Move completes, marks no-show, recalls or transfers (to toService) the
// ticket served at counterID.
func (q *Queues) Move(ctx context.Context, kind, counterID, ticketID, toService string, by persistence.Stamp) (persistence.Ticket, error) {
	k, ok := map[string]moveKind{Complete: moveComplete, NoShow: moveNoShow, Recall: moveRecall, Transfer: moveTransfer}[kind]
	if !ok {
		return persistence.Ticket{}, fmt.Errorf("move %q: %w", kind, persistence.ErrInvalid)
	}
	dir := q.env.dir.Load()
	e := dir.counters[counterID]
	if e == nil {
		return persistence.Ticket{}, ErrUnknownCounter
	}
	if k == moveTransfer {
		if _, ok := dir.service(toService); !ok {
			return persistence.Ticket{}, ErrUnknownService
		}
	}
	by = q.stamp(by)
	r, err := call(q, ctx, e.pid, func(req *ask.Request, ch chan ticketResult) any {
		return &move{req: req, kind: k, ticketID: ticketID, toService: toService, by: by, reply: ch}
	})
	if err != nil {
		return persistence.Ticket{}, err
	}
	return r.ticket, r.err
}

// Cancel cancels a waiting ticket of the named service.
func (q *Queues) Cancel(ctx context.Context, service, ticketID string, by persistence.Stamp) (persistence.Ticket, error) {
	pid := q.env.dir.Load().servicePID(service)
	if pid == nil {
		return persistence.Ticket{}, ErrUnknownService
	}
	by = q.stamp(by)
	r, err := call(q, ctx, pid, func(req *ask.Request, ch chan ticketResult) any {
		return &cancelTicket{req: req, id: ticketID, by: by, reply: ch}
	})
	if err != nil {
		return persistence.Ticket{}, err
	}
	return r.ticket, r.err
}

// Fill sets a waiting ticket's position and estimate from its service's
// view; it never waits.
func (q *Queues) Fill(t *persistence.Ticket) {
	if t.Status != persistence.TicketWaiting {
		return
	}
	if v := q.env.dir.Load().serviceView(t.ServiceType); v != nil {
		v.fill(t, q.env.now())
	}
}

// States returns every service's live figures, ordered by service name,
// from the services' views: it never waits behind the database.
func (q *Queues) States() []State {
	dir := q.env.dir.Load()
	names := make([]string, 0, len(dir.services))
	for n := range dir.services {
		names = append(names, n)
	}
	sort.Strings(names)
	now := q.env.now()
	out := make([]State, 0, len(names))
	for _, n := range names {
		if v := dir.serviceView(n); v != nil {
			out = append(out, v.state(now))
		} else {
			out = append(out, (&serviceView{svc: dir.services[n].svc}).state(now))
		}
	}
	return out
}

// Services returns every service, ordered by name, from the snapshot.
func (q *Queues) Services() []persistence.Service {
	dir := q.env.dir.Load()
	out := make([]persistence.Service, 0, len(dir.services))
	for _, e := range dir.services {
		out = append(out, e.svc)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// CounterList returns every counter, ordered by name, from the counters'
// views.
func (q *Queues) CounterList() []persistence.Counter {
	dir := q.env.dir.Load()
	out := make([]persistence.Counter, 0, len(dir.counters))
	for _, e := range dir.counters {
		if v := e.view.Load(); v != nil {
			out = append(out, v.c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// CheckDay makes the registry check the service day now (tests, and an
// operator who changed the clock).
func (q *Queues) CheckDay() { q.env.sys.Root.Send(q.registry, &dayTick{}) }

func (q *Queues) stamp(by persistence.Stamp) persistence.Stamp {
	if by.At.IsZero() {
		by.At = q.env.now()
	}
	return by
}
