package transport

import (
	"encoding/binary"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/queuecast/queuecast/gateway/wsframe"
)

// Errors a WebSocket reader reports to its session (in wsClosed).
var (
	errReadLimit   = errors.New("transport: websocket message over the size limit")
	errWSProtocol  = errors.New("transport: websocket protocol error")
	errInvalidUTF8 = errors.New("transport: websocket text that is not UTF-8")
	errPeerClosed  = errors.New("transport: websocket closed by the client")
	errReaderEnded = errors.New("transport: websocket reader stopped")
)

// wsConn is one WebSocket after its handshake: the raw connection the
// outbox writes to, and the reader that turns its bytes into messages for
// the session. Inbound frames are parsed here, not by a library connection
// object, so an idle socket costs neither a goroutine nor a read buffer (see
// poller_linux.go).
//
// The reader never runs far ahead of its session: every message it sends
// counts against Config.MaxInboundBytes until the session has handled it,
// and past that bound the connection is not read (the poller stops
// watching it, the fallback reader waits) until the session is down to
// half. The client's TCP window then closes and it is the client that waits.
// Both sides count in a field of their own and meet in behind only now and
// then: the reader once per read, the session every flushEvery bytes, or at
// once while the reader is paused, so a message costs no shared atomic.
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
	msgUTF8 int    // length of the text reassembled so far known to be UTF-8
	inMsg   bool
	ended   bool   // wsClosed sent; nothing more is delivered
	peer    uint16 // status code of the client's close frame, 0 for none
	handed  int64  // inboundCost sent to the session and not yet added to behind

	behind    atomic.Int64  // inboundCost sent to the session, less what it reported handled
	paused    atomic.Bool   // not read until the session catches up
	wake      chan struct{} // the fallback reader's: resumed, or closed
	closeSent atomic.Bool   // the server's close frame is written
	sink      func(any)     // tests: where messages go instead of the session

	closeOnce sync.Once
	poller    *poller // reads this connection; nil for the fallback reader
	fd, gen   int32   // registration in the poller
	removed   bool    // guarded by the poller's lock

	// Touched only by the session's goroutine, away from the reader's
	// fields.
	done int64 // inboundCost handled and not yet taken off behind
}

// close stops reading and closes the connection, once. It is called by the
// outbox, by the reader when the client went away, and by the upgrade paths.
func (c *wsConn) close() {
	c.closeOnce.Do(func() {
		if c.poller != nil {
			c.poller.remove(c)
		}
		_ = c.raw.Close()
		if c.wake != nil {
			select {
			case c.wake <- struct{}{}:
			default:
			}
		}
		if c.srv != nil {
			c.srv.conns.Done()
		}
	})
}

// shut ends the connection once the server's close frame is written. As RFC
// 6455 section 7.1.1 asks, the server closes TCP first, but only its sending
// half: the client reads the close frame, answers it and closes, and the
// reader closes on that. Closing at once would make the kernel answer bytes
// the client is still sending with a reset, which can destroy the close
// frame before the client reads it. closeGrace bounds the wait.
func (c *wsConn) shut() {
	c.closeSent.Store(true)
	hc, ok := c.raw.(interface{ CloseWrite() error })
	if !ok || hc.CloseWrite() != nil {
		c.close()
		return
	}
	c.resume() // the client's answer must be read even if the session fell behind
	time.AfterFunc(closeGrace, c.close)
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
			c.publish()
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
	c.publish()
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
			if op == 0x1 && !utf8.Valid(payload) {
				return 0, errInvalidUTF8
			}
			c.deliver(op, payload)
			break
		}
		c.msgUTF8 = 0
		if op == 0x1 {
			n, ok := utf8Prefix(payload)
			if !ok {
				return 0, errInvalidUTF8
			}
			c.msgUTF8 = n
		}
		c.msg = append(make([]byte, 0, 2*len(payload)), payload...)
		c.msgOp, c.inMsg = op, true
	case 0x0: // continuation
		if !c.inMsg {
			return 0, errWSProtocol
		}
		c.msg = append(c.msg, payload...)
		if c.msgOp == 0x1 {
			// Checked as the fragments come, so that a client is failed
			// at the first byte that cannot be UTF-8, not only at the end.
			n, ok := utf8Prefix(c.msg[c.msgUTF8:])
			if c.msgUTF8 += n; !ok || fin && c.msgUTF8 != len(c.msg) {
				return 0, errInvalidUTF8
			}
		}
		if fin {
			msg := c.msg
			c.msg, c.inMsg = nil, false
			c.hand(&wsMessage{conn: c, binary: c.msgOp == 0x2, data: msg})
		}
	case 0x8: // close
		code, err := closeStatus(payload)
		if err != nil {
			return 0, err
		}
		c.peer = code
		return 0, errPeerClosed
	case 0x9: // ping
		if !c.closeSent.Load() {
			c.handed += inboundCost(len(payload))
			c.send(&wsPing{conn: c, data: append([]byte(nil), payload...)})
		}
	case 0xA: // pong
	default:
		return 0, errWSProtocol
	}
	return end, nil
}

// closeStatus checks the payload of a client's close frame (RFC 6455
// sections 5.5.1 and 7.4): empty, or a status code a peer may send followed
// by a UTF-8 reason. It returns the code, 0 for none.
func closeStatus(p []byte) (uint16, error) {
	switch {
	case len(p) == 0:
		return 0, nil
	case len(p) == 1:
		return 0, errWSProtocol
	}
	code := binary.BigEndian.Uint16(p)
	if !wsframe.ValidCloseCode(code) {
		return 0, errWSProtocol
	}
	if !utf8.Valid(p[2:]) {
		return 0, errInvalidUTF8
	}
	return code, nil
}

// utf8Prefix checks p, a run of text that more fragments may continue: it
// is valid so far if it is UTF-8 except for a last character whose first
// bytes could still be completed. It returns the length of p up to that
// last character.
func utf8Prefix(p []byte) (n int, ok bool) {
	if utf8.Valid(p) {
		return len(p), true
	}
	start := len(p) - 1
	for start > 0 && start >= len(p)-3 && !utf8.RuneStart(p[start]) {
		start--
	}
	// tail is a first byte and the continuation bytes after it.
	tail := p[start:]
	need, lo, hi := 0, byte(0x80), byte(0xBF) // length, range of the second byte
	switch b := tail[0]; {
	case b >= 0xC2 && b <= 0xDF:
		need = 2
	case b >= 0xE0 && b <= 0xEF:
		need = 3
		if b == 0xE0 {
			lo = 0xA0 // shorter forms are overlong
		} else if b == 0xED {
			hi = 0x9F // beyond are the surrogates
		}
	case b >= 0xF0 && b <= 0xF4:
		need = 4
		if b == 0xF0 {
			lo = 0x90
		} else if b == 0xF4 {
			hi = 0x8F // beyond is past U+10FFFF
		}
	}
	if len(tail) >= need || len(tail) > 1 && (tail[1] < lo || tail[1] > hi) || !utf8.Valid(p[:start]) {
		return 0, false
	}
	return start, true
}

// deliver hands one unfragmented message to the session; the session owns
// the copy.
func (c *wsConn) deliver(op byte, payload []byte) {
	if c.closeSent.Load() {
		return // the session has closed: the reader only waits for the client's close
	}
	c.hand(&wsMessage{conn: c, binary: op == 0x2, data: append([]byte(nil), payload...)})
}

// hand sends a message to the session, counting it until the session has
// handled it.
func (c *wsConn) hand(m *wsMessage) {
	c.handed += inboundCost(len(m.data))
	c.send(m)
}

// publish adds what this read handed the session to behind.
func (c *wsConn) publish() {
	if c.handed != 0 {
		c.behind.Add(c.handed)
		c.handed = 0
	}
}

func (c *wsConn) send(msg any) {
	if c.sink != nil {
		c.sink(msg)
		return
	}
	c.srv.system.Root.Send(c.pid, msg)
}

// inboundCost is what one message from the reader weighs against
// Config.MaxInboundBytes: its bytes and its envelope in the session's
// mailbox.
func inboundCost(n int) int64 { return int64(n) + 64 }

// handled is called by the session for every message it takes from this
// reader. What it handled is taken off behind every flushEvery, and at once
// while the reader is paused, which resumes once the session is down to
// half the bound. Until then behind overstates what is in flight by less
// than flushEvery, itself at most half the bound: a session with nothing
// left always counts as caught up, so a pause cannot outlast it.
func (c *wsConn) handled(n int) {
	c.done += inboundCost(n)
	if c.done < c.flushEvery() && !c.paused.Load() {
		return
	}
	left := c.behind.Add(-c.done)
	c.done = 0
	if left <= c.resumeAt() && c.paused.Load() {
		c.resume()
	}
}

func (c *wsConn) flushEvery() int64 { return int64(min(16<<10, c.srv.cfg.MaxInboundBytes/2)) }

// tooFarBehind reports whether the session has so much left to handle that
// the connection must not be read further for now.
func (c *wsConn) tooFarBehind() bool {
	return !c.ended && c.behind.Load() > int64(c.srv.cfg.MaxInboundBytes)
}

func (c *wsConn) resumeAt() int64 { return int64(c.srv.cfg.MaxInboundBytes / 2) }

// caughtUp is called by the reader once it has marked c paused: if the
// session caught up meanwhile, it takes the pause back and reports true.
// Otherwise whoever next finds the session caught up resumes the reader.
func (c *wsConn) caughtUp() bool {
	return c.behind.Load() <= c.resumeAt() && c.paused.CompareAndSwap(true, false)
}

// resume restarts a paused reader; exactly one caller wins the pause.
func (c *wsConn) resume() {
	if !c.paused.CompareAndSwap(true, false) {
		return
	}
	if c.poller != nil {
		c.poller.rearm(c)
		return
	}
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// end tells the session the connection is finished. A reader that ended
// goes on reading, and drops what it reads, until the client closes.
func (c *wsConn) end(err error) {
	if c.ended {
		if err == errReaderEnded {
			c.close()
		}
		return
	}
	c.ended = true
	c.pending, c.msg = nil, nil
	c.send(&wsClosed{conn: c, err: err, code: c.peer})
	if err == errReaderEnded || c.closeSent.Load() {
		// The client went away, or answered the server's close frame.
		c.close()
		return
	}
	// The connection still works: the session answers with a close frame,
	// the echo of the client's or one naming the error (1002, 1007, 1009),
	// and shuts the connection. Close it anyway if the session does not.
	time.AfterFunc(closeGrace, c.close)
}

// closeGrace bounds how long a connection stays open for the closing
// handshake: for the session's close frame after the client's or after an
// error, and for the client's answer after the server's.
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
// poller is available (not Linux, or not a TCP connection). It runs until
// the connection is closed.
func (c *wsConn) readLoop() {
	buf := make([]byte, 4096)
	for {
		n, err := c.raw.Read(buf)
		if n > 0 {
			c.feed(buf[:n])
		}
		if err != nil {
			c.end(errReaderEnded)
			return
		}
		if c.tooFarBehind() {
			c.paused.Store(true)
			if !c.caughtUp() {
				<-c.wake // resumed, or closed
			}
		}
	}
}
