package ike

import (
	"fmt"
	"net/netip"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/espd/espd/crypto"
	"github.com/espd/espd/esp/installer"
)

// childState is where one CHILD_SA is in its life, as strongSwan's
// child_sa_state_t.
type childState uint8

const (
	// childInstalled: carrying traffic.
	childInstalled childState = iota
	// childRekeying: our CREATE_CHILD_SA replacing it is under way.
	childRekeying
	// childRekeyed: a new CHILD_SA replaces it, or it is the redundant SA
	// of a rekey collision (RFC 7296 §2.8.1); it waits for the Delete of
	// the peer that is to send it.
	childRekeyed
	// childDeleting: our Delete for it is under way.
	childDeleting
)

func (s childState) String() string {
	switch s {
	case childInstalled:
		return "INSTALLED"
	case childRekeying:
		return "REKEYING"
	case childRekeyed:
		return "REKEYED"
	case childDeleting:
		return "DELETING"
	}
	return fmt.Sprintf("childState(%d)", uint8(s))
}

// childSA is an installed CHILD_SA pair and its place in rekeying.
type childSA struct {
	ChildSA
	config *childConfig
	state  childState
	// outbound is the outbound SA; outInstalled says whether the data
	// plane has it yet. The responder of a rekey holds it back until the
	// old SA is deleted, so that it never sends on an SA the initiator
	// cannot yet decrypt (make-before-break, RFC 7296 §2.8).
	outbound     installer.SAParams
	outInstalled bool
	// inRemoved: a crossing Delete (RFC 7296 §1.4.1) removed the outbound
	// SA while ours is under way; the inbound goes with our response.
	outRemoved bool
	// successor replaces this SA once it is deleted: its held-back
	// outbound SA goes in first.
	successor *childSA
	// rekeyAt and expireAt are the soft and hard lifetimes; the timers
	// belong to the IKE SA that holds the child (moved on IKE rekey).
	rekeyAt, expireAt       time.Time
	rekeyTimer, expireTimer Timer
}

// childKeys is what installChild needs to add a CHILD_SA pair.
type childKeys struct {
	config            *childConfig
	suite             crypto.Suite
	inSPI, outSPI     uint32
	localTS, remoteTS []netip.Prefix
	keys              crypto.ChildSAKeys
	// exchangeInitiator: we initiated the exchange that made the SA, so
	// the initiator-to-responder keys (RFC 7296 §2.17) are our outbound
	// ones.
	exchangeInitiator bool
	// holdOutbound leaves the outbound SA out of the data plane for now.
	holdOutbound bool
}

// installChild adds the inbound SA, then the outbound one unless it is held
// back, and arms the CHILD_SA's lifetimes.
func (sa *IKESA) installChild(k childKeys) (*childSA, error) {
	inEnc, inInteg, outEnc, outInteg := k.keys.EncrR, k.keys.IntegR, k.keys.EncrI, k.keys.IntegI
	if !k.exchangeInitiator {
		inEnc, inInteg, outEnc, outInteg = k.keys.EncrI, k.keys.IntegI, k.keys.EncrR, k.keys.IntegR
	}
	base := installer.SAParams{
		Protocol: installer.ESP,
		Mode:     k.config.Mode,
		Local:    sa.local,
		Remote:   sa.remote,
		Encap:    sa.nat.encap(),
		Suite:    k.suite,
		ESN:      k.suite.ESN,
		Lifetime: k.config.lifetime(),
		LocalTS:  k.localTS,
		RemoteTS: k.remoteTS,
	}
	in := base
	in.SPI, in.Direction, in.EncKey, in.IntegKey = k.inSPI, installer.Inbound, inEnc, inInteg
	in.ReplayWindow = k.config.ReplayWindow
	out := base
	out.SPI, out.Direction, out.EncKey, out.IntegKey = k.outSPI, installer.Outbound, outEnc, outInteg
	if err := sa.conn.Installer.Add(in); err != nil {
		return nil, fmt.Errorf("ike: install inbound SA: %w", err)
	}
	c := &childSA{
		ChildSA: ChildSA{Name: k.config.Name, Suite: k.suite, Mode: k.config.Mode,
			Encap: base.Encap, InboundSPI: k.inSPI, OutboundSPI: k.outSPI,
			LocalTS: k.localTS, RemoteTS: k.remoteTS, Installed: sa.conn.Clock.Now()},
		config:   k.config,
		outbound: out,
	}
	if !k.holdOutbound {
		if err := sa.installOutbound(c); err != nil {
			_ = sa.conn.Installer.Delete(in.SPI, installer.Inbound)
			return nil, err
		}
	}
	sa.children = append(sa.children, c)
	sa.armChildTimers(c)
	sa.log.Info("CHILD_SA installed", zap.String("child", c.Name), zap.String("suite", k.suite.String()),
		zap.String("spi_in", fmt.Sprintf("%08x", k.inSPI)), zap.String("spi_out", fmt.Sprintf("%08x", k.outSPI)),
		zap.Bool("outbound_held", k.holdOutbound),
		zap.Stringers("local_ts", k.localTS), zap.Stringers("remote_ts", k.remoteTS))
	return c, nil
}

// installOutbound puts a held-back outbound SA into the data plane, where
// it replaces the old SA with the same selectors for new packets.
func (sa *IKESA) installOutbound(c *childSA) error {
	if c.outInstalled {
		return nil
	}
	// The IKE SA may have moved (NAT) since the SA was prepared.
	c.outbound.Local, c.outbound.Remote = sa.local, sa.remote
	if err := sa.conn.Installer.Add(c.outbound); err != nil {
		return fmt.Errorf("ike: install outbound SA: %w", err)
	}
	c.outInstalled = true
	return nil
}

// removeChild takes the CHILD_SA out of the data plane and the IKE SA. A
// successor whose outbound SA was held back gets it first, so traffic
// moves over before the old SA goes (make-before-break).
func (sa *IKESA) removeChild(c *childSA) {
	if s := c.successor; s != nil && sa.hasChild(s) && !s.outInstalled {
		if err := sa.installOutbound(s); err != nil {
			sa.log.Warn("cannot install the new outbound SA", zap.String("child", s.Name), zap.Error(err))
		}
	}
	stopTimer(c.rekeyTimer)
	stopTimer(c.expireTimer)
	if c.outInstalled && !c.outRemoved {
		if err := sa.conn.Installer.Delete(c.OutboundSPI, installer.Outbound); err != nil {
			sa.log.Debug("removing outbound SA", zap.Error(err))
		}
	}
	if c.successor != nil && sa.conn.RekeyedInboundDelay > 0 && sa.state != StateDestroyed {
		// The peer may still be sending on the old SA until it has
		// processed the Delete, and packets may be in flight: keep the
		// old inbound SA a while, as strongSwan's delete_rekeyed_delay.
		spi := c.InboundSPI
		if sa.lingering == nil {
			sa.lingering = map[uint32]Timer{}
		}
		sa.lingering[spi] = sa.conn.Clock.AfterFunc(sa.conn.RekeyedInboundDelay, func() {
			sa.mu.Lock()
			defer sa.mu.Unlock()
			if _, ok := sa.lingering[spi]; ok {
				delete(sa.lingering, spi)
				_ = sa.conn.Installer.Delete(spi, installer.Inbound)
			}
		})
	} else if err := sa.conn.Installer.Delete(c.InboundSPI, installer.Inbound); err != nil {
		sa.log.Debug("removing inbound SA", zap.Error(err))
	}
	sa.children = slices.DeleteFunc(sa.children, func(o *childSA) bool { return o == c })
	for _, o := range sa.children {
		if o.successor == c {
			o.successor = nil
		}
	}
	sa.log.Info("CHILD_SA removed", zap.String("child", c.Name), zap.Stringer("state", c.state),
		zap.String("spi_in", fmt.Sprintf("%08x", c.InboundSPI)), zap.String("spi_out", fmt.Sprintf("%08x", c.OutboundSPI)))
}

// removeLingering deletes at once the old inbound SAs that rekeys left
// behind for a while, when the IKE SA itself goes.
func (sa *IKESA) removeLingering() {
	for spi, t := range sa.lingering {
		stopTimer(t)
		_ = sa.conn.Installer.Delete(spi, installer.Inbound)
	}
	sa.lingering = nil
}

// removeOutbound stops sending on a CHILD_SA whose inbound SA must stay a
// little longer (a crossing Delete, a hard lifetime).
func (sa *IKESA) removeOutbound(c *childSA) {
	if c.outInstalled && !c.outRemoved {
		if err := sa.conn.Installer.Delete(c.OutboundSPI, installer.Outbound); err != nil {
			sa.log.Debug("removing outbound SA", zap.Error(err))
		}
	}
	c.outRemoved = true
}

func (sa *IKESA) hasChild(c *childSA) bool {
	return slices.Contains(sa.children, c)
}

// childByInbound finds a CHILD_SA by the SPI we receive on; the peer names
// SAs by it in REKEY_SA from us and by its outbound SPI in its Deletes.
func (sa *IKESA) childByInbound(spi uint32) *childSA {
	for _, c := range sa.children {
		if c.InboundSPI == spi {
			return c
		}
	}
	return nil
}

// childByOutbound finds a CHILD_SA by the SPI we send on, which is the SPI
// the peer receives on: the one its REKEY_SA and Delete payloads carry
// (RFC 7296 §3.10, §3.11).
func (sa *IKESA) childByOutbound(spi uint32) *childSA {
	for _, c := range sa.children {
		if c.OutboundSPI == spi {
			return c
		}
	}
	return nil
}

func stopTimer(t Timer) {
	if t != nil {
		t.Stop()
	}
}
