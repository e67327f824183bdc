package limits

import (
	"errors"
	"net/netip"
	"sync"
)

// Refusals of a new connection.
var (
	ErrTooManyConns        = errors.New("limits: the node is at its connection limit")
	ErrTooManyConnsPerAddr = errors.New("limits: too many connections from this address")
)

// Conns counts the open connections of a node, in total and per address.
// An address has an entry only while it has connections, so the map is
// bounded by the total limit.
type Conns struct {
	max, maxPerAddr int // <= 0: off

	mu     sync.Mutex
	total  int
	byAddr map[netip.Addr]int32
	peak   int // the most addresses held since the map was made
}

// NewConns returns a counter refusing past max in total and maxPerAddr per
// address; a limit <= 0 is off.
func NewConns(max, maxPerAddr int) *Conns {
	return &Conns{max: max, maxPerAddr: maxPerAddr, byAddr: make(map[netip.Addr]int32)}
}

// Acquire counts a new connection from addr, or refuses it with
// ErrTooManyConns or ErrTooManyConnsPerAddr and counts nothing. Every
// successful Acquire is matched by one Release.
func (c *Conns) Acquire(addr netip.Addr) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.max > 0 && c.total >= c.max {
		return ErrTooManyConns
	}
	if c.maxPerAddr > 0 && int(c.byAddr[addr]) >= c.maxPerAddr {
		return ErrTooManyConnsPerAddr
	}
	c.total++
	c.byAddr[addr]++
	c.peak = max(c.peak, len(c.byAddr))
	return nil
}

// Release uncounts a connection counted by Acquire.
func (c *Conns) Release(addr netip.Addr) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, ok := c.byAddr[addr]
	if !ok {
		return
	}
	c.total--
	if n <= 1 {
		delete(c.byAddr, addr)
		c.byAddr, c.peak = shrunk(c.byAddr, c.peak)
	} else {
		c.byAddr[addr] = n - 1
	}
}

// Open returns the connections counted, in total and from addr.
func (c *Conns) Open(addr netip.Addr) (total, fromAddr int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.total, int(c.byAddr[addr])
}

// Limits returns the caps, in total and per address (<= 0: off).
func (c *Conns) Limits() (max, maxPerAddr int) { return c.max, c.maxPerAddr }
