package main

import (
	"context"
	"database/sql"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/queuecast/queuecast/persistence/pgtest"
)

// SIGTERM while another session holds the tickets table locked and a
// create waits on it: the server aborts the create's database work before
// its deadline, answers it 503, stops and exits 0 within SHUTDOWN_TIMEOUT;
// the create committed nothing.
func TestSIGTERMWhileTheDatabaseHangsExitsCleanly(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server process")
	}
	dsn := pgtest.DSN(t)
	const timeout = 3 * time.Second
	p := startProcess(t, t.TempDir(), dsn, "SHUTDOWN_TIMEOUT="+timeout.String())

	// The service actors load their lines after the server is ready; a
	// queue listing answers once each of them has, so the lock below
	// catches the create alone.
	code, out, err := call(context.Background(), p.base, "GET", "/api/queues", "", nil)
	require.NoError(t, err)
	require.Equal(t, 200, code, string(out))

	db, err := sql.Open("pgx", dsn)
	require.NoError(t, err)
	defer db.Close()
	ctx := context.Background()
	lock, err := db.BeginTx(ctx, nil)
	require.NoError(t, err)
	defer func() { _ = lock.Rollback() }()
	_, err = lock.ExecContext(ctx, `LOCK TABLE tickets IN ACCESS EXCLUSIVE MODE`)
	require.NoError(t, err)

	status := make(chan int, 1)
	go func() {
		code, _, err := call(ctx, p.base, "POST", "/api/tickets", "", map[string]any{"serviceType": "Finance"})
		if err != nil {
			code = 0
		}
		status <- code
	}()
	require.Eventually(t, func() bool {
		var waiting int
		err := db.QueryRowContext(ctx, `SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
			WHERE l.relation = 'tickets'::regclass AND NOT l.granted AND a.query LIKE 'INSERT INTO tickets%'`).Scan(&waiting)
		return err == nil && waiting > 0
	}, 10*time.Second, 10*time.Millisecond, "the create does not wait on the lock")

	began := time.Now()
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-p.done:
	case <-time.After(timeout + 5*time.Second):
		t.Fatalf("still running %s after SIGTERM", time.Since(began))
	}
	took := time.Since(began)
	t.Logf("exited %d after %s", p.cmd.ProcessState.ExitCode(), took)
	require.Equal(t, 0, p.cmd.ProcessState.ExitCode())
	require.Less(t, took, timeout+500*time.Millisecond)
	require.Equal(t, 503, <-status, "the create waiting on the lock answers 503")

	require.NoError(t, lock.Rollback())
	var n int
	require.NoError(t, db.QueryRowContext(ctx, `SELECT count(*) FROM tickets`).Scan(&n))
	require.Zero(t, n, "the create answered 503 committed nothing")
}
