package transport

import (
	"github.com/queuecast/queuecast/gateway/engineio"
	"github.com/queuecast/queuecast/gateway/wsframe"
)

// Frame is one Engine.IO packet encoded for the wire, possibly shared by
// many sessions (a broadcast). It is immutable once built.
//
// The WebSocket form is built eagerly; the polling form of a text packet is
// the same bytes without the frame header, so it costs nothing extra.
type Frame struct {
	ws     []byte // complete WebSocket frame
	hdr    int    // length of the frame header inside ws
	binary bool
}

// NewFrame encodes p once for both transports.
func NewFrame(p engineio.Packet) *Frame {
	if p.Binary {
		n := len(p.Data)
		buf := make([]byte, 0, wsframe.HeaderLen(n)+n)
		buf = wsframe.AppendFrame(buf, wsframe.OpBinary, nil, p.Data)
		return &Frame{ws: buf, hdr: wsframe.HeaderLen(n), binary: true}
	}
	n := 1 + len(p.Data)
	buf := make([]byte, 0, wsframe.HeaderLen(n)+n)
	buf = wsframe.AppendFrame(buf, wsframe.OpText, []byte{'0' + byte(p.Type)}, p.Data)
	return &Frame{ws: buf, hdr: wsframe.HeaderLen(n)}
}

// NewMessageFrame builds a text message frame, "4" followed by data.
func NewMessageFrame(data []byte) *Frame {
	return NewFrame(engineio.Packet{Type: engineio.Message, Data: data})
}

// Size is the number of bytes the frame occupies in an outbound queue.
func (f *Frame) Size() int { return len(f.ws) }

// appendPolling appends the frame's polling form.
func (f *Frame) appendPolling(dst []byte) []byte {
	if f.binary {
		return engineio.AppendPollingPacket(dst, engineio.Packet{Type: engineio.Message, Data: f.ws[f.hdr:], Binary: true})
	}
	return append(dst, f.ws[f.hdr:]...)
}

// Prebuilt frames for the packets without data.
var (
	framePing  = NewFrame(engineio.Packet{Type: engineio.Ping})
	frameClose = NewFrame(engineio.Packet{Type: engineio.Close})
	frameNoop  = NewFrame(engineio.Packet{Type: engineio.Noop})
)
