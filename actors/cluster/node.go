package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/cluster/identitylookup/disthash"
	"github.com/asynkron/protoactor-go/remote"
	"google.golang.org/grpc"

	"github.com/queuecast/queuecast/actors/cluster/wire"
)

// Node is this process as a member of a protoactor-go cluster: the
// Membership and the Relay of the rest of the package. It hosts no grains
// and uses no PubSub; the library gives membership and the node-to-node
// streams only.
type Node struct {
	cfg      Config
	sys      *actor.ActorSystem
	c        *cluster.Cluster
	provider cluster.ClusterProvider
	closeP   func() // releases what the provider holds if Start never ran
	drops    *dropLog

	mu       sync.Mutex
	watchers []func([]string)
	stopOnce sync.Once
	started  bool
	leaving  bool
	sent     atomic.Int64
}

// NewNode configures this node's membership on sys; nothing listens until
// Start. cfg is validated.
func NewNode(sys *actor.ActorSystem, cfg Config) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	n := &Node{cfg: cfg, sys: sys, drops: newDropLog(cfg.Logger, dropLogInterval)}
	var err error
	if n.provider, n.closeP, err = n.newProvider(); err != nil {
		return nil, err
	}
	rc := remote.Configure(cfg.Host, cfg.Port,
		remote.WithEndpointWriterBatchSize(endpointBatch),
		remote.WithServerOptions(
			grpc.MaxRecvMsgSize(cfg.recvLimit()),
			grpc.ChainStreamInterceptor(guardStream(n.drops)),
			grpc.ChainUnaryInterceptor(guardUnary(n.drops)),
		))
	cc := cluster.Configure(cfg.Name, n.provider, disthash.New(), rc)
	n.c = cluster.New(sys, cc)
	sys.EventStream.Subscribe(func(evt any) {
		if t, ok := evt.(*cluster.ClusterTopology); ok {
			n.topology(t)
		}
	})
	return n, nil
}

// Start opens the cluster listener on Host:Port and joins. It takes about
// a second (the library waits for its first topology).
func (n *Node) Start() (err error) {
	if err := n.preflight(); err != nil {
		return err
	}
	defer func() {
		// The library panics where it cannot go on: a port taken, a
		// provider that cannot register.
		if p := recover(); p != nil {
			err = fmt.Errorf("cluster: start member on %s: %v", n.cfg.address(), p)
		}
	}()
	n.c.StartMember()
	n.mu.Lock()
	n.started = true
	n.mu.Unlock()
	n.cfg.Logger.Info("cluster member started", slog.String("cluster", n.cfg.Name), slog.String("address", n.Self()),
		slog.String("provider", n.cfg.Provider))
	return nil
}

// Self implements Membership.
func (n *Node) Self() string { return n.cfg.address() }

// Watch implements Membership.
func (n *Node) Watch(fn func([]string)) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.watchers = append(n.watchers, fn)
}

func (n *Node) topology(t *cluster.ClusterTopology) {
	members := make([]string, 0, len(t.Members))
	for _, m := range t.Members {
		members = append(members, m.Address())
	}
	sort.Strings(members)
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, fn := range n.watchers {
		fn(members)
	}
	if len(t.Joined) > 0 || len(t.Left) > 0 {
		n.cfg.Logger.Info("cluster topology", slog.Any("members", members), slog.Int("joined", len(t.Joined)), slog.Int("left", len(t.Left)))
	}
}

// Send implements Relay.
func (n *Node) Send(address string, env *wire.Envelope) {
	n.sent.Add(1)
	n.sys.Root.Send(actor.NewPID(address, relayName), env)
}

// Dropped is the number of undecodable messages the gRPC guard dropped.
func (n *Node) Dropped() int64 { return n.drops.Total() }

// Sent returns the envelopes this node has sent to other nodes.
func (n *Node) Sent() int64 { return n.sent.Load() }

// Member reports whether this node is a cluster member: started and not
// leaving.
func (n *Node) Member() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.started && !n.leaving
}

// Stop leaves the cluster and stops the actor system, within ctx. The
// library's graceful leave sleeps 2 s (to let grains move; this node has
// none) and waits on gRPC's graceful stop; with less than 3 s left the
// node leaves at once instead, and the others see it gone on their next
// poll. Stop returns when the library is done or ctx ends, whichever is
// first.
func (n *Node) Stop(ctx context.Context) error {
	var err error
	n.stopOnce.Do(func() {
		n.mu.Lock()
		started := n.started
		n.leaving = true
		n.mu.Unlock()
		if !started {
			n.closeP()
			return
		}
		graceful := true
		if d, ok := ctx.Deadline(); ok && time.Until(d) < 3*time.Second {
			graceful = false
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			n.c.Shutdown(graceful)
		}()
		select {
		case <-done:
		case <-ctx.Done():
			err = errors.New("cluster: leave not finished within the shutdown timeout")
		}
	})
	return err
}
