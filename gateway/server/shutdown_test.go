package server_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/queuecast/queuecast/gateway/auth"
	"github.com/queuecast/queuecast/gateway/server"
	"github.com/queuecast/queuecast/persistence"
)

// hangingStore is a real store whose CreateTicket hangs: until its context
// ends when it honours contexts (a locked table), or until released when it
// does not (a database that stopped answering).
type hangingStore struct {
	persistence.Store
	honoursCtx bool
	entered    chan struct{}
	release    chan struct{}
}

func newHangingStore(t *testing.T, honoursCtx bool) *hangingStore {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := persistence.Open(ctx, sqliteDB(t))
	require.NoError(t, err)
	_, err = st.SeedDemo(ctx)
	require.NoError(t, err)
	h := &hangingStore{Store: st, honoursCtx: honoursCtx, entered: make(chan struct{}, 16), release: make(chan struct{})}
	// Registered first, so it runs last: after the server's shutdown.
	t.Cleanup(func() { _ = st.Close() })
	t.Cleanup(func() { close(h.release) })
	return h
}

func (h *hangingStore) CreateTicket(ctx context.Context, in persistence.NewTicket, by persistence.Stamp) (persistence.Ticket, error) {
	h.entered <- struct{}{}
	if !h.honoursCtx {
		<-h.release
		return persistence.Ticket{}, fmt.Errorf("released: %w", persistence.ErrUnavailable)
	}
	select {
	case <-ctx.Done():
		return persistence.Ticket{}, fmt.Errorf("%w: %w", persistence.ErrUnavailable, ctx.Err())
	case <-h.release:
		return persistence.Ticket{}, fmt.Errorf("released: %w", persistence.ErrUnavailable)
	}
}

// createInFlight posts a ticket in the background and waits until the
// request is inside the store; the status it got arrives on the channel.
func createInFlight(t *testing.T, h *harness, st *hangingStore) <-chan int {
	t.Helper()
	status := make(chan int, 1)
	go func() {
		code, _ := h.do("POST", "/api/tickets", "", map[string]any{"serviceType": "Finance"})
		status <- code
	}()
	select {
	case <-st.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the create did not reach the store")
	}
	return status
}

// Shutdown while a create waits on a locked table: the create's database
// work is aborted before the deadline, it answers 503, and everything
// after it stops in time, so Shutdown succeeds within its budget.
func TestShutdownAbortsDatabaseWorkWithinItsBudget(t *testing.T) {
	st := newHangingStore(t, true)
	h := start(t, server.Config{Store: st})
	status := createInFlight(t, h, st)

	const budget = 2 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), budget)
	defer cancel()
	began := time.Now()
	require.NoError(t, h.srv.Shutdown(ctx))
	require.Less(t, time.Since(began), budget)
	require.Equal(t, 503, <-status, "the aborted create answers 503")
}

// Shutdown while the database hangs and ignores cancellation: Shutdown
// still returns by its deadline, naming what it abandoned.
func TestShutdownReturnsByItsDeadlineWhenTheDatabaseHangs(t *testing.T) {
	st := newHangingStore(t, false)
	h := start(t, server.Config{Store: st})
	createInFlight(t, h, st)

	const budget = time.Second
	ctx, cancel := context.WithTimeout(context.Background(), budget)
	defer cancel()
	began := time.Now()
	err := h.srv.Shutdown(ctx)
	took := time.Since(began)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorContains(t, err, "shutdown: http")
	require.Less(t, took, budget+300*time.Millisecond, "Shutdown took %s", took)
	require.Equal(t, err, h.srv.Shutdown(context.Background()), "a second Shutdown returns the first one's result")
}

// A New that fails at any step stops what the earlier steps started: no
// goroutine is left (the transport's pollers and writers, the actors') and
// the database it opened is closed, which goleak sees too: an open
// database/sql pool keeps its connectionOpener goroutine.
func TestFailedNewLeavesNothingRunning(t *testing.T) {
	for _, step := range []string{"database", "actors", "queues", "http", "metrics"} {
		t.Run(step, func(t *testing.T) {
			defer goleak.VerifyNone(t, append(libraryGoroutines, goleak.IgnoreCurrent())...)
			cfg := sqliteDB(t)
			injected := errors.New("injected failure")
			server.FailAfterStep(t, step, injected)
			srv, err := server.New(server.Config{Auth: auth.NewAuthority([]byte("test-secret-test-secret-test-secret")), Database: cfg})
			require.ErrorIs(t, err, injected)
			require.Nil(t, srv)
		})
	}
}
