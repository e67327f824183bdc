package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/queuecast/queuecast/gateway/auth"
)

// runCommand runs queuecast with args in-process, on the environment the
// test has set, and returns stdout, stderr and the error.
func runCommand(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := rootCommand()
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&errOut)
	err := root.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

// setEnv gives the command a clean environment: dataDir, no JWT_SECRET,
// SQLite.
func setEnv(t *testing.T, dataDir string) {
	t.Setenv("DATA_DIR", dataDir)
	t.Setenv("JWT_SECRET", "")
	t.Setenv("DATABASE_URL", "")
	t.Setenv("LOG_LEVEL", "warn")
}

func verify(t *testing.T, secret []byte, tok string) auth.Identity {
	t.Helper()
	id, err := auth.NewAuthority(secret).Verify(strings.TrimSpace(tok))
	require.NoError(t, err, "the token is signed with the secret named on stderr")
	return id
}

// Run where DATA_DIR keeps no secret, token fails, names the file it looked
// for, and leaves nothing behind: before the fix it created a new secret
// that no server used and printed a token every server refused.
func TestTokenWithoutSecretFails(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "elsewhere")
	setEnv(t, dir)
	out, _, err := runCommand(t, "token", "--role", "staff")
	require.ErrorIs(t, err, errNoSecret)
	require.Contains(t, err.Error(), filepath.Join(dir, auth.SecretFile))
	require.Contains(t, err.Error(), "--create-secret")
	require.Empty(t, out, "no token is printed")
	_, statErr := os.Stat(dir)
	require.ErrorIs(t, statErr, os.ErrNotExist, "DATA_DIR is not created")
}

func TestTokenCreateSecret(t *testing.T) {
	dir := t.TempDir()
	setEnv(t, dir)
	path := filepath.Join(dir, auth.SecretFile)
	out, errOut, err := runCommand(t, "token", "--create-secret", "--role", "staff", "--sub", "bob")
	require.NoError(t, err)
	require.Equal(t, "queuecast token: signing with a new secret created in "+path+"\n", errOut)
	secret, err := auth.LoadSecret(dir)
	require.NoError(t, err)
	require.Equal(t, auth.Identity{UserID: "bob", Role: auth.RoleStaff}, verify(t, secret, out))

	// With the file in place the flag changes nothing: the same secret.
	out, errOut, err = runCommand(t, "token", "--create-secret")
	require.NoError(t, err)
	require.Equal(t, "queuecast token: signing with the secret in "+path+"\n", errOut)
	verify(t, secret, out)
}

func TestTokenSecretSources(t *testing.T) {
	dir := t.TempDir()
	setEnv(t, dir)
	require.NoError(t, os.WriteFile(filepath.Join(dir, auth.SecretFile), []byte("from-the-file\n"), 0o600))
	out, errOut, err := runCommand(t, "token")
	require.NoError(t, err)
	require.Equal(t, "queuecast token: signing with the secret in "+filepath.Join(dir, auth.SecretFile)+"\n", errOut)
	verify(t, []byte("from-the-file"), out)

	t.Setenv("JWT_SECRET", "from-the-environment")
	out, errOut, err = runCommand(t, "token")
	require.NoError(t, err)
	require.Equal(t, "queuecast token: signing with JWT_SECRET\n", errOut)
	verify(t, []byte("from-the-environment"), out)
}

// A fresh DATA_DIR: serve generates the secret on its first start (make run
// on a new machine), and a token printed afterwards in the same directory is
// accepted by that server.
func TestServeGeneratesSecretThatTokenUses(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	setEnv(t, dir)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	require.NoError(t, ln.Close())
	t.Setenv("PORT", strconv.Itoa(port))
	cfg, log, err := loadConfigAndLogger()
	require.NoError(t, err)

	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- serve(ctx, cfg, log) }()
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	require.Eventually(t, func() bool {
		res, err := http.Get(base + "/ready")
		if err != nil {
			return false
		}
		_ = res.Body.Close()
		return res.StatusCode == http.StatusOK
	}, 15*time.Second, 20*time.Millisecond, "server did not become ready")
	_, err = os.Stat(filepath.Join(dir, auth.SecretFile))
	require.NoError(t, err, "serve created the secret")

	tok, _, err := runCommand(t, "token", "--role", "admin")
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodGet, base+"/api/admin/clients", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(tok))
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_ = res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode, "the server accepts the token")

	cancel()
	select {
	case err := <-served:
		require.NoError(t, err)
	case <-time.After(cfg.ShutdownTimeout + 5*time.Second):
		t.Fatal("serve did not return after its context ended")
	}
}
