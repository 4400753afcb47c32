package ike

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/espd/espd/ike/message"
)

// The delete tests follow strongSwan's test_child_delete.c and
// test_ike_delete.c.

func TestDeleteChild(t *testing.T) {
	for _, byResponder := range []bool{false, true} {
		t.Run(fmt.Sprintf("by responder %v", byResponder), func(t *testing.T) {
			i, r, _ := established(t, nil)
			a, b := roles(i, r, byResponder)
			c := children(a)[0]
			if err := a.sa.CloseChild("net"); err != nil {
				t.Fatal(err)
			}
			// INFORMATIONAL { D(ESP, a's inbound SPI) } -->
			m := step(t, a, b)
			assertPayloads(t, m, message.ExchangeInformational, false, message.PayloadDelete)
			if got := deleted(m); !slices.Equal(got, []uint32{c.InboundSPI}) {
				t.Fatalf("Delete of %08x", got)
			}
			assertSAs(t, b, nil, nil)
			// a stops nothing before the answer.
			assertSAs(t, a, []uint32{c.InboundSPI}, []uint32{c.OutboundSPI})
			// <-- INFORMATIONAL { D(ESP, b's inbound SPI) }
			if got := deleted(step(t, b, a)); !slices.Equal(got, []uint32{c.OutboundSPI}) {
				t.Fatalf("answer deletes %08x", got)
			}
			assertSAs(t, a, nil, nil)
			for _, p := range []*peer{a, b} {
				if p.sa.State() != StateEstablished || len(children(p)) != 0 {
					t.Errorf("%s: %v with %d children", p.name, p.sa.State(), len(children(p)))
				}
			}
			if err := a.sa.CloseChild("net"); !errors.Is(err, ErrNoSuchChild) {
				t.Errorf("second CloseChild: %v", err)
			}
		})
	}
}

// TestDeleteChildCollision: both peers delete the CHILD_SA at once. Each
// removes its outbound SA on the other's request and answers without it,
// and its inbound SA on its own answer (RFC 7296 §1.4.1).
func TestDeleteChildCollision(t *testing.T) {
	a, b, _ := established(t, nil)
	c := children(a)[0]
	if err := a.sa.CloseChild("net"); err != nil {
		t.Fatal(err)
	}
	if err := b.sa.CloseChild("net"); err != nil {
		t.Fatal(err)
	}
	delA, delB := hold(t, a), hold(t, b)
	delA.deliverTo(t, b) // INFORMATIONAL { D } -->
	assertSAs(t, b, []uint32{c.OutboundSPI}, nil)
	delB.deliverTo(t, a) // <-- INFORMATIONAL { D }
	assertSAs(t, a, []uint32{c.InboundSPI}, nil)
	// The answers are empty: each side is deleting the SA itself.
	assertPayloads(t, step(t, b, a), message.ExchangeInformational, true)
	assertPayloads(t, step(t, a, b), message.ExchangeInformational, true)
	assertSAs(t, a, nil, nil)
	assertSAs(t, b, nil, nil)
}

// TestDeleteChildCloseAction: the peer closes a CHILD_SA whose
// close_action is start, and it is set up again.
func TestDeleteChildCloseAction(t *testing.T) {
	i, r, _ := established(t, func(ci, cr *Config) {
		cr.Children[0].CloseAction = ActionStart
	})
	if err := i.sa.CloseChild("net"); err != nil {
		t.Fatal(err)
	}
	step(t, i, r) // INFORMATIONAL { D } -->
	sent := holdAll(t, r)
	if len(sent) != 2 {
		t.Fatalf("responder sent %d datagrams", len(sent))
	}
	sent[0].deliverTo(t, i) // <-- INFORMATIONAL { D }
	// <-- CREATE_CHILD_SA { SA, Ni, TSi, TSr }
	assertPayloads(t, sent[1].deliverTo(t, i), message.ExchangeCreateChildSA, false,
		message.PayloadSA, message.PayloadNonce, message.PayloadTSi, message.PayloadTSr)
	step(t, i, r) // CREATE_CHILD_SA { SA, Nr, TSi, TSr } -->
	assertPairs(t, i, r, 1)
}

func TestDeleteIKE(t *testing.T) {
	for _, byResponder := range []bool{false, true} {
		t.Run(fmt.Sprintf("by responder %v", byResponder), func(t *testing.T) {
			i, r, clock := established(t, func(ci, cr *Config) {
				for _, c := range []*Config{ci, cr} {
					c.Children[0].CloseAction = ActionStart
					c.DPDDelay = time.Minute
					c.RekeyTime = time.Hour
				}
			})
			a, b := roles(i, r, byResponder)
			saA, saB := a.sa, b.sa
			if err := a.sa.Close(); err != nil {
				t.Fatal(err)
			}
			if saA.State() != StateDeleting {
				t.Fatalf("a: %v", saA.State())
			}
			// INFORMATIONAL { D(IKE) } -->
			m := step(t, a, b)
			assertPayloads(t, m, message.ExchangeInformational, false, message.PayloadDelete)
			if d := m.Find(message.PayloadDelete).(*message.Delete); d.Protocol != message.ProtocolIKE {
				t.Fatalf("Delete for %v", d.Protocol)
			}
			if _, destroyed := b.observed(); len(destroyed) != 1 || destroyed[0] != saB || saB.Err() != nil {
				t.Fatalf("b: Destroyed %v, %v", destroyed, saB.Err())
			}
			assertSAs(t, b, nil, nil)
			// <-- INFORMATIONAL { }
			assertPayloads(t, step(t, b, a), message.ExchangeInformational, true)
			if _, destroyed := a.observed(); len(destroyed) != 1 || destroyed[0] != saA || saA.Err() != nil {
				t.Fatalf("a: Destroyed %v, %v", destroyed, saA.Err())
			}
			assertSAs(t, a, nil, nil)
			// The peer closed b's SA: its close_action start children
			// are for the owner to set up again; a closed its own.
			if got := saB.RestartChildren(); !slices.Equal(got, []string{"net"}) {
				t.Errorf("b restarts %v", got)
			}
			if got := saA.RestartChildren(); len(got) != 0 {
				t.Errorf("a restarts %v", got)
			}
			clock.Advance(24 * time.Hour)
			if a.pending() != 0 || b.pending() != 0 || clock.Pending() != 0 {
				t.Errorf("after the delete: %d and %d sent, %d timers", a.pending(), b.pending(), clock.Pending())
			}
		})
	}
}

// TestCloseWhenPeerGone: the peer never answers the Delete; after every
// retransmission the SA is destroyed all the same.
func TestCloseWhenPeerGone(t *testing.T) {
	i, _, clock := established(t, func(ci, cr *Config) {
		ci.Children[0].DPDAction = ActionStart
	})
	sa := i.sa
	if err := sa.Close(); err != nil {
		t.Fatal(err)
	}
	for k := 0; k <= DefaultRetransmit.Tries; k++ {
		hold(t, i) // INFORMATIONAL { D } --> lost, and each retransmission
		clock.Advance(time.Duration(float64(DefaultRetransmit.Timeout) * pow(DefaultRetransmit.Base, k)))
	}
	if sa.State() != StateDestroyed || !errors.Is(sa.Err(), ErrTimeout) {
		t.Fatalf("%v, %v", sa.State(), sa.Err())
	}
	if _, destroyed := i.observed(); len(destroyed) != 1 || destroyed[0] != sa {
		t.Fatalf("Destroyed %v", destroyed)
	}
	// We closed it: nothing restarts, whatever dpd_action says.
	if got := sa.RestartChildren(); len(got) != 0 {
		t.Errorf("restarts %v", got)
	}
	assertSAs(t, i, nil, nil)
}

func pow(b float64, n int) float64 { return math.Pow(b, float64(n)) }

func TestCloseBeforeEstablished(t *testing.T) {
	i, r, _ := newPair(t, nil)
	if err := i.sa.Initiate(); err != nil {
		t.Fatal(err)
	}
	deliver(t, i, r) // IKE_SA_INIT request
	deliver(t, r, i) // IKE_SA_INIT response
	i.take(t)        // IKE_AUTH request, never delivered
	if err := i.sa.Close(); err != nil {
		t.Fatal(err)
	}
	if i.sa.State() != StateDestroyed || i.pending() != 0 {
		t.Fatalf("%v, %d sent", i.sa.State(), i.pending())
	}
	if _, destroyed := i.observed(); len(destroyed) != 1 {
		t.Fatal("Observer not told")
	}
	r.sa.Destroy()
	if r.sa.State() != StateDestroyed || r.pending() != 0 {
		t.Fatalf("responder %v", r.sa.State())
	}
}

// TestDeleteIKECollision: both peers delete the IKE SA at once; each
// answers the other and is gone.
func TestDeleteIKECollision(t *testing.T) {
	a, b, _ := established(t, nil)
	saA, saB := a.sa, b.sa
	if err := saA.Close(); err != nil {
		t.Fatal(err)
	}
	if err := saB.Close(); err != nil {
		t.Fatal(err)
	}
	delA, delB := hold(t, a), hold(t, b)
	delA.deliverTo(t, b)
	delB.deliverTo(t, a)
	for _, sa := range []*IKESA{saA, saB} {
		if sa.State() != StateDestroyed || sa.Err() != nil {
			t.Errorf("%v, %v", sa.State(), sa.Err())
		}
	}
	assertSAs(t, a, nil, nil)
	assertSAs(t, b, nil, nil)
}
