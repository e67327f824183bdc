package cluster

import "github.com/queuecast/queuecast/actors/cluster/wire"

// Membership tells which nodes are live.
type Membership interface {
	// Self is this node's address.
	Self() string
	// Watch calls fn with the addresses of the live members, this node's
	// included, after every change of the member list. fn is called from
	// one goroutine at a time and must not block.
	Watch(fn func(members []string))
}

// Relay carries envelopes to the relay actor of another node. Send does not
// block; an envelope to a node that is gone is lost.
type Relay interface {
	Send(address string, env *wire.Envelope)
}
