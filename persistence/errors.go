package persistence

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Sentinel errors. Every error a Store returns wraps exactly one of the first
// six (test with errors.Is) and its text never contains SQL or driver
// messages, so callers may show it.
var (
	// ErrNotFound: the row named by an id or name does not exist (404).
	ErrNotFound = errors.New("not found")
	// ErrConflict: the move is illegal in the current state (409). The
	// specific conflicts below wrap it.
	ErrConflict = errors.New("conflict")
	// ErrDuplicate: a unique name, prefix or username is taken (409).
	ErrDuplicate = errors.New("already exists")
	// ErrInvalid: the input breaks a rule the store checks (400).
	ErrInvalid = errors.New("invalid input")
	// ErrUnavailable: the database is unreachable, busy or gave up on a
	// deadlock; retrying may succeed (503).
	ErrUnavailable = errors.New("database unavailable")
	// ErrInternal: anything else; the cause is kept for logs (500).
	ErrInternal = errors.New("internal database error")
)

// ErrOutcomeUnknown: the commit of a change failed, and the change may or
// may not have been committed (the connection broke under the COMMIT). It
// wraps ErrUnavailable; a caller that must tell the truth looks at the
// database before it answers. Every other failure of a change means that
// nothing was committed.
var ErrOutcomeUnknown = fmt.Errorf("outcome of the commit unknown: %w", ErrUnavailable)

// Errors of idempotent requests (Stamp.Request).
var (
	// ErrReplayed is not a failure: an earlier request with the same key
	// already did the work, and the Ticket returned with it is that
	// request's ticket as it is now. It wraps none of the sentinels above.
	ErrReplayed = errors.New("request already done under this idempotency key")
	// ErrKeyReused: the key was used before for a request with other
	// parameters (the gateway answers 422).
	ErrKeyReused = fmt.Errorf("idempotency key was used for a different request: %w", ErrInvalid)
)

// Specific conflicts; each wraps ErrConflict.
var (
	// ErrIllegalMove: the ticket is not in a state the move starts from.
	ErrIllegalMove = fmt.Errorf("illegal ticket move: %w", ErrConflict)
	// ErrCounterBusy: the counter already serves a ticket (calling, or
	// closing it).
	ErrCounterBusy = fmt.Errorf("counter is serving a ticket: %w", ErrConflict)
	// ErrCounterNotOpen: only an open counter calls.
	ErrCounterNotOpen = fmt.Errorf("counter is not open: %w", ErrConflict)
	// ErrNotCounterService: the counter does not serve the ticket's service.
	ErrNotCounterService = fmt.Errorf("counter does not serve this service: %w", ErrConflict)
	// ErrServiceInactive: tickets are not issued or transferred into an
	// inactive service.
	ErrServiceInactive = fmt.Errorf("service is not active: %w", ErrConflict)
	// ErrTooManyActive: the ticket's owner already holds NewTicket.MaxActive
	// waiting or serving tickets (the gateway answers 429).
	ErrTooManyActive = fmt.Errorf("too many active tickets: %w", ErrConflict)
)

// dbError is a failure of the database itself: its text names the operation,
// the kind and the driver's error code, never the driver's message or SQL;
// Unwrap exposes the cause for logging.
type dbError struct {
	op    string
	kind  error
	code  string
	cause error
}

func (e *dbError) Error() string {
	s := "persistence: " + e.op + ": " + e.kind.Error()
	if e.code != "" {
		s += " (" + e.code + ")"
	}
	return s
}

func (e *dbError) Unwrap() []error { return []error{e.kind, e.cause} }

// errorClass is what a dialect makes of a driver error.
type errorClass int

const (
	classOther errorClass = iota
	classUnique
	classForeignKey
	classCheck
	classUnavailable
)

// opErr builds an error with the operation and a sentinel, for conditions the
// store detects itself.
func opErr(op string, kind error) error {
	return fmt.Errorf("persistence: %s: %w", op, kind)
}

// mapErr turns a driver error into one of the sentinels. Errors that already
// carry a sentinel pass through.
func (s *sqlStore) mapErr(op string, err error) error {
	if err == nil {
		return nil
	}
	for _, k := range []error{ErrNotFound, ErrConflict, ErrDuplicate, ErrInvalid, ErrUnavailable, ErrInternal, ErrReplayed, errKeyTaken} {
		if errors.Is(err, k) {
			return err
		}
	}
	if errors.Is(err, sql.ErrNoRows) {
		return opErr(op, ErrNotFound)
	}
	var e *dbError
	switch class, code := s.classify(err); class {
	case classUnique:
		return &dbError{op: op, kind: ErrDuplicate, cause: err}
	case classForeignKey, classCheck:
		return &dbError{op: op, kind: ErrInvalid, cause: err}
	case classUnavailable:
		e = &dbError{op: op, kind: ErrUnavailable, code: code, cause: err}
	default:
		e = &dbError{op: op, kind: ErrInternal, code: code, cause: err}
	}
	s.failures.record(e)
	return e
}

// classify sorts a driver error: a deadline or a cancellation is the
// database being too slow (unavailable), whatever the driver wrapped it in;
// the rest is the dialect's business.
func (s *sqlStore) classify(err error) (errorClass, string) {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return classUnavailable, "context"
	}
	return s.d.classify(err)
}
