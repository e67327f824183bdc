package main

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"time"
)

// runSlow is a paced fan-out in which a share of the clients never read:
// the healthy clients' latency and loss, the server's memory growth, and
// what the server did with the stalled clients.
func runSlow(ctx context.Context, g *rig) *Result {
	n, rate, dur := g.cfg.slowN, g.cfg.slowRate, g.cfg.slowDur
	stalled := int(float64(n)*g.cfg.slowShare + 0.5)
	m := max(int(rate*dur.Seconds()), 1)
	r := g.result("slow", fmt.Sprintf("%d sockets, %d never read, %g/s for %s, %d B payload",
		n, stalled, rate, dur, g.cfg.slowPayload))
	r.Params = map[string]any{"n": n, "stalled": stalled, "rate": rate, "broadcasts": m, "payload": g.cfg.slowPayload}
	pad := strings.Repeat("x", max(g.cfg.slowPayload-40, 0))

	// The clean run: the same room, rate and payload with every client
	// reading, for half as long. The stalled run's healthy p99 is compared
	// with its p99.
	cleanP99 := -1.0
	if stalled > 0 {
		mc := max(m/2, 1)
		clean, err := setupFanout(ctx, g, n, 0, mc)
		if err != nil {
			r.Status, r.Note = "error", "clean run: "+err.Error()
			return r
		}
		g.settle()
		g.logf("slow: clean run, %d broadcasts", mc)
		cr := clean.broadcast(ctx, 0, mc, rate, 1, pad, 0, &Result{})
		cleanP99 = cr.lat.Quantile(0.99)
		clean.close()
	}

	f, err := setupFanout(ctx, g, n, stalled, m)
	if err != nil {
		r.Status, r.Note = "error", err.Error()
		return r
	}
	defer f.close()
	g.settle()
	before := g.sample()
	var peak atomic.Int64
	peak.Store(before.RSSKB)
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				if s := g.sample(); s.RSSKB > peak.Load() {
					peak.Store(s.RSSKB)
				}
			}
		}
	}()
	g.logf("slow: %s", r.Label)
	run := f.broadcast(ctx, 0, m, rate, 1, pad, stalled, r)
	close(stop)
	<-sampled
	run.report(r, g.cfg.pid > 0)
	if cleanP99 >= 0 {
		r.lower("clean run latency p99 (no stalled clients)", cleanP99, "ms")
		r.info("healthy p99 / clean p99", run.lat.Quantile(0.99)/cleanP99, "")
	}
	r.info("server RSS before", float64(before.RSSKB)/1024, "MB")
	r.lower("server RSS peak growth", float64(peak.Load()-before.RSSKB)/1024, "MB")

	// What the stalled clients read from here on is backlog, not latency.
	f.lat.Store(&hist{})
	// A stalled client whose connection the server closed reads its backlog
	// and then sees the close; one still open keeps reading.
	for i := 0; i < stalled; i++ {
		f.conns[i].StartReading()
	}
	time.Sleep(3 * time.Second) // the drain has no completion signal for open connections
	cut := 0
	for i := 0; i < stalled; i++ {
		select {
		case <-f.conns[i].Done():
			cut++
		default:
		}
	}
	r.info("stalled clients disconnected by server", float64(cut), "")
	r.lower("healthy sockets dropped", float64(f.dropped.Load()-int64(cut)), "")
	g.logf("slow: healthy p99 %.1f ms, lost %d, RSS peak growth %.1f MB, %d/%d stalled cut",
		run.lat.Quantile(0.99), run.lost, float64(peak.Load()-before.RSSKB)/1024, cut, stalled)
	return r
}
