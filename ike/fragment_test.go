package ike

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"errors"
	"math/big"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/espd/espd/crypto"
	"github.com/espd/espd/esp/installer/installertest"
	"github.com/espd/espd/ike/message"
	"github.com/espd/espd/ike/pubkey"
)

// The fragmentation tests (RFC 7383) carry each fragment by hand, as the
// other message-by-message tests carry whole messages: lost, duplicated,
// reordered and forged fragments, then the assertions on what each side
// sent and installed.

// smallFragments makes both peers fragment anything over 256-byte
// datagrams, and gives them identities long enough that each IKE_AUTH
// message needs at least three.
func smallFragments(ci, cr *Config) {
	ci.FragmentSize, cr.FragmentSize = MinFragmentSize, MinFragmentSize
	long := func(name string) *message.ID { return ParseID(name + "-" + strings.Repeat("x", 250) + ".example") }
	ci.LocalID, ci.RemoteID = long("initiator"), long("responder")
	cr.LocalID, cr.RemoteID = long("responder"), long("initiator")
}

// intermediate issues a CA certificate signed by ca.
func (ca *testCA) intermediate(t *testing.T, name string) *testCA {
	t.Helper()
	key := newTestKey(t, "ecdsa")
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{Organization: []string{"espd"}, CommonName: name},
		NotBefore: certEpoch, NotAfter: certEpoch.AddDate(2, 0, 0),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key}
}

// withChain makes both peers authenticate with RSA certificates issued
// under three intermediate CAs, which they send along: IKE_AUTH messages
// of some 2.5 KB.
func withChain(t *testing.T, root *testCA) func(ci, cr *Config) {
	chain := []*testCA{root.intermediate(t, "espd intermediate 1")}
	chain = append(chain, chain[0].intermediate(t, "espd intermediate 2"))
	chain = append(chain, chain[1].intermediate(t, "espd intermediate 3"))
	var intermediates []*x509.Certificate
	for k := len(chain) - 1; k >= 0; k-- {
		intermediates = append(intermediates, chain[k].cert)
	}
	return func(ci, cr *Config) {
		withCerts(t, chain[2], "rsa")(ci, cr)
		anchors := pubkey.NewTrustAnchors(root.cert)
		ci.TrustAnchors, cr.TrustAnchors = anchors, anchors
		ci.Credentials.Intermediates, cr.Credentials.Intermediates = intermediates, intermediates
	}
}

// toInit runs IKE_SA_INIT and leaves the initiator's IKE_AUTH request
// (as its datagrams) unsent.
func toInit(t *testing.T, i, r *peer) {
	t.Helper()
	if err := i.sa.Initiate(); err != nil {
		t.Fatal(err)
	}
	deliver(t, i, r) // IKE_SA_INIT request
	deliver(t, r, i) // IKE_SA_INIT response
}

// handle hands one datagram to the peer's SA that it belongs to.
func (d datagram) handle(t testing.TB, p *peer) error {
	t.Helper()
	return p.route(t, d.b).HandleDatagram(d.b, d.from, d.to)
}

// handleAll hands datagrams to p in order, failing on any error.
func handleAll(t testing.TB, p *peer, ds []datagram) {
	t.Helper()
	for k, d := range ds {
		if err := d.handle(t, p); err != nil {
			t.Fatalf("%s, datagram %d of %d: %v", p.name, k+1, len(ds), err)
		}
	}
}

// reassembleFor opens the datagrams one message travelled as, whole or in
// fragments, with the keys of the SA at p they are for.
func reassembleFor(t testing.TB, p *peer, ds []datagram) *message.Message {
	t.Helper()
	sa := p.route(t, ds[0].b)
	sa.mu.Lock()
	defer sa.mu.Unlock()
	if len(ds) == 1 {
		if h, _ := message.ParseHeader(ds[0].b); h.NextPayload != message.PayloadSKF {
			m, err := message.Open(ds[0].b, sa.recvT)
			if err != nil {
				t.Fatal(err)
			}
			return m
		}
	}
	var r message.Reassembler
	for k, d := range ds {
		m, err := r.Add(d.b, sa.recvT)
		if err != nil {
			t.Fatalf("fragment %d: %v", k+1, err)
		}
		if m != nil {
			if k != len(ds)-1 {
				t.Fatalf("complete after %d of %d fragments", k+1, len(ds))
			}
			return m
		}
	}
	t.Fatalf("%d fragments do not complete a message", len(ds))
	return nil
}

// assertFragments checks that ds are SKF fragments 1..n of one message,
// n > 1, none larger than max bytes.
func assertFragments(t testing.TB, ds []datagram, max int) {
	t.Helper()
	if len(ds) < 2 {
		t.Fatalf("%d datagrams, want fragments", len(ds))
	}
	for k, d := range ds {
		m, err := message.Parse(d.b)
		if err != nil {
			t.Fatal(err)
		}
		skf, ok := m.Payloads[0].(*message.EncryptedFragment)
		if !ok || len(m.Payloads) != 1 || int(skf.Number) != k+1 || int(skf.Total) != len(ds) {
			t.Fatalf("datagram %d is %v", k+1, m)
		}
		if len(d.b) > max {
			t.Fatalf("fragment %d has %d bytes, more than %d", k+1, len(d.b), max)
		}
	}
}

func budgetOf(p *peer) int {
	p.sa.mu.Lock()
	defer p.sa.mu.Unlock()
	return p.sa.fragmentBudget()
}

func fragmentationOn(sa *IKESA) bool {
	sa.mu.Lock()
	defer sa.mu.Unlock()
	return sa.fragmentation
}

func TestFragmentationNegotiation(t *testing.T) {
	for _, tc := range []struct {
		name                  string
		mutate                func(ci, cr *Config)
		inRequest, inResponse bool
	}{
		{"both support it", nil, true, true},
		{"initiator does not", func(ci, cr *Config) { ci.NoFragmentation = true }, false, false},
		{"responder does not", func(ci, cr *Config) { cr.NoFragmentation = true }, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			i, r, _ := newPair(t, tc.mutate)
			if err := i.sa.Initiate(); err != nil {
				t.Fatal(err)
			}
			req, _ := message.Parse(deliver(t, i, r))  // IKE_SA_INIT request
			resp, _ := message.Parse(deliver(t, r, i)) // IKE_SA_INIT response
			if got := req.Notify(message.NotifyIKEv2FragmentationSupported) != nil; got != tc.inRequest {
				t.Errorf("request %v", req)
			}
			if got := resp.Notify(message.NotifyIKEv2FragmentationSupported) != nil; got != tc.inResponse {
				t.Errorf("response %v", resp)
			}
			both := tc.inRequest && tc.inResponse
			if fragmentationOn(i.sa) != both || fragmentationOn(r.sa) != both {
				t.Errorf("fragmentation on: initiator %v, responder %v, want %v", fragmentationOn(i.sa), fragmentationOn(r.sa), both)
			}
			deliver(t, i, r) // IKE_AUTH request
			deliver(t, r, i) // IKE_AUTH response
			assertMirrored(t, i, r)
		})
	}
}

func TestFragmentBudget(t *testing.T) {
	// strongSwan's numbers for charon.fragment_size = 1280: IPv4 and UDP
	// headers off, and the non-ESP marker on port 4500.
	v4, v6 := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1")
	for _, tc := range []struct {
		size          int
		local, remote netip.AddrPort
		want          int
	}{
		{0, netip.AddrPortFrom(v4, 500), netip.AddrPortFrom(v4, 500), 1252},
		{0, netip.AddrPortFrom(v4, 4500), netip.AddrPortFrom(v4, 4500), 1248},
		{0, netip.AddrPortFrom(v6, 500), netip.AddrPortFrom(v6, 500), 1232},
		{0, netip.AddrPortFrom(v6, 4500), netip.AddrPortFrom(v6, 4500), 1228},
		{576, netip.AddrPortFrom(v4, 4500), netip.AddrPortFrom(v4, 4500), 544},
	} {
		cfg := baseConfig(tc.local, tc.remote, "198.18.1.0/24", "198.18.2.0/24")
		cfg.FragmentSize = tc.size
		cfg.Installer, cfg.Send = &installertest.Recorder{}, func([]byte, netip.AddrPort, netip.AddrPort) {}
		sa, err := NewInitiator(cfg)
		if err != nil {
			t.Fatal(err)
		}
		sa.local, sa.remote = tc.local, tc.remote
		if got := sa.fragmentBudget(); got != tc.want {
			t.Errorf("fragment size %d, %v -> %v: budget %d, want %d", tc.size, tc.local, tc.remote, got, tc.want)
		}
	}
	cfg := baseConfig(addrI, addrR, "198.18.1.0/24", "198.18.2.0/24")
	cfg.FragmentSize = MinFragmentSize - 1
	cfg.Installer, cfg.Send = &installertest.Recorder{}, func([]byte, netip.AddrPort, netip.AddrPort) {}
	if _, err := NewInitiator(cfg); !errors.Is(err, ErrConfig) {
		t.Errorf("fragment size %d: %v, want ErrConfig", cfg.FragmentSize, err)
	}
}

// TestSealedLen checks the size estimate that decides on fragmenting
// against what message.Seal really produces.
func TestSealedLen(t *testing.T) {
	for _, proposal := range []string{"aes128gcm16-prfsha256-x25519", "chacha20poly1305-prfsha256-x25519", "aes256-sha256-modp2048", "aes128-sha512-x25519"} {
		suite, err := crypto.ParseIKEProposal(proposal)
		if err != nil {
			t.Fatal(err)
		}
		keys, err := suite.DeriveKeys(make([]byte, 64), make([]byte, 32), make([]byte, 32), 1, 2)
		if err != nil {
			t.Fatal(err)
		}
		tr, err := suite.NewTransform(keys.EI, keys.AI)
		if err != nil {
			t.Fatal(err)
		}
		for n := range 40 {
			msg := &message.Message{Header: message.Header{SPIi: 1, SPIr: 2, Exchange: message.ExchangeIKEAuth, MessageID: 1}}
			if n > 0 {
				msg.Payloads = []message.Payload{&message.VendorID{Data: bytes.Repeat([]byte{7}, n*7)}}
			}
			if n%3 == 1 {
				msg.Cleartext = []message.Payload{&message.VendorID{Data: []byte("clear")}}
			}
			b, err := message.Seal(msg, tr, uint64(n))
			if err != nil {
				t.Fatal(err)
			}
			if got, err := sealedLen(msg, tr); err != nil || got != len(b) {
				t.Fatalf("%s, %d payload bytes: sealedLen %d (%v), Seal %d", proposal, n*7, got, err, len(b))
			}
		}
	}
}

func TestFragmentedIKEAuth(t *testing.T) {
	ca := newTestCA(t, "espd test CA")
	for _, tc := range []struct {
		name   string
		mutate func(ci, cr *Config)
	}{
		// A certificate chain outgrows 1280 bytes.
		{"RSA certificate chain, default fragment size", withChain(t, ca)},
		{"PSK, 256-byte fragments", smallFragments},
		{"CBC suite, 256-byte fragments", func(ci, cr *Config) {
			smallFragments(ci, cr)
			ci.Proposals, cr.Proposals = []string{"aes256-sha256-modp2048"}, []string{"aes256-sha256-modp2048"}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			i, r, _ := newPair(t, tc.mutate)
			toInit(t, i, r)
			req := holdAll(t, i) // IKE_AUTH request, in fragments
			assertFragments(t, req, budgetOf(i))
			handleAll(t, r, req)
			resp := holdAll(t, r) // IKE_AUTH response, in fragments
			assertFragments(t, resp, budgetOf(r))
			assertPayloads(t, reassembleFor(t, i, resp), message.ExchangeIKEAuth, true, payloadTypes(reassembleFor(t, i, resp))...)
			handleAll(t, i, resp)
			assertMirrored(t, i, r)
			// Each fragment took one IV counter.
			if ni, nr := sendCounter(i.sa), sendCounter(r.sa); ni != uint64(len(req)) || nr != uint64(len(resp)) {
				t.Errorf("IV counters %d and %d, want %d and %d", ni, nr, len(req), len(resp))
			}
			if i.pending() != 0 || r.pending() != 0 {
				t.Error("more sent after IKE_AUTH")
			}
		})
	}
}

func payloadTypes(m *message.Message) []any {
	var out []any
	for _, p := range m.Payloads {
		if n, ok := p.(*message.Notify); ok {
			out = append(out, n.NotifyType)
			continue
		}
		out = append(out, p.Type())
	}
	return out
}

func TestFragmentationNotAnnounced(t *testing.T) {
	// The responder does not announce fragmentation, so the initiator's
	// large IKE_AUTH goes whole, whatever its fragment size.
	i, r, _ := newPair(t, func(ci, cr *Config) {
		smallFragments(ci, cr)
		cr.NoFragmentation = true
	})
	toInit(t, i, r)
	req := hold(t, i) // IKE_AUTH request, whole
	if len(req.b) <= budgetOf(i) {
		t.Fatalf("IKE_AUTH request of %d bytes fits %d anyway", len(req.b), budgetOf(i))
	}
	req.deliverTo(t, r)
	deliver(t, r, i) // IKE_AUTH response, whole
	assertMirrored(t, i, r)
}

func TestFragmentLostRetransmitted(t *testing.T) {
	i, r, clock := newPair(t, smallFragments)
	toInit(t, i, r)
	req := holdAll(t, i) // IKE_AUTH request, in fragments; the second is lost
	counter := sendCounter(i.sa)
	for k, d := range req {
		if k == 1 {
			continue
		}
		if err := d.handle(t, r); err != nil {
			t.Fatal(err)
		}
	}
	if r.pending() != 0 || r.sa.State() != StateConnecting {
		t.Fatalf("responder answered an incomplete request: %d sent, %v", r.pending(), r.sa.State())
	}
	clock.Advance(4 * time.Second)
	again := holdAll(t, i) // IKE_AUTH request retransmitted: every fragment, unchanged
	if len(again) != len(req) {
		t.Fatalf("retransmitted %d fragments of %d", len(again), len(req))
	}
	for k := range req {
		if !bytes.Equal(req[k].b, again[k].b) {
			t.Fatalf("retransmitted fragment %d differs", k+1)
		}
	}
	if n := sendCounter(i.sa); n != counter {
		t.Errorf("retransmission sealed again: counter %d, was %d", n, counter)
	}
	handleAll(t, r, again) // fragment 2 completes it; the others are duplicates
	resp := holdAll(t, r)  // IKE_AUTH response, once
	assertFragments(t, resp, budgetOf(r))
	// The response's last fragment is lost: the initiator retransmits its
	// whole request, and fragment 1 brings the cached response again.
	handleAll(t, i, resp[:len(resp)-1])
	clock.Advance(7200 * time.Millisecond)
	handleAll(t, r, holdAll(t, i))
	cached := holdAll(t, r)
	if len(cached) != len(resp) {
		t.Fatalf("cached response in %d fragments, want %d", len(cached), len(resp))
	}
	for k := range resp {
		if !bytes.Equal(resp[k].b, cached[k].b) {
			t.Fatalf("cached response fragment %d differs", k+1)
		}
	}
	handleAll(t, i, cached)
	assertMirrored(t, i, r)
	if n := sendCounter(r.sa); n != uint64(len(resp)) {
		t.Errorf("responder counter %d, want %d: the cache resends, never reseals", n, len(resp))
	}
}

func TestFragmentsReorderedAndDuplicated(t *testing.T) {
	i, r, _ := newPair(t, smallFragments)
	toInit(t, i, r)
	req := holdAll(t, i) // IKE_AUTH request, in fragments
	if len(req) < 3 {
		t.Fatalf("only %d fragments", len(req))
	}
	// Last first, each fragment twice, the first one last.
	var order []datagram
	for k := len(req) - 1; k >= 0; k-- {
		order = append(order, req[k], req[k])
	}
	order = order[:len(order)-1]
	for k, d := range order {
		if err := d.handle(t, r); err != nil {
			t.Fatal(err)
		}
		if want := k == len(order)-1; (r.pending() > 0) != want {
			t.Fatalf("after datagram %d of %d: responder sent %d", k+1, len(order), r.pending())
		}
	}
	resp := holdAll(t, r) // IKE_AUTH response, reversed and each but the last doubled
	slices.Reverse(resp)
	for _, d := range resp[:len(resp)-1] {
		handleAll(t, i, []datagram{d, d})
	}
	handleAll(t, i, resp[len(resp)-1:])
	assertMirrored(t, i, r)
}

func TestRetransmittedFragmentedRequestFromCache(t *testing.T) {
	i, r, _ := newPair(t, smallFragments)
	toInit(t, i, r)
	req := holdAll(t, i) // IKE_AUTH request
	handleAll(t, r, req)
	resp := holdAll(t, r) // IKE_AUTH response
	// The request again, as a retransmission brings it: only fragment 1
	// is answered, with every fragment of the cached response.
	for k, d := range req {
		if err := d.handle(t, r); err != nil {
			t.Fatal(err)
		}
		got := holdAll(t, r)
		if k != 0 {
			if len(got) != 0 {
				t.Fatalf("fragment %d answered with %d datagrams", k+1, len(got))
			}
			continue
		}
		if len(got) != len(resp) {
			t.Fatalf("fragment 1 answered with %d datagrams, want %d", len(got), len(resp))
		}
		for n := range resp {
			if !bytes.Equal(got[n].b, resp[n].b) {
				t.Fatalf("cached fragment %d differs", n+1)
			}
		}
	}
	// A forged fragment 1 with the old message ID brings nothing.
	forged := bytes.Clone(req[0].b)
	forged[len(forged)-1] ^= 1
	if err := r.sa.HandleDatagram(forged, req[0].from, req[0].to); !errors.Is(err, message.ErrIntegrity) {
		t.Errorf("forged fragment 1: %v", err)
	}
	if r.pending() != 0 {
		t.Error("a forged fragment brought the cached response")
	}
	handleAll(t, i, resp)
	assertMirrored(t, i, r)
	if n := sendCounter(r.sa); n != uint64(len(resp)) {
		t.Errorf("responder counter %d, want %d", n, len(resp))
	}
}

// craftFragment builds an SKF message by hand, protected with t, with any
// numbers: the codec refuses to write the bad ones.
func craftFragment(t testing.TB, tr crypto.Transform, h message.Header, number, total uint16, first message.PayloadType, content []byte, counter uint64) []byte {
	t.Helper()
	align := 1
	if !tr.AEAD() {
		align = tr.BlockLen()
	}
	padded := (len(content) + 1 + align - 1) / align * align
	payloadLen := message.GenericHeaderLen + 4 + tr.IVLen() + padded + tr.ICVLen()
	b, err := (&message.Message{Header: h}).Encode()
	if err != nil {
		t.Fatal(err)
	}
	b = slices.Grow(b, payloadLen)
	message.HeaderView(b).SetNextPayload(message.PayloadSKF)
	message.HeaderView(b).SetLength(uint32(message.HeaderLen + payloadLen))
	b = append(b, byte(first), 0)
	b = binary.BigEndian.AppendUint16(b, uint16(payloadLen))
	b = binary.BigEndian.AppendUint16(b, number)
	b = binary.BigEndian.AppendUint16(b, total)
	authEnd := len(b)
	b = b[:authEnd+tr.IVLen()]
	iv := b[authEnd:]
	tr.MakeIV(iv, counter)
	plain := len(b)
	b = append(b, content...)
	b = append(b, make([]byte, padded-len(content))...)
	b[len(b)-1] = byte(padded - len(content) - 1)
	sealed := tr.Seal(b[:authEnd], iv, b[plain:], nil)
	return b[:plain+len(sealed)]
}

// TestBadFragmentsDropped feeds the responder one bad fragment among the
// good ones of an IKE_AUTH request: each is dropped with an error, leaves
// the responder silent, and the good fragments still complete the SA.
func TestBadFragmentsDropped(t *testing.T) {
	type badFragments func(t *testing.T, tr crypto.Transform, h message.Header, good []datagram) [][]byte
	craft := func(number, total uint16) badFragments {
		return func(t *testing.T, tr crypto.Transform, h message.Header, good []datagram) [][]byte {
			return [][]byte{craftFragment(t, tr, h, number, total, message.PayloadNone, []byte("junk"), 1<<40)}
		}
	}
	for _, tc := range []struct {
		name string
		bad  badFragments
		want error
	}{
		{"total 0", craft(1, 0), message.ErrMalformed},
		{"number 0", craft(0, 3), message.ErrMalformed},
		{"number above total", craft(4, 3), message.ErrMalformed},
		{"256 fragments", craft(1, 256), message.ErrReassemblyLimit},
		{"65535 fragments", craft(65535, 65535), message.ErrReassemblyLimit},
		{"total shrinks", func(t *testing.T, tr crypto.Transform, h message.Header, good []datagram) [][]byte {
			return [][]byte{craftFragment(t, tr, h, 1, uint16(len(good)-1), message.PayloadIDi, []byte("junk"), 1<<40)}
		}, message.ErrFragment},
		{"bad ICV", func(t *testing.T, tr crypto.Transform, h message.Header, good []datagram) [][]byte {
			b := bytes.Clone(good[1].b)
			b[len(b)-3] ^= 0x80
			return [][]byte{b}
		}, message.ErrIntegrity},
		{"another exchange", func(t *testing.T, tr crypto.Transform, h message.Header, good []datagram) [][]byte {
			h.Exchange = message.ExchangeInformational
			return [][]byte{craftFragment(t, tr, h, 2, uint16(len(good)), message.PayloadNone, []byte("junk"), 1<<40)}
		}, ErrUnexpected},
		{"next message ID", func(t *testing.T, tr crypto.Transform, h message.Header, good []datagram) [][]byte {
			h.MessageID++
			return [][]byte{craftFragment(t, tr, h, 2, uint16(len(good)), message.PayloadNone, []byte("junk"), 1<<40)}
		}, ErrUnexpected},
		{"reassembly over 64 KiB", func(t *testing.T, tr crypto.Transform, h message.Header, good []datagram) [][]byte {
			// 255 fragments of 400 bytes would make 100 KiB; the one
			// that passes 64 KiB discards the lot.
			var out [][]byte
			for n := uint16(1); n <= 255; n++ {
				out = append(out, craftFragment(t, tr, h, n, 255, message.PayloadVendorID, make([]byte, 400), 1<<40+uint64(n)))
			}
			return out
		}, message.ErrReassemblyLimit},
	} {
		t.Run(tc.name, func(t *testing.T) {
			i, r, _ := newPair(t, smallFragments)
			toInit(t, i, r)
			good := holdAll(t, i) // IKE_AUTH request, in fragments
			h, err := message.ParseHeader(good[0].b)
			if err != nil {
				t.Fatal(err)
			}
			bad := tc.bad(t, i.sa.sendT, h, good)
			if err := good[0].handle(t, r); err != nil {
				t.Fatal(err)
			}
			var last error
			for _, b := range bad {
				if last = r.sa.HandleDatagram(b, good[0].from, good[0].to); last != nil {
					break
				}
			}
			if !errors.Is(last, tc.want) {
				t.Fatalf("bad fragment: %v, want %v", last, tc.want)
			}
			if r.pending() != 0 || r.sa.State() != StateConnecting {
				t.Fatalf("the bad fragment changed the responder: %d sent, %v", r.pending(), r.sa.State())
			}
			// The good fragments still complete the request (the first
			// again, in case the bad ones discarded it).
			handleAll(t, r, good)
			handleAll(t, i, holdAll(t, r)) // IKE_AUTH response
			assertMirrored(t, i, r)
		})
	}
}

// TestFragmentsWithLargerTotal follows RFC 7383 §2.6: a sender that
// fragments a message again, smaller (after a PMTU problem), makes the
// receiver start over with the new fragments.
func TestFragmentsWithLargerTotal(t *testing.T) {
	i, r, _ := newPair(t, smallFragments)
	toInit(t, i, r)
	good := holdAll(t, i) // IKE_AUTH request, in fragments
	handleAll(t, r, good[:len(good)-1])
	msg := reassembleFor(t, r, good)
	i.sa.mu.Lock()
	smaller, err := message.SealFragments(msg, i.sa.sendT, 1<<40, 150)
	i.sa.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	if len(smaller) <= len(good) {
		t.Fatalf("%d fragments again, were %d", len(smaller), len(good))
	}
	if err := r.sa.HandleDatagram(smaller[0], good[0].from, good[0].to); err != nil {
		t.Fatal(err)
	}
	// The last of the first set belongs to an older fragmentation now.
	if err := good[len(good)-1].handle(t, r); !errors.Is(err, message.ErrFragment) {
		t.Errorf("a fragment of the older fragmentation: %v", err)
	}
	for _, b := range smaller[1:] {
		if err := r.sa.HandleDatagram(b, good[0].from, good[0].to); err != nil {
			t.Fatal(err)
		}
	}
	handleAll(t, i, holdAll(t, r)) // IKE_AUTH response
	assertMirrored(t, i, r)
}

func TestFragmentWithoutNegotiationDropped(t *testing.T) {
	i, r, _ := newPair(t, func(ci, cr *Config) { cr.NoFragmentation = true })
	toInit(t, i, r)
	req := hold(t, i) // IKE_AUTH request, whole
	h, _ := message.ParseHeader(req.b)
	frag := craftFragment(t, i.sa.sendT, h, 1, 1, message.PayloadIDi, []byte("junk"), 1<<40)
	if err := r.sa.HandleDatagram(frag, req.from, req.to); !errors.Is(err, ErrUnexpected) {
		t.Errorf("fragment without negotiation: %v", err)
	}
	if r.pending() != 0 {
		t.Error("responder answered a fragment")
	}
	req.deliverTo(t, r)
	deliver(t, r, i) // IKE_AUTH response
	assertMirrored(t, i, r)
}

func TestFragmentationAfterIKERekey(t *testing.T) {
	i, r, _ := newPair(t, func(ci, cr *Config) {
		smallFragments(ci, cr)
		// A 2048-bit KE payload makes the rekey's messages large.
		ci.Proposals, cr.Proposals = []string{"aes128gcm16-prfsha256-modp2048"}, []string{"aes128gcm16-prfsha256-modp2048"}
	})
	toInit(t, i, r)
	handleAll(t, r, holdAll(t, i)) // IKE_AUTH request
	handleAll(t, i, holdAll(t, r)) // IKE_AUTH response
	assertMirrored(t, i, r)
	old := i.sa
	if err := i.sa.RekeyIKE(); err != nil {
		t.Fatal(err)
	}
	// CREATE_CHILD_SA with a new IKE SA's SA, Ni and KEi goes in
	// fragments, on the old SA.
	req := holdAll(t, i)
	assertFragments(t, req, budgetOf(i))
	handleAll(t, r, req)
	handleAll(t, i, holdAll(t, r)) // CREATE_CHILD_SA response
	handleAll(t, r, holdAll(t, i)) // INFORMATIONAL request, Delete of the old SA
	handleAll(t, i, holdAll(t, r)) // INFORMATIONAL response
	if i.sa == old || !fragmentationOn(i.sa) || !fragmentationOn(r.sa) {
		t.Errorf("the rekeyed SAs do not fragment: new %v, %v/%v", i.sa != old, fragmentationOn(i.sa), fragmentationOn(r.sa))
	}
	assertPairs(t, i, r, 1)
}

// TestBadResponseFragmentsDropped does the same on the initiator's side:
// forged and malformed fragments of the IKE_AUTH response are dropped, the
// good ones complete it.
func TestBadResponseFragmentsDropped(t *testing.T) {
	i, r, _ := newPair(t, smallFragments)
	toInit(t, i, r)
	handleAll(t, r, holdAll(t, i)) // IKE_AUTH request
	resp := holdAll(t, r)          // IKE_AUTH response, in fragments
	h, err := message.ParseHeader(resp[0].b)
	if err != nil {
		t.Fatal(err)
	}
	forged := bytes.Clone(resp[1].b)
	forged[len(forged)-1] ^= 1
	bad := []struct {
		b    []byte
		want error
	}{
		{forged, message.ErrIntegrity},
		{craftFragment(t, r.sa.sendT, h, 0, uint16(len(resp)), message.PayloadNone, []byte("junk"), 1<<40), message.ErrMalformed},
		{craftFragment(t, r.sa.sendT, h, 1, 300, message.PayloadIDr, []byte("junk"), 1<<40+1), message.ErrReassemblyLimit},
	}
	if err := resp[0].handle(t, i); err != nil {
		t.Fatal(err)
	}
	for k, b := range bad {
		if err := i.sa.HandleDatagram(b.b, resp[0].from, resp[0].to); !errors.Is(err, b.want) {
			t.Errorf("bad fragment %d: %v, want %v", k, err, b.want)
		}
	}
	if i.sa.State() != StateConnecting || i.pending() != 0 {
		t.Fatalf("initiator %v, %d sent", i.sa.State(), i.pending())
	}
	handleAll(t, i, resp[1:])
	assertMirrored(t, i, r)
}
