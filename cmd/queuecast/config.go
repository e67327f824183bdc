package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"

	"github.com/queuecast/queuecast/actors/cluster"
	"github.com/queuecast/queuecast/gateway/limits"
	"github.com/queuecast/queuecast/gateway/origins"
	"github.com/queuecast/queuecast/persistence"
)

// config is everything queuecast reads from its environment. Flags override
// a few of these fields.
type config struct {
	Port              int           `env:"PORT" envDefault:"5000"`
	Origins           []string      `env:"SOCKET_IO_ORIGIN" envDefault:"http://localhost:5173" envSeparator:","`
	JWTSecret         string        `env:"JWT_SECRET"`
	DataDir           string        `env:"DATA_DIR" envDefault:"./data"`
	DatabaseURL       string        `env:"DATABASE_URL"`
	PingInterval      time.Duration `env:"PING_INTERVAL" envDefault:"25s"`
	PingTimeout       time.Duration `env:"PING_TIMEOUT" envDefault:"20s"`
	MaxHTTPBufferSize int           `env:"MAX_HTTP_BUFFER_SIZE" envDefault:"1000000"`
	UpgradeTimeout    time.Duration `env:"UPGRADE_TIMEOUT" envDefault:"10s"`
	ConnectTimeout    time.Duration `env:"CONNECT_TIMEOUT" envDefault:"45s"`
	QueueTimezone     string        `env:"QUEUE_TIMEZONE" envDefault:"Africa/Nairobi"`
	MaxActiveTickets  int           `env:"MAX_ACTIVE_TICKETS" envDefault:"3"`
	Ageing            time.Duration `env:"AGEING" envDefault:"10m"`
	LogLevel          string        `env:"LOG_LEVEL" envDefault:"info"`
	LogFormat         string        `env:"LOG_FORMAT" envDefault:"text"`
	ShutdownTimeout   time.Duration `env:"SHUTDOWN_TIMEOUT" envDefault:"10s"`
	RequestTimeout    time.Duration `env:"REQUEST_TIMEOUT" envDefault:"10s"`
	WriteTimeout      time.Duration `env:"WRITE_TIMEOUT" envDefault:"10s"`
	MaxQueueBytes     int           `env:"MAX_QUEUE_BYTES" envDefault:"1048576"`
	SocketSendBuffer  int           `env:"SOCKET_SNDBUF" envDefault:"65536"`
	MaxInboundBytes   int           `env:"MAX_INBOUND_BYTES" envDefault:"1048576"`
	MetricsPublic     bool          `env:"METRICS_PUBLIC" envDefault:"true"`
	MetricsInterval   time.Duration `env:"METRICS_INTERVAL" envDefault:"10s"`
	NodeName          string        `env:"NODE_NAME"`
	PprofAddr         string        `env:"PPROF_ADDR"`
	MemoryTrim        time.Duration `env:"MEMORY_TRIM_INTERVAL" envDefault:"500ms"`
	HTTPReadTimeout   time.Duration `env:"HTTP_READ_TIMEOUT" envDefault:"30s"`
	HTTPWriteTimeout  time.Duration `env:"HTTP_WRITE_TIMEOUT" envDefault:"30s"`
	HTTPIdleTimeout   time.Duration `env:"HTTP_IDLE_TIMEOUT" envDefault:"60s"`
	// Limits; 0 turns one off (see limitsConfig).
	EventRate     float64 `env:"EVENT_RATE" envDefault:"20"`
	EventBurst    int     `env:"EVENT_BURST" envDefault:"100"`
	EventDebt     int     `env:"EVENT_DEBT" envDefault:"100"`
	ConnRate      float64 `env:"CONN_RATE_PER_IP" envDefault:"20"`
	ConnBurst     int     `env:"CONN_BURST_PER_IP" envDefault:"100"`
	MaxConns      int     `env:"MAX_CONNECTIONS" envDefault:"100000"`
	MaxConnsPerIP int     `env:"MAX_CONNECTIONS_PER_IP" envDefault:"1000"`
	RESTRate      float64 `env:"REST_RATE_PER_IP" envDefault:"100"`
	RESTBurst     int     `env:"REST_BURST_PER_IP" envDefault:"200"`
	TokenRate     float64 `env:"REST_RATE_PER_TOKEN" envDefault:"20"`
	TokenBurst    int     `env:"REST_BURST_PER_TOKEN" envDefault:"50"`
	// Cluster mode: on when ClusterName is set.
	ClusterName     string   `env:"CLUSTER_NAME"`
	NodeHost        string   `env:"NODE_HOST" envDefault:"127.0.0.1"`
	NodePort        int      `env:"NODE_PORT" envDefault:"7700"`
	ClusterSeeds    []string `env:"CLUSTER_SEEDS" envSeparator:","`
	ClusterProvider string   `env:"CLUSTER_PROVIDER" envDefault:"automanaged"`
	EtcdEndpoints   []string `env:"ETCD_ENDPOINTS" envSeparator:","`
}

// clusterVars are the variables that only mean something in cluster mode.
var clusterVars = []string{"NODE_HOST", "NODE_PORT", "CLUSTER_SEEDS", "CLUSTER_PROVIDER", "ETCD_ENDPOINTS"}

func loadConfig() (config, error) {
	var c config
	if err := env.Parse(&c); err != nil {
		return c, err
	}
	for i, s := range c.Origins {
		c.Origins[i] = strings.TrimSpace(s)
	}
	if c.NodeName == "" {
		h, _ := os.Hostname()
		c.NodeName = h
	}
	if _, err := origins.Parse(c.Origins); err != nil {
		return c, fmt.Errorf("SOCKET_IO_ORIGIN: %w", err)
	}
	if err := c.checkLimits(); err != nil {
		return c, err
	}
	c.ClusterSeeds = trimAll(c.ClusterSeeds)
	c.EtcdEndpoints = trimAll(c.EtcdEndpoints)
	if err := c.validateCluster(); err != nil {
		return c, err
	}
	return c, nil
}

// checkLimits refuses negative limits, bursts of 0 under a rate, and HTTP
// timeouts that are not positive.
func (c config) checkLimits() error {
	for _, f := range []struct {
		name string
		v    float64
	}{
		{"EVENT_RATE", c.EventRate}, {"EVENT_BURST", float64(c.EventBurst)}, {"EVENT_DEBT", float64(c.EventDebt)},
		{"CONN_RATE_PER_IP", c.ConnRate}, {"CONN_BURST_PER_IP", float64(c.ConnBurst)},
		{"MAX_CONNECTIONS", float64(c.MaxConns)}, {"MAX_CONNECTIONS_PER_IP", float64(c.MaxConnsPerIP)},
		{"REST_RATE_PER_IP", c.RESTRate}, {"REST_BURST_PER_IP", float64(c.RESTBurst)},
		{"REST_RATE_PER_TOKEN", c.TokenRate}, {"REST_BURST_PER_TOKEN", float64(c.TokenBurst)},
	} {
		if f.v < 0 {
			return fmt.Errorf("%s must not be negative (0 turns a limit off)", f.name)
		}
	}
	for name, d := range map[string]time.Duration{
		"HTTP_READ_TIMEOUT": c.HTTPReadTimeout, "HTTP_WRITE_TIMEOUT": c.HTTPWriteTimeout, "HTTP_IDLE_TIMEOUT": c.HTTPIdleTimeout,
	} {
		if d <= 0 {
			return fmt.Errorf("%s must be positive, got %s", name, d)
		}
	}
	for _, b := range []struct {
		rate  float64
		burst int
		name  string
	}{{c.EventRate, c.EventBurst, "EVENT_BURST"}, {c.ConnRate, c.ConnBurst, "CONN_BURST_PER_IP"},
		{c.RESTRate, c.RESTBurst, "REST_BURST_PER_IP"}, {c.TokenRate, c.TokenBurst, "REST_BURST_PER_TOKEN"}} {
		if b.rate > 0 && b.burst < 1 {
			return fmt.Errorf("%s must be at least 1 while its rate is on", b.name)
		}
	}
	return nil
}

func trimAll(list []string) []string {
	out := list[:0]
	for _, s := range list {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// validateCluster refuses a cluster configuration that cannot work, with
// the variable to fix in the message.
func (c config) validateCluster() error {
	if c.ClusterName == "" {
		for _, v := range clusterVars {
			if _, set := os.LookupEnv(v); set {
				return fmt.Errorf("%s is set but CLUSTER_NAME is not: set CLUSTER_NAME to run as a cluster node, or unset %s", v, v)
			}
		}
		return nil
	}
	if !strings.HasPrefix(c.DatabaseURL, "postgres://") && !strings.HasPrefix(c.DatabaseURL, "postgresql://") {
		return errors.New("cluster mode (CLUSTER_NAME) needs PostgreSQL shared by every node: set DATABASE_URL=postgres://...; SQLite is one node's file")
	}
	if ip := net.ParseIP(c.NodeHost); c.NodeHost == "" || (ip != nil && ip.IsUnspecified()) {
		return fmt.Errorf("NODE_HOST %q: name the address other nodes reach this one at (it is bound and advertised); 0.0.0.0 and :: are not", c.NodeHost)
	}
	if c.NodePort < 1 || c.NodePort > 65534 {
		return fmt.Errorf("NODE_PORT %d: want 1-65534 (automanaged also listens on NODE_PORT+1)", c.NodePort)
	}
	if c.NodePort == c.Port || c.NodePort+1 == c.Port {
		return fmt.Errorf("NODE_PORT %d: PORT %d is the HTTP port; NODE_PORT and NODE_PORT+1 must be other ports", c.NodePort, c.Port)
	}
	switch c.ClusterProvider {
	case cluster.ProviderAutomanaged:
		for _, s := range c.ClusterSeeds {
			host, p, err := net.SplitHostPort(s)
			if n, perr := strconv.Atoi(p); err != nil || host == "" || perr != nil || n < 1 || n > 65534 {
				return fmt.Errorf("CLUSTER_SEEDS: %q is not host:port with a port in 1-65534 (list the nodes' NODE_PORTs)", s)
			}
		}
	case cluster.ProviderEtcd:
		if len(c.EtcdEndpoints) == 0 {
			return errors.New("CLUSTER_PROVIDER=etcd needs ETCD_ENDPOINTS (comma-separated, e.g. http://127.0.0.1:2379)")
		}
	default:
		return fmt.Errorf("CLUSTER_PROVIDER %q: want automanaged or etcd", c.ClusterProvider)
	}
	return nil
}

// limits turns the environment's limits into limits.Config, where 0 is the
// default and off is negative.
func (c config) limits() limits.Config {
	rate := func(v float64) float64 {
		if v == 0 {
			return -1
		}
		return v
	}
	count := func(v int) int {
		if v == 0 {
			return -1
		}
		return v
	}
	return limits.Config{
		EventRate: rate(c.EventRate), EventBurst: c.EventBurst, EventDebt: c.EventDebt,
		ConnRate: rate(c.ConnRate), ConnBurst: c.ConnBurst,
		MaxConns: count(c.MaxConns), MaxConnsPerAddr: count(c.MaxConnsPerIP),
		RESTRate: rate(c.RESTRate), RESTBurst: c.RESTBurst,
		TokenRate: rate(c.TokenRate), TokenBurst: c.TokenBurst,
	}
}

// cluster is the cluster configuration, nil on a single node.
func (c config) cluster(log *slog.Logger) *cluster.Config {
	if c.ClusterName == "" {
		return nil
	}
	return &cluster.Config{
		Name: c.ClusterName, Host: c.NodeHost, Port: c.NodePort, Seeds: c.ClusterSeeds,
		Provider: c.ClusterProvider, EtcdEndpoints: c.EtcdEndpoints, Logger: log,
		// Other nodes forward polling requests to this node's HTTP port
		// at its cluster host.
		NodeName: c.NodeName, HTTPAddress: net.JoinHostPort(c.NodeHost, strconv.Itoa(c.Port)),
	}
}

// loadConfigAndLogger reads the environment and builds the logger from it.
func loadConfigAndLogger() (config, *slog.Logger, error) {
	cfg, err := loadConfig()
	if err != nil {
		return cfg, nil, err
	}
	log, err := newLogger(cfg.LogLevel, cfg.LogFormat)
	return cfg, log, err
}

// newLogger builds the process logger from LOG_LEVEL and LOG_FORMAT.
func newLogger(level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("LOG_LEVEL %q: %w", level, err)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text", "":
		return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
	default:
		return nil, fmt.Errorf("LOG_FORMAT %q: want text or json", format)
	}
}

// database is the persistence configuration: DATABASE_URL, or SQLite at
// DATA_DIR/queuecast.db when it is unset.
func (c config) database(log *slog.Logger) persistence.Config {
	return persistence.Config{DatabaseURL: c.DatabaseURL, DataDir: c.DataDir, Logger: log}
}
