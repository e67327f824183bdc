// Package transport is the Engine.IO v4 server: HTTP long-polling, WebSocket,
// the upgrade from one to the other, and the server-driven heartbeat.
//
// Every Engine.IO session is a protoactor actor (session.go), spawned under
// a guardian that stops a failed session (sessions.go). The actor owns the
// session's state and its Handler; HTTP handlers and the WebSocket pollers
// (poller_linux.go, wsread.go) only send it messages; a reader whose session
// has more than Config.MaxInboundBytes of them to handle stops reading its
// socket until the session catches up. The reader enforces RFC 6455 (masking,
// fragmentation, UTF-8, close codes) and answers the closing handshake
// through the session. Outbound packets go through the session's outbox (outbox.go):
// one bounded queue per connection with exactly one writer, which frames
// many packets into a single writev on WebSocket and answers the pending GET
// on polling. Anything may push into an outbox without blocking; a client
// that falls too far behind is disconnected with ReasonSlowConsumer.
//
// In a cluster (Config.Cluster) session ids start with the node's tag, and
// a polling request or WebSocket upgrade for a session of another node is
// served by that node (forward.go): polling over a pooled HTTP client to
// the owner's HTTP port, an upgrade relayed at the TCP level, both marked
// with a signed hop header so that no request is forwarded twice and none
// can claim to be forwarded without the cluster's key. A tag of no live
// node is "Session ID unknown" at once. A single node takes none of these
// paths.
//
// A Handler (the Socket.IO layer, or the echo fixture) is called only from
// its session actor's goroutine, one call at a time.
package transport
