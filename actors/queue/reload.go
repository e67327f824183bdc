package queue

import (
	"context"
	"errors"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/queuecast/queuecast/persistence"
)

// Reload backoff bounds.
const (
	reloadFirst = 250 * time.Millisecond
	reloadMax   = 30 * time.Second
	// reloadTimeout bounds a reload of an actor that was loaded before.
	reloadTimeout = 5 * time.Second
	// confirmTimeout bounds the look at the database that settles an
	// uncertain outcome; it fits in ask.Margin.
	confirmTimeout = time.Second
)

// reloader schedules *reload messages to one actor with exponential
// backoff while its database reads fail. At most one timer is armed; it is
// stopped when the actor stops or restarts, so nothing outlives the actor.
type reloader struct {
	timer   *time.Timer
	backoff time.Duration
}

// later arms the timer unless one is armed.
func (r *reloader) later(sys *actor.ActorSystem, self *actor.PID) {
	if r.timer != nil {
		return
	}
	r.backoff = min(max(2*r.backoff, reloadFirst), reloadMax)
	r.timer = time.AfterFunc(r.backoff, func() { sys.Root.Send(self, &reload{}) })
}

// fired is called when the *reload arrives.
func (r *reloader) fired() { r.timer = nil }

// done resets the backoff after a reload that worked.
func (r *reloader) done() { r.backoff = 0 }

func (r *reloader) stop() {
	if r.timer != nil {
		r.timer.Stop()
		r.timer = nil
	}
}

// uncertain reports an outcome the database must settle: the commit may or
// may not have happened.
func uncertain(err error) bool { return errors.Is(err, persistence.ErrOutcomeUnknown) }

// settle resolves an uncertain move of ticket id: it reads the ticket and
// returns it with true when done says the move happened. When the read
// fails the outcome stays unknown, and stale is called: the database may
// have moved on behind the actor.
func settle(e *env, id string, done func(persistence.Ticket) bool, stale func()) (persistence.Ticket, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), confirmTimeout)
	defer cancel()
	t, err := e.store.GetTicket(ctx, id)
	switch {
	case errors.Is(err, persistence.ErrNotFound):
		return t, false
	case err != nil:
		stale()
		return t, false
	}
	return t, done(t)
}

// exists is settle's test for a create: the ticket is there at all.
func exists(persistence.Ticket) bool { return true }
