package transport

import (
	"errors"
	"math"
	"net/netip"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/queuecast/queuecast/gateway/limits"
)

// Refusals of a new session, in the transport's JSON error shape.
var (
	errConnRate      = []byte(`{"code":3,"message":"Too many new connections from this address"}`)
	errConnsPerAddr  = []byte(`{"code":3,"message":"Too many connections from this address"}`)
	errConnsCapacity = []byte(`{"code":3,"message":"Server at connection capacity"}`)
)

// capRetryAfter is the Retry-After of a refusal by a connection cap: when a
// connection closes is not known, so the client is told to back off a while.
const capRetryAfter = 5 * time.Second

// admission bounds new sessions: a token bucket of new sessions per address,
// and the open sessions in total and per address. A session counts once
// whatever its transport, from its handshake until it closes.
type admission struct {
	rate     *limits.Keyed[netip.Addr] // nil: no rate limit
	conns    *limits.Conns             // nil: no caps
	refusals *limits.Refusals
}

func newAdmission(cfg Config) admission {
	a := admission{refusals: cfg.Refusals}
	if !cfg.ConnRate.Off() {
		a.rate = limits.NewKeyed[netip.Addr](cfg.ConnRate, cfg.MaxKeys)
	}
	if cfg.MaxConns > 0 || cfg.MaxConnsPerAddr > 0 {
		a.conns = limits.NewConns(cfg.MaxConns, cfg.MaxConnsPerAddr)
	}
	return a
}

// check decides a handshake from addr before its session exists. With
// acquire it also counts the connection (polling: the session starts in
// this request); a WebSocket is counted once the upgrade is done, and only
// checked against the caps here. It writes the refusal and reports false.
func (a *admission) check(c *fiber.Ctx, addr netip.Addr, acquire bool) bool {
	if ok, wait := a.rate.Allow(addr, time.Now()); !ok {
		a.refusals.ConnRate.Add(1)
		return refuseHandshake(c, fiber.StatusTooManyRequests, errConnRate, wait)
	}
	if a.conns == nil {
		return true
	}
	var err error
	if acquire {
		err = a.conns.Acquire(addr)
	} else {
		err = a.peek(addr)
	}
	switch {
	case errors.Is(err, limits.ErrTooManyConnsPerAddr):
		a.refusals.ConnsPerAddr.Add(1)
		return refuseHandshake(c, fiber.StatusTooManyRequests, errConnsPerAddr, capRetryAfter)
	case err != nil:
		a.refusals.Conns.Add(1)
		return refuseHandshake(c, fiber.StatusServiceUnavailable, errConnsCapacity, capRetryAfter)
	}
	return true
}

// peek reports the cap a new connection from addr would pass.
func (a *admission) peek(addr netip.Addr) error {
	total, from := a.conns.Open(addr)
	max, perAddr := a.conns.Limits()
	switch {
	case max > 0 && total >= max:
		return limits.ErrTooManyConns
	case perAddr > 0 && from >= perAddr:
		return limits.ErrTooManyConnsPerAddr
	}
	return nil
}

// acquire counts an upgraded WebSocket's new session. Handshakes checked
// at the same time can pass peek together; this is the strict count.
func (a *admission) acquire(addr netip.Addr) error {
	if a.conns == nil {
		return nil
	}
	err := a.conns.Acquire(addr)
	switch {
	case errors.Is(err, limits.ErrTooManyConnsPerAddr):
		a.refusals.ConnsPerAddr.Add(1)
	case err != nil:
		a.refusals.Conns.Add(1)
	}
	return err
}

// release uncounts a session counted by check or acquire.
func (a *admission) release(addr netip.Addr) {
	if a.conns != nil {
		a.conns.Release(addr)
	}
}

func refuseHandshake(c *fiber.Ctx, status int, body []byte, wait time.Duration) bool {
	c.Set(fiber.HeaderRetryAfter, strconv.Itoa(int(math.Ceil(max(wait, time.Second).Seconds()))))
	_ = reply(c, status, body)
	return false
}
