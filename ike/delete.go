package ike

import (
	"fmt"

	"go.uber.org/zap"

	"github.com/espd/espd/ike/message"
)

// Deleting SAs (RFC 7296 §1.4.1) with INFORMATIONAL exchanges:
//
//	INFORMATIONAL { D(ESP, our inbound SPIs) }  -->
//	                      <--  INFORMATIONAL { D(ESP, the peer's inbound SPIs) }
//
// closes CHILD_SAs: the responder removes both directions and answers with
// the SPIs of its side of each pair, and the initiator removes its SAs when
// the answer comes. Should both peers delete the same SAs at once, each
// removes its outbound SA on the other's request and leaves it out of its
// answer, and the inbound one on its own response.
//
//	INFORMATIONAL { D(IKE) }  -->
//	                      <--  INFORMATIONAL { }
//
// closes the IKE SA and every CHILD_SA with it: the responder once it has
// answered, the initiator when the answer comes or after every
// retransmission went unanswered.

// childDelete deletes CHILD_SAs.
type childDelete struct {
	sa        *IKESA
	initiator bool
	// children are ours to delete; orphans are inbound SPIs of SAs the
	// peer installed and we did not (a CHILD_SA whose answer we refused).
	children []*childSA
	orphans  []uint32

	// Responder: the SPIs we answer with, and the children to set up
	// again because the peer closed them (CloseAction).
	answer  []uint32
	restart []*childConfig
}

func (t *childDelete) exchange() message.ExchangeType { return message.ExchangeInformational }

func (t *childDelete) rebind(sa *IKESA) { t.sa = sa }

// skip drops a Delete whose CHILD_SAs are all gone already.
func (t *childDelete) skip() bool {
	if t.sa.state == StateDeleting || t.sa.state == StateRekeyed {
		return true
	}
	if len(t.orphans) > 0 {
		return false
	}
	for _, c := range t.children {
		if t.sa.hasChild(c) {
			return false
		}
	}
	return true
}

func (t *childDelete) build(msg *message.Message) error {
	if !t.initiator {
		if len(t.answer) > 0 {
			msg.Payloads = append(msg.Payloads, &message.Delete{Protocol: message.ProtocolESP, SPIs: t.answer})
		}
		return nil
	}
	sa := t.sa
	spis := append([]uint32(nil), t.orphans...)
	live := t.children[:0:0]
	for _, c := range t.children {
		if !sa.hasChild(c) {
			continue
		}
		c.state = childDeleting
		live = append(live, c)
		spis = append(spis, c.InboundSPI)
		sa.log.Info("deleting CHILD_SA", zap.String("child", c.Name),
			zap.String("spi_in", fmt.Sprintf("%08x", c.InboundSPI)), zap.String("spi_out", fmt.Sprintf("%08x", c.OutboundSPI)))
	}
	t.children = live
	msg.Payloads = append(msg.Payloads, &message.Delete{Protocol: message.ProtocolESP, SPIs: spis})
	return nil
}

func (t *childDelete) process(msg *message.Message) (taskStatus, error) {
	if t.initiator {
		// Whatever the answer names, our SAs go now (RFC 7296 §1.4.1).
		for _, c := range t.children {
			if t.sa.hasChild(c) {
				t.sa.removeChild(c)
			}
		}
		return taskDone, nil
	}
	t.processRequest(msg)
	return taskDone, nil
}

func (t *childDelete) processRequest(msg *message.Message) {
	sa := t.sa
	for _, p := range msg.FindAll(message.PayloadDelete) {
		d, ok := p.(*message.Delete)
		if !ok || d.Protocol != message.ProtocolESP {
			// We have no AH SAs.
			continue
		}
		for _, spi := range d.SPIs {
			// The peer names its inbound SPI, which we send on.
			c := sa.childByOutbound(spi)
			if c == nil {
				sa.log.Debug("peer deletes a CHILD_SA we do not have", zap.String("spi", fmt.Sprintf("%08x", spi)))
				continue
			}
			if c.state == childDeleting {
				// Crossing Deletes: the outbound SA goes now, the
				// inbound one with our own response, and the answer
				// leaves it out (RFC 7296 §1.4.1).
				sa.removeOutbound(c)
				continue
			}
			if c.state == childInstalled && c.successor == nil && c.config.CloseAction&ActionStart != 0 {
				t.restart = append(t.restart, c.config)
			}
			sa.log.Info("peer deletes CHILD_SA", zap.String("child", c.Name), zap.Stringer("state", c.state))
			t.answer = append(t.answer, c.InboundSPI)
			sa.removeChild(c)
		}
	}
}

// afterResponse sets up again the children the peer closed whose
// CloseAction says so.
func (t *childDelete) afterResponse() {
	for _, cfg := range t.restart {
		t.sa.log.Info("peer closed a CHILD_SA, setting it up again (close_action start)", zap.String("child", cfg.Name))
		t.sa.tm.queue(&childCreate{sa: t.sa, initiator: true, config: cfg})
	}
}

// ikeDelete deletes the IKE SA.
type ikeDelete struct {
	sa        *IKESA
	initiator bool
}

func (t *ikeDelete) exchange() message.ExchangeType { return message.ExchangeInformational }

func (t *ikeDelete) build(msg *message.Message) error {
	sa := t.sa
	if !t.initiator {
		return nil
	}
	if sa.state != StateDeleting {
		if err := sa.transition(sa.state, StateDeleting); err != nil {
			return err
		}
	}
	stopTimer(sa.dpdTimer)
	stopTimer(sa.rekeyTimer)
	stopTimer(sa.deathTimer)
	sa.log.Info("deleting IKE SA")
	msg.Payloads = append(msg.Payloads, &message.Delete{Protocol: message.ProtocolIKE})
	return nil
}

func (t *ikeDelete) process(*message.Message) (taskStatus, error) {
	sa := t.sa
	if t.initiator {
		sa.log.Info("IKE SA deleted")
		sa.destroy(nil)
		return taskDone, nil
	}
	// A rekey collision the peer did not see (RFC 7296 §2.8.2): it deletes
	// the old SA before our request reached it, so the new SA it made
	// with us carries on.
	if ours, ok := activeTask[*ikeRekey](&sa.tm); ok && ours.passive != nil {
		sa.handOver(ours.passive)
		ours.passive = nil
	}
	sa.peerClosed = true
	return taskDone, nil
}

func (t *ikeDelete) afterResponse() {
	t.sa.log.Info("peer deleted the IKE SA")
	t.sa.destroy(nil)
}

// Close deletes the IKE SA (RFC 7296 §1.4.1): the peer hears a Delete,
// and the SA is destroyed when it answers or after every retransmission
// went unanswered (Err then wraps ErrTimeout). Nothing is restarted. An SA
// that is not established yet is destroyed at once. Close is what a
// daemon calls on shutdown; Destroy does not wait for the peer.
func (sa *IKESA) Close() error {
	sa.mu.Lock()
	defer sa.unlock()
	sa.closing = true
	switch sa.state {
	case StateDestroyed, StateDeleting:
		return nil
	case StateCreated, StateConnecting:
		sa.destroy(nil)
		return nil
	}
	// Queued work is moot; an exchange already out finishes first (one
	// request at a time, RFC 7296 §2.3).
	sa.tm.queued = nil
	sa.tm.queue(&ikeDelete{sa: sa, initiator: true})
	return sa.tm.initiate()
}

// Destroy ends the SA at once without telling the peer, as strongSwan's
// forced terminate does.
func (sa *IKESA) Destroy() {
	sa.mu.Lock()
	defer sa.unlock()
	sa.closing = true
	sa.destroy(nil)
}

// CloseChild deletes every CHILD_SA of the named child configuration with
// one INFORMATIONAL exchange.
func (sa *IKESA) CloseChild(name string) error {
	sa.mu.Lock()
	defer sa.unlock()
	if sa.state != StateEstablished && sa.state != StateRekeying {
		return fmt.Errorf("%w: cannot delete a CHILD_SA in state %v", ErrInvalidState, sa.state)
	}
	var doomed []*childSA
	for _, c := range sa.children {
		if c.Name == name && c.state != childDeleting {
			doomed = append(doomed, c)
		}
	}
	if len(doomed) == 0 {
		return fmt.Errorf("%w: no CHILD_SA of %q", ErrNoSuchChild, name)
	}
	sa.tm.queue(&childDelete{sa: sa, initiator: true, children: doomed})
	return sa.tm.initiate()
}
