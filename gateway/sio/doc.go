// Package sio is the Socket.IO v5 server on top of the Engine.IO transport:
// namespaces, CONNECT with an auth payload, events and acks in both
// directions, binary attachments, and the connect timeout.
//
// One client (client.go) lives inside each Engine.IO session actor and owns
// that connection's sockets, one per namespace. Every callback (Authorize,
// OnConnect, event handlers, OnDisconnect, OnReceive) runs in that actor,
// one at a time, so handlers keep per-socket state without locks. Handlers
// must not block: they reply through acks and emits, which only queue bytes.
package sio
