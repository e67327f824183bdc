package rooms

// Peers carries publishes to the other nodes of a cluster, whose managers
// deliver them to their own members and never forward them again. The
// manager calls it from its own goroutine, in the order of its publishes,
// so a publisher's broadcasts reach every node in the order it sent them.
// Implementations must not block. A single node has no Peers (nil), and its
// publish path does nothing more than before.
type Peers interface {
	// Publish hands p to every other live node.
	Publish(p *Publish)
	// PublishCounted hands p to every other live node and sends p.Reply
	// the sockets addressed in the whole cluster: local (this node's
	// figure) plus what each node answers within its deadline.
	PublishCounted(p *Publish, local int)
}
