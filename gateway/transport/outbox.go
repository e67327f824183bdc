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
// writer at a time. Push never blocks. On WebSocket, an outbox with frames
// waiting is handed to the node's writer pool (writers.go), whose goroutines
// write each ready outbox's whole queue in one writev; the more a client's
// frames pile up while the pool is busy, the more each syscall carries. A
// client whose socket buffer is full is moved off the pool to a goroutine of
// its own, which waits for it up to the write timeout. On polling the queue
// waits for the next GET. When the queued bytes pass the limit, or a write
// does not finish within the write timeout, the session is failed with
// ReasonSlowConsumer.
type Outbox struct {
	mu           sync.Mutex
	queue        []*Frame
	spare        []*Frame
	queued       int
	limit        int
	writeTimeout time.Duration
	pool         *writers
	mode         outboxMode
	ws           *wsConn
	scheduled    bool // in the pool's ready list, being written, or on the slow path
	closed       bool
	closeConn    bool
	waiter       chan<- pollResult
	onFail       func(Reason)
	failed       bool
}

func newOutbox(limit int, writeTimeout time.Duration, pool *writers, onFail func(Reason)) *Outbox {
	return &Outbox{limit: limit, writeTimeout: writeTimeout, pool: pool, onFail: onFail}
}

// Push queues one frame. It reports false when the outbox is closed or the
// frame overflowed the queue (the session is then being failed).
func (o *Outbox) Push(f *Frame) bool {
	o.mu.Lock()
	if !o.appendLocked(f) {
		return false
	}
	switch {
	case o.mode == modeWebSocket:
		if !o.scheduled {
			o.scheduled = true
			o.mu.Unlock()
			o.pool.schedule(o)
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

// appendLocked queues f within the byte limit. On false the lock has been
// released: the outbox is closed, or f overflowed it and the session is
// being failed as a slow consumer. On true the lock is still held.
func (o *Outbox) appendLocked(f *Frame) bool {
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
	return true
}

// pushDeferred queues a frame from the session actor itself without waking
// a writer; flushOwn, at the end of the actor's turn, writes it.
func (o *Outbox) pushDeferred(f *Frame) bool {
	o.mu.Lock()
	if o.mode != modeWebSocket || o.scheduled {
		o.mu.Unlock()
		return o.Push(f)
	}
	if !o.appendLocked(f) {
		return false
	}
	o.mu.Unlock()
	return true
}

// flushOwn writes what the session actor queued during its turn, on the
// actor's goroutine. The write is bounded like a pool write: a full socket
// buffer moves the rest to a goroutine of the client's own.
func (o *Outbox) flushOwn() {
	o.mu.Lock()
	if o.mode != modeWebSocket || o.scheduled || len(o.queue) == 0 {
		o.mu.Unlock()
		return
	}
	o.scheduled = true
	o.mu.Unlock()
	sc := scratchPool.Get().(*writeScratch)
	o.pool.write(o, sc)
	scratchPool.Put(sc)
}

var scratchPool = sync.Pool{New: func() any { return newWriteScratch() }}

// poll answers a GET at once when packets are queued, or parks it until the
// next Push. It reports false when a GET is already parked, or when the
// outbox is closed and has nothing left for the client.
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
	if o.closed {
		return false
	}
	o.waiter = reply
	return true
}

// takeWaiter removes and returns the parked GET, if any.
func (o *Outbox) takeWaiter() chan<- pollResult {
	o.mu.Lock()
	defer o.mu.Unlock()
	w := o.waiter
	o.waiter = nil
	return w
}

// releasePoll answers a parked GET with f alone (a noop or a close).
func (o *Outbox) releasePoll(f *Frame) bool {
	o.mu.Lock()
	w := o.waiter
	o.waiter = nil
	o.mu.Unlock()
	if w != nil {
		w <- pollResult{status: 200, body: f.appendPolling(nil)}
	}
	return w != nil
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
func (o *Outbox) useWebSocket(ws *wsConn) {
	o.mu.Lock()
	o.mode = modeWebSocket
	o.ws = ws
	start := len(o.queue) > 0 && !o.scheduled
	if start {
		o.scheduled = true
	}
	o.mu.Unlock()
	if start {
		o.pool.schedule(o)
	}
}

// close queues the last frames and refuses any later Push. On WebSocket the
// connection is shut (wsConn.shut) once they are written. On polling, with keep, what
// is queued plus last[0] (the close packet) goes to the parked GET or, if
// none, to the next one; without keep a parked GET gets last[0] alone and
// the backlog is dropped.
func (o *Outbox) close(keep bool, last ...*Frame) {
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return
	}
	o.closed = true
	if o.mode == modePolling {
		w := o.waiter
		if !keep {
			clear(o.queue)
			o.queue = o.queue[:0]
			o.queued = 0
		}
		if len(last) > 0 && (keep || w != nil) {
			o.queue = append(o.queue, last[0])
		}
		o.waiter = nil
		var body []byte
		if w != nil {
			body = o.drainPollingLocked()
		}
		o.mu.Unlock()
		if w != nil {
			w <- pollResult{status: 200, body: body}
		}
		return
	}
	o.queue = append(o.queue, last...)
	o.closeConn = true
	start := !o.scheduled
	if start {
		o.scheduled = true
	}
	o.mu.Unlock()
	if start {
		o.pool.schedule(o)
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
	ended := o.closed // the session closed it: it needs no reason
	o.closed = true
	clear(o.queue)
	o.queue = o.queue[:0]
	o.queued = 0
	ws := o.ws
	w := o.waiter
	o.waiter = nil
	o.mu.Unlock()
	// Report first: closing the connection makes its reader report a
	// transport close, and the session must hear the real reason first.
	if o.onFail != nil && !ended {
		o.onFail(reason)
	}
	if ws != nil {
		ws.close()
	}
	if w != nil {
		w <- pollResult{status: 200, body: frameClose.appendPolling(nil)}
	}
}

// take hands the writer everything queued. done reports that there is
// nothing to write; the outbox is then unscheduled, and its connection
// closed if that was asked for.
func (o *Outbox) take() (batch []*Frame, ws *wsConn, done bool) {
	o.mu.Lock()
	if len(o.queue) == 0 || o.failed {
		o.scheduled = false
		closeConn := o.closeConn && !o.failed
		ws := o.ws
		o.mu.Unlock()
		if closeConn {
			ws.shut()
		}
		return nil, nil, true
	}
	batch = o.queue
	o.queue = o.spare
	o.spare = nil
	o.queued = 0
	ws = o.ws
	o.mu.Unlock()
	return batch, ws, false
}

// finish is called by a pool writer after a successful write: it reports
// whether more frames came meanwhile (the outbox stays scheduled), or
// unschedules it and closes the connection if that was asked for.
func (o *Outbox) finish() (again bool) {
	o.mu.Lock()
	if len(o.queue) > 0 && !o.failed {
		o.mu.Unlock()
		return true
	}
	o.scheduled = false
	closeConn := o.closeConn && !o.failed
	ws := o.ws
	o.mu.Unlock()
	if closeConn {
		ws.shut()
	}
	return false
}

// recycle gives a written batch's slice back for the next one.
func (o *Outbox) recycle(batch []*Frame) {
	clear(batch)
	o.mu.Lock()
	o.spare = batch[:0]
	o.mu.Unlock()
}

// writeFailed fails the outbox for a write error.
func (o *Outbox) writeFailed(err error) {
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		o.fail(ReasonSlowConsumer)
	} else {
		o.fail(ReasonTransportError)
	}
}

// writeSlow is the writer of a client whose socket buffer filled up: it
// finishes rest, then drains the queue itself, each write bounded by the
// write timeout, and hands the outbox back to the pool once it is empty.
func (o *Outbox) writeSlow(conn net.Conn, rest net.Buffers) {
	for {
		_ = conn.SetWriteDeadline(time.Now().Add(o.writeTimeout))
		if _, err := rest.WriteTo(conn); err != nil {
			o.writeFailed(err)
			return
		}
		batch, ws, done := o.take()
		if done {
			return
		}
		rest = rest[:0]
		for _, f := range batch {
			rest = append(rest, f.ws)
		}
		conn = ws.raw
		o.recycle(batch)
	}
}
