package transport

import (
	"net"
	"sync"
	"time"
)

type outboxMode uint8

const (
	modePolling outboxMode = iota
	modeWebSocket
)

// pollResult answers one polling GET.
type pollResult struct {
	status int
	body   []byte
}

// Outbox is the bounded outbound queue of one session, with exactly one
// writer. Push never blocks: on WebSocket a writer goroutine, started only
// while there is something to write, drains the queue into one writev per
// batch; on polling the queue waits for the next GET. When the queued bytes
// pass the limit, or a write does not finish within the write timeout, the
// session is failed with ReasonSlowConsumer.
type Outbox struct {
	mu           sync.Mutex
	queue        []*Frame
	spare        []*Frame
	queued       int
	limit        int
	writeTimeout time.Duration
	mode         outboxMode
	conn         net.Conn
	flushing     bool
	closed       bool
	closeConn    bool
	waiter       chan<- pollResult
	onFail       func(Reason)
	failed       bool

	iov net.Buffers // writer-only scratch
}

func newOutbox(limit int, writeTimeout time.Duration, onFail func(Reason)) *Outbox {
	return &Outbox{limit: limit, writeTimeout: writeTimeout, onFail: onFail}
}

// Push queues one frame. It reports false when the outbox is closed or the
// frame overflowed the queue (the session is then being failed).
func (o *Outbox) Push(f *Frame) bool {
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return false
	}
	if o.queued+f.Size() > o.limit && len(o.queue) > 0 {
		o.mu.Unlock()
		o.fail(ReasonSlowConsumer)
		return false
	}
	o.queue = append(o.queue, f)
	o.queued += f.Size()
	switch {
	case o.mode == modeWebSocket:
		if !o.flushing {
			o.flushing = true
			o.mu.Unlock()
			go o.flush()
			return true
		}
	case o.waiter != nil:
		w := o.waiter
		o.waiter = nil
		body := o.drainPollingLocked()
		o.mu.Unlock()
		w <- pollResult{status: 200, body: body}
		return true
	}
	o.mu.Unlock()
	return true
}

// poll answers a GET at once when packets are queued, or parks it until the
// next Push. It reports false when a GET is already parked.
func (o *Outbox) poll(reply chan<- pollResult) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.waiter != nil {
		return false
	}
	if len(o.queue) > 0 {
		reply <- pollResult{status: 200, body: o.drainPollingLocked()}
		return true
	}
	o.waiter = reply
	return true
}

// releasePoll answers a parked GET with f alone (a noop or a close).
func (o *Outbox) releasePoll(f *Frame) {
	o.mu.Lock()
	w := o.waiter
	o.waiter = nil
	o.mu.Unlock()
	if w != nil {
		w <- pollResult{status: 200, body: f.appendPolling(nil)}
	}
}

func (o *Outbox) drainPollingLocked() []byte {
	n := 0
	for _, f := range o.queue {
		n += f.Size() + 1
	}
	body := make([]byte, 0, n+n/3)
	for i, f := range o.queue {
		if i > 0 {
			body = append(body, 0x1e)
		}
		body = f.appendPolling(body)
	}
	clear(o.queue)
	o.queue = o.queue[:0]
	o.queued = 0
	return body
}

// useWebSocket switches the outbox to a WebSocket connection and flushes
// whatever was queued for polling.
func (o *Outbox) useWebSocket(conn net.Conn) {
	o.mu.Lock()
	o.mode = modeWebSocket
	o.conn = conn
	start := len(o.queue) > 0 && !o.flushing
	if start {
		o.flushing = true
	}
	o.mu.Unlock()
	if start {
		go o.flush()
	}
}

// close queues the last frames, refuses any later Push and, on WebSocket,
// closes the connection once they are written. On polling a parked GET is
// answered with last[0] when given.
func (o *Outbox) close(last ...*Frame) {
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return
	}
	o.closed = true
	if o.mode == modePolling {
		w := o.waiter
		o.waiter = nil
		o.mu.Unlock()
		if w != nil {
			body := []byte{}
			if len(last) > 0 {
				body = last[0].appendPolling(body)
			}
			w <- pollResult{status: 200, body: body}
		}
		return
	}
	o.queue = append(o.queue, last...)
	o.closeConn = true
	start := !o.flushing
	if start {
		o.flushing = true
	}
	o.mu.Unlock()
	if start {
		go o.flush()
	}
}

// fail closes the outbox at once, drops what is queued, closes the
// connection and reports the reason once.
func (o *Outbox) fail(reason Reason) {
	o.mu.Lock()
	if o.failed {
		o.mu.Unlock()
		return
	}
	o.failed = true
	o.closed = true
	clear(o.queue)
	o.queue = o.queue[:0]
	o.queued = 0
	conn := o.conn
	w := o.waiter
	o.waiter = nil
	o.mu.Unlock()
	// Report first: closing the connection makes its reader report a
	// transport close, and the session must hear the real reason first.
	if o.onFail != nil {
		o.onFail(reason)
	}
	if conn != nil {
		_ = conn.Close()
	}
	if w != nil {
		w <- pollResult{status: 200, body: frameClose.appendPolling(nil)}
	}
}

// flush is the single writer of a WebSocket outbox. It runs while the queue
// is not empty and exits when it is, so an idle connection holds no
// goroutine for writing.
func (o *Outbox) flush() {
	for {
		o.mu.Lock()
		if len(o.queue) == 0 || o.failed {
			o.flushing = false
			closeConn := o.closeConn && !o.failed
			conn := o.conn
			o.mu.Unlock()
			if closeConn {
				_ = conn.Close()
			}
			return
		}
		batch := o.queue
		o.queue = o.spare
		o.spare = nil
		o.queued = 0
		conn := o.conn
		o.mu.Unlock()

		o.iov = o.iov[:0]
		for _, f := range batch {
			o.iov = append(o.iov, f.ws)
		}
		iov := o.iov
		_ = conn.SetWriteDeadline(time.Now().Add(o.writeTimeout))
		_, err := iov.WriteTo(conn)
		clear(o.iov[:cap(o.iov)])
		clear(batch)

		o.mu.Lock()
		o.spare = batch[:0]
		o.mu.Unlock()
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				o.fail(ReasonSlowConsumer)
			} else {
				o.fail(ReasonTransportError)
			}
			return
		}
	}
}
