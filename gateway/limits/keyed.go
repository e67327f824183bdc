package limits

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Keyed is one token bucket per key (a client address, a token subject),
// with bounded memory. The zero value is not usable; see NewKeyed.
type Keyed[K comparable] struct {
	rate    Rate
	maxKeys int

	mu        sync.Mutex
	buckets   map[K]*bucket
	peak      int // the most buckets held since the map was made
	nextSweep time.Time
}

type bucket struct {
	lim  *rate.Limiter
	last time.Time // the last request; refilled once rate.refill() has passed
}

// NewKeyed returns a table of buckets of rate r keeping at most maxKeys
// buckets (at least 1). With r off, Allow always allows and keeps nothing.
func NewKeyed[K comparable](r Rate, maxKeys int) *Keyed[K] {
	r.Burst = max(r.Burst, 1)
	return &Keyed[K]{rate: r, maxKeys: max(maxKeys, 1), buckets: make(map[K]*bucket)}
}

// Allow takes a token from key's bucket. When the bucket is empty it takes
// nothing and returns false with the wait until a token is available.
func (k *Keyed[K]) Allow(key K, now time.Time) (ok bool, retryAfter time.Duration) {
	if k == nil || k.rate.Off() {
		return true, 0
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	b := k.buckets[key]
	if b == nil {
		k.makeRoom(now)
		b = &bucket{lim: rate.NewLimiter(rate.Limit(k.rate.Per), k.rate.Burst)}
		k.buckets[key] = b
		k.peak = max(k.peak, len(k.buckets))
	}
	b.last = now
	r := b.lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// Len returns the number of buckets kept.
func (k *Keyed[K]) Len() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.buckets)
}

// makeRoom keeps the table under maxKeys before a new bucket goes in. It
// first drops the buckets that have refilled (losing nothing), at most once
// a second; if every bucket is in use it evicts an arbitrary one, which
// forgets that key's recent requests: a table full of active keys is a flood
// of distinct addresses, each of which the connection caps still bound.
func (k *Keyed[K]) makeRoom(now time.Time) {
	if len(k.buckets) < k.maxKeys && now.Before(k.nextSweep) {
		return
	}
	if !now.Before(k.nextSweep) {
		k.nextSweep = now.Add(time.Second)
		idle := now.Add(-k.rate.refill())
		for key, b := range k.buckets {
			if !b.last.After(idle) {
				delete(k.buckets, key)
			}
		}
		k.buckets, k.peak = shrunk(k.buckets, k.peak)
	}
	for key := range k.buckets {
		if len(k.buckets) < k.maxKeys {
			break
		}
		delete(k.buckets, key)
	}
}

// shrunk returns m, or a copy of it when it holds under a quarter of its
// peak: a Go map keeps the memory of its largest size, and a table that held
// a flood's buckets would keep it for good. It returns the new peak.
func shrunk[K comparable, V any](m map[K]V, peak int) (map[K]V, int) {
	if peak < 1024 || len(m) >= peak/4 {
		return m, peak
	}
	c := make(map[K]V, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c, len(c)
}
