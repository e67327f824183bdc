package main

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

// Cluster configuration: single-node mode needs none of it, cluster mode
// starts with CLUSTER_NAME, and every mistake is refused with the variable
// to fix named.
func TestClusterConfig(t *testing.T) {
	const pg = "postgres://u@127.0.0.1:5432/q?sslmode=disable"
	cases := []struct {
		name string
		env  map[string]string
		err  string // substring; empty means valid
		mode bool   // cluster mode expected
	}{
		{name: "single node by default", env: map[string]string{}},
		{name: "single node on SQLite", env: map[string]string{"DATA_DIR": "x"}},
		{name: "cluster on PostgreSQL", env: map[string]string{"CLUSTER_NAME": "qc", "DATABASE_URL": pg}, mode: true},
		{name: "cluster with seeds", env: map[string]string{"CLUSTER_NAME": "qc", "DATABASE_URL": pg,
			"CLUSTER_SEEDS": "127.0.0.1:7700, 10.0.0.2:7700,", "NODE_HOST": "10.0.0.1", "NODE_PORT": "7700"}, mode: true},
		{name: "cluster on etcd", env: map[string]string{"CLUSTER_NAME": "qc", "DATABASE_URL": pg,
			"CLUSTER_PROVIDER": "etcd", "ETCD_ENDPOINTS": "http://127.0.0.1:2379"}, mode: true},
		{name: "cluster on SQLite", env: map[string]string{"CLUSTER_NAME": "qc"}, err: "needs PostgreSQL"},
		{name: "cluster on a SQLite URL", env: map[string]string{"CLUSTER_NAME": "qc", "DATABASE_URL": "file:x.db"}, err: "needs PostgreSQL"},
		{name: "unspecified host", env: map[string]string{"CLUSTER_NAME": "qc", "DATABASE_URL": pg, "NODE_HOST": "0.0.0.0"}, err: "NODE_HOST"},
		{name: "unspecified v6 host", env: map[string]string{"CLUSTER_NAME": "qc", "DATABASE_URL": pg, "NODE_HOST": "::"}, err: "NODE_HOST"},
		{name: "port out of range", env: map[string]string{"CLUSTER_NAME": "qc", "DATABASE_URL": pg, "NODE_PORT": "65535"}, err: "NODE_PORT"},
		{name: "port is the HTTP port", env: map[string]string{"CLUSTER_NAME": "qc", "DATABASE_URL": pg, "NODE_PORT": "5000"}, err: "PORT"},
		{name: "health port is the HTTP port", env: map[string]string{"CLUSTER_NAME": "qc", "DATABASE_URL": pg, "NODE_PORT": "4999"}, err: "NODE_PORT+1"},
		{name: "bad seed", env: map[string]string{"CLUSTER_NAME": "qc", "DATABASE_URL": pg, "CLUSTER_SEEDS": "node2"}, err: "CLUSTER_SEEDS"},
		{name: "seed port out of range", env: map[string]string{"CLUSTER_NAME": "qc", "DATABASE_URL": pg, "CLUSTER_SEEDS": "a:0"}, err: "CLUSTER_SEEDS"},
		{name: "unknown provider", env: map[string]string{"CLUSTER_NAME": "qc", "DATABASE_URL": pg, "CLUSTER_PROVIDER": "consul"}, err: "CLUSTER_PROVIDER"},
		{name: "etcd without endpoints", env: map[string]string{"CLUSTER_NAME": "qc", "DATABASE_URL": pg, "CLUSTER_PROVIDER": "etcd"}, err: "ETCD_ENDPOINTS"},
		{name: "cluster variable without a name", env: map[string]string{"CLUSTER_SEEDS": "127.0.0.1:7700"}, err: "CLUSTER_NAME is not"},
	}
	vars := append([]string{"CLUSTER_NAME", "DATABASE_URL", "DATA_DIR", "PORT"}, clusterVars...)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, v := range vars {
				t.Setenv(v, "") // restored after the test
				require.NoError(t, os.Unsetenv(v))
			}
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			c, err := loadConfig()
			if tc.err != "" {
				require.Error(t, err)
				require.Contains(t, err.Error(), tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.mode, c.cluster(nil) != nil)
			if tc.mode {
				require.NoError(t, c.cluster(nil).Validate())
			}
		})
	}
}
