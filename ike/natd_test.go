package ike

import (
	"net/netip"
	"testing"

	"github.com/espd/espd/esp/installer"
)

// natBox translates the initiator's private address to a public one, with
// one mapping per source port, as a NAPT does (RFC 3948 §1).
type natBox struct {
	public   netip.Addr
	mappings map[netip.AddrPort]netip.AddrPort
	next     uint16
}

func newNATBox(public string) *natBox {
	return &natBox{public: netip.MustParseAddr(public), mappings: map[netip.AddrPort]netip.AddrPort{}, next: 40000}
}

func (n *natBox) outside(inside netip.AddrPort) netip.AddrPort {
	if m, ok := n.mappings[inside]; ok {
		return m
	}
	m := netip.AddrPortFrom(n.public, n.next)
	n.next++
	n.mappings[inside] = m
	return m
}

// rebind forgets every mapping, as a NAT reboot or an expired mapping does.
func (n *natBox) rebind() { clear(n.mappings) }

// deliverThroughNAT carries the initiator's next datagram to the responder
// through the NAT, or the responder's back to the initiator.
func deliverThroughNAT(t *testing.T, nat *natBox, i, r *peer, fromInitiator bool) {
	t.Helper()
	if fromInitiator {
		b := i.take(t)
		if err := r.sa.HandleDatagram(b, nat.outside(i.lastFrom), i.lastTo); err != nil {
			t.Logf("responder: %v", err)
		}
		return
	}
	b := r.take(t)
	inside := r.lastTo
	for priv, pub := range nat.mappings {
		if pub == r.lastTo {
			inside = netip.AddrPortFrom(i.addr.Addr(), priv.Port())
		}
	}
	if inside == r.lastTo {
		t.Fatalf("the NAT has no mapping for %v", r.lastTo)
	}
	if err := i.sa.HandleDatagram(b, r.lastFrom, inside); err != nil {
		t.Logf("initiator: %v", err)
	}
}

func TestNATDetectedBehindInitiator(t *testing.T) {
	i, r, _ := newPair(t, nil)
	nat := newNATBox("203.0.113.9")
	if err := i.sa.Initiate(); err != nil {
		t.Fatal(err)
	}
	if i.lastFrom.Port() != 500 {
		t.Fatalf("IKE_SA_INIT sent from port %d, want 500", i.lastFrom.Port())
	}
	deliverThroughNAT(t, nat, i, r, true)  // IKE_SA_INIT request
	deliverThroughNAT(t, nat, i, r, false) // IKE_SA_INIT response
	deliverThroughNAT(t, nat, i, r, true)  // IKE_AUTH request, now on 4500
	if i.lastFrom.Port() != 4500 || i.lastTo.Port() != 4500 {
		t.Errorf("IKE_AUTH sent %v -> %v, want port 4500 on both ends", i.lastFrom, i.lastTo)
	}
	deliverThroughNAT(t, nat, i, r, false) // IKE_AUTH response
	if r.lastTo != nat.outside(netip.AddrPortFrom(addrI.Addr(), 4500)) {
		t.Errorf("responder answered IKE_AUTH to %v, not to the NAT's 4500 mapping", r.lastTo)
	}

	if here, encap := i.sa.NAT(); !here || !encap {
		t.Errorf("initiator: behind NAT %v, encap %v; want both", here, encap)
	}
	if here, encap := r.sa.NAT(); here || !encap {
		t.Errorf("responder: behind NAT %v, encap %v; want false, true", here, encap)
	}
	for _, p := range []*peer{i, r} {
		if p.sa.State() != StateEstablished {
			t.Fatalf("%s: %v (%v)", p.name, p.sa.State(), p.sa.Err())
		}
		for _, sa := range append(p.recorder.Installed(installer.Inbound), p.recorder.Installed(installer.Outbound)...) {
			if !sa.Encap || sa.Local.Port() == 500 || sa.Remote.Port() == 500 {
				t.Errorf("%s: SA %#x encap %v %v -> %v, want ESP-in-UDP off port 500", p.name, sa.SPI, sa.Encap, sa.Local, sa.Remote)
			}
		}
	}
	rOut := r.recorder.Installed(installer.Outbound)[0]
	if want := nat.outside(netip.AddrPortFrom(addrI.Addr(), 4500)); rOut.Remote != want {
		t.Errorf("responder's outbound SA goes to %v, want the NAT mapping %v", rOut.Remote, want)
	}

	// The NAT reboots and maps port 4500 anew: the responder follows the
	// next authenticated message and moves the CHILD_SA (RFC 7296 §2.23).
	nat.rebind()
	nat.next = 50000
	liveness(t, i)
	deliverThroughNAT(t, nat, i, r, true)
	deliverThroughNAT(t, nat, i, r, false)
	want := nat.outside(netip.AddrPortFrom(addrI.Addr(), 4500))
	if _, remote := r.sa.Endpoints(); remote != want {
		t.Errorf("responder's peer is %v after the rebinding, want %v", remote, want)
	}
	updated := 0
	for _, c := range r.recorder.Calls() {
		if c.Op == "update" {
			updated++
		}
	}
	if updated != 2 {
		t.Errorf("responder updated %d SAs after the rebinding, want 2 (in and out)", updated)
	}
}

func TestNoNATNoEncap(t *testing.T) {
	i, r, _ := newPair(t, nil)
	establish(t, i, r)
	for _, p := range []*peer{i, r} {
		if here, encap := p.sa.NAT(); here || encap {
			t.Errorf("%s: behind NAT %v, encap %v without a NAT", p.name, here, encap)
		}
		if l, _ := p.sa.Endpoints(); l.Port() != 500 {
			t.Errorf("%s: IKE moved to %v without a NAT", p.name, l)
		}
		for _, sa := range p.recorder.Installed(installer.Outbound) {
			if sa.Encap {
				t.Errorf("%s: SA %#x encapsulated without a NAT", p.name, sa.SPI)
			}
		}
	}
}

func TestForceEncap(t *testing.T) {
	i, r, _ := newPair(t, func(ci, _ *Config) { ci.ForceEncap = true })
	if err := i.sa.Initiate(); err != nil {
		t.Fatal(err)
	}
	deliver(t, i, r) // IKE_SA_INIT
	deliver(t, r, i)
	deliver(t, i, r) // IKE_AUTH, on port 4500
	deliver(t, r, i)
	assertMirrored(t, i, r)
	for _, p := range []*peer{i, r} {
		if _, encap := p.sa.NAT(); !encap {
			t.Errorf("%s: encap = yes on the initiator did not encapsulate", p.name)
		}
		if sa := p.recorder.Installed(installer.Outbound)[0]; !sa.Encap {
			t.Errorf("%s: outbound SA not encapsulated", p.name)
		}
	}
}

// liveness makes p start an empty INFORMATIONAL request.
func liveness(t *testing.T, p *peer) {
	t.Helper()
	p.sa.mu.Lock()
	p.sa.tm.queue(&informationalRequest{})
	err := p.sa.tm.initiate()
	out := p.sa.takeOutbox()
	p.sa.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	p.sa.send(out)
}
