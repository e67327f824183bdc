package persistence

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"
)

// failureLogInterval is how often one operation's database failures are
// logged at most; the failures in between are counted in the next line.
const failureLogInterval = 10 * time.Second

// failureLog logs every failure of the database itself (unavailable or
// internal) with its cause, the driver's message the error text leaves out,
// once per operation and interval. It is the one place such failures are
// logged: callers map them to answers without logging them again.
type failureLog struct {
	log *slog.Logger
	now func() time.Time

	mu  sync.Mutex
	ops map[string]*failureCount
}

type failureCount struct {
	last       time.Time
	suppressed int
}

func newFailureLog(log *slog.Logger) *failureLog {
	return &failureLog{log: log, now: time.Now, ops: map[string]*failureCount{}}
}

func (f *failureLog) record(e *dbError) {
	if f == nil || f.log == nil {
		return
	}
	now := f.now()
	f.mu.Lock()
	c := f.ops[e.op]
	if c == nil {
		c = &failureCount{}
		f.ops[e.op] = c
	}
	if !c.last.IsZero() && now.Sub(c.last) < failureLogInterval {
		c.suppressed++
		f.mu.Unlock()
		return
	}
	suppressed := c.suppressed
	c.last, c.suppressed = now, 0
	f.mu.Unlock()

	level := slog.LevelError
	if errors.Is(e.kind, ErrUnavailable) {
		level = slog.LevelWarn
	}
	attrs := []any{slog.String("op", e.op), slog.String("kind", e.kind.Error()), slog.String("cause", e.cause.Error())}
	if e.code != "" {
		attrs = append(attrs, slog.String("code", e.code))
	}
	if suppressed > 0 {
		attrs = append(attrs, slog.Int("suppressed", suppressed))
	}
	f.log.Log(context.Background(), level, "database failure", attrs...)
}
