//go:build !linux

package transport

import "errors"

// Without epoll every connection is read by a goroutine of its own
// (wsConn.readLoop).
type poller struct{}

type pollers struct{}

func newPollers(int) (*pollers, error) {
	return nil, errors.New("transport: no poller on this platform")
}

func (ps *pollers) pick() *poller { return nil }

func (ps *pollers) close() {}

func (p *poller) remove(*wsConn) {}

func (p *poller) rearm(*wsConn) {}

func (s *Server) startPolled(*wsConn) bool { return false }
