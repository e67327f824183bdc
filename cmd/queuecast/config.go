package main

import (
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"

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
}

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
