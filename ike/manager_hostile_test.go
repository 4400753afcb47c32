package ike

import (
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/espd/espd/esp/installer/installertest"
)

// TestManagerSurvivesHostileInput throws mangled copies of a real
// negotiation, and a flood of IKE_SA_INITs from addresses that never
// answer, at a gateway that holds an established SA. Nothing may panic,
// the established SA must keep working, and every half-open SA must be gone
// once the half-open timeout has passed.
func TestManagerSurvivesHostileInput(t *testing.T) {
	clock := NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	gw, client, net := newManagedPair(t, func(g, c *ManagerConfig) { g.Clock, c.Clock = clock, clock })
	if err := client.m.Up(upCtx(t), "home"); err != nil {
		t.Fatal(err)
	}
	net.wg.Wait()
	established := gw.m.SAs()[0]
	installedBefore := len(gw.recorder.Calls())

	net.mu.Lock()
	captured := append([]sentDatagram(nil), net.sent...)
	net.mu.Unlock()
	from := netip.MustParseAddrPort("192.0.2.1:500")
	to := netip.MustParseAddrPort("198.51.100.1:500")
	rng := rand.New(rand.NewPCG(1, 2))
	deliver := func(b []byte, from netip.AddrPort) {
		// A panic fails the test with its stack; errors are expected.
		_ = gw.m.HandleDatagram(b, from, to)
	}

	for _, d := range captured {
		if d.to.Addr() != to.Addr() {
			continue // the gateway's own messages
		}
		for n := range len(d.data) {
			deliver(d.data[:n], from) // every truncation
		}
		for range 200 {
			b := append([]byte(nil), d.data...)
			for range 1 + rng.IntN(4) {
				b[rng.IntN(len(b))] ^= byte(1 + rng.IntN(255))
			}
			deliver(b, from)
		}
		// Trailing garbage: the header's length no longer matches.
		deliver(append(append([]byte(nil), d.data...), 0, 0, 0, 0), from)
	}
	for range 500 {
		junk := make([]byte, rng.IntN(600))
		for i := range junk {
			junk[i] = byte(rng.UintN(256))
		}
		deliver(junk, from)
	}

	// A flood of IKE_SA_INITs from spoofed addresses: each may make a
	// half-open SA until the COOKIE threshold, then costs nothing.
	stray := managerConn("stray", "203.0.113.1:500", "198.51.100.1:500", "198.18.1.0/24", "198.18.2.0/24", "x")
	for i := range 100 {
		stray.Local = netip.AddrPortFrom(netip.AddrFrom4([4]byte{203, 0, 113, byte(i + 1)}), 500)
		stray.Installer, stray.Send, stray.Clock = &installertest.Recorder{}, func([]byte, netip.AddrPort, netip.AddrPort) {}, clock
		var init []byte
		stray.Send = func(b []byte, _, _ netip.AddrPort) { init = b }
		sa, err := NewInitiator(stray)
		if err != nil {
			t.Fatal(err)
		}
		if err := sa.Initiate(); err != nil {
			t.Fatal(err)
		}
		deliver(init, stray.Local)
	}
	net.wg.Wait()
	halfOpen := 0
	for _, sa := range gw.m.SAs() {
		if sa.State() != StateEstablished {
			halfOpen++
		}
	}
	if halfOpen > 30 {
		t.Errorf("%d half-open SAs after the flood; the COOKIE threshold (30) should cap them", halfOpen)
	}

	if established.State() != StateEstablished {
		t.Fatalf("the established SA is %v after hostile input (%v)", established.State(), established.Err())
	}
	for _, c := range gw.recorder.Calls()[installedBefore:] {
		if c.Op == "delete" || c.Op == "add" {
			t.Errorf("hostile input changed the data plane: %s %#x", c.Op, c.SPI)
		}
	}

	// The half-open SAs die with their timeout; the established one lives.
	clock.Advance(31 * time.Second)
	gw.m.Sweep()
	if sas := gw.m.SAs(); len(sas) != 1 || sas[0] != established {
		t.Errorf("%d SAs after the half-open timeout, want only the established one", len(sas))
	}

	// And it still answers: a liveness check from the client goes through.
	csa := client.m.SAs()[0]
	csa.mu.Lock()
	csa.tm.queue(&informationalRequest{})
	err := csa.tm.initiate()
	out := csa.takeOutbox()
	csa.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	csa.send(out)
	net.wg.Wait()
	csa.mu.Lock()
	pending := len(csa.tm.initiating.active)
	csa.mu.Unlock()
	if pending != 0 {
		t.Errorf("the liveness check after hostile input got no answer")
	}
}
