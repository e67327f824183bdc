package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/queuecast/queuecast/gateway/auth"
	"github.com/queuecast/queuecast/persistence"
)

func tokenCommand() *cobra.Command {
	var (
		role, sub, counter string
		ttl                time.Duration
	)
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Print a signed JWT (uses JWT_SECRET, or the secret kept in DATA_DIR)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig()
			if err != nil {
				return err
			}
			secret, _, err := jwtSecret(cfg)
			if err != nil {
				return err
			}
			if sub == "" {
				sub = role
			}
			tok, err := auth.NewAuthority(secret).Issue(auth.Identity{UserID: sub, Role: auth.Role(role), CounterID: counter}, ttl)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), tok)
			return nil
		},
	}
	cmd.Flags().StringVar(&role, "role", "admin", "admin, staff or customer")
	cmd.Flags().StringVar(&sub, "sub", "", "user id (default: the role)")
	cmd.Flags().StringVar(&counter, "counter", "", "counter id for a staff token")
	cmd.Flags().DurationVar(&ttl, "ttl", 24*time.Hour, "lifetime")
	return cmd
}

func migrateCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Apply database migrations (DATABASE_URL, or SQLite in DATA_DIR)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, log, err := loadConfigAndLogger()
			if err != nil {
				return err
			}
			return persistence.Migrate(cmd.Context(), cfg.database(log))
		},
	}
}
