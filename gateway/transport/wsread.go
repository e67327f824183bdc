package transport

import (
	"encoding/binary"
	"errors"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// Errors a WebSocket reader reports to its session (in wsClosed).
var (
	errReadLimit   = errors.New("transport: websocket message over the size limit")
	errWSProtocol  = errors.New("transport: websocket protocol error")
	errPeerClosed  = errors.New("transport: websocket closed by the client")
	errReaderEnded = errors.New("transport: websocket reader stopped")
)

// wsConn is one WebSocket after its handshake: the raw connection the
// outbox writes to, and the reader that turns its bytes into messages for
// the session. Inbound frames are parsed here, not by a library connection
// object, so an idle socket costs neither a goroutine nor a read buffer (see
// poller_linux.go).
type wsConn struct {
	raw net.Conn
	rc  syscall.RawConn // raw's descriptor, for the poller and raw writes; nil if not a socket

	srv *Server
	pid *actor.PID // the session the messages go to

	// Read state, touched only by the one goroutine reading this
	// connection (a poller, or the fallback reader).
	pending []byte // start of a frame that has not fully arrived
	msg     []byte // fragments of a message being reassembled
	msgOp   byte   // opcode of the message being reassembled
	inMsg   bool
	ended   bool // wsClosed sent; nothing more is delivered

	closeOnce sync.Once
	poller    *poller // reads this connection; nil for the fallback reader
	fd, gen   int32   // registration in the poller
	removed   bool    // guarded by the poller's lock
}

// close stops reading and closes the connection, once. It is called by the
// outbox, by the reader when the client went away, and by the upgrade paths.
func (c *wsConn) close() {
	c.closeOnce.Do(func() {
		if c.poller != nil {
			c.poller.remove(c)
		}
		_ = c.raw.Close()
		if c.srv != nil {
			c.srv.conns.Done()
		}
	})
}

// feed parses data, which follows whatever earlier bytes are pending, and
// delivers every complete message. It reports false once the connection is
// finished (closed by the client, or in error); the session has then been
// told.
func (c *wsConn) feed(data []byte) bool {
	if c.ended {
		return false
	}
	if len(c.pending) > 0 {
		c.pending = append(c.pending, data...)
		data = c.pending
	}
	for len(data) > 0 {
		n, err := c.frame(data)
		if err != nil {
			c.end(err)
			return false
		}
		if n == 0 {
			break // incomplete frame
		}
		data = data[n:]
	}
	switch {
	case len(data) == 0:
		c.pending = nil
	case len(c.pending) > 0 && &data[0] == &c.pending[0]:
		// Nothing consumed: the pending buffer already holds exactly data.
	default:
		c.pending = append(make([]byte, 0, len(data)+512), data...)
	}
	return !c.ended
}

// frame handles the frame at the start of data. It returns the frame's
// length, or 0 if it has not fully arrived yet.
func (c *wsConn) frame(data []byte) (int, error) {
	if len(data) < 2 {
		return 0, nil
	}
	b0, b1 := data[0], data[1]
	fin, op := b0&0x80 != 0, b0&0x0F
	if b0&0x70 != 0 || b1&0x80 == 0 {
		// No extension is negotiated, and RFC 6455 5.1: a client masks
		// every frame.
		return 0, errWSProtocol
	}
	hdr := 6
	size := uint64(b1 & 0x7F)
	switch size {
	case 126:
		hdr = 8
		if len(data) < 4 {
			return 0, nil
		}
		size = uint64(binary.BigEndian.Uint16(data[2:4]))
	case 127:
		hdr = 14
		if len(data) < 10 {
			return 0, nil
		}
		size = binary.BigEndian.Uint64(data[2:10])
	}
	control := op >= 0x8
	if control && (!fin || size > 125) {
		return 0, errWSProtocol
	}
	limit := uint64(c.srv.cfg.MaxPayload)
	if !control && (size > limit || uint64(len(c.msg)) > limit-size) {
		return 0, errReadLimit
	}
	if len(data) < hdr || uint64(len(data)-hdr) < size {
		return 0, nil
	}
	end := hdr + int(size)
	payload := data[hdr:end]
	unmask(payload, data[hdr-4:hdr])

	switch op {
	case 0x1, 0x2: // text, binary
		if c.inMsg {
			return 0, errWSProtocol
		}
		if fin {
			c.deliver(op, payload)
		} else {
			c.msg = append(make([]byte, 0, 2*len(payload)), payload...)
			c.msgOp, c.inMsg = op, true
		}
	case 0x0: // continuation
		if !c.inMsg {
			return 0, errWSProtocol
		}
		c.msg = append(c.msg, payload...)
		if fin {
			msg := c.msg
			c.msg, c.inMsg = nil, false
			c.send(&wsMessage{conn: c, binary: c.msgOp == 0x2, data: msg})
		}
	case 0x8: // close
		return 0, errPeerClosed
	case 0x9: // ping
		c.send(&wsPing{conn: c, data: append([]byte(nil), payload...)})
	case 0xA: // pong
	default:
		return 0, errWSProtocol
	}
	return end, nil
}

// deliver hands one unfragmented message to the session; the session owns
// the copy.
func (c *wsConn) deliver(op byte, payload []byte) {
	c.send(&wsMessage{conn: c, binary: op == 0x2, data: append([]byte(nil), payload...)})
}

func (c *wsConn) send(msg any) { c.srv.system.Root.Send(c.pid, msg) }

// end tells the session the connection is finished and closes it.
func (c *wsConn) end(err error) {
	if c.ended {
		return
	}
	c.ended = true
	c.pending, c.msg = nil, nil
	c.send(&wsClosed{conn: c, err: err})
	if err == errReadLimit || err == errWSProtocol {
		// The connection still works: the session answers with a close
		// frame naming the error (1009, 1002) and closes it, as a browser
		// expects. Stop reading meanwhile; close it anyway if the session
		// does not.
		if c.poller != nil {
			c.poller.stopReading(c)
		}
		time.AfterFunc(closeGrace, c.close)
		return
	}
	c.close()
}

// closeGrace is how long a connection whose client broke the protocol stays
// open for the session's close frame.
const closeGrace = time.Second

// unmask applies the client's masking key to p in place.
func unmask(p, key []byte) {
	if len(p) >= 8 {
		k32 := binary.LittleEndian.Uint32(key)
		k64 := uint64(k32) | uint64(k32)<<32
		for len(p) >= 8 {
			binary.LittleEndian.PutUint64(p, binary.LittleEndian.Uint64(p)^k64)
			p = p[8:]
		}
	}
	for i := range p {
		p[i] ^= key[i&3]
	}
}

// readLoop is the fallback reader, a goroutine per connection, for when no
// poller is available (not Linux, or not a TCP connection).
func (c *wsConn) readLoop() {
	buf := make([]byte, 4096)
	for {
		n, err := c.raw.Read(buf)
		if n > 0 && !c.feed(buf[:n]) {
			return
		}
		if err != nil {
			c.end(errReaderEnded)
			return
		}
	}
}
