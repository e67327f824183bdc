package persistence

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"github.com/jmoiron/sqlx"
	"github.com/pressly/goose/v3"
)

// postgresDialect's lockUser takes an advisory lock in the key space
// 0x71630001 ("qc", 1), apart from any other advisory locks.
var postgresDialect = dialect{
	name:          "postgres",
	bind:          sqlx.DOLLAR,
	goose:         goose.DialectPostgres,
	migrations:    migrationsFor("postgres"),
	forUpdate:     " FOR NO KEY UPDATE",
	lockUser:      "SELECT pg_advisory_xact_lock(1902313473, hashtext(?))",
	classify:      classifyPostgres,
	migrationLock: true,
	probeWrite: []string{
		"SET LOCAL lock_timeout = '1s'",
		"LOCK TABLE tickets, ticket_sequences, counters, ticket_events IN ROW EXCLUSIVE MODE",
	},
}

// Pool defaults for PostgreSQL.
const (
	defaultPGConns    = 16
	defaultPGLifetime = 30 * time.Minute
)

// openPostgres opens a pool on url through pgx's database/sql driver.
// Transactions run at READ COMMITTED: the conditional updates re-check their
// conditions on the row versions they lock, which is all the invariants need.
func openPostgres(ctx context.Context, url string, cfg Config) (*sqlStore, error) {
	const op = "open postgres"
	db, err := sqlx.Open("pgx", url)
	if err != nil {
		return nil, &dbError{op: op, kind: ErrInvalid, cause: err}
	}
	conns := cfg.MaxOpenConns
	if conns <= 0 {
		conns = defaultPGConns
	}
	life := cfg.ConnMaxLifetime
	if life <= 0 {
		life = defaultPGLifetime
	}
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	db.SetConnMaxLifetime(life)
	s := &sqlStore{db: db, d: postgresDialect}
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, s.mapErr(op, err)
	}
	return s, nil
}

func classifyPostgres(err error) (errorClass, string) {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		name := "SQLSTATE " + pe.Code
		switch pe.Code {
		case "23505":
			return classUnique, name
		case "23503":
			return classForeignKey, name
		case "23502", "23514", "P0001":
			return classCheck, name
		case "40001", "40P01", "55P03", "53300":
			return classUnavailable, name
		}
		if strings.HasPrefix(pe.Code, "08") || strings.HasPrefix(pe.Code, "57") {
			return classUnavailable, name
		}
		if strings.HasPrefix(pe.Code, "22") {
			// A data exception: the input (a NUL byte in a name, say),
			// not the database.
			return classCheck, name
		}
		return classOther, name
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return classUnavailable, "connect"
	}
	if connectionLost(err) {
		return classUnavailable, "connection"
	}
	return classOther, ""
}

// connectionLost reports errors of a connection that broke under a
// statement or was found broken: the server went away (unexpected EOF, a
// reset), pgx closed it ("conn closed", which it says is safe to retry),
// or database/sql was handed a bad one. Whether the statement took effect
// is unknown to the driver; the store's callers find out (see Store).
func connectionLost(err error) bool {
	var ne net.Error
	var retry interface{ SafeToRetry() bool }
	return errors.As(err, &ne) || errors.Is(err, driver.ErrBadConn) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		pgconn.Timeout(err) || (errors.As(err, &retry) && retry.SafeToRetry())
}
