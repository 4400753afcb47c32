package ike

import (
	"bytes"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/espd/espd/ike/message"
)

// childRekey replaces a CHILD_SA with a new one (RFC 7296 §1.3.3), make
// before break:
//
//	CREATE_CHILD_SA { N(REKEY_SA), SA, Ni, [KEi], TSi, TSr }  -->
//	                                  (responder installs the new inbound SA)
//	                <--  CREATE_CHILD_SA { SA, Nr, [KEr], TSi, TSr }
//	(initiator installs the new inbound SA, then the new outbound one)
//	INFORMATIONAL { D(old) }  -->
//	                      (responder installs the new outbound SA, removes
//	                       the old pair)
//	                <--  INFORMATIONAL { D(old, peer's SPI) }
//	(initiator removes the old pair)
//
// The responder holds its new outbound SA back until the old SA is
// deleted, so it never sends on an SA the initiator cannot decrypt yet
// (§2.8). The negotiation itself is childCreate's.
//
// When both peers rekey the same CHILD_SA at once (§2.8.1), each answers
// the other's request while its own is out, and two new SAs exist. The one
// made with the lowest of the four nonces is deleted by the peer that
// initiated it; the old SA by the peer that initiated the surviving one.
// A peer asked to rekey an SA it is deleting, or has already replaced,
// answers TEMPORARY_FAILURE; one that does not know the SA,
// CHILD_SA_NOT_FOUND (§2.25).
type childRekey struct {
	sa        *IKESA
	initiator bool
	// old is the CHILD_SA being replaced; create negotiates its successor.
	old    *childSA
	create *childCreate
	// collided: the peer rekeyed old too, and we answered it while our
	// request was out. peerChild is the SA its exchange made, peerLowest
	// that exchange's lower nonce.
	collided   bool
	peerChild  *childSA
	peerLowest []byte
	// failure is the responder's refusal before negotiating anything.
	failure *message.Notify
}

// rekeyRetry and rekeyRetryJitter are strongSwan's RETRY_INTERVAL and
// RETRY_JITTER: after TEMPORARY_FAILURE the rekey is tried again in
// 15 s less up to 10 s.
const (
	rekeyRetry       = 15 * time.Second
	rekeyRetryJitter = 10 * time.Second
)

func newChildRekey(sa *IKESA, old *childSA) *childRekey {
	return &childRekey{sa: sa, initiator: true, old: old,
		create: &childCreate{sa: sa, initiator: true, config: old.config, rekey: old, holdOutbound: true}}
}

func (t *childRekey) exchange() message.ExchangeType { return message.ExchangeCreateChildSA }

// skip drops a queued rekey whose CHILD_SA is gone, replaced or being
// deleted: strongSwan ignores such expiries too.
func (t *childRekey) skip() bool {
	sa := t.sa
	return sa.state != StateEstablished || !sa.hasChild(t.old) || t.old.state != childInstalled
}

func (t *childRekey) rebind(sa *IKESA) {
	t.sa = sa
	t.create.sa = sa
}

func (t *childRekey) build(msg *message.Message) error {
	if !t.initiator {
		if t.failure != nil {
			msg.Payloads = append(msg.Payloads, t.failure)
			return nil
		}
		if err := t.create.build(msg); err != nil {
			return err
		}
		t.responderInstalled()
		return nil
	}
	if t.old.state == childInstalled {
		t.old.state = childRekeying
		t.sa.log.Info("rekeying CHILD_SA", zap.String("child", t.old.Name),
			zap.String("spi_in", fmt.Sprintf("%08x", t.old.InboundSPI)), zap.String("spi_out", fmt.Sprintf("%08x", t.old.OutboundSPI)))
	}
	return t.create.build(msg)
}

func (t *childRekey) process(msg *message.Message) (taskStatus, error) {
	if !t.initiator {
		t.processRequest(msg)
		return taskDone, nil
	}
	status, err := t.create.process(msg)
	if err != nil || status == taskRetry {
		return status, err
	}
	switch {
	case t.create.refused != nil:
		t.refused(t.create.refused)
	case t.create.child != nil:
		t.conclude(t.create.child)
	default:
		t.backToInstalled()
	}
	return taskDone, nil
}

// processRequest finds the CHILD_SA that REKEY_SA names and decides
// whether it may be rekeyed now.
func (t *childRekey) processRequest(req *message.Message) {
	sa := t.sa
	n := req.Notify(message.NotifyRekeySA)
	if err := n.Validate(); err != nil {
		sa.log.Info("INVALID_SYNTAX: malformed REKEY_SA", zap.Error(err))
		t.failure = message.NewNotify(message.NotifyInvalidSyntax, nil)
		return
	}
	spi, _ := n.SPI32()
	if sa.state != StateEstablished {
		// RFC 7296 §2.25.2: not while the IKE SA is being rekeyed or
		// deleted.
		sa.log.Info("TEMPORARY_FAILURE: CHILD_SA rekey while the IKE SA is busy", zap.Stringer("state", sa.state))
		t.failure = message.NewNotify(message.NotifyTemporaryFailure, nil)
		return
	}
	// REKEY_SA carries the SPI the peer receives on: our outbound SPI.
	old := sa.childByOutbound(spi)
	if n.Protocol != message.ProtocolESP {
		old = nil // we have no AH SAs
	}
	if old == nil {
		sa.log.Info("CHILD_SA_NOT_FOUND: the peer rekeys an SA we do not have", zap.String("spi", fmt.Sprintf("%08x", spi)))
		t.failure = message.NewChildSANotify(message.NotifyChildSANotFound, n.Protocol, spi, nil)
		return
	}
	switch old.state {
	case childDeleting, childRekeyed:
		// RFC 7296 §2.25.1: an SA being closed, or already replaced.
		sa.log.Info("TEMPORARY_FAILURE: the peer rekeys a CHILD_SA we are deleting or have replaced",
			zap.String("child", old.Name), zap.Stringer("state", old.state))
		t.failure = message.NewNotify(message.NotifyTemporaryFailure, nil)
		return
	}
	t.old = old
	t.create = &childCreate{sa: sa, rekey: old, holdOutbound: true}
	t.create.processRequest(req)
}

// responderInstalled records the new CHILD_SA as old's successor, and, if
// we are rekeying old ourselves, tells our own rekey of the collision.
func (t *childRekey) responderInstalled() {
	sa, old, child := t.sa, t.old, t.create.child
	if child == nil {
		return
	}
	wasRekeying := old.state == childRekeying
	old.state, old.successor = childRekeyed, child
	if !wasRekeying {
		return
	}
	if ours, ok := activeTask[*childRekey](&sa.tm); ok && ours.old == old {
		sa.log.Info("CHILD_SA rekey collision", zap.String("child", old.Name))
		ours.collided, ours.peerChild, ours.peerLowest = true, child, t.create.lowestNonce()
	}
}

// conclude settles a successful rekey: the new SA replaces old unless a
// collision made it the redundant one.
func (t *childRekey) conclude(child *childSA) {
	sa, old := t.sa, t.old
	if t.collided {
		if bytes.Compare(t.create.lowestNonce(), t.peerLowest) < 0 {
			// Ours has the lowest nonce: we made the redundant SA, so we
			// delete it; the peer deletes old (RFC 7296 §2.8.1).
			sa.log.Info("CHILD_SA rekey collision lost, deleting our redundant SA", zap.String("child", child.Name))
			sa.tm.queueFirst(&childDelete{sa: sa, initiator: true, children: []*childSA{child}})
			return
		}
		sa.log.Info("CHILD_SA rekey collision won", zap.String("child", child.Name))
		if p := t.peerChild; p != nil && sa.hasChild(p) {
			// The peer made the redundant one and will delete it.
			p.state = childRekeyed
			for _, c := range sa.children {
				if c.successor == p {
					c.successor = nil
				}
			}
		}
	}
	if err := sa.installOutbound(child); err != nil {
		sa.log.Warn("cannot install the new outbound SA", zap.String("child", child.Name), zap.Error(err))
	}
	if sa.hasChild(old) && old.state != childDeleting {
		old.successor = child
		sa.tm.queueFirst(&childDelete{sa: sa, initiator: true, children: []*childSA{old}})
	}
}

// refused handles the peer's refusal: it may have replaced or lost the SA
// meanwhile, or be busy.
func (t *childRekey) refused(n *message.Notify) {
	sa, old := t.sa, t.old
	if !sa.hasChild(old) || old.state != childRekeying {
		// A collision: the peer's rekey of old stands, or old is gone.
		return
	}
	switch n.NotifyType {
	case message.NotifyTemporaryFailure:
		old.state = childInstalled
		delay := rekeyRetry - sa.conn.Jitter(rekeyRetryJitter)
		sa.log.Info("CHILD_SA rekey failed temporarily, trying again", zap.String("child", old.Name), zap.Duration("in", delay))
		stopTimer(old.rekeyTimer)
		old.rekeyAt = sa.conn.Clock.Now().Add(delay)
		old.rekeyTimer = sa.afterFunc(delay, func() { sa.childSoftExpired(old, "retry after TEMPORARY_FAILURE") })
	case message.NotifyChildSANotFound:
		// The peer has lost the SA: ours is useless. Set the child up
		// afresh.
		sa.log.Info("peer has no such CHILD_SA, creating it again", zap.String("child", old.Name))
		sa.removeChild(old)
		sa.tm.queue(&childCreate{sa: sa, initiator: true, config: old.config})
	default:
		old.state = childInstalled
	}
}

func (t *childRekey) backToInstalled() {
	if t.sa.hasChild(t.old) && t.old.state == childRekeying {
		t.old.state = childInstalled
	}
}
