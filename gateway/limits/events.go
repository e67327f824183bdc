package limits

import (
	"time"

	"golang.org/x/time/rate"
)

// Verdict is the answer to one event.
type Verdict uint8

// Verdicts of Events.Take.
const (
	Accept     Verdict = iota // within the budget
	Refuse                    // over the budget: fail or drop the event
	Disconnect                // over the budget by more than the debt: close the connection
)

// Events is one connection's event budget: a token bucket that may go into
// debt. A refused event still costs its token, so a client has to slow down
// below the rate to be served again, and one that owes more than the debt
// bound is to be disconnected. Owned by one connection actor; nil accepts
// everything.
type Events struct {
	lim     *rate.Limiter
	maxOwed time.Duration
}

// NewEvents returns the budget of a new connection, or nil when r is off.
// debt is the number of refused events tolerated (at least 1).
func NewEvents(r Rate, debt int) *Events {
	if r.Off() {
		return nil
	}
	return &Events{
		lim:     rate.NewLimiter(rate.Limit(r.Per), max(r.Burst, 1)),
		maxOwed: time.Duration(float64(max(debt, 1)) / r.Per * float64(time.Second)),
	}
}

// Take charges one event at now.
func (e *Events) Take(now time.Time) Verdict {
	if e == nil {
		return Accept
	}
	owed := e.lim.ReserveN(now, 1).DelayFrom(now)
	switch {
	case owed <= 0:
		return Accept
	case owed > e.maxOwed:
		return Disconnect
	default:
		return Refuse
	}
}
