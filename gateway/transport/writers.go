package transport

import (
	"errors"
	"net"
	"os"
	"runtime"
	"sync"
	"time"
)

// fastWriteTimeout bounds a pool write. A write that cannot finish that
// quickly means the client's socket buffer is full; the rest is handed to a
// goroutine of the client's own, so the pool never waits on one client.
const fastWriteTimeout = 2 * time.Millisecond

// writers is a node's pool of WebSocket writer goroutines. An outbox with
// frames waiting is put on the ready list once; a worker takes it, writes
// its whole queue in one writev and puts it back on the list if more came
// meanwhile. Idle connections therefore hold no writer goroutine, and a
// fan-out to many connections costs one syscall per connection per sweep
// however many frames each one has waiting.
type writers struct {
	mu    sync.Mutex
	cond  sync.Cond
	ready []*Outbox
	head  int
	stop  bool
	wg    sync.WaitGroup
}

// newWriters starts n workers; n <= 0 means GOMAXPROCS.
func newWriters(n int) *writers {
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	w := &writers{}
	w.cond.L = &w.mu
	w.wg.Add(n)
	for i := 0; i < n; i++ {
		go w.run()
	}
	return w
}

func (w *writers) schedule(o *Outbox) {
	w.mu.Lock()
	w.ready = append(w.ready, o)
	w.mu.Unlock()
	w.cond.Signal()
}

// close stops the workers once the ready list is empty.
func (w *writers) close() {
	w.mu.Lock()
	w.stop = true
	w.mu.Unlock()
	w.cond.Broadcast()
	w.wg.Wait()
}

const writerBatch = 32

func (w *writers) run() {
	defer w.wg.Done()
	var batch [writerBatch]*Outbox
	sc := newWriteScratch()
	for {
		w.mu.Lock()
		for w.head == len(w.ready) && !w.stop {
			w.cond.Wait()
		}
		if w.head == len(w.ready) {
			w.mu.Unlock()
			return
		}
		n := w.takeLocked(batch[:])
		w.mu.Unlock()
		for i := 0; i < n; i++ {
			w.write(batch[i], sc)
			batch[i] = nil
		}
	}
}

// takeLocked moves up to len(batch) outboxes from the front of the ready
// list into batch. Lock held.
func (w *writers) takeLocked(batch []*Outbox) int {
	n := copy(batch, w.ready[w.head:])
	clear(w.ready[w.head : w.head+n])
	w.head += n
	switch {
	case w.head == len(w.ready):
		w.ready, w.head = w.ready[:0], 0
	case w.head >= 1024 && w.head*2 >= len(w.ready):
		// Under steady load the list never empties: drop the consumed
		// prefix so it does not grow without bound.
		k := copy(w.ready, w.ready[w.head:])
		clear(w.ready[k:])
		w.ready, w.head = w.ready[:k], 0
	}
	return n
}

// writeScratch is what one writer reuses from write to write.
type writeScratch struct {
	bufs net.Buffers
	raw  *rawWriter
}

func newWriteScratch() *writeScratch { return &writeScratch{raw: newRawWriter()} }

// errWouldBlock reports that the socket took part of a write only.
var errWouldBlock = errors.New("transport: socket buffer full")

// write writes one outbox's queue and reschedules it if more arrived.
//
// On Linux the write is one non-blocking writev on the descriptor: no
// deadline to arm, and a socket that cannot take everything at once sends
// the rest to the slow path at once. Elsewhere it is a writev bounded by
// fastWriteTimeout.
func (w *writers) write(o *Outbox, sc *writeScratch) {
	frames, ws, done := o.take()
	if done {
		return
	}
	iov := sc.bufs[:0]
	for _, f := range frames {
		iov = append(iov, f.ws)
	}
	rest := iov
	var err error
	if ws.rc != nil && rawWrites {
		var n int
		n, err = sc.raw.writeNow(ws.rc, iov)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			// A deadline left behind by a slow or direct write.
			_ = ws.raw.SetWriteDeadline(time.Time{})
			n, err = sc.raw.writeNow(ws.rc, iov)
		}
		if err == nil {
			if rest = consume(rest, n); len(rest) > 0 {
				err = errWouldBlock
			}
		}
	} else {
		_ = ws.raw.SetWriteDeadline(time.Now().Add(fastWriteTimeout))
		_, err = rest.WriteTo(ws.raw)
	}
	o.recycle(frames)
	switch {
	case err == nil:
		if o.finish() {
			w.schedule(o)
		}
	case err == errWouldBlock || errors.Is(err, os.ErrDeadlineExceeded):
		go o.writeSlow(ws.raw, append(net.Buffers(nil), rest...))
	default:
		o.writeFailed(err)
	}
	clear(iov[:cap(iov)])
	sc.bufs = iov[:0]
}

// consume drops the first n bytes of b.
func consume(b net.Buffers, n int) net.Buffers {
	for len(b) > 0 && n >= len(b[0]) {
		n -= len(b[0])
		b = b[1:]
	}
	if len(b) > 0 {
		b[0] = b[0][n:]
	}
	return b
}
