package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// runCluster is the cross-node scenario: the fan-out of runFanout with the
// sockets spread over every -addrs node and the broadcasts posted to the
// first, then the cost of a polling request that reaches a node that does
// not own its session. Run against one address it gives the single-node
// figures the cluster's are compared with (benchmarks/run.sh does both).
func runCluster(ctx context.Context, g *rig) []*Result {
	out := runFanoutAs(ctx, g, "cluster fanout", "")
	return append(out, runForwarding(ctx, g))
}

// runForwarding opens a polling session on the first node and times small
// polling POSTs (a pong) sent to it directly and through the second node.
// On one node both series go to that node.
func runForwarding(ctx context.Context, g *rig) *Result {
	n := g.cfg.pollN
	r := g.result("cluster polling", fmt.Sprintf("%d polling POSTs to the owner, %d through another node", n, n))
	owner, other := g.hosts[0], g.hosts[0]
	if len(g.cfg.addrs) > 1 {
		other = g.hosts[1]
	}
	fail := func(err error) *Result {
		r.Status, r.Note = "error", err.Error()
		return r
	}
	code, body, err := g.poll(owner, http.MethodGet, "", "")
	if err != nil || code != 200 || len(body) < 2 {
		return fail(fmt.Errorf("polling handshake: %d %s %v", code, body, err))
	}
	var hs struct{ Sid string }
	if err := json.Unmarshal(body[1:], &hs); err != nil {
		return fail(fmt.Errorf("polling handshake: %w", err))
	}
	if code, body, err = g.poll(owner, http.MethodPost, hs.Sid, `40{"token":"`+g.admin+`"}`); err != nil || code != 200 {
		return fail(fmt.Errorf("polling connect: %d %s %v", code, body, err))
	}
	if code, body, err = g.poll(owner, http.MethodGet, hs.Sid, ""); err != nil || code != 200 {
		return fail(fmt.Errorf("polling connect answer: %d %s %v", code, body, err))
	}
	timed := func(addr string) (*hist, error) {
		h := &hist{}
		for i := 0; i < n && ctx.Err() == nil; i++ {
			t0 := time.Now()
			code, body, err := g.poll(addr, http.MethodPost, hs.Sid, "3")
			if err != nil || code != 200 {
				return nil, fmt.Errorf("polling POST via %s: %d %s %v", addr, code, body, err)
			}
			h.Record(time.Since(t0))
		}
		return h, nil
	}
	g.settle()
	direct, err := timed(owner)
	if err != nil {
		return fail(err)
	}
	forwarded, err := timed(other)
	if err != nil {
		return fail(err)
	}
	r.lower("polling POST p50 at the owner", direct.Quantile(0.50), "ms")
	r.lower("polling POST p99 at the owner", direct.Quantile(0.99), "ms")
	r.lower("polling POST p50 through another node", forwarded.Quantile(0.50), "ms")
	r.lower("polling POST p99 through another node", forwarded.Quantile(0.99), "ms")
	r.info("added by forwarding, p50", forwarded.Quantile(0.50)-direct.Quantile(0.50), "ms")
	g.logf("cluster polling: p50 %.3f ms at the owner, %.3f ms through another node", direct.Quantile(0.50), forwarded.Quantile(0.50))
	return r
}

// poll sends one Engine.IO long-polling request to addr (a session's
// handshake when sid is empty).
func (g *rig) poll(addr, method, sid, body string) (int, []byte, error) {
	u := "http://" + addr + "/socket.io/?EIO=4&transport=polling"
	if sid != "" {
		u += "&sid=" + sid
	}
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	}
	resp, err := g.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, b, err
}
