package sioclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/fasthttp/websocket"

	"github.com/queuecast/queuecast/gateway/engineio"
	"github.com/queuecast/queuecast/gateway/socketio"
)

var (
	// ErrClosed is passed to the callbacks of acks still in flight when the
	// connection ends, and returned by writes after Close.
	ErrClosed = errors.New("sioclient: connection closed")
	// ErrRefused reports a CONNECT_ERROR answer to the CONNECT packet.
	ErrRefused = errors.New("sioclient: connect refused")
	// ErrProtocol reports an unexpected packet during the handshake.
	ErrProtocol = errors.New("sioclient: protocol error")
)

// Event is one EVENT packet received from the server. Args alias the read
// buffer: copy what outlives the callback.
type Event struct {
	Name string
	Args []json.RawMessage
	// At is the receive time in Unix nanoseconds, read once per frame.
	At int64
}

// AckFunc receives an ACK's arguments (aliasing the read buffer) or an error
// (ErrClosed) if the connection ended first.
type AckFunc func(args []json.RawMessage, err error)

// Options configures Dial. The zero value dials without a token.
type Options struct {
	// Addr is host:port of the server.
	Addr string
	// Token is sent as the CONNECT auth payload {token}; empty sends none.
	Token string
	// Timeout bounds the WebSocket upgrade and the Socket.IO handshake
	// (default 10s).
	Timeout time.Duration
	// OnEvent is called on the reader goroutine for every EVENT packet.
	OnEvent func(c *Conn, ev Event)
	// OnClose is called once, on the reader goroutine, when the reader stops.
	OnClose func(c *Conn, err error)
	// NoRead leaves the connection unread after the handshake until
	// StartReading: a client that never reads.
	NoRead bool
	// Tag is copied to Conn.Tag before the reader starts.
	Tag int
	// Dialer is the WebSocket dialer (default: 4 KB read and 1 KB write
	// buffers).
	Dialer *websocket.Dialer
}

// Conn is one connected Socket.IO client on the main namespace.
type Conn struct {
	ws   *websocket.Conn
	opts Options
	// SID is the Socket.IO session id from the CONNECT ack.
	SID string
	// PingInterval is the server's Engine.IO heartbeat interval.
	PingInterval time.Duration
	// Tag is the caller's label (an index, a worker id), from Options.Tag.
	Tag int

	wmu    sync.Mutex
	wbuf   []byte
	closed bool

	amu     sync.Mutex
	nextID  int64
	pending map[int64]AckFunc

	startOnce sync.Once
	done      chan struct{}
	err       error
}

var defaultDialer = &websocket.Dialer{ReadBufferSize: 4096, WriteBufferSize: 1024}

// Dial opens a WebSocket-only Engine.IO session at /socket.io/ on opts.Addr
// and connects to the main namespace. It returns after the CONNECT ack.
func Dial(ctx context.Context, opts Options) (*Conn, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	d := opts.Dialer
	if d == nil {
		d = defaultDialer
	}
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	ws, _, err := d.DialContext(ctx, "ws://"+opts.Addr+"/socket.io/?EIO=4&transport=websocket", nil)
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	c := &Conn{ws: ws, opts: opts, Tag: opts.Tag, pending: make(map[int64]AckFunc), done: make(chan struct{})}
	deadline, _ := ctx.Deadline()
	if err := c.handshake(deadline); err != nil {
		_ = ws.NetConn().Close()
		return nil, err
	}
	if !opts.NoRead {
		c.StartReading()
	}
	return c, nil
}

func (c *Conn) handshake(deadline time.Time) error {
	_ = c.ws.SetReadDeadline(deadline)
	defer func() { _ = c.ws.SetReadDeadline(time.Time{}) }()
	_, msg, err := c.ws.ReadMessage()
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	p, err := engineio.DecodeText(msg)
	if err != nil || p.Type != engineio.Open {
		return fmt.Errorf("%w: want open packet, got %q", ErrProtocol, msg)
	}
	var hs engineio.Handshake
	if err := json.Unmarshal(p.Data, &hs); err != nil {
		return fmt.Errorf("%w: open payload: %v", ErrProtocol, err)
	}
	c.PingInterval = time.Duration(hs.PingInterval) * time.Millisecond
	var auth json.RawMessage
	if c.opts.Token != "" {
		auth, _ = json.Marshal(struct {
			Token string `json:"token"`
		}{c.opts.Token})
	}
	if err := c.writePacket(&socketio.Packet{Type: socketio.Connect, ID: socketio.NoID, Data: auth}); err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	for {
		_, msg, err := c.ws.ReadMessage()
		if err != nil {
			return fmt.Errorf("connect ack: %w", err)
		}
		p, err := engineio.DecodeText(msg)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrProtocol, err)
		}
		switch p.Type {
		case engineio.Ping:
			if err := c.writeRaw([]byte{'3'}); err != nil {
				return err
			}
			continue
		case engineio.Message:
		default:
			return fmt.Errorf("%w: packet %q before CONNECT ack", ErrProtocol, msg)
		}
		sp, err := socketio.Decode(p.Data)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrProtocol, err)
		}
		switch sp.Type {
		case socketio.Connect:
			var ack struct {
				SID string `json:"sid"`
			}
			_ = json.Unmarshal(sp.Data, &ack)
			c.SID = ack.SID
			return nil
		case socketio.ConnectError:
			return fmt.Errorf("%w: %s", ErrRefused, sp.Data)
		default:
			return fmt.Errorf("%w: %s before CONNECT ack", ErrProtocol, sp.Type)
		}
	}
}

// StartReading starts the reader goroutine; it is a no-op after the first
// call.
func (c *Conn) StartReading() {
	c.startOnce.Do(func() { go c.readLoop() })
}

// Done is closed when the reader goroutine has stopped.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err is the reason the reader stopped; valid after Done is closed.
func (c *Conn) Err() error { return c.err }

func (c *Conn) readLoop() {
	err := c.read()
	c.err = err
	_ = c.ws.NetConn().Close()
	c.amu.Lock()
	pending := c.pending
	c.pending = nil
	c.amu.Unlock()
	for _, fn := range pending {
		fn(nil, ErrClosed)
	}
	if c.opts.OnClose != nil {
		c.opts.OnClose(c, err)
	}
	close(c.done)
}

func (c *Conn) read() error {
	buf := make([]byte, 0, 512)
	for {
		_, r, err := c.ws.NextReader()
		if err != nil {
			return err
		}
		buf = buf[:0]
		for {
			if len(buf) == cap(buf) {
				buf = append(buf, 0)[:len(buf)]
			}
			n, err := r.Read(buf[len(buf):cap(buf)])
			buf = buf[:len(buf)+n]
			if err == io.EOF {
				break
			}
			if err != nil {
				return err
			}
		}
		at := time.Now().UnixNano()
		p, err := engineio.DecodeText(buf)
		if err != nil {
			return err
		}
		switch p.Type {
		case engineio.Ping:
			if err := c.writeRaw([]byte{'3'}); err != nil {
				return err
			}
		case engineio.Close:
			return io.EOF
		case engineio.Message:
			if err := c.dispatch(p.Data, at); err != nil {
				return err
			}
		}
	}
}

func (c *Conn) dispatch(b []byte, at int64) error {
	sp, err := socketio.Decode(b)
	if err != nil {
		return err
	}
	switch sp.Type {
	case socketio.Event:
		if c.opts.OnEvent == nil {
			return nil
		}
		name, args, err := socketio.SplitEvent(sp.Data)
		if err != nil {
			return err
		}
		c.opts.OnEvent(c, Event{Name: name, Args: args, At: at})
	case socketio.Ack:
		c.amu.Lock()
		fn := c.pending[sp.ID]
		delete(c.pending, sp.ID)
		c.amu.Unlock()
		if fn == nil {
			return nil
		}
		var args []json.RawMessage
		if err := json.Unmarshal(sp.Data, &args); err != nil {
			return err
		}
		fn(args, nil)
	case socketio.Disconnect:
		return io.EOF
	}
	return nil
}

// Emit sends an event without an ack.
func (c *Conn) Emit(name string, args ...json.RawMessage) error {
	return c.writePacket(&socketio.Packet{Type: socketio.Event, ID: socketio.NoID,
		Data: socketio.AppendEventData(nil, name, args...)})
}

// EmitAck sends an event asking for an ack; fn runs on the reader goroutine
// when it arrives, or with ErrClosed if the connection ends first.
func (c *Conn) EmitAck(fn AckFunc, name string, args ...json.RawMessage) error {
	c.amu.Lock()
	if c.pending == nil {
		c.amu.Unlock()
		return ErrClosed
	}
	id := c.nextID
	c.nextID++
	c.pending[id] = fn
	c.amu.Unlock()
	err := c.writePacket(&socketio.Packet{Type: socketio.Event, ID: id,
		Data: socketio.AppendEventData(nil, name, args...)})
	if err != nil {
		c.amu.Lock()
		if c.pending != nil {
			delete(c.pending, id)
		}
		c.amu.Unlock()
	}
	return err
}

// InFlight reports the number of acks awaited.
func (c *Conn) InFlight() int {
	c.amu.Lock()
	defer c.amu.Unlock()
	return len(c.pending)
}

func (c *Conn) writePacket(p *socketio.Packet) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closed {
		return ErrClosed
	}
	c.wbuf = socketio.AppendEncode(append(c.wbuf[:0], '4'), p)
	return c.ws.WriteMessage(websocket.TextMessage, c.wbuf)
}

func (c *Conn) writeRaw(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closed {
		return ErrClosed
	}
	return c.ws.WriteMessage(websocket.TextMessage, b)
}

// Close sends a Socket.IO DISCONNECT (best effort, bounded by a short write
// deadline) and closes the TCP connection. It does not wait for the reader.
func (c *Conn) Close() error {
	c.wmu.Lock()
	if !c.closed {
		_ = c.ws.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
		_ = c.ws.WriteMessage(websocket.TextMessage, []byte("41"))
		c.closed = true
	}
	c.wmu.Unlock()
	return c.ws.NetConn().Close()
}

// LocalAddr is the client's end of the TCP connection.
func (c *Conn) LocalAddr() net.Addr { return c.ws.NetConn().LocalAddr() }
