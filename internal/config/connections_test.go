package config

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/espd/espd/crypto"
	"github.com/espd/espd/internal/swanctl"
)

func mustIKE(t *testing.T, proposal string) IKEProposal {
	t.Helper()
	s, err := crypto.ParseIKEProposal(proposal)
	if err != nil {
		t.Fatal(err)
	}
	return IKEProposal{Suite: s}
}

func mustESP(t *testing.T, proposal string) ESPProposal {
	return ESPProposal{Suite: mustSuite(t, proposal)}
}

func fqdnID(s string) Identity  { return Identity{Type: IDFQDN, Data: []byte(s), Text: s} }
func emailID(s string) Identity { return Identity{Type: IDEmail, Data: []byte(s), Text: s} }

func hostAddr(s string) HostSpec { return HostSpec{Kind: HostAddr, Addr: netip.MustParseAddr(s)} }

func tsPrefix(s string) TrafficSelector {
	p := netip.MustParsePrefix(s)
	return TrafficSelector{Start: p.Addr(), End: lastAddr(p), EndPort: math.MaxUint16}
}

var dynamicTS = TrafficSelector{Dynamic: true, EndPort: math.MaxUint16}

// lineOf finds the first line of a file that contains substr, so that the
// expected positions survive edits to the examples' comments.
func lineOf(t *testing.T, path, substr string) int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i, line := range strings.Split(string(data), "\n") {
		if strings.Contains(line, substr) {
			return i + 1
		}
	}
	t.Fatalf("%q is not in %s", substr, path)
	return 0
}

// TestSwanctlExamples loads every example that
// scripts/integration/swanctl_load.sh loads into strongSwan: each must
// load into espd too, without a warning, and with the connections that
// script expects charon to list.
func TestSwanctlExamples(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join("testdata", "*.conf"))
	if err != nil || len(paths) < 4 {
		t.Fatalf("examples: %v, %v", paths, err)
	}
	expected := scriptExpectations(t)
	for _, path := range paths {
		f, err := Load(path)
		if err != nil {
			t.Errorf("%s: %v", path, err)
			continue
		}
		if len(f.Warnings) != 0 {
			t.Errorf("%s: warnings %v", path, f.Warnings)
		}
		var names []string
		for _, c := range f.Connections {
			names = append(names, c.Name)
		}
		want, ok := expected[filepath.Base(path)]
		if !ok {
			t.Errorf("%s has no EXPECTED_CONNS entry in swanctl_load.sh", path)
		}
		if got := strings.Join(names, " "); got != want {
			t.Errorf("%s: espd reads connections %q, swanctl_load.sh expects charon to list %q", path, got, want)
		}
	}
}

// scriptExpectations reads EXPECTED_CONNS from swanctl_load.sh.
func scriptExpectations(t *testing.T) map[string]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "scripts", "integration", "swanctl_load.sh"))
	if err != nil {
		t.Fatal(err)
	}
	block := regexp.MustCompile(`(?s)declare -A EXPECTED_CONNS=\((.*?)\n\)`).FindSubmatch(data)
	if block == nil {
		t.Fatal("no EXPECTED_CONNS in swanctl_load.sh")
	}
	m := map[string]string{}
	for _, entry := range regexp.MustCompile(`\[([^]]+)\]="([^"]*)"`).FindAllSubmatch(block[1], -1) {
		m[string(entry[1])] = string(entry[2])
	}
	return m
}

// TestStrongSwanRejects: espd refuses what charon refuses (the same files
// fail in swanctl_load.sh).
func TestStrongSwanRejects(t *testing.T) {
	paths, _ := filepath.Glob(filepath.Join("testdata", "strongswan-rejects", "*.conf"))
	if len(paths) == 0 {
		t.Fatal("no files")
	}
	for _, path := range paths {
		_, err := Load(path)
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err = %v, want an invalid value", path, err)
		}
	}
}

func TestSiteToSiteExample(t *testing.T) {
	path := filepath.Join("testdata", "site-to-site.conf")
	f, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	psk, _ := base64.StdEncoding.DecodeString("v+NkxY9LLZvwj4qCC2o/gGrWDF2d21jL")
	want := []Connection{{
		Name:        "gw1-gw2",
		Pos:         swanctl.Pos{File: path, Line: lineOf(t, path, "gw1-gw2 {")},
		Version:     2,
		LocalAddrs:  []HostSpec{hostAddr("192.0.2.1")},
		RemoteAddrs: []HostSpec{hostAddr("192.0.2.2")},
		LocalPort:   500,
		RemotePort:  500,
		Proposals: []IKEProposal{mustIKE(t, "aes256gcm16-prfsha384-ecp384"), mustIKE(t, "aes128gcm16-prfsha256-x25519"),
			mustIKE(t, "aes256-sha256-modp2048")},
		DPDDelay:  30 * time.Second,
		RekeyTime: 4 * time.Hour,
		OverTime:  10 * time.Minute,
		Local: AuthRound{Section: "local", Pos: swanctl.Pos{File: path, Line: lineOf(t, path, "local {")},
			Method: AuthPSK, Auth: "psk", ID: fqdnID("gw1.example.org")},
		Remote: AuthRound{Section: "remote", Pos: swanctl.Pos{File: path, Line: lineOf(t, path, "remote {")},
			Method: AuthPSK, Auth: "psk", ID: fqdnID("gw2.example.org")},
		Children: []Child{{
			Name:         "net-net",
			Pos:          swanctl.Pos{File: path, Line: lineOf(t, path, "net-net {")},
			LocalTS:      []TrafficSelector{tsPrefix("198.18.1.0/24")},
			RemoteTS:     []TrafficSelector{tsPrefix("198.18.2.0/24"), tsPrefix("198.18.3.0/24")},
			ESPProposals: []ESPProposal{mustESP(t, "aes256gcm16-ecp384"), mustESP(t, "aes128gcm16"), mustESP(t, "chacha20poly1305-x25519-esn")},
			Mode:         ModeTunnel,
			StartAction:  ActionStart, DPDAction: ActionStart, CloseAction: ActionStart,
			RekeyTime: time.Hour, LifeTime: 66 * time.Minute,
			RekeyBytes: 500 << 20, LifeBytes: 550 << 20,
			RekeyPackets: 1000000, LifePackets: 1100000,
			ReplayWindow: 128,
		}},
	}}
	if !reflect.DeepEqual(f.Connections, want) {
		t.Errorf("connections:\n%+v\nwant:\n%+v", f.Connections, want)
	}
	wantSecrets := Secrets{IKE: []SharedKey{{
		Name:   "ike-gw1-gw2",
		Pos:    swanctl.Pos{File: path, Line: lineOf(t, path, "ike-gw1-gw2 {")},
		Secret: NewSecret(psk),
		IDs:    []Identity{fqdnID("gw1.example.org"), fqdnID("gw2.example.org")},
	}}}
	if !reflect.DeepEqual(f.Secrets, wantSecrets) {
		t.Errorf("secrets:\n%+v\nwant:\n%+v", f.Secrets, wantSecrets)
	}
	if len(f.Authorities) != 0 {
		t.Errorf("authorities %+v", f.Authorities)
	}
}

func TestRoadWarriorExamples(t *testing.T) {
	gwPath := filepath.Join("testdata", "road-warrior-gateway.conf")
	gw, err := Load(gwPath)
	if err != nil {
		t.Fatal(err)
	}
	wantGW := []Connection{{
		Name:        "rw",
		Pos:         swanctl.Pos{File: gwPath, Line: lineOf(t, gwPath, "rw {")},
		Version:     2,
		LocalAddrs:  []HostSpec{hostAddr("203.0.113.1")},
		RemoteAddrs: []HostSpec{{Kind: HostAny}},
		LocalPort:   500,
		RemotePort:  500,
		Proposals:   []IKEProposal{mustIKE(t, "aes256gcm16-prfsha384-ecp384"), {Default: true}},
		Mobike:      true,
		DPDDelay:    time.Minute,
		RekeyTime:   4 * time.Hour,
		OverTime:    24 * time.Minute,
		Local: AuthRound{Section: "local", Pos: swanctl.Pos{File: gwPath, Line: lineOf(t, gwPath, "local {")},
			Method: AuthPubkey, Auth: "pubkey", ID: fqdnID("gw.example.org"), Certs: []string{"gwCert.pem"}},
		Remote: AuthRound{Section: "remote", Pos: swanctl.Pos{File: gwPath, Line: lineOf(t, gwPath, "remote {")},
			Method: AuthPubkey, Auth: "rsa/pss-2048-sha256",
			Constraints: []KeyConstraint{{Type: KeyRSAPSS, MinBits: 2048, Hashes: []string{"sha256"}}},
			ID:          emailID("*@example.org"), CACerts: []string{"caCert.pem"}},
		Children: []Child{{
			Name:         "rw",
			Pos:          swanctl.Pos{File: gwPath, Line: lineOf(t, gwPath, "            rw {")},
			LocalTS:      []TrafficSelector{tsPrefix("198.18.0.0/16"), tsPrefix("2001:db8:ffff::/48")},
			RemoteTS:     []TrafficSelector{dynamicTS},
			ESPProposals: []ESPProposal{mustESP(t, "aes256gcm16"), mustESP(t, "aes128gcm16-x25519")},
			Mode:         ModeTunnel,
			RekeyTime:    30 * time.Minute, LifeTime: 33 * time.Minute,
			ReplayWindow: 32,
		}},
	}}
	if !reflect.DeepEqual(gw.Connections, wantGW) {
		t.Errorf("gateway connections:\n%+v\nwant:\n%+v", gw.Connections, wantGW)
	}
	wantAuthorities := []Authority{{
		Name: "example-ca", Pos: swanctl.Pos{File: gwPath, Line: lineOf(t, gwPath, "example-ca {")},
		CACert: "caCert.pem", CRLURIs: []string{"http://crl.example.org/ca.crl"}, OCSPURIs: []string{"http://ocsp.example.org"},
	}}
	if !reflect.DeepEqual(gw.Authorities, wantAuthorities) {
		t.Errorf("authorities:\n%+v\nwant:\n%+v", gw.Authorities, wantAuthorities)
	}
	wantGWSecrets := Secrets{PrivateKeys: []KeyPassphrase{{
		Name: "ecdsa-gw", Pos: swanctl.Pos{File: gwPath, Line: lineOf(t, gwPath, "ecdsa-gw {")},
		Dir: KeyDirECDSA, File: "gwKey.pem", Passphrases: []Secret{NewSecret([]byte("gateway key passphrase"))},
	}}}
	if !reflect.DeepEqual(gw.Secrets, wantGWSecrets) {
		t.Errorf("gateway secrets:\n%+v\nwant:\n%+v", gw.Secrets, wantGWSecrets)
	}

	clientPath := filepath.Join("testdata", "road-warrior-client.conf")
	client, err := Load(clientPath)
	if err != nil {
		t.Fatal(err)
	}
	wantClient := []Connection{{
		Name:        "home",
		Pos:         swanctl.Pos{File: clientPath, Line: lineOf(t, clientPath, "home {")},
		Version:     2,
		RemoteAddrs: []HostSpec{hostAddr("203.0.113.1")},
		LocalPort:   500,
		RemotePort:  500,
		Proposals:   []IKEProposal{mustIKE(t, "aes256gcm16-prfsha384-ecp384")},
		Encap:       true,
		Mobike:      true,
		DPDDelay:    30 * time.Second,
		RekeyTime:   4 * time.Hour,
		OverTime:    24 * time.Minute,
		Local: AuthRound{Section: "local", Pos: swanctl.Pos{File: clientPath, Line: lineOf(t, clientPath, "local {")},
			Method: AuthPubkey, Auth: "ike:rsa/pss-sha256",
			Constraints: []KeyConstraint{{IKE: true, Type: KeyRSAPSS, Hashes: []string{"sha256"}}},
			ID:          emailID("alice@example.org"), Certs: []string{"aliceCert.pem"}},
		Remote: AuthRound{Section: "remote", Pos: swanctl.Pos{File: clientPath, Line: lineOf(t, clientPath, "remote {")},
			Method: AuthPubkey, Auth: "pubkey", ID: fqdnID("gw.example.org"), CACerts: []string{"caCert.pem"}},
		Children: []Child{{
			Name:         "home",
			Pos:          swanctl.Pos{File: clientPath, Line: lineOf(t, clientPath, "            home {")},
			LocalTS:      []TrafficSelector{dynamicTS},
			RemoteTS:     []TrafficSelector{tsPrefix("198.18.0.0/16")},
			ESPProposals: []ESPProposal{mustESP(t, "aes256gcm16")},
			Mode:         ModeTunnel,
			StartAction:  ActionStart, DPDAction: ActionStart, CloseAction: ActionStart,
			RekeyTime: time.Hour, LifeTime: 66 * time.Minute,
			ReplayWindow: 32,
		}},
	}}
	if !reflect.DeepEqual(client.Connections, wantClient) {
		t.Errorf("client connections:\n%+v\nwant:\n%+v", client.Connections, wantClient)
	}
	if got := client.Secrets.PrivateKeys; len(got) != 1 || got[0].Dir != KeyDirRSA || got[0].File != "aliceKey.pem" ||
		string(got[0].Passphrases[0].Bytes()) != "alice key passphrase" {
		t.Errorf("client secrets %+v", got)
	}
}

// sharedBase is a valid connection, secret and authority; the tests change
// one thing in it. A "#!" comment marks the line where an error is
// expected.
const sharedBase = `connections {
	gw {
		remote_addrs = 192.0.2.2
		local {
			auth = psk
			id = gw1.example.org
		}
		remote {
			auth = psk
			id = gw2.example.org
		}
		children {
			net {
				local_ts = 198.18.1.0/24
				remote_ts = 198.18.2.0/24
				esp_proposals = aes128gcm16
			}
		}
	}
}
secrets {
	ike-1 {
		secret = 0x0123456789abcdef
		id-a = gw1.example.org
	}
	rsa-1 {
		file = key.pem
		secret = passphrase
	}
}
authorities {
	ca {
		cacert = caCert.pem
	}
}
`

// editShared applies old→new replacements to sharedBase, failing if one
// does not apply.
func editShared(t *testing.T, replacements ...string) string {
	t.Helper()
	s := sharedBase
	for i := 0; i < len(replacements); i += 2 {
		if !strings.Contains(s, replacements[i]) {
			t.Fatalf("%q is not in the base configuration", replacements[i])
		}
		s = strings.Replace(s, replacements[i], replacements[i+1], 1)
	}
	return s
}

// Places in sharedBase to add a key.
const (
	inConn   = "remote_addrs = 192.0.2.2"
	inLocal  = "id = gw1.example.org\n"
	inRemote = "id = gw2.example.org\n"
	inChild  = "esp_proposals = aes128gcm16"
)

func addTo(place, line string) []string {
	if strings.HasSuffix(place, "\n") {
		return []string{place, place + "\t\t\t" + line + "\n"}
	}
	return []string{place, place + "\n\t\t\t\t" + line}
}

func TestSharedDefaults(t *testing.T) {
	f, err := Parse("d.conf", []byte("connections {\n\tc {\n\t\tlocal {\n\t\t}\n\t\tremote {\n\t\t}\n\t\tchildren {\n\t\t\tx {\n\t\t\t}\n\t\t}\n\t}\n}\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := Connection{
		Name: "c", Pos: swanctl.Pos{File: "d.conf", Line: 2}, Version: 2,
		LocalPort: 500, RemotePort: 500, Proposals: []IKEProposal{{Default: true}}, Mobike: true,
		RekeyTime: 4 * time.Hour, OverTime: 24 * time.Minute,
		Local:  AuthRound{Section: "local", Pos: swanctl.Pos{File: "d.conf", Line: 3}, Method: AuthPubkey, Auth: "pubkey"},
		Remote: AuthRound{Section: "remote", Pos: swanctl.Pos{File: "d.conf", Line: 5}, Method: AuthPubkey, Auth: "pubkey"},
		Children: []Child{{
			Name: "x", Pos: swanctl.Pos{File: "d.conf", Line: 8},
			LocalTS: []TrafficSelector{dynamicTS}, RemoteTS: []TrafficSelector{dynamicTS},
			ESPProposals: []ESPProposal{{Default: true}}, Mode: ModeTunnel,
			RekeyTime: time.Hour, LifeTime: 66 * time.Minute, ReplayWindow: 32,
		}},
	}
	if len(f.Connections) != 1 || !reflect.DeepEqual(f.Connections[0], want) {
		t.Errorf("got  %+v\nwant %+v", f.Connections, want)
	}

	// An empty value is the default, as in swanctl, which leaves such
	// keys out of what it sends to charon.
	var empties []string
	for _, place := range []string{inConn, inChild} {
		keys := map[string][]string{
			inConn: {"version", "local_addrs", "local_port", "remote_port", "proposals", "encap", "mobike",
				"dpd_delay", "rekey_time", "reauth_time", "over_time"},
			inChild: {"local_ts", "mode", "start_action", "dpd_action", "close_action", "life_time",
				"rekey_bytes", "life_bytes", "rekey_packets", "life_packets", "replay_window"},
		}[place]
		for _, key := range keys {
			empties = append(empties, addTo(place, key+" =")...)
		}
	}
	f, err = Parse("e.conf", []byte(editShared(t, empties...)))
	if err != nil || len(f.Warnings) != 0 {
		t.Fatalf("%v %v", err, f.Warnings)
	}
	c := f.Connections[0]
	if c.Version != 2 || c.LocalAddrs != nil || c.LocalPort != 500 || !c.Proposals[0].Default || !c.Mobike ||
		c.RekeyTime != 4*time.Hour || c.OverTime != 24*time.Minute {
		t.Errorf("connection %+v", c)
	}
	ch := c.Children[0]
	if !ch.LocalTS[0].Dynamic || ch.Mode != ModeTunnel || ch.LifeTime != 66*time.Minute || ch.ReplayWindow != 32 {
		t.Errorf("child %+v", ch)
	}
}

// TestSharedKeys sets each key and checks where it lands.
func TestSharedKeys(t *testing.T) {
	conn := func(f *File) Connection { return f.Connections[0] }
	child := func(f *File) Child { return f.Connections[0].Children[0] }
	ts := func(s string, proto uint8, from, to uint16) TrafficSelector {
		x := tsPrefix(s)
		x.Protocol, x.StartPort, x.EndPort = proto, from, to
		return x
	}
	tests := []struct {
		name         string
		replacements []string
		get          func(*File) any
		want         any
	}{
		{"version 2", addTo(inConn, "version = 2"), func(f *File) any { return conn(f).Version }, 2},
		{"local_addrs", addTo(inConn, "local_addrs = 192.0.2.1, 2001:db8::1, gw.example.org, 192.0.2.0/24, 192.0.2.10-192.0.2.20, %any6"),
			func(f *File) any { return conn(f).LocalAddrs }, []HostSpec{
				hostAddr("192.0.2.1"), hostAddr("2001:db8::1"), {Kind: HostDNS, Name: "gw.example.org"},
				{Kind: HostPrefix, Prefix: netip.MustParsePrefix("192.0.2.0/24")},
				{Kind: HostRange, First: netip.MustParseAddr("192.0.2.10"), Last: netip.MustParseAddr("192.0.2.20")},
				{Kind: HostAny, Addr: netip.IPv6Unspecified()},
			}},
		{"remote_addrs", []string{inConn, "remote_addrs = vpn-1.example.org, %any4"},
			func(f *File) any { return conn(f).RemoteAddrs },
			[]HostSpec{{Kind: HostDNS, Name: "vpn-1.example.org"}, {Kind: HostAny, Addr: netip.IPv4Unspecified()}}},
		{"local_port", addTo(inConn, "local_port = 4500"), func(f *File) any { return conn(f).LocalPort }, uint16(4500)},
		{"remote_port", addTo(inConn, "remote_port = 0x1194"), func(f *File) any { return conn(f).RemotePort }, uint16(0x1194)},
		{"proposals", addTo(inConn, "proposals = aes128gcm16-prfsha256-x25519, Default, chacha20poly1305-prfsha512-modp3072"),
			func(f *File) any { return conn(f).Proposals }, []IKEProposal{mustIKE(t, "aes128gcm16-prfsha256-x25519"),
				{Default: true}, mustIKE(t, "chacha20poly1305-prfsha512-modp3072")}},
		{"encap", addTo(inConn, "encap = yes"), func(f *File) any { return conn(f).Encap }, true},
		{"mobike", addTo(inConn, "mobike = no"), func(f *File) any { return conn(f).Mobike }, false},
		{"dpd_delay", addTo(inConn, "dpd_delay = 2m"), func(f *File) any { return conn(f).DPDDelay }, 2 * time.Minute},
		{"rekey_time", addTo(inConn, "rekey_time = 90m"),
			func(f *File) any { return []time.Duration{conn(f).RekeyTime, conn(f).ReauthTime, conn(f).OverTime} },
			[]time.Duration{90 * time.Minute, 0, 9 * time.Minute}},
		{"reauth_time alone turns rekeying off", addTo(inConn, "reauth_time = 1d"),
			func(f *File) any { return []time.Duration{conn(f).RekeyTime, conn(f).ReauthTime, conn(f).OverTime} },
			[]time.Duration{0, 24 * time.Hour, 144 * time.Minute}},
		{"rekey_time and reauth_time", addTo(inConn, "rekey_time = 1h\n\t\treauth_time = 10h"),
			func(f *File) any { return []time.Duration{conn(f).RekeyTime, conn(f).ReauthTime, conn(f).OverTime} },
			[]time.Duration{time.Hour, 10 * time.Hour, time.Hour}},
		{"over_time", addTo(inConn, "over_time = 5 m"), func(f *File) any { return conn(f).OverTime }, 5 * time.Minute},

		{"auth psk", nil, func(f *File) any { return conn(f).Local.Method }, AuthPSK},
		{"auth PSK", []string{"auth = psk", "auth = PSK"}, func(f *File) any { return conn(f).Local.Method }, AuthPSK},
		{"auth pubkey", []string{"auth = psk", "auth = pubkey"},
			func(f *File) any { return []any{conn(f).Local.Method, conn(f).Local.Constraints} }, []any{AuthPubkey, []KeyConstraint(nil)}},
		{"auth rsa/pss", []string{"auth = psk", "auth = rsa/pss"}, func(f *File) any { return conn(f).Local.Constraints },
			[]KeyConstraint{{Type: KeyRSAPSS}}},
		{"auth ecdsa-256", []string{"auth = psk", "auth = ecdsa-256"}, func(f *File) any { return conn(f).Local.Constraints },
			[]KeyConstraint{{Type: KeyECDSA, MinBits: 256}}},
		{"auth ike:ed25519", []string{"auth = psk", "auth = ike:ed25519"}, func(f *File) any { return conn(f).Local.Constraints },
			[]KeyConstraint{{IKE: true, Type: KeyEd25519}}},
		{"auth pubkey with hashes", []string{"auth = psk", "auth = pubkey-sha384-sha256"}, func(f *File) any { return conn(f).Local.Constraints },
			[]KeyConstraint{{Type: KeyAny, Hashes: []string{"sha384", "sha256"}}}},
		{"auth several key types", []string{"auth = psk\n\t\t\tid = gw2", "auth = rsa-2048-sha256-ecdsa-256-sha256-sha384\n\t\t\tid = gw2"},
			func(f *File) any { return conn(f).Remote.Constraints },
			[]KeyConstraint{{Type: KeyRSA, MinBits: 2048, Hashes: []string{"sha256"}},
				{Type: KeyECDSA, MinBits: 256, Hashes: []string{"sha256", "sha384"}}}},
		{"local id", nil, func(f *File) any { return conn(f).Local.ID }, fqdnID("gw1.example.org")},
		{"remote id DN", []string{"id = gw2.example.org", `id = "C=CH, O=example, CN=gw2"`},
			func(f *File) any { return []any{conn(f).Remote.ID.Type, conn(f).Remote.ID.Text} },
			[]any{IDDN, "C=CH, O=example, CN=gw2"}},
		{"certs", append([]string{"auth = psk", "auth = pubkey"}, addTo(inLocal, "certs = a.pem, /etc/b.pem")...), func(f *File) any { return conn(f).Local.Certs },
			[]string{"a.pem", "/etc/b.pem"}},
		{"pubkeys", append([]string{"auth = psk\n\t\t\tid = gw2", "auth = pubkey\n\t\t\tid = gw2"}, addTo(inRemote, "pubkeys = peer.pub")...), func(f *File) any { return conn(f).Remote.Pubkeys }, []string{"peer.pub"}},
		{"cacerts", append([]string{"auth = psk\n\t\t\tid = gw2", "auth = pubkey\n\t\t\tid = gw2"}, addTo(inRemote, "cacerts = ca.pem")...), func(f *File) any { return conn(f).Remote.CACerts }, []string{"ca.pem"}},
		{"suffixed round sections", []string{"local {", "local-1 {", "remote {", "remote2 {"},
			func(f *File) any { return []string{conn(f).Local.Section, conn(f).Remote.Section} }, []string{"local-1", "remote2"}},

		{"local_ts forms", []string{"local_ts = 198.18.1.0/24", "local_ts = 198.18.1.1, 198.18.0.0/16[tcp], 198.18.1.1-198.18.1.9[udp/53], dynamic[icmp/8], 2001:db8:ffff::/48[6/1024-2047], 198.18.4.0/24[any/opaque], 198.18.5.0/24[/https]"},
			func(f *File) any { return child(f).LocalTS }, []TrafficSelector{
				tsPrefix("198.18.1.1/32"), ts("198.18.0.0/16", 6, 0, 65535),
				{Start: netip.MustParseAddr("198.18.1.1"), End: netip.MustParseAddr("198.18.1.9"), Protocol: 17, StartPort: 53, EndPort: 53},
				{Dynamic: true, Protocol: 1, StartPort: 8, EndPort: 8},
				ts("2001:db8:ffff::/48", 6, 1024, 2047), ts("198.18.4.0/24", 0, 65535, 0), ts("198.18.5.0/24", 0, 443, 443),
			}},
		{"remote_ts", []string{"remote_ts = 198.18.2.0/24", "remote_ts = dynamic"}, func(f *File) any { return child(f).RemoteTS },
			[]TrafficSelector{dynamicTS}},
		{"esp_proposals", []string{inChild, "esp_proposals = aes256gcm16-ecp384, default, aes128-sha256-esn"},
			func(f *File) any { return child(f).ESPProposals },
			[]ESPProposal{mustESP(t, "aes256gcm16-ecp384"), {Default: true}, mustESP(t, "aes128-sha256-esn")}},
		{"mode transport", addTo(inChild, "mode = transport"), func(f *File) any { return child(f).Mode }, ModeTransport},
		{"mode TUNNEL", addTo(inChild, "mode = TUNNEL"), func(f *File) any { return child(f).Mode }, ModeTunnel},
		{"start_action trap", addTo(inChild, "start_action = trap"), func(f *File) any { return child(f).StartAction }, ActionTrap},
		{"start_action route", addTo(inChild, "start_action = route"), func(f *File) any { return child(f).StartAction }, ActionTrap},
		{"start_action trap|start", addTo(inChild, "start_action = trap|start"), func(f *File) any { return child(f).StartAction }, ActionTrap | ActionStart},
		{"start_action start", addTo(inChild, "start_action = start"), func(f *File) any { return child(f).StartAction }, ActionStart},
		{"dpd_action clear", addTo(inChild, "dpd_action = clear"), func(f *File) any { return child(f).DPDAction }, ActionNone},
		{"dpd_action restart", addTo(inChild, "dpd_action = restart"), func(f *File) any { return child(f).DPDAction }, ActionStart},
		{"dpd_action trap", addTo(inChild, "dpd_action = trap"), func(f *File) any { return child(f).DPDAction }, ActionTrap},
		{"close_action start", addTo(inChild, "close_action = start"), func(f *File) any { return child(f).CloseAction }, ActionStart},
		{"close_action none", addTo(inChild, "close_action = none"), func(f *File) any { return child(f).CloseAction }, ActionNone},
		// charon's default life_time is rekey_time * 110 / 100 in whole
		// seconds.
		{"rekey_time", addTo(inChild, "rekey_time = 10s"),
			func(f *File) any { return []time.Duration{child(f).RekeyTime, child(f).LifeTime} },
			[]time.Duration{10 * time.Second, 11 * time.Second}},
		{"rekey_time 20m", addTo(inChild, "rekey_time = 20m"),
			func(f *File) any { return []time.Duration{child(f).RekeyTime, child(f).LifeTime} },
			[]time.Duration{20 * time.Minute, 22 * time.Minute}},
		{"life_time", addTo(inChild, "life_time = 2h"),
			func(f *File) any { return []time.Duration{child(f).RekeyTime, child(f).LifeTime} },
			[]time.Duration{time.Hour, 2 * time.Hour}},
		{"rekey_time 0", addTo(inChild, "rekey_time = 0"),
			func(f *File) any { return []time.Duration{child(f).RekeyTime, child(f).LifeTime} }, []time.Duration{0, 0}},
		{"rekey_bytes", addTo(inChild, "rekey_bytes = 1G"),
			func(f *File) any { return []uint64{child(f).RekeyBytes, child(f).LifeBytes} }, []uint64{1 << 30, 1<<30 + (1<<30)/10}},
		{"life_bytes", addTo(inChild, "rekey_bytes = 100k\n\t\t\t\tlife_bytes = 200K"),
			func(f *File) any { return []uint64{child(f).RekeyBytes, child(f).LifeBytes} }, []uint64{100 << 10, 200 << 10}},
		{"rekey_packets", addTo(inChild, "rekey_packets = 1000"),
			func(f *File) any { return []uint64{child(f).RekeyPackets, child(f).LifePackets} }, []uint64{1000, 1100}},
		{"life_packets", addTo(inChild, "life_packets = 5000"),
			func(f *File) any { return []uint64{child(f).RekeyPackets, child(f).LifePackets} }, []uint64{0, 5000}},
		{"replay_window", addTo(inChild, "replay_window = 0"), func(f *File) any { return child(f).ReplayWindow }, uint32(0)},
		{"replay_window max", addTo(inChild, "replay_window = 65536"), func(f *File) any { return child(f).ReplayWindow }, uint32(65536)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conf := editShared(t, tt.replacements...)
			f, err := Parse("k.conf", []byte(conf))
			if err != nil {
				t.Fatalf("%v\n%s", err, conf)
			}
			if len(f.Warnings) != 0 {
				t.Errorf("warnings %v", f.Warnings)
			}
			if got := tt.get(f); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestSharedErrors(t *testing.T) {
	tests := []struct {
		name         string
		replacements []string
		key, reason  string
	}{
		// Connection.
		{"IKEv1", addTo(inConn, "version = 1 #!"), "connections.gw.version", "IKEv1 is not supported yet"},
		{"IKE version 3", addTo(inConn, "version = 3 #!"), "connections.gw.version", "unknown IKE version 3"},
		{"bad address", []string{inConn, "remote_addrs = 192.0.2.300 #!"}, "connections.gw.remote_addrs", `"192.0.2.300" is not an IP address`},
		{"bad IPv6 address", []string{inConn, "remote_addrs = 2001:db8::g #!"}, "connections.gw.remote_addrs", "is not an IPv6 address"},
		{"bad hostname", []string{inConn, "remote_addrs = gw_1..example #!"}, "connections.gw.remote_addrs", "is not a DNS name"},
		{"subnet host bits", addTo(inConn, "local_addrs = 192.0.2.1/24 #!"), "connections.gw.local_addrs", "did you mean 192.0.2.0/24?"},
		{"reversed range", addTo(inConn, "local_addrs = 192.0.2.9-192.0.2.1 #!"), "connections.gw.local_addrs", "ends before it starts"},
		{"mixed range", addTo(inConn, "local_addrs = 192.0.2.1-2001:db8::1 #!"), "connections.gw.local_addrs", "mixes IPv4 and IPv6"},
		{"zone", addTo(inConn, "local_addrs = fe80::1%eth0 #!"), "connections.gw.local_addrs", "has a zone"},
		{"empty list entry", addTo(inConn, "local_addrs = 192.0.2.1,,192.0.2.3 #!"), "connections.gw.local_addrs", "empty entry"},
		{"port 0", addTo(inConn, "local_port = 0 #!"), "connections.gw.local_port", "must be between 1 and 65535, not 0"},
		{"port too large", addTo(inConn, "remote_port = 65536 #!"), "connections.gw.remote_port", "must be between 1 and 65535"},
		{"octal port", addTo(inConn, "remote_port = 0500 #!"), "connections.gw.remote_port", "strongSwan reads as octal"},
		{"long number", addTo(inConn, "dpd_delay = 0000000000000030 #!"), "connections.gw.dpd_delay", "longer than the 15 characters"},
		{"IKE proposal", addTo(inConn, "proposals = aes128gcm16-prfsha256-x25519, aes128gcm17-prfsha256 #!"),
			"connections.gw.proposals", `invalid IKE proposal "aes128gcm17-prfsha256": unknown keyword "aes128gcm17"`},
		{"IKE proposal without DH", addTo(inConn, "proposals = aes128-sha256 #!"), "connections.gw.proposals", "no DH group"},
		{"encap", addTo(inConn, "encap = sometimes #!"), "connections.gw.encap", `"sometimes" is not a boolean`},
		{"mobike", addTo(inConn, "mobike = 2 #!"), "connections.gw.mobike", "is not a boolean"},
		{"dpd_delay", addTo(inConn, "dpd_delay = 30x #!"), "connections.gw.dpd_delay", `"30x" is not a time`},
		{"rekey_time", addTo(inConn, "rekey_time = -1 #!"), "connections.gw.rekey_time", "is not a time"},
		{"reauth_time", addTo(inConn, "reauth_time = 1w #!"), "connections.gw.reauth_time", "is not a time"},
		{"over_time", addTo(inConn, "over_time = 1.5h #!"), "connections.gw.over_time", "is not a time"},
		{"no local section", []string{"\t\tlocal {\n\t\t\tauth = psk\n\t\t\tid = gw1.example.org\n\t\t}\n", "", "gw {", "gw { #!"},
			"connections.gw.local", "required section"},
		{"two remote rounds", []string{"\t\tchildren {", "\t\tremote-2 { #!\n\t\t\tauth = psk\n\t\t}\n\t\tchildren {"},
			"connections.gw.remote-2", "espd supports one remote authentication round"},

		// Authentication rounds.
		{"auth eap", []string{"auth = psk", "auth = eap-mschapv2 #!"}, "connections.gw.local.auth", "EAP and XAuth authentication are not supported"},
		{"auth xauth", []string{"auth = psk", "auth = xauth #!"}, "connections.gw.local.auth", "not supported"},
		{"auth ed25519 alone", []string{"auth = psk", "auth = ed25519 #!"}, "connections.gw.local.auth", "unknown auth method"},
		{"auth unknown", []string{"auth = psk", "auth = password #!"}, "connections.gw.local.auth", `unknown auth method "password"`},
		{"auth upper-case pubkey", []string{"auth = psk", "auth = PUBKEY #!"}, "connections.gw.local.auth", "unknown auth method"},
		{"auth sha1", []string{"auth = psk", "auth = rsa-sha1 #!"}, "connections.gw.local.auth", "sha1 signatures are not supported"},
		{"auth unknown hash", []string{"auth = psk", "auth = ecdsa-sha3 #!"}, "connections.gw.local.auth", `unknown token "sha3"`},
		{"auth ed448", []string{"auth = psk", "auth = pubkey-ed448 #!"}, "connections.gw.local.auth", "Ed448"},
		{"auth ed25519 hash", []string{"auth = psk", "auth = ike:ed25519-sha256 #!"}, "connections.gw.local.auth", "use identity"},
		{"auth identity for rsa", []string{"auth = psk", "auth = rsa-identity #!"}, "connections.gw.local.auth", "applies only to Ed25519"},
		{"auth bliss", []string{"auth = psk", "auth = bliss #!"}, "connections.gw.local.auth", "BLISS"},
		{"id bad email", []string{"id = gw1.example.org", "id = a@b@example.org #!"}, "connections.gw.local.id", "more than one '@'"},
		{"id wildcard in local", []string{"id = gw1.example.org", "id = *.example.org #!"}, "connections.gw.local.id", "only a remote id may have"},
		{"id DN attribute", []string{"id = gw2.example.org", `id = "C=CH, X=y" #!`}, "connections.gw.remote.id", `unknown attribute "X"`},
		{"id subnet", []string{"id = gw2.example.org", "id = 192.0.2.0/24 #!"}, "connections.gw.remote.id", "address range or subnet"},
		{"id bad key ID", []string{"id = gw2.example.org", `id = "@#12g4" #!`}, "connections.gw.remote.id", "'g' is not a hex digit"},
		{"id key ID unquoted", []string{"id = gw2.example.org", "id = @#0102 #!"}, "connections.gw.remote.id", "must be quoted"},
		{"id ipv4 text", []string{"id = gw2.example.org", "id = ipv4:192.0.2.2 #!"}, "connections.gw.remote.id", "takes hex data"},
		{"id unsupported type", []string{"id = gw2.example.org", "id = asn1gn:#30 #!"}, "connections.gw.remote.id", "not supported by espd"},
		{"certs list", addTo(inLocal, "certs = a.pem, #!"), "connections.gw.local.certs", "empty entry"},

		// Children.
		{"esp proposal", []string{inChild, "esp_proposals = aes128gcm17 #!"}, "connections.gw.children.net.esp_proposals",
			`invalid ESP proposal "aes128gcm17": unknown keyword "aes128gcm17"`},
		{"esp proposal alternatives", []string{inChild, "esp_proposals = aes128gcm16-aes256gcm16 #!"}, "connections.gw.children.net.esp_proposals",
			"conflicts with"},
		{"mode pass", addTo(inChild, "mode = pass #!"), "connections.gw.children.net.mode", "shunt policy"},
		{"mode beet", addTo(inChild, "mode = beet #!"), "connections.gw.children.net.mode", `mode "beet" is not supported by espd`},
		{"mode unknown", addTo(inChild, "mode = tunel #!"), "connections.gw.children.net.mode", `unknown value "tunel" (want tunnel or transport)`},
		{"start_action", addTo(inChild, "start_action = always #!"), "connections.gw.children.net.start_action", `unknown action "always"`},
		{"start_action alias combined", addTo(inChild, "start_action = route|start #!"), "connections.gw.children.net.start_action", "unknown action"},
		{"dpd_action", addTo(inChild, "dpd_action = hold #!"), "connections.gw.children.net.dpd_action", "want clear, trap or restart"},
		{"close_action", addTo(inChild, "close_action = yes #!"), "connections.gw.children.net.close_action", "want none, trap or start"},
		{"start without remote address", []string{inConn, "remote_addrs = 192.0.2.0/24", inChild, inChild + "\n\t\t\t\tstart_action = start #!"},
			"connections.gw.children.net.start_action", "needs an address or DNS name in connections.gw.remote_addrs"},
		{"selector host bits", []string{"local_ts = 198.18.1.0/24", "local_ts = 198.18.1.1/24 #!"}, "connections.gw.children.net.local_ts", "did you mean"},
		{"selector protocol", []string{"remote_ts = 198.18.2.0/24", "remote_ts = 198.18.2.0/24[tcpp] #!"}, "connections.gw.children.net.remote_ts", `unknown protocol "tcpp"`},
		{"selector protocol case", []string{"remote_ts = 198.18.2.0/24", "remote_ts = 198.18.2.0/24[Tcp] #!"}, "connections.gw.children.net.remote_ts", "unknown protocol"},
		{"selector port", []string{"remote_ts = 198.18.2.0/24", "remote_ts = 198.18.2.0/24[tcp/65536] #!"}, "connections.gw.children.net.remote_ts", "is not a port"},
		{"selector octal port", []string{"remote_ts = 198.18.2.0/24", "remote_ts = 198.18.2.0/24[tcp/010] #!"}, "connections.gw.children.net.remote_ts", "octal"},
		{"selector port range", []string{"remote_ts = 198.18.2.0/24", "remote_ts = 198.18.2.0/24[udp/90-80] #!"}, "connections.gw.children.net.remote_ts", "ends before it starts"},
		{"selector service", []string{"remote_ts = 198.18.2.0/24", "remote_ts = 198.18.2.0/24[tcp/no-such-service] #!"}, "connections.gw.children.net.remote_ts", "unknown service"},
		{"selector bracket", []string{"remote_ts = 198.18.2.0/24", "remote_ts = 198.18.2.0/24[tcp #!"}, "connections.gw.children.net.remote_ts", "must end with ']'"},
		{"selector Dynamic", []string{"remote_ts = 198.18.2.0/24", "remote_ts = Dynamic #!"}, "connections.gw.children.net.remote_ts", "is not an IP address or prefix"},
		{"selector range", []string{"remote_ts = 198.18.2.0/24", "remote_ts = 198.18.2.1-198.18.2 #!"}, "connections.gw.children.net.remote_ts", "is not an IP address"},
		{"rekey_time", addTo(inChild, "rekey_time = 1 hour #!"), "connections.gw.children.net.rekey_time", "is not a time"},
		{"rekey_time above life_time", addTo(inChild, "rekey_time = 2h #!\n\t\t\t\tlife_time = 1h"), "connections.gw.children.net.rekey_time",
			"rekey_time (2h) must be less than life_time (1h)"},
		{"life_time below the default rekey_time", addTo(inChild, "life_time = 30m #!"), "connections.gw.children.net.life_time",
			"life_time (30m) must be more than rekey_time (1h0m0s, the default)"},
		{"rekey_time too small for its default life_time", addTo(inChild, "rekey_time = 7s #!"), "connections.gw.children.net.rekey_time",
			"too small"},
		{"rekey_bytes above life_bytes", addTo(inChild, "rekey_bytes = 2G #!\n\t\t\t\tlife_bytes = 1G"), "connections.gw.children.net.rekey_bytes",
			"must be less than life_bytes"},
		{"rekey_bytes", addTo(inChild, "rekey_bytes = 1T #!"), "connections.gw.children.net.rekey_bytes", "is not a byte count"},
		{"life_bytes", addTo(inChild, "life_bytes = lots #!"), "connections.gw.children.net.life_bytes", "is not a byte count"},
		{"rekey_packets", addTo(inChild, "rekey_packets = 1k #!"), "connections.gw.children.net.rekey_packets", "is not a number"},
		{"life_packets", addTo(inChild, "rekey_packets = 10 #!\n\t\t\t\tlife_packets = 10"), "connections.gw.children.net.rekey_packets",
			"must be less than life_packets"},
		{"replay_window", addTo(inChild, "replay_window = 65537 #!"), "connections.gw.children.net.replay_window", "must be between 0 and 65536"},

		// Secrets.
		{"secret missing", []string{"secret = 0x0123456789abcdef\n", "", "ike-1 {", "ike-1 { #!"}, "secrets.ike-1.secret", "required"},
		{"secret empty", []string{"secret = 0x0123456789abcdef", "secret = #!"}, "secrets.ike-1.secret", "required"},
		{"secret bad hex", []string{"secret = 0x0123456789abcdef", "secret = 0x0123456789abcdeg #!"}, "secrets.ike-1.secret", "not valid hex"},
		{"secret bad base64", []string{"secret = 0x0123456789abcdef", "secret = 0s!!!! #!"}, "secrets.ike-1.secret", "not valid Base64"},
		{"secret owner", []string{"id-a = gw1.example.org", "id-a = gw 1 #!"}, "secrets.ike-1.id-a", "is not a DNS name"},
		{"key file missing", []string{"file = key.pem\n", "", "rsa-1 {", "rsa-1 { #!"}, "secrets.rsa-1.file", "required"},
		{"key file path", []string{"file = key.pem", "file = /etc/swanctl/rsa/key.pem #!"}, "secrets.rsa-1.file", "is a path"},
		{"key passphrase missing", []string{"secret = passphrase\n", "", "rsa-1 {", "rsa-1 { #!"}, "secrets.rsa-1.secret", "required"},

		// Authorities.
		{"authority without certificate", []string{"cacert = caCert.pem\n", "", "ca {", "ca { #!"}, "authorities.ca.cacert", "required"},
		{"authority with both", []string{"cacert = caCert.pem", "cacert = caCert.pem\n\t\tfile = /etc/ca.pem #!"}, "authorities.ca.file", "not both"},
		{"authority relative file", []string{"cacert = caCert.pem", "file = ca.pem #!"}, "authorities.ca.file", "not an absolute path"},
		{"authority URI", []string{"cacert = caCert.pem", "cacert = caCert.pem\n\t\tcrl_uris = crl.example.org/ca.crl #!"}, "authorities.ca.crl_uris", "not an absolute URI"},
		{"authority OCSP URI", []string{"cacert = caCert.pem", "cacert = caCert.pem\n\t\tocsp_uris = http://ocsp.example.org, :x #!"}, "authorities.ca.ocsp_uris", "not an absolute URI"},

		// References.
		{"missing reference", []string{"gw {", "gw : connections.base { #!"}, "connections.gw", `references "connections.base", which is not a section`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			expectOneError(t, editShared(t, tt.replacements...), tt.key, tt.reason)
		})
	}
}

// TestSharedErrorsAtOnce: all errors, from every section, in file order.
func TestSharedErrorsAtOnce(t *testing.T) {
	conf := editShared(t,
		inConn, "remote_addrs = nowhere..",
		"auth = psk", "auth = none",
		inChild, "esp_proposals = x",
		"secret = 0x0123456789abcdef", "secret = 0xz",
		"cacert = caCert.pem", "file = x",
	) + "espd {\n\tport_nat_t = y\n}\n"
	_, err := Parse("test.conf", []byte(conf))
	var got []string
	for _, e := range allErrors(t, err) {
		got = append(got, e.Pos.String()+" "+e.Key)
	}
	want := []string{
		"test.conf:3 connections.gw.remote_addrs",
		"test.conf:5 connections.gw.local.auth",
		"test.conf:16 connections.gw.children.net.esp_proposals",
		"test.conf:23 secrets.ike-1.secret",
		"test.conf:33 authorities.ca.file",
		"test.conf:37 espd.port_nat_t",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestSharedWarnings(t *testing.T) {
	conf := editShared(t,
		inConn, inConn+"\n\t\tversion = 0\n\t\tfoo = 1\n\t\tpools = pool1\n\t\textra { }",
		inLocal, inLocal+"\t\t\tcerts = unused.pem\n\t\t\tround = 1\n\t\t\tcert-1 {\n\t\t\t\tfile = /x.pem\n\t\t\t}\n",
		inChild, inChild+"\n\t\t\t\tupdown = /bin/true\n\t\t\t\tcolour = red",
		"id-a = gw1.example.org", "id-a = gw1.example.org\n\t\tsalt = x",
		"rsa-1 {", "eap-1 {\n\t\tsecret = x\n\t}\n\tmystery {\n\t}\n\trsa-1 {",
		"cacert = caCert.pem", "cacert = caCert.pem\n\t\tcert_uri_base = http://x.example/",
	)
	f, err := Parse("w.conf", []byte(conf))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range f.Warnings {
		got = append(got, w.String())
	}
	want := []string{
		"w.conf:4: connections.gw.version = 0 (IKEv1 or IKEv2) is read as 2: espd speaks IKEv2 only",
		"w.conf:5: unknown key connections.gw.foo (ignored)",
		"w.conf:6: connections.gw.pools is a strongSwan setting espd does not support yet (ignored)",
		"w.conf:7: unknown section connections.gw.extra (ignored)",
		"w.conf:11: connections.gw.local.certs has no use with auth = psk (ignored)",
		"w.conf:12: connections.gw.local.round is a strongSwan setting espd does not support yet (ignored)",
		"w.conf:13: connections.gw.local.cert-1 (a certificate on a token or by path) is not supported by espd yet (ignored)",
		"w.conf:26: connections.gw.children.net.updown is a strongSwan setting espd does not support yet (ignored)",
		"w.conf:27: unknown key connections.gw.children.net.colour (ignored)",
		"w.conf:36: unknown key secrets.ike-1.salt (ignored)",
		"w.conf:38: eap secrets are not supported by espd (secrets.eap-1 ignored)",
		"w.conf:41: unknown section secrets.mystery (ignored; secret sections start with ike, private, rsa or ecdsa)",
		"w.conf:51: authorities.ca.cert_uri_base is a strongSwan setting espd does not support yet (ignored)",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if f.Connections[0].Version != 2 {
		t.Errorf("version %d", f.Connections[0].Version)
	}
}

func TestReferences(t *testing.T) {
	conf := `connections {
	base {
		remote_addrs = 192.0.2.2
		proposals = aes128gcm16-prfsha256-x25519
		local {
			auth = psk
			id = gw1.example.org
		}
		remote {
			auth = psk
		}
		children {
			net {
				esp_proposals = aes128gcm16
				mode = bogus
			}
		}
	}
	site-b : connections.base {
		remote_addrs = 192.0.2.3
		remote {
			id = gw3.example.org
		}
		children {
			net {
				mode = transport
			}
		}
	}
	site-c : connections.base {
	}
}
`
	f, err := Parse("r.conf", []byte(conf))
	// base and site-c have the bad mode (site-c inherits it, with its
	// line); site-b overrides it.
	var got []string
	for _, e := range allErrors(t, err) {
		got = append(got, e.Pos.String()+" "+e.Key)
	}
	want := []string{"r.conf:15 connections.base.children.net.mode", "r.conf:15 connections.site-c.children.net.mode"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("errors %q, want %q", got, want)
	}
	if len(f.Connections) != 1 {
		t.Fatalf("connections %+v", f.Connections)
	}
	b := f.Connections[0]
	if b.Name != "site-b" || b.RemoteAddrs[0] != hostAddr("192.0.2.3") || !reflect.DeepEqual(b.Local.ID, fqdnID("gw1.example.org")) ||
		b.Remote.Method != AuthPSK || b.Remote.ID.Text != "gw3.example.org" ||
		b.Children[0].Mode != ModeTransport || b.Children[0].ESPProposals[0] != mustESP(t, "aes128gcm16") ||
		b.Proposals[0] != mustIKE(t, "aes128gcm16-prfsha256-x25519") {
		t.Errorf("site-b %+v", b)
	}

	t.Run("cycle", func(t *testing.T) {
		_, err := Parse("c.conf", []byte("connections {\n\ta : connections.b {\n\t}\n\tb : connections.a {\n\t}\n}\n"))
		cycles := 0
		for _, e := range allErrors(t, err) {
			if strings.Contains(e.Reason, "form a cycle") {
				cycles++
			}
		}
		if cycles == 0 {
			t.Errorf("no cycle reported: %v", err)
		}
	})
}

// TestReferencesBounded: references that fan out at every level cost one
// resolution per section, not one per path.
func TestReferencesBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString("connections {\n")
	const levels, width = 15, 4
	for level := 0; level < levels; level++ {
		for i := 0; i < width; i++ {
			fmt.Fprintf(&b, "\tc%d-%d", level, i)
			if level+1 < levels {
				b.WriteString(" : ")
				for j := 0; j < width; j++ {
					if j > 0 {
						b.WriteString(", ")
					}
					fmt.Fprintf(&b, "connections.c%d-%d", level+1, j)
				}
			}
			fmt.Fprintf(&b, " {\n\t\tk%d-%d = 1\n\t\tchildren { x { mode = tunnel } }\n\t}\n", level, i)
		}
	}
	b.WriteString("}\n")
	start := time.Now()
	f, err := Parse("fan.conf", []byte(b.String()))
	if f == nil {
		t.Fatal(err)
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("took %v", elapsed)
	}
}

func TestFragmentation(t *testing.T) {
	conf := func(value string) string {
		return "connections {\n c {\n  remote_addrs = 192.0.2.2\n  fragmentation = " + value + " #!\n" +
			"  local {\n   auth = psk\n  }\n  remote {\n   auth = psk\n  }\n }\n}\n"
	}
	for value, off := range map[string]bool{"yes": false, "accept": false, "no": true, "NO": true, "force": false} {
		f, err := Parse("test.conf", []byte(conf(value)))
		if err != nil {
			t.Fatalf("fragmentation = %s: %v", value, err)
		}
		if got := f.Connections[0].NoFragmentation; got != off {
			t.Errorf("fragmentation = %s: NoFragmentation %v, want %v", value, got, off)
		}
		if warned := len(f.Warnings) > 0; warned != (value == "force") {
			t.Errorf("fragmentation = %s: warnings %v", value, f.Warnings)
		}
	}
	expectOneError(t, conf("maybe"), "connections.c.fragmentation", `unknown value "maybe"`)
}
