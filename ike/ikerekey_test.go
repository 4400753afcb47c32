package ike

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/espd/espd/esp/installer"
	"github.com/espd/espd/ike/message"
)

// The IKE SA rekey tests follow strongSwan's test_ike_rekey.c.

func (p *peer) observed() (rekeyed [][2]*IKESA, destroyed []*IKESA) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.rekeyed), slices.Clone(p.destroyed)
}

// live lists the peer's SAs that are not destroyed.
func (p *peer) live() []*IKESA {
	p.mu.Lock()
	sas := slices.Clone(p.sas)
	p.mu.Unlock()
	var out []*IKESA
	for _, sa := range sas {
		if sa.State() != StateDestroyed {
			out = append(out, sa)
		}
	}
	return out
}

func TestIKERekey(t *testing.T) {
	for _, byResponder := range []bool{false, true} {
		t.Run(fmt.Sprintf("by responder %v", byResponder), func(t *testing.T) {
			i, r, clock := established(t, nil)
			a, b := roles(i, r, byResponder)
			oldA, oldB := a.sa, b.sa
			inA, outA := spis(a, installer.Inbound), spis(a, installer.Outbound)
			if err := a.sa.RekeyIKE(); err != nil {
				t.Fatal(err)
			}
			if s := oldA.State(); s != StateRekeying {
				t.Fatalf("a: %v", s)
			}
			// CREATE_CHILD_SA { SA, Ni, KEi } -->
			req := step(t, a, b)
			assertPayloads(t, req, message.ExchangeCreateChildSA, false, message.PayloadSA, message.PayloadNonce, message.PayloadKE)
			if p := req.Find(message.PayloadSA).(*message.SA).Proposals[0]; p.Protocol != message.ProtocolIKE || len(p.SPI) != 8 {
				t.Fatalf("proposal %v with SPI %x", p, p.SPI)
			}
			// b has the new SA, established with the CHILD_SA; the old
			// one waits for a's Delete.
			rekeyed, _ := b.observed()
			if len(rekeyed) != 1 || rekeyed[0][0] != oldB {
				t.Fatalf("b: Rekeyed %v", rekeyed)
			}
			newB := rekeyed[0][1]
			if newB.State() != StateEstablished || len(newB.Children()) != 1 || len(oldB.Children()) != 0 || oldB.State() != StateRekeyed {
				t.Fatalf("b: new %v with %d children, old %v with %d", newB.State(), len(newB.Children()), oldB.State(), len(oldB.Children()))
			}
			// <-- CREATE_CHILD_SA { SA, Nr, KEr }
			resp := step(t, b, a)
			assertPayloads(t, resp, message.ExchangeCreateChildSA, true, message.PayloadSA, message.PayloadNonce, message.PayloadKE)
			rekeyed, _ = a.observed()
			if len(rekeyed) != 1 || rekeyed[0][0] != oldA {
				t.Fatalf("a: Rekeyed %v", rekeyed)
			}
			newA := rekeyed[0][1]
			if newA.State() != StateEstablished || len(newA.Children()) != 1 || len(oldA.Children()) != 0 || oldA.State() != StateDeleting {
				t.Fatalf("a: new %v with %d children, old %v with %d", newA.State(), len(newA.Children()), oldA.State(), len(oldA.Children()))
			}
			iA, rA := newA.SPIs()
			iB, rB := newB.SPIs()
			oI, oR := oldA.SPIs()
			if iA != iB || rA != rB || iA == oI || rA == oR {
				t.Fatalf("new SPIs %x/%x and %x/%x, old %x/%x", iA, rA, iB, rB, oI, oR)
			}
			// The rekey's initiator is the new SA's original initiator
			// (RFC 7296 §2.18), and routes by its own SPI.
			if !newA.Initiator() || newB.Initiator() || newA.LocalSPI() != iA || newB.LocalSPI() != rB {
				t.Fatal("roles in the new SA")
			}
			// INFORMATIONAL { D } --> on the old SA
			del := step(t, a, b)
			assertPayloads(t, del, message.ExchangeInformational, false, message.PayloadDelete)
			if _, destroyed := b.observed(); len(destroyed) != 1 || destroyed[0] != oldB || oldB.Err() != nil {
				t.Fatalf("b: Destroyed %v, %v", destroyed, oldB.Err())
			}
			// <-- INFORMATIONAL { }
			ans := step(t, b, a)
			assertPayloads(t, ans, message.ExchangeInformational, true)
			if _, destroyed := a.observed(); len(destroyed) != 1 || destroyed[0] != oldA || oldA.Err() != nil {
				t.Fatalf("a: Destroyed %v, %v", destroyed, oldA.Err())
			}
			// The CHILD_SA never moved in the data plane.
			assertSAs(t, a, inA, outA)
			assertPairs(t, i, r, 1)
			if a.sa != newA || b.sa != newB {
				t.Fatal("the peers do not route to the new SAs")
			}
			// The new SA counts messages from 0, and carries exchanges.
			rekeyChild(t, b, a, false)
			if newA.tm.responding.messageID != 2 || newB.tm.initiating.messageID != 2 {
				t.Errorf("message IDs %d and %d", newA.tm.responding.messageID, newB.tm.initiating.messageID)
			}
			clock.Advance(time.Hour)
			if a.pending() != 0 || b.pending() != 0 || newA.State() != StateEstablished {
				t.Error("something happened after the rekey")
			}
		})
	}
}

// TestIKERekeyInvalidKE: the responder now prefers another group; the
// initiator retries with it in a new exchange.
func TestIKERekeyInvalidKE(t *testing.T) {
	i, r, _ := established(t, func(ci, cr *Config) {
		ci.Proposals = []string{"aes128gcm16-prfsha256-x25519", "aes128gcm16-prfsha256-ecp256"}
		cr.Proposals = []string{"aes128gcm16-prfsha256-x25519", "aes128gcm16-prfsha256-ecp256"}
	})
	// As after a reload, the responder prefers ECP-256.
	suites := r.sa.conn.ikeSuites
	suites[0], suites[1] = suites[1], suites[0]
	if err := i.sa.RekeyIKE(); err != nil {
		t.Fatal(err)
	}
	req := step(t, i, r) // CREATE_CHILD_SA { SA, Ni, KEi(x25519) } -->
	if g := req.Find(message.PayloadKE).(*message.KE).Group; g != 31 {
		t.Fatalf("KE group %d", g)
	}
	// <-- CREATE_CHILD_SA { N(INVALID_KE_PAYLOAD(19)) }
	assertPayloads(t, step(t, r, i), message.ExchangeCreateChildSA, true, message.NotifyInvalidKEPayload)
	if rekeyed, _ := r.observed(); len(rekeyed) != 0 {
		t.Fatal("responder rekeyed")
	}
	req = step(t, i, r) // CREATE_CHILD_SA { SA, Ni, KEi(ecp256) } -->
	if g := req.Find(message.PayloadKE).(*message.KE).Group; g != 19 || req.Header.MessageID != 3 {
		t.Fatalf("retry: KE group %d, message ID %d", g, req.Header.MessageID)
	}
	step(t, r, i) // <-- CREATE_CHILD_SA { SA, Nr, KEr }
	step(t, i, r) // INFORMATIONAL { D } -->
	step(t, r, i) // <-- INFORMATIONAL { }
	for _, p := range []*peer{i, r} {
		if live := p.live(); len(live) != 1 || live[0].Status().Suite != "aes128gcm16-prfsha256-ecp256" {
			t.Errorf("%s: %d live SAs", p.name, len(live))
		}
	}
	assertPairs(t, i, r, 1)
}

// TestIKERekeyCollision: both peers rekey the IKE SA at once. The new SA
// made with the lowest nonce is deleted by the peer that initiated it, the
// old one by the other peer (RFC 7296 §2.8.2); nonces as in strongSwan's
// test_collision.
func TestIKERekeyCollision(t *testing.T) {
	for k, nonces := range collisionNonces {
		aLoses := k%2 == 0
		t.Run(fmt.Sprintf("lowest nonce %d", k+1), func(t *testing.T) {
			a, b, clock := established(t, nil)
			oldA, oldB := a.sa, b.sa
			inA, outA := spis(a, installer.Inbound), spis(a, installer.Outbound)
			setNonce(a, nonces[0])
			if err := a.sa.RekeyIKE(); err != nil {
				t.Fatal(err)
			}
			reqA := hold(t, a)
			setNonce(b, nonces[1])
			if err := b.sa.RekeyIKE(); err != nil {
				t.Fatal(err)
			}
			reqB := hold(t, b)
			// CREATE_CHILD_SA { SA, Ni, KEi } --> (a's)
			setNonce(b, nonces[2])
			reqA.deliverTo(t, b)
			respA := hold(t, b)
			// <-- CREATE_CHILD_SA { SA, Ni, KEi } (b's)
			setNonce(a, nonces[3])
			reqB.deliverTo(t, a)
			respB := hold(t, a)
			// Neither has settled anything yet.
			for _, p := range []*peer{a, b} {
				if rekeyed, _ := p.observed(); len(rekeyed) != 0 || p.sa.State() != StateRekeying || len(p.sa.Children()) != 1 {
					t.Fatalf("%s: %v, Rekeyed %v", p.name, p.sa.State(), rekeyed)
				}
			}
			// <-- CREATE_CHILD_SA { SA, Nr, KEr } (answer to a)
			respA.deliverTo(t, a)
			// CREATE_CHILD_SA { SA, Nr, KEr } --> (answer to b)
			respB.deliverTo(t, b)
			loser, winner := a, b
			if !aLoses {
				loser, winner = b, a
			}
			// Each heard of both new SAs, the redundant one first.
			for _, p := range []*peer{a, b} {
				rekeyed, _ := p.observed()
				if len(rekeyed) != 2 {
					t.Fatalf("%s: Rekeyed %d times", p.name, len(rekeyed))
				}
				redundant, survivor := rekeyed[0][1], rekeyed[1][1]
				if survivor.State() != StateEstablished || len(survivor.Children()) != 1 || p.sa != survivor {
					t.Errorf("%s: survivor %v with %d children", p.name, survivor.State(), len(survivor.Children()))
				}
				// The survivor is the winner's SA: the winner initiated it.
				if survivor.Initiator() != (p == winner) {
					t.Errorf("%s: the survivor is not the winner's", p.name)
				}
				wantRedundant, wantOld := StateRekeyed, StateDeleting
				if p == loser {
					wantRedundant, wantOld = StateDeleting, StateRekeyed
				}
				old := oldA
				if p == b {
					old = oldB
				}
				if redundant.State() != wantRedundant || old.State() != wantOld || len(old.Children()) != 0 {
					t.Errorf("%s: redundant %v, old %v", p.name, redundant.State(), old.State())
				}
			}
			// INFORMATIONAL { D } --> and <-- INFORMATIONAL { D }: the
			// loser deletes its redundant SA, the winner the old one.
			delA, delB := hold(t, a), hold(t, b)
			delA.deliverTo(t, b)
			ansB := hold(t, b)
			delB.deliverTo(t, a)
			ansA := hold(t, a)
			ansB.deliverTo(t, a)
			ansA.deliverTo(t, b)
			for _, p := range []*peer{a, b} {
				live := p.live()
				if len(live) != 1 || live[0] != p.sa || len(live[0].Children()) != 1 {
					t.Fatalf("%s: %d live SAs", p.name, len(live))
				}
				if _, destroyed := p.observed(); len(destroyed) != 2 {
					t.Errorf("%s: %d destroyed", p.name, len(destroyed))
				}
			}
			ia, ra := a.sa.SPIs()
			ib, rb := b.sa.SPIs()
			if ia != ib || ra != rb {
				t.Fatalf("the peers kept different SAs: %x/%x and %x/%x", ia, ra, ib, rb)
			}
			assertSAs(t, a, inA, outA)
			assertPairs(t, a, b, 1)
			rekeyChild(t, winner, loser, false)
			clock.Advance(time.Hour)
			if a.pending() != 0 || b.pending() != 0 || a.sa.State() != StateEstablished || b.sa.State() != StateEstablished {
				t.Error("something happened after the rekey")
			}
		})
	}
}

// TestIKERekeyCollisionDelayedResponse: the loser's own response comes
// only after the winner deleted the old SA: the loser goes on with the
// winner's SA, which it answered (strongSwan's conclude_collision).
func TestIKERekeyCollisionDelayedResponse(t *testing.T) {
	a, b, _ := established(t, nil)
	setNonce(a, 0x00) // a's exchange has the lowest nonce: a loses
	if err := a.sa.RekeyIKE(); err != nil {
		t.Fatal(err)
	}
	reqA := hold(t, a)
	setNonce(a, 0xff)
	setNonce(b, 0xff)
	if err := b.sa.RekeyIKE(); err != nil {
		t.Fatal(err)
	}
	reqB := hold(t, b)
	reqA.deliverTo(t, b)
	respA := hold(t, b) // delayed
	reqB.deliverTo(t, a)
	step(t, a, b) // CREATE_CHILD_SA { SA, Nr, KEr } --> b wins, deletes the old SA
	step(t, b, a) // <-- INFORMATIONAL { D } on the old SA
	step(t, a, b) // INFORMATIONAL { } -->
	if live := a.live(); len(live) != 1 || len(live[0].Children()) != 1 || live[0].Initiator() {
		t.Fatalf("a: %d live SAs", len(a.live()))
	}
	if err := a.route(t, respA.b).HandleDatagram(respA.b, respA.from, respA.to); err == nil {
		t.Error("the delayed response was accepted by a destroyed SA")
	}
	ia, ra := a.sa.SPIs()
	ib, rb := b.sa.SPIs()
	if ia != ib || ra != rb {
		t.Fatal("the peers kept different SAs")
	}
	assertPairs(t, a, b, 1)
}

// TestTemporaryFailure: RFC 7296 §2.25. A CHILD_SA rekey while the IKE SA
// is being rekeyed is refused with TEMPORARY_FAILURE, and tried again 15 s
// later on the new IKE SA; an IKE SA rekey while a CHILD_SA exchange is
// out, likewise.
func TestTemporaryFailure(t *testing.T) {
	t.Run("child rekey during IKE rekey", func(t *testing.T) {
		i, r, clock := established(t, nil)
		if err := i.sa.RekeyIKE(); err != nil {
			t.Fatal(err)
		}
		reqI := hold(t, i)
		if err := r.sa.RekeyChild("net"); err != nil {
			t.Fatal(err)
		}
		step(t, r, i) // <-- CREATE_CHILD_SA { N(REKEY_SA), ... }
		// CREATE_CHILD_SA { N(TEMPORARY_FAILURE) } -->
		assertPayloads(t, step(t, i, r), message.ExchangeCreateChildSA, true, message.NotifyTemporaryFailure)
		reqI.deliverTo(t, r) // CREATE_CHILD_SA { SA, Ni, KEi } -->
		step(t, r, i)        // <-- CREATE_CHILD_SA { SA, Nr, KEr }
		step(t, i, r)        // INFORMATIONAL { D } -->
		step(t, r, i)        // <-- INFORMATIONAL { }
		clock.Advance(rekeyRetry - time.Second)
		if r.pending() != 0 {
			t.Fatal("retried early")
		}
		clock.Advance(time.Second)
		// <-- CREATE_CHILD_SA { N(REKEY_SA), ... } on the new IKE SA
		if m := step(t, r, i); m.Notify(message.NotifyRekeySA) == nil || m.Header.MessageID != 0 {
			t.Fatalf("retry %v", m)
		}
		step(t, i, r)
		step(t, r, i)
		step(t, i, r)
		assertPairs(t, i, r, 1)
	})
	t.Run("IKE rekey during child rekey", func(t *testing.T) {
		i, r, clock := established(t, nil)
		if err := i.sa.RekeyChild("net"); err != nil {
			t.Fatal(err)
		}
		reqI := hold(t, i)
		if err := r.sa.RekeyIKE(); err != nil {
			t.Fatal(err)
		}
		step(t, r, i) // <-- CREATE_CHILD_SA { SA, Ni, KEi }
		// CREATE_CHILD_SA { N(TEMPORARY_FAILURE) } -->
		assertPayloads(t, step(t, i, r), message.ExchangeCreateChildSA, true, message.NotifyTemporaryFailure)
		if r.sa.State() != StateEstablished {
			t.Fatalf("responder %v", r.sa.State())
		}
		reqI.deliverTo(t, r)
		step(t, r, i) // <-- CREATE_CHILD_SA { SA, Nr, TSi, TSr }
		step(t, i, r) // INFORMATIONAL { D } -->
		step(t, r, i) // <-- INFORMATIONAL { D }
		clock.Advance(rekeyRetry)
		step(t, r, i) // <-- CREATE_CHILD_SA { SA, Ni, KEi }, the retry
		step(t, i, r)
		step(t, r, i)
		step(t, i, r)
		if rekeyed, _ := r.observed(); len(rekeyed) != 1 {
			t.Fatalf("Rekeyed %d times", len(rekeyed))
		}
		assertPairs(t, i, r, 1)
	})
}

func TestIKERekeyKeys(t *testing.T) {
	// Both sides derived the same keys for the new SA (or the exchanges
	// could not be read), and none is the old SA's.
	i, r, _ := established(t, nil)
	old := i.sa.keys
	if err := i.sa.RekeyIKE(); err != nil {
		t.Fatal(err)
	}
	step(t, i, r)
	step(t, r, i)
	if next := i.sa.keys; string(next.D) == string(old.D) || string(next.EI) == string(old.EI) || string(next.PI) == string(old.PI) {
		t.Error("the new SA reuses the old keys")
	}
	if string(i.sa.keys.D) != string(r.sa.keys.D) {
		t.Error("the peers derived different SK_d")
	}
}

// TestIKERekeyMovesQueuedExchanges: a CHILD_SA asked for while the IKE SA
// is being rekeyed is created on the new IKE SA, as its first exchange.
func TestIKERekeyMovesQueuedExchanges(t *testing.T) {
	i, r, _ := established(t, func(ci, cr *Config) {
		ci.Children = append(ci.Children, ChildConfig{Name: "db", ESPProposals: []string{"aes128gcm16"},
			LocalTS:  []netip.Prefix{netip.MustParsePrefix("198.18.3.0/24")},
			RemoteTS: []netip.Prefix{netip.MustParsePrefix("198.18.4.0/24")}})
		cr.Children = append(cr.Children, ChildConfig{Name: "db", ESPProposals: []string{"aes128gcm16"},
			LocalTS:  []netip.Prefix{netip.MustParsePrefix("198.18.4.0/24")},
			RemoteTS: []netip.Prefix{netip.MustParsePrefix("198.18.3.0/24")}})
	})
	old := i.sa
	if err := old.RekeyIKE(); err != nil {
		t.Fatal(err)
	}
	if err := old.StartChild("db"); err != nil {
		t.Fatal(err)
	}
	step(t, i, r) // CREATE_CHILD_SA { SA, Ni, KEi } -->
	step(t, r, i) // <-- CREATE_CHILD_SA { SA, Nr, KEr }
	sent := holdAll(t, i)
	if len(sent) != 2 {
		t.Fatalf("initiator sent %d datagrams", len(sent))
	}
	// INFORMATIONAL { D } --> on the old SA, then CREATE_CHILD_SA
	// { SA, Ni, TSi, TSr } --> on the new one, message ID 0.
	assertPayloads(t, sent[0].deliverTo(t, r), message.ExchangeInformational, false, message.PayloadDelete)
	if m := sent[1].deliverTo(t, r); m.Header.Exchange != message.ExchangeCreateChildSA || m.Header.MessageID != 0 {
		t.Fatalf("then %v", m)
	}
	sent = holdAll(t, r)
	if len(sent) != 2 {
		t.Fatalf("responder sent %d datagrams", len(sent))
	}
	for _, d := range sent {
		d.deliverTo(t, i)
	}
	assertPairs(t, i, r, 2)
	if old.State() != StateDestroyed || len(i.sa.Children()) != 2 {
		t.Fatalf("old %v, new SA with %d children", old.State(), len(i.sa.Children()))
	}
}

// TestIKERekeyedWithoutDelete: the rekey's initiator never deletes the old
// IKE SA; the responder destroys it once every retransmission of that
// Delete would have come.
func TestIKERekeyedWithoutDelete(t *testing.T) {
	i, r, clock := established(t, nil)
	old := r.sa
	if err := i.sa.RekeyIKE(); err != nil {
		t.Fatal(err)
	}
	step(t, i, r) // CREATE_CHILD_SA { SA, Ni, KEi } -->
	step(t, r, i) // <-- CREATE_CHILD_SA { SA, Nr, KEr }
	hold(t, i)    // INFORMATIONAL { D } --> lost, and the initiator is gone
	clock.Advance(DefaultRetransmit.total() - time.Second)
	if old.State() != StateRekeyed {
		t.Fatalf("old SA %v early", old.State())
	}
	clock.Advance(time.Second)
	if old.State() != StateDestroyed || old.Err() != nil || len(r.sa.Children()) != 1 {
		t.Fatalf("old SA %v (%v); new SA with %d children", old.State(), old.Err(), len(r.sa.Children()))
	}
	if _, destroyed := r.observed(); len(destroyed) != 1 || destroyed[0] != old {
		t.Fatalf("Destroyed %v", destroyed)
	}
	assertSAs(t, r, spis(r, installer.Inbound), spis(r, installer.Outbound))
	if n := len(r.recorder.Installed(installer.Inbound)); n != 1 {
		t.Errorf("%d inbound SAs", n)
	}
}
