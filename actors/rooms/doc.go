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
// Supervision: the manager restarts a failed room (OneForOne, at most 10 in
// a minute) with its membership intact, since every incarnation of a room
// is the same *room; only the message it failed on is lost. A room failing
// more often is stopped and forgotten, with an error log naming it and its
// member count. The manager itself runs under the root guardian's default
// strategy; a restart of the manager stops every room, and it logs how
// many memberships that drops. No room or manager starts a goroutine or a
// timer.
// In a cluster the manager also hands every publish made on its node, and
// every join announcement, to Peers, once; publishes that arrive from
// other nodes are marked Forwarded and delivered here only. A single node
// has no Peers and its publish path is unchanged.
//
// Nothing here knows the wire protocol: a Broadcast is an event name and a
// JSON payload, and Outbox is implemented by the gateway.
package rooms
