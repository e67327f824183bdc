package cluster

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/cluster/clusterproviders/automanaged"
	"github.com/asynkron/protoactor-go/cluster/clusterproviders/etcd"
	"github.com/labstack/echo"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// newProvider builds the configured membership provider, and a function
// that releases what it holds if the node never starts.
func (n *Node) newProvider() (cluster.ClusterProvider, func(), error) {
	switch n.cfg.Provider {
	case ProviderEtcd:
		p, err := etcd.NewWithConfig(etcdBaseKey, n.etcdConfig())
		if err != nil {
			return nil, nil, fmt.Errorf("cluster: etcd %v: %w", n.cfg.EtcdEndpoints, err)
		}
		return p, func() {}, nil
	default:
		return n.automanaged()
	}
}

const etcdBaseKey = "/queuecast"

func (n *Node) etcdConfig() clientv3.Config {
	// The etcd client's own zap logging would bypass slog; its failures
	// reach the operator through the provider's errors instead.
	return clientv3.Config{Endpoints: n.cfg.EtcdEndpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop()}
}

// preflight checks, within 5 s, that the provider's server answers: the
// library's etcd provider waits forever for an unreachable one.
func (n *Node) preflight() error {
	if n.cfg.Provider != ProviderEtcd {
		return nil
	}
	c, err := clientv3.New(n.etcdConfig())
	if err != nil {
		return fmt.Errorf("cluster: etcd %v: %w", n.cfg.EtcdEndpoints, err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := c.Get(ctx, etcdBaseKey, clientv3.WithCountOnly()); err != nil {
		return fmt.Errorf("cluster: etcd %v does not answer: %w", n.cfg.EtcdEndpoints, err)
	}
	return nil
}

// automanaged is the library's automanaged provider with its health
// listener bound to Host (the stock one binds 0.0.0.0): every node serves
// GET /_health on Port+1 and polls every seed's.
func (n *Node) automanaged() (cluster.ClusterProvider, func(), error) {
	healthPort := n.cfg.Port + 1
	ln, err := net.Listen("tcp", net.JoinHostPort(n.cfg.Host, strconv.Itoa(healthPort)))
	if err != nil {
		return nil, nil, fmt.Errorf("cluster: health listener: %w", err)
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.Listener = ln
	e.GET("/_health", func(ctx echo.Context) error {
		return ctx.JSON(http.StatusOK, automanaged.NewNode(n.cfg.Name, n.sys.ID, n.cfg.Host, n.cfg.Port, healthPort, n.c.GetClusterKinds()))
	})
	self, _ := seedHealth(n.cfg.address())
	hosts := []string{self}
	for _, s := range n.cfg.Seeds {
		h, _ := seedHealth(s) // validated
		if !slices.Contains(hosts, h) {
			hosts = append(hosts, h)
		}
	}
	return automanaged.NewWithTesting(n.cfg.RefreshInterval, healthPort, e, hosts...), func() { _ = ln.Close() }, nil
}
