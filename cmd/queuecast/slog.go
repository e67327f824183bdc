package main

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// levelFloor drops records below a minimum level.
type levelFloor struct {
	slog.Handler
	min slog.Level
}

func (h levelFloor) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h levelFloor) WithAttrs(a []slog.Attr) slog.Handler {
	return levelFloor{h.Handler.WithAttrs(a), h.min}
}

func (h levelFloor) WithGroup(n string) slog.Handler {
	return levelFloor{h.Handler.WithGroup(n), h.min}
}

// repeatLimit passes a record only if no record with the same message went
// through in the last interval; the next one that passes carries how many
// were left out. protoactor logs a failed poll of every unreachable seed,
// twice a second, for as long as it is down.
type repeatLimit struct {
	slog.Handler
	state *repeatState
}

type repeatState struct {
	every time.Duration
	mu    sync.Mutex
	last  map[string]time.Time
	left  map[string]int
}

func newRepeatLimit(h slog.Handler, every time.Duration) repeatLimit {
	return repeatLimit{h, &repeatState{every: every, last: map[string]time.Time{}, left: map[string]int{}}}
}

func (h repeatLimit) Handle(ctx context.Context, r slog.Record) error {
	s := h.state
	s.mu.Lock()
	if t, ok := s.last[r.Message]; ok && r.Time.Sub(t) < s.every {
		s.left[r.Message]++
		s.mu.Unlock()
		return nil
	}
	if len(s.last) > 1024 {
		clear(s.last) // messages are fixed strings; this only bounds a surprise
	}
	s.last[r.Message] = r.Time
	left := s.left[r.Message]
	delete(s.left, r.Message)
	s.mu.Unlock()
	if left > 0 {
		r = r.Clone()
		r.AddAttrs(slog.Int("repeats_left_out", left))
	}
	return h.Handler.Handle(ctx, r)
}

func (h repeatLimit) WithAttrs(a []slog.Attr) slog.Handler {
	return repeatLimit{h.Handler.WithAttrs(a), h.state}
}

func (h repeatLimit) WithGroup(n string) slog.Handler {
	return repeatLimit{h.Handler.WithGroup(n), h.state}
}
