package ike

import (
	"bytes"
	"errors"
	"net/netip"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/espd/espd/esp/installer"
	"github.com/espd/espd/esp/installer/installertest"
	"github.com/espd/espd/ike/message"
)

// The tests run two peers in one process and carry each datagram by hand,
// as strongSwan's test_child_rekey.c does: every step names the exchange it
// moves, then the test asserts what each side installed.

var (
	addrI = netip.MustParseAddrPort("192.0.2.1:500")
	addrR = netip.MustParseAddrPort("198.51.100.1:500")
)

type peer struct {
	name string
	// sa is the peer's current IKE SA: the one it started with, then each
	// established SA an IKE rekey made (Observer.Rekeyed).
	sa       *IKESA
	recorder *installertest.Recorder
	mu       sync.Mutex
	sent     [][]byte
	addr     netip.AddrPort
	// lastFrom and lastTo are the endpoints of the last datagram sent.
	lastFrom, lastTo netip.AddrPort
	// sas are all the IKE SAs the peer has held, which deliver routes
	// to by SPI as an owner does; rekeyed and destroyed record what the
	// Observer heard.
	sas       []*IKESA
	rekeyed   [][2]*IKESA
	destroyed []*IKESA
}

// Rekeyed and Destroyed make the peer the SAs' Observer.
func (p *peer) Rekeyed(old, next *IKESA) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sas = append(p.sas, next)
	p.rekeyed = append(p.rekeyed, [2]*IKESA{old, next})
	if next.State() == StateEstablished {
		p.sa = next
	}
}

func (p *peer) Destroyed(sa *IKESA) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.destroyed = append(p.destroyed, sa)
}

// route finds the SA a datagram belongs to by its SPIs, as an owner does.
func (p *peer) route(t testing.TB, b []byte) *IKESA {
	t.Helper()
	h, err := message.ParseHeader(b)
	if err != nil {
		return p.sa
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for k := len(p.sas) - 1; k >= 0; k-- {
		spiI, spiR := p.sas[k].SPIs()
		if spiI == h.SPIi && spiR == h.SPIr && spiR != 0 {
			return p.sas[k]
		}
	}
	return p.sa
}

func (p *peer) send(b []byte, from, to netip.AddrPort) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sent = append(p.sent, b)
	p.lastFrom, p.lastTo = from, to
}

// take removes the one datagram the peer has sent; anything else fails.
func (p *peer) take(t testing.TB) []byte {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.sent) != 1 {
		t.Fatalf("%s sent %d datagrams, want 1", p.name, len(p.sent))
	}
	b := p.sent[0]
	p.sent = nil
	return b
}

func (p *peer) pending() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.sent)
}

// deliver carries the one datagram from has sent to to, between the
// endpoints it was sent from and to, and returns it.
func deliver(t testing.TB, from, to *peer) []byte {
	t.Helper()
	b := from.take(t)
	if err := to.route(t, b).HandleDatagram(b, from.lastFrom, from.lastTo); err != nil {
		t.Logf("%s: %v", to.name, err)
	}
	return b
}

func exchangeOf(t testing.TB, b []byte) (message.ExchangeType, bool, uint32) {
	t.Helper()
	h, err := message.ParseHeader(b)
	if err != nil {
		t.Fatalf("datagram: %v", err)
	}
	return h.Exchange, h.Flags.Response(), h.MessageID
}

func baseConfig(local, remote netip.AddrPort, localTS, remoteTS string) Config {
	return Config{
		Local: local, Remote: remote,
		Proposals: []string{"aes128gcm16-prfsha256-x25519"},
		PSK:       []byte("correct horse battery staple"),
		// The message-by-message tests assert exactly which SAs are
		// installed after each step; TestRekeyedInboundKept covers the
		// delay of the old inbound SA.
		RekeyedInboundDelay: -1,
		Children: []ChildConfig{{
			Name:         "net",
			ESPProposals: []string{"aes128gcm16"},
			LocalTS:      []netip.Prefix{netip.MustParsePrefix(localTS)},
			RemoteTS:     []netip.Prefix{netip.MustParsePrefix(remoteTS)},
		}},
	}
}

func newPair(t testing.TB, mutate func(i, r *Config)) (*peer, *peer, *FakeClock) {
	t.Helper()
	clock := NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	pi := &peer{name: "initiator", recorder: &installertest.Recorder{}, addr: addrI}
	pr := &peer{name: "responder", recorder: &installertest.Recorder{}, addr: addrR}
	ci := baseConfig(addrI, addrR, "198.18.1.0/24", "198.18.2.0/24")
	cr := baseConfig(addrR, addrI, "198.18.2.0/24", "198.18.1.0/24")
	ci.LocalID, ci.RemoteID = ParseID("initiator.example"), ParseID("responder.example")
	cr.LocalID, cr.RemoteID = ParseID("responder.example"), ParseID("initiator.example")
	if mutate != nil {
		mutate(&ci, &cr)
	}
	ci.Installer, ci.Send, ci.Clock = pi.recorder, pi.send, clock
	cr.Installer, cr.Send, cr.Clock = pr.recorder, pr.send, clock
	for _, c := range []*Config{&ci, &cr} {
		if c.Jitter == nil {
			c.Jitter = func(time.Duration) time.Duration { return 0 }
		}
	}
	if ci.Observer == nil {
		ci.Observer = pi
	}
	if cr.Observer == nil {
		cr.Observer = pr
	}
	var err error
	if pi.sa, err = NewInitiator(ci); err != nil {
		t.Fatal(err)
	}
	if pr.sa, err = NewResponder(cr); err != nil {
		t.Fatal(err)
	}
	pi.sas, pr.sas = []*IKESA{pi.sa}, []*IKESA{pr.sa}
	return pi, pr, clock
}

// establish runs IKE_SA_INIT and IKE_AUTH without loss.
func establish(t testing.TB, i, r *peer) {
	t.Helper()
	if err := i.sa.Initiate(); err != nil {
		t.Fatal(err)
	}
	deliver(t, i, r) // IKE_SA_INIT request
	deliver(t, r, i) // IKE_SA_INIT response
	deliver(t, i, r) // IKE_AUTH request
	deliver(t, r, i) // IKE_AUTH response
}

// assertMirrored checks that both sides installed one CHILD_SA pair whose
// SPIs, keys and selectors are each other's in the opposite direction.
func assertMirrored(t testing.TB, i, r *peer) {
	t.Helper()
	for _, p := range []*peer{i, r} {
		if s := p.sa.State(); s != StateEstablished {
			t.Fatalf("%s state %v, want ESTABLISHED (err %v)", p.name, s, p.sa.Err())
		}
		if n, m := len(p.recorder.Installed(installer.Inbound)), len(p.recorder.Installed(installer.Outbound)); n != 1 || m != 1 {
			t.Fatalf("%s installed %d inbound and %d outbound SAs, want 1 and 1", p.name, n, m)
		}
	}
	iIn, iOut := i.recorder.Installed(installer.Inbound)[0], i.recorder.Installed(installer.Outbound)[0]
	rIn, rOut := r.recorder.Installed(installer.Inbound)[0], r.recorder.Installed(installer.Outbound)[0]
	for _, pair := range [][2]installer.SAParams{{iOut, rIn}, {rOut, iIn}} {
		out, in := pair[0], pair[1]
		if out.SPI != in.SPI {
			t.Errorf("outbound SPI %#x, peer's inbound %#x", out.SPI, in.SPI)
		}
		if !bytes.Equal(out.EncKey, in.EncKey) || !bytes.Equal(out.IntegKey, in.IntegKey) {
			t.Errorf("SA %#x: keys differ between the peers", out.SPI)
		}
		if out.Suite != in.Suite {
			t.Errorf("SA %#x: suites %v and %v", out.SPI, out.Suite, in.Suite)
		}
		if !samePrefixes(out.LocalTS, in.RemoteTS) || !samePrefixes(out.RemoteTS, in.LocalTS) {
			t.Errorf("SA %#x: selectors %v->%v vs %v<-%v", out.SPI, out.LocalTS, out.RemoteTS, in.RemoteTS, in.LocalTS)
		}
		if out.Local != in.Remote || out.Remote != in.Local {
			t.Errorf("SA %#x: addresses %v->%v vs %v<-%v", out.SPI, out.Local, out.Remote, in.Remote, in.Local)
		}
	}
	if bytes.Equal(iIn.EncKey, iOut.EncKey) {
		t.Error("both directions use the same key")
	}
}

func samePrefixes(a, b []netip.Prefix) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if a[k] != b[k] {
			return false
		}
	}
	return true
}

func assertNothingInstalled(t testing.TB, p *peer) {
	t.Helper()
	for _, c := range p.recorder.Calls() {
		if c.Op == "add" {
			t.Errorf("%s installed SA %#x/%v", p.name, c.SPI, c.Dir)
		}
	}
}

func TestEstablishPSK(t *testing.T) {
	for _, tc := range []struct{ ike, esp string }{
		{"aes128gcm16-prfsha256-x25519", "aes128gcm16"},
		{"aes256gcm16-prfsha384-ecp384", "aes256gcm16"},
		{"chacha20poly1305-prfsha256-modp2048", "chacha20poly1305"},
		{"aes256-sha256-modp2048", "aes256-sha256"},
	} {
		t.Run(tc.ike, func(t *testing.T) {
			i, r, _ := newPair(t, func(ci, cr *Config) {
				ci.Proposals, cr.Proposals = []string{tc.ike}, []string{tc.ike}
				ci.Children[0].ESPProposals, cr.Children[0].ESPProposals = []string{tc.esp}, []string{tc.esp}
			})
			establish(t, i, r)
			assertMirrored(t, i, r)
			si, sr := i.sa.SPIs()
			ri, rr := r.sa.SPIs()
			if si != ri || sr != rr || si == 0 || sr == 0 {
				t.Errorf("IKE SPIs %x/%x vs %x/%x", si, sr, ri, rr)
			}
		})
	}
}

func TestNarrowing(t *testing.T) {
	// The initiator asks for a /16 on each side; the responder's policy
	// is a /24 inside each, and both install the /24s.
	i, r, _ := newPair(t, func(ci, cr *Config) {
		ci.Children[0].LocalTS = []netip.Prefix{netip.MustParsePrefix("198.18.0.0/16")}
		ci.Children[0].RemoteTS = []netip.Prefix{netip.MustParsePrefix("198.19.0.0/16")}
		cr.Children[0].LocalTS = []netip.Prefix{netip.MustParsePrefix("198.19.2.0/24")}
		cr.Children[0].RemoteTS = []netip.Prefix{netip.MustParsePrefix("198.18.1.0/24")}
	})
	establish(t, i, r)
	assertMirrored(t, i, r)
	out := i.recorder.Installed(installer.Outbound)[0]
	if out.LocalTS[0].String() != "198.18.1.0/24" || out.RemoteTS[0].String() != "198.19.2.0/24" {
		t.Errorf("initiator installed %v -> %v", out.LocalTS, out.RemoteTS)
	}
}

func TestTSUnacceptableKeepsIKESA(t *testing.T) {
	i, r, _ := newPair(t, func(ci, cr *Config) {
		cr.Children[0].RemoteTS = []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")}
	})
	establish(t, i, r)
	for _, p := range []*peer{i, r} {
		if p.sa.State() != StateEstablished {
			t.Errorf("%s: %v", p.name, p.sa.State())
		}
		assertNothingInstalled(t, p)
	}
}

func TestInvalidKERetry(t *testing.T) {
	i, r, _ := newPair(t, func(ci, cr *Config) {
		ci.Proposals = []string{"aes128gcm16-prfsha256-x25519", "aes128gcm16-prfsha256-ecp256"}
		cr.Proposals = []string{"aes128gcm16-prfsha256-ecp256"}
	})
	if err := i.sa.Initiate(); err != nil {
		t.Fatal(err)
	}
	deliver(t, i, r) // IKE_SA_INIT request, KE x25519
	// IKE_SA_INIT response N(INVALID_KE_PAYLOAD): the responder keeps no state.
	if r.sa.State() != StateCreated {
		t.Fatalf("responder %v after INVALID_KE", r.sa.State())
	}
	resp := deliver(t, r, i)
	m, err := message.Parse(resp)
	if err != nil {
		t.Fatal(err)
	}
	n := m.Notify(message.NotifyInvalidKEPayload)
	if n == nil {
		t.Fatalf("response %v has no INVALID_KE_PAYLOAD", m)
	}
	if g, _ := n.InvalidKEGroup(); g != 19 {
		t.Fatalf("responder wants group %d, want 19", g)
	}
	// IKE_SA_INIT request again, message ID 0, KE ecp256.
	retry := i.take(t)
	m, err = message.Parse(retry)
	if err != nil {
		t.Fatal(err)
	}
	ke, _ := m.Find(message.PayloadKE).(*message.KE)
	if m.Header.MessageID != 0 || m.Header.SPIr != 0 || ke == nil || ke.Group != 19 {
		t.Fatalf("retry %v", m)
	}
	if err := r.sa.HandleDatagram(retry, addrI, addrR); err != nil {
		t.Fatal(err)
	}
	deliver(t, r, i) // IKE_SA_INIT response
	deliver(t, i, r) // IKE_AUTH request
	deliver(t, r, i) // IKE_AUTH response
	assertMirrored(t, i, r)
}

func TestNoProposalChosen(t *testing.T) {
	core, logs := observer.New(zap.WarnLevel)
	i, r, _ := newPair(t, func(ci, cr *Config) {
		cr.Proposals = []string{"aes256-sha384-ecp384"}
		cr.Logger = zap.New(core)
	})
	if err := i.sa.Initiate(); err != nil {
		t.Fatal(err)
	}
	deliver(t, i, r) // IKE_SA_INIT request
	deliver(t, r, i) // IKE_SA_INIT response N(NO_PROPOSAL_CHOSEN)
	if !errors.Is(i.sa.Err(), ErrNoProposalChosen) || i.sa.State() != StateDestroyed {
		t.Errorf("initiator: %v, %v", i.sa.State(), i.sa.Err())
	}
	if r.sa.State() != StateCreated {
		t.Errorf("responder: %v", r.sa.State())
	}
	if i.pending() != 0 {
		t.Error("initiator sent more after NO_PROPOSAL_CHOSEN")
	}
	// The responder's log names both sides' proposals, so a user can act.
	entries := logs.FilterMessageSnippet("NO_PROPOSAL_CHOSEN").All()
	if len(entries) != 1 {
		t.Fatalf("%d NO_PROPOSAL_CHOSEN log entries", len(entries))
	}
	fields := entries[0].ContextMap()
	if fields["received"] != "IKE:AES_GCM_16_128/PRF_HMAC_SHA2_256/CURVE_25519" ||
		fields["configured"] != "IKE:AES_CBC_256/HMAC_SHA2_384_192/PRF_HMAC_SHA2_384/ECP_384" {
		t.Errorf("logged %v", fields)
	}
}

func TestHalfOpenTimeout(t *testing.T) {
	i, r, clock := newPair(t, nil)
	if err := i.sa.Initiate(); err != nil {
		t.Fatal(err)
	}
	deliver(t, i, r) // IKE_SA_INIT request
	r.take(t)        // IKE_SA_INIT response, lost; IKE_AUTH never comes
	clock.Advance(29 * time.Second)
	if r.sa.State() != StateConnecting {
		t.Fatalf("responder %v before the half-open timeout", r.sa.State())
	}
	clock.Advance(time.Second)
	if r.sa.State() != StateDestroyed || !errors.Is(r.sa.Err(), ErrTimeout) {
		t.Fatalf("responder %v, %v", r.sa.State(), r.sa.Err())
	}
}

// FuzzResponder feeds arbitrary datagrams to a fresh responder and to one
// that has answered IKE_SA_INIT: none may panic.
func FuzzResponder(f *testing.F) {
	i, r, _ := newPair(f, nil)
	if err := i.sa.Initiate(); err != nil {
		f.Fatal(err)
	}
	init := i.take(f)
	if err := r.sa.HandleDatagram(init, addrI, addrR); err != nil {
		f.Fatal(err)
	}
	f.Add(init)
	f.Add(r.take(f))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, fresh, _ := newPair(t, nil)
		_ = fresh.sa.HandleDatagram(b, addrI, addrR)
		_ = r.sa.HandleDatagram(b, addrI, addrR)
		r.mu.Lock()
		r.sent = nil
		r.mu.Unlock()
	})
}

func TestWrongPSK(t *testing.T) {
	i, r, _ := newPair(t, func(ci, cr *Config) {
		cr.PSK = []byte("another secret")
	})
	if err := i.sa.Initiate(); err != nil {
		t.Fatal(err)
	}
	deliver(t, i, r) // IKE_SA_INIT request
	deliver(t, r, i) // IKE_SA_INIT response
	deliver(t, i, r) // IKE_AUTH request, AUTH the responder cannot verify
	resp := deliver(t, r, i)
	if ex, isResp, _ := exchangeOf(t, resp); ex != message.ExchangeIKEAuth || !isResp {
		t.Fatalf("got %v", ex)
	}
	for _, p := range []*peer{i, r} {
		if p.sa.State() != StateDestroyed || !errors.Is(p.sa.Err(), ErrAuthenticationFailed) {
			t.Errorf("%s: %v, %v", p.name, p.sa.State(), p.sa.Err())
		}
		assertNothingInstalled(t, p)
	}
}

func TestLostRequestRetransmitted(t *testing.T) {
	i, r, clock := newPair(t, nil)
	if err := i.sa.Initiate(); err != nil {
		t.Fatal(err)
	}
	deliver(t, i, r)  // IKE_SA_INIT request
	deliver(t, r, i)  // IKE_SA_INIT response
	lost := i.take(t) // IKE_AUTH request, lost
	clock.Advance(3999 * time.Millisecond)
	if i.pending() != 0 {
		t.Fatal("retransmitted before 4 s")
	}
	clock.Advance(time.Millisecond)
	again := i.take(t) // IKE_AUTH request, retransmitted
	if !bytes.Equal(lost, again) {
		t.Fatal("retransmission differs from the original request")
	}
	if err := r.sa.HandleDatagram(again, addrI, addrR); err != nil {
		t.Fatal(err)
	}
	deliver(t, r, i) // IKE_AUTH response
	assertMirrored(t, i, r)
	clock.Advance(10 * time.Minute)
	if i.pending() != 0 || r.pending() != 0 {
		t.Error("retransmission after the response")
	}
}

func TestRetransmitGivesUp(t *testing.T) {
	i, _, clock := newPair(t, nil)
	if err := i.sa.Initiate(); err != nil {
		t.Fatal(err)
	}
	first := i.take(t) // IKE_SA_INIT request, lost each time
	// strongSwan's schedule: 4, 7.2, 12.96, 23.33, 41.99 s between tries,
	// then 75.58 s before giving up.
	at := []time.Duration{4000, 11200, 24160, 47488, 89479}
	elapsed := time.Duration(0)
	for k, ms := range at {
		clock.Advance(ms*time.Millisecond - elapsed - time.Millisecond)
		if i.pending() != 0 {
			t.Fatalf("try %d early", k+1)
		}
		clock.Advance(time.Millisecond)
		elapsed = ms * time.Millisecond
		if b := i.take(t); !bytes.Equal(b, first) {
			t.Fatalf("try %d differs", k+1)
		}
	}
	clock.Advance(75 * time.Second)
	if i.sa.State() != StateConnecting {
		t.Fatalf("gave up early: %v", i.sa.State())
	}
	clock.Advance(time.Second)
	if i.sa.State() != StateDestroyed || !errors.Is(i.sa.Err(), ErrTimeout) {
		t.Fatalf("%v, %v", i.sa.State(), i.sa.Err())
	}
	if clock.Pending() != 0 {
		t.Error("timers left behind")
	}
}

func sendCounter(sa *IKESA) uint64 {
	sa.mu.Lock()
	defer sa.mu.Unlock()
	return sa.sendCounter
}

func TestDuplicatedRequestAnsweredFromCache(t *testing.T) {
	i, r, _ := newPair(t, nil)
	if err := i.sa.Initiate(); err != nil {
		t.Fatal(err)
	}
	initReq := deliver(t, i, r) // IKE_SA_INIT request
	initResp := r.take(t)       // IKE_SA_INIT response
	// The IKE_SA_INIT request duplicated: answered from the cache too.
	if err := r.sa.HandleDatagram(initReq, addrI, addrR); err != nil {
		t.Fatal(err)
	}
	if again := r.take(t); !bytes.Equal(again, initResp) {
		t.Fatal("the duplicate IKE_SA_INIT was not answered with the cached response")
	}
	if err := i.sa.HandleDatagram(initResp, addrR, addrI); err != nil {
		t.Fatal(err)
	}
	req := deliver(t, i, r) // IKE_AUTH request
	resp := r.take(t)       // IKE_AUTH response
	// The same IKE_AUTH request again, duplicated by the network.
	if err := r.sa.HandleDatagram(req, addrI, addrR); err != nil {
		t.Fatal(err)
	}
	if again := r.take(t); !bytes.Equal(again, resp) {
		t.Fatal("the duplicate was not answered with the cached response")
	}
	// Resending from the cache seals nothing: the responder's IV counter
	// moved once, for its one IKE_AUTH response.
	if n := sendCounter(r.sa); n != 1 {
		t.Errorf("responder sealed %d messages, want 1", n)
	}
	if n := len(r.recorder.Calls()); n != 3 { // allocate, add in, add out
		t.Errorf("responder made %d installer calls, want 3", n)
	}
	if err := i.sa.HandleDatagram(resp, addrR, addrI); err != nil {
		t.Fatal(err)
	}
	// The second copy of the response matches no request any more.
	if err := i.sa.HandleDatagram(resp, addrR, addrI); !errors.Is(err, ErrUnexpected) {
		t.Errorf("second response: %v", err)
	}
	assertMirrored(t, i, r)
}

func TestMalformedIgnored(t *testing.T) {
	i, r, _ := newPair(t, nil)
	if err := i.sa.Initiate(); err != nil {
		t.Fatal(err)
	}
	deliver(t, i, r) // IKE_SA_INIT request
	deliver(t, r, i) // IKE_SA_INIT response
	req := i.take(t) // IKE_AUTH request
	bad := [][]byte{
		nil,
		req[:10],
		req[:len(req)-1],
		append(bytes.Clone(req), 0),
	}
	flipped := bytes.Clone(req)
	flipped[len(flipped)-1] ^= 1 // bad ICV
	bad = append(bad, flipped)
	for k, b := range bad {
		if err := r.sa.HandleDatagram(b, addrI, addrR); err == nil {
			t.Errorf("case %d accepted", k)
		}
		if r.sa.State() != StateConnecting || r.pending() != 0 {
			t.Fatalf("case %d changed the responder: %v, %d sent", k, r.sa.State(), r.pending())
		}
	}
	// The genuine request still succeeds after all that.
	if err := r.sa.HandleDatagram(req, addrI, addrR); err != nil {
		t.Fatal(err)
	}
	deliver(t, r, i) // IKE_AUTH response
	assertMirrored(t, i, r)
}

func TestLiveness(t *testing.T) {
	i, r, _ := newPair(t, nil)
	establish(t, i, r)
	i.sa.mu.Lock()
	i.sa.tm.queue(&informationalRequest{})
	err := i.sa.tm.initiate()
	out := i.sa.takeOutbox()
	i.sa.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	i.sa.send(out)
	if _, _, id := exchangeOf(t, deliver(t, i, r)); id != 2 { // INFORMATIONAL request
		t.Errorf("message ID %d, want 2", id)
	}
	deliver(t, r, i) // INFORMATIONAL response
	if i.sa.State() != StateEstablished || r.sa.State() != StateEstablished {
		t.Error("SA state changed")
	}
	// Each side sealed two messages, with IV counters 0 and 1.
	if ni, nr := sendCounter(i.sa), sendCounter(r.sa); ni != 2 || nr != 2 {
		t.Errorf("counters %d and %d, want 2 and 2", ni, nr)
	}
}

// informationalRequest is an empty INFORMATIONAL, a liveness check.
type informationalRequest struct{ informational }

func TestStateTransitions(t *testing.T) {
	if err := checkTransition(StateCreated, StateEstablished); !errors.Is(err, ErrInvalidState) {
		t.Errorf("CREATED -> ESTABLISHED: %v", err)
	}
	if err := checkTransition(StateDestroyed, StateConnecting); !errors.Is(err, ErrInvalidState) {
		t.Errorf("DESTROYED -> CONNECTING: %v", err)
	}
	if StateEstablished.String() != "ESTABLISHED" || State(99).String() != "State(99)" {
		t.Error("String")
	}
	i, _, _ := newPair(t, nil)
	if err := i.sa.Initiate(); err != nil {
		t.Fatal(err)
	}
	if err := i.sa.Initiate(); !errors.Is(err, ErrInvalidState) {
		t.Errorf("second Initiate: %v", err)
	}
}

func TestBadKEData(t *testing.T) {
	for name, mutate := range map[string]func(ke *message.KE){
		"zero public value": func(ke *message.KE) { ke.Data = make([]byte, len(ke.Data)) },
		"short":             func(ke *message.KE) { ke.Data = ke.Data[:len(ke.Data)-1] },
		"empty":             func(ke *message.KE) { ke.Data = nil },
	} {
		t.Run(name, func(t *testing.T) {
			i, r, _ := newPair(t, nil)
			if err := i.sa.Initiate(); err != nil {
				t.Fatal(err)
			}
			m, err := message.Parse(i.take(t)) // IKE_SA_INIT request, KE altered
			if err != nil {
				t.Fatal(err)
			}
			mutate(m.Find(message.PayloadKE).(*message.KE))
			b, err := m.Encode()
			if err != nil {
				t.Fatal(err)
			}
			if err := r.sa.HandleDatagram(b, addrI, addrR); !errors.Is(err, ErrInvalidKE) {
				t.Errorf("responder: %v", err)
			}
			resp, err := message.Parse(r.take(t)) // IKE_SA_INIT response N(INVALID_SYNTAX)
			if err != nil {
				t.Fatal(err)
			}
			if resp.Notify(message.NotifyInvalidSyntax) == nil || r.sa.State() != StateCreated {
				t.Errorf("response %v, responder %v", resp, r.sa.State())
			}
		})
	}
}

func TestInformationalBeforeAuthDropped(t *testing.T) {
	i, r, _ := newPair(t, nil)
	if err := i.sa.Initiate(); err != nil {
		t.Fatal(err)
	}
	deliver(t, i, r) // IKE_SA_INIT request
	deliver(t, r, i) // IKE_SA_INIT response
	i.take(t)        // IKE_AUTH request, held back
	// An INFORMATIONAL with message ID 1, correctly protected, instead.
	i.sa.mu.Lock()
	b, err := i.sa.encode(&message.Message{Header: message.Header{
		SPIi: i.sa.spiI, SPIr: i.sa.spiR, Exchange: message.ExchangeInformational,
		Flags: message.FlagInitiator, MessageID: 1,
	}})
	i.sa.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	if err := r.sa.HandleDatagram(b, addrI, addrR); !errors.Is(err, ErrUnexpected) {
		t.Errorf("responder: %v", err)
	}
	if r.pending() != 0 || r.sa.State() != StateConnecting {
		t.Errorf("responder answered or changed: %v", r.sa.State())
	}
}

func TestInitiatorRejectsResponder(t *testing.T) {
	// The responder authenticates the initiator, but shows an identity
	// the initiator does not expect.
	i, r, _ := newPair(t, func(ci, cr *Config) {
		cr.LocalID = ParseID("impostor.example")
	})
	if err := i.sa.Initiate(); err != nil {
		t.Fatal(err)
	}
	deliver(t, i, r) // IKE_SA_INIT request
	deliver(t, r, i) // IKE_SA_INIT response
	deliver(t, i, r) // IKE_AUTH request
	if len(r.recorder.Installed(installer.Inbound)) != 1 {
		t.Fatal("responder did not install the CHILD_SA")
	}
	deliver(t, r, i) // IKE_AUTH response, rejected
	// INFORMATIONAL request N(AUTHENTICATION_FAILED), message ID 2.
	if ex, resp, id := exchangeOf(t, deliver(t, i, r)); ex != message.ExchangeInformational || resp || id != 2 {
		t.Fatalf("initiator sent %v response=%v id=%d", ex, resp, id)
	}
	r.take(t) // INFORMATIONAL response, nobody listens
	for _, p := range []*peer{i, r} {
		if p.sa.State() != StateDestroyed || !errors.Is(p.sa.Err(), ErrAuthenticationFailed) {
			t.Errorf("%s: %v, %v", p.name, p.sa.State(), p.sa.Err())
		}
		if n, m := len(p.recorder.Installed(installer.Inbound)), len(p.recorder.Installed(installer.Outbound)); n != 0 || m != 0 {
			t.Errorf("%s still has %d inbound and %d outbound SAs", p.name, n, m)
		}
	}
}

func TestESPNoProposalChosenKeepsIKESA(t *testing.T) {
	// Identities default to the addresses here.
	i, r, _ := newPair(t, func(ci, cr *Config) {
		ci.LocalID, ci.RemoteID, cr.LocalID, cr.RemoteID = nil, ParseID(addrR.Addr().String()), nil, ParseID(addrI.Addr().String())
		cr.Children[0].ESPProposals = []string{"aes256-sha512"}
	})
	establish(t, i, r)
	for _, p := range []*peer{i, r} {
		if p.sa.State() != StateEstablished || len(p.sa.Children()) != 0 {
			t.Errorf("%s: %v with %d children", p.name, p.sa.State(), len(p.sa.Children()))
		}
		assertNothingInstalled(t, p)
	}
}

func TestChildren(t *testing.T) {
	i, r, _ := newPair(t, nil)
	establish(t, i, r)
	ci, cr := i.sa.Children(), r.sa.Children()
	if len(ci) != 1 || len(cr) != 1 || ci[0].InboundSPI != cr[0].OutboundSPI || ci[0].OutboundSPI != cr[0].InboundSPI {
		t.Fatalf("children %+v and %+v", ci, cr)
	}
	if ci[0].Suite.Keyword != "aes128gcm16" {
		t.Errorf("suite %v", ci[0].Suite)
	}
}

func TestFakeClock(t *testing.T) {
	c := NewFakeClock(time.Unix(0, 0))
	var fired []int
	c.AfterFunc(2*time.Second, func() { fired = append(fired, 2) })
	stopped := c.AfterFunc(time.Second, func() { fired = append(fired, 1) })
	c.AfterFunc(3*time.Second, func() {
		fired = append(fired, 3)
		c.AfterFunc(time.Second, func() { fired = append(fired, 4) })
	})
	if !stopped.Stop() || stopped.Stop() {
		t.Error("Stop")
	}
	c.Advance(3500 * time.Millisecond)
	if len(fired) != 2 || fired[0] != 2 || fired[1] != 3 {
		t.Fatalf("fired %v", fired)
	}
	c.Advance(500 * time.Millisecond)
	if len(fired) != 3 || fired[2] != 4 || !c.Now().Equal(time.Unix(4, 0)) {
		t.Fatalf("fired %v at %v", fired, c.Now())
	}
}
