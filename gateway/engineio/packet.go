package engineio

import (
	"errors"
	"fmt"
	"strconv"
)

// PacketType is the Engine.IO packet type, written on the wire as one ASCII
// digit.
type PacketType byte

// The packet types of Engine.IO v4, in wire-digit order.
const (
	Open PacketType = iota
	Close
	Ping
	Pong
	Message
	Upgrade
	Noop
)

// Valid reports whether t is one of the seven packet types.
func (t PacketType) Valid() bool { return t <= Noop }

var packetTypeNames = [...]string{"open", "close", "ping", "pong", "message", "upgrade", "noop"}

// String returns the lower-case protocol name of t ("message"), or
// "PacketType(N)" for an invalid type.
func (t PacketType) String() string {
	if t.Valid() {
		return packetTypeNames[t]
	}
	return "PacketType(" + strconv.Itoa(int(t)) + ")"
}

// ErrInvalidPacket reports a packet that is not valid Engine.IO v4. Decoders
// wrap it with detail; test for it with errors.Is.
var ErrInvalidPacket = errors.New("engineio: invalid packet")

// Packet is one Engine.IO packet. Binary is only meaningful for Message
// packets: it marks a message carried as a WebSocket binary frame or as a
// "b" + base64 polling record, whose Data is the raw bytes.
type Packet struct {
	Type   PacketType
	Data   []byte
	Binary bool
}

// DecodeText parses a WebSocket text frame or one polling record,
// "<digit><payload>". Empty input or a byte other than '0'..'6' in first
// position is ErrInvalidPacket; a "b" (base64) record is only accepted by
// DecodePollingPacket. Data aliases b (no copy) and is nil when the packet
// has no payload.
func DecodeText(b []byte) (Packet, error) {
	if len(b) == 0 {
		return Packet{}, fmt.Errorf("%w: empty", ErrInvalidPacket)
	}
	t := PacketType(b[0] - '0')
	if !t.Valid() {
		return Packet{}, fmt.Errorf("%w: unknown type %q", ErrInvalidPacket, b[0])
	}
	p := Packet{Type: t}
	if len(b) > 1 {
		p.Data = b[1:]
	}
	return p, nil
}

// AppendText appends the text form "<digit><data>" of p to dst. Binary is
// ignored: a binary message goes out as a WebSocket binary frame holding
// p.Data alone, or through AppendPollingPacket.
func AppendText(dst []byte, p Packet) []byte {
	dst = append(dst, '0'+byte(p.Type))
	return append(dst, p.Data...)
}
