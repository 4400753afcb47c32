package config

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/espd/espd/crypto"
	"github.com/espd/espd/internal/swanctl"
)

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	key, err := parseHexKey(s)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func TestLoadExample(t *testing.T) {
	path := filepath.Join("testdata", "example.conf")
	f, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Warnings) != 0 {
		t.Errorf("warnings: %v", f.Warnings)
	}
	gcm := mustSuite(t, "aes128gcm16-esn")
	cbc := mustSuite(t, "aes256-sha256")
	want := Espd{
		PortNATT:   4500,
		FwMark:     0xe5d,
		RouteTable: 3677,
		LogLevel:   "info",
		IKE:        defaultIKESettings,
		Tun: Tun{
			Name:  "espd0",
			MTU:   1400,
			Addrs: []netip.Prefix{netip.MustParsePrefix("198.18.1.1/32"), netip.MustParsePrefix("2001:db8:ffff:1::1/128")},
		},
		Manual: []ManualSA{
			{
				Name:         "site",
				Pos:          swanctl.Pos{File: path, Line: 41},
				Local:        netip.MustParseAddr("192.0.2.1"),
				Remote:       netip.MustParseAddr("192.0.2.2"),
				Encap:        true,
				RemotePort:   4500,
				Mode:         ModeTunnel,
				LocalTS:      []netip.Prefix{netip.MustParsePrefix("198.18.1.0/24")},
				RemoteTS:     []netip.Prefix{netip.MustParsePrefix("198.18.2.0/24")},
				Proposal:     gcm,
				ReplayWindow: 128,
				Inbound: Keys{SPI: 0x1001,
					EncKey: mustHex(t, "930e4b9972549048e7e93ee9d41bf98b99ad9de9")},
				Outbound: Keys{SPI: 0x2001,
					EncKey: mustHex(t, "920793b0aeb55b12123c7f4a94dde35373c16d46")},
			},
			{
				Name:         "host6",
				Pos:          swanctl.Pos{File: path, Line: 86},
				Local:        netip.MustParseAddr("2001:db8::1"),
				Remote:       netip.MustParseAddr("2001:db8::2"),
				Mode:         ModeTransport,
				LocalTS:      []netip.Prefix{netip.MustParsePrefix("2001:db8::1/128")},
				RemoteTS:     []netip.Prefix{netip.MustParsePrefix("2001:db8::2/128")},
				Proposal:     cbc,
				ReplayWindow: 32,
				RekeyTime:    50 * time.Minute,
				LifeTime:     time.Hour,
				RekeyBytes:   900 << 20,
				LifeBytes:    1 << 30,
				Inbound: Keys{SPI: 0x1002,
					EncKey:   mustHex(t, "6faebca7ed0c1bee814341106a19092376ce4a34279caf5b10795e2e39a43a69"),
					IntegKey: mustHex(t, "9898dab91dae8e963a9d61a7beebb34ec8761bb1734a9672b7414124196628fa")},
				Outbound: Keys{SPI: 0x2002,
					EncKey:   mustHex(t, "c95de889bce77a27b131c972ed2525772b892d10639dc2b3dae8c284168b68e3"),
					IntegKey: mustHex(t, "45359329f5ebe68144a189be0096068885788a8543cb84c1eadb5dc3b8b89e62")},
			},
		},
	}
	if !reflect.DeepEqual(f.Espd, want) {
		t.Errorf("espd:\n%+v\nwant:\n%+v", f.Espd, want)
	}
	if f.Raw == nil || f.Raw.Sub("connections").Sub("gw-gw") == nil {
		t.Error("connections not kept in Raw")
	}
	// The validated keys must be what the crypto package builds SAs from.
	for _, sa := range f.Espd.Manual {
		for _, k := range []Keys{sa.Inbound, sa.Outbound} {
			if _, err := sa.Proposal.New(k.EncKey, k.IntegKey); err != nil {
				t.Errorf("%s: %v", sa.Name, err)
			}
		}
	}
}

func mustSuite(t *testing.T, proposal string) crypto.Suite {
	t.Helper()
	s, err := crypto.ParseESPProposal(proposal)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var defaultIKESettings = IKESettings{CookieThreshold: 30, HalfOpenTimeout: 30 * time.Second,
	RetransmitTimeout: 4 * time.Second, RetransmitTries: 5}

func TestDefaults(t *testing.T) {
	want := Espd{PortNATT: 4500, FwMark: 0xe5d, RouteTable: 3677, LogLevel: "info",
		Tun: Tun{Name: "espd0", MTU: 1400}, IKE: defaultIKESettings}
	for _, in := range []string{
		"",
		"connections {\n}\n",
		"espd {\n}\n",
		"espd {\n port_nat_t =\n fwmark =\n route_table =\n log_level =\n tun {\n  name =\n  mtu =\n  addrs =\n }\n manual {\n }\n ike {\n  cookie_threshold =\n  half_open_timeout =\n  retransmit_timeout =\n  retransmit_tries =\n }\n}\n",
	} {
		f, err := Parse("defaults.conf", []byte(in))
		if err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		if !reflect.DeepEqual(f.Espd, want) {
			t.Errorf("%q: %+v, want %+v", in, f.Espd, want)
		}
		if len(f.Warnings) != 0 {
			t.Errorf("%q: warnings %v", in, f.Warnings)
		}
	}
}

// base is a valid configuration; the error tests change one thing in it.
// A "#!" comment marks the line where the error is expected.
const base = `espd {
	port_nat_t = 4500
	tun {
		addrs = 198.18.1.1/32
	}
	manual {
		site {
			local_addrs = 192.0.2.1
			remote_addrs = 192.0.2.2
			esp_proposals = aes128gcm16
			inbound {
				spi = 0x1001
				enc_key = 0x930e4b9972549048e7e93ee9d41bf98b99ad9de9
			}
			outbound {
				spi = 0x2001
				enc_key = 0x920793b0aeb55b12123c7f4a94dde35373c16d46
			}
		}
	}
}
`

const key32 = "0x6faebca7ed0c1bee814341106a19092376ce4a34279caf5b10795e2e39a43a69"

// edit applies old→new replacements to base, failing if one does not
// apply, so that a stale test cannot pass by accident.
func edit(t *testing.T, replacements ...string) string {
	t.Helper()
	s := base
	for i := 0; i < len(replacements); i += 2 {
		if !strings.Contains(s, replacements[i]) {
			t.Fatalf("%q is not in the base configuration", replacements[i])
		}
		s = strings.Replace(s, replacements[i], replacements[i+1], 1)
	}
	return s
}

func markedLine(t *testing.T, conf string) int {
	t.Helper()
	for i, line := range strings.Split(conf, "\n") {
		if strings.Contains(line, "#!") {
			return i + 1
		}
	}
	t.Fatalf("no #! marker in\n%s", conf)
	return 0
}

// allErrors unpacks errors.Join into its *Error entries.
func allErrors(t *testing.T, err error) []*Error {
	t.Helper()
	var list []error
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		list = joined.Unwrap()
	} else {
		list = []error{err}
	}
	var errs []*Error
	for _, e := range list {
		var configErr *Error
		if !errors.As(e, &configErr) {
			t.Fatalf("error %v (%T) is not a *Error", e, e)
		}
		errs = append(errs, configErr)
	}
	return errs
}

func TestErrors(t *testing.T) {
	const inbound = "spi = 0x1001\n\t\t\t\tenc_key = 0x930e4b9972549048e7e93ee9d41bf98b99ad9de9"
	const outbound = "spi = 0x2001\n\t\t\t\tenc_key = 0x920793b0aeb55b12123c7f4a94dde35373c16d46"
	// outboundFor gives the outbound section valid keys for a proposal.
	outboundFor := func(encLen, integLen int) string {
		keys := "spi = 0x2001\n\t\t\t\tenc_key = 0x" + strings.Repeat("cd", encLen)
		if integLen > 0 {
			keys += "\n\t\t\t\tinteg_key = 0x" + strings.Repeat("ef", integLen)
		}
		return keys
	}
	tests := []struct {
		name         string
		replacements []string
		key, reason  string
	}{
		// Keys.
		{"bad hex", []string{"enc_key = 0x930e4b", "enc_key = 0x930z4b #!"},
			"espd.manual.site.inbound.enc_key", `'z' is not a hex digit`},
		{"odd hex", []string{"enc_key = 0x920793b0aeb55b12123c7f4a94dde35373c16d46", "enc_key = 0x920 #!"},
			"espd.manual.site.outbound.enc_key", "odd number of hex digits (3)"},
		{"short AEAD key", []string{"enc_key = 0x930e4b9972549048e7e93ee9d41bf98b99ad9de9", "enc_key = 930e4b9972549048e7e93ee9d41bf98b #!"},
			"espd.manual.site.inbound.enc_key", "aes128gcm16 needs 20 bytes including the 4-byte salt (40 hex digits), got 16 bytes"},
		{"long AEAD key", []string{"aes128gcm16", "aes256gcm16", outbound, outboundFor(36, 0),
			"enc_key = 0x930e4b9972549048e7e93ee9d41bf98b99ad9de9", "enc_key = 0x00930e4b9972549048e7e93ee9d41bf98b99ad9de9 #!"},
			"espd.manual.site.inbound.enc_key", "aes256gcm16 needs 36 bytes including the 4-byte salt (72 hex digits), got 21 bytes"},
		{"CBC key length", []string{"aes128gcm16", "aes256-sha256", outbound, outboundFor(32, 32), inbound,
			"spi = 0x1001\n\t\t\t\tenc_key = 0x0102 #!\n\t\t\t\tinteg_key = " + key32},
			"espd.manual.site.inbound.enc_key", "aes256-sha256 needs 32 bytes (64 hex digits), got 2 bytes"},
		{"integrity key length", []string{"aes128gcm16", "aes128-sha512", outbound, outboundFor(16, 64), inbound,
			"spi = 0x1001\n\t\t\t\tenc_key = 0x000102030405060708090a0b0c0d0e0f\n\t\t\t\tinteg_key = " + key32 + " #!"},
			"espd.manual.site.inbound.integ_key", "aes128-sha512 needs 64 bytes (128 hex digits), got 32 bytes"},
		{"integrity key missing", []string{"aes128gcm16", "aes256-sha384", "\t\t\toutbound {", "\t\t\toutbound { #!",
			"enc_key = 0x920793b0aeb55b12123c7f4a94dde35373c16d46", "enc_key = " + key32,
			inbound, "spi = 0x1001\n\t\t\t\tenc_key = " + key32 + "\n\t\t\t\tinteg_key = 0x" + strings.Repeat("ab", 48)},
			"espd.manual.site.outbound.integ_key", "required"},
		{"integrity key with an AEAD", []string{inbound, inbound + "\n\t\t\t\tinteg_key = " + key32 + " #!"},
			"espd.manual.site.inbound.integ_key", "aes128gcm16 is an AEAD and takes no integrity key"},
		{"enc key missing", []string{"\t\t\t\tenc_key = 0x920793b0aeb55b12123c7f4a94dde35373c16d46\n", "", "outbound {", "outbound { #!"},
			"espd.manual.site.outbound.enc_key", "required"},
		{"enc key empty", []string{"enc_key = 0x920793b0aeb55b12123c7f4a94dde35373c16d46", "enc_key = #!"},
			"espd.manual.site.outbound.enc_key", "required"},

		// SPIs.
		{"SPI 0", []string{"spi = 0x1001", "spi = 0 #!"}, "espd.manual.site.inbound.spi", "SPI 0 is invalid"},
		{"SPI 255", []string{"spi = 0x2001", "spi = 255 #!"}, "espd.manual.site.outbound.spi", "SPI 255 is reserved"},
		{"SPI too large", []string{"spi = 0x1001", "spi = 0x100000000 #!"}, "espd.manual.site.inbound.spi", "longer than 32 bits"},
		{"SPI not a number", []string{"spi = 0x1001", "spi = 1001h #!"}, "espd.manual.site.inbound.spi", `"1001h" is not a number`},
		{"SPI missing", []string{"\t\t\t\tspi = 0x1001\n", "", "inbound {", "inbound { #!"}, "espd.manual.site.inbound.spi", "required"},

		// Addresses and selectors.
		{"mixed families", []string{"remote_addrs = 192.0.2.2", "remote_addrs = 2001:db8::2 #!"},
			"espd.manual.site.remote_addrs", "IPv6 address 2001:db8::2, but local_addrs 192.0.2.1 is IPv4"},
		{"address list", []string{"local_addrs = 192.0.2.1", "local_addrs = 192.0.2.1, 192.0.2.3 #!"},
			"espd.manual.site.local_addrs", "a manual SA takes exactly one address"},
		{"not an address", []string{"local_addrs = 192.0.2.1", "local_addrs = gw.example #!"},
			"espd.manual.site.local_addrs", `"gw.example" is not an IP address`},
		{"zone", []string{"local_addrs = 192.0.2.1", "local_addrs = fe80::1%eth0 #!"},
			"espd.manual.site.local_addrs", "has a zone"},
		{"unspecified", []string{"remote_addrs = 192.0.2.2", "remote_addrs = 0.0.0.0 #!"},
			"espd.manual.site.remote_addrs", "unspecified address"},
		{"mapped", []string{"remote_addrs = 192.0.2.2", "remote_addrs = ::ffff:192.0.2.2 #!"},
			"espd.manual.site.remote_addrs", "write 192.0.2.2"},
		{"local_addrs missing", []string{"\t\t\tlocal_addrs = 192.0.2.1\n", "", "site {", "site { #!"},
			"espd.manual.site.local_addrs", "required"},
		{"transport mode with inner selectors", []string{"esp_proposals", "mode = transport\n\t\t\tlocal_ts = 198.18.1.0/24 #!\n\t\t\tesp_proposals"},
			"espd.manual.site.local_ts", "so local_ts must be 192.0.2.1/32 (local_addrs) or left out"},
		{"transport mode with extra selectors", []string{"esp_proposals", "mode = transport\n\t\t\tremote_ts = 192.0.2.2, 198.18.2.1 #!\n\t\t\tesp_proposals"},
			"espd.manual.site.remote_ts", "remote_ts must be 192.0.2.2/32"},
		{"bad prefix", []string{"esp_proposals", "local_ts = 198.18.1.0/33 #!\n\t\t\tesp_proposals"},
			"espd.manual.site.local_ts", `"198.18.1.0/33" is not an IP prefix`},
		{"host bits", []string{"esp_proposals", "remote_ts = 198.18.2.0/24, 198.18.3.1/24 #!\n\t\t\tesp_proposals"},
			"espd.manual.site.remote_ts", "did you mean 198.18.3.0/24?"},
		{"empty list entry", []string{"esp_proposals", "remote_ts = 198.18.2.0/24,, #!\n\t\t\tesp_proposals"},
			"espd.manual.site.remote_ts", "empty entry"},
		{"range selector", []string{"esp_proposals", "remote_ts = 198.18.2.1-198.18.2.9 #!\n\t\t\tesp_proposals"},
			"espd.manual.site.remote_ts", "is not an IP address or prefix"},

		// Mode, encapsulation, proposal.
		{"unknown mode", []string{"esp_proposals", "mode = tunel #!\n\t\t\tesp_proposals"},
			"espd.manual.site.mode", `unknown mode "tunel" (want tunnel or transport)`},
		{"unsupported mode", []string{"esp_proposals", "mode = beet #!\n\t\t\tesp_proposals"},
			"espd.manual.site.mode", `mode "beet" is not supported by espd`},
		{"bad boolean", []string{"esp_proposals", "encap = maybe #!\n\t\t\tesp_proposals"},
			"espd.manual.site.encap", `"maybe" is not a boolean`},
		{"remote_port without encap", []string{"esp_proposals", "remote_port = 4500 #!\n\t\t\tesp_proposals"},
			"espd.manual.site.remote_port", "applies only to ESP-in-UDP"},
		{"remote_port range", []string{"esp_proposals", "encap = yes\n\t\t\tremote_port = 0 #!\n\t\t\tesp_proposals"},
			"espd.manual.site.remote_port", "must be between 1 and 65535, not 0"},
		{"unknown proposal token", []string{"esp_proposals = aes128gcm16", "esp_proposals = aes128gcm17 #!"},
			"espd.manual.site.esp_proposals", `unknown keyword "aes128gcm17"`},
		{"two proposals", []string{"esp_proposals = aes128gcm16", "esp_proposals = aes128gcm16, aes256gcm16 #!"},
			"espd.manual.site.esp_proposals", "a manual SA takes exactly one"},
		{"DH group", []string{"esp_proposals = aes128gcm16", "esp_proposals = aes128gcm16-modp2048 #!"},
			"espd.manual.site.esp_proposals", "names a DH group"},
		{"proposal missing", []string{"\t\t\tesp_proposals = aes128gcm16\n", "", "site {", "site { #!"},
			"espd.manual.site.esp_proposals", "required"},
		{"inbound missing", []string{"\t\t\tinbound {\n\t\t\t\t" + inbound + "\n\t\t\t}\n", "", "site {", "site { #!"},
			"espd.manual.site.inbound", "required section"},
		{"replay window", []string{"esp_proposals", "replay_window = 65537 #!\n\t\t\tesp_proposals"},
			"espd.manual.site.replay_window", "must be between 0 and 65536, not 65537"},

		// Lifetimes.
		{"bad duration", []string{"esp_proposals", "rekey_time = 1y #!\n\t\t\tesp_proposals"},
			"espd.manual.site.rekey_time", `"1y" is not a time`},
		{"bad duration number", []string{"esp_proposals", "life_time = h #!\n\t\t\tesp_proposals"},
			"espd.manual.site.life_time", `"h" is not a time`},
		{"huge duration", []string{"esp_proposals", "life_time = 0xffffffffffffd #!\n\t\t\tesp_proposals"},
			"espd.manual.site.life_time", "too long"},
		{"rekey time not below life time", []string{"esp_proposals", "rekey_time = 1h #!\n\t\t\tlife_time = 3600\n\t\t\tesp_proposals"},
			"espd.manual.site.rekey_time", "rekey_time (1h) must be less than life_time (3600)"},
		{"rekey bytes above life bytes", []string{"esp_proposals", "life_bytes = 1G\n\t\t\trekey_bytes = 2g #!\n\t\t\tesp_proposals"},
			"espd.manual.site.rekey_bytes", "rekey_bytes (2g) must be less than life_bytes (1G)"},
		{"rekey packets equal to life packets", []string{"esp_proposals", "rekey_packets = 100 #!\n\t\t\tlife_packets = 0x64\n\t\t\tesp_proposals"},
			"espd.manual.site.rekey_packets", "must be less than life_packets"},
		{"bad byte suffix", []string{"esp_proposals", "life_bytes = 1T #!\n\t\t\tesp_proposals"},
			"espd.manual.site.life_bytes", `"1T" is not a byte count`},
		{"byte overflow", []string{"esp_proposals", "life_bytes = 0xffffffffffffffff K #!\n\t\t\tesp_proposals"},
			"espd.manual.site.life_bytes", "too large"},
		{"packets take no suffix", []string{"esp_proposals", "life_packets = 1M #!\n\t\t\tesp_proposals"},
			"espd.manual.site.life_packets", `"1M" is not a number`},

		// The espd section and the TUN.
		{"port range", []string{"port_nat_t = 4500", "port_nat_t = 65536 #!"}, "espd.port_nat_t", "must be between 0 and 65535, not 65536"},
		{"fwmark range", []string{"port_nat_t = 4500", "fwmark = 0x1ffffffff #!"}, "espd.fwmark", "must be between 0 and 4294967295"},
		{"route table 0", []string{"port_nat_t = 4500", "route_table = 0 #!"}, "espd.route_table", "must be between 1 and 4294967295, not 0"},
		{"cookie threshold", []string{"port_nat_t = 4500", "ike { cookie_threshold = -1 #!\n }"}, "espd.ike.cookie_threshold", "not a number"},
		{"half-open timeout zero", []string{"port_nat_t = 4500", "ike { half_open_timeout = 0s #!\n }"}, "espd.ike.half_open_timeout", "must be longer than 0s"},
		{"retransmit timeout", []string{"port_nat_t = 4500", "ike { retransmit_timeout = soon #!\n }"}, "espd.ike.retransmit_timeout", "is not a time"},
		{"retransmit tries", []string{"port_nat_t = 4500", "ike { retransmit_tries = 101 #!\n }"}, "espd.ike.retransmit_tries", "must be between 0 and 100, not 101"},
		{"route table local", []string{"port_nat_t = 4500", "route_table = 255 #!"}, "espd.route_table", "the kernel's local table"},
		{"log level", []string{"port_nat_t = 4500", "log_level = loud #!"}, "espd.log_level", `unknown log level "loud"`},
		{"tun name", []string{"addrs = 198.18.1.1/32", "name = a-very-long-tun-name #!"}, "espd.tun.name", "longer than 15 bytes"},
		{"tun name slash", []string{"addrs = 198.18.1.1/32", "name = a/b #!"}, "espd.tun.name", "contains '/'"},
		{"mtu range", []string{"addrs = 198.18.1.1/32", "mtu = 9001 #!"}, "espd.tun.mtu", "must be between 576 and 9000, not 9001"},
		{"mtu for IPv6", []string{"addrs = 198.18.1.1/32", "addrs = 198.18.1.1/32, 2001:db8:ffff:1::1/64\n\t\tmtu = 1279 #!"},
			"espd.tun.mtu", "IPv6 needs an MTU of at least 1280"},
		{"tun addrs", []string{"addrs = 198.18.1.1/32", "addrs = 198.18.1.1/32, 198.18.1.300/24 #!"},
			"espd.tun.addrs", `"198.18.1.300/24" is not an IP prefix`},
		{"references", []string{"site {", "site : espd.manual.other { #!"},
			"espd.manual.site", "section references"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			expectOneError(t, edit(t, tt.replacements...), tt.key, tt.reason)
		})
	}
}

// expectOneError parses conf and wants exactly one *Error, on the line marked
// "#!", for key, with reason somewhere in its text.
func expectOneError(t *testing.T, conf, key, reason string) {
	t.Helper()
	f, err := Parse("test.conf", []byte(conf))
	if err == nil {
		t.Fatalf("no error for\n%s", conf)
	}
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("errors.Is(err, ErrInvalid) = false for %v", err)
	}
	if f == nil {
		t.Error("no File to carry the warnings")
	}
	errs := allErrors(t, err)
	if len(errs) != 1 {
		t.Fatalf("%d errors, want 1:\n%v", len(errs), err)
	}
	e := errs[0]
	wantPos := swanctl.Pos{File: "test.conf", Line: markedLine(t, conf)}
	if e.Pos != wantPos || e.Key != key || !strings.Contains(e.Reason, reason) {
		t.Errorf("got  %s\nwant %s: %s: ...%s...", e, wantPos, key, reason)
	}
	if want := e.Pos.String() + ": " + e.Key + ": " + e.Reason; e.Error() != want {
		t.Errorf("Error() = %q, want %q", e.Error(), want)
	}
}

func TestDuplicateInboundSPI(t *testing.T) {
	conf := edit(t, "\t\t}\n\t}\n}", `		}
		second {
			local_addrs = 192.0.2.1
			remote_addrs = 192.0.2.3
			esp_proposals = aes128gcm16
			inbound {
				spi = 4097 #!
				enc_key = 0x930e4b9972549048e7e93ee9d41bf98b99ad9de9
			}
			outbound {
				spi = 0x3001
				enc_key = 0x920793b0aeb55b12123c7f4a94dde35373c16d46
			}
		}
	}
}`)
	_, err := Parse("test.conf", []byte(conf))
	errs := allErrors(t, err)
	if len(errs) != 1 {
		t.Fatalf("%d errors, want 1: %v", len(errs), err)
	}
	want := fmt.Sprintf(`test.conf:%d: espd.manual.second.inbound.spi: inbound SPI 0x00001001 is already used by manual SA "site" (test.conf:7); inbound SPIs must be unique`,
		markedLine(t, conf))
	if errs[0].Error() != want {
		t.Errorf("got  %s\nwant %s", errs[0], want)
	}
}

func TestAllErrorsAtOnce(t *testing.T) {
	conf := edit(t,
		"port_nat_t = 4500", "port_nat_t = x",
		"spi = 0x1001", "spi = 0",
		"remote_addrs = 192.0.2.2", "remote_addrs = nowhere",
	)
	_, err := Parse("test.conf", []byte(conf))
	var got []string
	for _, e := range allErrors(t, err) {
		got = append(got, e.Pos.String()+" "+e.Key)
	}
	want := []string{
		"test.conf:2 espd.port_nat_t",
		"test.conf:9 espd.manual.site.remote_addrs",
		"test.conf:12 espd.manual.site.inbound.spi",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("errors %q, want %q", got, want)
	}
}

func TestWarnings(t *testing.T) {
	conf := `top = 1
espd {
	colour = blue
	tun {
		foo = bar
		nested { }
	}
	manual {
		stray = key
		site {
			local_addrs = 192.0.2.1
			remote_addrs = 192.0.2.2
			esp_proposal = aes128gcm16
			esp_proposals = aes128gcm16
			inbound {
				spi = 0x1001
				enc_key = 0x930e4b9972549048e7e93ee9d41bf98b99ad9de9
				salt = 1
			}
			outbound {
				spi = 0x2001
				enc_key = 0x920793b0aeb55b12123c7f4a94dde35373c16d46
			}
		}
	}
	extra { }
}
connections { }
secrets { }
pools { }
authorities { }
conections { }
`
	f, err := Parse("w.conf", []byte(conf))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range f.Warnings {
		got = append(got, w.String())
	}
	want := []string{
		"w.conf:1: unknown key top (ignored)",
		"w.conf:3: unknown key espd.colour (ignored)",
		"w.conf:5: unknown key espd.tun.foo (ignored)",
		"w.conf:6: unknown section espd.tun.nested (ignored)",
		"w.conf:9: unknown key espd.manual.stray (ignored)",
		"w.conf:13: unknown key espd.manual.site.esp_proposal (ignored)",
		"w.conf:18: unknown key espd.manual.site.inbound.salt (ignored)",
		"w.conf:26: unknown section espd.extra (ignored)",
		"w.conf:32: unknown section conections (ignored)",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if f.Warnings[2].Key != "espd.tun.foo" || len(f.Espd.Manual) != 1 {
		t.Errorf("warning key %q, %d manual SAs", f.Warnings[2].Key, len(f.Espd.Manual))
	}
}

// TestWarningsWithErrors: a misspelt key explains the error it causes, so
// the File still carries the warnings.
func TestWarningsWithErrors(t *testing.T) {
	conf := edit(t, "esp_proposals = ", "esp_proposal = ")
	f, err := Parse("test.conf", []byte(conf))
	if err == nil || f == nil || len(f.Warnings) != 1 {
		t.Fatalf("err %v, file %v", err, f)
	}
	if got := f.Warnings[0].String(); got != "test.conf:10: unknown key espd.manual.site.esp_proposal (ignored)" {
		t.Errorf("warning %q", got)
	}
}

func TestSyntaxError(t *testing.T) {
	_, err := Parse("bad.conf", []byte("espd {\n tun {\n"))
	var syntaxErr *swanctl.SyntaxError
	if !errors.As(err, &syntaxErr) || syntaxErr.Pos.File != "bad.conf" {
		t.Errorf("err = %v, want a *swanctl.SyntaxError in bad.conf", err)
	}
}

func TestLoadWithIncludes(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"espd.conf":          "espd {\n\tmanual {\n\t\tinclude manual.d/*.conf\n\t}\n}\n",
		"manual.d/site.conf": "site {\n\tlocal_addrs = 192.0.2.1\n\tremote_addrs = 192.0.2.2\n\tesp_proposals = aes128gcm16\n\tinbound {\n\t\tspi = 1\n\t}\n}\n",
	}
	for name, content := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, err := Load(filepath.Join(dir, "espd.conf"))
	site := filepath.Join(dir, "manual.d", "site.conf")
	var got []string
	for _, e := range allErrors(t, err) {
		got = append(got, e.Pos.String()+" "+e.Key)
	}
	want := []string{
		site + ":1 espd.manual.site.outbound",
		site + ":5 espd.manual.site.inbound.enc_key",
		site + ":6 espd.manual.site.inbound.spi",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "none.conf"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("err = %v, want os.ErrNotExist", err)
	}
}

// FuzzLoad runs arbitrary files through the parser and the espd schema:
// nothing may panic, every failure is a syntax error or a list of *Error
// with a position and key, and whatever loads keeps the invariants that
// the data plane relies on. Includes are read from an in-memory file
// system, so the fuzzer cannot reach real files.
func FuzzLoad(f *testing.F) {
	example, err := os.ReadFile(filepath.Join("testdata", "example.conf"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(example)
	f.Add([]byte(base))
	f.Fuzz(func(t *testing.T, data []byte) {
		fsys := fstest.MapFS{"espd.conf": {Data: data}, "inc.conf": {Data: []byte(base)}}
		root, err := swanctl.ParseFS(fsys, "espd.conf")
		if err != nil {
			return
		}
		file, err := decode(root)
		if file == nil {
			t.Fatal("no File")
		}
		if err != nil {
			for _, e := range allErrors(t, err) {
				if e.Pos.File == "" || e.Key == "" || e.Reason == "" {
					t.Fatalf("incomplete error %#v", e)
				}
			}
			return
		}
		checkInvariants(t, file.Espd)
	})
}

func checkInvariants(t *testing.T, e Espd) {
	t.Helper()
	if e.Tun.MTU < 576 || e.Tun.MTU > 9000 || e.Tun.Name == "" || len(e.Tun.Name) > 15 {
		t.Fatalf("bad tun %+v", e.Tun)
	}
	seen := map[uint32]bool{}
	for _, sa := range e.Manual {
		if !sa.Local.IsValid() || sa.Local.Is4() != sa.Remote.Is4() {
			t.Fatalf("%s: addresses %v %v", sa.Name, sa.Local, sa.Remote)
		}
		if sa.Inbound.SPI < 256 || sa.Outbound.SPI < 256 || seen[sa.Inbound.SPI] {
			t.Fatalf("%s: SPIs %d %d", sa.Name, sa.Inbound.SPI, sa.Outbound.SPI)
		}
		seen[sa.Inbound.SPI] = true
		if len(sa.LocalTS) == 0 || len(sa.RemoteTS) == 0 {
			t.Fatalf("%s: no traffic selectors", sa.Name)
		}
		if sa.Proposal.DHGroup != 0 || sa.ReplayWindow > 65536 {
			t.Fatalf("%s: %+v", sa.Name, sa)
		}
		for _, k := range []Keys{sa.Inbound, sa.Outbound} {
			if _, err := sa.Proposal.New(k.EncKey, k.IntegKey); err != nil {
				t.Fatalf("%s: %v", sa.Name, err)
			}
		}
	}
}
