package cluster

import "time"

// envelopeVersion is the only wire.Envelope version this node reads.
const envelopeVersion = 1

// relayName is the relay actor's name on every node.
const relayName = "relay"

// gather is a recipient count in progress: the bridge registers it with
// its node's relay before it sends the broadcast, so every answer finds it.
type gather struct {
	id      uint64
	reply   chan<- int
	total   int
	waiting map[string]struct{} // nodes not yet answered
	started time.Time
}

// gatherExpired ends a gather whose nodes did not all answer in time.
type gatherExpired struct{ id uint64 }
