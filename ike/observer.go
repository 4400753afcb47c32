package ike

import (
	"fmt"

	"github.com/espd/espd/esp/installer"
)

// Observer hears about IKE SAs coming and going, so that the owner can route
// datagrams by SPI.
//
// An IKE SA rekey (RFC 7296 §2.18) makes a new *IKESA with new SPIs and
// message IDs from 0, and moves the CHILD_SAs to it; the old SA lives on
// until its Delete exchange is over, then it is Destroyed. When both peers
// rekey the IKE SA at once (§2.8.2), each side briefly holds two new SAs:
// Rekeyed is called for both, the redundant one first. The redundant one
// is not StateEstablished (it is being deleted or waits for the peer's
// Delete) and is Destroyed soon; the one that carries on is established.
type Observer interface {
	// Rekeyed: next replaces old (IKE SA rekey); route next's SPIs to next
	// from now on.
	Rekeyed(old, next *IKESA)
	// Destroyed: the SA is gone (deleted, failed, timed out); sa.Err()
	// says why (nil for a clean delete). sa.RestartChildren names the
	// children that the owner should set up again.
	Destroyed(sa *IKESA)
}

// EventKind is what the data plane reports about a CHILD_SA.
type EventKind uint8

const (
	// SoftExpired: a soft byte or packet limit was reached; rekey.
	SoftExpired EventKind = iota
	// HardExpired: a hard limit was reached; the SA carries no more
	// traffic, delete it.
	HardExpired
	// SeqNearWrap: the outbound sequence number is about to wrap, which
	// RFC 4303 §3.3.3 forbids; rekey.
	SeqNearWrap
)

func (k EventKind) String() string {
	switch k {
	case SoftExpired:
		return "soft-expired"
	case HardExpired:
		return "hard-expired"
	case SeqNearWrap:
		return "seq-near-wrap"
	}
	return fmt.Sprintf("EventKind(%d)", uint8(k))
}

// DataplaneEvent is one installer.Events call, handed to the IKE SA that
// owns the SPI (IKESA.HandleEvent).
type DataplaneEvent struct {
	Kind EventKind
	SPI  uint32
	Dir  installer.Direction
}
