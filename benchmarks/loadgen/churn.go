package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/queuecast/queuecast/benchmarks/internal/sioclient"
)

// runChurn has W workers loop connect, join a service room, disconnect, and
// reports the cycle rate, the errors and the server's memory afterwards.
//
// A short warm-up round runs first: a process that never served a socket
// has not yet paged in the code, runtime metadata and pools a connection
// uses once. "RSS before" is taken after it, so the comparison shows what
// the measured round leaves behind; the cold-start figure is reported too.
func runChurn(ctx context.Context, g *rig) *Result {
	w, dur := g.cfg.churnWorkers, g.cfg.churnDur
	r := g.result("churn", fmt.Sprintf("%d workers for %s", w, dur))
	r.Params = map[string]any{"workers": w, "duration_s": dur.Seconds(), "warmup_s": g.cfg.churnWarmup.Seconds()}
	g.settle()
	cold := g.sample()
	if g.cfg.churnWarmup > 0 {
		var warm churnRound
		warm.run(ctx, g, w, g.cfg.churnWarmup)
		g.logf("churn: warm-up %d cycles", warm.cycles.Load())
		g.settle()
	}
	before := g.sample()
	m := g.meter()
	start := time.Now()
	var c churnRound
	c.run(ctx, g, w, dur)
	elapsed := time.Since(start)
	cycles, dialErrs, joinErrs := c.cycles.Load(), c.dialErrs.Load(), c.joinErrs.Load()
	h := &c.h
	m.finish(r, float64(cycles), "cycle")
	g.settle()
	after := g.sample()
	r.higher("cycles/s", float64(cycles)/elapsed.Seconds(), "1/s")
	r.lower("cycle p50", h.Quantile(0.5), "ms")
	r.lower("cycle p99", h.Quantile(0.99), "ms")
	r.lower("dial errors", float64(dialErrs), "")
	r.lower("join errors", float64(joinErrs), "")
	r.info("server RSS cold start", float64(cold.RSSKB)/1024, "MB")
	r.info("server RSS before", float64(before.RSSKB)/1024, "MB")
	r.lower("server RSS after (settled)", float64(after.RSSKB)/1024, "MB")
	if before.RSSKB > 0 && cold.RSSKB > 0 {
		r.lower("server RSS growth over the round", 100*(float64(after.RSSKB)/float64(before.RSSKB)-1), "%")
		r.info("server RSS growth since cold start", 100*(float64(after.RSSKB)/float64(cold.RSSKB)-1), "%")
	}
	if e, ok := c.firstErr.Load().(string); ok {
		r.Note = "first error: " + e
	}
	g.logf("churn: %d cycles (%.0f/s), %d dial errors, %d join errors", cycles,
		float64(cycles)/elapsed.Seconds(), dialErrs, joinErrs)
	return r
}

// churnRound is one round of churn workers and what they counted.
type churnRound struct {
	h                          hist
	cycles, dialErrs, joinErrs atomic.Int64
	firstErr                   atomic.Value
	// pause is each worker's rest after a cycle (the soak paces itself;
	// the benchmark does not).
	pause time.Duration
}

func (round *churnRound) run(ctx context.Context, g *rig, w int, dur time.Duration) {
	deadline := time.Now().Add(dur)
	var wg sync.WaitGroup
	for i := 0; i < w; i++ {
		tok, _ := g.token(fmt.Sprintf("churn-%d", i), "customer", "")
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) && ctx.Err() == nil {
				t0 := time.Now()
				c, err := sioclient.Dial(ctx, sioclient.Options{Addr: g.addr(), Token: tok})
				if err != nil {
					round.dialErrs.Add(1)
					round.firstErr.CompareAndSwap(nil, err.Error())
					time.Sleep(10 * time.Millisecond) // back off instead of spinning on a refusing server
					continue
				}
				ch := make(chan bool, 1)
				err = c.EmitAck(func(args []json.RawMessage, err error) {
					ch <- err == nil && len(args) > 0 && bytes.Contains(args[0], []byte(`"success":true`))
				}, "joinServiceQueue", json.RawMessage(`{"serviceType":"Finance"}`))
				ok := false
				if err == nil {
					select {
					case ok = <-ch:
					case <-time.After(5 * time.Second):
					}
				}
				_ = c.Close()
				<-c.Done()
				if !ok {
					round.joinErrs.Add(1)
					round.firstErr.CompareAndSwap(nil, "join failed or timed out")
					continue
				}
				round.h.Record(time.Since(t0))
				round.cycles.Add(1)
				sleepCtx(ctx, round.pause)
			}
		}()
	}
	waitTimeout(&wg, dur+15*time.Second)
}
