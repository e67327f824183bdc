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
func runChurn(ctx context.Context, g *rig) *Result {
	w, dur := g.cfg.churnWorkers, g.cfg.churnDur
	r := g.result("churn", fmt.Sprintf("%d workers for %s", w, dur))
	r.Params = map[string]any{"workers": w, "duration_s": dur.Seconds()}
	g.settle()
	before := g.sample()
	h := &hist{}
	var cycles, dialErrs, joinErrs atomic.Int64
	var firstErr atomic.Value
	m := g.meter()
	start := time.Now()
	deadline := start.Add(dur)
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
					dialErrs.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
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
					joinErrs.Add(1)
					firstErr.CompareAndSwap(nil, "join failed or timed out")
					continue
				}
				h.Record(time.Since(t0))
				cycles.Add(1)
			}
		}()
	}
	waitTimeout(&wg, dur+15*time.Second)
	elapsed := time.Since(start)
	m.finish(r, float64(cycles.Load()), "cycle")
	g.settle()
	after := g.sample()
	r.higher("cycles/s", float64(cycles.Load())/elapsed.Seconds(), "1/s")
	r.lower("cycle p50", h.Quantile(0.5), "ms")
	r.lower("cycle p99", h.Quantile(0.99), "ms")
	r.lower("dial errors", float64(dialErrs.Load()), "")
	r.lower("join errors", float64(joinErrs.Load()), "")
	r.info("server RSS before", float64(before.RSSKB)/1024, "MB")
	r.lower("server RSS after (settled)", float64(after.RSSKB)/1024, "MB")
	if e, ok := firstErr.Load().(string); ok {
		r.Note = "first error: " + e
	}
	g.logf("churn: %d cycles (%.0f/s), %d dial errors, %d join errors", cycles.Load(),
		float64(cycles.Load())/elapsed.Seconds(), dialErrs.Load(), joinErrs.Load())
	return r
}
