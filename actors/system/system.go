// Package system creates queuecast's actor systems.
//
// Every socket is an actor, so the actor registry holds one entry per
// connection. protoactor-go shards its registry 1,024 ways and each shard is
// again a concurrent map of 32 maps: 32,768 Go maps, which never shrink.
// After a burst of connections touched all of them they hold about 8 MB for
// good, and their headers alone are 2 MB at start. One map per registry
// shard keeps the 1,024-way lock striping and drops the rest.
package system

import (
	"log/slog"

	"github.com/asynkron/protoactor-go/actor"
	cmap "github.com/orcaman/concurrent-map"
)

func init() {
	// Must run before any concurrent map exists: a map's shard is chosen
	// modulo this count. Package initialisation precedes every actor
	// system a queuecast process creates.
	cmap.SHARD_COUNT = 1
}

// New returns an actor system logging through log.
func New(log *slog.Logger) *actor.ActorSystem {
	return actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return log }))
}
