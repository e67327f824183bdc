package persistence

import (
	"context"
	"github.com/queuecast/queuecast/persistence/pgtest"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// backend opens fresh, empty databases of one dialect for a test.
type backend struct {
	name string
	// open returns a Store on a fresh database and a function that opens
	// another Store on the same database (a second owner, or a restart).
	open func(t *testing.T) (Store, func() Store)
}

func backends() []backend {
	return []backend{
		{name: "sqlite", open: openTestSQLite},
		{name: "postgres", open: openTestPostgres},
	}
}

func openTestSQLite(t *testing.T) (Store, func() Store) {
	t.Helper()
	cfg := Config{DataDir: filepath.Join(t.TempDir(), "data")}
	open := func() Store {
		s, err := Open(context.Background(), cfg)
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	return open(), open
}

// openTestPostgres opens a store on a schema of its own (package pgtest), so
// that tests run in parallel and leave nothing behind.
func openTestPostgres(t *testing.T) (Store, func() Store) {
	t.Helper()
	cfg := Config{DatabaseURL: pgtest.DSN(t), MaxOpenConns: 8}
	open := func() Store {
		s, err := Open(context.Background(), cfg)
		require.NoError(t, err)
		// Registered after the schema's cleanup, so it runs before it.
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	return open(), open
}

// Fixtures.

var (
	day1 = "2026-01-26"
	day2 = "2026-01-27"
	t0   = time.Date(2026, 1, 26, 6, 0, 0, 0, time.UTC)
)

func at(minutes int) Stamp {
	return Stamp{Actor: "staff-1", At: t0.Add(time.Duration(minutes) * time.Minute)}
}

func mustService(t *testing.T, s Store, name, prefix string) Service {
	t.Helper()
	svc, err := s.CreateService(context.Background(), NewService{Name: name, Prefix: prefix})
	require.NoError(t, err)
	return svc
}

func mustCounter(t *testing.T, s Store, name string, status CounterStatus, services ...Service) Counter {
	t.Helper()
	in := NewCounter{Name: name, Status: status}
	for _, svc := range services {
		in.ServiceIDs = append(in.ServiceIDs, svc.ID)
	}
	c, err := s.CreateCounter(context.Background(), in)
	require.NoError(t, err)
	return c
}

func mustTicket(t *testing.T, s Store, svc Service, day string) Ticket {
	t.Helper()
	tk, err := s.CreateTicket(context.Background(), NewTicket{ServiceID: svc.ID, UserID: "user-1", ServiceDay: day}, at(0))
	require.NoError(t, err)
	return tk
}

func ptr[T any](v T) *T { return &v }
