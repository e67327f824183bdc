package persistence

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// Store is queuecast's durable state. Every method that changes state commits
// before it returns, so a caller may announce the change once the method has
// returned without error. The invariants (numbers, one ticket per counter, one
// counter per ticket, legal moves) are enforced by conditional updates and
// constraints inside the database, so they hold even when two processes use
// one database at once. All methods are safe for concurrent use.
type Store interface {
	// Ping checks that the database answers.
	Ping(ctx context.Context) error
	// ProbeWrite checks that a ticket could be written now: it takes the
	// locks a ticket write takes, waiting at most a second for them, and
	// changes nothing (for /ready, which must fail while writes do).
	ProbeWrite(ctx context.Context) error
	// Close releases the database; the Store is unusable afterwards.
	Close() error

	// CreateService adds an active service. ErrDuplicate if the name or the
	// prefix is taken, ErrInvalid for an empty name or a bad prefix.
	CreateService(ctx context.Context, in NewService) (Service, error)
	// ListServices returns every service, ordered by name.
	ListServices(ctx context.Context) ([]Service, error)
	GetService(ctx context.Context, id string) (Service, error)
	GetServiceByName(ctx context.Context, name string) (Service, error)

	// CreateCounter adds a counter serving in.ServiceIDs. ErrDuplicate if the
	// name is taken; ErrInvalid without services or with an unknown one.
	CreateCounter(ctx context.Context, in NewCounter) (Counter, error)
	// ListCounters returns every counter, ordered by name.
	ListCounters(ctx context.Context) ([]Counter, error)
	GetCounter(ctx context.Context, id string) (Counter, error)
	// SetCounterStatus changes the status and returns the counter after the
	// change and the status before it (equal to status if nothing changed).
	// Closing a counter that serves a ticket fails with ErrCounterBusy.
	SetCounterStatus(ctx context.Context, id string, status CounterStatus, by Stamp) (Counter, CounterStatus, error)

	// CreateUser adds an account. ErrDuplicate if the username is taken.
	CreateUser(ctx context.Context, in NewUser) (User, error)
	GetUser(ctx context.Context, id string) (User, error)
	GetUserByUsername(ctx context.Context, username string) (User, error)

	// CreateTicket issues a waiting ticket numbered next in its service and
	// service day, in the same transaction that inserts it. ErrNotFound for
	// an unknown service, ErrServiceInactive for an inactive one,
	// ErrTooManyActive when in.MaxActive is set and the owner already holds
	// that many waiting or serving tickets. With by.Request set, the key is
	// committed with the ticket, and a request whose key was committed
	// before gets that ticket and ErrReplayed instead (ErrKeyReused when its
	// parameters differ).
	CreateTicket(ctx context.Context, in NewTicket, by Stamp) (Ticket, error)
	// CallTicket moves a waiting ticket to serving at an open, idle counter
	// that serves its service. Of two concurrent calls for one ticket, or for
	// one counter, at most one succeeds; the other gets an error wrapping
	// ErrConflict (ErrIllegalMove, ErrCounterBusy, ErrCounterNotOpen or
	// ErrNotCounterService). by.Request is honoured as by CreateTicket: a
	// replayed call returns the ticket the first call called, as it is now.
	CallTicket(ctx context.Context, counterID, ticketID string, by Stamp) (Ticket, error)
	// PurgeIdempotencyKeys forgets the keys committed before the instant
	// and returns how many it forgot.
	PurgeIdempotencyKeys(ctx context.Context, before time.Time) (int, error)
	// RecallTicket re-announces a serving ticket: recallCount + 1.
	RecallTicket(ctx context.Context, ticketID string, by Stamp) (Ticket, error)
	// CompleteTicket ends a serving ticket as completed and frees its counter.
	CompleteTicket(ctx context.Context, ticketID string, by Stamp) (Ticket, error)
	// NoShowTicket ends a serving ticket as no_show and frees its counter.
	NoShowTicket(ctx context.Context, ticketID string, by Stamp) (Ticket, error)
	// TransferTicket moves a serving ticket back to waiting in the service
	// toServiceID (the same service requeues it), keeping its number and
	// display number, queued at the time of the move, and frees its counter.
	TransferTicket(ctx context.Context, ticketID, toServiceID string, by Stamp) (Ticket, error)
	// CancelTicket ends a waiting ticket as cancelled.
	CancelTicket(ctx context.Context, ticketID string, by Stamp) (Ticket, error)
	// ExpireBefore ends as expired every waiting ticket of a service day
	// before serviceDay and returns them.
	ExpireBefore(ctx context.Context, serviceDay string, by Stamp) ([]Ticket, error)

	GetTicket(ctx context.Context, id string) (Ticket, error)
	// ListTickets returns one page of the tickets matching f, newest first,
	// and the number of all matching tickets.
	ListTickets(ctx context.Context, f TicketFilter) ([]Ticket, int, error)
	// ListWaiting returns the waiting tickets of the given services (of all
	// services if none is given) in queue order of arrival: queuedAt, then
	// number. Priority and ageing are the actors' business.
	ListWaiting(ctx context.Context, serviceIDs ...string) ([]Ticket, error)
	// CountActiveTickets counts a user's waiting and serving tickets.
	CountActiveTickets(ctx context.Context, userID string) (int, error)
	// DayStats counts the tickets of serviceDay that ended served, no-show
	// or cancelled, per service and per counter, and the tickets created
	// since the given instant, per issuing service (the metrics).
	DayStats(ctx context.Context, serviceDay string, since time.Time) (DayStats, error)

	// ListTicketEvents returns a ticket's event log, oldest first.
	ListTicketEvents(ctx context.Context, ticketID string) ([]TicketEvent, error)

	// SeedDemo adds the demo services and counters if there are no services
	// yet, and reports whether it did. Safe to run from several nodes at once.
	SeedDemo(ctx context.Context) (bool, error)
}

// Config chooses and tunes the database. The zero value is an embedded
// SQLite database at ./data/queuecast.db.
type Config struct {
	// DatabaseURL selects the database: empty for SQLite at
	// DataDir/queuecast.db, "sqlite:<path>" for SQLite elsewhere, and
	// "postgres://..." or "postgresql://..." for PostgreSQL.
	DatabaseURL string
	// DataDir holds the SQLite file; empty means "data". Created if missing.
	DataDir string
	// MaxOpenConns caps PostgreSQL connections; zero means 16. SQLite always
	// uses one connection so that writers serialize in the process.
	MaxOpenConns int
	// ConnMaxLifetime recycles PostgreSQL connections; zero means 30 minutes.
	ConnMaxLifetime time.Duration
	// Logger receives migration logs and the database failures (each
	// operation's at most once per 10 s, with the driver's message); nil
	// discards them.
	Logger *slog.Logger
}

// Open connects to the database chosen by cfg, applies pending migrations and
// returns the Store.
func Open(ctx context.Context, cfg Config) (Store, error) {
	s, err := open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if _, _, err := migrate(ctx, s.db.DB, s.d, cfg.Logger); err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

// dataDir is DataDir or its default.
func (cfg Config) dataDir() string {
	if cfg.DataDir == "" {
		return "data"
	}
	return cfg.DataDir
}

func open(ctx context.Context, cfg Config) (*sqlStore, error) {
	s, err := openDialect(ctx, cfg)
	if err != nil {
		return nil, err
	}
	s.failures = newFailureLog(cfg.Logger)
	return s, nil
}

func openDialect(ctx context.Context, cfg Config) (*sqlStore, error) {
	u := cfg.DatabaseURL
	switch {
	case u == "":
		return openSQLite(ctx, cfg.dataDir(), "")
	case strings.HasPrefix(u, "sqlite:"):
		return openSQLite(ctx, "", strings.TrimPrefix(u, "sqlite:"))
	case strings.HasPrefix(u, "postgres://"), strings.HasPrefix(u, "postgresql://"):
		return openPostgres(ctx, u, cfg)
	}
	scheme, _, _ := strings.Cut(u, ":")
	return nil, fmt.Errorf("persistence: open: unsupported DATABASE_URL scheme %q: %w", scheme, ErrInvalid)
}
