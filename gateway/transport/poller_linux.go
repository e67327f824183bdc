//go:build linux

package transport

import (
	"errors"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
)

// A poller reads many WebSockets from one goroutine. Each connection is
// registered, level-triggered, in the poller's own epoll set; the epoll
// descriptor itself is parked in Go's network poller, so a poller with
// nothing to read costs no thread. When sockets become readable the poller
// reads each once into one shared buffer and feeds the bytes to the
// connection's frame parser, which sends whole messages to the session
// actor.
//
// This replaces a goroutine, a bufio.Reader and a library connection per
// socket: an idle connected socket then holds only its session's state.
type poller struct {
	epfd   int
	file   *os.File // epfd, for parking in Go's poller
	rc     syscall.RawConn
	events []syscall.EpollEvent
	buf    []byte
	ready  []*wsConn
	waitN  int
	waitFn func(fd uintptr) bool

	// One read into buf, for whichever connection is being read; set up
	// once so a read allocates nothing.
	readFn  func(fd uintptr) bool
	readN   int
	readErr error

	mu    sync.Mutex
	conns map[int32]*wsConn // by descriptor; entries carry a generation
	gen   int32
}

// pollers spreads connections over a few pollers.
type pollers struct {
	set  []*poller
	next atomic.Uint32
}

// newPollers starts n pollers. It returns nil if the platform refuses (the
// server then reads each connection from a goroutine of its own).
func newPollers(n int) (*pollers, error) {
	ps := &pollers{}
	for range n {
		p, err := newPoller()
		if err != nil {
			ps.close()
			return nil, err
		}
		ps.set = append(ps.set, p)
		go p.run()
	}
	return ps, nil
}

// pick chooses the poller of a new connection.
func (ps *pollers) pick() *poller {
	return ps.set[int(ps.next.Add(1))%len(ps.set)]
}

func (ps *pollers) close() {
	for _, p := range ps.set {
		_ = p.file.Close()
	}
}

func newPoller() (*poller, error) {
	fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	if err := syscall.SetNonblock(fd, true); err != nil {
		_ = syscall.Close(fd)
		return nil, err
	}
	p := &poller{
		epfd:   fd,
		file:   os.NewFile(uintptr(fd), "epoll"),
		events: make([]syscall.EpollEvent, 256),
		buf:    make([]byte, 64<<10),
		conns:  make(map[int32]*wsConn),
	}
	if p.rc, err = p.file.SyscallConn(); err != nil {
		_ = p.file.Close()
		return nil, err
	}
	p.waitFn = func(fd uintptr) bool {
		n, err := syscall.EpollWait(int(fd), p.events, 0)
		switch {
		case err == syscall.EINTR:
			p.waitN = 0
			return true
		case err != nil:
			p.waitN = -1
			return true
		}
		p.waitN = n
		return n > 0 // none ready: park until the epoll set is readable
	}
	p.readFn = func(fd uintptr) bool {
		p.readN, p.readErr = syscall.Read(int(fd), p.buf)
		p.readN = max(p.readN, 0)
		return true
	}
	return p, nil
}

// add registers c, whose session is set, and starts reading it.
func (p *poller) add(c *wsConn) error {
	var err error
	cerr := c.rc.Control(func(fd uintptr) {
		// Inside Control the descriptor cannot be closed and reused.
		p.mu.Lock()
		defer p.mu.Unlock()
		if c.removed {
			err = errReaderEnded
			return
		}
		p.gen++
		c.fd, c.gen = int32(fd), p.gen
		p.conns[c.fd] = c
		ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP, Fd: c.fd, Pad: c.gen}
		if err = syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, int(fd), &ev); err != nil {
			delete(p.conns, c.fd)
		}
	})
	if cerr != nil {
		return cerr
	}
	return err
}

// remove forgets c, registered or not; it is called before c's descriptor
// is closed, which takes it out of the epoll set.
func (p *poller) remove(c *wsConn) {
	p.mu.Lock()
	c.removed = true
	if p.conns[c.fd] == c {
		delete(p.conns, c.fd)
	}
	p.mu.Unlock()
}

// pause takes c out of the epoll set while its session is too far behind
// (see wsConn). It is called by the poller's own goroutine, the only one
// that pauses; resume, from anywhere, puts c back with rearm.
func (p *poller) pause(c *wsConn) {
	_ = c.rc.Control(func(fd uintptr) {
		_ = syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_DEL, int(fd), nil)
	})
	c.paused.Store(true) // only once out of the set, so rearm cannot come first
	if c.caughtUp() {
		p.rearm(c)
	}
}

// rearm puts a paused c back into the epoll set, unless it was removed.
func (p *poller) rearm(c *wsConn) {
	_ = c.rc.Control(func(fd uintptr) {
		p.mu.Lock()
		defer p.mu.Unlock()
		if c.removed {
			return
		}
		ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP, Fd: c.fd, Pad: c.gen}
		_ = syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, int(fd), &ev)
	})
}

func (p *poller) run() {
	for {
		if err := p.rc.Read(p.waitFn); err != nil || p.waitN < 0 {
			return // closed
		}
		p.mu.Lock()
		for _, ev := range p.events[:p.waitN] {
			if c := p.conns[ev.Fd]; c != nil && c.gen == ev.Pad {
				p.ready = append(p.ready, c)
			}
		}
		p.mu.Unlock()
		for i, c := range p.ready {
			p.read(c)
			p.ready[i] = nil
		}
		p.ready = p.ready[:0]
	}
}

// read reads c once and feeds what came.
func (p *poller) read(c *wsConn) {
	err := c.rc.Read(p.readFn)
	n, rerr := p.readN, p.readErr
	switch {
	case err != nil: // closed under us
		c.end(errReaderEnded)
	case n > 0:
		c.feed(p.buf[:n])
		if c.tooFarBehind() {
			p.pause(c)
		}
	case errors.Is(rerr, syscall.EAGAIN) || errors.Is(rerr, syscall.EINTR):
		// Nothing after all; level-triggered, so it will be reported again.
	default: // end of stream or a socket error
		c.end(errReaderEnded)
	}
}

// startPolled moves c's reading to a poller, if there is one and c is a
// TCP connection; false means the caller must read c itself.
func (s *Server) startPolled(c *wsConn) bool {
	if c.poller == nil || c.rc == nil {
		return false
	}
	if err := c.poller.add(c); err != nil {
		c.end(errReaderEnded)
	}
	return true
}
