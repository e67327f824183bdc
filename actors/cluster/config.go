package cluster

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"
)

// Providers of membership.
const (
	ProviderAutomanaged = "automanaged"
	ProviderEtcd        = "etcd"
)

// Config is one node's cluster configuration. Zero values mean the defaults
// written on each field.
type Config struct {
	// Name is the cluster's name; nodes of other names are ignored.
	// Required.
	Name string
	// Host is the address this node binds and advertises for its cluster
	// listeners; never an unspecified address. Default 127.0.0.1.
	Host string
	// Port is the node's cluster (gRPC) port; the automanaged provider's
	// health listener is on Port+1. Default 7700.
	Port int
	// Seeds are the other nodes' host:Port (automanaged); this node is
	// always added.
	Seeds []string
	// Provider is ProviderAutomanaged (default) or ProviderEtcd.
	Provider string
	// EtcdEndpoints are the etcd servers (ProviderEtcd only).
	EtcdEndpoints []string
	// RefreshInterval is how often automanaged polls the seeds. Default
	// 500ms.
	RefreshInterval time.Duration
	// GatherTimeout bounds the wait for each node's recipient count of an
	// admin broadcast. Default 2s.
	GatherTimeout time.Duration
	// MaxMessageBytes is the largest envelope a node sends; a larger one is
	// dropped and logged. The gRPC receive limit is set from it. Default
	// 2 MiB.
	MaxMessageBytes int
	// NodeName names this node to the others (in admin answers and
	// loadBalancingMetrics). Default: its cluster address (Membership.Self).
	NodeName string
	// HTTPAddress is the host:port where other nodes reach this node's
	// HTTP listener to forward polling requests and WebSocket upgrades of
	// sessions it owns. Empty: nothing is forwarded here.
	HTTPAddress string
	// Heartbeat is how often a node tells the others its connection count
	// and addresses. Default 1s.
	Heartbeat time.Duration
	Logger    *slog.Logger
}

// endpointBatch is the most messages protoactor's endpoint writer puts in
// one gRPC message (its default is 1,000, which with large envelopes passes
// any receive limit and is dropped whole).
const endpointBatch = 32

// recvLimit is the gRPC receive limit: a full batch of the largest
// envelopes, with room for the batch's own framing.
func (c Config) recvLimit() int { return endpointBatch*(c.MaxMessageBytes+1024) + 1<<20 }

func (c Config) withDefaults() Config {
	if c.Host == "" {
		c.Host = "127.0.0.1"
	}
	if c.Port == 0 {
		c.Port = 7700
	}
	if c.Provider == "" {
		c.Provider = ProviderAutomanaged
	}
	if c.RefreshInterval == 0 {
		c.RefreshInterval = 500 * time.Millisecond
	}
	if c.GatherTimeout == 0 {
		c.GatherTimeout = 2 * time.Second
	}
	if c.MaxMessageBytes == 0 {
		c.MaxMessageBytes = 2 << 20
	}
	if c.Heartbeat == 0 {
		c.Heartbeat = time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Validate reports the first thing wrong with c (after defaults).
func (c Config) Validate() error {
	c = c.withDefaults()
	if c.Name == "" {
		return errors.New("cluster: a name is required")
	}
	if ip := net.ParseIP(c.Host); ip != nil && ip.IsUnspecified() {
		return fmt.Errorf("cluster: host %s is not an address other nodes can reach; name this node's own address", c.Host)
	}
	if c.Port < 1 || c.Port > 65534 {
		return fmt.Errorf("cluster: port %d out of range 1-65534 (the health listener takes port+1)", c.Port)
	}
	switch c.Provider {
	case ProviderAutomanaged:
		for _, s := range c.Seeds {
			if _, err := seedHealth(s); err != nil {
				return err
			}
		}
	case ProviderEtcd:
		if len(c.EtcdEndpoints) == 0 {
			return errors.New("cluster: the etcd provider needs at least one endpoint")
		}
	default:
		return fmt.Errorf("cluster: provider %q: want %s or %s", c.Provider, ProviderAutomanaged, ProviderEtcd)
	}
	if c.MaxMessageBytes < 0 || c.GatherTimeout < 0 || c.RefreshInterval < 0 || c.Heartbeat < 0 {
		return errors.New("cluster: negative limit")
	}
	return nil
}

// address is this node's advertised address, as the library spells a
// member's.
func (c Config) address() string { return c.Host + ":" + strconv.Itoa(c.Port) }

// seedHealth turns a seed host:port into the address of its health
// listener, host:port+1.
func seedHealth(seed string) (string, error) {
	host, p, err := net.SplitHostPort(seed)
	if err != nil || host == "" {
		return "", fmt.Errorf("cluster: seed %q: want host:port", seed)
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 1 || port > 65534 {
		return "", fmt.Errorf("cluster: seed %q: port out of range 1-65534", seed)
	}
	return net.JoinHostPort(host, strconv.Itoa(port+1)), nil
}
