package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/queuecast/queuecast/actors/queue"
	"github.com/queuecast/queuecast/gateway/auth"
	"github.com/queuecast/queuecast/gateway/server"
)

func serveCommand() *cobra.Command {
	var port int
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the queue server (default command)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, log, err := loadConfigAndLogger()
			if err != nil {
				return err
			}
			if cmd.Flags().Changed("port") {
				cfg.Port = port
			}
			slog.SetDefault(log)
			return serve(cmd.Context(), cfg, log)
		},
	}
	cmd.Flags().IntVar(&port, "port", 5000, "HTTP port (overrides PORT)")
	return cmd
}

func serve(ctx context.Context, cfg config, log *slog.Logger) error {
	secret, secretFrom, err := jwtSecret(cfg, true)
	if err != nil {
		return err
	}
	authority := auth.NewAuthority(secret)
	loc, err := time.LoadLocation(cfg.QueueTimezone)
	if err != nil {
		return fmt.Errorf("QUEUE_TIMEZONE %q: %w", cfg.QueueTimezone, err)
	}
	if cfg.PprofAddr != "" {
		startPprof(cfg.PprofAddr, log)
	}
	if cfg.MemoryTrim > 0 {
		trimCtx, stopTrim := context.WithCancel(ctx)
		defer stopTrim()
		go newMemTrimmer(cfg.MemoryTrim, log).run(trimCtx)
	}
	srv, err := server.New(server.Config{
		Node:              cfg.NodeName,
		Auth:              authority,
		Origins:           cfg.Origins,
		Database:          cfg.database(log),
		Queue:             queue.Config{Location: loc, Ageing: cfg.Ageing},
		MaxActiveTickets:  cfg.MaxActiveTickets,
		RequestTimeout:    cfg.RequestTimeout,
		PingInterval:      cfg.PingInterval,
		PingTimeout:       cfg.PingTimeout,
		MaxHTTPBufferSize: cfg.MaxHTTPBufferSize,
		UpgradeTimeout:    cfg.UpgradeTimeout,
		ConnectTimeout:    cfg.ConnectTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		MaxQueueBytes:     cfg.MaxQueueBytes,
		SocketSendBuffer:  cfg.SocketSendBuffer,
		MaxInboundBytes:   cfg.MaxInboundBytes,
		MetricsPublic:     cfg.MetricsPublic,
		MetricsInterval:   cfg.MetricsInterval,
		Limits:            cfg.limits(),
		HTTPReadTimeout:   cfg.HTTPReadTimeout,
		HTTPWriteTimeout:  cfg.HTTPWriteTimeout,
		HTTPIdleTimeout:   cfg.HTTPIdleTimeout,
		Logger:            log,
		ActorLogger:       actorLogger(log),
		Cluster:           cfg.cluster(log),
	})
	if err != nil {
		return err
	}
	if secretFrom.path != "" {
		tok, err := authority.Issue(auth.Identity{UserID: "admin", Role: auth.RoleAdmin}, 24*time.Hour)
		if err != nil {
			return err
		}
		log.Info("JWT_SECRET is not set; signing with "+secretFrom.String()+". Admin token for the next 24h",
			slog.String("token", tok))
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Listen(":" + strconv.Itoa(cfg.Port)) }()
	log.Info("queuecast listening", slog.Int("port", cfg.Port), slog.String("node", cfg.NodeName))

	sig, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	select {
	case err := <-errc:
		return errors.Join(err, shutdown(srv, cfg.ShutdownTimeout))
	case <-sig.Done():
	}
	log.Info("shutting down", slog.Duration("timeout", cfg.ShutdownTimeout))
	if err := shutdown(srv, cfg.ShutdownTimeout); err != nil {
		return err
	}
	log.Info("stopped")
	return nil
}

// shutdown stops srv within timeout (Server.Shutdown abandons what has not
// finished by then).
func shutdown(srv *server.Server, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return srv.Shutdown(ctx)
}
