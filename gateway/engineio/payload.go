package engineio

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
)

// RecordSeparator joins the packets of a v4 polling body.
const RecordSeparator byte = 0x1e

// ErrInvalidPayload reports a polling body that is not valid Engine.IO v4.
// DecodePayload wraps it with detail; test for it with errors.Is.
var ErrInvalidPayload = errors.New("engineio: invalid payload")

// AppendPollingPacket appends the polling form of one packet: a binary
// Message as 'b' followed by the standard (padded) base64 of Data, anything
// else as AppendText.
func AppendPollingPacket(dst []byte, p Packet) []byte {
	if !p.Binary || p.Type != Message {
		return AppendText(dst, p)
	}
	dst = append(dst, 'b')
	return base64.StdEncoding.AppendEncode(dst, p.Data)
}

// DecodePollingPacket parses one polling record: a text packet as DecodeText,
// or 'b' + standard base64 as a binary Message whose Data is a freshly
// allocated slice (never nil). Errors wrap ErrInvalidPacket.
func DecodePollingPacket(b []byte) (Packet, error) {
	if len(b) == 0 || b[0] != 'b' {
		return DecodeText(b)
	}
	data, err := base64.StdEncoding.AppendDecode(make([]byte, 0, base64.StdEncoding.DecodedLen(len(b)-1)), b[1:])
	if err != nil {
		return Packet{}, fmt.Errorf("%w: bad base64: %w", ErrInvalidPacket, err)
	}
	return Packet{Type: Message, Data: data, Binary: true}, nil
}

// DecodePayload splits a v4 polling body on the 0x1e record separator and
// calls fn for each packet in order. A record starting with 'b' is a base64
// binary Message. It stops at the first error: fn's error is returned as is,
// an empty body or a bad record (including an empty one, as in "4a\x1e\x1e4b"
// or a trailing separator) is ErrInvalidPayload wrapped with the record index
// and the packet error. Nothing after a bad record reaches fn; records before
// it already have. Text packets' Data aliases body; binary ones are decoded
// into a fresh slice.
func DecodePayload(body []byte, fn func(Packet) error) error {
	if len(body) == 0 {
		return fmt.Errorf("%w: empty body", ErrInvalidPayload)
	}
	for i := 0; ; i++ {
		rec, rest, more := bytes.Cut(body, []byte{RecordSeparator})
		p, err := DecodePollingPacket(rec)
		if err != nil {
			return fmt.Errorf("%w: record %d: %w", ErrInvalidPayload, i, err)
		}
		if err := fn(p); err != nil {
			return err
		}
		if !more {
			return nil
		}
		body = rest
	}
}

// AppendPayload appends pkts in polling form (see AppendPollingPacket),
// joined by 0x1e, to dst. With no packets it appends nothing, which is not a
// valid body: callers always send at least one packet.
func AppendPayload(dst []byte, pkts ...Packet) []byte {
	for i, p := range pkts {
		if i > 0 {
			dst = append(dst, RecordSeparator)
		}
		dst = AppendPollingPacket(dst, p)
	}
	return dst
}
