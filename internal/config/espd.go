package config

import (
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/espd/espd/crypto"
	"github.com/espd/espd/internal/swanctl"
)

func formatUint(n uint64) string { return strconv.FormatUint(n, 10) }

func (d *decoder) espd(s *swanctl.Section) Espd {
	r := d.reader(s, "espd")
	defer r.done()
	e := Espd{
		PortNATT:   DefaultPortNATT,
		FwMark:     DefaultFwMark,
		RouteTable: DefaultRouteTable,
		LogLevel:   DefaultLogLevel,
	}
	if n, ok := r.number("port_nat_t", 0, math.MaxUint16); ok {
		e.PortNATT = uint16(n)
	}
	if n, ok := r.number("fwmark", 0, math.MaxUint32); ok {
		e.FwMark = uint32(n)
	}
	if kv := r.key("route_table"); kv != nil {
		// 0 is RT_TABLE_UNSPEC and 255 the kernel's local table; routes
		// into a tunnel belong in neither.
		if n, ok := r.number("route_table", 1, math.MaxUint32); ok {
			if n == 255 {
				r.fail(kv, "table 255 is the kernel's local table; pick a table of espd's own")
			} else {
				e.RouteTable = int(n)
			}
		}
	}
	if kv := r.key("log_level"); kv != nil {
		switch level := strings.ToLower(kv.Value); level {
		case "debug", "info", "warn", "error":
			e.LogLevel = level
		default:
			r.fail(kv, fmt.Sprintf("unknown log level %q (want debug, info, warn or error)", kv.Value))
		}
	}
	tun := r.sub("tun")
	if tun == nil {
		tun = &swanctl.Section{Pos: s.Pos}
	}
	e.Tun = d.tun(tun)
	if manual := r.sub("manual"); manual != nil {
		e.Manual = d.manual(manual)
	}
	ike := r.sub("ike")
	if ike == nil {
		ike = &swanctl.Section{Pos: s.Pos}
	}
	e.IKE = d.ikeSettings(ike)
	return e
}

func (d *decoder) ikeSettings(s *swanctl.Section) IKESettings {
	r := d.reader(s, "espd.ike")
	defer r.done()
	ike := IKESettings{
		CookieThreshold:   DefaultCookieThreshold,
		HalfOpenTimeout:   DefaultHalfOpenTimeout,
		RetransmitTimeout: DefaultRetransmitTimeout,
		RetransmitTries:   DefaultRetransmitTries,
	}
	if n, ok := r.number("cookie_threshold", 0, 1<<20); ok {
		ike.CookieThreshold = int(n)
	}
	for _, t := range []struct {
		key string
		to  *time.Duration
	}{{"half_open_timeout", &ike.HalfOpenTimeout}, {"retransmit_timeout", &ike.RetransmitTimeout}} {
		if v, kv, ok := readValue(r, t.key, parseDuration); ok {
			if v <= 0 {
				r.fail(kv, "must be longer than 0s")
			} else {
				*t.to = v
			}
		}
	}
	if n, ok := r.number("retransmit_tries", 0, 100); ok {
		ike.RetransmitTries = int(n)
	}
	return ike
}

func (d *decoder) tun(s *swanctl.Section) Tun {
	r := d.reader(s, "espd.tun")
	defer r.done()
	t := Tun{Name: DefaultTunName, MTU: DefaultMTU}
	if kv := r.key("name"); kv != nil {
		if reason := checkInterfaceName(kv.Value); reason != "" {
			r.fail(kv, reason)
		} else {
			t.Name = kv.Value
		}
	}
	if kv := r.key("addrs"); kv != nil {
		t.Addrs = r.prefixes(kv, false)
	}
	// RFC 791 §3.1: every IPv4 host accepts 576-byte datagrams; 9000 is
	// the common jumbo frame size.
	if n, ok := r.number("mtu", 576, 9000); ok {
		t.MTU = int(n)
	}
	if t.MTU < 1280 {
		for _, addr := range t.Addrs {
			if addr.Addr().Is6() {
				// RFC 8200 §5: every IPv6 link has an MTU of 1280 or more.
				pos := s.Pos
				if kv := s.Key("mtu"); kv != nil {
					pos = kv.Pos
				}
				d.fail(pos, "espd.tun.mtu", fmt.Sprintf(
					"%d is too small for the IPv6 address %s: IPv6 needs an MTU of at least 1280 (RFC 8200 §5)", t.MTU, addr))
				break
			}
		}
	}
	return t
}

// checkInterfaceName applies the kernel's dev_valid_name rules
// (net/core/dev.c), so that a bad name fails here and not at start-up.
func checkInterfaceName(name string) string {
	switch {
	case len(name) > 15:
		return fmt.Sprintf("interface name %q is longer than 15 bytes", name)
	case name == "." || name == "..":
		return fmt.Sprintf("%q is not a valid interface name", name)
	case strings.ContainsAny(name, "/: \t\n\v\f\r"):
		return fmt.Sprintf("interface name %q contains '/', ':' or a blank", name)
	}
	return ""
}

// prefixes reads a comma-separated list of prefixes or addresses.
func (r *reader) prefixes(kv *swanctl.KeyValue, masked bool) []netip.Prefix {
	items, err := splitList(kv.Value)
	if err != nil {
		r.fail(kv, err.Error())
		return nil
	}
	var prefixes []netip.Prefix
	for _, item := range items {
		p, err := parsePrefix(item, masked)
		if err != nil {
			r.fail(kv, err.Error())
			return nil
		}
		prefixes = append(prefixes, p)
	}
	return prefixes
}

func (d *decoder) manual(s *swanctl.Section) []ManualSA {
	r := d.reader(s, "espd.manual")
	defer r.done()
	var sas []ManualSA
	// Inbound packets find their SA by SPI alone, so no two manual SAs may
	// receive on one SPI.
	inboundSPIs := map[uint32]ManualSA{}
	for _, sub := range s.Sections {
		r.sub(sub.Name)
		sa, ok := d.manualSA(sub)
		if !ok {
			continue
		}
		if first, taken := inboundSPIs[sa.Inbound.SPI]; taken {
			spi := sub.Sub("inbound").Key("spi")
			d.fail(spi.Pos, "espd.manual."+sa.Name+".inbound.spi", fmt.Sprintf(
				"inbound SPI 0x%08x is already used by manual SA %q (%s); inbound SPIs must be unique",
				sa.Inbound.SPI, first.Name, first.Pos))
			continue
		}
		inboundSPIs[sa.Inbound.SPI] = sa
		sas = append(sas, sa)
	}
	return sas
}

// manualSA decodes one espd.manual.<name> section; ok is false if it has
// an error.
func (d *decoder) manualSA(s *swanctl.Section) (sa ManualSA, ok bool) {
	errsBefore := len(d.errs)
	path := "espd.manual." + s.Name
	r := d.reader(s, path)
	defer r.done()
	sa = ManualSA{Name: s.Name, Pos: s.Pos, Mode: ModeTunnel, ReplayWindow: DefaultReplayWindow}

	sa.Local = r.addr("local_addrs")
	sa.Remote = r.addr("remote_addrs")
	if sa.Local.IsValid() && sa.Remote.IsValid() && sa.Local.Is4() != sa.Remote.Is4() {
		r.fail(s.Key("remote_addrs"), fmt.Sprintf("%s address %s, but local_addrs %s is %s; both must be of one family",
			family(sa.Remote), sa.Remote, sa.Local, family(sa.Local)))
	}

	encapKnown := true
	if kv := r.key("encap"); kv != nil {
		encap, err := parseBool(kv.Value)
		if err != nil {
			r.fail(kv, err.Error())
			encapKnown = false
		}
		sa.Encap = encap
	}
	if sa.Encap {
		sa.RemotePort = DefaultRemotePort
		if n, ok := r.number("remote_port", 1, math.MaxUint16); ok {
			sa.RemotePort = uint16(n)
		}
	} else if kv := r.key("remote_port"); kv != nil && encapKnown {
		r.fail(kv, "remote_port applies only to ESP-in-UDP; set encap = yes or remove it")
	}

	if kv := r.key("mode"); kv != nil {
		switch kv.Value {
		case ModeTunnel, ModeTransport:
			sa.Mode = kv.Value
		case "transport_proxy", "beet", "iptfs", "pass", "drop":
			r.fail(kv, fmt.Sprintf("mode %q is not supported by espd (want tunnel or transport)", kv.Value))
		default:
			r.fail(kv, fmt.Sprintf("unknown mode %q (want tunnel or transport)", kv.Value))
		}
	}
	sa.LocalTS = r.trafficSelectors("local_ts", sa.Mode, sa.Local, "local_addrs")
	sa.RemoteTS = r.trafficSelectors("remote_ts", sa.Mode, sa.Remote, "remote_addrs")

	proposalOK := false
	if kv := r.key("esp_proposals"); kv == nil {
		r.failMissing("esp_proposals", "required: the one ESP proposal both SAs use, such as aes128gcm16")
	} else {
		sa.Proposal, proposalOK = r.proposal(kv)
	}

	if n, ok := r.number("replay_window", 0, 65536); ok {
		sa.ReplayWindow = uint32(n)
	}
	sa.RekeyTime, sa.LifeTime = limits(r, "rekey_time", "life_time", parseDuration)
	sa.RekeyBytes, sa.LifeBytes = limits(r, "rekey_bytes", "life_bytes", parseBytes)
	sa.RekeyPackets, sa.LifePackets = limits(r, "rekey_packets", "life_packets", parseNumber)

	sa.Inbound = r.keys("inbound", "the SPI and keys of the SA we receive on", sa.Proposal, proposalOK)
	sa.Outbound = r.keys("outbound", "the SPI and keys of the SA we send with", sa.Proposal, proposalOK)
	return sa, len(d.errs) == errsBefore
}

// addr reads a required single outer address.
func (r *reader) addr(name string) netip.Addr {
	kv := r.key(name)
	if kv == nil {
		r.failMissing(name, "required: one outer IP address")
		return netip.Addr{}
	}
	addr, err := parseAddr(kv.Value)
	if err != nil {
		r.fail(kv, err.Error())
	}
	return addr
}

// trafficSelectors reads local_ts or remote_ts. Left out, it is the outer
// address's host prefix, as in strongSwan; in transport mode it must be
// exactly that, because transport mode protects the outer addresses' own
// traffic (RFC 4301 §4.1).
func (r *reader) trafficSelectors(name, mode string, outer netip.Addr, outerKey string) []netip.Prefix {
	kv := r.key(name)
	if kv == nil {
		if !outer.IsValid() {
			return nil
		}
		return []netip.Prefix{hostPrefix(outer)}
	}
	ts := r.prefixes(kv, true)
	if ts == nil || mode != ModeTransport || !outer.IsValid() {
		return ts
	}
	if len(ts) != 1 || ts[0] != hostPrefix(outer) {
		r.fail(kv, fmt.Sprintf("transport mode protects only the outer addresses, so %s must be %s (%s) or left out",
			name, hostPrefix(outer), outerKey))
		return nil
	}
	return ts
}

// proposal reads esp_proposals, which for a manual SA holds exactly one
// proposal without a DH group: there is no key exchange to use one in.
func (r *reader) proposal(kv *swanctl.KeyValue) (crypto.Suite, bool) {
	if strings.Contains(kv.Value, ",") {
		r.fail(kv, fmt.Sprintf("%q lists several proposals; a manual SA takes exactly one", kv.Value))
		return crypto.Suite{}, false
	}
	suite, err := crypto.ParseESPProposal(kv.Value)
	if err != nil {
		r.fail(kv, strings.TrimPrefix(err.Error(), "crypto: "))
		return crypto.Suite{}, false
	}
	if suite.DHGroup != crypto.DHGroupNone {
		r.fail(kv, fmt.Sprintf("%q names a DH group, but a manual SA has no key exchange; leave the group out", kv.Value))
		return crypto.Suite{}, false
	}
	return suite, true
}

// limits reads a soft and a hard limit; the soft one must come first.
func limits[T uint64 | time.Duration](r *reader, soft, hard string, parse func(string) (T, error)) (T, T) {
	read := func(name string) T {
		kv := r.key(name)
		if kv == nil {
			return 0
		}
		v, err := parse(kv.Value)
		if err != nil {
			r.fail(kv, err.Error())
		}
		return v
	}
	softValue, hardValue := read(soft), read(hard)
	if softValue != 0 && hardValue != 0 && softValue >= hardValue {
		r.fail(r.s.Key(soft), fmt.Sprintf("%s (%s) must be less than %s (%s): the SA must be rekeyed before it expires",
			soft, r.s.Key(soft).Value, hard, r.s.Key(hard).Value))
	}
	return softValue, hardValue
}

// keys reads an inbound or outbound section.
func (r *reader) keys(name, what string, suite crypto.Suite, suiteOK bool) Keys {
	s := r.sub(name)
	if s == nil {
		r.failMissing(name, "required section: "+what)
		return Keys{}
	}
	kr := r.d.reader(s, r.keyPath(name))
	defer kr.done()
	var k Keys
	if kv := kr.key("spi"); kv == nil {
		kr.failMissing("spi", "required")
	} else if n, err := parseNumber(kv.Value); err != nil {
		kr.fail(kv, err.Error())
	} else if n > math.MaxUint32 {
		kr.fail(kv, fmt.Sprintf("SPI %s is longer than 32 bits; use 256 to 0xffffffff", kv.Value))
	} else if n == 0 {
		kr.fail(kv, "SPI 0 is invalid, it means \"no SA\" (RFC 4303 §2.1); use 256 to 0xffffffff")
	} else if n < 256 {
		kr.fail(kv, fmt.Sprintf("SPI %s is reserved by IANA, as are all of 1-255 (RFC 4303 §2.1); use 256 to 0xffffffff", kv.Value))
	} else {
		k.SPI = uint32(n)
	}
	k.EncKey = kr.hexKey("enc_key", suite, suiteOK)
	switch {
	case !suiteOK:
		// Whether an integrity key belongs here depends on the proposal,
		// which has its own error; check only what can be checked.
		if kv := kr.key("integ_key"); kv != nil {
			if _, err := parseHexKey(kv.Value); err != nil {
				kr.fail(kv, err.Error())
			}
		}
	case suite.IntegKeyLen == 0:
		if kv := kr.key("integ_key"); kv != nil {
			kr.fail(kv, fmt.Sprintf("%s is an AEAD and takes no integrity key; remove integ_key", suite.Keyword))
		}
	default:
		k.IntegKey = kr.hexKey("integ_key", suite, suiteOK)
	}
	return k
}

// hexKey reads required key material; with a known suite (suiteOK) its
// length must match.
func (r *reader) hexKey(name string, suite crypto.Suite, suiteOK bool) []byte {
	kv := r.key(name)
	if kv == nil {
		r.failMissing(name, "required: the key as hex digits (0x...)")
		return nil
	}
	key, err := parseHexKey(kv.Value)
	if err != nil {
		r.fail(kv, err.Error())
		return nil
	}
	if !suiteOK {
		return key
	}
	want, unit := suite.IntegKeyLen, "bytes"
	if name == "enc_key" {
		want = suite.EncKeyLen
		if suite.IntegKeyLen == 0 {
			unit = "bytes including the 4-byte salt"
		}
	}
	if len(key) != want {
		r.fail(kv, fmt.Sprintf("%s needs %d %s (%d hex digits), got %d bytes", suite.Keyword, want, unit, 2*want, len(key)))
		return nil
	}
	return key
}
