package api

import (
	"context"

	"github.com/queuecast/queuecast/actors/queue"
	"github.com/queuecast/queuecast/persistence"
)

// Queues is what the queue routes need of the queue domain: *queue.Queues
// on a single node, and in cluster mode a front door that routes to the
// node holding the queue actors. The methods mean what queue.Queues's do.
type Queues interface {
	ServiceExists(name string) bool
	CounterExists(id string) bool
	Services() []persistence.Service
	CounterList() []persistence.Counter
	States() []queue.State
	Fill(t *persistence.Ticket)
	AddService(ctx context.Context, in persistence.NewService) (persistence.Service, error)
	AddCounter(ctx context.Context, name string, services []string, status persistence.CounterStatus) (persistence.Counter, error)
	SetCounterStatus(ctx context.Context, counterID string, status persistence.CounterStatus, by persistence.Stamp) (persistence.Counter, error)
	CreateTicket(ctx context.Context, service, userID string, prio persistence.Priority, maxActive int, by persistence.Stamp) (persistence.Ticket, bool, error)
	CallNext(ctx context.Context, counterID string, by persistence.Stamp) (persistence.Ticket, persistence.Counter, bool, error)
	Cancel(ctx context.Context, service, ticketID string, by persistence.Stamp) (persistence.Ticket, error)
	Move(ctx context.Context, kind, counterID, ticketID, toService string, by persistence.Stamp) (persistence.Ticket, error)
}

var _ Queues = (*queue.Queues)(nil)
