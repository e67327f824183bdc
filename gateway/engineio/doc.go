// Package engineio is the Engine.IO v4 packet and polling-payload codec.
//
// It owns the wire form of single packets (a type digit followed by an
// optional payload), of HTTP long-polling bodies (packets joined by the 0x1e
// record separator, binary messages written as "b" + base64) and of the open
// packet's handshake JSON. It knows nothing about transports, sessions,
// timers or Socket.IO; the gateway's connection code does that and uses this
// package to turn bytes into packets and back.
//
// Concurrency: every function is pure and safe to call from any number of
// goroutines. Decoded packets may alias the input buffer (each function says
// when), so a caller that reuses its read buffer must copy what it keeps.
package engineio
