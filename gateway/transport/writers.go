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
	var (
		batch [writerBatch]*Outbox
		iov   net.Buffers
	)
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
			iov = w.write(batch[i], iov)
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

// write writes one outbox's queue and reschedules it if more arrived.
func (w *writers) write(o *Outbox, iov net.Buffers) net.Buffers {
	frames, conn, done := o.take()
	if done {
		return iov
	}
	iov = iov[:0]
	for _, f := range frames {
		iov = append(iov, f.ws)
	}
	rest := iov
	_ = conn.SetWriteDeadline(time.Now().Add(fastWriteTimeout))
	_, err := rest.WriteTo(conn)
	o.recycle(frames)
	switch {
	case err == nil:
		if o.finish() {
			w.schedule(o)
		}
	case errors.Is(err, os.ErrDeadlineExceeded):
		go o.writeSlow(conn, append(net.Buffers(nil), rest...))
	default:
		o.writeFailed(err)
	}
	clear(iov[:cap(iov)])
	return iov
}
