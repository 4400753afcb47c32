package ike

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/espd/espd/esp/installer"
	"github.com/espd/espd/ike/message"
)

// The CHILD_SA tests follow strongSwan's test_child_create.c,
// test_child_rekey.c and test_child_delete.c: a and b are the peers, a the
// one that acts first, whichever of them initiated the IKE SA.

func roles(i, r *peer, byResponder bool) (a, b *peer) {
	if byResponder {
		return r, i
	}
	return i, r
}

func TestCreateChild(t *testing.T) {
	for _, byResponder := range []bool{false, true} {
		t.Run(fmt.Sprintf("by responder %v", byResponder), func(t *testing.T) {
			i, r, _ := established(t, func(ci, cr *Config) {
				ci.Children = append(ci.Children, ChildConfig{Name: "db", ESPProposals: []string{"aes256gcm16-x25519"},
					LocalTS:  []netip.Prefix{netip.MustParsePrefix("198.18.3.0/24")},
					RemoteTS: []netip.Prefix{netip.MustParsePrefix("198.18.4.0/24")}})
				cr.Children = append(cr.Children, ChildConfig{Name: "db", ESPProposals: []string{"aes256gcm16-x25519"},
					LocalTS:  []netip.Prefix{netip.MustParsePrefix("198.18.4.0/24")},
					RemoteTS: []netip.Prefix{netip.MustParsePrefix("198.18.3.0/24")}})
			})
			a, b := roles(i, r, byResponder)
			if err := a.sa.StartChild("db"); err != nil {
				t.Fatal(err)
			}
			// CREATE_CHILD_SA { SA, Ni, KEi, TSi, TSr } -->
			req := step(t, a, b)
			assertPayloads(t, req, message.ExchangeCreateChildSA, false,
				message.PayloadSA, message.PayloadNonce, message.PayloadKE, message.PayloadTSi, message.PayloadTSr)
			// b installs both SAs at once: there is no old SA to replace.
			if n := len(b.recorder.Installed(installer.Outbound)); n != 2 {
				t.Fatalf("%s has %d outbound SAs", b.name, n)
			}
			// <-- CREATE_CHILD_SA { SA, Nr, KEr, TSi, TSr }
			resp := step(t, b, a)
			assertPayloads(t, resp, message.ExchangeCreateChildSA, true,
				message.PayloadSA, message.PayloadNonce, message.PayloadKE, message.PayloadTSi, message.PayloadTSr)
			assertPairs(t, i, r, 2)
			for _, p := range []*peer{a, b} {
				var names []string
				for _, c := range children(p) {
					names = append(names, c.Name+" "+c.Suite.String())
				}
				slices.Sort(names)
				if !slices.Equal(names, []string{"db aes256gcm16-curve25519", "net aes128gcm16"}) {
					t.Errorf("%s: children %v", p.name, names)
				}
			}
			if err := a.sa.StartChild("nope"); !errors.Is(err, ErrNoSuchChild) {
				t.Errorf("unknown child: %v", err)
			}
		})
	}
}

func TestCreateChildRefused(t *testing.T) {
	i, r, _ := established(t, func(ci, cr *Config) {
		ci.Children = append(ci.Children, ChildConfig{Name: "other", ESPProposals: []string{"aes128gcm16"},
			LocalTS:  []netip.Prefix{netip.MustParsePrefix("198.18.5.0/24")},
			RemoteTS: []netip.Prefix{netip.MustParsePrefix("198.18.6.0/24")}})
	})
	if err := i.sa.StartChild("other"); err != nil {
		t.Fatal(err)
	}
	step(t, i, r) // CREATE_CHILD_SA { SA, Ni, TSi, TSr } -->
	resp := step(t, r, i)
	// <-- CREATE_CHILD_SA { N(TS_UNACCEPTABLE) }
	assertPayloads(t, resp, message.ExchangeCreateChildSA, true, message.NotifyTSUnacceptable)
	assertPairs(t, i, r, 1)
	if !errors.Is(i.sa.ChildError("other"), ErrTSUnacceptable) || i.sa.State() != StateEstablished {
		t.Errorf("child error %v, state %v", i.sa.ChildError("other"), i.sa.State())
	}
}

// rekeyChild runs a regular CHILD_SA rekey started by a, asserting the
// installed SAs after each step, and returns the new SPIs (a's inbound,
// b's inbound).
func rekeyChild(t *testing.T, a, b *peer, withKE bool) (newA, newB uint32) {
	t.Helper()
	oldA, oldB := children(a)[0], children(b)[0]
	if err := a.sa.RekeyChild("net"); err != nil {
		t.Fatal(err)
	}
	// CREATE_CHILD_SA { N(REKEY_SA), SA, Ni, [KEi,] TSi, TSr } -->
	req := step(t, a, b)
	want := []any{message.NotifyRekeySA, message.PayloadSA, message.PayloadNonce, message.PayloadKE, message.PayloadTSi, message.PayloadTSr}
	if !withKE {
		want = slices.Delete(want, 3, 4)
	}
	assertPayloads(t, req, message.ExchangeCreateChildSA, false, want...)
	if spi, _ := req.Notify(message.NotifyRekeySA).SPI32(); spi != oldA.InboundSPI {
		t.Fatalf("REKEY_SA names %08x, want %08x", spi, oldA.InboundSPI)
	}
	newA = proposalSPI(t, req)
	// b has the new inbound SA; its outbound waits for the Delete.
	if got := spis(b, installer.Inbound); len(got) != 2 {
		t.Fatalf("%s inbound %08x", b.name, got)
	}
	assertSAs(t, b, spis(b, installer.Inbound), []uint32{oldB.OutboundSPI})
	// <-- CREATE_CHILD_SA { SA, Nr, [KEr,] TSi, TSr }
	resp := step(t, b, a)
	want = []any{message.PayloadSA, message.PayloadNonce, message.PayloadKE, message.PayloadTSi, message.PayloadTSr}
	if !withKE {
		want = slices.Delete(want, 2, 3)
	}
	assertPayloads(t, resp, message.ExchangeCreateChildSA, true, want...)
	newB = proposalSPI(t, resp)
	assertSAs(t, b, []uint32{oldB.InboundSPI, newB}, []uint32{oldB.OutboundSPI})
	// a installs the new inbound SA, then the new outbound one, which
	// takes over; the old pair stays until the Delete is answered.
	assertSAs(t, a, []uint32{oldA.InboundSPI, newA}, []uint32{oldA.OutboundSPI, newB})
	// INFORMATIONAL { D(old) } -->
	del := step(t, a, b)
	assertPayloads(t, del, message.ExchangeInformational, false, message.PayloadDelete)
	if got := deleted(del); !slices.Equal(got, []uint32{oldA.InboundSPI}) {
		t.Fatalf("Delete of %08x, want %08x", got, oldA.InboundSPI)
	}
	assertSAs(t, b, []uint32{newB}, []uint32{newA})
	// <-- INFORMATIONAL { D(old) }
	delResp := step(t, b, a)
	if got := deleted(delResp); !slices.Equal(got, []uint32{oldB.InboundSPI}) {
		t.Fatalf("Delete answer %08x, want %08x", got, oldB.InboundSPI)
	}
	assertSAs(t, a, []uint32{newA}, []uint32{newB})
	return newA, newB
}

func TestChildRekey(t *testing.T) {
	for _, group := range []string{"", "-curve25519", "-modp2048"} {
		for _, byResponder := range []bool{false, true} {
			t.Run(fmt.Sprintf("pfs %q by responder %v", group, byResponder), func(t *testing.T) {
				i, r, _ := established(t, pfs(group))
				a, b := roles(i, r, byResponder)
				oldKey := a.recorder.Installed(installer.Outbound)[0].EncKey
				rekeyChild(t, a, b, group != "")
				assertPairs(t, i, r, 1)
				if bytes.Equal(a.recorder.Installed(installer.Outbound)[0].EncKey, oldKey) {
					t.Error("the rekeyed SA kept its key")
				}
				for _, p := range []*peer{a, b} {
					if c := children(p); len(c) != 1 || c[0].Suite.String() != "aes128gcm16"+group {
						t.Errorf("%s children %+v", p.name, c)
					}
					if n := p.pending(); n != 0 {
						t.Errorf("%s has %d more datagrams", p.name, n)
					}
				}
				// And again, on the new SA.
				rekeyChild(t, b, a, group != "")
				assertPairs(t, i, r, 1)
			})
		}
	}
}

// TestChildRekeyInvalidKE: the responder prefers another PFS group, the
// initiator retries with it in a new exchange.
func TestChildRekeyInvalidKE(t *testing.T) {
	i, r, _ := established(t, func(ci, cr *Config) {
		ci.Children[0].ESPProposals = []string{"aes128gcm16-ecp256", "aes128gcm16-x25519"}
		cr.Children[0].ESPProposals = []string{"aes128gcm16-x25519", "aes128gcm16-ecp256"}
	})
	old := children(i)[0]
	if err := i.sa.RekeyChild("net"); err != nil {
		t.Fatal(err)
	}
	req := step(t, i, r) // CREATE_CHILD_SA { N(REKEY_SA), SA, Ni, KEi(ecp256), TSi, TSr } -->
	if ke := req.Find(message.PayloadKE).(*message.KE); ke.Group != 19 {
		t.Fatalf("first KE group %d", ke.Group)
	}
	// <-- CREATE_CHILD_SA { N(INVALID_KE_PAYLOAD(31)) }
	resp := step(t, r, i)
	assertPayloads(t, resp, message.ExchangeCreateChildSA, true, message.NotifyInvalidKEPayload)
	assertSAs(t, r, []uint32{old.OutboundSPI}, []uint32{old.InboundSPI})
	// CREATE_CHILD_SA { N(REKEY_SA), SA, Ni, KEi(x25519), TSi, TSr } -->, a
	// new exchange with the next message ID.
	req2 := step(t, i, r)
	if ke := req2.Find(message.PayloadKE).(*message.KE); ke.Group != 31 || req2.Header.MessageID != req.Header.MessageID+1 {
		t.Fatalf("retry: KE group %d, message ID %d", ke.Group, req2.Header.MessageID)
	}
	step(t, r, i) // <-- CREATE_CHILD_SA { SA, Nr, KEr, TSi, TSr }
	step(t, i, r) // INFORMATIONAL { D } -->
	step(t, r, i) // <-- INFORMATIONAL { D }
	assertPairs(t, i, r, 1)
	if c := children(i)[0]; c.Suite.String() != "aes128gcm16-curve25519" || c.InboundSPI == old.InboundSPI {
		t.Errorf("child %+v", c)
	}
}

// TestChildRekeyPFSMismatch: the responder wants PFS, the initiator has
// none: NO_PROPOSAL_CHOSEN, and the old SA stays.
func TestChildRekeyPFSMismatch(t *testing.T) {
	i, r, _ := established(t, func(ci, cr *Config) {
		cr.Children[0].ESPProposals = []string{"aes128gcm16-x25519"}
	})
	old := children(i)[0]
	if err := i.sa.RekeyChild("net"); err != nil {
		t.Fatal(err)
	}
	step(t, i, r) // CREATE_CHILD_SA { N(REKEY_SA), SA, Ni, TSi, TSr } -->
	resp := step(t, r, i)
	assertPayloads(t, resp, message.ExchangeCreateChildSA, true, message.NotifyNoProposalChosen)
	assertPairs(t, i, r, 1)
	if c := children(i)[0]; c.InboundSPI != old.InboundSPI || i.sa.Status().Children[0].State != "INSTALLED" {
		t.Errorf("child %+v", i.sa.Status().Children[0])
	}
	// It may be rekeyed again (once the configurations agree).
	if err := i.sa.RekeyChild("net"); err != nil {
		t.Fatal(err)
	}
}

// TestChildRekeyCollision: both peers rekey the CHILD_SA at once. Of the
// two new SAs, the one made with the lowest of the four nonces is deleted
// by the peer that initiated it; the old one by the other peer (RFC 7296
// §2.8.1). Nonces, collisionNonces, as in strongSwan's test_collision:
//
//	N1 (a's Ni) -----\    /----- N2 (b's Ni)
//	                  \--/-----> N3 (b's Nr)
//	N4 (a's Nr) <-------/ /----- ...
func TestChildRekeyCollision(t *testing.T) {
	for k, nonces := range collisionNonces {
		aLoses := k%2 == 0
		t.Run(fmt.Sprintf("lowest nonce %d", k+1), func(t *testing.T) {
			a, b, _ := established(t, nil)
			old := children(a)[0]
			setNonce(a, nonces[0])
			if err := a.sa.RekeyChild("net"); err != nil {
				t.Fatal(err)
			}
			reqA := hold(t, a)
			setNonce(b, nonces[1])
			if err := b.sa.RekeyChild("net"); err != nil {
				t.Fatal(err)
			}
			reqB := hold(t, b)
			// CREATE_CHILD_SA { N(REKEY_SA), SA, Ni, TSi, TSr } --> (a's)
			setNonce(b, nonces[2])
			mA := reqA.deliverTo(t, b)
			respA := hold(t, b)
			// <-- CREATE_CHILD_SA { N(REKEY_SA), SA, Ni, TSi, TSr } (b's)
			setNonce(a, nonces[3])
			mB := reqB.deliverTo(t, a)
			respB := hold(t, a)
			// The SA of exchange A is (a: aInA, b: bInA), of B (a: aInB,
			// b: bInB).
			aInA, bInA := proposalSPI(t, mA), proposalSPI(t, open(t, a, respA.b))
			aInB, bInB := proposalSPI(t, open(t, b, respB.b)), proposalSPI(t, mB)
			// Each has answered: the peer's new inbound SA is in, its
			// outbound held back.
			assertSAs(t, a, []uint32{old.InboundSPI, aInB}, []uint32{old.OutboundSPI})
			assertSAs(t, b, []uint32{old.OutboundSPI, bInA}, []uint32{old.InboundSPI})
			// <-- CREATE_CHILD_SA { SA, Nr, TSi, TSr } (answer to a)
			respA.deliverTo(t, a)
			// CREATE_CHILD_SA { SA, Nr, TSi, TSr } --> (answer to b)
			respB.deliverTo(t, b)
			delA, delB := hold(t, a), hold(t, b)
			mDelA, mDelB := open(t, b, delA.b), open(t, a, delB.b)
			if aLoses {
				// a deletes its redundant SA A, b the old one.
				if got := deleted(mDelA); !slices.Equal(got, []uint32{aInA}) {
					t.Errorf("a deletes %08x, want its redundant %08x", got, aInA)
				}
				if got := deleted(mDelB); !slices.Equal(got, []uint32{old.OutboundSPI}) {
					t.Errorf("b deletes %08x, want the old %08x", got, old.OutboundSPI)
				}
				// b won and sends on B at once; a holds B's outbound back
				// until the old SA is deleted.
				assertSAs(t, b, []uint32{old.OutboundSPI, bInA, bInB}, []uint32{old.InboundSPI, aInB})
				assertSAs(t, a, []uint32{old.InboundSPI, aInA, aInB}, []uint32{old.OutboundSPI})
			} else {
				if got := deleted(mDelA); !slices.Equal(got, []uint32{old.InboundSPI}) {
					t.Errorf("a deletes %08x, want the old %08x", got, old.InboundSPI)
				}
				if got := deleted(mDelB); !slices.Equal(got, []uint32{bInB}) {
					t.Errorf("b deletes %08x, want its redundant %08x", got, bInB)
				}
				assertSAs(t, a, []uint32{old.InboundSPI, aInA, aInB}, []uint32{old.OutboundSPI, bInA})
				assertSAs(t, b, []uint32{old.OutboundSPI, bInA, bInB}, []uint32{old.InboundSPI})
			}
			// INFORMATIONAL { D } --> and <-- INFORMATIONAL { D }, then
			// their answers.
			delA.deliverTo(t, b)
			ansB := hold(t, b)
			delB.deliverTo(t, a)
			ansA := hold(t, a)
			ansB.deliverTo(t, a)
			ansA.deliverTo(t, b)
			assertPairs(t, a, b, 1)
			if aLoses {
				assertSAs(t, a, []uint32{aInB}, []uint32{bInB})
			} else {
				assertSAs(t, a, []uint32{aInA}, []uint32{bInA})
			}
			for _, p := range []*peer{a, b} {
				if st := p.sa.Status(); len(st.Children) != 1 || st.Children[0].State != "INSTALLED" || st.Children[0].OutboundHeld {
					t.Errorf("%s: %+v", p.name, st.Children)
				}
				if p.pending() != 0 {
					t.Errorf("%s sent more", p.name)
				}
			}
		})
	}
}

// TestChildRekeyCollisionDelayedRequest: a's rekey request reaches b only
// after b has rekeyed the SA and is deleting the old one: b answers
// TEMPORARY_FAILURE, and a, whose SA was rekeyed meanwhile, gives up
// without retrying (strongSwan's test_collision_delayed_request). When
// the request comes even later, after the old SA is gone, b answers
// CHILD_SA_NOT_FOUND (test_collision_delayed_request_more).
func TestChildRekeyCollisionDelayedRequest(t *testing.T) {
	for _, later := range []bool{false, true} {
		t.Run(fmt.Sprintf("after the delete %v", later), func(t *testing.T) {
			a, b, clock := established(t, nil)
			old := children(a)[0]
			if err := a.sa.RekeyChild("net"); err != nil {
				t.Fatal(err)
			}
			reqA := hold(t, a) // delayed
			if err := b.sa.RekeyChild("net"); err != nil {
				t.Fatal(err)
			}
			// <-- CREATE_CHILD_SA { N(REKEY_SA), SA, Ni, TSi, TSr }
			mB := step(t, b, a)
			bInB := proposalSPI(t, mB)
			// CREATE_CHILD_SA { SA, Nr, TSi, TSr } -->
			aInB := proposalSPI(t, step(t, a, b))
			delB := hold(t, b) // <-- INFORMATIONAL { D(old) }
			want := message.NotifyTemporaryFailure
			if later {
				delB.deliverTo(t, a)
				step(t, a, b) // INFORMATIONAL { D } -->
				want = message.NotifyChildSANotFound
			}
			// CREATE_CHILD_SA { N(REKEY_SA), ... } --> (delayed)
			reqA.deliverTo(t, b)
			respA := hold(t, b)
			if !later {
				delB.deliverTo(t, a)
				step(t, a, b) // INFORMATIONAL { D } -->
			}
			// <-- CREATE_CHILD_SA { N(TEMPORARY_FAILURE or CHILD_SA_NOT_FOUND) }
			m := respA.deliverTo(t, a)
			if n := m.Notifies(); len(n) != 1 || n[0].NotifyType != want {
				t.Fatalf("answer %v, want %v", m, want)
			}
			assertSAs(t, a, []uint32{aInB}, []uint32{bInB})
			assertPairs(t, a, b, 1)
			// No retry is scheduled: the SA was rekeyed by b.
			clock.Advance(time.Minute)
			if a.pending() != 0 || b.pending() != 0 {
				t.Fatal("a retried")
			}
			if old.InboundSPI == aInB {
				t.Fatal("SPI reused")
			}
		})
	}
}

// TestChildRekeyLostResponse: the CREATE_CHILD_SA response is lost, the
// initiator retransmits its request, and the responder answers from its
// cache without making another SA.
func TestChildRekeyLostResponse(t *testing.T) {
	i, r, clock := established(t, nil)
	if err := i.sa.RekeyChild("net"); err != nil {
		t.Fatal(err)
	}
	req := hold(t, i)
	req.deliverTo(t, r) // CREATE_CHILD_SA { N(REKEY_SA), SA, Ni, TSi, TSr } -->
	lost := hold(t, r)  // <-- CREATE_CHILD_SA { SA, Nr, TSi, TSr }, lost
	calls := len(r.recorder.Calls())
	clock.Advance(4 * time.Second)
	again := hold(t, i) // CREATE_CHILD_SA retransmitted
	if !bytes.Equal(again.b, req.b) {
		t.Fatal("the retransmission differs")
	}
	again.deliverTo(t, r)
	cached := hold(t, r) // <-- CREATE_CHILD_SA from the cache
	if !bytes.Equal(cached.b, lost.b) || len(r.recorder.Calls()) != calls {
		t.Fatal("the responder did not answer from its cache")
	}
	// The request duplicated once more on the way: answered from the
	// cache too.
	req.deliverTo(t, r)
	hold(t, r)
	cached.deliverTo(t, i)
	step(t, i, r) // INFORMATIONAL { D } -->
	// <-- INFORMATIONAL { D }, lost, then the Delete retransmitted and
	// answered from the cache.
	hold(t, r)
	clock.Advance(4 * time.Second)
	step(t, i, r)
	step(t, r, i)
	assertPairs(t, i, r, 1)
	clock.Advance(10 * time.Minute)
	if i.pending() != 0 || r.pending() != 0 {
		t.Error("retransmissions after the exchanges were over")
	}
}

// TestChildRekeyCollisionDelayedResponse: as TestChildRekeyCollision, but
// b settles the collision and sends its Delete before a gets the answer to
// its own request (strongSwan's test_collision_delayed_response).
func TestChildRekeyCollisionDelayedResponse(t *testing.T) {
	for k, nonces := range collisionNonces {
		aLoses := k%2 == 0
		t.Run(fmt.Sprintf("lowest nonce %d", k+1), func(t *testing.T) {
			a, b, _ := established(t, nil)
			setNonce(a, nonces[0])
			if err := a.sa.RekeyChild("net"); err != nil {
				t.Fatal(err)
			}
			reqA := hold(t, a)
			setNonce(b, nonces[1])
			if err := b.sa.RekeyChild("net"); err != nil {
				t.Fatal(err)
			}
			reqB := hold(t, b)
			setNonce(b, nonces[2])
			mA := reqA.deliverTo(t, b)
			respA := hold(t, b) // delayed
			setNonce(a, nonces[3])
			reqB.deliverTo(t, a)
			respB := hold(t, a)
			aInA, bInA := proposalSPI(t, mA), proposalSPI(t, open(t, a, respA.b))
			aInB := proposalSPI(t, open(t, b, respB.b))
			respB.deliverTo(t, b) // CREATE_CHILD_SA { SA, Nr, TSi, TSr } --> b settles
			step(t, b, a)         // <-- INFORMATIONAL { D }: the old SA or b's redundant one
			step(t, a, b)         // INFORMATIONAL { D } -->
			respA.deliverTo(t, a) // <-- CREATE_CHILD_SA { SA, Nr, TSi, TSr } (delayed): a settles
			step(t, a, b)         // INFORMATIONAL { D } -->: a's redundant SA or the old one
			step(t, b, a)         // <-- INFORMATIONAL { D }
			assertPairs(t, a, b, 1)
			if aLoses {
				if got := spis(a, installer.Inbound); !slices.Equal(got, []uint32{aInB}) {
					t.Errorf("a kept %08x, want B's %08x", got, aInB)
				}
			} else {
				assertSAs(t, a, []uint32{aInA}, []uint32{bInA})
			}
			if a.pending() != 0 || b.pending() != 0 {
				t.Error("more messages")
			}
		})
	}
}

// TestChildRekeyPeerLostSA: the peer answers a rekey with
// CHILD_SA_NOT_FOUND because it lost the SA; ours is useless, so it goes
// and the child is created afresh.
func TestChildRekeyPeerLostSA(t *testing.T) {
	i, r, _ := established(t, nil)
	r.sa.mu.Lock()
	r.sa.removeChild(r.sa.children[0])
	r.sa.mu.Unlock()
	if err := i.sa.RekeyChild("net"); err != nil {
		t.Fatal(err)
	}
	step(t, i, r) // CREATE_CHILD_SA { N(REKEY_SA), SA, Ni, TSi, TSr } -->
	// <-- CREATE_CHILD_SA { N(CHILD_SA_NOT_FOUND) }
	assertPayloads(t, step(t, r, i), message.ExchangeCreateChildSA, true, message.NotifyChildSANotFound)
	assertSAs(t, i, nil, nil)
	// CREATE_CHILD_SA { SA, Ni, TSi, TSr } -->, without REKEY_SA
	m := step(t, i, r)
	if m.Notify(message.NotifyRekeySA) != nil {
		t.Fatal("the new CHILD_SA is a rekey")
	}
	step(t, r, i)
	assertPairs(t, i, r, 1)
}

// The old inbound SA of a rekeyed CHILD_SA outlives its Delete by
// RekeyedInboundDelay, so the peer's packets still in flight on it arrive;
// the old outbound SA goes at once.
func TestRekeyedInboundKept(t *testing.T) {
	i, r, clock := established(t, func(ci, cr *Config) {
		ci.RekeyedInboundDelay, cr.RekeyedInboundDelay = 5*time.Second, 5*time.Second
	})
	oldI, oldR := children(i)[0], children(r)[0]
	if err := i.sa.RekeyChild("net"); err != nil {
		t.Fatal(err)
	}
	step(t, i, r) // CREATE_CHILD_SA request {N(REKEY_SA), SA, Ni, TSi, TSr}
	step(t, r, i) // CREATE_CHILD_SA response
	step(t, i, r) // INFORMATIONAL request {D(old)}
	step(t, r, i) // INFORMATIONAL response {D(old)}
	newI, newR := children(i)[0], children(r)[0]
	assertSAs(t, i, sorted(oldI.InboundSPI, newI.InboundSPI), []uint32{newI.OutboundSPI})
	assertSAs(t, r, sorted(oldR.InboundSPI, newR.InboundSPI), []uint32{newR.OutboundSPI})
	clock.Advance(5 * time.Second)
	assertSAs(t, i, []uint32{newI.InboundSPI}, []uint32{newI.OutboundSPI})
	assertSAs(t, r, []uint32{newR.InboundSPI}, []uint32{newR.OutboundSPI})
}
