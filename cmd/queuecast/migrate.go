package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/queuecast/queuecast/persistence"
)

func migrateCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Apply database migrations (DATABASE_URL, or SQLite in DATA_DIR)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, log, err := loadConfigAndLogger()
			if err != nil {
				return err
			}
			report, err := persistence.Migrate(cmd.Context(), cfg.database(log))
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			for _, m := range report.Applied {
				fmt.Fprintf(out, "%s: applied %s (version %d) in %s\n", report.Database, m.Name, m.Version, m.Duration.Round(time.Millisecond))
			}
			if len(report.Applied) == 0 {
				fmt.Fprintf(out, "%s: database is up to date at version %d\n", report.Database, report.Version)
			} else {
				fmt.Fprintf(out, "%s: database is now at version %d\n", report.Database, report.Version)
			}
			return nil
		},
	}
}
