package queue

import (
	"time"

	"github.com/queuecast/queuecast/persistence"
)

// serviceView is an immutable copy of one service actor's line. The actor
// publishes a new one after every change; readers (GET /api/queues,
// positions, the counters choosing whom to call, the metrics) Load it
// without asking the actor, so they never wait behind a database call the
// actor is in.
type serviceView struct {
	svc     persistence.Service
	waiting []persistence.Ticket
	serving []time.Time // last call of each ticket being served
	open    int         // counters open for the service
	mean    float64     // EWMA of service times, seconds
	ageing  time.Duration
}

// best returns the index of the ticket to call next, or -1.
func (v *serviceView) best(now time.Time) int {
	bi := -1
	for i := range v.waiting {
		if bi < 0 || before(&v.waiting[i], &v.waiting[bi], now, v.ageing) {
			bi = i
		}
	}
	return bi
}

// headScore is the score of the ticket best returns; ok is false with
// nobody waiting.
func (v *serviceView) headScore(now time.Time) (float64, bool) {
	i := v.best(now)
	if i < 0 {
		return 0, false
	}
	return score(&v.waiting[i], now, v.ageing), true
}

// remaining is the expected time left of the tickets being served.
func (v *serviceView) remaining(now time.Time) float64 {
	var r float64
	for _, at := range v.serving {
		if left := v.mean - now.Sub(at).Seconds(); left > 0 {
			r += left
		}
	}
	return r
}

// position is a waiting ticket's 1-based place in the current order and its
// own estimate (the tickets ahead of it instead of the whole line).
func (v *serviceView) position(id string, now time.Time) position {
	var me *persistence.Ticket
	for i := range v.waiting {
		if v.waiting[i].ID == id {
			me = &v.waiting[i]
		}
	}
	if me == nil {
		return position{}
	}
	ahead := 0
	for i := range v.waiting {
		if v.waiting[i].ID != id && before(&v.waiting[i], me, now, v.ageing) {
			ahead++
		}
	}
	return position{position: ahead + 1, estimate: estimate(ahead, v.mean, v.remaining(now), v.open), ok: true}
}

// fill sets a waiting ticket's position and estimate.
func (v *serviceView) fill(t *persistence.Ticket, now time.Time) {
	if p := v.position(t.ID, now); p.ok {
		t.Position, t.EstimatedWaitSeconds = &p.position, p.estimate
	}
}

func (v *serviceView) state(now time.Time) State {
	st := State{
		ServiceType: v.svc.Name, Waiting: len(v.waiting), Serving: len(v.serving), OpenCounters: v.open,
		MeanServiceSeconds:   v.mean,
		EstimatedWaitSeconds: estimate(len(v.waiting), v.mean, v.remaining(now), v.open),
	}
	for i := range v.waiting {
		if w := int(now.Sub(v.waiting[i].QueuedAt.Time).Seconds()); w > st.LongestWaitSeconds {
			st.LongestWaitSeconds = w
		}
	}
	return st
}

// counterView is an immutable copy of one counter actor's state, published
// after every change and read without asking.
type counterView struct {
	c       persistence.Counter
	current *persistence.Ticket
	// mean is the EWMA of the counter's completed service times, seeded
	// with the mean default of its services.
	mean float64
	// idleSince is when the counter last had nothing to serve.
	idleSince time.Time
}

func (v *counterView) state(now time.Time) CounterState {
	st := CounterState{
		ID: v.c.ID, Name: v.c.Name, Services: v.c.Services, Status: v.c.Status,
		MeanServiceSeconds: v.mean,
	}
	if v.current != nil {
		id, display := v.current.ID, v.current.DisplayNumber
		st.CurrentTicketID, st.CurrentTicket = &id, &display
	} else if v.c.Status == persistence.CounterOpen && !v.idleSince.IsZero() {
		st.IdleSeconds = max(0, int(now.Sub(v.idleSince).Seconds()))
	}
	return st
}
