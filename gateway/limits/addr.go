package limits

import (
	"net"
	"net/netip"
)

// Addr is the key of a client address: the IP of a host:port (or bare IP)
// string, with an IPv4-mapped IPv6 address unmapped and an IPv6 address cut
// to its /64, the block one subscriber usually holds, so that hopping
// through the addresses of one network does not get fresh buckets. An
// unparsable address is the zero Addr (one shared key).
func Addr(remote string) netip.Addr {
	host := remote
	if h, _, err := net.SplitHostPort(remote); err == nil {
		host = h
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	ip = ip.Unmap().WithZone("")
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.Addr()
	}
	return ip
}
