package server

import (
	"context"
	"time"

	"github.com/queuecast/queuecast/persistence"
)

// abortableStore is the server's view of its Store: every call also ends
// when the server aborts its database work, which Shutdown does once
// in-flight requests have had their share of the shutdown budget. A call
// cut short fails with a context error, which the store reports as
// persistence.ErrUnavailable (503) with nothing committed, so its caller
// gets a true answer and no actor stays blocked in a query past the
// shutdown deadline. Close is the wrapped store's.
type abortableStore struct {
	persistence.Store
	aborted context.Context
}

var _ persistence.Store = (*abortableStore)(nil)

// bound derives a context that ends with ctx or at the abort, whichever
// comes first.
func (s *abortableStore) bound(ctx context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	stop := context.AfterFunc(s.aborted, func() { cancel(context.Cause(s.aborted)) })
	return ctx, func() { stop(); cancel(nil) }
}

func (s *abortableStore) Ping(ctx context.Context) error {
	ctx, done := s.bound(ctx)
	defer done()
	return s.Store.Ping(ctx)
}

func (s *abortableStore) CreateService(ctx context.Context, in persistence.NewService) (persistence.Service, error) {
	ctx, done := s.bound(ctx)
	defer done()
	return s.Store.CreateService(ctx, in)
}

func (s *abortableStore) ListServices(ctx context.Context) ([]persistence.Service, error) {
	ctx, done := s.bound(ctx)
	defer done()
	return s.Store.ListServices(ctx)
}

func (s *abortableStore) GetService(ctx context.Context, id string) (persistence.Service, error) {
	ctx, done := s.bound(ctx)
	defer done()
	return s.Store.GetService(ctx, id)
}

func (s *abortableStore) GetServiceByName(ctx context.Context, name string) (persistence.Service, error) {
	ctx, done := s.bound(ctx)
	defer done()
	return s.Store.GetServiceByName(ctx, name)
}

func (s *abortableStore) CreateCounter(ctx context.Context, in persistence.NewCounter) (persistence.Counter, error) {
	ctx, done := s.bound(ctx)
	defer done()
	return s.Store.CreateCounter(ctx, in)
}

func (s *abortableStore) ListCounters(ctx context.Context) ([]persistence.Counter, error) {
	ctx, done := s.bound(ctx)
	defer done()
	return s.Store.ListCounters(ctx)
}

func (s *abortableStore) GetCounter(ctx context.Context, id string) (persistence.Counter, error) {
	ctx, done := s.bound(ctx)
	defer done()
	return s.Store.GetCounter(ctx, id)
}

func (s *abortableStore) SetCounterStatus(ctx context.Context, id string, status persistence.CounterStatus, by persistence.Stamp) (persistence.Counter, persistence.CounterStatus, error) {
	ctx, done := s.bound(ctx)
	defer done()
	return s.Store.SetCounterStatus(ctx, id, status, by)
}

func (s *abortableStore) CreateUser(ctx context.Context, in persistence.NewUser) (persistence.User, error) {
	ctx, done := s.bound(ctx)
	defer done()
	return s.Store.CreateUser(ctx, in)
}

func (s *abortableStore) GetUser(ctx context.Context, id string) (persistence.User, error) {
	ctx, done := s.bound(ctx)
	defer done()
	return s.Store.GetUser(ctx, id)
}

func (s *abortableStore) GetUserByUsername(ctx context.Context, username string) (persistence.User, error) {
	ctx, done := s.bound(ctx)
	defer done()
	return s.Store.GetUserByUsername(ctx, username)
}

func (s *abortableStore) CreateTicket(ctx context.Context, in persistence.NewTicket, by persistence.Stamp) (persistence.Ticket, error) {
	ctx, done := s.bound(ctx)
	defer done()
	return s.Store.CreateTicket(ctx, in, by)
}

func (s *abortableStore) CallTicket(ctx context.Context, counterID string, ticketID string, by persistence.Stamp) (persistence.Ticket, error) {
	ctx, done := s.bound(ctx)
	defer done()
	return s.Store.CallTicket(ctx, counterID, ticketID, by)
}

func (s *abortableStore) RecallTicket(ctx context.Context, ticketID string, by persistence.Stamp) (persistence.Ticket, error) {
	ctx, done := s.bound(ctx)
	defer done()
	return s.Store.RecallTicket(ctx, ticketID, by)
}

func (s *abortableStore) CompleteTicket(ctx context.Context, ticketID string, by persistence.Stamp) (persistence.Ticket, error) {
	ctx, done := s.bound(ctx)
	defer done()
	return s.Store.CompleteTicket(ctx, ticketID, by)
}

func (s *abortableStore) NoShowTicket(ctx context.Context, ticketID string, by persistence.Stamp) (persistence.Ticket, error) {
	ctx, done := s.bound(ctx)
	defer done()
	return s.Store.NoShowTicket(ctx, ticketID, by)
}

func (s *abortableStore) TransferTicket(ctx context.Context, ticketID string, toServiceID string, by persistence.Stamp) (persistence.Ticket, error) {
	ctx, done := s.bound(ctx)
	defer done()
	return s.Store.TransferTicket(ctx, ticketID, toServiceID, by)
}

func (s *abortableStore) CancelTicket(ctx context.Context, ticketID string, by persistence.Stamp) (persistence.Ticket, error) {
	ctx, done := s.bound(ctx)
	defer done()
	return s.Store.CancelTicket(ctx, ticketID, by)
}

func (s *abortableStore) ExpireBefore(ctx context.Context, serviceDay string, by persistence.Stamp) ([]persistence.Ticket, error) {
	ctx, done := s.bound(ctx)
	defer done()
	return s.Store.ExpireBefore(ctx, serviceDay, by)
}

func (s *abortableStore) GetTicket(ctx context.Context, id string) (persistence.Ticket, error) {
	ctx, done := s.bound(ctx)
	defer done()
	return s.Store.GetTicket(ctx, id)
}

func (s *abortableStore) ListTickets(ctx context.Context, f persistence.TicketFilter) ([]persistence.Ticket, int, error) {
	ctx, done := s.bound(ctx)
	defer done()
	return s.Store.ListTickets(ctx, f)
}

func (s *abortableStore) ListWaiting(ctx context.Context, serviceIDs ...string) ([]persistence.Ticket, error) {
	ctx, done := s.bound(ctx)
	defer done()
	return s.Store.ListWaiting(ctx, serviceIDs...)
}

func (s *abortableStore) CountActiveTickets(ctx context.Context, userID string) (int, error) {
	ctx, done := s.bound(ctx)
	defer done()
	return s.Store.CountActiveTickets(ctx, userID)
}

func (s *abortableStore) DayStats(ctx context.Context, serviceDay string, since time.Time) (persistence.DayStats, error) {
	ctx, done := s.bound(ctx)
	defer done()
	return s.Store.DayStats(ctx, serviceDay, since)
}

func (s *abortableStore) ListTicketEvents(ctx context.Context, ticketID string) ([]persistence.TicketEvent, error) {
	ctx, done := s.bound(ctx)
	defer done()
	return s.Store.ListTicketEvents(ctx, ticketID)
}

func (s *abortableStore) SeedDemo(ctx context.Context) (bool, error) {
	ctx, done := s.bound(ctx)
	defer done()
	return s.Store.SeedDemo(ctx)
}

func (s *abortableStore) ProbeWrite(ctx context.Context) error {
	ctx, done := s.bound(ctx)
	defer done()
	return s.Store.ProbeWrite(ctx)
}

func (s *abortableStore) PurgeIdempotencyKeys(ctx context.Context, before time.Time) (int, error) {
	ctx, done := s.bound(ctx)
	defer done()
	return s.Store.PurgeIdempotencyKeys(ctx, before)
}
