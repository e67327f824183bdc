//go:build linux

package transport

import (
	"net"
	"syscall"
	"unsafe"
)

// rawWriter writes to a connection's descriptor once, without blocking and
// without a deadline: either the kernel takes the bytes now, or what is
// left goes to the slow path. The iovec array is reused across writes.
type rawWriter struct {
	iov  []syscall.Iovec
	bufs net.Buffers
	n    int
	err  error
	fn   func(fd uintptr) bool
}

func newRawWriter() *rawWriter {
	w := &rawWriter{}
	w.fn = w.write
	return w
}

func (w *rawWriter) write(fd uintptr) bool {
	if len(w.bufs) == 1 {
		w.n, w.err = syscall.Write(int(fd), w.bufs[0])
		if w.n < 0 {
			w.n = 0
		}
	} else {
		w.n, w.err = w.writev(fd)
	}
	if w.err == syscall.EAGAIN {
		w.err = nil // the socket buffer is full: the caller goes slow
	}
	return true
}

// maxIovecs is the kernel's limit on iovecs per writev (UIO_MAXIOV).
const maxIovecs = 1024

// writev writes bufs in writevs of at most maxIovecs buffers, until the
// socket takes less than it was given.
func (w *rawWriter) writev(fd uintptr) (written int, err error) {
	bufs := w.bufs
	for len(bufs) > 0 {
		w.iov = w.iov[:0]
		want := 0
		for len(bufs) > 0 && len(w.iov) < maxIovecs {
			if b := bufs[0]; len(b) > 0 {
				v := syscall.Iovec{Base: &b[0]}
				v.SetLen(len(b))
				w.iov = append(w.iov, v)
				want += len(b)
			}
			bufs = bufs[1:]
		}
		if len(w.iov) == 0 {
			break
		}
		r, _, errno := syscall.Syscall(syscall.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&w.iov[0])), uintptr(len(w.iov)))
		clear(w.iov) // drop the pointers into the frames
		if errno != 0 {
			return written, errno
		}
		written += int(r)
		if int(r) < want {
			break
		}
	}
	return written, nil
}

// writeNow writes as much of bufs as the socket takes at once and returns
// how many bytes that was.
func (w *rawWriter) writeNow(rc syscall.RawConn, bufs net.Buffers) (int, error) {
	w.bufs = bufs
	w.n, w.err = 0, nil
	err := rc.Write(w.fn)
	w.bufs = nil
	if err != nil {
		return 0, err
	}
	return w.n, w.err
}

const rawWrites = true
