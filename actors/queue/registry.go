package queue

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/queuecast/queuecast/persistence"
)

// directory is an immutable snapshot of the services and counters and their
// actors. The registry replaces it whole; readers Load it without asking.
type directory struct {
	services    map[string]persistence.Service // by name
	servicePIDs map[string]*actor.PID          // by name
	counters    map[string]*actor.PID          // by id
}

func (d *directory) servicePID(name string) *actor.PID {
	if d == nil {
		return nil
	}
	return d.servicePIDs[name]
}

func (d *directory) clone() *directory {
	n := &directory{
		services:    make(map[string]persistence.Service, len(d.services)+1),
		servicePIDs: make(map[string]*actor.PID, len(d.servicePIDs)+1),
		counters:    make(map[string]*actor.PID, len(d.counters)+1),
	}
	for k, v := range d.services {
		n.services[k] = v
	}
	for k, v := range d.servicePIDs {
		n.servicePIDs[k] = v
	}
	for k, v := range d.counters {
		n.counters[k] = v
	}
	return n
}

// registry spawns the service and counter actors as its children, keeps the
// directory and runs the service-day rollover.
type registry struct {
	env  *env
	dir  *directory
	day  string
	stop chan struct{}
}

func newRegistryProps(e *env) *actor.Props {
	return actor.PropsFromProducer(func() actor.Actor { return &registry{env: e} },
		actor.WithSupervisor(actor.NewOneForOneStrategy(10, 10*time.Second, actor.DefaultDecider)))
}

func (r *registry) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		r.start(ctx)
	case *actor.Stopping:
		if r.stop != nil {
			close(r.stop)
			r.stop = nil
		}
	case *actor.Restarting, *actor.Stopped:
	case *addService:
		m.reply <- r.addService(ctx, m)
	case *addCounter:
		m.reply <- r.addCounter(ctx, m)
	case *dayTick:
		r.rollover()
	default:
		r.env.log.Debug("queue registry: unknown message", slog.Any("type", m))
	}
}

func (r *registry) start(ctx actor.Context) {
	r.dir = &directory{services: map[string]persistence.Service{}, servicePIDs: map[string]*actor.PID{}, counters: map[string]*actor.PID{}}
	// Expire yesterday's leftovers before the service actors load their lines.
	r.rollover()
	c, cancel := context.WithTimeout(context.Background(), loadTimeout)
	defer cancel()
	svcs, err := r.env.store.ListServices(c)
	if err != nil {
		panic(err)
	}
	for _, s := range svcs {
		r.dir.services[s.Name] = s
		r.dir.servicePIDs[s.Name] = ctx.Spawn(newServiceProps(r.env, s))
	}
	counters, err := r.env.store.ListCounters(c)
	if err != nil {
		panic(err)
	}
	for _, k := range counters {
		r.dir.counters[k.ID] = ctx.Spawn(newCounterProps(r.env, k.ID))
	}
	r.env.dir.Store(r.dir)
	r.stop = make(chan struct{})
	go ticker(r.env, ctx.Self(), r.stop)
}

// ticker asks the registry to check the service day every DayCheckInterval.
func ticker(e *env, self *actor.PID, stop <-chan struct{}) {
	t := time.NewTicker(e.dayCheck)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			e.sys.Root.Send(self, &dayTick{})
		}
	}
}

func (r *registry) addService(ctx actor.Context, m *addService) serviceResult {
	c, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	s, err := r.env.store.CreateService(c, m.in)
	if err != nil {
		return serviceResult{err: err}
	}
	d := r.dir.clone()
	d.services[s.Name] = s
	d.servicePIDs[s.Name] = ctx.Spawn(newServiceProps(r.env, s))
	r.dir = d
	r.env.dir.Store(d)
	return serviceResult{service: s}
}

func (r *registry) addCounter(ctx actor.Context, m *addCounter) counterResult {
	c, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	k, err := r.env.store.CreateCounter(c, m.in)
	if err != nil {
		return counterResult{err: err}
	}
	d := r.dir.clone()
	d.counters[k.ID] = ctx.Spawn(newCounterProps(r.env, k.ID))
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
// Numbering restarts by itself: the Store counts per service day.
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
		r.env.log.Error("queue: expire tickets", slog.String("day", today), slog.Any("err", err))
		return // retried at the next tick
	}
	r.day = today
	if len(gone) > 0 {
		r.env.log.Info("queue: service day rolled over", slog.String("day", today), slog.Int("expired", len(gone)))
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
	now      func() time.Time
	dir      atomic.Pointer[directory]
}
