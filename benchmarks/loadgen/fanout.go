package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/queuecast/queuecast/benchmarks/internal/sioclient"
)

const benchEvent = "bench"

var (
	keySeq = []byte(`"seq":`)
	keyT   = []byte(`"t":`)
)

// fanout is a set of clients joined to one counter room that count every "bench"
// event per sequence number: loss and duplicates come from the counts,
// latency from the send time carried in the payload.
type fanout struct {
	g       *rig
	room    string
	conns   []*sioclient.Conn
	seqCap  int
	counts  []atomic.Uint32
	lat     atomic.Pointer[hist]
	total   atomic.Int64
	lastAt  atomic.Int64
	dropped atomic.Int64
	closing atomic.Bool
}

func (f *fanout) onEvent(c *sioclient.Conn, ev sioclient.Event) {
	if ev.Name != benchEvent || len(ev.Args) == 0 {
		return
	}
	seq, ok1 := jsonInt(ev.Args[0], keySeq)
	t, ok2 := jsonInt(ev.Args[0], keyT)
	if !ok1 || !ok2 || seq < 0 || int(seq) >= f.seqCap {
		return
	}
	f.counts[c.Tag*f.seqCap+int(seq)].Add(1)
	f.lat.Load().Record(time.Duration(ev.At - t))
	f.total.Add(1)
	for {
		l := f.lastAt.Load()
		if ev.At <= l || f.lastAt.CompareAndSwap(l, ev.At) {
			break
		}
	}
}

func (f *fanout) onClose(_ *sioclient.Conn, _ error) {
	if !f.closing.Load() {
		f.dropped.Add(1)
	}
}

// setupFanout connects n staff sockets (the first stalled of them never
// read) and joins them to the first counter's room.
func setupFanout(ctx context.Context, g *rig, n, stalled, seqCap int) (*fanout, error) {
	cs, err := g.counters()
	if err != nil {
		return nil, err
	}
	join := fmt.Sprintf(`{"counterId":%q}`, cs[0].ID)
	f := &fanout{g: g, room: "counter-" + cs[0].ID, seqCap: seqCap, counts: make([]atomic.Uint32, n*seqCap)}
	f.lat.Store(&hist{})
	tokens := make([]string, n)
	for i := range tokens {
		tokens[i], _ = g.token(fmt.Sprintf("s-%d", i), "staff", "")
	}
	g.logf("fanout: connecting %d sockets", n)
	conns, failed, err := g.dialAll(ctx, n, g.cfg.dialConcurrency, func(i int) sioclient.Options {
		return sioclient.Options{Token: tokens[i], OnEvent: f.onEvent, OnClose: f.onClose, NoRead: i < stalled}
	})
	f.conns = conns
	if failed > 0 {
		f.close()
		return nil, fmt.Errorf("%d of %d sockets failed to connect: %v", failed, n, err)
	}
	// Stalled clients never read, so they cannot see their join's ack: they
	// join without one, and the broadcasts' recipient counts confirm it.
	for i := 0; i < stalled; i++ {
		if err := conns[i].Emit("joinCounter", json.RawMessage(join)); err != nil {
			f.close()
			return nil, fmt.Errorf("stalled client join: %w", err)
		}
	}
	joined := joinAll(conns[stalled:], "joinCounter", join, 60*time.Second)
	if joined != n-stalled {
		f.close()
		return nil, fmt.Errorf("only %d of %d sockets joined %s", joined, n-stalled, f.room)
	}
	return f, nil
}

func (f *fanout) close() {
	f.closing.Store(true)
	closeAll(f.conns)
}

// fanRun is one series of broadcasts and what reached the healthy clients.
type fanRun struct {
	posted, postErrors, badRecipients int
	expected, delivered               int64
	lost, dups                        int64
	elapsed, serverCPU                time.Duration
	lat                               *hist
	post                              *hist
}

// broadcast publishes seqs [lo,hi) to the room, at rate per second (0:
// back to back, with up to inflight POSTs under way), and waits until the healthy clients (index >= skip) have
// every delivery, progress stalls for idle, or the time cap passes.
func (f *fanout) broadcast(ctx context.Context, lo, hi int, rate float64, inflight int, pad string, skip int, r *Result) fanRun {
	g := f.g
	run := fanRun{lat: &hist{}, post: &hist{}}
	f.lat.Store(run.lat)
	healthy := 0
	for i := skip; i < len(f.conns); i++ {
		if f.conns[i] != nil {
			healthy++
		}
	}
	base := f.total.Load()
	run.expected = int64(healthy) * int64(hi-lo)
	m := g.meter()
	start := time.Now()
	sem := make(chan struct{}, max(1, inflight))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for s := lo; s < hi && ctx.Err() == nil; s++ {
		if rate > 0 {
			if d := time.Until(start.Add(time.Duration(float64(s-lo) / rate * float64(time.Second)))); d > 0 {
				time.Sleep(d)
			}
		}
		sem <- struct{}{}
		wg.Add(1)
		go func(s int) {
			defer func() { <-sem; wg.Done() }()
			t0 := time.Now()
			body := []byte(`{"event":"` + benchEvent + `","room":"` + f.room + `","data":{"seq":`)
			body = strconv.AppendInt(body, int64(s), 10)
			body = append(body, `,"t":`...)
			body = strconv.AppendInt(body, t0.UnixNano(), 10)
			if pad != "" {
				body = append(append(append(body, `,"pad":"`...), pad...), '"')
			}
			body = append(body, "}}"...)
			code, resp, err := g.post("/api/admin/broadcast", g.admin, body)
			run.post.Record(time.Since(t0))
			mu.Lock()
			defer mu.Unlock()
			run.posted++
			if err != nil || code != 202 {
				run.postErrors++
				if run.postErrors == 1 {
					g.logf("broadcast: %d %s %v", code, resp, err)
				}
				return
			}
			if n, ok := jsonInt(resp, []byte(`"recipients":`)); !ok || int(n) != len(f.conns) {
				run.badRecipients++
			}
		}(s)
	}
	wg.Wait()
	g.logf("fanout: posted %d broadcasts in %s; waiting for deliveries", run.posted, time.Since(start).Round(time.Millisecond))
	f.waitDeliveries(ctx, base, run.expected)
	after := m.finish(r, 0, "")
	run.serverCPU = after.CPU - m.before.CPU
	run.delivered = f.total.Load() - base
	last := time.Unix(0, f.lastAt.Load())
	run.elapsed = last.Sub(start)
	for i := skip; i < len(f.conns); i++ {
		if f.conns[i] == nil {
			continue
		}
		for s := lo; s < hi; s++ {
			switch c := f.counts[i*f.seqCap+s].Load(); {
			case c == 0:
				run.lost++
			case c > 1:
				run.dups += int64(c - 1)
			}
		}
	}
	return run
}

// waitDeliveries polls the delivery counter until want more arrived since
// base, nothing arrives for the idle period, or the cap passes.
func (f *fanout) waitDeliveries(ctx context.Context, base, want int64) {
	deadline := time.Now().Add(f.g.cfg.drainCap)
	last, lastChange := f.total.Load(), time.Now()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for ctx.Err() == nil && time.Now().Before(deadline) {
		cur := f.total.Load()
		if cur-base >= want {
			return
		}
		if cur != last {
			last, lastChange = cur, time.Now()
		} else if time.Since(lastChange) > f.g.cfg.idle {
			f.g.logf("fanout: no delivery for %s; %d of %d arrived", f.g.cfg.idle, cur-base, want)
			return
		}
		<-tick.C
	}
}

// report adds a fanRun's figures to r.
func (run fanRun) report(r *Result, measured bool) {
	r.info("broadcasts posted", float64(run.posted), "")
	r.lower("broadcast POST errors", float64(run.postErrors), "")
	r.info("deliveries expected", float64(run.expected), "")
	r.info("deliveries received", float64(run.delivered), "")
	if run.elapsed > 0 {
		r.higher("deliveries/s", float64(run.delivered)/run.elapsed.Seconds(), "1/s")
	}
	r.lower("lost", float64(run.lost), "")
	r.lower("duplicates", float64(run.dups), "")
	r.lower("latency p50", run.lat.Quantile(0.50), "ms")
	r.lower("latency p99", run.lat.Quantile(0.99), "ms")
	r.lower("latency max", run.lat.MaxMS(), "ms")
	r.lower("broadcast POST p99", run.post.Quantile(0.99), "ms")
	if run.badRecipients > 0 {
		r.info("202s with recipients != sockets", float64(run.badRecipients), "")
	}
	if measured && run.delivered > 0 {
		r.lower("server CPU per delivery", run.serverCPU.Seconds()/float64(run.delivered)*1e6, "µs")
	}
}

// runFanout joins cfg.fanoutN sockets to one room and publishes
// cfg.fanoutM broadcasts per mode: unpaced one POST at a time, unpaced with
// cfg.fanoutInflight POSTs in flight (several admins or services
// broadcasting at once), and at cfg.fanoutRate.
func runFanout(ctx context.Context, g *rig) []*Result {
	return runFanoutAs(ctx, g, "fanout", "")
}

// runFanoutAs is runFanout with its results named scenario + " " + mode and
// labels starting with prefix.
func runFanoutAs(ctx context.Context, g *rig, scenario, prefix string) []*Result {
	n, m := g.cfg.fanoutN, g.cfg.fanoutM
	modes := strings.Split(g.cfg.fanoutModes, ",")
	f, err := setupFanout(ctx, g, n, 0, m*len(modes))
	if err != nil {
		r := g.result(scenario, prefix+fmt.Sprintf("%d sockets x %d broadcasts", n, m))
		r.Status, r.Note = "error", err.Error()
		return []*Result{r}
	}
	defer f.close()
	var out []*Result
	for k, mode := range modes {
		rate, inflight := 0.0, 1
		label := fmt.Sprintf("%d sockets x %d broadcasts, unpaced", n, m)
		switch mode {
		case "unpaced":
		case "concurrent":
			inflight = g.cfg.fanoutInflight
			label = fmt.Sprintf("%d sockets x %d broadcasts, unpaced, %d POSTs in flight", n, m, inflight)
		case "paced":
			rate = g.cfg.fanoutRate
			label = fmt.Sprintf("%d sockets x %d broadcasts at %g/s", n, m, rate)
		default:
			continue
		}
		r := g.result(scenario+" "+mode, prefix+label)
		r.Params = map[string]any{"n": n, "m": m, "rate": rate, "inflight": inflight}
		g.settle()
		g.logf("fanout %s: %s", mode, label)
		run := f.broadcast(ctx, k*m, (k+1)*m, rate, inflight, "", 0, r)
		run.report(r, g.cfg.pid > 0)
		r.lower("dropped sockets", float64(f.dropped.Load()), "")
		g.logf("%s %s: %d/%d delivered, %.0f/s, p99 %.1f ms, lost %d, dup %d", scenario, mode, run.delivered, run.expected,
			float64(run.delivered)/run.elapsed.Seconds(), run.lat.Quantile(0.99), run.lost, run.dups)
		out = append(out, r)
	}
	return out
}
