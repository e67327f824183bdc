package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// runRest drives the ticket routes: each worker owns one counter and loops
// create ticket, call-next, complete. A server without the routes (404 on
// create) is reported as unsupported.
func runRest(ctx context.Context, g *rig) *Result {
	w, dur := g.cfg.restWorkers, g.cfg.restDur
	r := g.result("rest", fmt.Sprintf("%d counters for %s (create, call-next, complete)", w, dur))
	r.Params = map[string]any{"workers": w, "duration_s": dur.Seconds()}
	customer, _ := g.token("rest-customer", "customer", "")
	code, body, err := g.post("/api/tickets", customer, []byte(`{"serviceType":"Finance"}`))
	switch {
	case err != nil:
		r.Status, r.Note = "error", "POST /api/tickets: "+err.Error()
		return r
	case code == 404 || code == 405:
		r.Status, r.Note = "unsupported", fmt.Sprintf("POST /api/tickets answered %d %s", code, trimBody(body))
		g.logf("rest: unsupported (%d)", code)
		return r
	case code != 201:
		r.Status, r.Note = "error", fmt.Sprintf("POST /api/tickets answered %d %s", code, trimBody(body))
		return r
	}
	cs, err := g.counters()
	if err != nil {
		r.Status, r.Note = "error", err.Error()
		return r
	}
	hCreate, hCall, hDone := &hist{}, &hist{}, &hist{}
	var cycles, errs, empty atomic.Int64
	var firstErr atomic.Value
	fail := func(op string, code int, body []byte, err error) {
		errs.Add(1)
		if err != nil {
			firstErr.CompareAndSwap(nil, op+": "+err.Error())
		} else {
			firstErr.CompareAndSwap(nil, fmt.Sprintf("%s: %d %s", op, code, trimBody(body)))
		}
	}
	m := g.meter()
	start := time.Now()
	deadline := start.Add(dur)
	var wg sync.WaitGroup
	for i := 0; i < w; i++ {
		// Each worker tickets a service its own counter serves; counters
		// that share services may still take each other's tickets, and
		// then call-next finds nothing (404), counted as an empty call.
		ct := cs[i%len(cs)]
		counter := ct.ID
		service := "Finance"
		if len(ct.Services) > 0 {
			service = ct.Services[0]
		}
		create := []byte(fmt.Sprintf(`{"serviceType":%q}`, service))
		staff, _ := g.token("rest-staff-"+strconv.Itoa(i), "staff", counter)
		wg.Add(1)
		go func() {
			defer wg.Done()
			seq := 0
			for time.Now().Before(deadline) && ctx.Err() == nil {
				// A fresh customer per ticket: queuecast caps active tickets per user.
				seq++
				cust, _ := g.token(fmt.Sprintf("rest-c-%d-%d", i, seq), "customer", "")
				t0 := time.Now()
				code, body, err := g.post("/api/tickets", cust, create)
				hCreate.Record(time.Since(t0))
				if err != nil || code != 201 {
					fail("create", code, body, err)
					continue
				}
				t1 := time.Now()
				code, body, err = g.post("/api/counters/"+counter+"/call-next", staff, []byte("{}"))
				hCall.Record(time.Since(t1))
				if err == nil && code == 404 && bytes.Contains(body, []byte("waiting")) {
					empty.Add(1)
					continue
				}
				if err != nil || code != 200 {
					fail("call-next", code, body, err)
					continue
				}
				id, ok := ticketID(body)
				if !ok {
					fail("call-next", code, body, nil)
					continue
				}
				t2 := time.Now()
				code, body, err = g.post("/api/tickets/"+id+"/complete", staff, []byte("{}"))
				hDone.Record(time.Since(t2))
				if err != nil || code != 200 {
					fail("complete", code, body, err)
					continue
				}
				cycles.Add(1)
			}
		}()
	}
	waitTimeout(&wg, dur+35*time.Second)
	elapsed := time.Since(start)
	m.finish(r, float64(cycles.Load()), "cycle")
	if cycles.Load() == 0 && errs.Load() > 0 {
		r.Status = "unsupported"
		if e, ok := firstErr.Load().(string); ok {
			r.Note = "no cycle completed; first error: " + e
		}
		return r
	}
	r.higher("cycles/s", float64(cycles.Load())/elapsed.Seconds(), "1/s")
	r.lower("create p99", hCreate.Quantile(0.99), "ms")
	r.lower("call-next p99", hCall.Quantile(0.99), "ms")
	r.lower("complete p99", hDone.Quantile(0.99), "ms")
	r.lower("errors", float64(errs.Load()), "")
	r.info("empty call-next (404)", float64(empty.Load()), "")
	if e, ok := firstErr.Load().(string); ok {
		r.Note = "first error: " + e
	}
	g.logf("rest: %d cycles (%.0f/s), %d errors", cycles.Load(), float64(cycles.Load())/elapsed.Seconds(), errs.Load())
	return r
}

// ticketID reads ticket.id (a string or a number) from a call-next reply.
func ticketID(body []byte) (string, bool) {
	var v struct {
		Ticket struct {
			ID json.RawMessage `json:"id"`
		} `json:"ticket"`
	}
	if json.Unmarshal(body, &v) != nil || len(v.Ticket.ID) == 0 {
		return "", false
	}
	return string(bytes.Trim(v.Ticket.ID, `"`)), true
}

func trimBody(b []byte) string {
	if len(b) > 200 {
		b = b[:200]
	}
	return string(bytes.TrimSpace(b))
}
