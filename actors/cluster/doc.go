// Package cluster joins queuecast nodes into one system: broadcasts reach
// every node, and the queue domain has one owner that every node routes to.
//
// Each node runs one relay actor, named "relay". A room publish made on a
// node goes to its own room manager and, once, to the relay of every other
// live node (Bridge, the manager's rooms.Peers); that relay hands it to its
// node's manager marked Forwarded, which delivers it to its own members and
// never forwards it again. So each node frames a broadcast once, a
// publisher's broadcasts arrive in the order it sent them (one manager
// mailbox, then one ordered stream per pair of nodes), and membership stays
// where the sockets are: a node joining or leaving changes nothing on the
// others. Cluster PubSub and grains are not used.
//
// The queue domain (Queues) runs on one node, the owner, chosen by
// rendezvous hashing over the live members; every node computes it from its
// own member list. Other nodes send each queue call and read to the owner
// as a QueueCall carrying the caller's deadline, and the owner answers a
// QueueReply; a node that becomes the owner loads the domain from the
// database, and one that stops being the owner stops its queue actors.
//
// Everything nodes send each other is one registered proto type,
// wire.Envelope (version, kind, payload); a relay logs (rate-limited) and
// drops an envelope of an unknown version or kind, and a gRPC interceptor
// turns the library's panic on an unknown proto type into a dropped stream,
// so a rolling deploy cannot crash a node.
//
// The package speaks to the cluster library through two small interfaces of
// its own, Membership (who is live) and Relay (send an envelope to a node);
// Node implements both with protoactor-go's cluster and remote, so another
// membership source or library version is a change to node.go and
// provider.go only.
//
// Beyond broadcasts, the relay keeps what the nodes know of each other:
// every node sends the others a NodeInfo (name, HTTP address, tag,
// connection count) when it first sees them and once a second, which
// gives the cluster's connection count and the owner of a session tag
// with no round trip. Query is a scatter-gather over the other nodes with
// a timeout that names the nodes that did not answer (admin client lists,
// metrics figures), and Leader picks one node for a cluster-wide job by
// rendezvous hashing over the member list, alike on every node.
//
// Concurrency: Bridge's Publish methods are called by the room manager,
// one at a time; its view of the members is an atomic snapshot written by
// Membership's watcher. The relay actor owns the pending recipient counts
// and queries, and hands queue calls to a goroutine each, so it never
// waits on the queue actors; Queues is safe for concurrent use (see its
// doc). The relay writes the peer table, an immutable snapshot that Owner,
// Connected and Peers read from any goroutine. Query blocks its caller
// (never an actor) until the answers or the timeout.
package cluster
