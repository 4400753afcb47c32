package ike

import (
	"net/netip"
	"time"

	"github.com/espd/espd/esp/installer"
)

// Status is a snapshot of an IKE SA for `espd status`, in the manner of
// swanctl --list-sas.
type Status struct {
	// Name is the connection's.
	Name      string
	State     State
	Initiator bool
	// SPIi and SPIr are the IKE SPIs; Suite the negotiated IKE proposal
	// in strongSwan's words.
	SPIi, SPIr    uint64
	Suite         string
	Local, Remote netip.AddrPort
	// PeerID is the peer's authenticated identity.
	PeerID string
	// NATHere: our address is translated (we send keepalives); Encap:
	// the CHILD_SAs are UDP-encapsulated.
	NATHere, Encap bool
	// Established is when IKE_AUTH or the rekey that made the SA
	// completed; RekeyAt when the SA is rekeyed (zero if never).
	Established, RekeyAt time.Time
	Children             []ChildStatus
}

// ChildStatus is one CHILD_SA pair of a Status.
type ChildStatus struct {
	Name string
	// State is INSTALLED, REKEYING, REKEYED or DELETING.
	State string
	Mode  installer.Mode
	Encap bool
	// Suite is the ESP proposal in strongSwan's words, the PFS group
	// included.
	Suite                   string
	InboundSPI, OutboundSPI uint32
	LocalTS, RemoteTS       []netip.Prefix
	// Installed is when the pair was installed, RekeyAt when it is
	// rekeyed and ExpireAt when it is deleted (zero if never).
	Installed, RekeyAt, ExpireAt time.Time
	// OutboundHeld: the new outbound SA of a rekey we answered waits for
	// the old SA's Delete (make-before-break).
	OutboundHeld bool
}

// Status returns a snapshot of the SA.
func (sa *IKESA) Status() Status {
	sa.mu.Lock()
	defer sa.mu.Unlock()
	st := Status{
		Name: sa.conn.Name, State: sa.state, Initiator: sa.initiator,
		SPIi: sa.spiI, SPIr: sa.spiR,
		Local: sa.local, Remote: sa.remote, PeerID: sa.peerID,
		NATHere: sa.nat.here, Encap: sa.nat.encap(),
		Established: sa.established, RekeyAt: sa.rekeyAt,
	}
	if sa.sendT != nil {
		st.Suite = sa.suite.String()
	}
	for _, c := range sa.children {
		st.Children = append(st.Children, ChildStatus{
			Name: c.Name, State: c.state.String(), Mode: c.Mode, Encap: c.Encap, Suite: c.Suite.String(),
			InboundSPI: c.InboundSPI, OutboundSPI: c.OutboundSPI,
			LocalTS: c.LocalTS, RemoteTS: c.RemoteTS,
			Installed: c.Installed, RekeyAt: c.rekeyAt, ExpireAt: c.expireAt,
			OutboundHeld: !c.outInstalled,
		})
	}
	return st
}
