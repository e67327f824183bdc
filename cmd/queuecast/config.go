package main

import (
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"

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
	WriteTimeout      time.Duration `env:"WRITE_TIMEOUT" envDefault:"10s"`
	MaxQueueBytes     int           `env:"MAX_QUEUE_BYTES" envDefault:"1048576"`
	SocketSendBuffer  int           `env:"SOCKET_SNDBUF" envDefault:"65536"`
	MaxInboundBytes   int           `env:"MAX_INBOUND_BYTES" envDefault:"1048576"`
	MetricsPublic     bool          `env:"METRICS_PUBLIC" envDefault:"true"`
	NodeName          string        `env:"NODE_NAME"`
	PprofAddr         string        `env:"PPROF_ADDR"`
	MemoryTrim        time.Duration `env:"MEMORY_TRIM_INTERVAL" envDefault:"500ms"`
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
	return c, nil
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
