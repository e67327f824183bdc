// Package server assembles queuecast: the actor system and its long-lived
// actors, the Socket.IO namespace, the Engine.IO transport and the HTTP API,
// on one Fiber app. cmd/queuecast calls it; tests start it in-process.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/queuecast/queuecast/actors/ask"
	"github.com/queuecast/queuecast/actors/system"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/queuecast/queuecast/actors/clients"
	"github.com/queuecast/queuecast/actors/cluster"
	"github.com/queuecast/queuecast/actors/metrics"
	"github.com/queuecast/queuecast/actors/queue"
	"github.com/queuecast/queuecast/actors/rooms"
	"github.com/queuecast/queuecast/gateway/api"
	"github.com/queuecast/queuecast/gateway/auth"
	"github.com/queuecast/queuecast/gateway/limits"
	"github.com/queuecast/queuecast/gateway/origins"
	"github.com/queuecast/queuecast/gateway/realtime"
	"github.com/queuecast/queuecast/gateway/sio"
	"github.com/queuecast/queuecast/gateway/transport"
	"github.com/queuecast/queuecast/persistence"
)

// Config is the assembled server's configuration. Zero values mean the
// defaults of the packages they are passed to.
type Config struct {
	Node string
	Auth *auth.Authority
	// Origins are the allowed browser origins: "*" or scheme://host[:port]
	// entries (see origins.Parse); New refuses anything else.
	Origins []string
	// Database chooses the database the server opens at start (migrating
	// it and seeding the demo services into an empty one).
	Database persistence.Config
	// Store, when set, is used instead of opening Database; the server
	// does not close it.
	Store persistence.Store
	// Queue tunes the queue actors (zone, ageing, clock); its System,
	// Store, Rooms and Logger are filled in by the server.
	Queue queue.Config
	// MaxActiveTickets caps a customer's active tickets; zero means 3.
	MaxActiveTickets int
	// RequestTimeout bounds a REST request's database work and queue
	// commands; zero means 10 seconds.
	RequestTimeout    time.Duration
	PingInterval      time.Duration
	PingTimeout       time.Duration
	MaxHTTPBufferSize int
	UpgradeTimeout    time.Duration
	ConnectTimeout    time.Duration
	WriteTimeout      time.Duration
	MaxQueueBytes     int
	SocketSendBuffer  int
	// Limits are the rate limits and connection caps (see limits.Config:
	// zero fields are the defaults, negative ones turn a limit off).
	Limits limits.Config
	// HTTPReadTimeout bounds reading one request (headers and body),
	// HTTPWriteTimeout writing one response once its handler returned, and
	// HTTPIdleTimeout a keep-alive connection waiting for its next request.
	// None applies to a long-polling GET held by its session, nor to a
	// WebSocket. Zero means 30s, 30s and 60s.
	HTTPReadTimeout, HTTPWriteTimeout, HTTPIdleTimeout time.Duration
	// MaxInboundBytes bounds what a WebSocket reader may hand its session
	// before the session has handled it (MAX_INBOUND_BYTES).
	MaxInboundBytes int
	// MetricsInterval is the loadBalancingMetrics period. Zero means 10s.
	MetricsInterval time.Duration
	MetricsPublic   bool
	Logger          *slog.Logger
	ActorLogger     *slog.Logger
	// Cluster, when set, makes this server a node of a cluster: room
	// publishes reach every node. Nil is a single node.
	Cluster *cluster.Config
}

// Server is a running queuecast node.
type Server struct {
	cfg       Config
	System    *actor.ActorSystem
	App       *fiber.App
	Hub       *realtime.Hub
	transport *transport.Server
	rooms     *actor.PID
	directory *actor.PID
	metrics   *actor.PID
	latest    metrics.Latest
	started   time.Time
	counters  rooms.Counters
	refusals  limits.Refusals
	// Store is the database; Queues the queue actors' front door.
	Store    persistence.Store
	ownStore bool
	Queues   Queues
	// abort ends every call on Store still running (see abortableStore).
	abort context.CancelCauseFunc

	stopOnce sync.Once
	stopErr  error
	cluster  *clusterNode // nil on a single node

	rateMu  sync.Mutex
	rateAt  time.Time
	rateIn  int64
	rateOut int64
}

const (
	// openTimeout bounds opening, migrating and seeding the database.
	openTimeout = time.Minute
	// undoTimeout bounds stopping what a failed New had started.
	undoTimeout = 10 * time.Second
	// drainReserve is the most of its budget Shutdown keeps back for the
	// steps that follow an abort of the database work.
	drainReserve = 2 * time.Second
)

// errShuttingDown is the cause of the database calls Shutdown aborts.
var errShuttingDown = errors.New("server: shutting down")

// failAfterStep, set by tests only, makes New fail after the named step.
var failAfterStep func(step string) error

// New builds a server; Listen starts serving. When a step fails, New stops
// everything the earlier steps started (actors, goroutines, the database
// it opened) before it returns the error.
func New(cfg Config) (_ *Server, err error) {
	if cfg.Auth == nil {
		return nil, errors.New("server: Config.Auth is required")
	}
	if err := checkCluster(cfg); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.ActorLogger == nil {
		cfg.ActorLogger = cfg.Logger
	}
	allowed, err := origins.Parse(cfg.Origins)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	cfg.Limits = cfg.Limits.WithDefaults()
	cfg.HTTPReadTimeout = orDefault(cfg.HTTPReadTimeout, 30*time.Second)
	cfg.HTTPWriteTimeout = orDefault(cfg.HTTPWriteTimeout, 30*time.Second)
	cfg.HTTPIdleTimeout = orDefault(cfg.HTTPIdleTimeout, 60*time.Second)
	log := cfg.Logger
	s := &Server{cfg: cfg, started: time.Now()}
	aborted, abort := context.WithCancelCause(context.Background())
	s.abort = abort
	defer func() {
		if err != nil {
			err = errors.Join(err, s.undo())
		}
	}()
	step := func(name string) error {
		if failAfterStep != nil {
			return failAfterStep(name)
		}
		return nil
	}

	store := cfg.Store
	if store == nil {
		if cfg.Database.Logger == nil {
			cfg.Database.Logger = log
		}
		ctx, cancel := context.WithTimeout(aborted, openTimeout)
		defer cancel()
		st, err := persistence.Open(ctx, cfg.Database)
		if err != nil {
			return nil, err
		}
		s.Store, s.ownStore = st, true
		if seeded, err := st.SeedDemo(ctx); err != nil {
			return nil, err
		} else if seeded {
			log.Info("seeded demo services and counters")
		}
		store = st
	}
	s.Store = &abortableStore{Store: store, aborted: aborted}
	if err := step("database"); err != nil {
		return nil, err
	}

	s.System = system.New(cfg.ActorLogger)
	peers, err := s.newCluster(cfg.Cluster)
	if err != nil {
		return nil, err
	}
	if s.rooms, err = s.System.Root.SpawnNamed(rooms.NewClusterManagerProps(log, &s.counters, peers), "rooms"); err != nil {
		return nil, err
	}
	if s.directory, err = s.System.Root.SpawnNamed(clients.NewDirectoryProps(log), "clients"); err != nil {
		return nil, err
	}
	qcfg := cfg.Queue
	qcfg.System, qcfg.Store, qcfg.Rooms, qcfg.Logger = s.System, s.Store, s.rooms, log
	if qcfg.RequestTimeout == 0 {
		qcfg.RequestTimeout = cfg.RequestTimeout
	}
	if err := s.startCluster(qcfg); err != nil {
		return nil, err
	}
	if err := step("actors"); err != nil {
		return nil, err
	}

	if s.Queues, err = s.startQueues(qcfg); err != nil {
		return nil, err
	}
	if err := step("queues"); err != nil {
		return nil, err
	}

	hcfg := realtime.Config{
		Node: cfg.Node, Auth: cfg.Auth, Catalog: s.Queues,
		Rooms: s.rooms, Directory: s.directory, Logger: log,
	}
	s.clusterHub(&hcfg)
	s.Hub = realtime.New(hcfg)
	if s.cluster != nil {
		s.cluster.hub.Store(s.Hub)
	}
	lim := cfg.Limits
	sockets := sio.NewServer(sio.Config{ConnectTimeout: cfg.ConnectTimeout, MaxPacketBytes: cfg.MaxHTTPBufferSize,
		EventRate: lim.Events(), EventDebt: lim.EventDebt, Refusals: &s.refusals})
	s.Hub.Register(sockets.Of("/"))

	httpAPI := api.New(api.Config{
		System: s.System, Auth: cfg.Auth, Rooms: s.rooms, Directory: s.directory,
		Origins: allowed, Ready: s.ready, Metrics: s.currentMetrics, Logger: log,
		Queues: s.Queues, Store: s.Store, MaxActiveTickets: cfg.MaxActiveTickets, RequestTimeout: cfg.RequestTimeout,
		Limits: lim, Refusals: &s.refusals, Cluster: s.clusterClients(),
	})
	s.transport = transport.NewServer(s.System, transport.Config{
		PingInterval: cfg.PingInterval, PingTimeout: cfg.PingTimeout, MaxPayload: cfg.MaxHTTPBufferSize,
		UpgradeTimeout: cfg.UpgradeTimeout, WriteTimeout: cfg.WriteTimeout, MaxQueueBytes: cfg.MaxQueueBytes,
		SocketSendBuffer: cfg.SocketSendBuffer, MaxInboundBytes: cfg.MaxInboundBytes,
		CheckOrigin: httpAPI.OriginAllowed, Logger: log,
		ConnRate: lim.Conn(), MaxConns: lim.MaxConns, MaxConnsPerAddr: lim.MaxConnsPerAddr,
		MaxKeys: lim.MaxKeys, Refusals: &s.refusals, Cluster: s.clusterTransport(),
	}, sockets.NewHandler)

	bodyLimit := cfg.MaxHTTPBufferSize
	if bodyLimit < 1<<20 {
		bodyLimit = 1 << 20
	}
	s.App = fiber.New(fiber.Config{
		DisableStartupMessage: true,
		BodyLimit:             bodyLimit + 1,
		ErrorHandler:          api.ErrorHandler(log),
		// Release fasthttp's per-connection buffers between requests: a
		// hijacked WebSocket then keeps no 4 KiB read buffer for its life.
		ReduceMemoryUsage: true,
		// fasthttp arms the write deadline only once a handler returned,
		// so a held long-polling GET is not cut; a hijacked WebSocket has
		// its deadlines cleared.
		ReadTimeout:  cfg.HTTPReadTimeout,
		WriteTimeout: cfg.HTTPWriteTimeout,
		IdleTimeout:  cfg.HTTPIdleTimeout,
	})
	s.App.Use(httpAPI.CORS(), httpAPI.RefuseOrigins)
	s.transport.Mount(s.App, "/socket.io/")
	// /health, /ready and /metrics are outside /api and not rate limited:
	// a probe must never be refused because others flood the node.
	s.App.Use("/api", httpAPI.LimitAddress, httpAPI.Identify, httpAPI.LimitToken)
	if cfg.MetricsPublic {
		httpAPI.SetMetricsHandler(adaptor.HTTPHandler(promhttp.HandlerFor(s.registry(), promhttp.HandlerOpts{})))
	}
	httpAPI.Mount(s.App)
	if err := step("http"); err != nil {
		return nil, err
	}

	s.metrics, err = s.System.Root.SpawnNamed(metrics.NewSupervisorProps(metrics.Config{
		Interval: cfg.MetricsInterval, Collect: s.collect, Rooms: s.rooms, Room: rooms.Dashboard, Logger: log,
		Publish: s.metricsPublisher(),
	}, &s.latest), "metrics")
	if err != nil {
		return nil, err
	}
	if err := step("metrics"); err != nil {
		return nil, err
	}
	return s, nil
}

// undo stops what a failed New had started.
func (s *Server) undo() error {
	ctx, cancel := context.WithTimeout(context.Background(), undoTimeout)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		return fmt.Errorf("server: stopping after a failed start: %w", err)
	}
	return nil
}

// Listen serves HTTP on addr until Shutdown.
func (s *Server) Listen(addr string) error { return s.App.Listen(addr) }

// Serve serves HTTP on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error { return s.App.Listener(ln) }

// Shutdown stops the node in order, every step bounded by ctx:
//
//  1. sessions: none is accepted any more; every client gets an Engine.IO
//     close packet and its connection is closed;
//  2. HTTP: the listener closes and in-flight requests finish;
//  3. actors: the queue actors finish the work in their mailboxes and stop,
//     then the metrics supervisor, the client directory and the room
//     manager, each with its children;
//  4. the actor system, then the database, when the server opened it.
//
// Database work still running when the deadline less a quarter of the
// budget (at most drainReserve) has passed is aborted: its requests answer
// 503, with nothing committed, so steps 2 and 3 end in time even while the
// database hangs. A step still running when ctx ends is abandoned and named
// in the error; the later steps are still started, each abandoned at once
// if it does not finish at once. Shutdown is idempotent: later calls wait
// for the first and return its result. It also stops a server that New
// only partly built.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stopOnce.Do(func() { s.stopErr = s.shutdown(ctx) })
	return s.stopErr
}

func (s *Server) shutdown(ctx context.Context) error {
	if d, ok := drainBudget(ctx); ok {
		t := time.AfterFunc(d, func() { s.abort(errShuttingDown) })
		defer t.Stop()
	}
	var err error
	if s.transport != nil {
		err = errors.Join(err, named("sessions", s.transport.Shutdown(ctx)))
	}
	if s.App != nil {
		err = errors.Join(err, named("http", s.App.ShutdownWithContext(ctx)))
	}
	if s.Queues != nil {
		err = errors.Join(err, within(ctx, "queue actors", s.Queues.Stop))
	}
	for _, a := range []struct {
		name string
		pid  *actor.PID
	}{{"metrics", s.metrics}, {"client directory", s.directory}, {"rooms", s.rooms}} {
		if a.pid != nil {
			err = errors.Join(err, within(ctx, a.name, s.System.Root.PoisonFuture(a.pid).Wait))
		}
	}
	// Leaving the cluster stops the actor system too.
	err = errors.Join(err, s.stopCluster(ctx))
	if s.System != nil && !s.System.IsStopped() {
		s.System.Shutdown()
	}
	s.abort(errShuttingDown)
	return errors.Join(err, within(ctx, "database", s.closeStore))
}

// drainBudget is how long Shutdown lets database work run before it aborts
// it; ok is false when ctx has no deadline.
func drainBudget(ctx context.Context) (d time.Duration, ok bool) {
	deadline, ok := ctx.Deadline()
	if !ok {
		return 0, false
	}
	left := time.Until(deadline)
	return left - min(left/4, drainReserve), true
}

// within runs a shutdown step and waits for it or for ctx, whichever ends
// first; a step abandoned at ctx's end goes on by itself.
func within(ctx context.Context, name string, step func() error) error {
	done := make(chan error, 1)
	go func() { done <- step() }()
	select {
	case err := <-done:
		return named(name, err)
	case <-ctx.Done():
		return named(name, ctx.Err())
	}
}

func named(step string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("shutdown: %s: %w", step, err)
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

func (s *Server) closeStore() error {
	if !s.ownStore {
		return nil
	}
	s.ownStore = false
	return s.Store.Close()
}

func (s *Server) ready() error {
	if s.System.IsStopped() {
		return errors.New("actor system stopped")
	}
	if err := s.clusterReady(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := s.Store.Ping(ctx); err != nil {
		return errors.New("database unavailable")
	}
	// A database that answers but cannot take a ticket write (a lock held
	// on the tickets, a read-only standby, a full disk) is not ready either.
	if err := s.Store.ProbeWrite(ctx); err != nil {
		return errors.New("database does not take writes")
	}
	return nil
}

// Rooms returns the room manager's PID.
func (s *Server) Rooms() *actor.PID { return s.rooms }

// MetricsSupervisor returns the PID of the metrics supervisor.
func (s *Server) MetricsSupervisor() *actor.PID { return s.metrics }

// snapshot is the loadBalancingMetrics payload.
type snapshot struct {
	Node            string                 `json:"node"`
	Nodes           []string               `json:"nodes"`
	Connections     int64                  `json:"connections"`
	Rooms           int                    `json:"rooms"`
	RoomSizes       map[string]int         `json:"roomSizes"`
	Queues          []queue.ServiceMetrics `json:"queues"`
	Counters        []queue.CounterMetrics `json:"counters"`
	EventsPerSecond eventRates             `json:"eventsPerSecond"`
	UptimeSeconds   int64                  `json:"uptimeSeconds"`
	Timestamp       string                 `json:"timestamp"`
	// In a cluster: each live node's own figures (the fields above are
	// the cluster's sums), and the nodes that did not answer in time.
	PerNode      []nodeFigures `json:"perNode,omitempty"`
	MissingNodes []string      `json:"missingNodes,omitempty"`
}

type eventRates struct {
	In  float64 `json:"in"`
	Out float64 `json:"out"`
}

func (s *Server) collect() any {
	local := s.localFigures()
	q := s.queueMetrics()
	snap := snapshot{
		Node: s.cfg.Node, Nodes: []string{s.cfg.Node}, Connections: local.Connections,
		Rooms: local.Rooms, RoomSizes: local.RoomSizes, Queues: q.Services, Counters: q.Counters,
		EventsPerSecond: local.EventsPerSecond, UptimeSeconds: int64(time.Since(s.started).Seconds()),
		Timestamp: realtime.Now(),
	}
	s.clusterFigures(&snap, local)
	return snap
}

// nodeFigures are one node's own figures in loadBalancingMetrics.
type nodeFigures struct {
	Node            string         `json:"node"`
	Connections     int64          `json:"connections"`
	Rooms           int            `json:"rooms"`
	RoomSizes       map[string]int `json:"roomSizes,omitempty"`
	EventsPerSecond eventRates     `json:"eventsPerSecond"`
}

// localFigures are this node's connections, rooms and event rates.
func (s *Server) localFigures() nodeFigures {
	// On a timeout the room figures are left empty rather than holding the
	// snapshot back.
	st, _ := ask.Ask(s.System, s.rooms, time.Second, func(ch chan rooms.Stats) any { return &rooms.GetStats{Reply: ch} })
	delete(st.Sizes, rooms.All)
	n := st.Rooms
	if n > 0 && st.Sizes != nil {
		n = len(st.Sizes)
	}
	return nodeFigures{Node: s.cfg.Node, Connections: s.Hub.Connected(), Rooms: n, RoomSizes: st.Sizes, EventsPerSecond: s.rates()}
}

// queueMetrics asks the queue actors and the store for the service and
// counter figures; a failure leaves the lists empty rather than holding the
// snapshot back.
func (s *Server) queueMetrics() queue.Metrics {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, err := s.Queues.Metrics(ctx)
	if err != nil {
		// The store logged the database failure itself.
		s.cfg.Logger.Debug("metrics: queue figures", slog.Any("err", err))
		return queue.Metrics{Services: []queue.ServiceMetrics{}, Counters: []queue.CounterMetrics{}}
	}
	return m
}

// rates turns the event counters into per-second rates since the last call.
func (s *Server) rates() eventRates {
	s.rateMu.Lock()
	defer s.rateMu.Unlock()
	now := time.Now()
	in, out := s.Hub.EventsIn(), s.counters.Addressed.Load()
	var r eventRates
	if dt := now.Sub(s.rateAt).Seconds(); !s.rateAt.IsZero() && dt > 0 {
		r = eventRates{In: float64(in-s.rateIn) / dt, Out: float64(out-s.rateOut) / dt}
	}
	s.rateAt, s.rateIn, s.rateOut = now, in, out
	return r
}

func (s *Server) currentMetrics() any {
	if v := s.latest.Load(); v != nil {
		return v
	}
	return s.collect()
}

func (s *Server) registry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "queuecast_sockets", Help: "Connected Socket.IO sockets."},
		func() float64 { return float64(s.Hub.Connected()) }))
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "queuecast_engineio_sessions", Help: "Open Engine.IO sessions."},
		func() float64 { return float64(s.transport.Sessions()) }))
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "queuecast_goroutines", Help: "Goroutines."},
		func() float64 { return float64(runtime.NumGoroutine()) }))
	for limit, n := range map[string]*atomic.Int64{
		"conn_rate": &s.refusals.ConnRate, "conns_per_ip": &s.refusals.ConnsPerAddr, "conns": &s.refusals.Conns,
		"events": &s.refusals.Events, "event_disconnects": &s.refusals.Disconnects,
		"rest_per_ip": &s.refusals.REST, "rest_per_token": &s.refusals.Token,
	} {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "queuecast_limit_refusals_total", Help: "Requests, handshakes and events refused by a limit, and connections closed by one.",
			ConstLabels: prometheus.Labels{"limit": limit},
		}, func() float64 { return float64(n.Load()) }))
	}
	reg.MustRegister(s.clusterCollectors()...)
	return reg
}
