package esp

import (
	"net/netip"
	"testing"
	"time"

	"github.com/espd/espd/crypto"
	"github.com/espd/espd/esp/installer"
)

// fuzzSA is an inbound SA with fixed keys, so seed packets sealed with the
// same keys reach every check past the ICV.
func fuzzSA(t testing.TB, proposal string, mode installer.Mode) (out, in *SA) {
	suite, err := crypto.ParseESPProposal(proposal)
	if err != nil {
		t.Fatal(err)
	}
	enc, integ := make([]byte, suite.EncKeyLen), make([]byte, suite.IntegKeyLen)
	for i := range enc {
		enc[i] = byte(i)
	}
	for i := range integ {
		integ[i] = byte(100 + i)
	}
	p := installer.SAParams{SPI: 0x1001, Protocol: installer.ESP, Direction: installer.Outbound, Mode: mode,
		Local: leftOuter, Remote: rightOuter, Encap: true, Suite: suite, ESN: suite.ESN,
		EncKey: enc, IntegKey: integ, ReplayWindow: 64,
		LocalTS: []netip.Prefix{leftNet, leftNet6}, RemoteTS: []netip.Prefix{rightNet, rightNet6}}
	if mode == installer.Transport {
		p.LocalTS = []netip.Prefix{netip.PrefixFrom(leftOuter.Addr(), 32)}
		p.RemoteTS = []netip.Prefix{netip.PrefixFrom(rightOuter.Addr(), 32)}
	}
	if out, err = newSA(&p, UDP4, time.Now()); err != nil {
		t.Fatal(err)
	}
	p.Direction = installer.Inbound
	p.Local, p.Remote = p.Remote, p.Local
	p.LocalTS, p.RemoteTS = p.RemoteTS, p.LocalTS
	if in, err = newSA(&p, UDP4, time.Now()); err != nil {
		t.Fatal(err)
	}
	return out, in
}

// FuzzDecap feeds arbitrary datagrams through the inbound checks of SAs
// with each kind of transform and both modes. Nothing may panic, a packet
// that fails any check must leave the replay window where it was, and
// a delivered packet must be an IP packet inside the selectors.
func FuzzDecap(f *testing.F) {
	type target struct {
		proposal string
		mode     installer.Mode
	}
	targets := []target{{"aes128gcm16", installer.Tunnel}, {"aes256-sha256-esn", installer.Tunnel}, {"chacha20poly1305", installer.Transport}}
	// The seeds in testdata/fuzz/FuzzDecap are packets sealed with
	// fuzzSA's fixed keys, so the fuzzer starts past the ICV.
	type pair struct{ out, in *SA }
	sas := make([]pair, len(targets))
	for i, tg := range targets {
		sas[i].out, sas[i].in = fuzzSA(f, tg.proposal, tg.mode)
	}
	f.Fuzz(func(t *testing.T, which uint8, wire []byte) {
		in := sas[int(which)%len(sas)].in
		if len(wire) < minESPLen || len(wire) > 9000 {
			return // the socket reader's length check and the buffer size
		}
		before := in.replay.Top()
		got, r := receive(in, wire)
		if r == dropNone {
			if src, dst, ok := innerAddrs(got); !ok || !in.matches(src, dst) {
				t.Fatalf("delivered %x outside the selectors", got)
			}
			return
		}
		if r != DropPadding && r != DropSelector && r != DropMalformed && r != DropDummy && in.replay.Top() != before {
			t.Fatalf("a packet dropped for %v moved the replay window", r)
		}
	})
}
