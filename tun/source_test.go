package tun

import (
	"net/netip"
	"testing"
)

func TestSourceFor(t *testing.T) {
	p := netip.MustParsePrefix
	a := netip.MustParseAddr
	addrs := []netip.Prefix{p("198.18.1.1/24"), p("198.18.9.1/32"), p("2001:db8:ffff:1::1/64")}
	for _, c := range []struct {
		name     string
		localTS  []netip.Prefix
		want     netip.Addr
		wantFor6 netip.Addr // SourceForRoute with an IPv6 destination
	}{
		{"virtual IP inside the selector", []netip.Prefix{p("198.18.9.1/32")}, a("198.18.9.1"), netip.Addr{}},
		{"first address wins", []netip.Prefix{p("198.18.0.0/16")}, a("198.18.1.1"), netip.Addr{}},
		{"no address inside", []netip.Prefix{p("203.0.113.0/24")}, netip.Addr{}, netip.Addr{}},
		{"family must match", []netip.Prefix{p("::/0")}, a("2001:db8:ffff:1::1"), a("2001:db8:ffff:1::1")},
		{"dual stack", []netip.Prefix{p("198.18.1.0/24"), p("2001:db8:ffff::/48")}, a("198.18.1.1"), a("2001:db8:ffff:1::1")},
		{"no selectors", nil, netip.Addr{}, netip.Addr{}},
	} {
		if got := SourceFor(addrs, c.localTS); got != c.want {
			t.Errorf("%s: SourceFor = %v, want %v", c.name, got, c.want)
		}
		if got := SourceForRoute(addrs, c.localTS, p("2001:db8:ffff:2::/64")); got != c.wantFor6 {
			t.Errorf("%s: SourceForRoute(IPv6) = %v, want %v", c.name, got, c.wantFor6)
		}
		want4 := c.want
		if want4.Is6() {
			want4 = netip.Addr{}
		}
		if got := SourceForRoute(addrs, c.localTS, p("0.0.0.0/0")); got != want4 {
			t.Errorf("%s: SourceForRoute(IPv4) = %v, want %v", c.name, got, want4)
		}
	}
	if got := SourceForRoute(addrs, []netip.Prefix{p("0.0.0.0/0")}, netip.Prefix{}); got.IsValid() {
		t.Errorf("SourceForRoute with no destination = %v", got)
	}
}
