package persistence

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
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
	pc, err := pgx.ParseConfig(url)
	if err != nil {
		// The parser's message may quote the URL, password and all.
		return nil, &dbError{op: "open postgres: DATABASE_URL is not a valid PostgreSQL URL", kind: ErrInvalid, cause: err}
	}
	db := sqlx.NewDb(stdlib.OpenDB(*pc), "pgx")
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
		return nil, newConnectError(pc, err)
	}
	return s, nil
}

// connectError is a first connection to PostgreSQL that failed. Its text
// names the server, the database and the user, never the password, and the
// cause in the words of the server or the operating system, e.g.
// "persistence: connect to 127.0.0.1:5432/queuecast as queuecast:
// connection refused"; an operator reads it when queuecast does not start.
type connectError struct {
	target string
	cause  string
	kind   error
	err    error
}

func (e *connectError) Error() string { return "persistence: connect to " + e.target + ": " + e.cause }

func (e *connectError) Unwrap() []error { return []error{e.kind, e.err} }

// newConnectError describes err, the failure of a first connection with pc.
// A server that refuses the database, the role or its credentials is a
// configuration to fix (ErrInvalid); anything else may pass (ErrUnavailable).
func newConnectError(pc *pgx.ConnConfig, err error) error {
	e := &connectError{
		target: net.JoinHostPort(pc.Host, strconv.Itoa(int(pc.Port))) + "/" + pc.Database + " as " + pc.User,
		kind:   ErrUnavailable,
		err:    err,
	}
	var pe *pgconn.PgError
	var errno syscall.Errno
	var dns *net.DNSError
	switch {
	case errors.As(err, &pe):
		e.cause = pe.Message + " (SQLSTATE " + pe.Code + ")"
		if strings.HasPrefix(pe.Code, "28") || pe.Code == "3D000" {
			e.kind = ErrInvalid
		}
	case errors.As(err, &dns):
		e.cause = "cannot resolve " + dns.Name + ": " + dns.Err
	case errors.As(err, &errno):
		e.cause = errno.Error()
	case errors.Is(err, context.DeadlineExceeded), isTimeout(err):
		e.cause = "timed out"
	case errors.Is(err, context.Canceled):
		e.cause = "cancelled"
	default:
		// Without a known cause, the innermost error: pgx's outer ones
		// repeat the user and the database.
		// One line per address tried.
		for u := errors.Unwrap(err); u != nil; u = errors.Unwrap(u) {
			err = u
		}
		e.cause = strings.ReplaceAll(err.Error(), "\n", "; ")
	}
	return e
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
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
