package queue

import (
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/queuecast/queuecast/actors/ask"
	"github.com/queuecast/queuecast/persistence"
)

// Messages of the service actor. The commands carry the caller's
// ask.Request: the actor Begins it before any work and answers ErrTimeout,
// doing nothing, when the caller has given up.
type (
	createTicket struct {
		req   *ask.Request
		in    persistence.NewTicket
		by    persistence.Stamp
		reply chan ticketResult
	}
	// takeHead calls the best waiting ticket to counter; the outcome goes
	// back to the counter actor (replyTo) as *taken, never to a waiting
	// goroutine, so the counter does not block on the service.
	takeHead struct {
		req     *ask.Request
		call    uint64
		counter persistence.Counter
		by      persistence.Stamp
		replyTo *actor.PID
	}
	cancelTicket struct {
		req   *ask.Request
		id    string
		by    persistence.Stamp
		reply chan ticketResult
	}
	// requeued adds a ticket transferred into the service.
	requeued struct{ ticket persistence.Ticket }
	// finished: a ticket served for the service left its counter.
	finished struct {
		ticketID  string
		completed bool
		served    time.Duration
	}
	// counterOpen: a counter serving the service opened or stopped calling.
	counterOpen struct {
		counterID string
		open      bool
	}
	// expired: the rollover ended these waiting tickets.
	expired struct{ tickets []persistence.Ticket }
	// reload makes a service or counter actor read its state from the
	// database again, after a failure that may have left it behind.
	reload struct{}
)

// Messages of the counter actor.
type (
	callNext struct {
		req   *ask.Request
		by    persistence.Stamp
		reply chan callResult
	}
	// taken is a service actor's outcome of the counter's takeHead call.
	taken struct {
		call   uint64
		result ticketResult
		// tried is the service that answered, skipped when the counter
		// looks for another service's head.
		tried string
	}
	// callExpired ends a call whose outcome never came back (a service
	// actor restarted under it): the counter reloads from the database.
	callExpired struct{ call uint64 }
	setStatus   struct {
		req    *ask.Request
		status persistence.CounterStatus
		by     persistence.Stamp
		reply  chan counterResult
	}
	// move is complete, no-show, recall or transfer of the current ticket.
	move struct {
		req       *ask.Request
		kind      moveKind
		ticketID  string
		toService string
		by        persistence.Stamp
		reply     chan ticketResult
	}
)

// Messages of the registry.
type (
	addService struct {
		req   *ask.Request
		in    persistence.NewService
		reply chan serviceResult
	}
	addCounter struct {
		req   *ask.Request
		in    persistence.NewCounter
		reply chan counterResult
	}
	dayTick struct{}
)

type moveKind int

const (
	moveComplete moveKind = iota
	moveNoShow
	moveRecall
	moveTransfer
)

// ticketResult is a command's outcome. replayed: the request's
// Idempotency-Key was done before, and ticket is that request's ticket.
type ticketResult struct {
	ticket   persistence.Ticket
	replayed bool
	err      error
}

type callResult struct {
	ticket   persistence.Ticket
	counter  persistence.Counter
	replayed bool
	err      error
}

type counterResult struct {
	counter persistence.Counter
	err     error
}

type serviceResult struct {
	service persistence.Service
	err     error
}

type position struct {
	position int
	estimate *int
	ok       bool
}

// State is one service's live queue figures (GET /api/queues).
type State struct {
	ServiceType          string  `json:"serviceType"`
	Waiting              int     `json:"waiting"`
	Serving              int     `json:"serving"`
	OpenCounters         int     `json:"openCounters"`
	MeanServiceSeconds   float64 `json:"meanServiceSeconds"`
	EstimatedWaitSeconds *int    `json:"estimatedWaitSeconds"`
	LongestWaitSeconds   int     `json:"longestWaitSeconds"`
}

// CounterState is one counter's live figures (loadBalancingMetrics).
type CounterState struct {
	ID       string                    `json:"id"`
	Name     string                    `json:"name"`
	Services []string                  `json:"services"`
	Status   persistence.CounterStatus `json:"status"`
	// CurrentTicketID and CurrentTicket (its display number) are the
	// ticket being served, if any.
	CurrentTicketID *string `json:"currentTicketId"`
	CurrentTicket   *string `json:"currentTicket"`
	// MeanServiceSeconds is the EWMA of the counter's completed service
	// times, seeded with the mean default of its services.
	MeanServiceSeconds float64 `json:"meanServiceSeconds"`
	// IdleSeconds is how long an open counter has served nothing (since its
	// last ticket left, it opened, or this node loaded it); 0 otherwise.
	IdleSeconds int `json:"idleSeconds"`
}
