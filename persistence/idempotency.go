package persistence

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/jmoiron/sqlx"
)

// errKeyTaken marks, inside a transaction, that the request's key was
// already committed by another request; the caller replays that request
// once the transaction is rolled back.
var errKeyTaken = errors.New("idempotency key taken")

// MaxIdempotencyKeyLen bounds an Idempotency-Key.
const MaxIdempotencyKeyLen = 255

// keyDone looks the request's key up inside tx: errKeyTaken when an
// earlier request committed it, nil when the work is still to do.
func (s *sqlStore) keyDone(ctx context.Context, tx *sqlx.Tx, r Idempotency) error {
	if r.IsZero() {
		return nil
	}
	var n int
	if err := s.get(ctx, tx, &n, `SELECT COUNT(*) FROM idempotency_keys WHERE scope = ? AND key = ?`, r.Scope, r.Key); err != nil {
		return err
	}
	if n > 0 {
		return errKeyTaken
	}
	return nil
}

// saveKey records the request's key with the ticket its work produced, in
// the transaction that did the work. A concurrent request with the same
// key that committed first makes it errKeyTaken.
func (s *sqlStore) saveKey(ctx context.Context, tx *sqlx.Tx, r Idempotency, ticketID string, at Timestamp) error {
	if r.IsZero() {
		return nil
	}
	_, err := s.exec(ctx, tx, `INSERT INTO idempotency_keys (scope, key, fingerprint, ticket_id, created_at)
		VALUES (?, ?, ?, ?, ?)`, r.Scope, r.Key, r.Fingerprint, ticketID, at)
	if err != nil {
		if class, _ := s.classify(err); class == classUnique {
			return errKeyTaken
		}
	}
	return err
}

// replay answers a request whose key was committed before: that request's
// ticket as it is now with ErrReplayed, or ErrKeyReused when the earlier
// request had other parameters.
func (s *sqlStore) replay(ctx context.Context, op string, r Idempotency) (Ticket, error) {
	var row struct {
		Fingerprint string `db:"fingerprint"`
		TicketID    string `db:"ticket_id"`
	}
	err := s.get(ctx, s.db, &row, `SELECT fingerprint, ticket_id FROM idempotency_keys WHERE scope = ? AND key = ?`, r.Scope, r.Key)
	if errors.Is(err, sql.ErrNoRows) {
		// Taken by a transaction that then rolled back: nothing was done.
		return Ticket{}, opErr(op+": idempotency key", ErrConflict)
	}
	if err != nil {
		return Ticket{}, s.mapErr(op, err)
	}
	if row.Fingerprint != r.Fingerprint {
		return Ticket{}, opErr(op, ErrKeyReused)
	}
	t, err := s.loadTicket(ctx, s.db, row.TicketID)
	if err != nil {
		return Ticket{}, s.mapErr(op, err)
	}
	return t, ErrReplayed
}

// withKey runs a ticket-producing transaction under the request's key:
// work runs only if the key was not committed before, the key is saved
// with the ticket work returns, and a taken key is replayed.
func (s *sqlStore) withKey(ctx context.Context, op string, r Idempotency, at Timestamp, work func(tx *sqlx.Tx) (Ticket, error)) (Ticket, error) {
	var t Ticket
	err := s.tx(ctx, op, func(tx *sqlx.Tx) error {
		if err := s.keyDone(ctx, tx, r); err != nil {
			return err
		}
		var err error
		if t, err = work(tx); err != nil {
			return err
		}
		return s.saveKey(ctx, tx, r, t.ID, at)
	})
	if errors.Is(err, errKeyTaken) {
		return s.replay(ctx, op, r)
	}
	return t, err
}

func (s *sqlStore) PurgeIdempotencyKeys(ctx context.Context, before time.Time) (int, error) {
	n, err := s.exec(ctx, s.db, `DELETE FROM idempotency_keys WHERE created_at < ?`, NewTimestamp(before))
	return int(n), s.mapErr("purge idempotency keys", err)
}
