package ike

import (
	"net/netip"

	"github.com/espd/espd/ike/message"
)

// narrow intersects the peer's selectors with our prefixes (RFC 7296 §2.9):
// each result is the part of one peer selector inside one of our prefixes,
// kept when it is a whole CIDR prefix, which is what the data plane's
// SAParams carry. SAParams has no protocol or ports yet, so a selector
// limited to some is not matched rather than widened.
func narrow(theirs []message.TrafficSelector, ours []netip.Prefix) []netip.Prefix {
	var out []netip.Prefix
	for _, ts := range theirs {
		if !allTraffic(ts) {
			continue
		}
		for _, p := range ours {
			if p.Addr().Is4() != ts.StartAddr.Is4() {
				continue
			}
			start, end := p.Masked().Addr(), lastAddr(p)
			if ts.StartAddr.Compare(start) > 0 {
				start = ts.StartAddr
			}
			if ts.EndAddr.Compare(end) < 0 {
				end = ts.EndAddr
			}
			if start.Compare(end) > 0 {
				continue
			}
			if q, ok := rangePrefix(start, end); ok {
				out = appendUnique(out, q)
			}
		}
	}
	return out
}

// selectorsWithin reports whether every prefix lies inside one of ours: the
// initiator accepts the responder's narrowing but not a widening.
func selectorsWithin(got, ours []netip.Prefix) bool {
	for _, g := range got {
		inside := false
		for _, o := range ours {
			if o.Bits() <= g.Bits() && o.Contains(g.Addr()) {
				inside = true
				break
			}
		}
		if !inside {
			return false
		}
	}
	return len(got) > 0
}

// prefixes converts selectors that are whole prefixes; ok is false if one is
// not.
func prefixes(tss []message.TrafficSelector) ([]netip.Prefix, bool) {
	var out []netip.Prefix
	for _, ts := range tss {
		if !allTraffic(ts) {
			return nil, false
		}
		p, ok := rangePrefix(ts.StartAddr, ts.EndAddr)
		if !ok {
			return nil, false
		}
		out = append(out, p)
	}
	return out, true
}

func selectors(ps []netip.Prefix) []message.TrafficSelector {
	out := make([]message.TrafficSelector, len(ps))
	for i, p := range ps {
		out[i] = message.TSFromPrefix(p)
	}
	return out
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// rangePrefix returns the prefix whose range is exactly start..end.
func rangePrefix(start, end netip.Addr) (netip.Prefix, bool) {
	if !start.IsValid() || start.Is4() != end.Is4() {
		return netip.Prefix{}, false
	}
	for bits := 0; bits <= start.BitLen(); bits++ {
		p := netip.PrefixFrom(start, bits)
		if p.Masked().Addr() == start && lastAddr(p) == end {
			return p, true
		}
	}
	return netip.Prefix{}, false
}

func appendUnique(ps []netip.Prefix, p netip.Prefix) []netip.Prefix {
	for _, q := range ps {
		if q == p {
			return ps
		}
	}
	return append(ps, p)
}

// allTraffic reports an address range selector for any protocol and port.
func allTraffic(ts message.TrafficSelector) bool {
	return (ts.TSType == message.TSIPv4AddrRange || ts.TSType == message.TSIPv6AddrRange) &&
		ts.IPProtocol == 0 && ts.StartPort == 0 && ts.EndPort == 0xffff
}
