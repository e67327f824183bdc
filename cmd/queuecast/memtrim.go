package main

import (
	"context"
	"log/slog"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// memTrimmer gives memory back to the operating system when a burst (a wave
// of connections, a load test) is over. Go's runtime does this by itself
// only after its next collection, which an idle server reaches after up to
// two minutes; until then the burst's garbage and free heap stay resident.
//
// The trimmer samples the allocation rate. An interval that allocated more
// than quietBytes is busy; the first quiet interval after a busy one ends a
// burst, and if the heap then holds more than minReclaim beyond what was
// live after the last trim, it collects and releases at once. Steady load
// and steady quiet both leave it idle, and trims are at least minGap apart.
type memTrimmer struct {
	interval   time.Duration
	quietBytes uint64
	minReclaim uint64
	minGap     time.Duration
	log        *slog.Logger

	samples  []metrics.Sample
	allocs   uint64    // cumulative allocation at the last check
	busy     bool      // a busy interval since the last trim
	baseline uint64    // heap bytes right after the last trim
	last     time.Time // of the last trim
}

func newMemTrimmer(interval time.Duration, log *slog.Logger) *memTrimmer {
	t := &memTrimmer{
		interval:   interval,
		quietBytes: 512 << 10,
		minReclaim: 4 << 20,
		minGap:     10 * interval,
		log:        log,
		samples: []metrics.Sample{
			{Name: "/gc/heap/allocs:bytes"},
			{Name: "/memory/classes/heap/objects:bytes"},
			{Name: "/memory/classes/heap/free:bytes"},
		},
	}
	t.allocs, t.baseline = t.read()
	return t
}

// read returns the cumulative allocation and the heap's resident bytes
// that a collection could give back or reuse (objects, dead or alive, and
// free pages not yet released).
func (t *memTrimmer) read() (allocs, heap uint64) {
	metrics.Read(t.samples)
	return t.samples[0].Value.Uint64(), t.samples[1].Value.Uint64() + t.samples[2].Value.Uint64()
}

// check runs once per interval; it reports whether it released memory.
func (t *memTrimmer) check() bool {
	allocs, heap := t.read()
	allocated := allocs - t.allocs
	t.allocs = allocs
	if allocated > t.quietBytes {
		t.busy = true
		return false
	}
	if !t.busy || heap < t.baseline+t.minReclaim || time.Since(t.last) < t.minGap {
		return false
	}
	debug.FreeOSMemory()
	t.allocs, t.baseline = t.read()
	t.busy, t.last = false, time.Now()
	t.log.Debug("released memory after a burst", slog.Uint64("heap_before", heap), slog.Uint64("heap_after", t.baseline))
	return true
}

func (t *memTrimmer) run(ctx context.Context) {
	tick := time.NewTicker(t.interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			t.check()
		}
	}
}
