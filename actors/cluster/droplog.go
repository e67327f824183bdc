package cluster

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"
)

// dropLog counts messages a node drops and logs them at warn, at most once
// per interval, with the number left out since the last line.
type dropLog struct {
	log        *slog.Logger
	every      time.Duration
	last       atomic.Int64 // unix nanoseconds of the last line
	suppressed atomic.Int64
	total      atomic.Int64
}

func newDropLog(log *slog.Logger, every time.Duration) *dropLog {
	return &dropLog{log: log, every: every}
}

func (d *dropLog) drop(reason string, attrs ...slog.Attr) {
	d.total.Add(1)
	now := time.Now().UnixNano()
	last := d.last.Load()
	if (last != 0 && now-last < int64(d.every)) || !d.last.CompareAndSwap(last, now) {
		d.suppressed.Add(1)
		return
	}
	attrs = append(attrs, slog.String("reason", reason), slog.Int64("suppressed", d.suppressed.Swap(0)))
	d.log.LogAttrs(context.Background(), slog.LevelWarn, "cluster: message dropped", attrs...)
}

// Total is the number of messages dropped so far.
func (d *dropLog) Total() int64 { return d.total.Load() }
