package queue

import (
	"errors"
	"fmt"
	"github.com/queuecast/queuecast/actors/ask"
	"log/slog"
	"sort"
	"time"

	"github.com/asynkron/protoactor-go/actor"

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
	// ErrTimeout: an actor did not answer in time (503).
	ErrTimeout = fmt.Errorf("queue actor did not answer: %w", persistence.ErrUnavailable)
)

const (
	loadTimeout = 30 * time.Second
	opTimeout   = 20 * time.Second
	askTimeout  = 30 * time.Second
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
	// Clock is the time source; nil means time.Now.
	Clock  func() time.Time
	Logger *slog.Logger
}

// Queues is the queue domain's front door: its methods send typed messages
// to the actors and wait for the answer. Safe for concurrent use.
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
		ageing: cfg.Ageing, dayCheck: cfg.DayCheckInterval, now: cfg.Clock}
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
	for e.dir.Load() == nil {
		if time.Now().After(deadline) {
			return nil, errors.New("queue: registry did not load the services")
		}
		time.Sleep(5 * time.Millisecond) // the registry stores the directory once it has loaded
	}
	return q, nil
}

// Stop stops the actors.
func (q *Queues) Stop() error { return q.env.sys.Root.PoisonFuture(q.registry).Wait() }

// askActor asks a queue actor, bounded by askTimeout; a timeout is
// ErrTimeout (503).
func askActor[T any](e *env, pid *actor.PID, mk func(chan T) any) (T, error) {
	v, err := ask.Ask(e.sys, pid, askTimeout, mk)
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
	_, ok := q.env.dir.Load().services[name]
	return ok
}

// CounterExists reports whether a counter has that id.
func (q *Queues) CounterExists(id string) bool {
	_, ok := q.env.dir.Load().counters[id]
	return ok
}

// Service returns a service by name from the snapshot.
func (q *Queues) Service(name string) (persistence.Service, bool) {
	s, ok := q.env.dir.Load().services[name]
	return s, ok
}

// AddService creates a service and its actor.
func (q *Queues) AddService(in persistence.NewService) (persistence.Service, error) {
	r, err := askActor(q.env, q.registry, func(ch chan serviceResult) any { return &addService{in: in, reply: ch} })
	if err != nil {
		return persistence.Service{}, err
	}
	return r.service, r.err
}

// AddCounter creates a counter serving the named services, and its actor.
func (q *Queues) AddCounter(name string, services []string, status persistence.CounterStatus) (persistence.Counter, error) {
	in := persistence.NewCounter{Name: name, Status: status}
	dir := q.env.dir.Load()
	for _, s := range services {
		svc, ok := dir.services[s]
		if !ok {
			return persistence.Counter{}, fmt.Errorf("service %q: %w", s, persistence.ErrInvalid)
		}
		in.ServiceIDs = append(in.ServiceIDs, svc.ID)
	}
	r, err := askActor(q.env, q.registry, func(ch chan counterResult) any { return &addCounter{in: in, reply: ch} })
	if err != nil {
		return persistence.Counter{}, err
	}
	return r.counter, r.err
}

// CreateTicket issues a ticket in the named service. maxActive > 0 caps
// the waiting and serving tickets userID may hold, atomically with the
// insert (persistence.ErrTooManyActive beyond it).
func (q *Queues) CreateTicket(service, userID string, prio persistence.Priority, maxActive int, by persistence.Stamp) (persistence.Ticket, error) {
	pid := q.env.dir.Load().servicePID(service)
	if pid == nil {
		return persistence.Ticket{}, ErrUnknownService
	}
	by = q.stamp(by)
	r, err := askActor(q.env, pid, func(ch chan ticketResult) any {
		return &createTicket{in: persistence.NewTicket{UserID: userID, Priority: prio, MaxActive: maxActive}, by: by, reply: ch}
	})
	if err != nil {
		return persistence.Ticket{}, err
	}
	return r.ticket, r.err
}

// CallNext calls the next ticket to a counter.
func (q *Queues) CallNext(counterID string, by persistence.Stamp) (persistence.Ticket, persistence.Counter, error) {
	pid := q.env.dir.Load().counters[counterID]
	if pid == nil {
		return persistence.Ticket{}, persistence.Counter{}, ErrUnknownCounter
	}
	by = q.stamp(by)
	r, err := askActor(q.env, pid, func(ch chan callResult) any { return &callNext{by: by, reply: ch} })
	if err != nil {
		return persistence.Ticket{}, persistence.Counter{}, err
	}
	return r.ticket, r.counter, r.err
}

// SetCounterStatus opens, pauses or closes a counter.
func (q *Queues) SetCounterStatus(counterID string, status persistence.CounterStatus, by persistence.Stamp) (persistence.Counter, error) {
	pid := q.env.dir.Load().counters[counterID]
	if pid == nil {
		return persistence.Counter{}, ErrUnknownCounter
	}
	by = q.stamp(by)
	r, err := askActor(q.env, pid, func(ch chan counterResult) any { return &setStatus{status: status, by: by, reply: ch} })
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
func (q *Queues) Move(kind, counterID, ticketID, toService string, by persistence.Stamp) (persistence.Ticket, error) {
	k, ok := map[string]moveKind{Complete: moveComplete, NoShow: moveNoShow, Recall: moveRecall, Transfer: moveTransfer}[kind]
	if !ok {
		return persistence.Ticket{}, fmt.Errorf("move %q: %w", kind, persistence.ErrInvalid)
	}
	dir := q.env.dir.Load()
	pid := dir.counters[counterID]
	if pid == nil {
		return persistence.Ticket{}, ErrUnknownCounter
	}
	if k == moveTransfer {
		if _, ok := dir.services[toService]; !ok {
			return persistence.Ticket{}, ErrUnknownService
		}
	}
	by = q.stamp(by)
	r, err := askActor(q.env, pid, func(ch chan ticketResult) any {
		return &move{kind: k, ticketID: ticketID, toService: toService, by: by, reply: ch}
	})
	if err != nil {
		return persistence.Ticket{}, err
	}
	return r.ticket, r.err
}

// Cancel cancels a waiting ticket of the named service.
func (q *Queues) Cancel(service, ticketID string, by persistence.Stamp) (persistence.Ticket, error) {
	pid := q.env.dir.Load().servicePID(service)
	if pid == nil {
		return persistence.Ticket{}, ErrUnknownService
	}
	by = q.stamp(by)
	r, err := askActor(q.env, pid, func(ch chan ticketResult) any { return &cancelTicket{id: ticketID, by: by, reply: ch} })
	if err != nil {
		return persistence.Ticket{}, err
	}
	return r.ticket, r.err
}

// Fill sets a waiting ticket's position and estimate.
func (q *Queues) Fill(t *persistence.Ticket) {
	if t.Status != persistence.TicketWaiting {
		return
	}
	pid := q.env.dir.Load().servicePID(t.ServiceType)
	if pid == nil {
		return
	}
	p, err := askActor(q.env, pid, func(ch chan position) any { return &getPosition{id: t.ID, reply: ch} })
	if err == nil && p.ok {
		t.Position, t.EstimatedWaitSeconds = &p.position, p.estimate
	}
}

// States returns every service's live figures, ordered by service name.
func (q *Queues) States() ([]State, error) {
	dir := q.env.dir.Load()
	names := make([]string, 0, len(dir.servicePIDs))
	for n := range dir.servicePIDs {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]State, 0, len(names))
	for _, n := range names {
		st, err := askActor(q.env, dir.servicePIDs[n], func(ch chan State) any { return &getState{reply: ch} })
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
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
