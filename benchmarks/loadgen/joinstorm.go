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

// runJoinstorm connects n sockets, then has all of them join one service
// room at once: each join sends queueUserJoined to everyone already there,
// n(n-1)/2 events in all.
func runJoinstorm(ctx context.Context, g *rig) *Result {
	n := g.cfg.joinN
	r := g.result("joinstorm", fmt.Sprintf("%d sockets join service-Finance", n))
	expected := int64(n) * int64(n-1) / 2
	r.Params = map[string]any{"n": n, "cap_s": g.cfg.joinCap.Seconds()}
	var events, lastAt, dropped atomic.Int64
	var closing atomic.Bool
	bump := func(at int64) {
		for {
			l := lastAt.Load()
			if at <= l || lastAt.CompareAndSwap(l, at) {
				return
			}
		}
	}
	tokens := make([]string, n)
	for i := range tokens {
		tokens[i], _ = g.token(fmt.Sprintf("j-%d", i), "customer", "")
	}
	g.logf("joinstorm: connecting %d sockets", n)
	conns, failed, err := g.dialAll(ctx, n, g.cfg.dialConcurrency, func(i int) sioclient.Options {
		return sioclient.Options{Token: tokens[i],
			OnEvent: func(_ *sioclient.Conn, ev sioclient.Event) {
				if ev.Name == "queueUserJoined" {
					events.Add(1)
					bump(ev.At)
				}
			},
			OnClose: func(*sioclient.Conn, error) {
				if !closing.Load() {
					dropped.Add(1)
				}
			}}
	})
	defer func() { closing.Store(true); closeAll(conns) }()
	if failed > 0 {
		r.Status, r.Note = "error", fmt.Sprintf("%d of %d sockets failed to connect: %v", failed, n, err)
		return r
	}
	g.settle()
	ackH := &hist{}
	var acks, okAcks atomic.Int64
	m := g.meter()
	start := time.Now()
	var wg sync.WaitGroup
	const emitters = 16
	for w := 0; w < emitters; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < n; i += emitters {
				t0 := time.Now()
				_ = conns[i].EmitAck(func(args []json.RawMessage, err error) {
					if err != nil {
						return
					}
					ackH.Record(time.Since(t0))
					if len(args) > 0 && bytes.Contains(args[0], []byte(`"success":true`)) {
						okAcks.Add(1)
					}
					acks.Add(1)
					bump(time.Now().UnixNano())
				}, "joinServiceQueue", json.RawMessage(`{"serviceType":"Finance"}`))
			}
		}(w)
	}
	wg.Wait()
	g.logf("joinstorm: %d joins sent in %s; waiting for %d events", n, time.Since(start).Round(time.Millisecond), expected)
	deadline := start.Add(g.cfg.joinCap)
	lastN, lastChange, lastLog := int64(-1), time.Now(), time.Now()
	capped := false
	for ctx.Err() == nil {
		ev, ak := events.Load(), acks.Load()
		if ak >= int64(n) && ev >= expected {
			break
		}
		if time.Now().After(deadline) {
			capped = true
			g.logf("joinstorm: time cap %s reached", g.cfg.joinCap)
			break
		}
		if ev+ak != lastN {
			lastN, lastChange = ev+ak, time.Now()
		} else if time.Since(lastChange) > g.cfg.idle {
			g.logf("joinstorm: no progress for %s", g.cfg.idle)
			break
		}
		if time.Since(lastLog) > 5*time.Second {
			lastLog = time.Now()
			g.logf("joinstorm: %d/%d acks, %d/%d events", ak, n, ev, expected)
		}
		time.Sleep(20 * time.Millisecond)
	}
	m.finish(r, float64(events.Load()), "event")
	got := events.Load()
	done := time.Unix(0, lastAt.Load()).Sub(start)
	if capped {
		done = g.cfg.joinCap
		r.Note = fmt.Sprintf("stopped at the %s time cap", g.cfg.joinCap)
	}
	r.lower("completion time", done.Seconds(), "s")
	r.higher("events/s", float64(got)/done.Seconds(), "1/s")
	r.info("events expected", float64(expected), "")
	r.info("events received", float64(got), "")
	r.lower("events missing", float64(expected-got), "")
	r.info("joins acked ok", float64(okAcks.Load()), "")
	r.lower("join ack p50", ackH.Quantile(0.5), "ms")
	r.lower("join ack p99", ackH.Quantile(0.99), "ms")
	r.lower("dropped sockets", float64(dropped.Load()), "")
	g.logf("joinstorm: %d/%d events, %d acks in %s, %d dropped", got, expected, acks.Load(), done.Round(time.Millisecond), dropped.Load())
	return r
}
