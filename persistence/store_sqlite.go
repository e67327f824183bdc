package persistence

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/jmoiron/sqlx"
	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// sqliteParams: write-ahead log so readers never block the writer; wait up
// to 5 s for another process's lock; enforce foreign keys; and begin every
// transaction IMMEDIATE, taking the write lock up front, so a transaction
// never fails half-way on a lock upgrade when another process writes too.
const sqliteParams = "_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_txlock=immediate"

var sqliteDialect = dialect{
	name:       "sqlite",
	bind:       sqlx.QUESTION,
	goose:      goose.DialectSQLite3,
	migrations: migrationsFor("sqlite"),
	classify:   classifySQLite,
}

// openSQLite opens the embedded database at path, or at dir/queuecast.db
// when path is empty, creating the directory.
func openSQLite(ctx context.Context, dir, path string) (*sqlStore, error) {
	const op = "open sqlite"
	if path == "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, &dbError{op: op, kind: ErrUnavailable, code: "mkdir", cause: err}
		}
		path = filepath.Join(dir, "queuecast.db")
	}
	if path == "" || strings.ContainsRune(path, '?') {
		return nil, opErr(op+": bad path", ErrInvalid)
	}
	db, err := sqlx.Open("sqlite", path+"?"+sqliteParams)
	if err != nil {
		return nil, &dbError{op: op, kind: ErrInternal, cause: err}
	}
	// One connection: transactions serialize in the process and the single
	// writer never meets SQLITE_BUSY from itself.
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	s := &sqlStore{db: db, d: sqliteDialect}
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, s.mapErr(op, err)
	}
	return s, nil
}

func classifySQLite(err error) (errorClass, string) {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return classOther, ""
	}
	code := se.Code()
	name := fmt.Sprintf("sqlite %d", code)
	switch code {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return classUnique, name
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return classForeignKey, name
	}
	switch code & 0xff {
	case sqlite3.SQLITE_CONSTRAINT:
		return classCheck, name
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR:
		return classUnavailable, name
	}
	return classOther, name
}
