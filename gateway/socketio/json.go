package socketio

import "encoding/json"

// maxJSONDepth is the nesting limit of encoding/json, kept identical so that
// scanJSON accepts exactly what json.Valid accepts.
const maxJSONDepth = 10000

// jsonValue describes one validated top-level JSON value.
type jsonValue struct {
	kind  byte   // first byte of the value: '{', '[', '"', 't', 'f', 'n', '-' or a digit
	first []byte // an array's first element, nil for an empty array or a non-array
}

// scanJSON validates data as exactly one JSON value (surrounding whitespace
// allowed), accepting what json.Valid accepts. When elems is not nil and the
// value is an array, the elements are appended to *elems as slices of data,
// trimmed of whitespace. It is a single pass that allocates nothing beyond
// what it appends.
func scanJSON(data []byte, elems *[]json.RawMessage) (jsonValue, bool) {
	i := skipSpace(data, 0)
	if i == len(data) {
		return jsonValue{}, false
	}
	v := jsonValue{kind: data[i]}
	var end int
	if v.kind == '[' {
		end = scanArray(data, i, 0, &v.first, elems)
	} else {
		end = scanValue(data, i, 0)
	}
	if end < 0 || skipSpace(data, end) != len(data) {
		return jsonValue{}, false
	}
	return v, true
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// scanValue validates the JSON value starting exactly at b[i], nested inside
// depth containers, and returns the index just past it, or -1.
func scanValue(b []byte, i, depth int) int {
	if i >= len(b) {
		return -1
	}
	switch c := b[i]; {
	case c == '{':
		return scanObject(b, i, depth)
	case c == '[':
		return scanArray(b, i, depth, nil, nil)
	case c == '"':
		return scanString(b, i)
	case c == 't':
		return scanLiteral(b, i, "true")
	case c == 'f':
		return scanLiteral(b, i, "false")
	case c == 'n':
		return scanLiteral(b, i, "null")
	case c == '-' || isDigit(c):
		return scanNumber(b, i)
	}
	return -1
}

// scanArray validates the array at b[i]. It stores the first element in
// *first and appends every element to *elems, when those are not nil.
func scanArray(b []byte, i, depth int, first *[]byte, elems *[]json.RawMessage) int {
	if depth++; depth > maxJSONDepth {
		return -1
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		return i + 1
	}
	for n := 0; ; n++ {
		end := scanValue(b, i, depth)
		if end < 0 {
			return -1
		}
		if n == 0 && first != nil {
			*first = b[i:end]
		}
		if elems != nil {
			*elems = append(*elems, b[i:end])
		}
		i = skipSpace(b, end)
		if i >= len(b) {
			return -1
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case ']':
			return i + 1
		default:
			return -1
		}
	}
}

func scanObject(b []byte, i, depth int) int {
	if depth++; depth > maxJSONDepth {
		return -1
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return -1
		}
		if i = scanString(b, i); i < 0 {
			return -1
		}
		if i = skipSpace(b, i); i >= len(b) || b[i] != ':' {
			return -1
		}
		if i = scanValue(b, skipSpace(b, i+1), depth); i < 0 {
			return -1
		}
		if i = skipSpace(b, i); i >= len(b) {
			return -1
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			return i + 1
		default:
			return -1
		}
	}
}

// scanString validates the string starting at the quote b[i]. Like
// encoding/json it checks escapes and rejects control characters but lets
// invalid UTF-8 through.
func scanString(b []byte, i int) int {
	for i++; i < len(b); {
		switch c := b[i]; {
		case c == '"':
			return i + 1
		case c == '\\':
			if i+1 >= len(b) {
				return -1
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) || !isHex(b[i+2]) || !isHex(b[i+3]) || !isHex(b[i+4]) || !isHex(b[i+5]) {
					return -1
				}
				i += 6
			default:
				return -1
			}
		case c < 0x20:
			return -1
		default:
			i++
		}
	}
	return -1
}

// scanNumber validates -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? at b[i].
func scanNumber(b []byte, i int) int {
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && isDigit(b[i]):
		i = skipDigits(b, i)
	default:
		return -1
	}
	if i < len(b) && b[i] == '.' {
		if i++; i >= len(b) || !isDigit(b[i]) {
			return -1
		}
		i = skipDigits(b, i)
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		if i++; i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !isDigit(b[i]) {
			return -1
		}
		i = skipDigits(b, i)
	}
	return i
}

func scanLiteral(b []byte, i int, lit string) int {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return -1
	}
	return i + len(lit)
}

func skipDigits(b []byte, i int) int {
	for i < len(b) && isDigit(b[i]) {
		i++
	}
	return i
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isHex(c byte) bool { return isDigit(c) || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }
