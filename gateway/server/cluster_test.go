package server_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/queuecast/queuecast/actors/cluster"
	"github.com/queuecast/queuecast/gateway/auth"
	"github.com/queuecast/queuecast/gateway/server"
)

// Cluster mode on SQLite is refused before anything is opened.
func TestClusterModeRefusesSQLite(t *testing.T) {
	_, err := server.New(server.Config{
		Auth:     auth.NewAuthority([]byte("test-secret-test-secret-test-secret")),
		Database: sqliteDB(t),
		Cluster:  &cluster.Config{Name: "qc"},
	})
	require.ErrorContains(t, err, "cluster mode needs PostgreSQL")
}
