package persistence

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDisplayNumber(t *testing.T) {
	for _, tc := range []struct {
		prefix string
		n      int
		want   string
	}{
		{"F", 1, "F001"}, {"F", 7, "F007"}, {"AB", 42, "AB042"}, {"ABC", 999, "ABC999"}, {"F", 1000, "F1000"}, {"F", 12345, "F12345"},
	} {
		assert.Equal(t, tc.want, DisplayNumber(tc.prefix, tc.n))
	}
}

func TestServiceDay(t *testing.T) {
	nairobi, err := time.LoadLocation("Africa/Nairobi")
	require.NoError(t, err)
	// 22:30 UTC is already the next day in Nairobi (UTC+3).
	assert.Equal(t, "2026-01-27", ServiceDay(time.Date(2026, 1, 26, 22, 30, 0, 0, time.UTC), nairobi))
	assert.Equal(t, "2026-01-26", ServiceDay(time.Date(2026, 1, 26, 20, 59, 0, 0, time.UTC), nairobi))
}

func TestTimestamp(t *testing.T) {
	ts := NewTimestamp(time.Date(2026, 1, 26, 9, 15, 0, 987654321, time.FixedZone("EAT", 3*3600)))
	b, err := json.Marshal(ts)
	require.NoError(t, err)
	assert.Equal(t, `"2026-01-26T06:15:00.987Z"`, string(b))
	v, err := ts.Value()
	require.NoError(t, err)
	assert.Equal(t, "2026-01-26T06:15:00.987Z", v)

	var back Timestamp
	require.NoError(t, json.Unmarshal(b, &back))
	assert.True(t, ts.Equal(back.Time))
	assert.ErrorIs(t, json.Unmarshal([]byte(`"yesterday"`), &back), ErrInvalid)

	for _, src := range []any{"2026-01-26T06:15:00.987Z", []byte("2026-01-26T09:15:00.987+03:00"), ts.In(time.Local)} {
		var got Timestamp
		require.NoError(t, got.Scan(src), "%T", src)
		assert.Equal(t, ts, got, "%T", src)
	}
	var got Timestamp
	assert.Error(t, got.Scan(42))
	assert.Error(t, got.Scan("26/01/2026"))

	// Fixed width: text order is time order, which SQLite relies on.
	a := NewTimestamp(time.Date(2026, 1, 26, 6, 15, 0, 0, time.UTC)).String()
	z := NewTimestamp(time.Date(2026, 1, 26, 6, 15, 0, 5e6, time.UTC)).String()
	assert.Len(t, a, len(z))
	assert.Less(t, a, z)
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want error
	}{
		{&pgconn.PgError{Code: "23505", Message: "duplicate key value violates unique constraint"}, ErrDuplicate},
		{&pgconn.PgError{Code: "23503"}, ErrInvalid},
		{&pgconn.PgError{Code: "23514"}, ErrInvalid},
		{&pgconn.PgError{Code: "40P01"}, ErrUnavailable},
		{&pgconn.PgError{Code: "57P01"}, ErrUnavailable},
		{&pgconn.PgError{Code: "42601", Message: "syntax error at or near SELECT"}, ErrInternal},
		{fmt.Errorf("wrapped: %w", &pgconn.PgError{Code: "23505"}), ErrDuplicate},
		{context.DeadlineExceeded, ErrUnavailable},
		{errors.New("SELECT * FROM boom"), ErrInternal},
	} {
		s := &sqlStore{d: postgresDialect}
		err := s.mapErr("op", tc.err)
		assert.ErrorIs(t, err, tc.want, "%v", tc.err)
		assertNoSQL(t, err)
	}
}

func TestOpenSQLite(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "nested", "data")
	s, err := Open(ctx, Config{DataDir: dir})
	require.NoError(t, err)
	defer s.Close()
	assert.FileExists(t, filepath.Join(dir, "queuecast.db"))
	var mode string
	require.NoError(t, s.(*sqlStore).db.GetContext(ctx, &mode, `PRAGMA journal_mode`))
	assert.Equal(t, "wal", mode)
	var fk int
	require.NoError(t, s.(*sqlStore).db.GetContext(ctx, &fk, `PRAGMA foreign_keys`))
	assert.Equal(t, 1, fk)

	// The event log refuses updates.
	svc := mustService(t, s, "Finance", "F")
	tk := mustTicket(t, s, svc, day1)
	_, err = s.(*sqlStore).db.ExecContext(ctx, `UPDATE ticket_events SET actor = 'x' WHERE ticket_id = ?`, tk.ID)
	assert.Error(t, err)
	_, err = s.(*sqlStore).db.ExecContext(ctx, `DELETE FROM ticket_events`)
	assert.Error(t, err)

	path := filepath.Join(t.TempDir(), "other.db")
	_, err = Migrate(ctx, Config{DatabaseURL: "sqlite:" + path})
	require.NoError(t, err)
	assert.FileExists(t, path)
}

func TestOpenRejectsUnknownScheme(t *testing.T) {
	_, err := Open(context.Background(), Config{DatabaseURL: "mysql://root@localhost/q"})
	assert.ErrorIs(t, err, ErrInvalid)
}

func TestOpenPostgresUnreachable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := Open(ctx, Config{DatabaseURL: "postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=2"})
	assert.ErrorIs(t, err, ErrUnavailable)
	assertNoSQL(t, err)
}
