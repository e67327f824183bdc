package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/queuecast/queuecast/benchmarks/internal/sioclient"
)

// runAck measures `ping` acks: a closed loop (each socket keeps K in flight)
// and an open loop at a fixed total rate.
func runAck(ctx context.Context, g *rig) []*Result {
	n, k := g.cfg.ackN, g.cfg.ackK
	var dropped atomic.Int64
	var closing atomic.Bool
	tokens := make([]string, n)
	for i := range tokens {
		tokens[i], _ = g.token(fmt.Sprintf("a-%d", i), "customer", "")
	}
	g.logf("ack: connecting %d sockets", n)
	conns, failed, err := g.dialAll(ctx, n, g.cfg.dialConcurrency, func(i int) sioclient.Options {
		return sioclient.Options{Token: tokens[i], OnClose: func(*sioclient.Conn, error) {
			if !closing.Load() {
				dropped.Add(1)
			}
		}}
	})
	defer func() { closing.Store(true); closeAll(conns) }()
	if failed > 0 {
		r := g.result("ack", fmt.Sprintf("%d sockets", n))
		r.Status, r.Note = "error", fmt.Sprintf("%d of %d sockets failed to connect: %v", failed, n, err)
		return []*Result{r}
	}
	var out []*Result
	if g.cfg.ackDur > 0 {
		g.settle()
		out = append(out, ackClosed(ctx, g, conns, k))
		out[len(out)-1].lower("dropped sockets", float64(dropped.Load()), "")
	}
	if g.cfg.ackRate > 0 && g.cfg.ackPacedDur > 0 {
		g.settle()
		out = append(out, ackPaced(ctx, g, conns))
		out[len(out)-1].lower("dropped sockets", float64(dropped.Load()), "")
	}
	return out
}

const ackTimeout = 10 * time.Second

func ackClosed(ctx context.Context, g *rig, conns []*sioclient.Conn, k int) *Result {
	dur := g.cfg.ackDur
	r := g.result("ack closed-loop", fmt.Sprintf("%d sockets x %d in flight for %s", len(conns), k, dur))
	r.Params = map[string]any{"n": len(conns), "k": k, "duration_s": dur.Seconds()}
	g.logf("ack: %s", r.Label)
	h := &hist{}
	var acks, errs, timeouts atomic.Int64
	m := g.meter()
	start := time.Now()
	deadline := start.Add(dur)
	var wg sync.WaitGroup
	for _, c := range conns {
		for j := 0; j < k; j++ {
			wg.Add(1)
			go func(c *sioclient.Conn) {
				defer wg.Done()
				ch := make(chan error, 1)
				timer := time.NewTimer(ackTimeout)
				defer timer.Stop()
				for time.Now().Before(deadline) && ctx.Err() == nil {
					t0 := time.Now()
					if err := c.EmitAck(func(_ []json.RawMessage, err error) { ch <- err }, "ping"); err != nil {
						errs.Add(1)
						return
					}
					timer.Reset(ackTimeout)
					select {
					case err := <-ch:
						if err != nil {
							errs.Add(1)
							return
						}
						h.Record(time.Since(t0))
						acks.Add(1)
					case <-timer.C:
						timeouts.Add(1)
						return
					}
				}
			}(c)
		}
	}
	waitTimeout(&wg, dur+ackTimeout+time.Second)
	elapsed := time.Since(start)
	m.finish(r, float64(acks.Load()), "ack")
	r.higher("acks/s", float64(acks.Load())/elapsed.Seconds(), "1/s")
	r.lower("RTT p50", h.Quantile(0.50), "ms")
	r.lower("RTT p99", h.Quantile(0.99), "ms")
	r.lower("RTT p99.9", h.Quantile(0.999), "ms")
	r.lower("RTT max", h.MaxMS(), "ms")
	r.lower("errors", float64(errs.Load()), "")
	r.lower("timeouts", float64(timeouts.Load()), "")
	g.logf("ack closed-loop: %.0f acks/s, p99 %.2f ms", float64(acks.Load())/elapsed.Seconds(), h.Quantile(0.99))
	return r
}

func ackPaced(ctx context.Context, g *rig, conns []*sioclient.Conn) *Result {
	rate, dur := g.cfg.ackRate, g.cfg.ackPacedDur
	r := g.result("ack paced", fmt.Sprintf("%d acks/s over %d sockets for %s", rate, len(conns), dur))
	r.Params = map[string]any{"n": len(conns), "rate": rate, "duration_s": dur.Seconds()}
	g.logf("ack: %s", r.Label)
	h := &hist{}
	var acked, errs atomic.Int64
	m := g.meter()
	start := time.Now()
	sent := 0
	for ctx.Err() == nil {
		el := time.Since(start)
		if el >= dur {
			break
		}
		want := int(el.Seconds() * float64(rate))
		for ; sent < want; sent++ {
			c := conns[sent%len(conns)]
			t0 := time.Now()
			if err := c.EmitAck(func(_ []json.RawMessage, err error) {
				if err != nil {
					errs.Add(1)
					return
				}
				h.Record(time.Since(t0))
				acked.Add(1)
			}, "ping"); err != nil {
				errs.Add(1)
			}
		}
		time.Sleep(time.Millisecond)
	}
	sendDone := time.Since(start)
	drainEnd := time.Now().Add(5 * time.Second)
	for acked.Load()+errs.Load() < int64(sent) && time.Now().Before(drainEnd) {
		time.Sleep(10 * time.Millisecond)
	}
	m.finish(r, float64(acked.Load()), "ack")
	r.info("acks/s offered", float64(sent)/sendDone.Seconds(), "1/s")
	r.lower("RTT p50", h.Quantile(0.50), "ms")
	r.lower("RTT p99", h.Quantile(0.99), "ms")
	r.lower("RTT p99.9", h.Quantile(0.999), "ms")
	r.lower("RTT max", h.MaxMS(), "ms")
	r.lower("lost", float64(int64(sent)-acked.Load()-errs.Load()), "")
	r.lower("errors", float64(errs.Load()), "")
	g.logf("ack paced: %d sent, %d acked, p50 %.2f ms p99 %.2f ms", sent, acked.Load(), h.Quantile(0.5), h.Quantile(0.99))
	return r
}
