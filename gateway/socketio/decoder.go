package socketio

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// maxIDDigits bounds the ack id so that it always fits in an int64.
const maxIDDigits = 18

// Decode parses one text packet (without the Engine.IO '4' prefix) and
// validates it like socket.io-parser 4.2:
//
//   - CONNECT: payload absent or a JSON object;
//   - DISCONNECT: no payload;
//   - EVENT, BINARY_EVENT: a non-empty array whose first element is a string
//     that is not a reserved event name (see IsReservedEvent) or a number;
//   - ACK, BINARY_ACK: an array;
//   - CONNECT_ERROR: an object or a string.
//
// A namespace runs from '/' to the next ',' or to the end of the packet
// ("40/custom" is accepted, as the official suite requires). An ack id is a
// run of at most 18 decimal digits. The attachment count of a binary type is
// 1 to 3 digits followed by '-', at most MaxAttachments. Anything else,
// including an unknown type, bad JSON, or text after the ack id that is not
// JSON, is ErrInvalidPacket wrapped with detail.
//
// Data aliases b; Namespace does not. Decode never fills Buffers: binary
// packets are reassembled by a Decoder.
func Decode(b []byte) (*Packet, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: empty", ErrInvalidPacket)
	}
	p := &Packet{Type: PacketType(b[0] - '0'), Namespace: MainNamespace, ID: NoID}
	if !p.Type.valid() {
		return nil, fmt.Errorf("%w: unknown type %q", ErrInvalidPacket, b[0])
	}
	i := 1
	if p.Type.IsBinary() {
		j := skipDigits(b, i)
		if j == i || j-i > 3 || j == len(b) || b[j] != '-' {
			return nil, fmt.Errorf("%w: bad attachment count", ErrInvalidPacket)
		}
		n := atoi(b[i:j])
		if n > MaxAttachments {
			return nil, fmt.Errorf("%w: %d attachments, limit %d", ErrInvalidPacket, n, MaxAttachments)
		}
		p.Attachments = int(n)
		i = j + 1
	}
	if i < len(b) && b[i] == '/' {
		j := bytes.IndexByte(b[i:], ',')
		if j < 0 {
			p.Namespace = string(b[i:])
			i = len(b)
		} else {
			p.Namespace = string(b[i : i+j])
			i += j + 1
		}
	}
	if j := skipDigits(b, i); j > i {
		if j-i > maxIDDigits {
			return nil, fmt.Errorf("%w: ack id too long", ErrInvalidPacket)
		}
		p.ID = atoi(b[i:j])
		i = j
	}
	if i < len(b) {
		p.Data = json.RawMessage(b[i:])
	}
	if err := validatePayload(p.Type, p.Data); err != nil {
		return nil, err
	}
	return p, nil
}

// atoi parses a short run of ASCII digits already checked by the caller.
func atoi(b []byte) int64 {
	var n int64
	for _, c := range b {
		n = n*10 + int64(c-'0')
	}
	return n
}

func validatePayload(t PacketType, data json.RawMessage) error {
	if data == nil {
		switch t {
		case Connect, Disconnect:
			return nil
		}
		return fmt.Errorf("%w: %v without payload", ErrInvalidPacket, t)
	}
	if t == Disconnect {
		return fmt.Errorf("%w: DISCONNECT with payload", ErrInvalidPacket)
	}
	v, ok := scanJSON(data, nil)
	if !ok {
		return fmt.Errorf("%w: payload of %v is not JSON", ErrInvalidPacket, t)
	}
	switch t {
	case Connect:
		ok = v.kind == '{'
	case ConnectError:
		ok = v.kind == '{' || v.kind == '"'
	case Ack, BinaryAck:
		ok = v.kind == '['
	case Event, BinaryEvent:
		if v.kind != '[' || v.first == nil {
			return fmt.Errorf("%w: %v payload is not a non-empty array", ErrInvalidPacket, t)
		}
		return validateEventName(v.first)
	}
	if !ok {
		return fmt.Errorf("%w: wrong payload kind for %v", ErrInvalidPacket, t)
	}
	return nil
}

// validateEventName checks the first element of an event array.
func validateEventName(first []byte) error {
	switch c := first[0]; {
	case c == '-' || isDigit(c):
		return nil
	case c != '"':
		return fmt.Errorf("%w: event name is not a string", ErrInvalidPacket)
	}
	if bytes.IndexByte(first, '\\') < 0 {
		if isReserved(first[1 : len(first)-1]) {
			return fmt.Errorf("%w: reserved event name %s", ErrInvalidPacket, first)
		}
		return nil
	}
	name, err := unquote(first)
	if err != nil {
		return fmt.Errorf("%w: event name: %w", ErrInvalidPacket, err)
	}
	if IsReservedEvent(name) {
		return fmt.Errorf("%w: reserved event name %q", ErrInvalidPacket, name)
	}
	return nil
}

// Decoder reassembles binary packets: a BINARY_EVENT or BINARY_ACK text
// packet is followed by its attachments as separate binary messages, and the
// packet is complete after the last one. One Decoder serves one connection;
// it is not safe for concurrent use. The zero value is ready to use.
type Decoder struct {
	// MaxBytes bounds the attachments of a binary packet together (0: no
	// bound). Each message, the text part included, is already bounded by
	// the transport; without this, a packet announcing MaxAttachments
	// attachments could hold that many times the transport's limit.
	MaxBytes int

	pending *Packet
	size    int // attachment bytes of the pending packet so far
}

// AddText decodes a text packet (see Decode). complete is false, and p nil,
// while a binary packet waits for its attachments; such a packet keeps its
// own copy of Data, so b may be reused. A complete packet's Data aliases b.
// A text packet arriving while attachments are awaited is ErrInvalidPacket.
// After any error the Decoder is reset.
func (d *Decoder) AddText(b []byte) (p *Packet, complete bool, err error) {
	if d.pending != nil {
		err = fmt.Errorf("%w: text packet while %d of %d attachments are missing",
			ErrInvalidPacket, d.pending.Attachments-len(d.pending.Buffers), d.pending.Attachments)
		d.Reset()
		return nil, false, err
	}
	p, err = Decode(b)
	if err != nil {
		return nil, false, err
	}
	if p.Attachments == 0 {
		return p, true, nil
	}
	p.Data = bytes.Clone(p.Data)
	p.Buffers = make([][]byte, 0, p.Attachments)
	d.pending, d.size = p, 0
	return nil, false, nil
}

// AddBinary adds one attachment to the awaited binary packet. The slice is
// retained: the caller must not reuse it. complete is true, with the packet,
// on the last attachment. Binary data while nothing is awaited is
// ErrInvalidPacket.
func (d *Decoder) AddBinary(b []byte) (p *Packet, complete bool, err error) {
	if d.pending == nil {
		return nil, false, fmt.Errorf("%w: unexpected binary attachment", ErrInvalidPacket)
	}
	p = d.pending
	if d.size += len(b); d.MaxBytes > 0 && d.size > d.MaxBytes {
		d.Reset()
		return nil, false, fmt.Errorf("%w: binary packet over %d bytes", ErrTooLarge, d.MaxBytes)
	}
	p.Buffers = append(p.Buffers, b)
	if len(p.Buffers) < p.Attachments {
		return nil, false, nil
	}
	d.pending, d.size = nil, 0
	return p, true, nil
}

// Reset drops any partly received binary packet.
func (d *Decoder) Reset() { d.pending, d.size = nil, 0 }

// Awaiting reports how many attachments the Decoder still waits for.
func (d *Decoder) Awaiting() int {
	if d.pending == nil {
		return 0
	}
	return d.pending.Attachments - len(d.pending.Buffers)
}
