package auth

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
)

func TestIssueVerify(t *testing.T) {
	a := NewAuthority([]byte("s3cret"))
	tok, err := a.Issue(Identity{UserID: "alice", Role: RoleStaff, CounterID: "2"}, time.Hour)
	require.NoError(t, err)
	id, err := a.Verify(tok)
	require.NoError(t, err)
	require.Equal(t, Identity{UserID: "alice", Role: RoleStaff, CounterID: "2"}, id)
}

func TestVerifyRefusals(t *testing.T) {
	a := NewAuthority([]byte("s3cret"))
	other := NewAuthority([]byte("other"))
	wrongSig, _ := other.Issue(Identity{UserID: "u", Role: RoleAdmin}, time.Hour)
	past := NewAuthority([]byte("s3cret"))
	past.now = func() time.Time { return time.Now().Add(-2 * time.Hour) }
	expired, _ := past.Issue(Identity{UserID: "u", Role: RoleAdmin}, time.Hour)
	badRole, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, Claims{Role: "root", RegisteredClaims: jwt.RegisteredClaims{Subject: "u", ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour))}}).SignedString([]byte("s3cret"))
	noExp, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, Claims{Role: RoleAdmin, RegisteredClaims: jwt.RegisteredClaims{Subject: "u"}}).SignedString([]byte("s3cret"))
	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, Claims{Role: RoleAdmin, RegisteredClaims: jwt.RegisteredClaims{Subject: "u", ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour))}}).SignedString(jwt.UnsafeAllowNoneSignatureType)
	for name, tok := range map[string]string{"garbage": "x.y.z", "wrong secret": wrongSig, "expired": expired, "unknown role": badRole, "no exp": noExp, "alg none": none} {
		_, err := a.Verify(tok)
		require.ErrorIs(t, err, ErrUnauthorized, name)
	}
	id, err := a.Verify("")
	require.NoError(t, err)
	require.Equal(t, Guest, id)
}

func TestLoadOrCreateSecret(t *testing.T) {
	dir := t.TempDir()
	s1, created, err := LoadOrCreateSecret(dir)
	require.NoError(t, err)
	require.True(t, created)
	require.Len(t, s1, 64)
	s2, created, err := LoadOrCreateSecret(dir)
	require.NoError(t, err)
	require.False(t, created)
	require.Equal(t, s1, s2)
}

func TestLoadSecret(t *testing.T) {
	dir := t.TempDir()
	_, err := LoadSecret(dir)
	require.ErrorIs(t, err, ErrNoSecret, "missing file")
	require.NoError(t, os.WriteFile(filepath.Join(dir, SecretFile), []byte(" \n"), 0o600))
	_, err = LoadSecret(dir)
	require.ErrorIs(t, err, ErrNoSecret, "empty file")
	require.NoError(t, os.WriteFile(filepath.Join(dir, SecretFile), []byte("abc\n"), 0o600))
	s, err := LoadSecret(dir)
	require.NoError(t, err)
	require.Equal(t, []byte("abc"), s)
}
