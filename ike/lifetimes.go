package ike

import (
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/espd/espd/esp/installer"
)

// Lifetimes (RFC 7296 §2.8): a CHILD_SA is rekeyed when its soft lifetime
// ends (ChildConfig.RekeyTime less a jitter, or a byte or packet limit the
// data plane reports as SoftExpired) and deleted when its hard one does
// (LifeTime, HardExpired). The IKE SA is rekeyed after Config.RekeyTime.
// Time limits run on the Clock; the timers belong to the IKE SA holding
// the child and move with it on an IKE SA rekey.

// afterFunc runs f with the SA locked once d has passed, unless the SA is
// destroyed by then, and sends what f queued.
func (sa *IKESA) afterFunc(d time.Duration, f func()) Timer {
	return sa.conn.Clock.AfterFunc(d, func() {
		sa.mu.Lock()
		defer sa.unlock()
		if sa.state != StateDestroyed {
			f()
		}
	})
}

// armChildTimers sets a new CHILD_SA's soft and hard lifetimes.
func (sa *IKESA) armChildTimers(c *childSA) {
	now := sa.conn.Clock.Now()
	if cfg := c.config; cfg.RekeyTime > 0 {
		c.rekeyAt = now.Add(cfg.RekeyTime - sa.conn.Jitter(cfg.rekeyJitterMax()))
	}
	if cfg := c.config; cfg.LifeTime > 0 {
		c.expireAt = now.Add(cfg.LifeTime)
	}
	sa.startChildTimers(c)
}

// startChildTimers arms the child's timers on sa for the times it holds.
func (sa *IKESA) startChildTimers(c *childSA) {
	stopTimer(c.rekeyTimer)
	stopTimer(c.expireTimer)
	c.rekeyTimer, c.expireTimer = nil, nil
	now := sa.conn.Clock.Now()
	if !c.rekeyAt.IsZero() {
		c.rekeyTimer = sa.afterFunc(c.rekeyAt.Sub(now), func() { sa.childSoftExpired(c, "rekey_time") })
	}
	if !c.expireAt.IsZero() {
		c.expireTimer = sa.afterFunc(c.expireAt.Sub(now), func() { sa.childHardExpired(c, "life_time") })
	}
}

// childSoftExpired rekeys the CHILD_SA, unless it is being rekeyed,
// replaced or deleted already: a responder waiting for the Delete of a
// replaced SA ignores its soft expiry, as strongSwan does.
func (sa *IKESA) childSoftExpired(c *childSA, why string) {
	if !sa.hasChild(c) || c.state != childInstalled {
		return
	}
	sa.log.Info("CHILD_SA soft lifetime reached, rekeying", zap.String("child", c.Name), zap.String("reason", why),
		zap.String("spi_in", fmt.Sprintf("%08x", c.InboundSPI)))
	sa.tm.queue(newChildRekey(sa, c))
	_ = sa.tm.initiate()
}

// childHardExpired stops sending on the CHILD_SA at once and deletes it.
// A replaced SA whose Delete never came hands over to its successor.
func (sa *IKESA) childHardExpired(c *childSA, why string) {
	if !sa.hasChild(c) {
		return
	}
	sa.log.Info("CHILD_SA hard lifetime reached, deleting", zap.String("child", c.Name), zap.String("reason", why),
		zap.String("spi_in", fmt.Sprintf("%08x", c.InboundSPI)))
	if s := c.successor; s != nil && sa.hasChild(s) && !s.outInstalled {
		if err := sa.installOutbound(s); err != nil {
			sa.log.Warn("cannot install the new outbound SA", zap.String("child", s.Name), zap.Error(err))
		}
	}
	sa.removeOutbound(c)
	if c.state == childDeleting {
		return
	}
	sa.tm.queue(&childDelete{sa: sa, initiator: true, children: []*childSA{c}})
	_ = sa.tm.initiate()
}

// HandleEvent acts on what the data plane reports about one of our
// CHILD_SAs (installer.Events): a soft limit or a sequence number about to
// wrap rekeys it, a hard limit deletes it. It reports false if no CHILD_SA
// of this IKE SA has that SPI in that direction.
func (sa *IKESA) HandleEvent(ev DataplaneEvent) (owned bool) {
	sa.mu.Lock()
	defer sa.unlock()
	if sa.state == StateDestroyed {
		return false
	}
	c := sa.childByInbound(ev.SPI)
	if ev.Dir == installer.Outbound {
		c = sa.childByOutbound(ev.SPI)
	}
	if c == nil {
		return false
	}
	switch ev.Kind {
	case SoftExpired, SeqNearWrap:
		sa.childSoftExpired(c, ev.Kind.String())
	case HardExpired:
		sa.childHardExpired(c, ev.Kind.String())
	}
	return true
}

// startTimers arms an established IKE SA's DPD and rekey timers.
func (sa *IKESA) startTimers() {
	sa.armDPD()
	if rt := sa.conn.RekeyTime; rt > 0 {
		sa.scheduleIKERekey(rt - sa.conn.Jitter(rt/10))
	}
}

// scheduleIKERekey rekeys the IKE SA after d.
func (sa *IKESA) scheduleIKERekey(d time.Duration) {
	stopTimer(sa.rekeyTimer)
	sa.rekeyAt = sa.conn.Clock.Now().Add(d)
	sa.rekeyTimer = sa.afterFunc(d, func() {
		sa.log.Info("IKE SA rekey time reached")
		_ = sa.rekeyIKE()
	})
}

// RekeyIKE rekeys the IKE SA (RFC 7296 §1.3.2): a new IKE SA takes over
// the CHILD_SAs, and the Observer hears of it (Rekeyed).
func (sa *IKESA) RekeyIKE() error {
	sa.mu.Lock()
	defer sa.unlock()
	return sa.rekeyIKE()
}

func (sa *IKESA) rekeyIKE() error {
	if sa.state != StateEstablished {
		return fmt.Errorf("%w: cannot rekey an IKE SA in state %v", ErrInvalidState, sa.state)
	}
	for _, t := range append(sa.tm.queued[:len(sa.tm.queued):len(sa.tm.queued)], sa.tm.initiating.active...) {
		if _, ok := t.(*ikeRekey); ok {
			return nil
		}
	}
	sa.tm.queue(&ikeRekey{sa: sa, initiator: true})
	return sa.tm.initiate()
}

// RekeyChild rekeys every installed CHILD_SA of the named child
// configuration (RFC 7296 §1.3.3).
func (sa *IKESA) RekeyChild(name string) error {
	sa.mu.Lock()
	defer sa.unlock()
	if sa.state != StateEstablished && sa.state != StateRekeying {
		return fmt.Errorf("%w: cannot rekey a CHILD_SA in state %v", ErrInvalidState, sa.state)
	}
	found := false
	for _, c := range sa.children {
		if c.Name == name && c.state == childInstalled {
			sa.tm.queue(newChildRekey(sa, c))
			found = true
		}
	}
	if !found {
		return fmt.Errorf("%w: no installed CHILD_SA of %q", ErrNoSuchChild, name)
	}
	return sa.tm.initiate()
}

// StartChild sets up another CHILD_SA of the connection's configured
// child name on the established IKE SA (CREATE_CHILD_SA, RFC 7296 §1.3.1).
// A refusal leaves the IKE SA up; ChildError says why.
func (sa *IKESA) StartChild(name string) error {
	sa.mu.Lock()
	defer sa.unlock()
	cfg, ok := sa.conn.child(name)
	if !ok {
		return fmt.Errorf("%w: %q is not configured", ErrNoSuchChild, name)
	}
	if sa.state != StateEstablished && sa.state != StateRekeying {
		return fmt.Errorf("%w: cannot create a CHILD_SA in state %v", ErrInvalidState, sa.state)
	}
	delete(sa.childErrors, name)
	sa.tm.queue(&childCreate{sa: sa, initiator: true, config: cfg})
	return sa.tm.initiate()
}
