package ike

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"

	"github.com/espd/espd/esp/installer"
	"github.com/espd/espd/ike/message"
)

// inject sends a hand-made request from from's current SA, with the next
// message ID, and returns the answer to, decrypted. from's task manager
// expects no answer; the message ID moves on so later exchanges fit.
func inject(t *testing.T, from, to *peer, ex message.ExchangeType, payloads ...message.Payload) *message.Message {
	t.Helper()
	sa := from.sa
	sa.mu.Lock()
	b, err := sa.encode(&message.Message{Header: message.Header{
		SPIi: sa.spiI, SPIr: sa.spiR, Exchange: ex, Flags: sa.ourFlags(), MessageID: sa.tm.initiating.messageID,
	}, Payloads: payloads})
	sa.tm.initiating.messageID++
	local, remote := sa.local, sa.remote
	sa.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	if err := to.route(t, b).HandleDatagram(b, local, remote); err != nil {
		t.Logf("%s: %v", to.name, err)
	}
	return open(t, from, to.take(t))
}

// rekeyRequest is a well-formed CHILD_SA rekey request's payloads behind
// the given REKEY_SA notify.
func rekeyRequest(p *peer, n *message.Notify) []message.Payload {
	c := children(p)[0]
	cfg := p.sa.conn.children[0]
	return []message.Payload{n,
		&message.SA{Proposals: cfg.offeredESP(0x12345678, true)},
		&message.Nonce{Data: bytes.Repeat([]byte{7}, 32)},
		&message.TS{Selectors: selectors(c.LocalTS)},
		&message.TS{Responder: true, Selectors: selectors(c.RemoteTS)},
	}
}

// TestRekeySABadInput: a REKEY_SA that names no CHILD_SA of ours is
// answered CHILD_SA_NOT_FOUND, one with protocol 0 or 1 or an SPI that is
// not 4 bytes INVALID_SYNTAX (the codec decodes such a notify, Validate
// refuses it); nothing changes, and a proper rekey works afterwards.
func TestRekeySABadInput(t *testing.T) {
	i, r, _ := established(t, nil)
	c := children(i)[0]
	for _, tc := range []struct {
		name   string
		notify *message.Notify
		want   message.NotifyType
	}{
		{"unknown SPI", message.NewChildSANotify(message.NotifyRekeySA, message.ProtocolESP, c.OutboundSPI^1, nil), message.NotifyChildSANotFound},
		{"protocol 0", message.NewChildSANotify(message.NotifyRekeySA, 0, c.InboundSPI, nil), message.NotifyInvalidSyntax},
		{"protocol IKE", message.NewChildSANotify(message.NotifyRekeySA, message.ProtocolIKE, c.InboundSPI, nil), message.NotifyInvalidSyntax},
		{"8-byte SPI", &message.Notify{Protocol: message.ProtocolESP, NotifyType: message.NotifyRekeySA, SPI: make([]byte, 8)}, message.NotifyInvalidSyntax},
		{"no SPI", &message.Notify{Protocol: message.ProtocolESP, NotifyType: message.NotifyRekeySA}, message.NotifyInvalidSyntax},
		{"AH", message.NewChildSANotify(message.NotifyRekeySA, message.ProtocolAH, c.InboundSPI, nil), message.NotifyChildSANotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.want == message.NotifyInvalidSyntax {
				if err := tc.notify.Validate(); !errors.Is(err, message.ErrMalformed) {
					t.Errorf("Validate: %v", err)
				}
			}
			resp := inject(t, i, r, message.ExchangeCreateChildSA, rekeyRequest(i, tc.notify)...)
			if n := resp.Notifies(); len(n) != 1 || n[0].NotifyType != tc.want || len(resp.Payloads) != 1 {
				t.Fatalf("answer %v, want %v", resp, tc.want)
			}
			if r.sa.State() != StateEstablished {
				t.Fatalf("responder %v", r.sa.State())
			}
			assertPairs(t, i, r, 1)
		})
	}
	rekeyChild(t, i, r, false)
}

// TestCreateChildBeforeAuthDropped: CREATE_CHILD_SA before IKE_AUTH has
// completed is dropped unanswered, however well protected.
func TestCreateChildBeforeAuthDropped(t *testing.T) {
	i, r, _ := newPair(t, nil)
	if err := i.sa.Initiate(); err != nil {
		t.Fatal(err)
	}
	deliver(t, i, r) // IKE_SA_INIT request
	deliver(t, r, i) // IKE_SA_INIT response
	auth := hold(t, i)
	i.sa.mu.Lock()
	b, err := i.sa.encode(&message.Message{Header: message.Header{
		SPIi: i.sa.spiI, SPIr: i.sa.spiR, Exchange: message.ExchangeCreateChildSA,
		Flags: message.FlagInitiator, MessageID: 1,
	}, Payloads: []message.Payload{&message.Nonce{Data: make([]byte, 32)}}})
	i.sa.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	if err := r.sa.HandleDatagram(b, addrI, addrR); !errors.Is(err, ErrUnexpected) {
		t.Errorf("responder: %v", err)
	}
	if r.pending() != 0 || r.sa.State() != StateConnecting {
		t.Fatalf("responder answered or changed: %v", r.sa.State())
	}
	if err := r.sa.StartChild("net"); !errors.Is(err, ErrInvalidState) {
		t.Errorf("StartChild before IKE_AUTH: %v", err)
	}
	auth.deliverTo(t, r)
	deliver(t, r, i)
	assertPairs(t, i, r, 1)
}

// TestBadICVThenGood: a CREATE_CHILD_SA request whose ICV fails is ignored;
// the retransmission, intact, succeeds. Likewise for INFORMATIONAL.
func TestBadICVThenGood(t *testing.T) {
	i, r, clock := established(t, nil)
	if err := i.sa.RekeyChild("net"); err != nil {
		t.Fatal(err)
	}
	req := hold(t, i)
	calls := len(r.recorder.Calls())
	for _, mutate := range []func([]byte){
		func(b []byte) { b[len(b)-1] ^= 1 },  // ICV
		func(b []byte) { b[len(b)-40] ^= 1 }, // ciphertext
		func(b []byte) { b[19] ^= 1 },        // a reserved header flag, under the ICV
	} {
		bad := datagram{b: bytes.Clone(req.b), from: req.from, to: req.to}
		mutate(bad.b)
		if err := r.sa.HandleDatagram(bad.b, bad.from, bad.to); err == nil {
			t.Error("accepted a corrupted request")
		}
	}
	if r.pending() != 0 || len(r.recorder.Calls()) != calls {
		t.Fatal("the responder acted on a corrupted request")
	}
	clock.Advance(DefaultRetransmit.Timeout)
	again := hold(t, i)
	again.deliverTo(t, r)
	step(t, r, i)
	// The Delete corrupted too, then intact.
	del := hold(t, i)
	bad := bytes.Clone(del.b)
	bad[len(bad)-1] ^= 0x80
	if err := r.sa.HandleDatagram(bad, del.from, del.to); err == nil || r.pending() != 0 {
		t.Fatal("accepted a corrupted Delete")
	}
	del.deliverTo(t, r)
	step(t, r, i)
	assertPairs(t, i, r, 1)
}

// TestDuplicatedDelete: a duplicated INFORMATIONAL request is answered from
// the cache and deletes nothing twice.
func TestDuplicatedDelete(t *testing.T) {
	i, r, _ := established(t, func(ci, cr *Config) {
		ci.Children = append(ci.Children, ChildConfig{Name: "two", ESPProposals: []string{"aes128gcm16"},
			LocalTS:  []netip.Prefix{netip.MustParsePrefix("198.18.7.0/24")},
			RemoteTS: []netip.Prefix{netip.MustParsePrefix("198.18.8.0/24")}})
		cr.Children = append(cr.Children, ChildConfig{Name: "two", ESPProposals: []string{"aes128gcm16"},
			LocalTS:  []netip.Prefix{netip.MustParsePrefix("198.18.8.0/24")},
			RemoteTS: []netip.Prefix{netip.MustParsePrefix("198.18.7.0/24")}})
	})
	if err := i.sa.StartChild("two"); err != nil {
		t.Fatal(err)
	}
	step(t, i, r)
	step(t, r, i)
	if err := i.sa.CloseChild("two"); err != nil {
		t.Fatal(err)
	}
	del := hold(t, i)
	del.deliverTo(t, r)
	first := hold(t, r)
	del.deliverTo(t, r)
	if again := hold(t, r); !bytes.Equal(again.b, first.b) {
		t.Fatal("the duplicate was not answered from the cache")
	}
	first.deliverTo(t, i)
	assertPairs(t, i, r, 1)
}

func TestInitialContact(t *testing.T) {
	for _, send := range []bool{false, true} {
		var heard []string
		i, r, _ := newPair(t, func(ci, cr *Config) {
			ci.InitialContact = send
			cr.OnInitialContact = func(peerID string) { heard = append(heard, peerID) }
		})
		if err := i.sa.Initiate(); err != nil {
			t.Fatal(err)
		}
		deliver(t, i, r) // IKE_SA_INIT request
		deliver(t, r, i) // IKE_SA_INIT response
		m := step(t, i, r)
		if (m.Notify(message.NotifyInitialContact) != nil) != send {
			t.Errorf("InitialContact %v: IKE_AUTH request %v", send, m)
		}
		deliver(t, r, i)
		if want := map[bool]int{false: 0, true: 1}[send]; len(heard) != want || (send && heard[0] != "initiator.example") {
			t.Errorf("InitialContact %v: heard %v", send, heard)
		}
	}
}

func TestStatus(t *testing.T) {
	i, r, _ := established(t, func(ci, cr *Config) {
		ci.Name, cr.Name = "site", "site"
		ci.RekeyTime = 0
		ci.Children[0].RekeyTime = 0
		cr.Children[0].RekeyTime = 0
	})
	st := i.sa.Status()
	spiI, spiR := i.sa.SPIs()
	if st.Name != "site" || i.sa.Name() != "site" || st.State != StateEstablished || !st.Initiator ||
		st.SPIi != spiI || st.SPIr != spiR || i.sa.LocalSPI() != spiI || r.sa.LocalSPI() != spiR ||
		st.Suite != "aes128gcm16-prfsha256-curve25519" || st.PeerID != "responder.example" ||
		st.Local != addrI || st.Remote != addrR || st.NATHere || st.Encap || st.Established.IsZero() || !st.RekeyAt.IsZero() {
		t.Errorf("status %+v", st)
	}
	c := children(i)[0]
	if len(st.Children) != 1 {
		t.Fatalf("children %+v", st.Children)
	}
	cs := st.Children[0]
	if cs.Name != "net" || cs.State != "INSTALLED" || cs.Mode != installer.Tunnel || cs.Suite != "aes128gcm16" ||
		cs.InboundSPI != c.InboundSPI || cs.OutboundSPI != c.OutboundSPI || cs.LocalTS[0].String() != "198.18.1.0/24" ||
		cs.RemoteTS[0].String() != "198.18.2.0/24" || cs.Installed.IsZero() || !cs.RekeyAt.IsZero() || cs.OutboundHeld {
		t.Errorf("child status %+v", cs)
	}
	// The responder of a rekey shows the new SA with its outbound held.
	if err := i.sa.RekeyChild("net"); err != nil {
		t.Fatal(err)
	}
	step(t, i, r)
	rs := r.sa.Status()
	if len(rs.Children) != 2 || rs.Children[0].State != "REKEYED" || !rs.Children[1].OutboundHeld || rs.Initiator {
		t.Errorf("responder status %+v", rs)
	}
	if i.sa.Status().Children[0].State != "REKEYING" {
		t.Errorf("initiator status %+v", i.sa.Status().Children)
	}
}

// FuzzEstablishedRequest seals arbitrary payloads into CREATE_CHILD_SA and
// INFORMATIONAL requests to an established responder: whatever they hold,
// nothing may panic, and the responder answers or drops each one.
func FuzzEstablishedRequest(f *testing.F) {
	i, r, _ := established(f, pfs("-curve25519"))
	seed := func(m *message.Message) {
		b, err := (&message.Message{Header: m.Header, Payloads: m.Payloads}).Encode()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	if err := i.sa.RekeyChild("net"); err != nil {
		f.Fatal(err)
	}
	seed(step(f, i, r))
	step(f, r, i)
	seed(step(f, i, r))
	step(f, r, i)
	if err := i.sa.RekeyIKE(); err != nil {
		f.Fatal(err)
	}
	seed(step(f, i, r))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := message.Parse(b)
		if err != nil {
			return
		}
		for _, p := range m.Payloads {
			if p.Type() == message.PayloadSK || p.Type() == message.PayloadSKF {
				return // cannot be sealed inside another
			}
		}
		for _, ex := range []message.ExchangeType{message.ExchangeCreateChildSA, message.ExchangeInformational} {
			i, r, _ := established(t, pfs("-curve25519"))
			resp := inject(t, i, r, ex, m.Payloads...)
			if !resp.Header.Flags.Response() {
				t.Fatalf("answer %v", resp)
			}
		}
	})
}
