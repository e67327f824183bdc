// Package sioclient is the load generator's Socket.IO v5 client over an
// Engine.IO v4 WebSocket-only session.
//
// It owns the client side of the handshake (open packet, CONNECT with an auth
// payload, CONNECT ack), heartbeat replies, event and ack encoding, and the
// bookkeeping of acks in flight. Framing uses the repository's codec packages
// (gateway/engineio, gateway/socketio); the WebSocket layer is
// github.com/fasthttp/websocket.
//
// Concurrency: each Conn has one reader goroutine (started by Dial unless
// Options.NoRead is set) and serialises writes with a mutex, so Emit, EmitAck
// and Close are safe from any goroutine. Options.OnEvent and ack callbacks run
// on the reader goroutine, in arrival order, and must not block; the argument
// slices they receive alias the connection's read buffer and are valid only
// during the call.
package sioclient
