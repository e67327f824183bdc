package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/queuecast/queuecast/gateway/auth"
)

func tokenCommand() *cobra.Command {
	var (
		role, sub, counter string
		ttl                time.Duration
		createSecret       bool
	)
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Print a signed JWT (uses JWT_SECRET, or the secret kept in DATA_DIR)",
		Long: `Print a signed JWT on stdout, and on stderr where its secret came from.

The secret is JWT_SECRET, or else DATA_DIR/jwt-secret, the file the server
creates on its first start. token never creates that file unless given
--create-secret: a token signed with a secret the server does not use is
refused by it, so run token with the server's JWT_SECRET or DATA_DIR.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig()
			if err != nil {
				return err
			}
			secret, from, err := jwtSecret(cfg, createSecret)
			if errors.Is(err, errNoSecret) {
				return fmt.Errorf("%w; run token with the server's DATA_DIR or JWT_SECRET, or pass --create-secret to create a new secret there", err)
			}
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.ErrOrStderr(), "queuecast token: signing with", from.String())
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
	cmd.Flags().BoolVar(&createSecret, "create-secret", false, "create DATA_DIR/jwt-secret if JWT_SECRET is unset and the file does not exist")
	return cmd
}
