// Command loadgen drives a Socket.IO queue server (queuecast or the Node
// reference peer) over loopback with bounded scenarios and reports rates,
// latency percentiles, and the server process's CPU time per operation and
// resident memory.
//
//	loadgen -addr 127.0.0.1:5000 -pid 1234 -server queuecast -secret s -scenarios all
//	loadgen report queuecast.jsonl node.jsonl
//
// Progress goes to stderr, one JSON line per result to stdout, and a Markdown
// table of the run to stderr at the end.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// config holds every flag; every count and duration is bounded by a flag.
type config struct {
	addr, server, secret, scenarios string
	pid, dstIPs, dialConcurrency    int
	// addrs and pids are the nodes of a cluster (-addrs, -pids): sockets
	// are spread over addrs, REST goes to the first, CPU and RSS are summed
	// over pids.
	addrs                  []string
	pids                   []int
	pollN                  int
	quick                  bool
	settle, idle, drainCap time.Duration

	connectN, connectRate int

	fanoutN, fanoutM int
	fanoutRate       float64
	fanoutInflight   int
	fanoutModes      string

	joinN   int
	joinCap time.Duration

	ackN, ackK, ackRate int
	ackDur, ackPacedDur time.Duration
	churnWorkers        int
	churnDur            time.Duration
	churnWarmup         time.Duration
	slowN, slowPayload  int
	slowShare, slowRate float64
	slowDur             time.Duration
	restWorkers         int
	restDur             time.Duration
	pprof               string

	soakDur, soakWarmup, soakSample time.Duration
	soakChurnWorkers                int
	soakChurnPause                  time.Duration
	soakFanoutN, soakAckN           int
	soakFanoutRate, soakAckRate     float64
	soakRestRate                    float64
	soakBadWorkers, soakMaxMessage  int
	soakBadPause                    time.Duration
	soakGrowth, soakRSSSlackMB      float64
	soakGoroutineSlack              int
	scenarioCap                     time.Duration
	markdown                        bool
	scenarioList                    []string
}

var allScenarios = []string{"connect", "fanout", "joinstorm", "ack", "churn", "slow", "rest"}

// clusterScenario is not among "all": it needs PostgreSQL and three nodes
// (benchmarks/run.sh starts them when SCENARIOS names it).
const clusterScenario = "cluster"

// soakScenario is not among "all": it is a test that runs for minutes, not a
// measurement (make soak).
const soakScenario = "soak"

func parseFlags(args []string) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.StringVar(&c.addr, "addr", "127.0.0.1:5000", "server host:port (IPv4 loopback)")
	fs.StringVar(&c.server, "server", "queuecast", "server name in the results")
	fs.StringVar(&c.secret, "secret", "bench-secret", "JWT_SECRET of the server (HS256)")
	fs.StringVar(&c.scenarios, "scenarios", "all", "comma-separated: "+strings.Join(allScenarios, ",")+" or all, or "+soakScenario)
	fs.StringVar(&c.pprof, "pprof", "", "the server's PPROF_ADDR, to count its goroutines (default: go_goroutines at /metrics)")
	fs.IntVar(&c.pid, "pid", 0, "server process id, for CPU time and RSS (0: not measured)")
	addrs := fs.String("addrs", "", "comma-separated host:port of a cluster's nodes (IPv4 loopback): sockets round-robin over them, REST to the first; replaces -addr and -dst-ips")
	pids := fs.String("pids", "", "comma-separated process ids of a cluster's nodes: server CPU and RSS are their sums; replaces -pid")
	fs.IntVar(&c.pollN, "poll-n", 500, "cluster: polling POSTs timed at the owner and again through another node")
	fs.IntVar(&c.dstIPs, "dst-ips", 4, "spread connections over this many 127.0.0.x destinations")
	fs.IntVar(&c.dialConcurrency, "dial-concurrency", 64, "handshakes in flight while setting up a scenario")
	fs.BoolVar(&c.quick, "quick", false, "smoke preset: small counts and short runs (flags set explicitly still win)")
	fs.DurationVar(&c.settle, "settle", 2*time.Second, "pause before memory samples and between phases")
	fs.DurationVar(&c.idle, "idle", 5*time.Second, "stop waiting for deliveries after this long without progress")
	fs.DurationVar(&c.drainCap, "drain-cap", 60*time.Second, "longest wait for a fan-out's deliveries")
	fs.DurationVar(&c.scenarioCap, "scenario-cap", 4*time.Minute, "hard limit on one scenario")
	fs.BoolVar(&c.markdown, "markdown", true, "print a Markdown table of the results to stderr at the end")

	fs.IntVar(&c.connectN, "connect-n", 10000, "connect: sockets held")
	fs.IntVar(&c.connectRate, "connect-rate", 5000, "connect: new sockets per second, each with a JWT (the 5,000/s handshake target) (0: as fast as 2000 in flight allow)")

	fs.IntVar(&c.fanoutN, "fanout-n", 5000, "fanout: sockets in the room")
	fs.IntVar(&c.fanoutM, "fanout-m", 200, "fanout: broadcasts per mode")
	fs.Float64Var(&c.fanoutRate, "fanout-rate", 10, "fanout: broadcasts per second in paced mode")
	fs.IntVar(&c.fanoutInflight, "fanout-inflight", 4, "fanout: broadcast POSTs in flight in concurrent mode")
	fs.StringVar(&c.fanoutModes, "fanout-modes", "unpaced,concurrent,paced", "fanout: modes to run, in order (unpaced: one POST at a time; concurrent: -fanout-inflight at a time; paced: -fanout-rate)")

	fs.IntVar(&c.joinN, "joinstorm-n", 5000, "joinstorm: sockets joining one service room")
	fs.DurationVar(&c.joinCap, "joinstorm-cap", 90*time.Second, "joinstorm: time cap")

	fs.IntVar(&c.ackN, "ack-n", 1000, "ack: sockets")
	fs.IntVar(&c.ackK, "ack-k", 1, "ack: acks in flight per socket (closed loop)")
	fs.DurationVar(&c.ackDur, "ack-duration", 10*time.Second, "ack: closed-loop duration (0: skip)")
	fs.IntVar(&c.ackRate, "ack-rate", 5000, "ack: open-loop acks per second (0: skip)")
	fs.DurationVar(&c.ackPacedDur, "ack-paced-duration", 10*time.Second, "ack: open-loop duration")

	fs.IntVar(&c.churnWorkers, "churn-workers", 50, "churn: workers")
	fs.DurationVar(&c.churnDur, "churn-duration", 10*time.Second, "churn: duration")
	fs.DurationVar(&c.churnWarmup, "churn-warmup", 2*time.Second, "churn: warm-up round before RSS before is taken (0: none)")

	fs.IntVar(&c.slowN, "slow-n", 5000, "slow: sockets in the room")
	fs.Float64Var(&c.slowShare, "slow-share", 0.01, "slow: share of sockets that never read")
	fs.Float64Var(&c.slowRate, "slow-rate", 10, "slow: broadcasts per second")
	fs.DurationVar(&c.slowDur, "slow-duration", 60*time.Second, "slow: duration of the paced fan-out (the issue's 60 s)")
	fs.IntVar(&c.slowPayload, "slow-payload", 1024, "slow: approximate event payload bytes")

	fs.IntVar(&c.restWorkers, "rest-workers", 3, "rest: workers, one counter each (the Node peer has counters 1-3)")
	fs.DurationVar(&c.restDur, "rest-duration", 10*time.Second, "rest: duration")

	fs.DurationVar(&c.soakDur, "soak-duration", 10*time.Minute, "soak: duration of the load")
	fs.DurationVar(&c.soakWarmup, "soak-warmup", 0, "soak: samples before this are not judged (0: a sixth of the duration)")
	fs.DurationVar(&c.soakSample, "soak-sample", 0, "soak: interval between RSS and goroutine samples (0: duration/40, within 5-30 s)")
	fs.IntVar(&c.soakChurnWorkers, "soak-churn-workers", 4, "soak: churn workers (connect, join, disconnect)")
	fs.DurationVar(&c.soakChurnPause, "soak-churn-pause", 20*time.Millisecond, "soak: each churn worker's pause between cycles")
	fs.IntVar(&c.soakFanoutN, "soak-fanout-n", 200, "soak: sockets in the fan-out room")
	fs.Float64Var(&c.soakFanoutRate, "soak-fanout-rate", 5, "soak: broadcasts per second to the room")
	fs.IntVar(&c.soakAckN, "soak-ack-n", 50, "soak: sockets sending ping with an ack")
	fs.Float64Var(&c.soakAckRate, "soak-ack-rate", 500, "soak: acks per second over those sockets")
	fs.Float64Var(&c.soakRestRate, "soak-rest-rate", 10, "soak: REST cycles (create, call-next, complete, queues) per second")
	fs.IntVar(&c.soakBadWorkers, "soak-bad-workers", 2, "soak: workers sending bad input, one case after another")
	fs.DurationVar(&c.soakBadPause, "soak-bad-pause", 50*time.Millisecond, "soak: each bad-input worker's pause between cases")
	fs.IntVar(&c.soakMaxMessage, "soak-max-message", 1000000, "soak: the server's MAX_HTTP_BUFFER_SIZE (the oversized inputs exceed it)")
	fs.Float64Var(&c.soakGrowth, "soak-growth", 0.2, "soak: growth (a share) of RSS or goroutines, last third over first third, that fails")
	fs.Float64Var(&c.soakRSSSlackMB, "soak-rss-slack", 8, "soak: RSS growth (MB) tolerated whatever the share")
	fs.IntVar(&c.soakGoroutineSlack, "soak-goroutine-slack", 50, "soak: goroutine growth tolerated whatever the share, also idle after against idle before")

	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if *addrs != "" {
		c.addrs = strings.Split(*addrs, ",")
		c.addr = c.addrs[0]
	}
	if *pids != "" {
		for _, p := range strings.Split(*pids, ",") {
			id, err := strconv.Atoi(strings.TrimSpace(p))
			if err != nil || id <= 0 {
				return nil, fmt.Errorf("-pids: bad process id %q", p)
			}
			c.pids = append(c.pids, id)
		}
		c.pid = c.pids[0]
	} else if c.pid > 0 {
		c.pids = []int{c.pid}
	}
	if c.quick {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		quick := map[string]string{
			"settle": "500ms", "idle": "3s", "connect-n": "1000", "connect-rate": "2000",
			"fanout-n": "500", "fanout-m": "40", "fanout-rate": "20",
			"joinstorm-n": "300", "joinstorm-cap": "20s",
			"ack-n": "100", "ack-duration": "2s", "ack-rate": "1000", "ack-paced-duration": "2s",
			"churn-workers": "10", "churn-duration": "2s", "churn-warmup": "500ms",
			"slow-n": "500", "slow-share": "0.02", "slow-rate": "10", "slow-duration": "3s",
			"rest-duration": "2s",
		}
		for name, v := range quick {
			if !set[name] {
				if err := fs.Set(name, v); err != nil {
					return nil, err
				}
			}
		}
	}
	if c.scenarios == "all" {
		c.scenarioList = allScenarios
	} else {
		for _, s := range strings.Split(c.scenarios, ",") {
			s = strings.TrimSpace(s)
			if !contains(allScenarios, s) && s != soakScenario && s != clusterScenario {
				return nil, fmt.Errorf("unknown scenario %q", s)
			}
			c.scenarioList = append(c.scenarioList, s)
		}
	}
	return c, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "report" {
		if err := report(os.Stdout, os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "loadgen report:", err)
			os.Exit(1)
		}
		return
	}
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		os.Exit(2)
	}
	raiseFileLimit()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	g, err := newRig(ctx, cfg, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(2)
	}
	var results []*Result
	for _, name := range cfg.scenarioList {
		if !g.serverAlive() {
			r := g.result(name, "")
			r.Status, r.Note = "error", fmt.Sprintf("server process %v is gone", cfg.pids)
			results = append(results, r)
			_ = writeJSONLine(os.Stdout, r)
			continue
		}
		limit := cfg.scenarioCap
		if name == soakScenario {
			limit = max(limit, cfg.soakDur+3*time.Minute) // setup, drain and the idle sample
		}
		sctx, cancel := context.WithTimeout(ctx, limit)
		for _, r := range runScenario(sctx, g, name) {
			if !g.serverAlive() && r.Status == "ok" {
				r.Status, r.Note = "error", fmt.Sprintf("server process %v died during the run", cfg.pids)
			}
			results = append(results, r)
			if err := writeJSONLine(os.Stdout, r); err != nil {
				fmt.Fprintln(os.Stderr, "loadgen:", err)
			}
		}
		cancel()
	}
	if cfg.markdown {
		fmt.Fprintln(os.Stderr)
		writeSingleTable(os.Stderr, results)
	}
	// A soak that could not run is as much a failure as one that found a
	// fault; a benchmark's errors are in its results.
	for _, r := range results {
		if r.Status == "fail" || (r.Scenario == soakScenario && r.Status != "ok") {
			os.Exit(1)
		}
	}
}

func runScenario(ctx context.Context, g *rig, name string) []*Result {
	switch name {
	case "connect":
		return []*Result{runConnect(ctx, g)}
	case "fanout":
		return runFanout(ctx, g)
	case "joinstorm":
		return []*Result{runJoinstorm(ctx, g)}
	case "ack":
		return runAck(ctx, g)
	case "churn":
		return []*Result{runChurn(ctx, g)}
	case "slow":
		return []*Result{runSlow(ctx, g)}
	case "rest":
		return []*Result{runRest(ctx, g)}
	case soakScenario:
		return []*Result{runSoak(ctx, g)}
	case clusterScenario:
		return runCluster(ctx, g)
	}
	return nil
}

func (g *rig) result(scenario, label string) *Result {
	return &Result{Server: g.cfg.server, Scenario: scenario, Label: label, Status: "ok"}
}

// raiseFileLimit lifts the soft open-file limit to the hard limit.
func raiseFileLimit() {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return
	}
	if l.Cur < l.Max {
		l.Cur = l.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
	}
}
