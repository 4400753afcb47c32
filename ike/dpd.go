package ike

import (
	"time"

	"go.uber.org/zap"

	"github.com/espd/espd/esp/installer"
)

// Dead peer detection (RFC 7296 §2.4). When nothing came from the peer for
// Config.DPDDelay, neither an IKE message nor ESP on one of our inbound
// CHILD_SAs, an empty INFORMATIONAL request asks whether it is alive. An
// answer (or any other message) proves it is; after every retransmission
// has gone unanswered the IKE SA is destroyed with ErrTimeout, and the
// children whose DPDAction is start are left for the owner to set up again
// (RestartChildren). A request of ours that is out already checks the peer
// just as well, so no liveness check is added then.

// armDPD schedules the first liveness check of an established SA.
func (sa *IKESA) armDPD() {
	stopTimer(sa.dpdTimer)
	sa.dpdTimer = nil
	if sa.conn.DPDDelay > 0 {
		sa.dpdTimer = sa.afterFunc(sa.conn.DPDDelay, sa.dpdCheck)
	}
}

func (sa *IKESA) dpdCheck() {
	delay := sa.conn.DPDDelay
	switch sa.state {
	case StateEstablished:
	case StateRekeying:
		// The rekey's own request checks the peer; should the rekey fail,
		// the SA needs its checks again.
		sa.dpdTimer = sa.afterFunc(delay, sa.dpdCheck)
		return
	default:
		return
	}
	idle := sa.conn.Clock.Now().Sub(sa.lastActivity())
	if idle < delay {
		sa.dpdTimer = sa.afterFunc(delay-idle, sa.dpdCheck)
		return
	}
	if !sa.tm.busy() {
		sa.log.Debug("peer silent, checking that it is alive", zap.Duration("idle", idle))
		sa.tm.queue(livenessCheck{})
		if err := sa.tm.initiate(); err != nil {
			sa.log.Debug("liveness check not sent", zap.Error(err))
		}
	}
	sa.dpdTimer = sa.afterFunc(delay, sa.dpdCheck)
}

// lastActivity is when the peer last showed it is alive: its last IKE
// message, or the last ESP packet on an inbound CHILD_SA.
func (sa *IKESA) lastActivity() time.Time {
	last := sa.lastRecv
	for _, c := range sa.children {
		st, err := sa.conn.Installer.Query(c.InboundSPI, installer.Inbound)
		if err == nil && st.LastUse.After(last) {
			last = st.LastUse
		}
	}
	return last
}
