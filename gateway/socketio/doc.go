// Package socketio is the Socket.IO v5 packet codec.
//
// It owns the text form of Socket.IO packets (type digit, attachment count,
// namespace, ack id, JSON payload), the validity rules the Node parser
// (socket.io-parser 4.2) applies to incoming packets, the reassembly of
// binary packets from a text packet and its attachments (Decoder), and the
// small JSON helpers a server needs to read and write event payloads without
// decoding them (SplitEvent, AppendEventData, AppendArrayData, Placeholder).
//
// It does not add or strip the Engine.IO message prefix ('4'), and it keeps
// JSON payloads as raw bytes, exactly as received: decoding arguments into Go
// values is the caller's business.
//
// Concurrency: the package-level functions are pure and safe for concurrent
// use. A Decoder holds the state of one connection and must be used by one
// goroutine at a time. Decoded packets alias their input unless a doc comment
// says otherwise.
package socketio
