package persistence

import (
	"context"
	"database/sql"
	"errors"
	"io/fs"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/pressly/goose/v3"
)

// dialect is what differs between SQLite and PostgreSQL; everything else in
// sqlStore is shared SQL written with '?' placeholders and rebound.
type dialect struct {
	name string
	// bind is the sqlx placeholder style.
	bind int
	// goose and migrations select the schema files.
	goose      goose.Dialect
	migrations fs.FS
	// forUpdate is appended to a SELECT that must lock the row it reads
	// before updating non-key columns (PostgreSQL: FOR NO KEY UPDATE, which
	// does not wait for the key-share locks foreign-key checks take).
	// SQLite needs none: its transactions begin IMMEDIATE and hold the
	// database's single write lock.
	forUpdate string
	// lockUser, when set, is a statement taking a transaction-scoped lock
	// on the user id it is given, so that two transactions counting one
	// user's tickets run one after the other (PostgreSQL: an advisory
	// lock). SQLite needs none, as for forUpdate.
	lockUser string
	// classify sorts a driver error and names its code.
	classify func(error) (errorClass, string)
	// migrationLock makes concurrent migrations from several nodes wait.
	migrationLock bool
	// probeWrite are the statements that, inside a transaction that is
	// rolled back, take the locks a ticket write needs and change nothing
	// (Store.ProbeWrite). SQLite needs none: beginning its IMMEDIATE
	// transaction takes the write lock.
	probeWrite []string
}

// sqlStore implements Store on database/sql through sqlx for both dialects.
type sqlStore struct {
	db       *sqlx.DB
	d        dialect
	failures *failureLog
}

// newID returns a UUIDv7 string: time ordered, so ids sort and index well.
func newID() string { return uuid.Must(uuid.NewV7()).String() }

// NewID returns a new row id of the kind the store picks itself, for a
// caller that names a ticket before creating it (NewTicket.ID).
func NewID() string { return newID() }

func (s *sqlStore) rebind(q string) string { return sqlx.Rebind(s.d.bind, q) }

func (s *sqlStore) get(ctx context.Context, q sqlx.QueryerContext, dest any, query string, args ...any) error {
	return sqlx.GetContext(ctx, q, dest, s.rebind(query), args...)
}

func (s *sqlStore) list(ctx context.Context, q sqlx.QueryerContext, dest any, query string, args ...any) error {
	return sqlx.SelectContext(ctx, q, dest, s.rebind(query), args...)
}

// exec runs a statement and returns the number of rows it changed.
func (s *sqlStore) exec(ctx context.Context, e sqlx.ExecerContext, query string, args ...any) (int64, error) {
	res, err := e.ExecContext(ctx, s.rebind(query), args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// in expands the slices among args into '?' lists (sqlx.In) and rebinds.
func (s *sqlStore) in(query string, args ...any) (string, []any, error) {
	q, a, err := sqlx.In(query, args...)
	if err != nil {
		return "", nil, err
	}
	return s.rebind(q), a, nil
}

// tx runs fn in a transaction, committing if fn returns nil.
func (s *sqlStore) tx(ctx context.Context, op string, fn func(tx *sqlx.Tx) error) error {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return s.mapErr(op, err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return s.mapErr(op, err)
	}
	if err := tx.Commit(); err != nil {
		// The statements went through; whether the commit did is not
		// known (the connection may have broken after the server
		// committed), so the caller must look before it answers.
		e := &dbError{op: op, kind: ErrOutcomeUnknown, code: "commit", cause: err}
		s.failures.record(e)
		return e
	}
	return nil
}

func (s *sqlStore) Ping(ctx context.Context) error {
	return s.mapErr("ping", s.db.PingContext(ctx))
}

func (s *sqlStore) ProbeWrite(ctx context.Context) error {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return s.mapErr("probe write", err)
	}
	defer func() { _ = tx.Rollback() }()
	for _, q := range s.d.probeWrite {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return s.mapErr("probe write", err)
		}
	}
	return nil
}

func (s *sqlStore) Close() error {
	return s.mapErr("close", s.db.Close())
}

// Services.

const serviceColumns = `id, name, prefix, active, default_service_seconds, target_wait_seconds, created_at`

func (s *sqlStore) CreateService(ctx context.Context, in NewService) (Service, error) {
	svc, err := s.insertService(ctx, s.db, in, NewTimestamp(time.Now()))
	return svc, s.mapErr("create service", err)
}

func (s *sqlStore) insertService(ctx context.Context, e sqlx.ExecerContext, in NewService, at Timestamp) (Service, error) {
	svc := Service{
		ID:                    newID(),
		Name:                  strings.TrimSpace(in.Name),
		Prefix:                strings.ToUpper(strings.TrimSpace(in.Prefix)),
		Active:                true,
		DefaultServiceSeconds: in.DefaultServiceSeconds,
		TargetWaitSeconds:     in.TargetWaitSeconds,
		CreatedAt:             at,
	}
	if svc.Name == "" || len(svc.Name) > maxNameLen || !prefixPattern.MatchString(svc.Prefix) ||
		svc.DefaultServiceSeconds < 0 || svc.TargetWaitSeconds < 0 {
		return Service{}, opErr("create service", ErrInvalid)
	}
	if svc.DefaultServiceSeconds == 0 {
		svc.DefaultServiceSeconds = DefaultServiceSeconds
	}
	if svc.TargetWaitSeconds == 0 {
		svc.TargetWaitSeconds = DefaultTargetWait
	}
	_, err := s.exec(ctx, e, `INSERT INTO services (`+serviceColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		svc.ID, svc.Name, svc.Prefix, svc.Active, svc.DefaultServiceSeconds, svc.TargetWaitSeconds, svc.CreatedAt)
	return svc, err
}

// maxNameLen bounds service, counter and user names.
const maxNameLen = 100

func (s *sqlStore) ListServices(ctx context.Context) ([]Service, error) {
	out := []Service{}
	err := s.list(ctx, s.db, &out, `SELECT `+serviceColumns+` FROM services ORDER BY name`)
	return out, s.mapErr("list services", err)
}

func (s *sqlStore) GetService(ctx context.Context, id string) (Service, error) {
	var svc Service
	err := s.get(ctx, s.db, &svc, `SELECT `+serviceColumns+` FROM services WHERE id = ?`, id)
	return svc, s.mapErr("get service", err)
}

func (s *sqlStore) GetServiceByName(ctx context.Context, name string) (Service, error) {
	var svc Service
	err := s.get(ctx, s.db, &svc, `SELECT `+serviceColumns+` FROM services WHERE name = ?`, name)
	return svc, s.mapErr("get service", err)
}

// Counters.

type counterRow struct {
	ID              string        `db:"id"`
	Name            string        `db:"name"`
	Status          CounterStatus `db:"status"`
	CurrentTicketID *string       `db:"current_ticket_id"`
	StatusChangedAt Timestamp     `db:"status_changed_at"`
}

type counterServiceRow struct {
	CounterID   string `db:"counter_id"`
	ServiceID   string `db:"service_id"`
	ServiceName string `db:"service_name"`
}

const counterColumns = `id, name, status, current_ticket_id, status_changed_at`

func (s *sqlStore) CreateCounter(ctx context.Context, in NewCounter) (Counter, error) {
	var c Counter
	err := s.tx(ctx, "create counter", func(tx *sqlx.Tx) error {
		var err error
		c, err = s.insertCounter(ctx, tx, in, NewTimestamp(time.Now()))
		return err
	})
	return c, err
}

func (s *sqlStore) insertCounter(ctx context.Context, tx *sqlx.Tx, in NewCounter, at Timestamp) (Counter, error) {
	const op = "create counter"
	name := strings.TrimSpace(in.Name)
	status := in.Status
	if status == "" {
		status = CounterClosed
	}
	ids := slices.Clone(in.ServiceIDs)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	if name == "" || len(name) > maxNameLen || !status.Valid() || len(ids) == 0 {
		return Counter{}, opErr(op, ErrInvalid)
	}
	q, args, err := s.in(`SELECT id AS service_id, name AS service_name FROM services WHERE id IN (?) ORDER BY name`, ids)
	if err != nil {
		return Counter{}, err
	}
	var svcs []counterServiceRow
	if err := sqlx.SelectContext(ctx, tx, &svcs, q, args...); err != nil {
		return Counter{}, err
	}
	if len(svcs) != len(ids) {
		return Counter{}, opErr(op+": unknown service", ErrInvalid)
	}
	c := Counter{ID: newID(), Name: name, Status: status, StatusChangedAt: at}
	if _, err := s.exec(ctx, tx, `INSERT INTO counters (`+counterColumns+`) VALUES (?, ?, ?, NULL, ?)`,
		c.ID, c.Name, c.Status, at); err != nil {
		return Counter{}, err
	}
	for _, svc := range svcs {
		if _, err := s.exec(ctx, tx, `INSERT INTO counter_services (counter_id, service_id) VALUES (?, ?)`,
			c.ID, svc.ServiceID); err != nil {
			return Counter{}, err
		}
		c.Services = append(c.Services, svc.ServiceName)
		c.ServiceIDs = append(c.ServiceIDs, svc.ServiceID)
	}
	return c, nil
}

// loadCounters reads counters (all if id is empty) with their services.
func (s *sqlStore) loadCounters(ctx context.Context, q sqlx.QueryerContext, id string) ([]Counter, error) {
	var rows []counterRow
	var links []counterServiceRow
	const linkQuery = `SELECT cs.counter_id, s.id AS service_id, s.name AS service_name
		FROM counter_services cs JOIN services s ON s.id = cs.service_id`
	if id == "" {
		if err := s.list(ctx, q, &rows, `SELECT `+counterColumns+` FROM counters ORDER BY name`); err != nil {
			return nil, err
		}
		if err := s.list(ctx, q, &links, linkQuery+` ORDER BY s.name`); err != nil {
			return nil, err
		}
	} else {
		if err := s.list(ctx, q, &rows, `SELECT `+counterColumns+` FROM counters WHERE id = ?`, id); err != nil {
			return nil, err
		}
		if err := s.list(ctx, q, &links, linkQuery+` WHERE cs.counter_id = ? ORDER BY s.name`, id); err != nil {
			return nil, err
		}
	}
	out := make([]Counter, 0, len(rows))
	index := make(map[string]int, len(rows))
	for _, r := range rows {
		index[r.ID] = len(out)
		out = append(out, Counter{
			ID: r.ID, Name: r.Name, Status: r.Status, CurrentTicketID: r.CurrentTicketID,
			StatusChangedAt: r.StatusChangedAt, Services: []string{}, ServiceIDs: []string{},
		})
	}
	for _, l := range links {
		if i, ok := index[l.CounterID]; ok {
			out[i].Services = append(out[i].Services, l.ServiceName)
			out[i].ServiceIDs = append(out[i].ServiceIDs, l.ServiceID)
		}
	}
	return out, nil
}

func (s *sqlStore) ListCounters(ctx context.Context) ([]Counter, error) {
	out, err := s.loadCounters(ctx, s.db, "")
	return out, s.mapErr("list counters", err)
}

func (s *sqlStore) GetCounter(ctx context.Context, id string) (Counter, error) {
	c, err := s.getCounter(ctx, s.db, id)
	return c, s.mapErr("get counter", err)
}

func (s *sqlStore) getCounter(ctx context.Context, q sqlx.QueryerContext, id string) (Counter, error) {
	cs, err := s.loadCounters(ctx, q, id)
	if err != nil {
		return Counter{}, err
	}
	if len(cs) == 0 {
		return Counter{}, opErr("get counter", ErrNotFound)
	}
	return cs[0], nil
}

func (s *sqlStore) SetCounterStatus(ctx context.Context, id string, status CounterStatus, by Stamp) (Counter, CounterStatus, error) {
	const op = "set counter status"
	if !status.Valid() {
		return Counter{}, "", opErr(op, ErrInvalid)
	}
	var (
		c    Counter
		prev CounterStatus
	)
	err := s.tx(ctx, op, func(tx *sqlx.Tx) error {
		var row counterRow
		if err := s.get(ctx, tx, &row, `SELECT `+counterColumns+` FROM counters WHERE id = ?`+s.d.forUpdate, id); err != nil {
			return err
		}
		prev = row.Status
		if status == CounterClosed && row.CurrentTicketID != nil {
			return opErr(op, ErrCounterBusy)
		}
		if status != prev {
			q := `UPDATE counters SET status = ?, status_changed_at = ? WHERE id = ?`
			if status == CounterClosed {
				q += ` AND current_ticket_id IS NULL`
			}
			n, err := s.exec(ctx, tx, q, status, by.at(), id)
			if err != nil {
				return err
			}
			if n == 0 {
				return opErr(op, ErrCounterBusy)
			}
		}
		var err error
		c, err = s.getCounter(ctx, tx, id)
		return err
	})
	if err != nil {
		return Counter{}, "", err
	}
	return c, prev, nil
}

// Users.

const userColumns = `id, username, password_hash, role, counter_id, created_at`

func (s *sqlStore) CreateUser(ctx context.Context, in NewUser) (User, error) {
	const op = "create user"
	u := User{
		ID:           newID(),
		Username:     strings.TrimSpace(in.Username),
		PasswordHash: in.PasswordHash,
		Role:         in.Role,
		CounterID:    in.CounterID,
		CreatedAt:    NewTimestamp(time.Now()),
	}
	if u.Username == "" || len(u.Username) > maxNameLen || u.PasswordHash == "" || !u.Role.Valid() {
		return User{}, opErr(op, ErrInvalid)
	}
	_, err := s.exec(ctx, s.db, `INSERT INTO users (`+userColumns+`) VALUES (?, ?, ?, ?, ?, ?)`,
		u.ID, u.Username, u.PasswordHash, u.Role, u.CounterID, u.CreatedAt)
	if err != nil {
		return User{}, s.mapErr(op, err)
	}
	return u, nil
}

func (s *sqlStore) GetUser(ctx context.Context, id string) (User, error) {
	var u User
	err := s.get(ctx, s.db, &u, `SELECT `+userColumns+` FROM users WHERE id = ?`, id)
	return u, s.mapErr("get user", err)
}

func (s *sqlStore) GetUserByUsername(ctx context.Context, username string) (User, error) {
	var u User
	err := s.get(ctx, s.db, &u, `SELECT `+userColumns+` FROM users WHERE username = ?`, username)
	return u, s.mapErr("get user", err)
}

// Tickets.

const ticketSelect = `SELECT t.id, t.number, t.display_number, s.name AS service_type, t.status,
	t.priority, t.user_id, t.counter_id, t.recall_count, t.created_at, t.called_at, t.ended_at,
	t.service_id, t.issuing_service_id, t.service_day, t.queued_at, t.last_called_at
	FROM tickets t JOIN services s ON s.id = t.service_id`

func (s *sqlStore) loadTicket(ctx context.Context, q sqlx.QueryerContext, id string) (Ticket, error) {
	var t Ticket
	if err := s.get(ctx, q, &t, ticketSelect+` WHERE t.id = ?`, id); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return Ticket{}, opErr("ticket", ErrNotFound)
		}
		return Ticket{}, err
	}
	return t, nil
}

func (s *sqlStore) addEvent(ctx context.Context, tx *sqlx.Tx, e TicketEvent) error {
	_, err := s.exec(ctx, tx, `INSERT INTO ticket_events
		(ticket_id, type, occurred_at, actor, counter_id, from_service_id, to_service_id)
		VALUES (?, ?, ?, ?, ?, ?, ?)`,
		e.TicketID, e.Type, e.At, e.Actor, e.CounterID, e.FromServiceID, e.ToServiceID)
	return err
}

func (s *sqlStore) CreateTicket(ctx context.Context, in NewTicket, by Stamp) (Ticket, error) {
	const op = "create ticket"
	prio := in.Priority
	if prio == "" {
		prio = PriorityNormal
	}
	if !prio.Valid() || !validServiceDay(in.ServiceDay) || in.ServiceID == "" || len(in.UserID) > maxNameLen || in.MaxActive < 0 {
		return Ticket{}, opErr(op, ErrInvalid)
	}
	var user *string
	if in.UserID != "" {
		user = &in.UserID
	}
	if len(in.ID) > maxNameLen || len(by.Request.Key) > MaxIdempotencyKeyLen {
		return Ticket{}, opErr(op, ErrInvalid)
	}
	at := by.at()
	return s.withKey(ctx, op, by.Request, at, func(tx *sqlx.Tx) (Ticket, error) {
		var svc Service
		if err := s.get(ctx, tx, &svc, `SELECT `+serviceColumns+` FROM services WHERE id = ?`, in.ServiceID); err != nil {
			return Ticket{}, err
		}
		if !svc.Active {
			return Ticket{}, opErr(op, ErrServiceInactive)
		}
		if user != nil && in.MaxActive > 0 {
			if err := s.checkActive(ctx, tx, *user, in.MaxActive); err != nil {
				return Ticket{}, err
			}
		}
		// The sequence row is created at 1 or incremented under its row
		// lock; the transaction holds it until the ticket is committed, so
		// numbers are gap-free and never reused.
		var number int
		if err := s.get(ctx, tx, &number, `INSERT INTO ticket_sequences (service_id, service_day, last_number)
			VALUES (?, ?, 1)
			ON CONFLICT (service_id, service_day)
			DO UPDATE SET last_number = ticket_sequences.last_number + 1
			RETURNING last_number`, svc.ID, in.ServiceDay); err != nil {
			return Ticket{}, err
		}
		id := in.ID
		if id == "" {
			id = newID()
		}
		if _, err := s.exec(ctx, tx, `INSERT INTO tickets
			(id, service_id, issuing_service_id, service_day, number, display_number, status,
			 priority, user_id, counter_id, recall_count, created_at, queued_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, 0, ?, ?)`,
			id, svc.ID, svc.ID, in.ServiceDay, number, DisplayNumber(svc.Prefix, number), TicketWaiting,
			prio, user, at, at); err != nil {
			return Ticket{}, err
		}
		if err := s.addEvent(ctx, tx, TicketEvent{TicketID: id, Type: EventCreated, At: at, Actor: by.actor()}); err != nil {
			return Ticket{}, err
		}
		return s.loadTicket(ctx, tx, id)
	})
}

// checkActive fails with ErrTooManyActive when user holds max or more
// waiting or serving tickets. The per-user lock (or SQLite's write lock)
// is held until the transaction ends, so a concurrent create for the same
// user counts this one's ticket too.
func (s *sqlStore) checkActive(ctx context.Context, tx *sqlx.Tx, user string, max int) error {
	if s.d.lockUser != "" {
		if _, err := s.exec(ctx, tx, s.d.lockUser, user); err != nil {
			return err
		}
	}
	var n int
	if err := s.get(ctx, tx, &n, `SELECT COUNT(*) FROM tickets WHERE user_id = ? AND status IN (?, ?)`,
		user, TicketWaiting, TicketServing); err != nil {
		return err
	}
	if n >= max {
		return opErr("create ticket", ErrTooManyActive)
	}
	return nil
}

func (s *sqlStore) CallTicket(ctx context.Context, counterID, ticketID string, by Stamp) (Ticket, error) {
	const op = "call ticket"
	if len(by.Request.Key) > MaxIdempotencyKeyLen {
		return Ticket{}, opErr(op, ErrInvalid)
	}
	at := by.at()
	return s.withKey(ctx, op, by.Request, at, func(tx *sqlx.Tx) (Ticket, error) {
		if err := s.callTicket(ctx, tx, op, counterID, ticketID, at, by); err != nil {
			return Ticket{}, err
		}
		return s.loadTicket(ctx, tx, ticketID)
	})
}

// callTicket makes the moves of a call inside tx, each conditional on the
// state it read, and logs the event.
func (s *sqlStore) callTicket(ctx context.Context, tx *sqlx.Tx, op, counterID, ticketID string, at Timestamp, by Stamp) error {
	// Read first to name the reason a call is refused; the conditional
	// updates below are what actually guard the invariants.
	cur, err := s.loadTicket(ctx, tx, ticketID)
	if err != nil {
		return err
	}
	var c counterRow
	if err := s.get(ctx, tx, &c, `SELECT `+counterColumns+` FROM counters WHERE id = ?`, counterID); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return opErr(op+": counter", ErrNotFound)
		}
		return err
	}
	var serves int
	if err := s.get(ctx, tx, &serves, `SELECT COUNT(*) FROM counter_services WHERE counter_id = ? AND service_id = ?`,
		counterID, cur.ServiceID); err != nil {
		return err
	}
	switch {
	case cur.Status != TicketWaiting:
		return opErr(op, ErrIllegalMove)
	case c.Status != CounterOpen:
		return opErr(op, ErrCounterNotOpen)
	case c.CurrentTicketID != nil:
		return opErr(op, ErrCounterBusy)
	case serves == 0:
		return opErr(op, ErrNotCounterService)
	}
	// Ticket row first, then counter row: every move locks in this
	// order, so concurrent moves cannot deadlock.
	n, err := s.exec(ctx, tx, `UPDATE tickets
		SET status = ?, counter_id = ?, called_at = COALESCE(called_at, ?), last_called_at = ?
		WHERE id = ? AND status = ?
		  AND service_id IN (SELECT service_id FROM counter_services WHERE counter_id = ?)`,
		TicketServing, counterID, at, at, ticketID, TicketWaiting, counterID)
	if err != nil {
		// The partial unique index on serving tickets' counter_id.
		return s.conflictOnUnique(op, err, ErrCounterBusy)
	}
	if n == 0 {
		return opErr(op, ErrIllegalMove)
	}
	n, err = s.exec(ctx, tx, `UPDATE counters SET current_ticket_id = ?
		WHERE id = ? AND status = ? AND current_ticket_id IS NULL`,
		ticketID, counterID, CounterOpen)
	if err != nil {
		// The unique current_ticket_id: another counter has the ticket.
		return s.conflictOnUnique(op, err, ErrIllegalMove)
	}
	if n == 0 {
		// Changed since the read above: say how, as it is now.
		var now counterRow
		if err := s.get(ctx, tx, &now, `SELECT `+counterColumns+` FROM counters WHERE id = ?`, counterID); err != nil {
			return err
		}
		if now.Status != CounterOpen {
			return opErr(op, ErrCounterNotOpen)
		}
		return opErr(op, ErrCounterBusy)
	}
	return s.addEvent(ctx, tx, TicketEvent{TicketID: ticketID, Type: EventCalled, At: at,
		Actor: by.actor(), CounterID: &counterID})
}

// conflictOnUnique reports a unique violation met by a move as the
// conflict kind: another transaction got there first.
func (s *sqlStore) conflictOnUnique(op string, err error, kind error) error {
	if class, _ := s.classify(err); class == classUnique {
		return opErr(op, kind)
	}
	return err
}

func (s *sqlStore) RecallTicket(ctx context.Context, ticketID string, by Stamp) (Ticket, error) {
	at := by.at()
	return s.step(ctx, "recall ticket", ticketID, TicketServing,
		`recall_count = recall_count + 1, last_called_at = ?`, []any{at},
		func(cur Ticket) TicketEvent {
			return TicketEvent{TicketID: ticketID, Type: EventRecalled, At: at, Actor: by.actor(), CounterID: cur.CounterID}
		})
}

// step runs a move that changes the ticket row alone: the ticket must be in
// status from, set is the UPDATE's SET clause (its arguments in setArgs), and
// the update is conditional on the status, so a concurrent move makes it
// fail rather than overwrite. The event is appended in the same transaction.
func (s *sqlStore) step(ctx context.Context, op, ticketID string, from TicketStatus, set string, setArgs []any,
	event func(cur Ticket) TicketEvent) (Ticket, error) {
	var t Ticket
	err := s.tx(ctx, op, func(tx *sqlx.Tx) error {
		cur, err := s.loadTicket(ctx, tx, ticketID)
		if err != nil {
			return err
		}
		if cur.Status != from {
			return opErr(op, ErrIllegalMove)
		}
		args := append(append([]any{}, setArgs...), ticketID, from)
		n, err := s.exec(ctx, tx, `UPDATE tickets SET `+set+` WHERE id = ? AND status = ?`, args...)
		if err != nil {
			return err
		}
		if n == 0 {
			return opErr(op, ErrIllegalMove)
		}
		if err := s.addEvent(ctx, tx, event(cur)); err != nil {
			return err
		}
		t, err = s.loadTicket(ctx, tx, ticketID)
		return err
	})
	return t, err
}

func (s *sqlStore) CompleteTicket(ctx context.Context, ticketID string, by Stamp) (Ticket, error) {
	return s.leaveCounter(ctx, "complete ticket", ticketID, TicketCompleted, EventCompleted, "", by)
}

func (s *sqlStore) NoShowTicket(ctx context.Context, ticketID string, by Stamp) (Ticket, error) {
	return s.leaveCounter(ctx, "no-show ticket", ticketID, TicketNoShow, EventNoShow, "", by)
}

func (s *sqlStore) TransferTicket(ctx context.Context, ticketID, toServiceID string, by Stamp) (Ticket, error) {
	if toServiceID == "" {
		return Ticket{}, opErr("transfer ticket", ErrInvalid)
	}
	return s.leaveCounter(ctx, "transfer ticket", ticketID, TicketWaiting, EventTransferred, toServiceID, by)
}

// leaveCounter moves a serving ticket to status (completed, no_show, or
// waiting in toServiceID for a transfer) and frees its counter.
func (s *sqlStore) leaveCounter(ctx context.Context, op, ticketID string, status TicketStatus, ev EventType, toServiceID string, by Stamp) (Ticket, error) {
	at := by.at()
	var t Ticket
	err := s.tx(ctx, op, func(tx *sqlx.Tx) error {
		cur, err := s.loadTicket(ctx, tx, ticketID)
		if err != nil {
			return err
		}
		if toServiceID != "" {
			var svc Service
			if err := s.get(ctx, tx, &svc, `SELECT `+serviceColumns+` FROM services WHERE id = ?`, toServiceID); err != nil {
				if errors.Is(err, sql.ErrNoRows) {
					return opErr(op+": service", ErrNotFound)
				}
				return err
			}
			if !svc.Active {
				return opErr(op, ErrServiceInactive)
			}
		}
		if cur.Status != TicketServing || cur.CounterID == nil {
			return opErr(op, ErrIllegalMove)
		}
		counterID := *cur.CounterID
		var n int64
		if status == TicketWaiting {
			n, err = s.exec(ctx, tx, `UPDATE tickets SET status = ?, service_id = ?, counter_id = NULL, queued_at = ?
				WHERE id = ? AND status = ? AND counter_id = ?`,
				status, toServiceID, at, ticketID, TicketServing, counterID)
		} else {
			n, err = s.exec(ctx, tx, `UPDATE tickets SET status = ?, ended_at = ?
				WHERE id = ? AND status = ? AND counter_id = ?`,
				status, at, ticketID, TicketServing, counterID)
		}
		if err != nil {
			return err
		}
		if n == 0 {
			return opErr(op, ErrIllegalMove)
		}
		n, err = s.exec(ctx, tx, `UPDATE counters SET current_ticket_id = NULL WHERE id = ? AND current_ticket_id = ?`,
			counterID, ticketID)
		if err != nil {
			return err
		}
		if n == 0 {
			return opErr(op, ErrConflict)
		}
		e := TicketEvent{TicketID: ticketID, Type: ev, At: at, Actor: by.actor(), CounterID: &counterID}
		if status == TicketWaiting {
			e.FromServiceID, e.ToServiceID = &cur.ServiceID, &toServiceID
		}
		if err := s.addEvent(ctx, tx, e); err != nil {
			return err
		}
		t, err = s.loadTicket(ctx, tx, ticketID)
		return err
	})
	return t, err
}

func (s *sqlStore) CancelTicket(ctx context.Context, ticketID string, by Stamp) (Ticket, error) {
	at := by.at()
	return s.step(ctx, "cancel ticket", ticketID, TicketWaiting,
		`status = ?, ended_at = ?`, []any{TicketCancelled, at},
		func(Ticket) TicketEvent {
			return TicketEvent{TicketID: ticketID, Type: EventCancelled, At: at, Actor: by.actor()}
		})
}

// expireChunk bounds the ids in one IN list.
const expireChunk = 500

func (s *sqlStore) ExpireBefore(ctx context.Context, serviceDay string, by Stamp) ([]Ticket, error) {
	const op = "expire tickets"
	if !validServiceDay(serviceDay) {
		return nil, opErr(op, ErrInvalid)
	}
	at := by.at()
	out := []Ticket{}
	err := s.tx(ctx, op, func(tx *sqlx.Tx) error {
		out = out[:0]
		var ids []string
		if err := s.list(ctx, tx, &ids, `UPDATE tickets SET status = ?, ended_at = ?
			WHERE status = ? AND service_day < ? RETURNING id`,
			TicketExpired, at, TicketWaiting, serviceDay); err != nil {
			return err
		}
		for _, id := range ids {
			if err := s.addEvent(ctx, tx, TicketEvent{TicketID: id, Type: EventExpired, At: at, Actor: by.actor()}); err != nil {
				return err
			}
		}
		for chunk := range slices.Chunk(ids, expireChunk) {
			q, args, err := s.in(ticketSelect+` WHERE t.id IN (?) ORDER BY t.service_day, t.number`, chunk)
			if err != nil {
				return err
			}
			var ts []Ticket
			if err := sqlx.SelectContext(ctx, tx, &ts, q, args...); err != nil {
				return err
			}
			out = append(out, ts...)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (s *sqlStore) GetTicket(ctx context.Context, id string) (Ticket, error) {
	t, err := s.loadTicket(ctx, s.db, id)
	return t, s.mapErr("get ticket", err)
}

func (s *sqlStore) ListTickets(ctx context.Context, f TicketFilter) ([]Ticket, int, error) {
	const op = "list tickets"
	if f.Limit < 0 || f.Offset < 0 {
		return nil, 0, opErr(op, ErrInvalid)
	}
	limit := f.Limit
	if limit == 0 {
		limit = DefaultPageSize
	}
	limit = min(limit, MaxPageSize)
	var where []string
	var args []any
	if len(f.Statuses) > 0 {
		where = append(where, `t.status IN (?)`)
		args = append(args, f.Statuses)
	}
	for _, c := range []struct{ col, val string }{
		{"s.name", f.ServiceType}, {"t.service_id", f.ServiceID}, {"t.user_id", f.UserID},
		{"t.counter_id", f.CounterID}, {"t.service_day", f.ServiceDay},
	} {
		if c.val != "" {
			where = append(where, c.col+` = ?`)
			args = append(args, c.val)
		}
	}
	cond := ""
	if len(where) > 0 {
		cond = ` WHERE ` + strings.Join(where, ` AND `)
	}
	var total int
	q, a, err := s.in(`SELECT COUNT(*) FROM tickets t JOIN services s ON s.id = t.service_id`+cond, args...)
	if err != nil {
		return nil, 0, s.mapErr(op, err)
	}
	if err := sqlx.GetContext(ctx, s.db, &total, q, a...); err != nil {
		return nil, 0, s.mapErr(op, err)
	}
	q, a, err = s.in(ticketSelect+cond+` ORDER BY t.created_at DESC, t.id DESC LIMIT ? OFFSET ?`,
		append(args, limit, f.Offset)...)
	if err != nil {
		return nil, 0, s.mapErr(op, err)
	}
	out := []Ticket{}
	if err := sqlx.SelectContext(ctx, s.db, &out, q, a...); err != nil {
		return nil, 0, s.mapErr(op, err)
	}
	return out, total, nil
}

func (s *sqlStore) ListWaiting(ctx context.Context, serviceIDs ...string) ([]Ticket, error) {
	const op = "list waiting"
	q := ticketSelect + ` WHERE t.status = ?`
	args := []any{TicketWaiting}
	if len(serviceIDs) > 0 {
		q += ` AND t.service_id IN (?)`
		args = append(args, serviceIDs)
	}
	q, a, err := s.in(q+` ORDER BY t.queued_at, t.number, t.id`, args...)
	if err != nil {
		return nil, s.mapErr(op, err)
	}
	out := []Ticket{}
	err = sqlx.SelectContext(ctx, s.db, &out, q, a...)
	return out, s.mapErr(op, err)
}

func (s *sqlStore) CountActiveTickets(ctx context.Context, userID string) (int, error) {
	var n int
	err := s.get(ctx, s.db, &n, `SELECT COUNT(*) FROM tickets WHERE user_id = ? AND status IN (?, ?)`,
		userID, TicketWaiting, TicketServing)
	return n, s.mapErr("count active tickets", err)
}

type dayCountRow struct {
	ServiceID string       `db:"service_id"`
	CounterID *string      `db:"counter_id"`
	Status    TicketStatus `db:"status"`
	N         int          `db:"n"`
}

func (s *sqlStore) DayStats(ctx context.Context, serviceDay string, since time.Time) (DayStats, error) {
	const op = "day stats"
	if !validServiceDay(serviceDay) {
		return DayStats{}, opErr(op, ErrInvalid)
	}
	out := DayStats{Services: map[string]ServiceDayStats{}, Counters: map[string]CounterDayStats{}}
	var rows []dayCountRow
	if err := s.list(ctx, s.db, &rows, `SELECT service_id, counter_id, status, COUNT(*) AS n FROM tickets
		WHERE service_day = ? AND status IN (?, ?, ?) GROUP BY service_id, counter_id, status`,
		serviceDay, TicketCompleted, TicketNoShow, TicketCancelled); err != nil {
		return DayStats{}, s.mapErr(op, err)
	}
	for _, r := range rows {
		sv := out.Services[r.ServiceID]
		var cv CounterDayStats
		if r.CounterID != nil {
			cv = out.Counters[*r.CounterID]
		}
		switch r.Status {
		case TicketCompleted:
			sv.Served += r.N
			cv.Served += r.N
		case TicketNoShow:
			sv.NoShows += r.N
			cv.NoShows += r.N
		case TicketCancelled:
			sv.Cancelled += r.N
		}
		out.Services[r.ServiceID] = sv
		if r.CounterID != nil {
			out.Counters[*r.CounterID] = cv
		}
	}
	var arrivals []struct {
		ServiceID string `db:"service_id"`
		N         int    `db:"n"`
	}
	if err := s.list(ctx, s.db, &arrivals, `SELECT issuing_service_id AS service_id, COUNT(*) AS n FROM tickets
		WHERE created_at >= ? GROUP BY issuing_service_id`, NewTimestamp(since)); err != nil {
		return DayStats{}, s.mapErr(op, err)
	}
	for _, a := range arrivals {
		sv := out.Services[a.ServiceID]
		sv.Arrivals = a.N
		out.Services[a.ServiceID] = sv
	}
	return out, nil
}

// Events.

func (s *sqlStore) ListTicketEvents(ctx context.Context, ticketID string) ([]TicketEvent, error) {
	const op = "list ticket events"
	out := []TicketEvent{}
	if err := s.list(ctx, s.db, &out, `SELECT id, ticket_id, type, occurred_at, actor, counter_id, from_service_id, to_service_id
		FROM ticket_events WHERE ticket_id = ? ORDER BY id`, ticketID); err != nil {
		return nil, s.mapErr(op, err)
	}
	if len(out) == 0 {
		// Every ticket has its created event.
		return nil, opErr(op, ErrNotFound)
	}
	return out, nil
}
