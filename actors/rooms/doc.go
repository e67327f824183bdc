// Package rooms owns room membership and fan-out.
//
// The Manager actor is the single entry point on a node: it creates a Room
// actor when the first member joins and stops it when the last one leaves,
// so it always knows each room's size. Each Room actor owns its members and
// delivers broadcasts to them. Delivery hands one shared *Broadcast to each
// member's Outbox, which never blocks; the first Outbox to need the wire form
// encodes it and every other member reuses those bytes, so a broadcast costs
// O(1) allocations whatever the room size.
//
// Nothing here knows the wire protocol: a Broadcast is an event name and a
// JSON payload, and Outbox is implemented by the gateway.
package rooms
