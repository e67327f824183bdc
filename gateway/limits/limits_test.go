package limits

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)

func TestKeyedBucketPerKey(t *testing.T) {
	k := NewKeyed[string](Rate{Per: 2, Burst: 3}, 100)
	for range 3 {
		ok, _ := k.Allow("a", t0)
		require.True(t, ok)
	}
	ok, wait := k.Allow("a", t0)
	require.False(t, ok, "the burst is spent")
	require.Equal(t, 500*time.Millisecond, wait, "one token every 1/2 s")

	ok, _ = k.Allow("b", t0)
	require.True(t, ok, "another key has its own bucket")

	ok, _ = k.Allow("a", t0.Add(499*time.Millisecond))
	require.False(t, ok, "a refused request takes no token, and none has refilled yet")
	ok, _ = k.Allow("a", t0.Add(500*time.Millisecond))
	require.True(t, ok)
}

func TestKeyedOffAllowsAll(t *testing.T) {
	k := NewKeyed[string](Rate{Per: -1}, 1)
	for range 1000 {
		ok, _ := k.Allow("a", t0)
		require.True(t, ok)
	}
	require.Zero(t, k.Len())
	var nilTable *Keyed[string]
	ok, _ := nilTable.Allow("a", t0)
	require.True(t, ok)
}

// A flood of distinct addresses never keeps more than MaxKeys buckets, and
// once it is over the refilled buckets go.
func TestKeyedMemoryIsBounded(t *testing.T) {
	const maxKeys = 2000
	k := NewKeyed[netip.Addr](Rate{Per: 10, Burst: 20}, maxKeys)
	for i := range 100_000 {
		addr := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		k.Allow(addr, t0.Add(time.Duration(i)*time.Microsecond))
		require.LessOrEqual(t, k.Len(), maxKeys)
	}
	// Two seconds later every bucket has refilled (20 tokens at 10/s): the
	// next new key sweeps them all.
	k.Allow(netip.MustParseAddr("192.0.2.1"), t0.Add(3*time.Second))
	require.Equal(t, 1, k.Len())
	require.Equal(t, 1, k.peak, "the map that held the flood was replaced")
}

// Evicting a bucket that has refilled changes no answer: a key that was
// refused is still refused after a sweep of idle keys.
func TestKeyedSweepKeepsBusyBuckets(t *testing.T) {
	k := NewKeyed[string](Rate{Per: 1, Burst: 2}, 10)
	k.Allow("busy", t0)
	k.Allow("busy", t0)
	for i := range 9 {
		k.Allow(fmt.Sprint("idle", i), t0)
	}
	// 1.5 s later: the idle buckets are not full yet (2 s to refill), so
	// they stay; at 2.5 s they are swept but "busy", used at 1.6 s, stays.
	ok, _ := k.Allow("busy", t0.Add(1500*time.Millisecond))
	require.True(t, ok)
	ok, _ = k.Allow("busy", t0.Add(1600*time.Millisecond))
	require.False(t, ok)
	require.Equal(t, 10, k.Len())
	k.Allow("new", t0.Add(2500*time.Millisecond))
	require.Equal(t, 2, k.Len())
	ok, _ = k.Allow("busy", t0.Add(2500*time.Millisecond))
	require.True(t, ok, "1.5 tokens: the half left at 1.5 s and one refilled since")
	ok, _ = k.Allow("busy", t0.Add(2500*time.Millisecond))
	require.False(t, ok)
}

func TestConns(t *testing.T) {
	a, b := netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("127.0.0.1")
	c := NewConns(3, 2)
	require.NoError(t, c.Acquire(a))
	require.NoError(t, c.Acquire(a))
	require.ErrorIs(t, c.Acquire(a), ErrTooManyConnsPerAddr)
	require.NoError(t, c.Acquire(b))
	require.ErrorIs(t, c.Acquire(b), ErrTooManyConns)
	total, fromA := c.Open(a)
	require.Equal(t, 3, total)
	require.Equal(t, 2, fromA)

	c.Release(a)
	require.NoError(t, c.Acquire(b), "a released slot is free again")
	c.Release(a)
	c.Release(b)
	c.Release(b)
	c.Release(b) // one too many: ignored
	total, _ = c.Open(a)
	require.Zero(t, total)
	require.Empty(t, c.byAddr, "no entry is kept for an address without connections")

	// After a burst from many addresses the map is made anew.
	many := NewConns(0, 0)
	for i := range 5000 {
		require.NoError(t, many.Acquire(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})))
	}
	for i := range 5000 {
		many.Release(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}))
	}
	require.Less(t, many.peak, 1024)

	off := NewConns(-1, 0)
	for range 10 {
		require.NoError(t, off.Acquire(a))
	}
}

func TestAddr(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.2:5000":                     "127.0.0.2",
		"127.0.0.2":                          "127.0.0.2",
		"[::ffff:10.1.2.3]:80":               "10.1.2.3",
		"[2001:db8:1:2:3:4:5:6]:443":         "2001:db8:1:2::",
		"[2001:db8:1:2:ffff:ffff:ffff:1]:44": "2001:db8:1:2::",
		"[fe80::1%eth0]:80":                  "fe80::",
		"pipe":                               "invalid IP",
	} {
		require.Equal(t, want, Addr(in).String(), in)
	}
}

func TestEventsGoIntoDebt(t *testing.T) {
	e := NewEvents(Rate{Per: 10, Burst: 5}, 3)
	for range 5 {
		require.Equal(t, Accept, e.Take(t0))
	}
	for range 3 {
		require.Equal(t, Refuse, e.Take(t0))
	}
	require.Equal(t, Disconnect, e.Take(t0), "owes more than 3 events")

	// A client that slows down below the rate is served again once its
	// debt is paid.
	e = NewEvents(Rate{Per: 10, Burst: 1}, 10)
	require.Equal(t, Accept, e.Take(t0))
	require.Equal(t, Refuse, e.Take(t0))
	require.Equal(t, Refuse, e.Take(t0.Add(50*time.Millisecond)), "the refused event still cost a token")
	require.Equal(t, Accept, e.Take(t0.Add(300*time.Millisecond)))

	var off *Events = NewEvents(Rate{Per: 0}, 1)
	require.Nil(t, off)
	require.Equal(t, Accept, off.Take(t0))
}

func TestConfigDefaults(t *testing.T) {
	c := Config{}.WithDefaults()
	require.Equal(t, 20.0, c.EventRate)
	require.Equal(t, 65_536, c.MaxKeys)
	o := Off().WithDefaults()
	require.Negative(t, o.EventRate)
	require.Negative(t, o.MaxConns)
	require.Negative(t, o.RESTRate)
}
