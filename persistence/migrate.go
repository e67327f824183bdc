package persistence

import (
	"context"
	"database/sql"
	"embed"
	"io"
	"io/fs"
	"log/slog"

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

// migrate applies pending migrations. It uses a goose Provider rather than
// goose's package-level state, so stores may migrate concurrently (tests do).
func migrate(ctx context.Context, db *sql.DB, d dialect, logger *slog.Logger) error {
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	opts := []goose.ProviderOption{goose.WithSlog(logger), goose.WithDisableGlobalRegistry(true)}
	if d.migrationLock {
		// Nodes starting together wait for one another on an advisory lock.
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return &dbError{op: "migrate", kind: ErrInternal, cause: err}
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(d.goose, db, d.migrations, opts...)
	if err != nil {
		return &dbError{op: "migrate", kind: ErrInternal, cause: err}
	}
	if _, err := p.Up(ctx); err != nil {
		class, code := d.classify(err)
		kind := ErrInternal
		if class == classUnavailable {
			kind = ErrUnavailable
		}
		return &dbError{op: "migrate", kind: kind, code: code, cause: err}
	}
	return nil
}
