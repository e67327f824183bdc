package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/queuecast/queuecast/benchmarks/internal/sioclient"
)

// runSoak runs every kind of traffic at once for cfg.soakDur: churn
// (connect, join, disconnect), a paced fan-out to a room, paced acks, the
// REST ticket cycle, and bad input of every kind (badCases). Every
// cfg.soakSample it prints the server's RSS and goroutines. It fails when
// either grows without bound, by the rule in soakVerdict, or when the
// healthy traffic sees an error.
func runSoak(ctx context.Context, g *rig) *Result {
	c := g.cfg
	dur := c.soakDur
	warmup, interval := c.soakWarmup, c.soakSample
	if warmup <= 0 {
		warmup = dur / 6
	}
	if interval <= 0 {
		interval = min(max(dur/40, 5*time.Second), 30*time.Second)
	}
	r := g.result("soak", fmt.Sprintf("%s: churn, fan-out, acks, REST and bad input at once", dur))
	r.Params = map[string]any{"duration_s": dur.Seconds(), "warmup_s": warmup.Seconds(), "sample_s": interval.Seconds(),
		"churn_workers": c.soakChurnWorkers, "fanout_n": c.soakFanoutN, "fanout_rate": c.soakFanoutRate,
		"ack_n": c.soakAckN, "ack_rate": c.soakAckRate, "rest_rate": c.soakRestRate, "bad_workers": c.soakBadWorkers}
	if c.pid <= 0 {
		r.Status, r.Note = "error", "the soak needs -pid to read the server's RSS"
		return r
	}
	idleBefore, err := g.probe(ctx)
	if err != nil {
		r.Status, r.Note = "error", err.Error()
		return r
	}
	g.logf("soak: idle server: RSS %.1f MB, %d goroutines", idleBefore.rssMB(), idleBefore.goroutines)

	broadcasts := max(int(c.soakFanoutRate*dur.Seconds()), 1)
	f, err := setupFanout(ctx, g, c.soakFanoutN, 0, broadcasts)
	if err != nil {
		r.Status, r.Note = "error", "fan-out room: "+err.Error()
		return r
	}
	acks := &soakAcks{}
	ackConns, failed, err := g.dialAll(ctx, c.soakAckN, g.cfg.dialConcurrency, func(i int) sioclient.Options {
		tok, _ := g.token(fmt.Sprintf("soak-ack-%d", i), "customer", "")
		return sioclient.Options{Token: tok, OnClose: acks.onClose}
	})
	if failed > 0 {
		f.close()
		closeAll(ackConns)
		r.Status, r.Note = "error", fmt.Sprintf("%d of %d ack sockets failed to connect: %v", failed, c.soakAckN, err)
		return r
	}
	rest := &soakREST{}
	if err := rest.setup(g); err != nil {
		f.close()
		closeAll(ackConns)
		r.Status, r.Note = "error", err.Error()
		return r
	}
	bad := newBadInput(c.soakMaxMessage)
	churn := &churnRound{pause: c.soakChurnPause}

	g.logf("soak: %s, a line every %s, judged after a %s warm-up", r.Label, interval, warmup)
	load, stopLoad := context.WithTimeout(ctx, dur)
	defer stopLoad()
	start := time.Now()
	var wg sync.WaitGroup
	var fan fanRun
	spawn := func(fn func()) {
		wg.Add(1)
		go func() { defer wg.Done(); fn() }()
	}
	spawn(func() { churn.run(load, g, c.soakChurnWorkers, dur) })
	// The fan-out posts its broadcasts by the clock and then waits for their
	// deliveries, so it runs on ctx: ending at the deadline would count the
	// broadcasts still in flight as lost.
	spawn(func() { fan = f.broadcast(ctx, 0, broadcasts, c.soakFanoutRate, 1, "", 0, &Result{}) })
	spawn(func() { acks.run(load, ackConns, c.soakAckRate) })
	spawn(func() { rest.run(load, g, c.soakRestRate) })
	spawn(func() { bad.run(load, g, c.soakBadWorkers, c.soakBadPause) })

	var samples []soakSample
	tick := time.NewTicker(interval)
	for load.Err() == nil {
		select {
		case <-load.Done():
		case <-tick.C:
			s, err := g.probe(ctx)
			if err != nil {
				g.logf("soak: sample: %v", err)
				continue
			}
			s.at = time.Since(start)
			samples = append(samples, s)
			badOK, badFailed := bad.totals()
			g.logf("soak: RSS %6.1f MB, %5d goroutines | churn %d (errors %d), deliveries %d, acks %d (timeouts %d), REST cycles %d (errors %d), bad input %d (unexpected %d)",
				s.rssMB(), s.goroutines, churn.cycles.Load(), churn.dialErrs.Load()+churn.joinErrs.Load(), f.total.Load(),
				acks.acks.Load(), acks.timeouts.Load(), rest.cycles.Load(), rest.errs.Load(), badOK+badFailed, badFailed)
		}
	}
	tick.Stop()
	g.logf("soak: load done; waiting for the workers and the last deliveries")
	wg.Wait()
	f.close()
	closeAll(ackConns)
	g.http.CloseIdleConnections()
	g.settle()
	idleAfter, err := g.probe(ctx)
	if err != nil {
		r.Status, r.Note = "error", "after the load: "+err.Error()
		return r
	}
	g.logf("soak: idle again: RSS %.1f MB, %d goroutines", idleAfter.rssMB(), idleAfter.goroutines)

	v := soakVerdict(samples, warmup, idleBefore, idleAfter, c)
	badOK, badFailed := bad.totals()
	healthyErrors := churn.dialErrs.Load() + churn.joinErrs.Load() + acks.errs.Load() + acks.timeouts.Load() +
		acks.dropped.Load() + rest.errs.Load() + fan.lost + fan.dups + int64(fan.postErrors) + f.dropped.Load()

	peakRSS, peakG := idleBefore.rssKB, idleBefore.goroutines
	for _, s := range samples {
		peakRSS, peakG = max(peakRSS, s.rssKB), max(peakG, s.goroutines)
	}
	r.info("duration", time.Since(start).Seconds(), "s")
	r.info("server RSS idle before", idleBefore.rssMB(), "MB")
	r.lower("server RSS peak under load", float64(peakRSS)/1024, "MB")
	r.info("server RSS first third (median)", v.rssFirst/1024, "MB")
	r.info("server RSS last third (median)", v.rssLast/1024, "MB")
	r.lower("server RSS idle after", idleAfter.rssMB(), "MB")
	r.info("server goroutines idle before", float64(idleBefore.goroutines), "")
	r.lower("server goroutines peak under load", float64(peakG), "")
	r.info("server goroutines first third (median)", v.gFirst, "")
	r.info("server goroutines last third (median)", v.gLast, "")
	r.lower("server goroutines idle after", float64(idleAfter.goroutines), "")
	r.higher("churn cycles", float64(churn.cycles.Load()), "")
	r.lower("churn errors", float64(churn.dialErrs.Load()+churn.joinErrs.Load()), "")
	r.info("broadcasts posted", float64(fan.posted), "")
	r.info("deliveries received", float64(fan.delivered), "")
	r.lower("deliveries lost", float64(fan.lost), "")
	r.lower("fan-out latency p99", fan.lat.Quantile(0.99), "ms")
	r.higher("acks", float64(acks.acks.Load()), "")
	r.lower("ack RTT p99", acks.h.Quantile(0.99), "ms")
	r.lower("ack errors and timeouts", float64(acks.errs.Load()+acks.timeouts.Load()), "")
	r.higher("REST cycles (create, call-next, complete)", float64(rest.cycles.Load()), "")
	r.lower("REST errors", float64(rest.errs.Load()), "")
	r.info("REST answers 429", float64(rest.limited.Load()), "")
	r.info("bad inputs turned away", float64(badOK), "")
	r.lower("bad inputs answered unexpectedly", float64(badFailed), "")
	r.lower("healthy sockets dropped", float64(f.dropped.Load()+acks.dropped.Load()), "")
	for i, bc := range bad.cases {
		r.info("bad input turned away: "+bc.name, float64(bad.ok[i].Load()), "")
	}

	var problems []string
	problems = append(problems, v.problems...)
	if healthyErrors > 0 {
		problems = append(problems, fmt.Sprintf("%d errors in the healthy traffic", healthyErrors))
	}
	if badFailed > 0 {
		problems = append(problems, fmt.Sprintf("%d bad inputs answered unexpectedly", badFailed))
	}
	if rest.cycles.Load() == 0 {
		problems = append(problems, "no REST cycle completed")
	}
	for name, e := range bad.firstErr {
		r.Note += fmt.Sprintf("bad input %q: %s. ", name, e)
	}
	if e, ok := rest.firstErr.Load().(string); ok {
		r.Note += "first REST error: " + e + ". "
	}
	if e, ok := churn.firstErr.Load().(string); ok {
		r.Note += "first churn error: " + e + ". "
	}
	switch {
	case len(problems) > 0:
		r.Status = "fail"
		r.Note = fmt.Sprint(problems) + " " + r.Note
	case !v.judged:
		r.Note += "too few samples after the warm-up to judge growth. "
	}
	g.logf("soak: %s: %s", r.Status, v.summary)
	for _, p := range problems {
		g.logf("soak: FAIL: %s", p)
	}
	return r
}

// soakSample is one reading of the server.
type soakSample struct {
	at         time.Duration
	rssKB      int64
	goroutines int64
}

func (s soakSample) rssMB() float64 { return float64(s.rssKB) / 1024 }

// verdict is soakVerdict's judgement.
type verdict struct {
	judged            bool
	rssFirst, rssLast float64 // KiB
	gFirst, gLast     float64
	summary           string
	problems          []string
}

// soakVerdict applies the growth rule. The samples taken after the warm-up
// are split in thirds; RSS or goroutines grow without bound when the median
// of the last third exceeds the median of the first third by more than
// -soak-growth (a share) and by more than an absolute slack (-soak-rss-slack
// MB, -soak-goroutine-slack). A load that holds steady stays within both; a
// leak per connection, per request or per broadcast grows with the count of
// them, which a 10-minute soak multiplies. And once the load is over and
// every client gone, the goroutines must come back within the goroutine
// slack of what the idle server had before: a goroutine left behind by a
// closed connection shows there even when it is too small to see under load.
func soakVerdict(samples []soakSample, warmup time.Duration, before, after soakSample, c *config) verdict {
	var post []soakSample
	for _, s := range samples {
		if s.at >= warmup {
			post = append(post, s)
		}
	}
	var v verdict
	if n := len(post) / 3; n >= 1 {
		v.judged = true
		first, last := post[:n], post[len(post)-n:]
		v.rssFirst = median(first, func(s soakSample) float64 { return float64(s.rssKB) })
		v.rssLast = median(last, func(s soakSample) float64 { return float64(s.rssKB) })
		v.gFirst = median(first, func(s soakSample) float64 { return float64(s.goroutines) })
		v.gLast = median(last, func(s soakSample) float64 { return float64(s.goroutines) })
		if grew(v.rssFirst, v.rssLast, c.soakGrowth, c.soakRSSSlackMB*1024) {
			v.problems = append(v.problems, fmt.Sprintf("RSS grew from %.1f to %.1f MB (first to last third)", v.rssFirst/1024, v.rssLast/1024))
		}
		if grew(v.gFirst, v.gLast, c.soakGrowth, float64(c.soakGoroutineSlack)) {
			v.problems = append(v.problems, fmt.Sprintf("goroutines grew from %.0f to %.0f (first to last third)", v.gFirst, v.gLast))
		}
	}
	if after.goroutines > before.goroutines+int64(c.soakGoroutineSlack) {
		v.problems = append(v.problems, fmt.Sprintf("%d goroutines once idle again, against %d before the load", after.goroutines, before.goroutines))
	}
	v.summary = fmt.Sprintf("%d samples after the warm-up; RSS %.1f -> %.1f MB and goroutines %.0f -> %.0f (first third -> last third, medians); idle goroutines %d before, %d after",
		len(post), v.rssFirst/1024, v.rssLast/1024, v.gFirst, v.gLast, before.goroutines, after.goroutines)
	return v
}

// grew reports whether to exceeds from by more than share of from and by
// more than slack.
func grew(from, to, share, slack float64) bool {
	d := to - from
	return d > slack && d > share*from
}

func median(ss []soakSample, f func(soakSample) float64) float64 {
	vs := make([]float64, len(ss))
	for i, s := range ss {
		vs[i] = f(s)
	}
	slices.Sort(vs)
	if len(vs)%2 == 1 {
		return vs[len(vs)/2]
	}
	return (vs[len(vs)/2-1] + vs[len(vs)/2]) / 2
}

// probe reads the server's RSS (from /proc, by -pid) and goroutine count
// (from the profiler at -pprof, else go_goroutines at /metrics).
func (g *rig) probe(ctx context.Context) (soakSample, error) {
	s := soakSample{rssKB: g.sample().RSSKB}
	n, err := g.goroutines(ctx)
	s.goroutines = n
	return s, err
}

func (g *rig) goroutines(ctx context.Context) (int64, error) {
	url, key := g.baseURL()+"/metrics", []byte("go_goroutines ")
	if g.cfg.pprof != "" {
		url, key = "http://"+g.cfg.pprof+"/debug/pprof/goroutine?debug=1", []byte("goroutine profile: total ")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := g.http.Do(req)
	if err != nil {
		return 0, fmt.Errorf("goroutines: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("goroutines: GET %s: %s", url, resp.Status)
	}
	sc := bufio.NewScanner(io.LimitReader(resp.Body, 4<<20))
	for sc.Scan() {
		if v, ok := bytes.CutPrefix(sc.Bytes(), key); ok {
			return strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64)
		}
	}
	return 0, fmt.Errorf("goroutines: no %q in GET %s", key, url)
}

// soakAcks keeps `ping` acks going on a set of sockets at a total rate.
type soakAcks struct {
	h                             hist
	acks, errs, timeouts, dropped atomic.Int64
	closing                       atomic.Bool
}

func (a *soakAcks) onClose(*sioclient.Conn, error) {
	if !a.closing.Load() {
		a.dropped.Add(1)
	}
}

func (a *soakAcks) run(ctx context.Context, conns []*sioclient.Conn, rate float64) {
	defer a.closing.Store(true)
	every := time.Duration(float64(len(conns)) / rate * float64(time.Second))
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Add(1)
		go func(c *sioclient.Conn) {
			defer wg.Done()
			ch := make(chan error, 1)
			for ctx.Err() == nil {
				t0 := time.Now()
				if err := c.EmitAck(func(_ []json.RawMessage, err error) { ch <- err }, "ping"); err != nil {
					a.errs.Add(1)
					return
				}
				select {
				case err := <-ch:
					if err != nil {
						a.errs.Add(1)
						return
					}
					a.h.Record(time.Since(t0))
					a.acks.Add(1)
				case <-time.After(ackTimeout):
					a.timeouts.Add(1)
					return
				}
				sleepCtx(ctx, every-time.Since(t0))
			}
		}(c)
	}
	wg.Wait()
}

// soakREST loops the ticket cycle (create, call-next, complete) and reads
// the queues, at a total rate over one worker per counter.
type soakREST struct {
	counters                     []counter
	cycles, errs, limited, empty atomic.Int64
	firstErr                     atomic.Value
}

func (s *soakREST) setup(g *rig) error {
	cs, err := g.counters()
	if err != nil {
		return err
	}
	s.counters = cs
	return nil
}

func (s *soakREST) run(ctx context.Context, g *rig, rate float64) {
	every := time.Duration(float64(len(s.counters)) / rate * float64(time.Second))
	var wg sync.WaitGroup
	for i, ct := range s.counters {
		service := "Finance"
		if len(ct.Services) > 0 {
			service = ct.Services[0]
		}
		create := []byte(fmt.Sprintf(`{"serviceType":%q}`, service))
		staff, _ := g.token("soak-staff-"+strconv.Itoa(i), "staff", ct.ID)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seq := 0; ctx.Err() == nil; seq++ {
				t0 := time.Now()
				s.cycle(g, ct.ID, staff, create, fmt.Sprintf("soak-c-%d-%d", i, seq))
				sleepCtx(ctx, every-time.Since(t0))
			}
		}()
	}
	wg.Wait()
}

func (s *soakREST) cycle(g *rig, counterID, staff string, create []byte, customer string) {
	ok := func(op string, code, want int, body []byte, err error) bool {
		switch {
		case err == nil && code == want:
			return true
		case err == nil && code == http.StatusTooManyRequests:
			s.limited.Add(1)
		default:
			s.errs.Add(1)
			if err != nil {
				s.firstErr.CompareAndSwap(nil, op+": "+err.Error())
			} else {
				s.firstErr.CompareAndSwap(nil, fmt.Sprintf("%s: %d %s", op, code, trimBody(body)))
			}
		}
		return false
	}
	cust, _ := g.token(customer, "customer", "")
	if code, body, err := g.post("/api/tickets", cust, create); !ok("create", code, 201, body, err) {
		return
	}
	code, body, err := g.post("/api/counters/"+counterID+"/call-next", staff, []byte("{}"))
	if err == nil && code == 404 && bytes.Contains(body, []byte("waiting")) {
		s.empty.Add(1) // another counter took it
		return
	}
	if !ok("call-next", code, 200, body, err) {
		return
	}
	id, found := ticketID(body)
	if !found {
		ok("call-next", code, -1, body, nil)
		return
	}
	if code, body, err := g.post("/api/tickets/"+id+"/complete", staff, []byte("{}")); !ok("complete", code, 200, body, err) {
		return
	}
	resp, err := g.http.Get(g.baseURL() + "/api/queues")
	if err != nil {
		ok("queues", 0, 200, nil, err)
		return
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	_ = resp.Body.Close()
	if ok("queues", resp.StatusCode, 200, b, nil) {
		s.cycles.Add(1)
	}
}
