package socketio

import (
	"encoding/json"
	"strconv"
)

// MaxAttachments is the largest attachment count Decode accepts in a binary
// packet header. The Node parser has no limit of its own (only the transport's
// maxPayload bounds it); 64 binary arguments in one event or ack is far beyond
// what applications send, and the cap bounds what a Decoder allocates before
// any attachment has arrived.
const MaxAttachments = 64

// Placeholder returns the JSON that stands for attachment num inside a binary
// packet's payload: {"_placeholder":true,"num":N}, compact, keys in this
// order (the official suite compares it byte for byte).
func Placeholder(num int) json.RawMessage {
	return AppendPlaceholder(make([]byte, 0, 32), num)
}

// AppendPlaceholder appends Placeholder(num) to dst.
func AppendPlaceholder(dst []byte, num int) []byte {
	dst = append(dst, `{"_placeholder":true,"num":`...)
	dst = strconv.AppendInt(dst, int64(num), 10)
	return append(dst, '}')
}
