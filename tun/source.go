package tun

import "net/netip"

// SourceFor returns the preferred source address for routes of a CHILD_SA:
// the first of the TUN's addresses that lies inside one of the local traffic
// selectors. Without one it returns the zero Addr, and the kernel chooses
// the source. A CHILD_SA with selectors of both families needs a source per
// family: use SourceForRoute.
func SourceFor(addrs []netip.Prefix, localTS []netip.Prefix) netip.Addr {
	for _, p := range addrs {
		a := p.Addr()
		for _, ts := range localTS {
			// Contains is false across families.
			if ts.Contains(a) {
				return a
			}
		}
	}
	return netip.Addr{}
}

// SourceForRoute is SourceFor restricted to the family of the route's
// destination dst, so that every route gets a source it can use.
func SourceForRoute(addrs []netip.Prefix, localTS []netip.Prefix, dst netip.Prefix) netip.Addr {
	if !dst.IsValid() {
		return netip.Addr{}
	}
	for _, p := range addrs {
		a := p.Addr()
		if a.Is4() != dst.Addr().Is4() {
			continue
		}
		for _, ts := range localTS {
			if ts.Contains(a) {
				return a
			}
		}
	}
	return netip.Addr{}
}
