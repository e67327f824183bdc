// Package server assembles queuecast: the actor system and its long-lived
// actors, the Socket.IO namespace, the Engine.IO transport and the HTTP API,
// on one Fiber app. cmd/queuecast calls it; tests start it in-process.
package server

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"runtime"
	"sync"
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
	"github.com/queuecast/queuecast/gateway/realtime"
	"github.com/queuecast/queuecast/gateway/sio"
	"github.com/queuecast/queuecast/gateway/transport"
	"github.com/queuecast/queuecast/persistence"
)

// Config is the assembled server's configuration. Zero values mean the
// defaults of the packages they are passed to.
type Config struct {
	Node    string
	Auth    *auth.Authority
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
	// Store is the database; Queues the queue actors' front door.
	Store    persistence.Store
	ownStore bool
	Queues   *queue.Queues
	cluster  *clusterNode // nil on a single node

	rateMu  sync.Mutex
	rateAt  time.Time
	rateIn  int64
	rateOut int64
}

// New builds a server; Listen starts serving.
func New(cfg Config) (*Server, error) {
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
	log := cfg.Logger
	s := &Server{cfg: cfg, started: time.Now(), Store: cfg.Store}
	if s.Store == nil {
		if cfg.Database.Logger == nil {
			cfg.Database.Logger = log
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		st, err := persistence.Open(ctx, cfg.Database)
		if err != nil {
			return nil, err
		}
		s.Store, s.ownStore = st, true
		if seeded, err := st.SeedDemo(ctx); err != nil {
			_ = st.Close()
			return nil, err
		} else if seeded {
			log.Info("seeded demo services and counters")
		}
	}
	s.System = system.New(cfg.ActorLogger)
	peers, err := s.newCluster(cfg.Cluster)
	if err != nil {
		s.closeStore()
		return nil, err
	}
	if s.rooms, err = s.System.Root.SpawnNamed(rooms.NewClusterManagerProps(log, &s.counters, peers), "rooms"); err != nil {
		return nil, err
	}
	if err := s.startCluster(); err != nil {
		s.closeStore()
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
	if s.Queues, err = queue.Start(qcfg); err != nil {
		s.closeStore()
		return nil, err
	}

	s.Hub = realtime.New(realtime.Config{
		Node: cfg.Node, Auth: cfg.Auth, Catalog: s.Queues,
		Rooms: s.rooms, Directory: s.directory, Logger: log,
	})
	sockets := sio.NewServer(sio.Config{ConnectTimeout: cfg.ConnectTimeout, MaxPacketBytes: cfg.MaxHTTPBufferSize})
	s.Hub.Register(sockets.Of("/"))

	httpAPI := api.New(api.Config{
		System: s.System, Auth: cfg.Auth, Rooms: s.rooms, Directory: s.directory,
		Origins: cfg.Origins, Ready: s.ready, Metrics: s.currentMetrics, Logger: log,
		Queues: s.Queues, Store: s.Store, MaxActiveTickets: cfg.MaxActiveTickets, RequestTimeout: cfg.RequestTimeout,
	})
	s.transport = transport.NewServer(s.System, transport.Config{
		PingInterval: cfg.PingInterval, PingTimeout: cfg.PingTimeout, MaxPayload: cfg.MaxHTTPBufferSize,
		UpgradeTimeout: cfg.UpgradeTimeout, WriteTimeout: cfg.WriteTimeout, MaxQueueBytes: cfg.MaxQueueBytes,
		SocketSendBuffer: cfg.SocketSendBuffer,
		CheckOrigin:      httpAPI.OriginAllowed, Logger: log,
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
	})
	s.App.Use(httpAPI.CORS(), httpAPI.RefuseOrigins)
	s.transport.Mount(s.App, "/socket.io/")
	s.App.Use("/api", httpAPI.Identify)
	if cfg.MetricsPublic {
		httpAPI.SetMetricsHandler(adaptor.HTTPHandler(promhttp.HandlerFor(s.registry(), promhttp.HandlerOpts{})))
	}
	httpAPI.Mount(s.App)

	s.metrics, err = s.System.Root.SpawnNamed(metrics.NewSupervisorProps(metrics.Config{
		Interval: cfg.MetricsInterval, Collect: s.collect, Rooms: s.rooms, Room: realtime.RoomDashboard, Logger: log,
	}, &s.latest), "metrics")
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Listen serves HTTP on addr until Shutdown.
func (s *Server) Listen(addr string) error { return s.App.Listen(addr) }

// Serve serves HTTP on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error { return s.App.Listener(ln) }

// Shutdown stops in order: every client gets a close packet and its
// connection is closed, the HTTP server stops, then the actors.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.transport.Shutdown(ctx)
	err = errors.Join(err, s.App.ShutdownWithContext(ctx))
	if e := s.Queues.Stop(); e != nil {
		err = errors.Join(err, e)
	}
	for _, pid := range []*actor.PID{s.metrics, s.directory, s.rooms} {
		if e := s.System.Root.PoisonFuture(pid).Wait(); e != nil {
			err = errors.Join(err, e)
		}
	}
	err = errors.Join(err, s.stopCluster(ctx))
	if !s.System.IsStopped() {
		s.System.Shutdown()
	}
	return errors.Join(err, s.closeStore())
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
}

type eventRates struct {
	In  float64 `json:"in"`
	Out float64 `json:"out"`
}

func (s *Server) collect() any {
	// On a timeout the room figures are left empty rather than holding the
	// snapshot back.
	st, _ := ask.Ask(s.System, s.rooms, time.Second, func(ch chan rooms.Stats) any { return &rooms.GetStats{Reply: ch} })
	delete(st.Sizes, realtime.RoomAll)
	n := st.Rooms
	if n > 0 && st.Sizes != nil {
		n = len(st.Sizes)
	}
	q := s.queueMetrics()
	return snapshot{
		Node: s.cfg.Node, Nodes: []string{s.cfg.Node}, Connections: s.Hub.Connected(),
		Rooms: n, RoomSizes: st.Sizes, Queues: q.Services, Counters: q.Counters,
		EventsPerSecond: s.rates(), UptimeSeconds: int64(time.Since(s.started).Seconds()),
		Timestamp: realtime.Now(),
	}
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
	reg.MustRegister(s.clusterCollectors()...)
	return reg
}
