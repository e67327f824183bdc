package api

import (
	"math"
	"net/netip"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/queuecast/queuecast/gateway/limits"
)

// restLimits are the API's token buckets: one per client address, one per
// token subject.
type restLimits struct {
	byAddr    *limits.Keyed[netip.Addr]
	bySubject *limits.Keyed[string]
}

func newRESTLimits(cfg limits.Config) restLimits {
	cfg = cfg.WithDefaults()
	return restLimits{
		byAddr:    limits.NewKeyed[netip.Addr](cfg.REST(), cfg.MaxKeys),
		bySubject: limits.NewKeyed[string](cfg.Token(), cfg.MaxKeys),
	}
}

// LimitAddress answers 429 with Retry-After to an address over its request
// rate. It runs before the token is verified, so a flood of bad tokens is
// bounded too.
func (a *API) LimitAddress(c *fiber.Ctx) error {
	ok, wait := a.limits.byAddr.Allow(limits.Addr(c.Context().RemoteAddr().String()), time.Now())
	if !ok {
		a.cfg.Refusals.REST.Add(1)
		return tooMany(c, wait)
	}
	return c.Next()
}

// LimitToken answers 429 with Retry-After to a token subject (user id) over
// its request rate, from whatever address. Guests have no subject; their
// address's bucket bounds them. It runs after Identify.
func (a *API) LimitToken(c *fiber.Ctx) error {
	id := IdentityOf(c)
	if id.UserID == "" {
		return c.Next()
	}
	ok, wait := a.limits.bySubject.Allow(id.UserID, time.Now())
	if !ok {
		a.cfg.Refusals.Token.Add(1)
		return tooMany(c, wait)
	}
	return c.Next()
}

func tooMany(c *fiber.Ctx, wait time.Duration) error {
	c.Set(fiber.HeaderRetryAfter, strconv.Itoa(int(math.Ceil(max(wait, time.Second).Seconds()))))
	return fiber.NewError(fiber.StatusTooManyRequests, "rate limit exceeded")
}
