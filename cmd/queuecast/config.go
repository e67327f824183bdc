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
	MetricsPublic     bool          `env:"METRICS_PUBLIC" envDefault:"true"`
	NodeName          string        `env:"NODE_NAME"`
	PprofAddr         string        `env:"PPROF_ADDR"`
	MemoryTrim        time.Duration `env:"MEMORY_TRIM_INTERVAL" envDefault:"500ms"`
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
	c.ClusterSeeds = trimAll(c.ClusterSeeds)
	c.EtcdEndpoints = trimAll(c.EtcdEndpoints)
	if err := c.validateCluster(); err != nil {
		return c, err
	}
	return c, nil
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

// cluster is the cluster configuration, nil on a single node.
func (c config) cluster(log *slog.Logger) *cluster.Config {
	if c.ClusterName == "" {
		return nil
	}
	return &cluster.Config{
		Name: c.ClusterName, Host: c.NodeHost, Port: c.NodePort, Seeds: c.ClusterSeeds,
		Provider: c.ClusterProvider, EtcdEndpoints: c.EtcdEndpoints, Logger: log,
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
