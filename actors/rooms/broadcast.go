package rooms

import (
	"encoding/json"
	"sync/atomic"
)

// Outbox receives broadcasts for one socket. Deliver must not block; it
// reports false when the socket is gone.
type Outbox interface {
	Deliver(b *Broadcast) bool
}

// Broadcast is one event for many sockets. It is immutable once published.
type Broadcast struct {
	Event string
	Data  json.RawMessage // nil sends the event with no argument

	wire atomic.Value
}

// NewBroadcast makes a broadcast of event with the JSON encoding of data.
func NewBroadcast(event string, data any) (*Broadcast, error) {
	if data == nil {
		return &Broadcast{Event: event}, nil
	}
	raw, err := json.Marshal(data)
	if err != nil {
		return nil, err
	}
	return &Broadcast{Event: event, Data: raw}, nil
}

// Wire returns the broadcast's encoded form, made by encode on first use and
// shared by every later caller. encode must be a pure function of b; two
// first callers may both run it, and one result wins.
func (b *Broadcast) Wire(encode func(*Broadcast) any) any {
	if v := b.wire.Load(); v != nil {
		return v
	}
	b.wire.CompareAndSwap(nil, encode(b))
	return b.wire.Load()
}
