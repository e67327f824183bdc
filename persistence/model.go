package persistence

import (
	"database/sql/driver"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Timestamp is an instant stored in UTC with millisecond precision, the
// precision of the wire contract. It marshals to JSON as RFC 3339 with
// milliseconds ("2026-01-27T09:15:00.123Z") and is written to the database as
// that same fixed-width text, so that SQLite orders it correctly as text and
// PostgreSQL reads it into a timestamptz.
type Timestamp struct{ time.Time }

// timestampLayout is fixed width (always three fraction digits, always "Z")
// so that text comparison in SQLite equals time comparison.
const timestampLayout = "2006-01-02T15:04:05.000Z"

// NewTimestamp truncates t to milliseconds in UTC.
func NewTimestamp(t time.Time) Timestamp {
	return Timestamp{t.UTC().Truncate(time.Millisecond)}
}

// String formats the instant as the contract's RFC 3339 with milliseconds.
func (t Timestamp) String() string { return t.UTC().Format(timestampLayout) }

// MarshalJSON implements json.Marshaler.
func (t Timestamp) MarshalJSON() ([]byte, error) {
	return []byte(`"` + t.String() + `"`), nil
}

// UnmarshalJSON implements json.Unmarshaler; it accepts any RFC 3339 time.
func (t *Timestamp) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return fmt.Errorf("timestamp %q: %w", s, ErrInvalid)
	}
	*t = NewTimestamp(v)
	return nil
}

// Value implements driver.Valuer.
func (t Timestamp) Value() (driver.Value, error) { return t.String(), nil }

// Scan implements sql.Scanner for the text SQLite returns and the time.Time
// PostgreSQL returns.
func (t *Timestamp) Scan(src any) error {
	switch v := src.(type) {
	case time.Time:
		*t = NewTimestamp(v)
		return nil
	case string:
		return t.parse(v)
	case []byte:
		return t.parse(string(v))
	default:
		return fmt.Errorf("timestamp: cannot scan %T", src)
	}
}

func (t *Timestamp) parse(s string) error {
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return fmt.Errorf("timestamp: cannot parse %q", s)
	}
	*t = NewTimestamp(v)
	return nil
}

// Stamp says who made a change and when. Every state change takes one, and
// the ticket event log records it.
type Stamp struct {
	// Actor is the id of the user who made the change; empty for the system
	// (for example expiry at the end of the service day).
	Actor string
	// At is the time of the change; the zero value means time.Now().
	At time.Time
	// Request is the client's Idempotency-Key for the change, if it sent
	// one. CreateTicket and CallTicket honour it; other moves ignore it.
	Request Idempotency
}

// Idempotency names one client request so that a retry of it is answered
// with the first attempt's result instead of doing the work again. Scope
// is the route and the caller (two callers' keys never meet), Key the
// client's Idempotency-Key, Fingerprint the request's parameters (the same
// key with other parameters is ErrKeyReused). The zero value is a request
// without a key.
type Idempotency struct {
	Scope, Key, Fingerprint string
}

// IsZero reports whether the request carries no key.
func (i Idempotency) IsZero() bool { return i.Key == "" }

func (s Stamp) at() Timestamp {
	if s.At.IsZero() {
		return NewTimestamp(time.Now())
	}
	return NewTimestamp(s.At)
}

func (s Stamp) actor() *string {
	if s.Actor == "" {
		return nil
	}
	return &s.Actor
}

// ServiceDay is the calendar date of t in loc (the branch zone,
// QUEUE_TIMEZONE), formatted as "2006-01-02": the day ticket numbers are
// counted in.
func ServiceDay(t time.Time, loc *time.Location) string {
	return t.In(loc).Format(time.DateOnly)
}

func validServiceDay(day string) bool {
	_, err := time.Parse(time.DateOnly, day)
	return err == nil
}

// DisplayNumber is prefix + number padded to three digits ("F007"), widening
// past 999 ("F1000") rather than wrapping.
func DisplayNumber(prefix string, number int) string {
	return fmt.Sprintf("%s%03d", prefix, number)
}

// Service is a queue that tickets are issued for. Its Name is the contract's
// serviceType.
type Service struct {
	ID                    string    `json:"id" db:"id"`
	Name                  string    `json:"name" db:"name"`
	Prefix                string    `json:"prefix" db:"prefix"`
	Active                bool      `json:"active" db:"active"`
	DefaultServiceSeconds int       `json:"defaultServiceSeconds" db:"default_service_seconds"`
	TargetWaitSeconds     int       `json:"targetWaitSeconds" db:"target_wait_seconds"`
	CreatedAt             Timestamp `json:"-" db:"created_at"`
}

// NewService is the input of CreateService. A new service is active.
type NewService struct {
	// Name is unique; it is the contract's serviceType.
	Name string
	// Prefix is 1-3 ASCII letters, stored upper-case, unique ignoring case.
	Prefix string
	// DefaultServiceSeconds is the prior for wait estimates; zero means 180.
	DefaultServiceSeconds int
	// TargetWaitSeconds is the wait the service aims for; zero means 600.
	TargetWaitSeconds int
}

// Defaults of NewService.
const (
	DefaultServiceSeconds = 180
	DefaultTargetWait     = 600
)

var prefixPattern = regexp.MustCompile(`^[A-Z]{1,3}$`)

// CounterStatus is open, paused or closed. Only an open counter calls.
type CounterStatus string

// Counter statuses.
const (
	CounterOpen   CounterStatus = "open"
	CounterPaused CounterStatus = "paused"
	CounterClosed CounterStatus = "closed"
)

// Valid reports whether s is one of the three statuses.
func (s CounterStatus) Valid() bool {
	return s == CounterOpen || s == CounterPaused || s == CounterClosed
}

// Counter is a desk that serves tickets of its services, one at a time.
type Counter struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Services are the names of the services the counter serves, sorted.
	Services []string `json:"services"`
	// ServiceIDs are the ids of the same services, in the same order.
	ServiceIDs      []string      `json:"-"`
	Status          CounterStatus `json:"status"`
	CurrentTicketID *string       `json:"currentTicketId"`
	StatusChangedAt Timestamp     `json:"-"`
}

// NewCounter is the input of CreateCounter.
type NewCounter struct {
	// Name is unique.
	Name string
	// ServiceIDs are the services the counter serves; at least one.
	ServiceIDs []string
	// Status is the initial status; the zero value means closed.
	Status CounterStatus
}

// Role is a user's role, carried in the JWT.
type Role string

// Roles.
const (
	RoleAdmin    Role = "admin"
	RoleStaff    Role = "staff"
	RoleCustomer Role = "customer"
)

// Valid reports whether r is one of the three roles.
func (r Role) Valid() bool {
	return r == RoleAdmin || r == RoleStaff || r == RoleCustomer
}

// User is an account that can log in.
type User struct {
	ID           string `json:"id" db:"id"`
	Username     string `json:"username" db:"username"`
	PasswordHash string `json:"-" db:"password_hash"`
	Role         Role   `json:"role" db:"role"`
	// CounterID is the counter a staff member works at, if any.
	CounterID *string   `json:"counterId,omitempty" db:"counter_id"`
	CreatedAt Timestamp `json:"-" db:"created_at"`
}

// NewUser is the input of CreateUser.
type NewUser struct {
	Username     string
	PasswordHash string
	Role         Role
	CounterID    *string
}

// TicketStatus is a ticket's state. Terminal states never change.
type TicketStatus string

// Ticket statuses.
const (
	TicketWaiting   TicketStatus = "waiting"
	TicketServing   TicketStatus = "serving"
	TicketCompleted TicketStatus = "completed"
	TicketNoShow    TicketStatus = "no_show"
	TicketCancelled TicketStatus = "cancelled"
	TicketExpired   TicketStatus = "expired"
)

// Valid reports whether s is a ticket status.
func (s TicketStatus) Valid() bool {
	switch s {
	case TicketWaiting, TicketServing, TicketCompleted, TicketNoShow, TicketCancelled, TicketExpired:
		return true
	}
	return false
}

// Priority is a ticket's priority class.
type Priority string

// Priorities, lowest first.
const (
	PriorityNormal   Priority = "normal"
	PriorityPriority Priority = "priority"
	PriorityVIP      Priority = "vip"
)

// Valid reports whether p is a priority class.
func (p Priority) Valid() bool {
	return p == PriorityNormal || p == PriorityPriority || p == PriorityVIP
}

// Ticket is one visit. The JSON form is the contract's Ticket shape.
// Position and EstimatedWaitSeconds are not stored: the queue actors fill
// them in while the ticket waits.
type Ticket struct {
	ID            string `json:"id" db:"id"`
	Number        int    `json:"number" db:"number"`
	DisplayNumber string `json:"displayNumber" db:"display_number"`
	// ServiceType is the name of the service the ticket now waits in or is
	// served for (after a transfer, the target service).
	ServiceType          string       `json:"serviceType" db:"service_type"`
	Status               TicketStatus `json:"status" db:"status"`
	Priority             Priority     `json:"priority" db:"priority"`
	UserID               *string      `json:"userId" db:"user_id"`
	CounterID            *string      `json:"counterId" db:"counter_id"`
	Position             *int         `json:"position" db:"-"`
	EstimatedWaitSeconds *int         `json:"estimatedWaitSeconds" db:"-"`
	RecallCount          int          `json:"recallCount" db:"recall_count"`
	CreatedAt            Timestamp    `json:"createdAt" db:"created_at"`
	// CalledAt is the first call.
	CalledAt *Timestamp `json:"calledAt" db:"called_at"`
	// CompletedAt is when the ticket reached a terminal state (completed,
	// no_show, cancelled or expired).
	CompletedAt *Timestamp `json:"completedAt" db:"ended_at"`

	// ServiceID is the id of ServiceType.
	ServiceID string `json:"-" db:"service_id"`
	// IssuingServiceID is the service whose sequence gave the number; it
	// differs from ServiceID after a transfer.
	IssuingServiceID string `json:"-" db:"issuing_service_id"`
	// ServiceDay is the day the number was counted in ("2006-01-02").
	ServiceDay string `json:"-" db:"service_day"`
	// QueuedAt orders the waiting queue: creation, or the last transfer.
	QueuedAt Timestamp `json:"-" db:"queued_at"`
	// LastCalledAt is the last call or recall.
	LastCalledAt *Timestamp `json:"-" db:"last_called_at"`
}

// NewTicket is the input of CreateTicket.
type NewTicket struct {
	// ID is the new ticket's id, chosen by the caller so that it can tell
	// afterwards whether a create whose answer was lost was committed
	// (GetTicket); empty means the store picks one.
	ID        string
	ServiceID string
	// UserID is the owner; empty for none.
	UserID string
	// Priority; the zero value means normal.
	Priority Priority
	// ServiceDay is the day to number in, "2006-01-02" (see ServiceDay).
	ServiceDay string
	// MaxActive caps the waiting and serving tickets UserID may hold, this
	// one included; it is checked in the transaction that inserts the
	// ticket, serialised per user. Zero means no cap.
	MaxActive int
}

// TicketFilter selects tickets for ListTickets. Zero fields select all.
type TicketFilter struct {
	Statuses []TicketStatus
	// ServiceType is a service name.
	ServiceType string
	ServiceID   string
	UserID      string
	CounterID   string
	ServiceDay  string
	// Limit caps the page; zero means 100, and at most 1000 is returned.
	Limit  int
	Offset int
}

// Page limits of ListTickets.
const (
	DefaultPageSize = 100
	MaxPageSize     = 1000
)

// EventType names a ticket move in the event log.
type EventType string

// Event types, one per move.
const (
	EventCreated     EventType = "created"
	EventCalled      EventType = "called"
	EventRecalled    EventType = "recalled"
	EventCompleted   EventType = "completed"
	EventNoShow      EventType = "no_show"
	EventCancelled   EventType = "cancelled"
	EventTransferred EventType = "transferred"
	EventExpired     EventType = "expired"
)

// TicketEvent is one row of the append-only ticket event log.
type TicketEvent struct {
	// ID increases with insertion order.
	ID       int64     `json:"id" db:"id"`
	TicketID string    `json:"ticketId" db:"ticket_id"`
	Type     EventType `json:"type" db:"type"`
	At       Timestamp `json:"at" db:"occurred_at"`
	// Actor is the id of the user who made the move; nil for the system.
	Actor     *string `json:"actor" db:"actor"`
	CounterID *string `json:"counterId" db:"counter_id"`
	// FromServiceID and ToServiceID are set on transferred events.
	FromServiceID *string `json:"fromServiceId" db:"from_service_id"`
	ToServiceID   *string `json:"toServiceId" db:"to_service_id"`
}

// DayStats are one service day's ticket counts, for the metrics.
type DayStats struct {
	// Services by service id (where the ticket ended).
	Services map[string]ServiceDayStats
	// Counters by counter id.
	Counters map[string]CounterDayStats
}

// ServiceDayStats are a service's counts.
type ServiceDayStats struct {
	// Arrivals are tickets issued since the instant DayStats was given.
	Arrivals  int
	Served    int
	NoShows   int
	Cancelled int
}

// CounterDayStats are a counter's counts.
type CounterDayStats struct {
	Served  int
	NoShows int
}
