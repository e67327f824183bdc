package queue

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/queuecast/queuecast/persistence"
)

// serviceActor owns one service's waiting line. Its state is a cache of the
// database, loaded on start: waiting tickets, tickets being served for it,
// its open counters and the EWMA of service times.
type serviceActor struct {
	env     *env
	svc     persistence.Service
	waiting []persistence.Ticket
	serving map[string]time.Time // ticket id -> last call
	open    map[string]bool
	mean    float64 // seconds
}

func newServiceProps(e *env, svc persistence.Service) *actor.Props {
	return actor.PropsFromProducer(func() actor.Actor {
		return &serviceActor{env: e, svc: svc}
	})
}

func (s *serviceActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		s.load()
	case *actor.Restarting, *actor.Stopping, *actor.Stopped:
	case *createTicket:
		m.reply <- s.create(m)
	case *peekHead:
		m.reply <- s.peek()
	case *takeHead:
		m.reply <- s.take(m)
	case *cancelTicket:
		m.reply <- s.cancel(m)
	case *requeued:
		s.waiting = append(s.waiting, m.ticket)
		s.announceQueue()
	case *finished:
		s.finish(m)
	case *counterOpen:
		s.setOpen(m)
	case *expired:
		s.expire(m)
	case *getPosition:
		m.reply <- s.position(m.id)
	case *getState:
		m.reply <- s.state()
	default:
		s.env.log.Debug("queue service: unknown message", slog.Any("type", m))
	}
}

func (s *serviceActor) load() {
	ctx, cancel := context.WithTimeout(context.Background(), loadTimeout)
	defer cancel()
	s.serving = map[string]time.Time{}
	s.open = map[string]bool{}
	s.mean = float64(s.svc.DefaultServiceSeconds)
	if s.mean <= 0 {
		s.mean = persistence.DefaultServiceSeconds
	}
	w, err := s.env.store.ListWaiting(ctx, s.svc.ID)
	if err != nil {
		panic(err) // the supervisor restarts the actor, which reloads
	}
	s.waiting = w
	serving, _, err := s.env.store.ListTickets(ctx, persistence.TicketFilter{
		Statuses: []persistence.TicketStatus{persistence.TicketServing}, ServiceID: s.svc.ID, Limit: persistence.MaxPageSize,
	})
	if err != nil {
		panic(err)
	}
	for _, t := range serving {
		s.serving[t.ID] = lastCall(t)
	}
	counters, err := s.env.store.ListCounters(ctx)
	if err != nil {
		panic(err)
	}
	for _, c := range counters {
		if c.Status == persistence.CounterOpen && contains(c.ServiceIDs, s.svc.ID) {
			s.open[c.ID] = true
		}
	}
}

func (s *serviceActor) create(m *createTicket) ticketResult {
	in := m.in
	in.ServiceID = s.svc.ID
	in.ServiceDay = persistence.ServiceDay(s.env.now(), s.env.loc)
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	t, err := s.env.store.CreateTicket(ctx, in, m.by)
	if err != nil {
		return ticketResult{err: err}
	}
	s.waiting = append(s.waiting, t)
	s.fill(&t)
	s.env.ann.ticket(EventTicketCreated, t, nil)
	s.announceQueue()
	return ticketResult{ticket: t}
}

// best returns the index of the ticket to call next, or -1.
func (s *serviceActor) best() int {
	now := s.env.now()
	bi := -1
	for i := range s.waiting {
		if bi < 0 || before(&s.waiting[i], &s.waiting[bi], now, s.env.ageing) {
			bi = i
		}
	}
	return bi
}

func (s *serviceActor) peek() headResult {
	i := s.best()
	if i < 0 {
		return headResult{}
	}
	t := s.waiting[i]
	return headResult{ticket: &t, score: score(&t, s.env.now(), s.env.ageing)}
}

func (s *serviceActor) take(m *takeHead) ticketResult {
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	for {
		i := s.best()
		if i < 0 {
			return ticketResult{err: ErrNothingWaiting}
		}
		id := s.waiting[i].ID
		t, err := s.env.store.CallTicket(ctx, m.counter.ID, id, m.by)
		if errors.Is(err, persistence.ErrIllegalMove) || errors.Is(err, persistence.ErrNotFound) {
			// Another node moved it: it is not waiting here any more.
			s.remove(id)
			continue
		}
		if err != nil {
			return ticketResult{err: err}
		}
		s.remove(id)
		s.serving[t.ID] = lastCall(t)
		c := m.counter
		c.CurrentTicketID = &t.ID
		s.env.ann.ticket(EventTicketServing, t, &c)
		s.announceQueue()
		return ticketResult{ticket: t}
	}
}

func (s *serviceActor) cancel(m *cancelTicket) ticketResult {
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	t, err := s.env.store.CancelTicket(ctx, m.id, m.by)
	if err != nil {
		return ticketResult{err: err}
	}
	s.remove(t.ID)
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
	s.announceQueue()
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
	s.announceQueue()
}

func (s *serviceActor) expire(m *expired) {
	for _, t := range m.tickets {
		s.remove(t.ID)
		s.env.ann.ticket(EventTicketExpired, t, nil)
	}
	s.announceQueue()
}

func (s *serviceActor) remove(id string) {
	for i := range s.waiting {
		if s.waiting[i].ID == id {
			s.waiting = append(s.waiting[:i], s.waiting[i+1:]...)
			return
		}
	}
}

// remaining is the expected time left of the tickets being served.
func (s *serviceActor) remaining() float64 {
	now := s.env.now()
	var r float64
	for _, at := range s.serving {
		if left := s.mean - now.Sub(at).Seconds(); left > 0 {
			r += left
		}
	}
	return r
}

// position is a waiting ticket's 1-based place in the current order and its
// own estimate (the tickets ahead of it instead of the whole line).
func (s *serviceActor) position(id string) position {
	now := s.env.now()
	var me *persistence.Ticket
	for i := range s.waiting {
		if s.waiting[i].ID == id {
			me = &s.waiting[i]
		}
	}
	if me == nil {
		return position{}
	}
	ahead := 0
	for i := range s.waiting {
		if s.waiting[i].ID != id && before(&s.waiting[i], me, now, s.env.ageing) {
			ahead++
		}
	}
	return position{position: ahead + 1, estimate: estimate(ahead, s.mean, s.remaining(), len(s.open)), ok: true}
}

func (s *serviceActor) fill(t *persistence.Ticket) {
	if p := s.position(t.ID); p.ok {
		t.Position, t.EstimatedWaitSeconds = &p.position, p.estimate
	}
}

func (s *serviceActor) state() State {
	now := s.env.now()
	st := State{
		ServiceType: s.svc.Name, Waiting: len(s.waiting), Serving: len(s.serving), OpenCounters: len(s.open),
		MeanServiceSeconds:   s.mean,
		EstimatedWaitSeconds: estimate(len(s.waiting), s.mean, s.remaining(), len(s.open)),
	}
	for i := range s.waiting {
		if w := int(now.Sub(s.waiting[i].QueuedAt.Time).Seconds()); w > st.LongestWaitSeconds {
			st.LongestWaitSeconds = w
		}
	}
	return st
}

func (s *serviceActor) announceQueue() { s.env.ann.queue(s.state()) }

func lastCall(t persistence.Ticket) time.Time {
	if t.LastCalledAt != nil {
		return t.LastCalledAt.Time
	}
	if t.CalledAt != nil {
		return t.CalledAt.Time
	}
	return t.CreatedAt.Time
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
