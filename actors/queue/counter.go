package queue

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/queuecast/queuecast/actors/rooms"
	"github.com/queuecast/queuecast/persistence"
)

// counterActor owns one counter's status and current ticket, loaded from the
// database on start.
type counterActor struct {
	env     *env
	id      string
	c       persistence.Counter
	current *persistence.Ticket
	// mean is the EWMA of completed service times in seconds; zero until
	// seeded from the services' defaults.
	mean float64
	// idleSince is when the counter last had nothing to serve.
	idleSince time.Time
}

func newCounterProps(e *env, id string) *actor.Props {
	return actor.PropsFromProducer(func() actor.Actor { return &counterActor{env: e, id: id} })
}

func (a *counterActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		a.load()
	case *actor.Restarting, *actor.Stopping, *actor.Stopped:
	case *callNext:
		m.reply <- a.callNext(m)
	case *setStatus:
		m.reply <- a.setStatus(m)
	case *move:
		m.reply <- a.move(m)
	case *getCounterState:
		m.reply <- a.state()
	default:
		a.env.log.Debug("queue counter: unknown message", slog.Any("type", m))
	}
}

func (a *counterActor) load() {
	ctx, cancel := context.WithTimeout(context.Background(), loadTimeout)
	defer cancel()
	c, err := a.env.store.GetCounter(ctx, a.id)
	if err != nil {
		panic(err)
	}
	a.c, a.current, a.idleSince = c, nil, a.env.now()
	if c.CurrentTicketID != nil {
		t, err := a.env.store.GetTicket(ctx, *c.CurrentTicketID)
		if err != nil {
			panic(err)
		}
		a.current = &t
	}
}

func (a *counterActor) callNext(m *callNext) callResult {
	switch {
	case a.c.Status != persistence.CounterOpen:
		return callResult{err: persistence.ErrCounterNotOpen}
	case a.current != nil:
		return callResult{err: persistence.ErrCounterBusy}
	}
	dir := a.env.dir.Load()
	// Peek every service's head, then take from the one whose head has the
	// largest score. If that head went meanwhile, take gives the next one.
	var best *actor.PID
	bestScore := -1.0
	for _, name := range a.c.Services {
		pid := dir.servicePID(name)
		if pid == nil {
			continue
		}
		h, err := askActor(a.env, pid, func(ch chan headResult) any { return &peekHead{reply: ch} })
		if err != nil {
			return callResult{err: err}
		}
		if h.ticket != nil && h.score > bestScore {
			best, bestScore = pid, h.score
		}
	}
	if best == nil {
		return callResult{err: ErrNothingWaiting}
	}
	r, err := askActor(a.env, best, func(ch chan ticketResult) any {
		return &takeHead{counter: a.c, by: m.by, reply: ch}
	})
	if err == nil {
		err = r.err
	}
	if err != nil {
		return callResult{err: err}
	}
	t := r.ticket
	a.current = &t
	a.c.CurrentTicketID = &t.ID
	a.idleSince = time.Time{}
	return callResult{ticket: t, counter: a.c}
}

func (a *counterActor) setStatus(m *setStatus) counterResult {
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	c, prev, err := a.env.store.SetCounterStatus(ctx, a.id, m.status, m.by)
	if err != nil {
		return counterResult{err: err}
	}
	a.c = c
	if prev != c.Status {
		if c.Status == persistence.CounterOpen {
			a.idleSince = a.env.now()
		}
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

func (a *counterActor) move(m *move) ticketResult {
	if a.current == nil || a.current.ID != m.ticketID {
		return ticketResult{err: fmt.Errorf("ticket is not served at this counter: %w", persistence.ErrIllegalMove)}
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
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
		to, ok := dir.services[m.toService]
		if !ok {
			return ticketResult{err: fmt.Errorf("service %q: %w", m.toService, persistence.ErrNotFound)}
		}
		t, err = a.env.store.TransferTicket(ctx, m.ticketID, to.ID, m.by)
		event = EventTicketTransferred
	}
	if err != nil {
		return ticketResult{err: err}
	}
	if m.kind == moveRecall {
		a.current = &t
		c := a.c
		a.env.ann.ticket(event, t, &c)
		return ticketResult{ticket: t}
	}
	c := a.c
	a.current, a.c.CurrentTicketID = nil, nil
	a.idleSince = a.env.now()
	done := &finished{ticketID: t.ID, completed: m.kind == moveComplete}
	if m.kind == moveComplete && t.CalledAt != nil && t.CompletedAt != nil {
		done.served = t.CompletedAt.Sub(t.CalledAt.Time)
		if done.served > 0 {
			a.mean = ewmaAlpha*done.served.Seconds() + (1-ewmaAlpha)*a.seedMean()
		}
	}
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
	var services map[string]persistence.Service
	if dir := a.env.dir.Load(); dir != nil {
		services = dir.services
	}
	sum, n := 0, 0
	for _, name := range a.c.Services {
		if svc, ok := services[name]; ok && svc.DefaultServiceSeconds > 0 {
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

func (a *counterActor) state() CounterState {
	st := CounterState{
		ID: a.c.ID, Name: a.c.Name, Services: a.c.Services, Status: a.c.Status,
		MeanServiceSeconds: a.seedMean(),
	}
	if a.current != nil {
		id, display := a.current.ID, a.current.DisplayNumber
		st.CurrentTicketID, st.CurrentTicket = &id, &display
	} else if a.c.Status == persistence.CounterOpen && !a.idleSince.IsZero() {
		st.IdleSeconds = max(0, int(a.env.now().Sub(a.idleSince).Seconds()))
	}
	return st
}
