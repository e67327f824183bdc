package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/queuecast/queuecast/gateway/limits"
)

// The environment's defaults are the limits package's defaults.
func TestLimitDefaultsAgree(t *testing.T) {
	c, err := loadConfig()
	require.NoError(t, err)
	want := limits.Config{}.WithDefaults()
	want.MaxKeys = 0
	require.Equal(t, want, c.limits())
}

func TestLimitsFromEnvironment(t *testing.T) {
	t.Setenv("EVENT_RATE", "0")
	t.Setenv("MAX_CONNECTIONS_PER_IP", "0")
	t.Setenv("REST_RATE_PER_TOKEN", "2.5")
	c, err := loadConfig()
	require.NoError(t, err)
	l := c.limits().WithDefaults()
	require.True(t, l.Events().Off(), "0 turns a limit off")
	require.Negative(t, l.MaxConnsPerAddr)
	require.Equal(t, 2.5, l.TokenRate)
	require.Equal(t, 100_000, l.MaxConns)
}

func TestBadLimitsAreRefused(t *testing.T) {
	for env, want := range map[string]string{
		"EVENT_RATE":          "EVENT_RATE must not be negative",
		"MAX_CONNECTIONS":     "MAX_CONNECTIONS must not be negative",
		"REST_BURST_PER_IP":   "REST_BURST_PER_IP must not be negative",
		"CONN_BURST_PER_IP=0": "CONN_BURST_PER_IP must be at least 1",
		"HTTP_READ_TIMEOUT":   "HTTP_READ_TIMEOUT must be positive",
	} {
		t.Run(env, func(t *testing.T) {
			name, value := env, "-1"
			if n, v, ok := strings.Cut(env, "="); ok {
				name, value = n, v
			}
			if name == "HTTP_READ_TIMEOUT" {
				value = "0s"
			}
			t.Setenv(name, value)
			_, err := loadConfig()
			require.ErrorContains(t, err, want)
		})
	}
}

func TestBadOriginIsRefused(t *testing.T) {
	t.Setenv("SOCKET_IO_ORIGIN", "http://localhost:5173,https://app.example/queue")
	_, err := loadConfig()
	require.ErrorContains(t, err, `SOCKET_IO_ORIGIN: origin "https://app.example/queue": not an origin`)
}
