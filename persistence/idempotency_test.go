package persistence

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/queuecast/queuecast/persistence/pgtest"
)

func TestIdempotentRequests(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			s, reopen := b.open(t)
			testIdempotentRequests(t, s, reopen())
		})
	}
}

func testIdempotentRequests(t *testing.T, s, other Store) {
	ctx := context.Background()
	f := mustService(t, s, "Finance", "F")
	c := mustCounter(t, s, "C1", CounterOpen, f)
	key := Idempotency{Scope: "create guest:", Key: "k1", Fingerprint: "finance"}
	by := Stamp{Request: key}

	first, err := s.CreateTicket(ctx, NewTicket{ServiceID: f.ID, ServiceDay: day1}, by)
	require.NoError(t, err)
	again, err := other.CreateTicket(ctx, NewTicket{ServiceID: f.ID, ServiceDay: day1}, by)
	require.ErrorIs(t, err, ErrReplayed)
	assert.Equal(t, first.ID, again.ID)
	assert.Equal(t, first.Number, again.Number)

	other1 := key
	other1.Fingerprint = "registrar"
	_, err = s.CreateTicket(ctx, NewTicket{ServiceID: f.ID, ServiceDay: day1}, Stamp{Request: other1})
	require.ErrorIs(t, err, ErrKeyReused)
	require.ErrorIs(t, err, ErrInvalid)
	elsewhere := key
	elsewhere.Scope = "create customer:u1"
	second, err := s.CreateTicket(ctx, NewTicket{ServiceID: f.ID, ServiceDay: day1}, Stamp{Request: elsewhere})
	require.NoError(t, err)
	assert.Equal(t, 2, second.Number, "a replay or a refused reuse takes no number")

	// Two concurrent requests with one key: one does the work, the other
	// gets its ticket.
	race := Idempotency{Scope: "create guest:", Key: "k2", Fingerprint: "finance"}
	var wg sync.WaitGroup
	got := make([]Ticket, 2)
	errs := make([]error, 2)
	for i, st := range []Store{s, other} {
		wg.Go(func() {
			got[i], errs[i] = st.CreateTicket(ctx, NewTicket{ServiceID: f.ID, ServiceDay: day1}, Stamp{Request: race})
		})
	}
	wg.Wait()
	replays := 0
	for _, e := range errs {
		if errors.Is(e, ErrReplayed) {
			replays++
		} else {
			require.NoError(t, e)
		}
	}
	assert.Equal(t, 1, replays)
	assert.Equal(t, got[0].ID, got[1].ID)
	w, err := s.ListWaiting(ctx, f.ID)
	require.NoError(t, err)
	assert.Len(t, w, 3)

	// A call under a key: the retry gets the ticket the call called, even
	// once it was completed, and calls nobody.
	call := Stamp{Request: Idempotency{Scope: "call-next staff:s1", Key: "c1", Fingerprint: c.ID}}
	called, err := s.CallTicket(ctx, c.ID, first.ID, call)
	require.NoError(t, err)
	_, err = s.CompleteTicket(ctx, first.ID, Stamp{})
	require.NoError(t, err)
	replayed, err := other.CallTicket(ctx, c.ID, second.ID, call)
	require.ErrorIs(t, err, ErrReplayed)
	assert.Equal(t, called.ID, replayed.ID)
	assert.Equal(t, TicketCompleted, replayed.Status)
	still, err := s.GetTicket(ctx, second.ID)
	require.NoError(t, err)
	assert.Equal(t, TicketWaiting, still.Status)

	_, err = s.CreateTicket(ctx, NewTicket{ServiceID: f.ID, ServiceDay: day1},
		Stamp{Request: Idempotency{Scope: "x", Key: strings.Repeat("k", MaxIdempotencyKeyLen+1)}})
	require.ErrorIs(t, err, ErrInvalid)

	n, err := s.PurgeIdempotencyKeys(ctx, time.Now().Add(time.Hour))
	require.NoError(t, err)
	assert.Equal(t, 4, n)
	fresh, err := s.CreateTicket(ctx, NewTicket{ServiceID: f.ID, ServiceDay: day1}, by)
	require.NoError(t, err, "a forgotten key is a new request")
	assert.NotEqual(t, first.ID, fresh.ID)
}

// A caller-chosen id is the ticket's id, so a caller whose answer was lost
// can look it up.
func TestCreateTicketWithChosenID(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			s, _ := b.open(t)
			f := mustService(t, s, "Finance", "F")
			id := NewID()
			tk, err := s.CreateTicket(context.Background(), NewTicket{ID: id, ServiceID: f.ID, ServiceDay: day1}, Stamp{})
			require.NoError(t, err)
			assert.Equal(t, id, tk.ID)
			_, err = s.CreateTicket(context.Background(), NewTicket{ID: id, ServiceID: f.ID, ServiceDay: day1}, Stamp{})
			require.ErrorIs(t, err, ErrDuplicate)
		})
	}
}

func TestProbeWrite(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			s, _ := b.open(t)
			require.NoError(t, s.ProbeWrite(context.Background()))
		})
	}
	t.Run("postgres with the tickets table locked", func(t *testing.T) {
		dsn := pgtest.DSN(t)
		s, err := Open(context.Background(), Config{DatabaseURL: dsn})
		require.NoError(t, err)
		defer s.Close()
		db, err := sql.Open("pgx", dsn)
		require.NoError(t, err)
		defer db.Close()
		tx, err := db.Begin()
		require.NoError(t, err)
		_, err = tx.Exec(`LOCK TABLE tickets IN SHARE MODE`) // readers pass, writers wait
		require.NoError(t, err)
		err = s.ProbeWrite(context.Background())
		require.ErrorIs(t, err, ErrUnavailable)
		require.NoError(t, tx.Rollback())
		require.NoError(t, s.ProbeWrite(context.Background()))
	})
}

// resetConn is what a connection reset by the peer looks like to pgx.
var resetConn = &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}

func TestClassifyLostConnections(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want error
	}{
		{fmt.Errorf("failed to receive message: %w", io.ErrUnexpectedEOF), ErrUnavailable},
		{resetConn, ErrUnavailable},
		{fmt.Errorf("write: %w", syscall.EPIPE), ErrUnavailable},
		{fmt.Errorf("use of closed: %w", net.ErrClosed), ErrUnavailable},
		{safeToRetry{}, ErrUnavailable}, // pgx's "conn closed"
		{&pgconn.PgError{Code: "22021", Message: "invalid byte sequence"}, ErrInvalid},
		{&pgconn.PgError{Code: "22001"}, ErrInvalid},
	} {
		s := &sqlStore{d: postgresDialect}
		err := s.mapErr("op", tc.err)
		assert.ErrorIs(t, err, tc.want, "%v", tc.err)
		assertNoSQL(t, err)
	}
}

type safeToRetry struct{}

func (safeToRetry) Error() string     { return "conn closed" }
func (safeToRetry) SafeToRetry() bool { return true }

// Every failure of the database itself is logged with its cause, once per
// operation and interval, with the count of those left out.
func TestFailuresAreLoggedOnceWithTheirCause(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	now := time.Date(2026, 1, 26, 6, 0, 0, 0, time.UTC)
	f := newFailureLog(log)
	f.now = func() time.Time { return now }
	s := &sqlStore{d: postgresDialect, failures: f}
	for range 3 {
		_ = s.mapErr("create ticket", fmt.Errorf("failed to receive message: %w", io.ErrUnexpectedEOF))
	}
	_ = s.mapErr("call ticket", &pgconn.PgError{Code: "42601", Message: "syntax error at or near x"})
	_ = s.mapErr("create ticket", &pgconn.PgError{Code: "23505"}) // the input, not the database
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	require.Len(t, lines, 2, buf.String())
	assert.Contains(t, lines[0], `op="create ticket"`)
	assert.Contains(t, lines[0], `cause="failed to receive message: unexpected EOF"`)
	assert.Contains(t, lines[1], "level=ERROR")
	assert.Contains(t, lines[1], "syntax error")

	buf.Reset()
	now = now.Add(failureLogInterval)
	_ = s.mapErr("create ticket", fmt.Errorf("again: %w", io.ErrUnexpectedEOF))
	assert.Contains(t, buf.String(), "suppressed=2")
}
