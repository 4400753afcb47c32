package config

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// HostKind says which form an entry of local_addrs or remote_addrs has.
type HostKind uint8

// The forms strongSwan accepts (swanctl.conf(5), local_addrs; ike_cfg.c,
// parse_addresses).
const (
	// HostAny is %any (any address), %any4 or 0.0.0.0 (any IPv4 address),
	// %any6 or :: (any IPv6 address).
	HostAny HostKind = iota
	// HostAddr is one address.
	HostAddr
	// HostPrefix is a CIDR subnet; it matches a peer as responder, but
	// gives no address to initiate to.
	HostPrefix
	// HostRange is an address range, first-last, used like HostPrefix.
	HostRange
	// HostDNS is a DNS name, resolved each time the connection is used.
	HostDNS
)

// HostSpec is one entry of local_addrs or remote_addrs.
type HostSpec struct {
	Kind HostKind
	// Addr is the address of HostAddr; for HostAny, the unspecified address
	// of the family it is limited to, or the zero Addr for %any.
	Addr netip.Addr
	// Prefix is a HostPrefix, host bits clear.
	Prefix netip.Prefix
	// First and Last bound a HostRange, inclusive, of one family.
	First, Last netip.Addr
	// Name is a HostDNS name.
	Name string
}

// Specific reports whether the entry names one peer that can be
// initiated to: an address or a DNS name.
func (h HostSpec) Specific() bool { return h.Kind == HostAddr || h.Kind == HostDNS }

func (h HostSpec) String() string {
	switch h.Kind {
	case HostAny:
		switch {
		case !h.Addr.IsValid():
			return "%any"
		case h.Addr.Is4():
			return "%any4"
		}
		return "%any6"
	case HostAddr:
		return h.Addr.String()
	case HostPrefix:
		return h.Prefix.String()
	case HostRange:
		return h.First.String() + "-" + h.Last.String()
	}
	return h.Name
}

// parseHostSpec reads one entry of local_addrs or remote_addrs. strongSwan
// takes anything it cannot read as an address, subnet or range for a DNS
// name, so that a mistyped address only fails when it is resolved; here
// an entry must be a valid address, subnet, range or hostname.
func parseHostSpec(s string) (HostSpec, error) {
	switch s {
	case "%any":
		return HostSpec{Kind: HostAny}, nil
	case "%any4", "0.0.0.0":
		return HostSpec{Kind: HostAny, Addr: netip.IPv4Unspecified()}, nil
	case "%any6", "::":
		return HostSpec{Kind: HostAny, Addr: netip.IPv6Unspecified()}, nil
	}
	if strings.Contains(s, "/") {
		p, err := parsePrefix(s, true)
		if err != nil {
			return HostSpec{}, err
		}
		if err := checkUsableAddr(p.Addr(), s); err != nil {
			return HostSpec{}, err
		}
		return HostSpec{Kind: HostPrefix, Prefix: p}, nil
	}
	if first, last, ok, err := parseRange(s); ok || err != nil {
		if err != nil {
			return HostSpec{}, err
		}
		return HostSpec{Kind: HostRange, First: first, Last: last}, nil
	}
	if addr, err := netip.ParseAddr(s); err == nil {
		if err := checkUsableAddr(addr, s); err != nil {
			return HostSpec{}, err
		}
		return HostSpec{Kind: HostAddr, Addr: addr}, nil
	}
	if strings.Contains(s, ":") {
		return HostSpec{}, fmt.Errorf("%q is not an IPv6 address", s)
	}
	if err := checkHostname(s, false); err != nil {
		return HostSpec{}, err
	}
	return HostSpec{Kind: HostDNS, Name: s}, nil
}

// checkUsableAddr refuses what no SA can use: zones and IPv4-mapped IPv6.
func checkUsableAddr(addr netip.Addr, s string) error {
	if addr.Zone() != "" {
		return fmt.Errorf("%q has a zone, which an SA cannot use", s)
	}
	if addr.Is4In6() {
		return fmt.Errorf("%q is an IPv4-mapped IPv6 address; write %s", s, addr.Unmap())
	}
	return nil
}

// parseRange reads "first-last" (strongSwan's host_create_from_range). ok
// is false if s is no range at all, which lets a hostname with a hyphen
// through; err is set for something that is a range but a bad one.
func parseRange(s string) (first, last netip.Addr, ok bool, err error) {
	from, to, found := strings.Cut(s, "-")
	if !found {
		return first, last, false, nil
	}
	first, err1 := netip.ParseAddr(strings.TrimSpace(from))
	last, err2 := netip.ParseAddr(strings.TrimSpace(to))
	switch {
	case err1 != nil && err2 != nil && !looksNumeric(s):
		return first, last, false, nil // a hostname such as gw-1.example
	case err1 != nil:
		return first, last, true, fmt.Errorf("range %q: %q is not an IP address", s, from)
	case err2 != nil:
		return first, last, true, fmt.Errorf("range %q: %q is not an IP address", s, to)
	case first.Is4() != last.Is4():
		return first, last, true, fmt.Errorf("range %q mixes IPv4 and IPv6", s)
	case last.Less(first):
		return first, last, true, fmt.Errorf("range %q ends before it starts", s)
	}
	for _, a := range []netip.Addr{first, last} {
		if err := checkUsableAddr(a, s); err != nil {
			return first, last, true, err
		}
	}
	return first, last, true, nil
}

// TrafficSelector is one entry of local_ts or remote_ts: an address range
// with an optional protocol and port range, the shape of a traffic
// selector on the wire (RFC 7296 §3.13.1).
type TrafficSelector struct {
	// Dynamic is strongSwan's "dynamic": the tunnel's outer address or the
	// negotiated virtual IP, known only when the SA is set up. Start and
	// End are then invalid.
	Dynamic bool
	// Start and End bound the addresses, inclusive, of one family. A
	// subnet is the range from its first to its last address.
	Start, End netip.Addr
	// Protocol is an IP protocol number; 0 means any protocol.
	Protocol uint8
	// StartPort and EndPort bound the ports, inclusive: 0-65535 for any
	// port, 65535-0 for OPAQUE (RFC 7296 §3.13.1). For ICMP they carry the
	// type and code as strongSwan puts them.
	StartPort, EndPort uint16
}

// Prefix returns the selector's addresses as a prefix, if they form one.
func (ts TrafficSelector) Prefix() (netip.Prefix, bool) {
	if ts.Dynamic || !ts.Start.IsValid() {
		return netip.Prefix{}, false
	}
	for bits := 0; bits <= ts.Start.BitLen(); bits++ {
		p := netip.PrefixFrom(ts.Start, bits)
		if p.Masked().Addr() == ts.Start && lastAddr(p) == ts.End {
			return p, true
		}
	}
	return netip.Prefix{}, false
}

// lastAddr is the highest address of p.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	last, _ := netip.AddrFromSlice(b)
	return last
}

// String writes the selector in swanctl.conf's notation.
func (ts TrafficSelector) String() string {
	var b strings.Builder
	if ts.Dynamic {
		b.WriteString("dynamic")
	} else if p, ok := ts.Prefix(); ok {
		b.WriteString(p.String())
	} else {
		b.WriteString(ts.Start.String() + "-" + ts.End.String())
	}
	anyPort := ts.StartPort == 0 && ts.EndPort == math.MaxUint16
	if ts.Protocol == 0 && anyPort {
		return b.String()
	}
	b.WriteString("[")
	if name, ok := protocolNames[ts.Protocol]; ok {
		b.WriteString(name)
	} else if ts.Protocol == 0 {
		b.WriteString("any")
	} else {
		b.WriteString(strconv.Itoa(int(ts.Protocol)))
	}
	switch {
	case anyPort:
	case ts.StartPort == math.MaxUint16 && ts.EndPort == 0:
		b.WriteString("/opaque")
	case ts.StartPort == ts.EndPort:
		fmt.Fprintf(&b, "/%d", ts.StartPort)
	default:
		fmt.Fprintf(&b, "/%d-%d", ts.StartPort, ts.EndPort)
	}
	b.WriteString("]")
	return b.String()
}

// protocolTokens are the protocol names espd reads in a selector.
// strongSwan asks getprotobyname(3), that is /etc/protocols; these are the
// names that file has for the protocols a selector usually names, so a
// selector means the same on every machine.
var protocolTokens = map[string]uint8{
	"icmp": 1, "igmp": 2, "tcp": 6, "udp": 17, "gre": 47, "esp": 50, "ah": 51,
	"ipv6-icmp": 58, "ospf": 89, "sctp": 132, "udplite": 136,
}

var protocolNames = func() map[uint8]string {
	m := map[uint8]string{}
	for name, p := range protocolTokens {
		m[p] = name
	}
	return m
}()

// parseTrafficSelector reads one selector as strongSwan's vici plugin does
// (vici_config.c, parse_ts; swanctl.conf(5), local_ts): "dynamic", a
// subnet or bare address, or a range first-last, then optionally
// "[protocol/port]", where protocol is a name, a number or "any", and port
// a number, a range from-to, a service name, "any" or "opaque".
func parseTrafficSelector(s string) (TrafficSelector, error) {
	ts := TrafficSelector{StartPort: 0, EndPort: math.MaxUint16}
	addrs := s
	if open := strings.IndexByte(s, '['); open >= 0 {
		if !strings.HasSuffix(s, "]") {
			return ts, fmt.Errorf("selector %q: the protocol/port part must end with ']'", s)
		}
		addrs = s[:open]
		if err := parseProtoPort(&ts, s[open+1:len(s)-1], s); err != nil {
			return ts, err
		}
	}
	switch {
	case addrs == "dynamic":
		ts.Dynamic = true
		return ts, nil
	case addrs == "":
		return ts, fmt.Errorf("selector %q has no addresses (a subnet, a range or dynamic)", s)
	case strings.Contains(addrs, "-"):
		first, last, _, err := parseRange(addrs)
		if err != nil {
			return ts, err
		}
		if !first.IsValid() {
			return ts, fmt.Errorf("%q is not an address range", addrs)
		}
		ts.Start, ts.End = first, last
		return ts, nil
	}
	p, err := parsePrefix(addrs, true)
	if err != nil {
		return ts, err
	}
	if err := checkUsableAddr(p.Addr(), addrs); err != nil {
		return ts, err
	}
	ts.Start, ts.End = p.Addr(), lastAddr(p)
	return ts, nil
}

func parseProtoPort(ts *TrafficSelector, protoPort, s string) error {
	proto, port, _ := strings.Cut(protoPort, "/")
	switch p, known := protocolTokens[proto]; {
	case proto == "any" || proto == "":
		// charon reads an empty protocol as 0, any.
		ts.Protocol = 0
	case known:
		ts.Protocol = p
	default:
		n, err := parseSelectorNumber(proto)
		if err != nil || n > math.MaxUint8 {
			return fmt.Errorf("selector %q: unknown protocol %q (want a number 0-255, any, or one of tcp, udp, icmp, ipv6-icmp, sctp, gre, esp, ah, ...)", s, proto)
		}
		ts.Protocol = uint8(n)
	}
	switch {
	case port == "" || port == "any":
		return nil
	case port == "opaque":
		ts.StartPort, ts.EndPort = math.MaxUint16, 0
		return nil
	}
	if c := port[0]; c < '0' || c > '9' {
		// A service name, which may have a '-' (ipsec-nat-t).
		p, err := parsePort(port)
		if err != nil {
			return fmt.Errorf("selector %q: %v", s, err)
		}
		ts.StartPort, ts.EndPort = p, p
		return nil
	}
	from, to, isRange := strings.Cut(port, "-")
	start, err := parsePort(from)
	if err != nil {
		return fmt.Errorf("selector %q: %v", s, err)
	}
	end := start
	if isRange {
		if end, err = parsePort(to); err != nil {
			return fmt.Errorf("selector %q: %v", s, err)
		}
		if end < start {
			return fmt.Errorf("selector %q: port range %s ends before it starts", s, port)
		}
	}
	ts.StartPort, ts.EndPort = start, end
	return nil
}

// parseSelectorNumber reads a protocol or port number, which charon reads
// with strtol(..., 0), so a leading 0 would mean octal there.
func parseSelectorNumber(s string) (uint64, error) {
	if reason := checkStrongSwanNumber(s); reason != "" {
		return 0, errors.New(reason)
	}
	return parseNumber(s)
}

// parsePort reads a port number or a service name. Service names come
// from the services database, as strongSwan's getservbyname(3) does; Go
// falls back to a small built-in table where /etc/services is missing.
func parsePort(s string) (uint16, error) {
	if s == "" {
		return 0, errors.New("empty port")
	}
	if c := s[0]; c >= '0' && c <= '9' {
		n, err := parseSelectorNumber(s)
		if err != nil {
			return 0, err
		}
		if n > math.MaxUint16 {
			return 0, fmt.Errorf("%q is not a port (0-65535)", s)
		}
		return uint16(n), nil
	}
	if strings.ToLower(s) != s {
		// getservbyname(3) is case-sensitive; Go's lookup is not.
		return 0, fmt.Errorf("unknown service %q (service names are lower case)", s)
	}
	for _, network := range []string{"tcp", "udp"} {
		if port, err := net.LookupPort(network, s); err == nil {
			return uint16(port), nil
		}
	}
	return 0, fmt.Errorf("unknown service %q (want a port number or a name from /etc/services)", s)
}
