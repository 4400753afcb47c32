package ike

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/espd/espd/esp/installer"
	"github.com/espd/espd/ike/message"
)

// completeChildRekey runs the rest of a CHILD_SA rekey that a started.
func completeChildRekey(t *testing.T, a, b *peer) {
	t.Helper()
	step(t, a, b) // CREATE_CHILD_SA { N(REKEY_SA), SA, Ni, TSi, TSr } -->
	step(t, b, a) // <-- CREATE_CHILD_SA { SA, Nr, TSi, TSr }
	step(t, a, b) // INFORMATIONAL { D } -->
	step(t, b, a) // <-- INFORMATIONAL { D }
	assertPairs(t, a, b, 1)
}

func TestChildRekeyTime(t *testing.T) {
	var asked []time.Duration
	i, r, clock := established(t, func(ci, cr *Config) {
		ci.Children[0].RekeyTime, ci.Children[0].LifeTime = time.Hour, 90*time.Minute
		ci.Jitter = func(max time.Duration) time.Duration { asked = append(asked, max); return max / 2 }
		cr.Children[0].RekeyTime = 2 * time.Hour
	})
	// strongSwan's rand_time: up to life_time - rekey_time earlier.
	if !slices.Equal(asked, []time.Duration{30 * time.Minute}) {
		t.Fatalf("jitter asked for %v", asked)
	}
	start := clock.Now()
	if at := i.sa.Status().Children[0].RekeyAt; !at.Equal(start.Add(45 * time.Minute)) {
		t.Fatalf("rekey at %v", at.Sub(start))
	}
	clock.Advance(45*time.Minute - time.Second)
	if i.pending() != 0 {
		t.Fatal("rekeyed early")
	}
	clock.Advance(time.Second)
	completeChildRekey(t, i, r)
	// The new CHILD_SA has lifetimes of its own.
	if at := i.sa.Status().Children[0].RekeyAt; !at.Equal(clock.Now().Add(45 * time.Minute)) {
		t.Errorf("next rekey at %v", at.Sub(clock.Now()))
	}
	clock.Advance(45 * time.Minute)
	completeChildRekey(t, i, r)
}

func TestChildLifeTime(t *testing.T) {
	i, r, clock := established(t, func(ci, cr *Config) {
		ci.Children[0].LifeTime = time.Hour
	})
	c := children(i)[0]
	clock.Advance(time.Hour)
	// The hard lifetime stops sending at once and deletes the pair.
	assertSAs(t, i, []uint32{c.InboundSPI}, nil)
	m := step(t, i, r) // INFORMATIONAL { D } -->
	if got := deleted(m); !slices.Equal(got, []uint32{c.InboundSPI}) {
		t.Fatalf("Delete of %08x", got)
	}
	step(t, r, i) // <-- INFORMATIONAL { D }
	assertSAs(t, i, nil, nil)
	assertSAs(t, r, nil, nil)
}

func TestIKERekeyTime(t *testing.T) {
	i, r, clock := established(t, func(ci, cr *Config) {
		ci.RekeyTime = 4 * time.Hour
	})
	start := clock.Now()
	if at := i.sa.Status().RekeyAt; !at.Equal(start.Add(4 * time.Hour)) {
		t.Fatalf("rekey at %v", at.Sub(start))
	}
	clock.Advance(4 * time.Hour)
	old := i.sa
	// CREATE_CHILD_SA { SA, Ni, KEi } -->
	assertPayloads(t, step(t, i, r), message.ExchangeCreateChildSA, false, message.PayloadSA, message.PayloadNonce, message.PayloadKE)
	step(t, r, i) // <-- CREATE_CHILD_SA { SA, Nr, KEr }
	step(t, i, r) // INFORMATIONAL { D } -->
	step(t, r, i) // <-- INFORMATIONAL { }
	if i.sa == old || old.State() != StateDestroyed {
		t.Fatal("not rekeyed")
	}
	// The new SA rekeys after RekeyTime too.
	if at := i.sa.Status().RekeyAt; !at.Equal(clock.Now().Add(4 * time.Hour)) {
		t.Errorf("next rekey at %v", at.Sub(clock.Now()))
	}
}

func TestHandleEvent(t *testing.T) {
	t.Run("soft", func(t *testing.T) {
		i, r, _ := established(t, nil)
		c := children(i)[0]
		if i.sa.HandleEvent(DataplaneEvent{Kind: SoftExpired, SPI: c.OutboundSPI, Dir: installer.Inbound}) {
			t.Fatal("claimed an SPI in the wrong direction")
		}
		if !i.sa.HandleEvent(DataplaneEvent{Kind: SoftExpired, SPI: c.InboundSPI, Dir: installer.Inbound}) {
			t.Fatal("did not claim its SA")
		}
		// A second report while the rekey runs changes nothing.
		if !i.sa.HandleEvent(DataplaneEvent{Kind: SeqNearWrap, SPI: c.OutboundSPI, Dir: installer.Outbound}) {
			t.Fatal("did not claim its SA")
		}
		completeChildRekey(t, i, r)
		if i.pending() != 0 {
			t.Fatal("rekeyed twice")
		}
		if i.sa.HandleEvent(DataplaneEvent{Kind: SoftExpired, SPI: c.InboundSPI, Dir: installer.Inbound}) {
			t.Error("claimed the deleted SA")
		}
	})
	t.Run("seq near wrap", func(t *testing.T) {
		i, r, _ := established(t, nil)
		c := children(r)[0]
		if !r.sa.HandleEvent(DataplaneEvent{Kind: SeqNearWrap, SPI: c.OutboundSPI, Dir: installer.Outbound}) {
			t.Fatal("did not claim its SA")
		}
		completeChildRekey(t, r, i)
	})
	t.Run("hard", func(t *testing.T) {
		i, r, _ := established(t, nil)
		c := children(r)[0]
		if !r.sa.HandleEvent(DataplaneEvent{Kind: HardExpired, SPI: c.OutboundSPI, Dir: installer.Outbound}) {
			t.Fatal("did not claim its SA")
		}
		assertSAs(t, r, []uint32{c.InboundSPI}, nil)
		step(t, r, i) // <-- INFORMATIONAL { D }
		step(t, i, r) // INFORMATIONAL { D } -->
		assertSAs(t, i, nil, nil)
		assertSAs(t, r, nil, nil)
	})
	t.Run("limits", func(t *testing.T) {
		i, _, _ := established(t, func(ci, cr *Config) {
			ci.Children[0].RekeyBytes, ci.Children[0].RekeyPackets = 1<<30, 1<<20
		})
		for _, sa := range append(i.recorder.Installed(installer.Inbound), i.recorder.Installed(installer.Outbound)...) {
			want := installer.Lifetime{
				Soft: installer.Limits{Bytes: 1 << 30, Packets: 1 << 20},
				Hard: installer.Limits{Bytes: 1<<30 + 1<<30/10, Packets: 1<<20 + 1<<20/10},
			}
			if sa.Lifetime != want {
				t.Errorf("SA %08x lifetime %+v", sa.SPI, sa.Lifetime)
			}
		}
	})
}

// TestResponderIgnoresSoftExpiry: while the responder of a rekey waits for
// the Delete of the old SA, that SA's soft expiry starts nothing; its hard
// expiry hands over to the new SA (strongSwan's
// test_regular_responder_ignore_soft_expire and _handle_hard_expire).
func TestResponderIgnoresSoftExpiry(t *testing.T) {
	i, r, _ := established(t, nil)
	old := children(r)[0]
	if err := i.sa.RekeyChild("net"); err != nil {
		t.Fatal(err)
	}
	req := step(t, i, r) // CREATE_CHILD_SA { N(REKEY_SA), SA, Ni, TSi, TSr } -->
	resp := hold(t, r)
	r.sa.HandleEvent(DataplaneEvent{Kind: SoftExpired, SPI: old.InboundSPI, Dir: installer.Inbound})
	if r.pending() != 0 {
		t.Fatal("the responder rekeyed the replaced SA")
	}
	// Hard expiry: the held-back outbound SA goes in, the old one out,
	// and the responder deletes the old SA itself.
	r.sa.HandleEvent(DataplaneEvent{Kind: HardExpired, SPI: old.InboundSPI, Dir: installer.Inbound})
	newI := proposalSPI(t, req)
	assertSAs(t, r, []uint32{old.InboundSPI, proposalSPI(t, open(t, i, resp.b))}, []uint32{newI})
	delR := hold(t, r)   // <-- INFORMATIONAL { D(old) }
	resp.deliverTo(t, i) // <-- CREATE_CHILD_SA { SA, Nr, TSi, TSr }
	delI := hold(t, i)   // INFORMATIONAL { D(old) } -->
	delR.deliverTo(t, i)
	delI.deliverTo(t, r)
	step(t, i, r) // the answers
	step(t, r, i)
	assertPairs(t, i, r, 1)
}

func TestDPD(t *testing.T) {
	i, r, clock := established(t, func(ci, cr *Config) {
		ci.DPDDelay = 30 * time.Second
		ci.Children[0].DPDAction = ActionStart
	})
	sa := i.sa
	clock.Advance(30*time.Second - time.Millisecond)
	if i.pending() != 0 {
		t.Fatal("DPD early")
	}
	clock.Advance(time.Millisecond)
	// INFORMATIONAL { } --> (liveness check)
	assertPayloads(t, step(t, i, r), message.ExchangeInformational, false)
	assertPayloads(t, step(t, r, i), message.ExchangeInformational, true)
	// ESP from the peer counts as a sign of life: no check while it flows.
	c := children(i)[0]
	for range 3 {
		clock.Advance(20 * time.Second)
		i.recorder.SetStats(c.InboundSPI, installer.Inbound, installer.Stats{LastUse: clock.Now()})
	}
	if i.pending() != 0 {
		t.Fatal("DPD despite traffic")
	}
	// So does any request from the peer.
	if err := r.sa.RekeyChild("net"); err != nil {
		t.Fatal(err)
	}
	completeChildRekey(t, r, i)
	clock.Advance(29 * time.Second)
	if i.pending() != 0 {
		t.Fatal("DPD despite the peer's requests")
	}
	// Now the peer is gone: the check goes unanswered.
	clock.Advance(time.Second)
	for k := 0; k <= DefaultRetransmit.Tries; k++ {
		hold(t, i)
		clock.Advance(time.Duration(float64(DefaultRetransmit.Timeout) * pow(DefaultRetransmit.Base, k)))
	}
	if sa.State() != StateDestroyed || !errors.Is(sa.Err(), ErrTimeout) {
		t.Fatalf("%v, %v", sa.State(), sa.Err())
	}
	if _, destroyed := i.observed(); len(destroyed) != 1 || destroyed[0] != sa {
		t.Fatalf("Destroyed %v", destroyed)
	}
	if got := sa.RestartChildren(); !slices.Equal(got, []string{"net"}) {
		t.Errorf("restart %v", got)
	}
	assertSAs(t, i, nil, nil)
	if i.pending() != 0 || clock.Pending() != 0 {
		t.Errorf("after the timeout: %d sent, %d timers", i.pending(), clock.Pending())
	}
}

func TestDPDClear(t *testing.T) {
	i, _, clock := established(t, func(ci, cr *Config) {
		ci.DPDDelay = 10 * time.Second
	})
	clock.Advance(10 * time.Second)
	for k := 0; k <= DefaultRetransmit.Tries; k++ {
		hold(t, i)
		clock.Advance(time.Duration(float64(DefaultRetransmit.Timeout) * pow(DefaultRetransmit.Base, k)))
	}
	if !errors.Is(i.sa.Err(), ErrTimeout) || len(i.sa.RestartChildren()) != 0 {
		t.Fatalf("%v, restart %v", i.sa.Err(), i.sa.RestartChildren())
	}
}
