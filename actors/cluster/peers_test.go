package cluster

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func serveFabric(t *testing.T, n int, cfg Config) (*fabric, []*testNode) {
	t.Helper()
	cfg.Heartbeat = 20 * time.Millisecond
	f, nodes := newFabricWith(t, n, cfg, func(i int, b *Bridge) {
		name := "n" + strconv.Itoa(i)
		b.name = name
		b.cfg.HTTPAddress = "127.0.0.1:80" + strconv.Itoa(i)
		b.Serve(func(what, socketID string) []byte {
			if what == QueryClient && socketID != "s"+strconv.Itoa(i) {
				return nil
			}
			return []byte(`"` + what + "@" + name + `"`)
		}, func() int64 { return int64(10 * (i + 1)) })
	})
	return f, nodes
}

// Every node learns the others' tags, HTTP addresses and counts, and
// forgets a node that leaves.
func TestNodesLearnEachOther(t *testing.T) {
	_, nodes := serveFabric(t, 3, Config{})
	for _, n := range nodes {
		require.Eventually(t, func() bool { return n.bridge.Connected(0) == 60-n.bridge.localConnections() }, 5*time.Second, 5*time.Millisecond)
	}
	http, ok := nodes[0].bridge.Owner(nodes[2].bridge.Tag())
	require.True(t, ok)
	require.Equal(t, "127.0.0.1:802", http)
	_, ok = nodes[0].bridge.Owner(nodes[0].bridge.Tag() ^ 1)
	require.False(t, ok, "a tag no live node has")
	require.Equal(t, []string{"n1", "n2"}, peerNames(nodes[0].bridge.Peers()))

	for _, w := range nodes[0].watchers {
		w([]string{"node0", "node1"})
	}
	require.Eventually(t, func() bool {
		_, ok := nodes[0].bridge.Owner(nodes[2].bridge.Tag())
		return !ok && len(nodes[0].bridge.Peers()) == 1
	}, 5*time.Second, 5*time.Millisecond, "node2 left: its sessions have no owner, and its late heartbeats do not bring it back")
}

func peerNames(ps []Peer) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Name)
	}
	return out
}

// A query gathers every other node's part; a node that does not answer in
// time is named missing, and the answer still comes.
func TestQueryGathersAndNamesTheMissing(t *testing.T) {
	f, nodes := serveFabric(t, 3, Config{})
	require.Eventually(t, func() bool { return len(nodes[0].bridge.Peers()) == 2 }, 5*time.Second, 5*time.Millisecond)
	a := nodes[0].bridge.Query(QueryClients, "", time.Second)
	require.Empty(t, a.Missing)
	require.Equal(t, map[string][]byte{"n1": []byte(`"clients@n1"`), "n2": []byte(`"clients@n2"`)}, a.Parts)

	a = nodes[0].bridge.Query(QueryClient, "s2", time.Second)
	require.Equal(t, map[string][]byte{"n2": []byte(`"client@n2"`)}, a.Parts, "only the node with the socket adds a part")

	f.mu.Lock()
	f.cut["node2"] = true
	f.mu.Unlock()
	start := time.Now()
	a = nodes[0].bridge.Query(QueryClients, "", 200*time.Millisecond)
	require.GreaterOrEqual(t, time.Since(start), 200*time.Millisecond)
	require.Equal(t, []string{"n2"}, a.Missing)
	require.Equal(t, map[string][]byte{"n1": []byte(`"clients@n1"`)}, a.Parts)
}

// Exactly one live member leads a job, and every member agrees which.
func TestOneLeader(t *testing.T) {
	_, nodes := serveFabric(t, 3, Config{})
	for _, key := range []string{"loadBalancingMetrics", "a", "b", "c"} {
		leaders := 0
		for _, n := range nodes {
			if n.bridge.Leader(key) {
				leaders++
			}
		}
		require.Equal(t, 1, leaders, key)
	}
}
