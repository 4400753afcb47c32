package ike

import (
	"net/netip"
	"testing"

	"github.com/espd/espd/esp/installer"
	"github.com/espd/espd/ike/message"
)

func TestNarrow(t *testing.T) {
	pfx := netip.MustParsePrefix
	http := message.TSFromPrefix(pfx("198.18.0.0/16"))
	http.IPProtocol, http.StartPort, http.EndPort = 6, 80, 80
	for _, tc := range []struct {
		name   string
		theirs []message.TrafficSelector
		ours   []netip.Prefix
		want   []netip.Prefix
	}{
		{"exact", []message.TrafficSelector{message.TSFromPrefix(pfx("198.18.1.0/24"))}, []netip.Prefix{pfx("198.18.1.0/24")}, []netip.Prefix{pfx("198.18.1.0/24")}},
		{"ours smaller", []message.TrafficSelector{message.TSFromPrefix(pfx("198.18.0.0/15"))}, []netip.Prefix{pfx("198.19.3.0/24")}, []netip.Prefix{pfx("198.19.3.0/24")}},
		{"theirs smaller", []message.TrafficSelector{message.TSFromPrefix(pfx("198.18.3.4/32"))}, []netip.Prefix{pfx("198.18.0.0/16")}, []netip.Prefix{pfx("198.18.3.4/32")}},
		{"disjoint", []message.TrafficSelector{message.TSFromPrefix(pfx("198.18.1.0/24"))}, []netip.Prefix{pfx("198.18.2.0/24")}, nil},
		{"ipv6", []message.TrafficSelector{message.TSFromPrefix(pfx("2001:db8:ffff::/48"))}, []netip.Prefix{pfx("2001:db8:ffff:1::/64")}, []netip.Prefix{pfx("2001:db8:ffff:1::/64")}},
		{"family mismatch", []message.TrafficSelector{message.TSFromPrefix(pfx("2001:db8:ffff::/48"))}, []netip.Prefix{pfx("198.18.0.0/16")}, nil},
		{"ports not widened", []message.TrafficSelector{http}, []netip.Prefix{pfx("198.18.0.0/16")}, nil},
		{"range not a prefix", []message.TrafficSelector{{TSType: message.TSIPv4AddrRange, EndPort: 0xffff,
			StartAddr: netip.MustParseAddr("198.18.0.1"), EndAddr: netip.MustParseAddr("198.18.0.2")}}, []netip.Prefix{pfx("198.18.0.0/16")}, nil},
	} {
		got := narrow(tc.theirs, tc.ours)
		if !samePrefixes(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}

// "dynamic" selectors become each IKE SA's own addresses: a road-warrior
// gateway's remote_ts = dynamic is the client's address.
func TestDynamicSelectors(t *testing.T) {
	i, r, _ := newPair(t, func(ci, cr *Config) {
		ci.Children[0].LocalTS, ci.Children[0].LocalDynamic = nil, true
		cr.Children[0].RemoteTS, cr.Children[0].RemoteDynamic = nil, true
	})
	establish(t, i, r)
	assertMirrored(t, i, r)
	out := i.recorder.Installed(installer.Outbound)[0]
	if want := netip.MustParsePrefix("192.0.2.1/32"); len(out.LocalTS) != 1 || out.LocalTS[0] != want {
		t.Errorf("initiator's local selector %v, want its address %v", out.LocalTS, want)
	}
}
