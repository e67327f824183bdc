package queue

import (
	"time"

	"github.com/queuecast/queuecast/persistence"
)

// Messages of the service actor.
type (
	createTicket struct {
		in    persistence.NewTicket
		by    persistence.Stamp
		reply chan ticketResult
	}
	// peekHead asks for the service's best waiting ticket and its score.
	peekHead struct{ reply chan headResult }
	// takeHead calls the best waiting ticket to counter.
	takeHead struct {
		counter persistence.Counter
		by      persistence.Stamp
		reply   chan ticketResult
	}
	cancelTicket struct {
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
	// getPosition asks a waiting ticket's position and estimate.
	getPosition struct {
		id    string
		reply chan position
	}
	getState struct{ reply chan State }
)

// Messages of the counter actor.
type (
	callNext struct {
		by    persistence.Stamp
		reply chan callResult
	}
	setStatus struct {
		status persistence.CounterStatus
		by     persistence.Stamp
		reply  chan counterResult
	}
	getCounterState struct{ reply chan CounterState }
	// move is complete, no-show, recall or transfer of the current ticket.
	move struct {
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
		in    persistence.NewService
		reply chan serviceResult
	}
	addCounter struct {
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

type ticketResult struct {
	ticket persistence.Ticket
	err    error
}

type headResult struct {
	ticket *persistence.Ticket
	score  float64
}

type callResult struct {
	ticket  persistence.Ticket
	counter persistence.Counter
	err     error
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
