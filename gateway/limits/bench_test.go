package limits

import (
	"net/netip"
	"testing"
	"time"
)

// The cost each received Socket.IO packet pays for the event limit.
func BenchmarkEventsTake(b *testing.B) {
	e := NewEvents(Rate{Per: 1e9, Burst: 1 << 30}, 1)
	b.ReportAllocs()
	for b.Loop() {
		e.Take(time.Now())
	}
}

// The cost of one handshake's or API request's check, with 10,000
// addresses in the table.
func BenchmarkKeyedAllow(b *testing.B) {
	k := NewKeyed[netip.Addr](Rate{Per: 1e9, Burst: 1 << 30}, 65_536)
	addrs := make([]netip.Addr, 10_000)
	for i := range addrs {
		addrs[i] = netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})
		k.Allow(addrs[i], time.Now())
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		k.Allow(addrs[i%len(addrs)], time.Now())
		i++
	}
}
