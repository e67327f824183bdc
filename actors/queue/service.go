package queue

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/queuecast/queuecast/persistence"
)

// serviceActor owns one service's waiting line. Its state is a cache of the
// database: waiting tickets, tickets being served for it, its open counters
// and the EWMA of service times. It publishes an immutable serviceView after
// every change, which is what readers see.
//
// A command whose commit may or may not have happened is settled by reading
// the database before answering; when even that read fails the actor marks
// itself stale and reloads its line until a reload works, so a committed
// ticket always reaches the line.
type serviceActor struct {
	env     *env
	svc     persistence.Service
	view    *atomic.Pointer[serviceView]
	self    *actor.PID
	waiting []persistence.Ticket
	serving map[string]time.Time // ticket id -> last call
	open    map[string]bool
	mean    float64 // seconds
	loaded  bool
	reload  reloader
}

func newServiceProps(e *env, svc persistence.Service, view *atomic.Pointer[serviceView]) *actor.Props {
	return actor.PropsFromProducer(func() actor.Actor {
		return &serviceActor{env: e, svc: svc, view: view}
	})
}

func (s *serviceActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		s.self = ctx.Self()
		s.refresh()
	case *actor.Stopping, *actor.Restarting:
		s.reload.stop()
	case *actor.Stopped:
	case *createTicket:
		m.reply <- s.create(m)
	case *takeHead:
		ctx.Send(m.replyTo, &taken{call: m.call, result: s.take(m), tried: s.svc.Name})
	case *cancelTicket:
		m.reply <- s.cancel(m)
	case *requeued:
		s.add(m.ticket)
		s.changed()
	case *finished:
		s.finish(m)
	case *counterOpen:
		s.setOpen(m)
	case *expired:
		s.expire(m)
	case *reload:
		s.reload.fired()
		s.refresh()
	default:
		s.env.log.Debug("queue service: unknown message", slog.Any("type", m))
	}
}

// load reads the line from the database.
func (s *serviceActor) load(ctx context.Context) error {
	w, err := s.env.store.ListWaiting(ctx, s.svc.ID)
	if err != nil {
		return err
	}
	serving, _, err := s.env.store.ListTickets(ctx, persistence.TicketFilter{
		Statuses: []persistence.TicketStatus{persistence.TicketServing}, ServiceID: s.svc.ID, Limit: persistence.MaxPageSize,
	})
	if err != nil {
		return err
	}
	counters, err := s.env.store.ListCounters(ctx)
	if err != nil {
		return err
	}
	if !s.loaded {
		s.mean = float64(s.svc.DefaultServiceSeconds)
		if s.mean <= 0 {
			s.mean = persistence.DefaultServiceSeconds
		}
	}
	s.waiting = w
	s.serving = make(map[string]time.Time, len(serving))
	for _, t := range serving {
		s.serving[t.ID] = lastCall(t)
	}
	s.open = map[string]bool{}
	for _, c := range counters {
		if c.Status == persistence.CounterOpen && slices.Contains(c.ServiceIDs, s.svc.ID) {
			s.open[c.ID] = true
		}
	}
	s.loaded = true
	s.reload.done()
	return nil
}

// refresh reloads the line now, or later with backoff while the database
// fails; a line that changed is announced.
func (s *serviceActor) refresh() {
	ctx, cancel := context.WithTimeout(context.Background(), s.loadBound())
	defer cancel()
	first := !s.loaded
	if err := s.load(ctx); err != nil {
		s.reload.later(s.env.sys, s.self)
		return
	}
	s.publish()
	if !first {
		s.announceQueue()
	}
}

// loadBound is the first load's time (the node is starting), or a
// reload's, which holds up the actor's mailbox and so is kept short.
func (s *serviceActor) loadBound() time.Duration {
	if s.loaded {
		return reloadTimeout
	}
	return loadTimeout
}

// ready loads a line that was never loaded, within the command's time.
func (s *serviceActor) ready(ctx context.Context) error {
	if s.loaded {
		return nil
	}
	if err := s.load(ctx); err != nil {
		return err
	}
	s.publish()
	return nil
}

// stale makes the actor reload its line soon: an outcome it could not
// settle may have changed the database behind it.
func (s *serviceActor) stale() { s.reload.later(s.env.sys, s.self) }

func (s *serviceActor) create(m *createTicket) ticketResult {
	if !m.req.Begin() {
		return ticketResult{err: ErrTimeout}
	}
	ctx, cancel := m.req.WorkContext()
	defer cancel()
	if err := s.ready(ctx); err != nil {
		return ticketResult{err: err}
	}
	in := m.in
	in.ID = persistence.NewID()
	in.ServiceID = s.svc.ID
	in.ServiceDay = persistence.ServiceDay(s.env.now(), s.env.loc)
	t, err := s.env.store.CreateTicket(ctx, in, m.by)
	if errors.Is(err, persistence.ErrReplayed) {
		if t.Status == persistence.TicketWaiting && t.ServiceType == s.svc.Name && s.add(t) {
			s.changed()
		}
		s.current().fill(&t, s.env.now())
		return ticketResult{ticket: t, replayed: true}
	}
	if uncertain(err) {
		if got, ok := settle(s.env, in.ID, exists, s.stale); ok {
			t, err = got, nil
		}
	}
	if err != nil {
		return ticketResult{err: err}
	}
	s.add(t)
	s.publish()
	s.current().fill(&t, s.env.now())
	s.env.ann.ticket(EventTicketCreated, t, nil)
	s.announceQueue()
	return ticketResult{ticket: t}
}

func (s *serviceActor) take(m *takeHead) ticketResult {
	if !m.req.Begin() {
		return ticketResult{err: ErrTimeout}
	}
	ctx, cancel := m.req.WorkContext()
	defer cancel()
	if err := s.ready(ctx); err != nil {
		return ticketResult{err: err}
	}
	for {
		i := s.current().best(s.env.now())
		if i < 0 {
			return ticketResult{err: ErrNothingWaiting}
		}
		id := s.waiting[i].ID
		t, err := s.env.store.CallTicket(ctx, m.counter.ID, id, m.by)
		switch {
		case errors.Is(err, persistence.ErrReplayed):
			return ticketResult{ticket: t, replayed: true}
		case errors.Is(err, persistence.ErrIllegalMove):
			// Another node moved it: it is not waiting here any more.
			s.remove(id)
			s.publish()
			continue
		case uncertain(err):
			got, ok := settle(s.env, id, func(t persistence.Ticket) bool {
				return t.Status == persistence.TicketServing && t.CounterID != nil && *t.CounterID == m.counter.ID
			}, s.stale)
			if !ok {
				return ticketResult{err: err}
			}
			t = got
		case err != nil:
			return ticketResult{err: err}
		}
		s.remove(id)
		s.serving[t.ID] = lastCall(t)
		s.publish()
		c := m.counter
		c.CurrentTicketID = &t.ID
		s.env.ann.ticket(EventTicketServing, t, &c)
		s.announceQueue()
		return ticketResult{ticket: t}
	}
}

func (s *serviceActor) cancel(m *cancelTicket) ticketResult {
	if !m.req.Begin() {
		return ticketResult{err: ErrTimeout}
	}
	ctx, cancel := m.req.WorkContext()
	defer cancel()
	t, err := s.env.store.CancelTicket(ctx, m.id, m.by)
	if uncertain(err) {
		if got, ok := settle(s.env, m.id, func(t persistence.Ticket) bool { return t.Status == persistence.TicketCancelled }, s.stale); ok {
			t, err = got, nil
		}
	}
	if err != nil {
		return ticketResult{err: err}
	}
	s.remove(t.ID)
	s.publish()
	s.env.ann.ticket(EventTicketCancelled, t, nil)
	s.announceQueue()
	return ticketResult{ticket: t}
}

func (s *serviceActor) finish(m *finished) {
	if _, ok := s.serving[m.ticketID]; !ok {
		return
	}
	delete(s.serving, m.ticketID)
	if m.completed && m.served > 0 {
		s.mean = ewmaAlpha*m.served.Seconds() + (1-ewmaAlpha)*s.mean
	}
	s.changed()
}

func (s *serviceActor) setOpen(m *counterOpen) {
	if s.open[m.counterID] == m.open {
		return
	}
	if m.open {
		s.open[m.counterID] = true
	} else {
		delete(s.open, m.counterID)
	}
	s.changed()
}

func (s *serviceActor) expire(m *expired) {
	for _, t := range m.tickets {
		s.remove(t.ID)
	}
	s.publish()
	for _, t := range m.tickets {
		s.env.ann.ticket(EventTicketExpired, t, nil)
	}
	s.announceQueue()
}

// add puts a waiting ticket in the line unless it is there already, and
// reports whether it added it.
func (s *serviceActor) add(t persistence.Ticket) bool {
	for i := range s.waiting {
		if s.waiting[i].ID == t.ID {
			return false
		}
	}
	s.waiting = append(s.waiting, t)
	return true
}

func (s *serviceActor) remove(id string) {
	for i := range s.waiting {
		if s.waiting[i].ID == id {
			s.waiting = append(s.waiting[:i], s.waiting[i+1:]...)
			return
		}
	}
}

// publish replaces the view with a copy of the current state.
func (s *serviceActor) publish() {
	v := &serviceView{svc: s.svc, waiting: slices.Clone(s.waiting), open: len(s.open), mean: s.mean, ageing: s.env.ageing}
	v.serving = make([]time.Time, 0, len(s.serving))
	for _, at := range s.serving {
		v.serving = append(v.serving, at)
	}
	s.view.Store(v)
}

// current is the view of the state as it is now (published after every
// change).
func (s *serviceActor) current() *serviceView { return s.view.Load() }

// changed publishes and announces the line.
func (s *serviceActor) changed() {
	s.publish()
	s.announceQueue()
}

func (s *serviceActor) announceQueue() { s.env.ann.queue(s.current().state(s.env.now())) }

func lastCall(t persistence.Ticket) time.Time {
	if t.LastCalledAt != nil {
		return t.LastCalledAt.Time
	}
	if t.CalledAt != nil {
		return t.CalledAt.Time
	}
	return t.CreatedAt.Time
}
