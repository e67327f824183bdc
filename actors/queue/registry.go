package queue

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/queuecast/queuecast/actors/ask"
	"github.com/queuecast/queuecast/persistence"
)

// serviceEntry is a service, its actor and the view the actor publishes.
type serviceEntry struct {
	svc  persistence.Service
	pid  *actor.PID
	view *atomic.Pointer[serviceView]
}

// counterEntry is a counter's actor and the view it publishes.
type counterEntry struct {
	pid  *actor.PID
	view *atomic.Pointer[counterView]
}

// directory is an immutable snapshot of the services and counters and their
// actors. The registry replaces it whole; readers Load it without asking.
type directory struct {
	services map[string]*serviceEntry // by name
	counters map[string]*counterEntry // by id
}

func (d *directory) servicePID(name string) *actor.PID {
	if d == nil || d.services[name] == nil {
		return nil
	}
	return d.services[name].pid
}

// service returns a service by name.
func (d *directory) service(name string) (persistence.Service, bool) {
	if d == nil || d.services[name] == nil {
		return persistence.Service{}, false
	}
	return d.services[name].svc, true
}

// serviceView returns the named service's latest view, nil if it has none
// yet.
func (d *directory) serviceView(name string) *serviceView {
	if d == nil || d.services[name] == nil {
		return nil
	}
	return d.services[name].view.Load()
}

func (d *directory) clone() *directory {
	n := &directory{
		services: make(map[string]*serviceEntry, len(d.services)+1),
		counters: make(map[string]*counterEntry, len(d.counters)+1),
	}
	for k, v := range d.services {
		n.services[k] = v
	}
	for k, v := range d.counters {
		n.counters[k] = v
	}
	return n
}

// loaded reports whether every actor has published its first view.
func (d *directory) loaded() bool {
	for _, e := range d.services {
		if e.view.Load() == nil {
			return false
		}
	}
	for _, e := range d.counters {
		if e.view.Load() == nil {
			return false
		}
	}
	return true
}

// registry spawns the service and counter actors as its children, keeps the
// directory and runs the service-day rollover.
type registry struct {
	env   *env
	dir   *directory
	day   string
	timer *time.Timer
}

func newRegistryProps(e *env) *actor.Props {
	return actor.PropsFromProducer(func() actor.Actor { return &registry{env: e} },
		actor.WithSupervisor(actor.NewOneForOneStrategy(10, 10*time.Second, actor.DefaultDecider)))
}

func (r *registry) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		r.start(ctx)
	case *actor.Stopping, *actor.Restarting:
		// A restart runs Started again, which arms a new timer.
		r.stopTimer()
	case *actor.Stopped:
	case *addService:
		m.reply <- r.addService(ctx, m)
	case *addCounter:
		m.reply <- r.addCounter(ctx, m)
	case *dayTick:
		r.rollover()
		r.armTimer(ctx.Self())
	default:
		r.env.log.Debug("queue registry: unknown message", slog.Any("type", m))
	}
}

func (r *registry) start(ctx actor.Context) {
	r.dir = &directory{services: map[string]*serviceEntry{}, counters: map[string]*counterEntry{}}
	// Expire yesterday's leftovers before the service actors load their lines.
	r.rollover()
	c, cancel := context.WithTimeout(context.Background(), loadTimeout)
	defer cancel()
	svcs, err := r.env.store.ListServices(c)
	if err != nil {
		panic(err)
	}
	for _, s := range svcs {
		r.dir.services[s.Name] = r.spawnService(ctx, s)
	}
	counters, err := r.env.store.ListCounters(c)
	if err != nil {
		panic(err)
	}
	for _, k := range counters {
		r.dir.counters[k.ID] = r.spawnCounter(ctx, k.ID)
	}
	r.env.dir.Store(r.dir)
	r.armTimer(ctx.Self())
}

func (r *registry) spawnService(ctx actor.Context, s persistence.Service) *serviceEntry {
	e := &serviceEntry{svc: s, view: &atomic.Pointer[serviceView]{}}
	e.pid = ctx.Spawn(newServiceProps(r.env, s, e.view))
	return e
}

func (r *registry) spawnCounter(ctx actor.Context, id string) *counterEntry {
	e := &counterEntry{view: &atomic.Pointer[counterView]{}}
	e.pid = ctx.Spawn(newCounterProps(r.env, id, e.view))
	return e
}

// armTimer schedules the next service-day check. It is a one-shot timer
// re-armed by each tick, stopped when the registry stops or restarts, so
// no goroutine outlives the actor.
func (r *registry) armTimer(self *actor.PID) {
	r.stopTimer()
	sys := r.env.sys
	r.timer = time.AfterFunc(r.env.dayCheck, func() { sys.Root.Send(self, &dayTick{}) })
}

func (r *registry) stopTimer() {
	if r.timer != nil {
		r.timer.Stop()
		r.timer = nil
	}
}

func (r *registry) addService(ctx actor.Context, m *addService) serviceResult {
	if !m.req.Begin() {
		return serviceResult{err: ErrTimeout}
	}
	c, cancel := m.req.WorkContext()
	defer cancel()
	s, err := r.env.store.CreateService(c, m.in)
	if err != nil {
		return serviceResult{err: err}
	}
	d := r.dir.clone()
	d.services[s.Name] = r.spawnService(ctx, s)
	r.dir = d
	r.env.dir.Store(d)
	return serviceResult{service: s}
}

func (r *registry) addCounter(ctx actor.Context, m *addCounter) counterResult {
	if !m.req.Begin() {
		return counterResult{err: ErrTimeout}
	}
	c, cancel := m.req.WorkContext()
	defer cancel()
	k, err := r.env.store.CreateCounter(c, m.in)
	if err != nil {
		return counterResult{err: err}
	}
	d := r.dir.clone()
	d.counters[k.ID] = r.spawnCounter(ctx, k.ID)
	r.dir = d
	r.env.dir.Store(d)
	if k.Status == persistence.CounterOpen {
		for _, name := range k.Services {
			if pid := d.servicePID(name); pid != nil {
				ctx.Send(pid, &counterOpen{counterID: k.ID, open: true})
			}
		}
	}
	return counterResult{counter: k}
}

// rollover expires the waiting tickets of earlier service days when the day
// in QUEUE_TIMEZONE changes, and lets each service actor announce them.
// Numbering restarts by itself: the Store counts per service day. Keys of
// idempotent requests older than idempotencyRetention are forgotten then.
func (r *registry) rollover() {
	now := r.env.now()
	today := persistence.ServiceDay(now, r.env.loc)
	if today == r.day {
		return
	}
	c, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	gone, err := r.env.store.ExpireBefore(c, today, persistence.Stamp{At: now})
	if err != nil {
		return // the store logged it; retried at the next tick
	}
	r.day = today
	if len(gone) > 0 {
		r.env.log.Info("queue: service day rolled over", slog.String("day", today), slog.Int("expired", len(gone)))
	}
	if n, err := r.env.store.PurgeIdempotencyKeys(c, now.Add(-idempotencyRetention)); err == nil && n > 0 {
		r.env.log.Info("queue: forgot idempotency keys", slog.Int("keys", n))
	}
	by := map[string][]persistence.Ticket{}
	for _, t := range gone {
		by[t.ServiceType] = append(by[t.ServiceType], t)
	}
	for name, ts := range by {
		if pid := r.dir.servicePID(name); pid != nil {
			r.env.sys.Root.Send(pid, &expired{tickets: ts})
		}
	}
}

// idempotencyRetention is how long an Idempotency-Key is remembered.
const idempotencyRetention = 24 * time.Hour

// env is what every queue actor shares: read-only after Start, except the
// directory pointer, which only the registry stores.
type env struct {
	sys      *actor.ActorSystem
	store    persistence.Store
	ann      *announcer
	log      *slog.Logger
	loc      *time.Location
	ageing   time.Duration
	dayCheck time.Duration
	timeout  time.Duration
	now      func() time.Time
	dir      atomic.Pointer[directory]
}

// request starts the Request of a command from outside the actors.
func (e *env) request(ctx context.Context) *ask.Request { return ask.NewRequest(ctx, e.timeout) }
