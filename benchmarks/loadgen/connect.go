package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/queuecast/queuecast/benchmarks/internal/sioclient"
)

// runConnect opens cfg.connectN sockets at cfg.connectRate per second,
// measures the handshake (dial to CONNECT ack) and, after a settle, the
// server's resident memory per held socket.
func runConnect(ctx context.Context, g *rig) *Result {
	n, rate := g.cfg.connectN, g.cfg.connectRate
	r := g.result("connect", fmt.Sprintf("%d sockets at %d/s", n, rate))
	r.Params = map[string]any{"n": n, "rate": rate, "settle_s": g.cfg.settle.Seconds()}
	g.settle()
	before := g.sample()
	m := g.meter()

	tokens := make([]string, n)
	for i := range tokens {
		tokens[i], _ = g.token(fmt.Sprintf("c-%d", i), "customer", "")
	}
	h := &hist{}
	conns := make([]*sioclient.Conn, n)
	var failed atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	sem := make(chan struct{}, 2000)
	interval := time.Second / time.Duration(max(rate, 1))
	start := time.Now()
	lastLog := start
	for i := 0; i < n && ctx.Err() == nil; i++ {
		if rate > 0 {
			if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
				time.Sleep(d)
			}
		}
		sem <- struct{}{}
		wg.Add(1)
		go func(i int) {
			defer func() { <-sem; wg.Done() }()
			t0 := time.Now()
			c, err := sioclient.Dial(ctx, sioclient.Options{Addr: g.addr(), Token: tokens[i]})
			if err != nil {
				failed.Add(1)
				firstErr.CompareAndSwap(nil, err.Error())
				return
			}
			h.Record(time.Since(t0))
			conns[i] = c
		}(i)
		if time.Since(lastLog) > 2*time.Second {
			lastLog = time.Now()
			g.logf("connect: %d/%d", i, n)
		}
	}
	wg.Wait()
	elapsed := time.Since(start)
	connected := int(h.Count())
	after := m.finish(r, float64(connected), "connect")
	g.settle()
	held := g.sample()
	dropped := 0
	for _, c := range conns {
		if c != nil {
			select {
			case <-c.Done():
				dropped++
			default:
			}
		}
	}
	r.info("connected", float64(connected), "")
	r.lower("failed", float64(failed.Load()), "")
	r.lower("dropped while held", float64(dropped), "")
	r.higher("connects/s achieved", float64(connected)/elapsed.Seconds(), "1/s")
	r.lower("handshake p50", h.Quantile(0.50), "ms")
	r.lower("handshake p99", h.Quantile(0.99), "ms")
	r.lower("handshake max", h.MaxMS(), "ms")
	r.info("server RSS before", float64(before.RSSKB)/1024, "MB")
	r.info("server RSS held", float64(held.RSSKB)/1024, "MB")
	if connected > 0 {
		r.lower("server RSS per socket", float64(held.RSSKB-before.RSSKB)/float64(connected), "KB")
	}
	r.info("server threads", float64(after.Threads), "")
	if e, ok := firstErr.Load().(string); ok {
		r.Note = "first error: " + e
	}
	g.logf("connect: %d connected, %d failed in %s; closing", connected, failed.Load(), elapsed.Round(time.Millisecond))
	closeAll(conns)
	return r
}
