package server

import (
	"context"
	"errors"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/queuecast/queuecast/actors/cluster"
	"github.com/queuecast/queuecast/actors/rooms"
)

// clusterNode is what a node of a cluster adds to a server: the membership
// and node-to-node streams, and the bridge that relays room publishes.
type clusterNode struct {
	node   *cluster.Node
	bridge *cluster.Bridge
}

// checkCluster refuses cluster mode on a database only this node can see.
// A Store given by the caller is the caller's responsibility.
func checkCluster(cfg Config) error {
	if cfg.Cluster == nil || cfg.Store != nil {
		return nil
	}
	u := cfg.Database.DatabaseURL
	if !strings.HasPrefix(u, "postgres://") && !strings.HasPrefix(u, "postgresql://") {
		return errors.New("server: cluster mode needs PostgreSQL shared by every node (Database.DatabaseURL); SQLite is one node's file")
	}
	return nil
}

// newCluster configures cluster mode; nil cfg is a single node, and then
// the room manager has no peers.
func (s *Server) newCluster(cfg *cluster.Config) (rooms.Peers, error) {
	if cfg == nil {
		return nil, nil
	}
	c := *cfg
	if c.Logger == nil {
		c.Logger = s.cfg.Logger
	}
	if c.MaxMessageBytes == 0 {
		// The largest publish is an admin broadcast, bounded by the HTTP
		// body limit.
		c.MaxMessageBytes = max(s.cfg.MaxHTTPBufferSize, 1<<20) + 64<<10
	}
	node, err := cluster.NewNode(s.System, c)
	if err != nil {
		return nil, err
	}
	s.cluster = &clusterNode{node: node, bridge: cluster.NewBridge(s.System, node, node, c)}
	return s.cluster.bridge, nil
}

// startCluster starts relaying into the room manager, then joins.
func (s *Server) startCluster() error {
	if s.cluster == nil {
		return nil
	}
	if err := s.cluster.bridge.Start(s.rooms); err != nil {
		return err
	}
	return s.cluster.node.Start()
}

// stopCluster leaves the cluster; the library stops the actor system.
func (s *Server) stopCluster(ctx context.Context) error {
	if s.cluster == nil {
		return nil
	}
	return s.cluster.node.Stop(ctx)
}

func (s *Server) clusterCollectors() []prometheus.Collector {
	if s.cluster == nil {
		return nil
	}
	c := s.cluster
	return []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "queuecast_cluster_members", Help: "Live cluster members this node knows, itself included."},
			func() float64 { return float64(c.bridge.Members()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "queuecast_cluster_dropped_total", Help: "Messages from other nodes dropped as unknown or undecodable."},
			func() float64 { return float64(c.bridge.Dropped() + c.node.Dropped()) }),
	}
}
