package socketio

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// IsReservedEvent reports whether name is one of the event names Socket.IO
// keeps for itself and a peer may not emit: "connect", "connect_error",
// "disconnect", "disconnecting", "newListener" and "removeListener".
func IsReservedEvent(name string) bool { return isReserved([]byte(name)) }

func isReserved(name []byte) bool {
	switch string(name) {
	case "connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener":
		return true
	}
	return false
}

// SplitEvent returns the event name and the remaining arguments of an EVENT
// or BINARY_EVENT payload. Each argument is the exact raw JSON of that array
// element (aliasing data, trimmed of surrounding whitespace), so an echo
// reproduces the client's bytes. A string name is unescaped; a numeric name,
// which the Node parser tolerates, is returned as its JSON text. SplitEvent
// does not reject reserved names (Decode does). data that is not a non-empty
// JSON array led by a string or number is ErrInvalidPacket.
func SplitEvent(data json.RawMessage) (name string, args []json.RawMessage, err error) {
	elems := make([]json.RawMessage, 0, 4)
	v, ok := scanJSON(data, &elems)
	if !ok || v.kind != '[' || len(elems) == 0 {
		return "", nil, fmt.Errorf("%w: event payload is not a non-empty JSON array", ErrInvalidPacket)
	}
	switch first := elems[0]; {
	case first[0] == '"':
		if name, err = unquote(first); err != nil {
			return "", nil, fmt.Errorf("%w: event name: %w", ErrInvalidPacket, err)
		}
	case first[0] == '-' || isDigit(first[0]):
		name = string(first)
	default:
		return "", nil, fmt.Errorf("%w: event name is not a string", ErrInvalidPacket)
	}
	return name, elems[1:], nil
}

// unquote returns the value of the valid JSON string s.
func unquote(s []byte) (string, error) {
	if bytes.IndexByte(s, '\\') < 0 {
		return string(s[1 : len(s)-1]), nil
	}
	var v string
	err := json.Unmarshal(s, &v)
	return v, err
}

// AppendEventData appends the EVENT payload ["name",args...] to dst. name is
// escaped as JSON.stringify would (invalid UTF-8 becomes \ufffd); args must
// already be JSON and are written as given, except that an empty one is
// written as null so the result stays valid JSON.
func AppendEventData(dst []byte, name string, args ...json.RawMessage) []byte {
	dst = append(dst, '[')
	dst = appendJSONString(dst, name)
	for _, a := range args {
		dst = append(dst, ',')
		dst = appendRaw(dst, a)
	}
	return append(dst, ']')
}

// AppendArrayData appends the ACK payload [args...] to dst, args written as
// in AppendEventData.
func AppendArrayData(dst []byte, args ...json.RawMessage) []byte {
	dst = append(dst, '[')
	for i, a := range args {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendRaw(dst, a)
	}
	return append(dst, ']')
}

func appendRaw(dst []byte, a json.RawMessage) []byte {
	if len(a) == 0 {
		return append(dst, "null"...)
	}
	return append(dst, a...)
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string the way JSON.stringify writes
// it: only '"', '\\' and control characters are escaped, so "<", "&" and
// non-ASCII text stay as they are (unlike encoding/json's HTML-safe output).
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r != utf8.RuneError || size != 1 {
				i += size
				continue
			}
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\f':
			dst = append(dst, '\\', 'f')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		i++
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
