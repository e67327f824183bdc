package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/queuecast/queuecast/benchmarks/internal/procstat"
	"github.com/queuecast/queuecast/benchmarks/internal/sioclient"
)

// rig is what every scenario shares: the target, tokens, HTTP client and the
// server process being measured.
type rig struct {
	cfg    *config
	out    io.Writer
	hosts  []string
	rr     atomic.Uint64
	http   *http.Client
	admin  string
	start  time.Time
	sioCtx context.Context
}

func newRig(ctx context.Context, cfg *config, out io.Writer) (*rig, error) {
	g := &rig{cfg: cfg, out: out, start: time.Now(), sioCtx: ctx}
	for _, a := range append([]string{cfg.addr}, cfg.addrs...) {
		host, _, err := net.SplitHostPort(a)
		if err != nil {
			return nil, fmt.Errorf("address %q: %w", a, err)
		}
		if ip := net.ParseIP(host).To4(); ip == nil || !ip.IsLoopback() {
			return nil, fmt.Errorf("address %s: the generator only targets IPv4 loopback", a)
		}
	}
	if len(cfg.addrs) > 0 {
		// Each node is its own destination, hence its own ephemeral port range.
		g.hosts = cfg.addrs
	} else {
		host, port, _ := net.SplitHostPort(cfg.addr)
		ip := net.ParseIP(host).To4()
		// Spread connections over 127.0.0.x destinations: each destination has
		// its own ephemeral port range (about 28k ports).
		for i := 0; i < max(cfg.dstIPs, 1); i++ {
			d := net.IPv4(ip[0], ip[1], ip[2], ip[3]+byte(i))
			g.hosts = append(g.hosts, net.JoinHostPort(d.String(), port))
		}
	}
	g.http = &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true},
	}
	var err error
	g.admin, err = g.token("bench-admin", "admin", "")
	return g, err
}

// addr returns the next destination host:port, round-robin.
func (g *rig) addr() string {
	return g.hosts[int(g.rr.Add(1))%len(g.hosts)]
}

func (g *rig) baseURL() string { return "http://" + g.hosts[0] }

// token signs an HS256 JWT with sub, role, exp and, if set, counterId.
func (g *rig) token(sub, role, counterID string) (string, error) {
	claims := jwt.MapClaims{"sub": sub, "role": role, "exp": time.Now().Add(6 * time.Hour).Unix()}
	if counterID != "" {
		claims["counterId"] = counterID
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(g.cfg.secret))
}

func (g *rig) logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[%6.1fs %s] %s\n", time.Since(g.start).Seconds(), g.cfg.server, fmt.Sprintf(format, args...))
}

// sample reads the server processes, summed over a cluster's nodes;
// without -pid it returns a zero sample.
func (g *rig) sample() procstat.Sample {
	sum := procstat.Sample{At: time.Now()}
	for _, pid := range g.cfg.pids {
		s, err := procstat.Read(pid)
		if err != nil {
			g.logf("procstat: %v", err)
			return procstat.Sample{At: time.Now()}
		}
		sum.At = s.At
		sum.CPU += s.CPU
		sum.RSSKB += s.RSSKB
		sum.HWMKB += s.HWMKB
		sum.Threads += s.Threads
	}
	return sum
}

// serverAlive reports whether every measured process still exists.
func (g *rig) serverAlive() bool {
	for _, pid := range g.cfg.pids {
		if syscall.Kill(pid, 0) != nil {
			return false
		}
	}
	return true
}

// selfCPU is the generator's own user+system time.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// meter measures a window: server CPU, generator CPU and wall time.
type meter struct {
	g      *rig
	before procstat.Sample
	self   time.Duration
	system time.Duration
}

func (g *rig) meter() meter {
	sys, _ := procstat.SystemBusy()
	return meter{g: g, before: g.sample(), self: selfCPU(), system: sys}
}

// finish adds server CPU per op (µs), server and generator cores, and the
// server RSS at the end of the window.
func (m meter) finish(r *Result, ops float64, opName string) procstat.Sample {
	after := m.g.sample()
	sys, _ := procstat.SystemBusy()
	self := selfCPU() - m.self
	wall := after.At.Sub(m.before.At).Seconds()
	cpu := (after.CPU - m.before.CPU).Seconds()
	if ops > 0 && m.g.cfg.pid > 0 {
		r.lower("server CPU per "+opName, cpu/ops*1e6, "µs")
	}
	if wall > 0 {
		if m.g.cfg.pid > 0 {
			r.info("server CPU", cpu/wall, "cores")
		}
		r.info("loadgen CPU", self.Seconds()/wall, "cores")
		if m.g.cfg.pid > 0 && sys > 0 {
			// Anything else on the machine competes for the same cores.
			other := (sys - m.system).Seconds() - cpu - self.Seconds()
			r.info("other processes CPU", max(other, 0)/wall, "cores")
		}
	}
	if m.g.cfg.pid > 0 {
		r.info("server RSS at end", float64(after.RSSKB)/1024, "MB")
	}
	return after
}

// counter is one row of GET /api/counters.
type counter struct {
	ID       string   `json:"id"`
	Services []string `json:"services"`
}

// counters lists the server's counters (ids differ: "1".."3" on the Node
// peer, database ids on queuecast).
func (g *rig) counters() ([]counter, error) {
	resp, err := g.http.Get(g.baseURL() + "/api/counters")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var v struct {
		Items []counter `json:"items"`
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /api/counters: %s", resp.Status)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&v); err != nil {
		return nil, fmt.Errorf("GET /api/counters: %w", err)
	}
	if len(v.Items) == 0 {
		return nil, errors.New("GET /api/counters: no counters")
	}
	return v.Items, nil
}

// dialAll connects n clients with at most conc handshakes in flight. Failed
// dials leave nil entries; the first error is returned with the count.
func (g *rig) dialAll(ctx context.Context, n, conc int, opts func(i int) sioclient.Options) ([]*sioclient.Conn, int, error) {
	conns := make([]*sioclient.Conn, n)
	var failed atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	sem := make(chan struct{}, max(conc, 1))
	last := time.Now()
	for i := 0; i < n; i++ {
		if ctx.Err() != nil {
			failed.Add(int64(n - i))
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func(i int) {
			defer func() { <-sem; wg.Done() }()
			o := opts(i)
			o.Addr = g.addr()
			o.Tag = i
			c, err := sioclient.Dial(ctx, o)
			if err != nil {
				failed.Add(1)
				once.Do(func() { firstErr = err })
				return
			}
			conns[i] = c
		}(i)
		if time.Since(last) > 2*time.Second {
			last = time.Now()
			g.logf("dialled %d/%d", i, n)
		}
	}
	wg.Wait()
	return conns, int(failed.Load()), firstErr
}

// closeAll closes every connection, a few at a time, and waits (bounded) for
// their readers.
func closeAll(conns []*sioclient.Conn) {
	var wg sync.WaitGroup
	const workers = 8
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < len(conns); i += workers {
				if conns[i] != nil {
					_ = conns[i].Close()
				}
			}
		}(w)
	}
	wg.Wait()
}

// joinAll emits event with arg on every connection and waits for the acks
// (bounded by timeout); it returns how many acked {success:true}.
func joinAll(conns []*sioclient.Conn, event, arg string, timeout time.Duration) int {
	var ok atomic.Int64
	var wg sync.WaitGroup
	for _, c := range conns {
		if c == nil {
			continue
		}
		wg.Add(1)
		var once sync.Once
		done := func() { once.Do(wg.Done) }
		err := c.EmitAck(func(args []json.RawMessage, err error) {
			if err == nil && len(args) > 0 && bytes.Contains(args[0], []byte(`"success":true`)) {
				ok.Add(1)
			}
			done()
		}, event, json.RawMessage(arg))
		if err != nil {
			done()
		}
	}
	waitTimeout(&wg, timeout)
	return int(ok.Load())
}

// waitTimeout waits for wg for at most d; it reports whether wg finished.
func waitTimeout(wg *sync.WaitGroup, d time.Duration) bool {
	ch := make(chan struct{})
	go func() { wg.Wait(); close(ch) }()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ch:
		return true
	case <-t.C:
		return false
	}
}

// post sends a JSON POST and returns the status and body.
func (g *rig) post(path, bearer string, body []byte) (int, []byte, error) {
	req, err := http.NewRequest(http.MethodPost, g.baseURL()+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := g.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, b, err
}

// settle sleeps so the server's memory and timers quiet down before a
// sample; the scenarios measure state, not a condition, here.
func (g *rig) settle() { time.Sleep(g.cfg.settle) }

// jsonInt finds key (written as `"name":`) followed by a decimal integer in
// b, without decoding the document.
func jsonInt(b, key []byte) (int64, bool) {
	i := bytes.Index(b, key)
	if i < 0 {
		return 0, false
	}
	j := i + len(key)
	var v int64
	neg := j < len(b) && b[j] == '-'
	if neg {
		j++
	}
	start := j
	for ; j < len(b) && b[j] >= '0' && b[j] <= '9'; j++ {
		v = v*10 + int64(b[j]-'0')
	}
	if j == start {
		return 0, false
	}
	if neg {
		v = -v
	}
	return v, true
}
