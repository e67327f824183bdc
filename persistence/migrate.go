package persistence

import (
	"context"
	"database/sql"
	"embed"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// migrationFiles holds one directory of goose SQL migrations per dialect.
//
//go:embed migrations
var migrationFiles embed.FS

func migrationsFor(dir string) fs.FS {
	sub, err := fs.Sub(migrationFiles, "migrations/"+dir)
	if err != nil {
		panic(err) // the directory is embedded at build time
	}
	return sub
}

// MigrateReport is what Migrate did.
type MigrateReport struct {
	// Database names the database: "SQLite <path>" or "PostgreSQL
	// host:port/database as user".
	Database string
	// Applied are the migrations applied, in order; none when the schema
	// was up to date.
	Applied []AppliedMigration
	// Version is the schema version afterwards.
	Version int64
}

// AppliedMigration is one migration Migrate applied.
type AppliedMigration struct {
	Version  int64
	Name     string // the file, e.g. "00001_schema.sql"
	Duration time.Duration
}

// Migrate applies pending migrations to the database chosen by cfg, closes
// it and reports what it did (the `queuecast migrate` command).
func Migrate(ctx context.Context, cfg Config) (MigrateReport, error) {
	r := MigrateReport{Database: describeDatabase(cfg)}
	s, err := open(ctx, cfg)
	if err != nil {
		return r, err
	}
	r.Applied, r.Version, err = migrate(ctx, s.db.DB, s.d, cfg.Logger)
	if cerr := s.Close(); err == nil && cerr != nil {
		err = &dbError{op: "close", kind: ErrInternal, cause: cerr}
	}
	return r, err
}

// describeDatabase names the database cfg selects, without a password.
func describeDatabase(cfg Config) string {
	u := cfg.DatabaseURL
	switch {
	case u == "":
		return "SQLite " + filepath.Join(cfg.dataDir(), "queuecast.db")
	case strings.HasPrefix(u, "sqlite:"):
		return "SQLite " + strings.TrimPrefix(u, "sqlite:")
	}
	pc, err := pgx.ParseConfig(u)
	if err != nil {
		return "PostgreSQL"
	}
	return "PostgreSQL " + net.JoinHostPort(pc.Host, strconv.Itoa(int(pc.Port))) + "/" + pc.Database + " as " + pc.User
}

// migrate applies pending migrations and returns them and the schema
// version afterwards. It uses a goose Provider rather than goose's
// package-level state, so stores may migrate concurrently (tests do).
func migrate(ctx context.Context, db *sql.DB, d dialect, logger *slog.Logger) ([]AppliedMigration, int64, error) {
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	opts := []goose.ProviderOption{goose.WithSlog(logger), goose.WithDisableGlobalRegistry(true)}
	if d.migrationLock {
		// Nodes starting together wait for one another on an advisory lock.
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return nil, 0, &dbError{op: "migrate", kind: ErrInternal, cause: err}
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(d.goose, db, d.migrations, opts...)
	if err != nil {
		return nil, 0, &dbError{op: "migrate", kind: ErrInternal, cause: err}
	}
	results, err := p.Up(ctx)
	if err != nil {
		return nil, 0, migrateErr(d, err)
	}
	applied := make([]AppliedMigration, 0, len(results))
	for _, r := range results {
		applied = append(applied, AppliedMigration{Version: r.Source.Version, Name: filepath.Base(r.Source.Path), Duration: r.Duration})
	}
	version, err := p.GetDBVersion(ctx)
	if err != nil {
		return applied, 0, migrateErr(d, err)
	}
	return applied, version, nil
}

func migrateErr(d dialect, err error) error {
	class, code := d.classify(err)
	kind := ErrInternal
	if class == classUnavailable {
		kind = ErrUnavailable
	}
	return &dbError{op: "migrate", kind: kind, code: code, cause: err}
}
