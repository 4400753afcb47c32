package config

import (
	"math"
	"net/netip"
	"strings"
	"testing"
)

func TestParseHostSpec(t *testing.T) {
	good := []struct {
		in   string
		want HostSpec
		str  string
	}{
		{"%any", HostSpec{Kind: HostAny}, "%any"},
		{"%any4", HostSpec{Kind: HostAny, Addr: netip.IPv4Unspecified()}, "%any4"},
		{"0.0.0.0", HostSpec{Kind: HostAny, Addr: netip.IPv4Unspecified()}, "%any4"},
		{"%any6", HostSpec{Kind: HostAny, Addr: netip.IPv6Unspecified()}, "%any6"},
		{"::", HostSpec{Kind: HostAny, Addr: netip.IPv6Unspecified()}, "%any6"},
		{"192.0.2.1", hostAddr("192.0.2.1"), "192.0.2.1"},
		{"2001:db8::1", hostAddr("2001:db8::1"), "2001:db8::1"},
		{"198.51.100.0/24", HostSpec{Kind: HostPrefix, Prefix: netip.MustParsePrefix("198.51.100.0/24")}, "198.51.100.0/24"},
		{"192.0.2.5-192.0.2.5", HostSpec{Kind: HostRange, First: netip.MustParseAddr("192.0.2.5"), Last: netip.MustParseAddr("192.0.2.5")}, "192.0.2.5-192.0.2.5"},
		{"2001:db8::1-2001:db8::ff", HostSpec{Kind: HostRange, First: netip.MustParseAddr("2001:db8::1"), Last: netip.MustParseAddr("2001:db8::ff")}, "2001:db8::1-2001:db8::ff"},
		{"vpn.example.org", HostSpec{Kind: HostDNS, Name: "vpn.example.org"}, "vpn.example.org"},
		{"gw-1", HostSpec{Kind: HostDNS, Name: "gw-1"}, "gw-1"},
	}
	for _, tt := range good {
		got, err := parseHostSpec(tt.in)
		if err != nil || got != tt.want || got.String() != tt.str {
			t.Errorf("%q: %+v (%s), %v; want %+v (%s)", tt.in, got, got.String(), err, tt.want, tt.str)
		}
		if got.Specific() != (got.Kind == HostAddr || got.Kind == HostDNS) {
			t.Errorf("%q: Specific() = %v", tt.in, got.Specific())
		}
	}
	for _, bad := range []string{"", "192.0.2.1/33", "192.0.2.1/24", "::ffff:192.0.2.1", "192.0.2.1-", "-192.0.2.1",
		"192.0.2.9-192.0.2.1", "192.0.2.1-::1", "::ffff:192.0.2.1-::ffff:192.0.2.2", "1.2.3", "gw..example", "gw_!", "%any5"} {
		if got, err := parseHostSpec(bad); err == nil {
			t.Errorf("%q: %+v, want an error", bad, got)
		}
	}
}

func TestParseTrafficSelector(t *testing.T) {
	good := []struct {
		in, str    string
		start, end string
		proto      uint8
		from, to   uint16
		prefix     bool
	}{
		{"198.18.0.0/15", "198.18.0.0/15", "198.18.0.0", "198.19.255.255", 0, 0, math.MaxUint16, true},
		{"198.18.1.1", "198.18.1.1/32", "198.18.1.1", "198.18.1.1", 0, 0, math.MaxUint16, true},
		{"0.0.0.0/0", "0.0.0.0/0", "0.0.0.0", "255.255.255.255", 0, 0, math.MaxUint16, true},
		{"::/0[ipv6-icmp]", "::/0[ipv6-icmp]", "::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 58, 0, math.MaxUint16, true},
		{"198.18.1.0-198.18.1.127", "198.18.1.0/25", "198.18.1.0", "198.18.1.127", 0, 0, math.MaxUint16, true},
		{"198.18.1.1-198.18.1.9[udp/53]", "198.18.1.1-198.18.1.9[udp/53]", "198.18.1.1", "198.18.1.9", 17, 53, 53, false},
		{"198.18.0.0/16[tcp/1024-65535]", "198.18.0.0/16[tcp/1024-65535]", "198.18.0.0", "198.18.255.255", 6, 1024, 65535, true},
		{"198.18.0.0/16[sctp/opaque]", "198.18.0.0/16[sctp/opaque]", "198.18.0.0", "198.18.255.255", 132, 65535, 0, true},
		{"198.18.0.0/16[any/500]", "198.18.0.0/16[any/500]", "198.18.0.0", "198.18.255.255", 0, 500, 500, true},
		{"198.18.0.0/16[47]", "198.18.0.0/16[gre]", "198.18.0.0", "198.18.255.255", 47, 0, math.MaxUint16, true},
		{"198.18.0.0/16[253/any]", "198.18.0.0/16[253]", "198.18.0.0", "198.18.255.255", 253, 0, math.MaxUint16, true},
		{"198.18.0.0/16[tcp/0x50]", "198.18.0.0/16[tcp/80]", "198.18.0.0", "198.18.255.255", 6, 80, 80, true},
		{"198.18.0.0/16[udp/domain]", "198.18.0.0/16[udp/53]", "198.18.0.0", "198.18.255.255", 17, 53, 53, true},
	}
	for _, tt := range good {
		ts, err := parseTrafficSelector(tt.in)
		if err != nil {
			t.Errorf("%q: %v", tt.in, err)
			continue
		}
		want := TrafficSelector{Start: netip.MustParseAddr(tt.start), End: netip.MustParseAddr(tt.end),
			Protocol: tt.proto, StartPort: tt.from, EndPort: tt.to}
		if ts != want || ts.String() != tt.str {
			t.Errorf("%q: %+v %s, want %+v %s", tt.in, ts, ts, want, tt.str)
		}
		if _, ok := ts.Prefix(); ok != tt.prefix {
			t.Errorf("%q: Prefix() ok = %v", tt.in, ok)
		}
		// What String writes reads back the same.
		if again, err := parseTrafficSelector(ts.String()); err != nil || again != ts {
			t.Errorf("%q: %s reads back as %+v, %v", tt.in, ts, again, err)
		}
	}
	ts, err := parseTrafficSelector("dynamic[tcp/https]")
	if err != nil || !ts.Dynamic || ts.Protocol != 6 || ts.StartPort != 443 || ts.String() != "dynamic[tcp/443]" {
		t.Errorf("dynamic: %+v %v", ts, err)
	}
	if _, ok := ts.Prefix(); ok {
		t.Error("dynamic has a prefix")
	}
	for _, bad := range []string{"", "[tcp]", "dynamic[", "dynamic]", "Dynamic", "198.18.0.0/16[tcp/80-]", "198.18.0.0/16[tcp/-80]",
		"198.18.0.0/16[256]", "198.18.0.0/16[-1]", "198.18.0.0/16[tcp/HTTP]", "198.18.0.0/16[tcp/0100]", "198.18.0.0/16[017]",
		"198.18.1.9-198.18.1.1", "198.18.1.1-x", "fe80::1%eth0/64", "198.18.0.0/16/1"} {
		if ts, err := parseTrafficSelector(bad); err == nil {
			t.Errorf("%q: %+v, want an error", bad, ts)
		}
	}
}

func TestActionString(t *testing.T) {
	for a, want := range map[Action]string{ActionNone: "none", ActionTrap: "trap", ActionStart: "start",
		ActionTrap | ActionStart: "trap|start", 8: "Action(8)"} {
		if a.String() != want {
			t.Errorf("%d: %q, want %q", a, a.String(), want)
		}
	}
	if AuthPSK.String() != "psk" || AuthPubkey.String() != "pubkey" || !strings.HasPrefix(AuthMethod(9).String(), "AuthMethod") {
		t.Error("AuthMethod.String")
	}
	if (IKEProposal{Default: true}).String() != "default" || (ESPProposal{Default: true}).String() != "default" {
		t.Error("default proposal String")
	}
}
