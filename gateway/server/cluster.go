package server

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/queuecast/queuecast/actors/ask"
	"github.com/queuecast/queuecast/actors/clients"
	"github.com/queuecast/queuecast/actors/cluster"
	"github.com/queuecast/queuecast/actors/queue"
	"github.com/queuecast/queuecast/actors/rooms"
	"github.com/queuecast/queuecast/gateway/api"
	"github.com/queuecast/queuecast/gateway/realtime"
	"github.com/queuecast/queuecast/gateway/transport"
)

// clusterNode is what a node of a cluster adds to a server: the membership
// and node-to-node streams, and the bridge that relays room publishes.
type clusterNode struct {
	node   *cluster.Node
	bridge *cluster.Bridge
	hub    atomic.Pointer[realtime.Hub] // set once the hub exists
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
	if c.NodeName == "" {
		c.NodeName = s.cfg.Node
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
	c.bridge.Serve(s.answer, func() int64 {
		if h := c.hub.Load(); h != nil {
			return h.Connected()
		}
		return 0
	})
	if err := c.bridge.Start(s.rooms); err != nil {
		return err
	}
	c.queues = cluster.NewQueues(qcfg, c.node, c.node)
	c.queues.Start(c.node, c.bridge)
	return c.node.Start()
}

// clusterReady refuses readiness while this node is not a member (before
// it joined, and from the moment it begins to leave).
func (s *Server) clusterReady() error {
	if s.cluster != nil && !s.cluster.node.Member() {
		return errors.New("not a cluster member")
	}
	return nil
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
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "queuecast_cluster_sent_total", Help: "Envelopes sent to other nodes (broadcasts, counts, node infos, queries, answers)."},
			func() float64 { return float64(c.node.Sent()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "queuecast_cluster_received_total", Help: "Envelopes received from other nodes."},
			func() float64 { return float64(c.bridge.Received()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "queuecast_cluster_forwarded_total", Help: "Requests for other nodes' sessions forwarded to their owners.",
			ConstLabels: prometheus.Labels{"kind": "polling"}},
			func() float64 { p, _ := s.transport.Forwarded(); return float64(p) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "queuecast_cluster_forwarded_total", Help: "Requests for other nodes' sessions forwarded to their owners.",
			ConstLabels: prometheus.Labels{"kind": "websocket"}},
			func() float64 { _, u := s.transport.Forwarded(); return float64(u) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "queuecast_cluster_queue_holder", Help: "1 while this node holds the queue actors (it is their owner and has loaded them), else 0."},
			func() float64 {
				if c.queues != nil && c.queues.Holding() {
					return 1
				}
				return 0
			}),
	}
}

// metricsJob names the cluster-wide job of sending loadBalancingMetrics.
const metricsJob = "loadBalancingMetrics"

// answerTimeout bounds this node's wait for its own actors when another
// node asks it for a part of an answer.
const answerTimeout = time.Second

// answer is this node's part of a cluster-wide answer, in JSON.
func (s *Server) answer(what, socketID string) []byte {
	var v any
	switch what {
	case cluster.QueryClients:
		recs, err := ask.Ask(s.System, s.directory, answerTimeout, func(ch chan []clients.Record) any { return &clients.List{Reply: ch} })
		if err != nil {
			return nil
		}
		v = recs
	case cluster.QueryClient:
		rec, err := ask.Ask(s.System, s.directory, answerTimeout, func(ch chan *clients.Record) any {
			return &clients.Get{SocketID: socketID, Reply: ch}
		})
		if err != nil || rec == nil {
			return nil
		}
		v = rec
	case cluster.QueryStats:
		if s.cluster.hub.Load() == nil {
			return nil
		}
		v = s.localFigures()
	default:
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		s.cfg.Logger.Error("cluster: encode answer", slog.String("query", what), slog.Any("err", err))
		return nil
	}
	return b
}

// clusterHub makes client ids unique across the cluster (the node's tag in
// their high bits) and totalConnected the cluster's.
func (s *Server) clusterHub(cfg *realtime.Config) {
	if s.cluster == nil {
		return
	}
	b := s.cluster.bridge
	cfg.ClientIDBase = int64(b.Tag()) << (53 - cluster.TagBits)
	cfg.Total = b.Connected
}

// clusterTransport makes the transport forward other nodes' sessions.
func (s *Server) clusterTransport() *transport.ClusterConfig {
	if s.cluster == nil {
		return nil
	}
	return &transport.ClusterConfig{Tag: s.cluster.bridge.Tag(), Owners: s.cluster.bridge, Secret: s.cfg.Auth.Derive("queuecast forwarded request")}
}

// clusterClients gathers the admin API's client records from every node.
func (s *Server) clusterClients() api.ClusterClients {
	if s.cluster == nil {
		return nil
	}
	return &clusterClients{bridge: s.cluster.bridge, log: s.cfg.Logger}
}

// metricsPublisher lets only the cluster's metrics leader publish.
func (s *Server) metricsPublisher() func() bool {
	if s.cluster == nil {
		return nil
	}
	b := s.cluster.bridge
	return func() bool { return b.Leader(metricsJob) }
}

// clusterFigures turns this node's snapshot into the cluster's when this
// node is the metrics leader: live nodes, summed figures, each node's own.
func (s *Server) clusterFigures(snap *snapshot, local nodeFigures) {
	if s.cluster == nil {
		return
	}
	b := s.cluster.bridge
	if !b.Leader(metricsJob) {
		return
	}
	a := b.Query(cluster.QueryStats, "", 0)
	snap.PerNode = []nodeFigures{local}
	sizes := make(map[string]int, len(local.RoomSizes))
	for r, n := range local.RoomSizes {
		sizes[r] = n
	}
	for name, raw := range a.Parts {
		var f nodeFigures
		if err := json.Unmarshal(raw, &f); err != nil {
			a.Missing = append(a.Missing, name)
			continue
		}
		f.Node = name
		snap.PerNode = append(snap.PerNode, f)
		snap.Connections += f.Connections
		snap.EventsPerSecond.In += f.EventsPerSecond.In
		snap.EventsPerSecond.Out += f.EventsPerSecond.Out
		for r, n := range f.RoomSizes {
			sizes[r] += n
		}
	}
	snap.Nodes = snap.Nodes[:0]
	for _, f := range snap.PerNode {
		snap.Nodes = append(snap.Nodes, f.Node)
	}
	sortFigures(snap.PerNode)
	slices.Sort(snap.Nodes)
	snap.RoomSizes, snap.Rooms = sizes, len(sizes)
	snap.MissingNodes = a.Missing
}

func sortFigures(fs []nodeFigures) {
	slices.SortFunc(fs, func(x, y nodeFigures) int { return strings.Compare(x.Node, y.Node) })
}

// clusterClients is the admin API's view of the other nodes' clients.
type clusterClients struct {
	bridge *cluster.Bridge
	log    *slog.Logger
}

func (c *clusterClients) Clients() ([]clients.Record, []string) {
	a := c.bridge.Query(cluster.QueryClients, "", 0)
	var out []clients.Record
	for name, raw := range a.Parts {
		var recs []clients.Record
		if err := json.Unmarshal(raw, &recs); err != nil {
			c.log.Warn("cluster: undecodable client list", slog.String("node", name), slog.Any("err", err))
			a.Missing = append(a.Missing, name)
			continue
		}
		out = append(out, recs...)
	}
	return out, a.Missing
}

func (c *clusterClients) Client(socketID string) (*clients.Record, []string) {
	a := c.bridge.Query(cluster.QueryClient, socketID, 0)
	for _, raw := range a.Parts {
		var rec clients.Record
		if err := json.Unmarshal(raw, &rec); err == nil && rec.SocketID == socketID {
			return &rec, nil
		}
	}
	return nil, a.Missing
}
