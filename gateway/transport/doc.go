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
// A Handler (the Socket.IO layer, or the echo fixture) is called only from
// its session actor's goroutine, one call at a time.
package transport
