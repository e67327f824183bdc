package limits

import "sync/atomic"

// Refusals counts what the limits refused since start, for metrics. The
// zero value is ready.
type Refusals struct {
	ConnRate     atomic.Int64 // handshakes over an address's connection rate
	ConnsPerAddr atomic.Int64 // handshakes over MaxConnsPerAddr
	Conns        atomic.Int64 // handshakes over MaxConns
	Events       atomic.Int64 // events refused or dropped
	Disconnects  atomic.Int64 // connections closed past their event debt
	REST         atomic.Int64 // API requests over an address's rate
	Token        atomic.Int64 // API requests over a token subject's rate
}
