package server

import (
	"context"
	"errors"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/queuecast/queuecast/actors/cluster"
	"github.com/queuecast/queuecast/actors/queue"
	"github.com/queuecast/queuecast/actors/rooms"
	"github.com/queuecast/queuecast/gateway/api"
)

// clusterNode is what a node of a cluster adds to a server: the membership
// and node-to-node streams, and the bridge that relays room publishes.
type clusterNode struct {
	node   *cluster.Node
	bridge *cluster.Bridge
	queues *cluster.Queues
}

// Queues is the queue domain's front door as the server uses it:
// *queue.Queues on a single node, *cluster.Queues (routing to the node that
// holds the queue actors) in cluster mode.
type Queues interface {
	api.Queues
	Metrics(ctx context.Context) (queue.Metrics, error)
	CheckDay()
	Stop() error
}

// startQueues starts the queue actors on a single node; in cluster mode
// the front door started with the cluster is the server's, and the node
// that owns the domain loads it.
func (s *Server) startQueues(cfg queue.Config) (Queues, error) {
	if s.cluster != nil {
		return s.cluster.queues, nil
	}
	q, err := queue.Start(cfg)
	if err != nil {
		return nil, err
	}
	return q, nil
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

// startCluster starts relaying into the room manager and following the
// queue owner, then joins: the first member list already reaches both.
func (s *Server) startCluster(qcfg queue.Config) error {
	if s.cluster == nil {
		return nil
	}
	c := s.cluster
	if err := c.bridge.Start(s.rooms); err != nil {
		return err
	}
	c.queues = cluster.NewQueues(qcfg, c.node, c.node)
	c.queues.Start(c.node, c.bridge)
	return c.node.Start()
}

// stopCluster leaves the cluster; the library stops the actor system.
func (s *Server) stopCluster(ctx context.Context) error {
	if s.cluster == nil {
		return nil
	}
	var err error
	if s.cluster.queues != nil {
		err = within(ctx, "queue owner", s.cluster.queues.Stop)
	}
	return errors.Join(err, s.cluster.node.Stop(ctx))
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
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "queuecast_cluster_queue_holder", Help: "1 while this node holds the queue actors (it is their owner and has loaded them), else 0."},
			func() float64 {
				if c.queues != nil && c.queues.Holding() {
					return 1
				}
				return 0
			}),
	}
}
