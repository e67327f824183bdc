package main

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/queuecast/queuecast/gateway/auth"
)

// errNoSecret: JWT_SECRET is unset and DATA_DIR keeps no secret, and the
// command was not asked to create one.
var errNoSecret = errors.New("no JWT secret")

// secretSource is where a JWT secret came from, for the operator: JWT_SECRET
// when path is empty, else the file at path (an absolute path), created
// reporting that it did not exist before.
type secretSource struct {
	path    string
	created bool
}

func (s secretSource) String() string {
	switch {
	case s.path == "":
		return "JWT_SECRET"
	case s.created:
		return "a new secret created in " + s.path
	}
	return "the secret in " + s.path
}

// jwtSecret is JWT_SECRET, or the secret kept in DATA_DIR/jwt-secret. When
// neither exists it creates the file if create is set (serve does on first
// start) and fails with errNoSecret, naming the path it looked at, if not.
func jwtSecret(cfg config, create bool) ([]byte, secretSource, error) {
	if cfg.JWTSecret != "" {
		return []byte(cfg.JWTSecret), secretSource{}, nil
	}
	dir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, secretSource{}, fmt.Errorf("DATA_DIR %q: %w", cfg.DataDir, err)
	}
	src := secretSource{path: filepath.Join(dir, auth.SecretFile)}
	secret, err := auth.LoadSecret(dir)
	switch {
	case err == nil:
		return secret, src, nil
	case !errors.Is(err, auth.ErrNoSecret):
		return nil, src, fmt.Errorf("JWT secret %s: %w", src.path, err)
	case !create:
		return nil, src, fmt.Errorf("%w: JWT_SECRET is unset and %s is missing or empty (DATA_DIR=%s)", errNoSecret, src.path, cfg.DataDir)
	}
	secret, src.created, err = auth.LoadOrCreateSecret(dir)
	if err != nil {
		return nil, src, fmt.Errorf("JWT secret %s: %w", src.path, err)
	}
	return secret, src, nil
}
