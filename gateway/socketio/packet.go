package socketio

import (
	"encoding/json"
	"errors"
	"strconv"
)

// PacketType is the Socket.IO packet type, written on the wire as one ASCII
// digit after the Engine.IO message prefix.
type PacketType byte

// The packet types of Socket.IO v5, in wire-digit order.
const (
	Connect PacketType = iota
	Disconnect
	Event
	Ack
	ConnectError
	BinaryEvent
	BinaryAck
)

var packetTypeNames = [...]string{"CONNECT", "DISCONNECT", "EVENT", "ACK", "CONNECT_ERROR", "BINARY_EVENT", "BINARY_ACK"}

// String returns the protocol name of t ("BINARY_EVENT"), or "PacketType(N)"
// for an unknown type.
func (t PacketType) String() string {
	if t.valid() {
		return packetTypeNames[t]
	}
	return "PacketType(" + strconv.Itoa(int(t)) + ")"
}

func (t PacketType) valid() bool { return t <= BinaryAck }

// IsBinary reports whether t carries an attachment count and attachments
// (BINARY_EVENT, BINARY_ACK).
func (t PacketType) IsBinary() bool { return t == BinaryEvent || t == BinaryAck }

// ErrInvalidPacket reports a packet that breaks the v5 encoding or validity
// rules; the receiver must close the whole connection. Errors from Decode and
// Decoder wrap it with detail; test for it with errors.Is.
var ErrInvalidPacket = errors.New("socketio: invalid packet")

// ErrTooLarge reports a binary packet whose attachments together pass the
// Decoder's MaxBytes; the receiver must close the connection.
var ErrTooLarge = errors.New("socketio: packet too large")

// NoID is the Packet.ID of a packet without an ack id. The zero Packet has
// ID 0, which is a real ack id: set ID to NoID explicitly.
const NoID int64 = -1

// MainNamespace is the namespace of packets that name none on the wire.
const MainNamespace = "/"

// Packet is one Socket.IO packet. Namespace is "/" when the wire omits it. ID
// < 0 (NoID) means no ack id. Data is the raw JSON payload, nil when absent.
// For binary types Attachments is the count announced in the header and
// Buffers holds the attachments, in index order, once complete.
type Packet struct {
	Type        PacketType
	Namespace   string
	ID          int64
	Data        json.RawMessage
	Attachments int
	Buffers     [][]byte
}

// AppendEncode appends the text form of p to dst: type digit, "N-" for binary
// types, "<namespace>," unless the namespace is "/" or empty, the ack id when
// ID >= 0, then Data as given. It does not add the Engine.IO '4' prefix and
// does not validate. For binary types the count is Attachments, or
// len(Buffers) when Attachments is 0. The attachments themselves are sent by
// the caller as separate Engine.IO binary messages.
func AppendEncode(dst []byte, p *Packet) []byte {
	dst = append(dst, '0'+byte(p.Type))
	if p.Type.IsBinary() {
		n := p.Attachments
		if n == 0 {
			n = len(p.Buffers)
		}
		dst = strconv.AppendInt(dst, int64(n), 10)
		dst = append(dst, '-')
	}
	if p.Namespace != "" && p.Namespace != MainNamespace {
		dst = append(dst, p.Namespace...)
		dst = append(dst, ',')
	}
	if p.ID >= 0 {
		dst = strconv.AppendInt(dst, p.ID, 10)
	}
	return append(dst, p.Data...)
}
