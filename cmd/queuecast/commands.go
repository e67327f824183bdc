package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/spf13/cobra"

	"github.com/queuecast/queuecast/actors/system"
	"github.com/queuecast/queuecast/gateway/fixture"
)

func rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "queuecast",
		Short:         "Real-time service-queue server (Socket.IO compatible)",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	serve := serveCommand()
	root.AddCommand(serve, fixtureCommand(), tokenCommand(), migrateCommand())
	root.RunE = serve.RunE
	root.Flags().AddFlagSet(serve.Flags())
	return root
}

func fixtureCommand() *cobra.Command {
	port := 3000
	cmd := &cobra.Command{
		Use:   "fixture",
		Short: "Run the protocol fixture for the official Engine.IO and Socket.IO test suites",
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, log, err := loadConfigAndLogger()
			if err != nil {
				return err
			}
			system := newActorSystem(log)
			f := fixture.New(system)
			errc := make(chan error, 1)
			go func() { errc <- f.App.Listen(":" + strconv.Itoa(port)) }()
			log.Info("fixture listening", slog.Int("port", port))
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			select {
			case err := <-errc:
				return err
			case <-ctx.Done():
			}
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			return f.Shutdown(sctx)
		},
	}
	cmd.Flags().IntVar(&port, "port", port, "HTTP port")
	return cmd
}

// newActorSystem returns an actor system that logs through log at warn and
// above: protoactor's own info lines are noise for an operator. A message
// it repeats is logged at most once per 10 s.
func newActorSystem(log *slog.Logger) *actor.ActorSystem {
	return system.New(actorLogger(log))
}

func actorLogger(log *slog.Logger) *slog.Logger {
	return slog.New(newRepeatLimit(levelFloor{log.Handler(), slog.LevelWarn}, 10*time.Second)).With("lib", "protoactor")
}
