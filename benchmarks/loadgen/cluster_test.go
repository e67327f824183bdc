package main

import (
	"context"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

// -addrs makes each node its own destination and the first the REST
// target; -pids replaces -pid and sums over the processes; bad values are
// refused.
func TestClusterFlags(t *testing.T) {
	c, err := parseFlags([]string{"-addrs", "127.0.0.1:5101,127.0.0.1:5102,127.0.0.1:5103", "-pids", "10, 11,12", "-scenarios", "cluster"})
	require.NoError(t, err)
	require.Equal(t, []int{10, 11, 12}, c.pids)
	require.Equal(t, 10, c.pid)
	require.Equal(t, []string{clusterScenario}, c.scenarioList)
	g, err := newRig(context.Background(), c, os.Stdout)
	require.NoError(t, err)
	require.Equal(t, c.addrs, g.hosts)
	require.Equal(t, "http://127.0.0.1:5101", g.baseURL())

	c, err = parseFlags([]string{"-pid", "7"})
	require.NoError(t, err)
	require.Equal(t, []int{7}, c.pids)
	require.Len(t, func() []string { g, _ := newRig(context.Background(), c, os.Stdout); return g.hosts }(), 4, "-dst-ips still spreads one address")

	for _, args := range [][]string{{"-pids", "1,x"}, {"-pids", "0"}} {
		_, err := parseFlags(args)
		require.Error(t, err, "%v", args)
	}
	c, err = parseFlags([]string{"-addrs", "127.0.0.1:1,10.0.0.1:2"})
	require.NoError(t, err)
	_, err = newRig(context.Background(), c, os.Stdout)
	require.ErrorContains(t, err, "loopback")
}

// The sum over a cluster's processes: this process counted twice is twice
// its RSS; a process that is gone makes the rig not alive.
func TestClusterSample(t *testing.T) {
	self := os.Getpid()
	one, err := newRig(context.Background(), &config{addr: "127.0.0.1:1", pid: self, pids: []int{self}}, os.Stdout)
	require.NoError(t, err)
	two, err := newRig(context.Background(), &config{addr: "127.0.0.1:1", pid: self, pids: []int{self, self}}, os.Stdout)
	require.NoError(t, err)
	a, b := one.sample(), two.sample()
	require.Positive(t, a.RSSKB)
	require.InDelta(t, 2*a.RSSKB, b.RSSKB, float64(a.RSSKB)/2)
	require.True(t, two.serverAlive())
	gone, err := newRig(context.Background(), &config{addr: "127.0.0.1:1", pids: []int{self, 1 << 30}}, os.Stdout)
	require.NoError(t, err)
	require.False(t, gone.serverAlive())
}
