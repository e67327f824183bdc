// Package auth issues and verifies queuecast's JWTs (HS256) and knows the
// roles. It is safe for concurrent use.
package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Role is what a caller may do.
type Role string

// Roles. Guest is a connection or request without a token.
const (
	RoleAdmin    Role = "admin"
	RoleStaff    Role = "staff"
	RoleCustomer Role = "customer"
	RoleGuest    Role = "guest"
)

// Valid reports whether r is a role a token may carry.
func (r Role) Valid() bool { return r == RoleAdmin || r == RoleStaff || r == RoleCustomer }

// IsStaff reports whether r is staff or admin.
func (r Role) IsStaff() bool { return r == RoleAdmin || r == RoleStaff }

// ErrUnauthorized is returned for a token that is malformed, badly signed,
// expired or carries an unknown role.
var ErrUnauthorized = errors.New("unauthorized")

// Identity is who a verified token (or its absence) speaks for.
type Identity struct {
	UserID    string
	Role      Role
	CounterID string // staff bound to one counter; empty otherwise
}

// Guest is the identity of a caller without a token.
var Guest = Identity{Role: RoleGuest}

// Claims are the JWT claims queuecast signs and reads.
type Claims struct {
	Role      Role   `json:"role"`
	CounterID string `json:"counterId,omitempty"`
	jwt.RegisteredClaims
}

// Authority signs and verifies tokens with one HS256 secret.
type Authority struct {
	secret []byte
	parser *jwt.Parser
	now    func() time.Time
}

// NewAuthority returns an authority for secret.
func NewAuthority(secret []byte) *Authority {
	return &Authority{
		secret: secret,
		parser: jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired(), jwt.WithLeeway(5*time.Second)),
		now:    time.Now,
	}
}

// Issue signs a token for id, valid for ttl.
func (a *Authority) Issue(id Identity, ttl time.Duration) (string, error) {
	if !id.Role.Valid() {
		return "", fmt.Errorf("auth: cannot issue a token for role %q", id.Role)
	}
	now := a.now()
	c := Claims{Role: id.Role, CounterID: id.CounterID, RegisteredClaims: jwt.RegisteredClaims{
		Subject:   id.UserID,
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
	}}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(a.secret)
}

// Derive returns a key for another use of the secret (label names the
// use), so the secret itself never leaves the authority.
func (a *Authority) Derive(label string) []byte {
	mac := hmac.New(sha256.New, a.secret)
	mac.Write([]byte(label))
	return mac.Sum(nil)
}

// Verify checks a token. An empty token is a guest; anything wrong with a
// non-empty one is ErrUnauthorized.
func (a *Authority) Verify(token string) (Identity, error) {
	token = strings.TrimSpace(token)
	if token == "" {
		return Guest, nil
	}
	var c Claims
	if _, err := a.parser.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return a.secret, nil }); err != nil {
		return Identity{}, ErrUnauthorized
	}
	if !c.Role.Valid() || c.Subject == "" {
		return Identity{}, ErrUnauthorized
	}
	return Identity{UserID: c.Subject, Role: c.Role, CounterID: c.CounterID}, nil
}

// SecretFile is the name of the file in a data directory that keeps the
// generated secret.
const SecretFile = "jwt-secret"

// ErrNoSecret is returned by LoadSecret when the data directory keeps no
// secret.
var ErrNoSecret = errors.New("no secret file")

// LoadSecret returns the secret kept in dir/jwt-secret. ErrNoSecret if the
// file does not exist or is empty.
func LoadSecret(dir string) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(dir, SecretFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNoSecret
	}
	if err != nil {
		return nil, err
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return nil, ErrNoSecret
	}
	return []byte(s), nil
}

// LoadOrCreateSecret returns the secret kept in dir/jwt-secret, creating a
// random 256-bit one on first use. created reports a new secret.
func LoadOrCreateSecret(dir string) (secret []byte, created bool, err error) {
	if s, err := LoadSecret(dir); !errors.Is(err, ErrNoSecret) {
		return s, false, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, false, err
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, false, err
	}
	s := hex.EncodeToString(b[:])
	if err := os.WriteFile(filepath.Join(dir, SecretFile), []byte(s+"\n"), 0o600); err != nil {
		return nil, false, err
	}
	return []byte(s), true, nil
}
