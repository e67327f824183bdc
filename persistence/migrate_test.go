package persistence

import (
	"context"
	"io/fs"
	"net/url"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/queuecast/queuecast/persistence/pgtest"
)

// Migrate reports the migrations it applied to a fresh database, by version
// and file, and on a second run none and the version the schema is at.
func TestMigrateReport(t *testing.T) {
	for _, b := range []struct {
		name string
		d    dialect
		cfg  func(t *testing.T) (Config, string)
	}{
		{"sqlite", sqliteDialect, func(t *testing.T) (Config, string) {
			dir := filepath.Join(t.TempDir(), "data")
			return Config{DataDir: dir}, "SQLite " + filepath.Join(dir, "queuecast.db")
		}},
		{"postgres", postgresDialect, func(t *testing.T) (Config, string) {
			dsn := pgtest.DSN(t) // a fresh schema
			u, err := url.Parse(dsn)
			require.NoError(t, err)
			return Config{DatabaseURL: dsn}, "PostgreSQL " + u.Host + u.Path + " as " + u.User.Username()
		}},
	} {
		t.Run(b.name, func(t *testing.T) {
			cfg, database := b.cfg(t)
			files, err := fs.Glob(b.d.migrations, "*.sql")
			require.NoError(t, err)
			require.NotEmpty(t, files)
			latest := int64(len(files)) // the files are numbered 1..n

			r, err := Migrate(context.Background(), cfg)
			require.NoError(t, err)
			require.Equal(t, database, r.Database)
			require.Equal(t, latest, r.Version)
			var names []string
			for i, m := range r.Applied {
				require.Equal(t, int64(i+1), m.Version)
				names = append(names, m.Name)
			}
			require.Equal(t, files, names, "every migration, in order")

			r, err = Migrate(context.Background(), cfg)
			require.NoError(t, err)
			require.Empty(t, r.Applied, "a migrated database is up to date")
			require.Equal(t, latest, r.Version)
		})
	}
}
