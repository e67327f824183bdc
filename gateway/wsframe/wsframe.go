// Package wsframe builds server-to-client WebSocket frames (RFC 6455).
//
// Frames from a server are never masked, so one encoded frame is byte-for-byte
// the same for every recipient: a broadcast is framed once and the same bytes
// are written to every connection. The package holds no state and is safe
// for concurrent use.
package wsframe

import "encoding/binary"

// Opcodes used by the server.
const (
	OpText   byte = 0x1
	OpBinary byte = 0x2
	OpClose  byte = 0x8
	OpPing   byte = 0x9
	OpPong   byte = 0xA
)

// Close codes.
const (
	CloseNormal       uint16 = 1000
	CloseGoingAway    uint16 = 1001
	CloseProtocol     uint16 = 1002
	CloseUnsupported  uint16 = 1003 // a kind of data the endpoint cannot accept
	CloseInvalidData  uint16 = 1007 // a text message or close reason that is not UTF-8
	ClosePolicy       uint16 = 1008
	CloseTooBig       uint16 = 1009
	CloseServerError  uint16 = 1011
	closeLastDefined  uint16 = 1014 // the last code registered with IANA so far
	closeFirstPrivate uint16 = 3000
	closeLastPrivate  uint16 = 4999
)

// ValidCloseCode reports whether a peer may send code in a close frame (RFC
// 6455 section 7.4): a code defined by the RFC or registered with IANA
// (1000-1003, 1007-1014), or one for libraries, frameworks and applications
// (3000-4999). 1004 is reserved, 1005 and 1006 must never be sent, 1015 is
// for TLS failures reported locally, and the rest of 1000-2999 is
// unassigned.
func ValidCloseCode(code uint16) bool {
	switch {
	case code >= CloseNormal && code <= CloseUnsupported:
		return true
	case code >= CloseInvalidData && code <= closeLastDefined:
		return true
	}
	return code >= closeFirstPrivate && code <= closeLastPrivate
}

// HeaderLen returns the length of the header of a final, unmasked frame with
// an n-byte payload.
func HeaderLen(n int) int {
	switch {
	case n <= 125:
		return 2
	case n <= 0xFFFF:
		return 4
	default:
		return 10
	}
}

// AppendHeader appends the header of a final, unmasked frame carrying an
// n-byte payload with the given opcode.
func AppendHeader(dst []byte, op byte, n int) []byte {
	dst = append(dst, 0x80|op)
	switch {
	case n <= 125:
		return append(dst, byte(n))
	case n <= 0xFFFF:
		return append(dst, 126, byte(n>>8), byte(n))
	default:
		dst = append(dst, 127)
		return binary.BigEndian.AppendUint64(dst, uint64(n))
	}
}

// AppendFrame appends a whole frame: header, then prefix and payload as one
// payload. prefix lets a caller put a one-byte type in front of shared data
// without copying the data first.
func AppendFrame(dst []byte, op byte, prefix, payload []byte) []byte {
	dst = AppendHeader(dst, op, len(prefix)+len(payload))
	dst = append(dst, prefix...)
	return append(dst, payload...)
}

// AppendClose appends a close frame with a status code and a reason
// (truncated to fit the 125-byte control-frame limit). Code 0 means no
// status: the frame then has no payload at all.
func AppendClose(dst []byte, code uint16, reason string) []byte {
	if code == 0 {
		return AppendHeader(dst, OpClose, 0)
	}
	if len(reason) > 123 {
		reason = reason[:123]
	}
	dst = AppendHeader(dst, OpClose, 2+len(reason))
	dst = binary.BigEndian.AppendUint16(dst, code)
	return append(dst, reason...)
}
