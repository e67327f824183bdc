// Package limits holds the node's admission limits: token buckets keyed by
// client address or token subject (Keyed), the count of open connections in
// total and per address (Conns), and one connection's event budget (Events).
//
// Keyed and Conns are shared by every HTTP handler and are safe for
// concurrent use; each is one mutex held for a map operation. They are the
// exception to "an actor owns shared state": an actor hop on every handshake
// and REST request would cost more than the check it guards, and the state is
// a lossy cache that nothing else reads. Their memory is bounded: a bucket
// that has refilled is dropped without changing any answer, and past MaxKeys
// the least useful buckets are evicted, so a flood of distinct addresses
// cannot grow them without bound. Events is owned by one connection actor.
package limits
