// Package persistence owns queuecast's durable state: services, counters and
// the services they serve, users, tickets, the append-only ticket event log
// and the per-service, per-day ticket number sequences. It is the bottom
// layer; it imports nothing of ours.
//
// One Store interface (store.go) has one implementation on sqlx
// (store_sql.go), shared by two dialects: embedded SQLite through
// modernc.org/sqlite (store_sqlite.go, the default) and PostgreSQL through
// pgx's database/sql driver (store_postgres.go). The SQL is written once with
// '?' placeholders and rebound per dialect; only the schema files under
// migrations/ differ. Open applies pending goose migrations; Migrate applies
// them alone and reports which it applied and the version reached.
//
// Representation: ids are text, UUIDv7 strings made by the store. Times are
// UTC with millisecond precision (Timestamp), stored as fixed-width RFC 3339
// text in SQLite and as timestamptz in PostgreSQL; JSON renders them as
// RFC 3339 with milliseconds. Service days are "2006-01-02" strings chosen
// by the caller in the branch zone (see ServiceDay).
//
// Concurrency contract: a Store is safe for concurrent use. Every method
// that changes state runs in one transaction and has committed when it
// returns, so a caller announces a change only after the call returned
// without error, and after a restart reloads from the Store. The invariants
// are guarded by the database itself, not by the caller being the only
// owner: ticket numbers come from an upserted sequence row inside the
// ticket's transaction and are unique per (issuing service, day, number); a
// call is a conditional update (ticket still waiting, counter open and idle
// and serving the ticket's service) backed by unique indexes (one serving
// ticket per counter, one counter per ticket); every other move is a
// conditional update on the ticket's status. So two owners at once — two
// actors, two nodes — can never number twice or serve one ticket twice; the
// loser gets an error wrapping ErrConflict. Transactions lock the ticket row
// before the counter row, so concurrent moves do not deadlock. SQLite uses a
// single connection and IMMEDIATE transactions, so writes serialize; several
// processes on one SQLite file also serialize, on its write lock.
//
// Errors: every error wraps one of ErrNotFound, ErrConflict, ErrDuplicate,
// ErrInvalid, ErrUnavailable or ErrInternal, mapped from SQLite result codes
// and PostgreSQL SQLSTATEs; error text never contains SQL or driver messages.
// The exception is a first connection to PostgreSQL that fails: its error,
// read by an operator at start, names the server, database, user and the
// server's or the system's reason (never the password).
package persistence
