package ike

import (
	"fmt"
	"net/netip"

	"go.uber.org/zap"

	"github.com/espd/espd/crypto"
	"github.com/espd/espd/esp/installer"
	"github.com/espd/espd/ike/message"
)

// childCreate negotiates the first CHILD_SA inside IKE_AUTH (RFC 7296 §1.2):
// the initiator offers SAi2 with its inbound SPI and TSi/TSr, the responder
// answers with the chosen proposal, its SPI and the selectors narrowed to
// its policy (§2.9). Keys come from KEYMAT = prf+(SK_d, Ni | Nr) with
// IKE_SA_INIT's nonces (§2.17). A failure here leaves the IKE SA up.
type childCreate struct {
	sa        *IKESA
	initiator bool
	// config is the CHILD_SA configuration: the initiator's choice, or the
	// one whose selectors fit the request (responder).
	config *childConfig

	inSPI, outSPI     uint32
	suite             crypto.Suite
	proposalNumber    uint8
	localTS, remoteTS []netip.Prefix
	// failure is the notification the responder sends instead of SA and
	// TS payloads.
	failure *message.Notify
}

func (t *childCreate) exchange() message.ExchangeType { return message.ExchangeIKEAuth }

func (t *childCreate) build(msg *message.Message) error {
	sa := t.sa
	if t.initiator {
		spi, err := sa.conn.Installer.AllocateSPI()
		if err != nil {
			return fmt.Errorf("ike: allocate SPI: %w", err)
		}
		t.inSPI = spi
		if t.config.Mode == installer.Transport {
			msg.Payloads = append(msg.Payloads, message.NewNotify(message.NotifyUseTransportMode, nil))
		}
		msg.Payloads = append(msg.Payloads,
			&message.SA{Proposals: t.config.offeredESP(spi)},
			&message.TS{Selectors: selectors(t.config.LocalTS)},
			&message.TS{Responder: true, Selectors: selectors(t.config.RemoteTS)})
		return nil
	}
	if t.failure != nil {
		msg.Payloads = append(msg.Payloads, t.failure)
		return nil
	}
	spi, err := sa.conn.Installer.AllocateSPI()
	if err != nil {
		return fmt.Errorf("ike: allocate SPI: %w", err)
	}
	t.inSPI = spi
	if err := t.install(); err != nil {
		return err
	}
	if t.config.Mode == installer.Transport {
		msg.Payloads = append(msg.Payloads, message.NewNotify(message.NotifyUseTransportMode, nil))
	}
	msg.Payloads = append(msg.Payloads,
		&message.SA{Proposals: []message.Proposal{espProposal(t.proposalNumber, t.suite, spi)}},
		&message.TS{Selectors: selectors(t.remoteTS)},
		&message.TS{Responder: true, Selectors: selectors(t.localTS)})
	return nil
}

func (t *childCreate) process(msg *message.Message) (taskStatus, error) {
	if t.initiator {
		return taskDone, t.processResponse(msg)
	}
	t.processRequest(msg)
	return taskDone, nil
}

func (t *childCreate) processRequest(req *message.Message) {
	sa := t.sa
	saPayload, _ := req.Find(message.PayloadSA).(*message.SA)
	tsi, tsr := findTS(req)
	if saPayload == nil || tsi == nil || tsr == nil {
		t.failure = message.NewNotify(message.NotifyInvalidSyntax, nil)
		return
	}
	// TSi describes the initiator's side, our remote; TSr ours. The first
	// child whose selectors meet the peer's is the one (strongSwan picks
	// the best fit; espd's configurations rarely overlap).
	transport := req.Notify(message.NotifyUseTransportMode) != nil
	for _, ch := range sa.conn.children {
		remote, local := narrow(tsi.Selectors, ch.RemoteTS), narrow(tsr.Selectors, ch.LocalTS)
		if len(local) > 0 && len(remote) > 0 && transport == (ch.Mode == installer.Transport) {
			t.config, t.localTS, t.remoteTS = ch, local, remote
			break
		}
	}
	if t.config == nil {
		sa.log.Warn("TS_UNACCEPTABLE: the peer's traffic selectors (or mode) meet none of our children",
			zap.Stringers("received_tsi", tsi.Selectors), zap.Stringers("received_tsr", tsr.Selectors),
			zap.Bool("transport", transport), zap.Strings("children", sa.conn.childNames()))
		t.failure = message.NewNotify(message.NotifyTSUnacceptable, nil)
		return
	}
	suite, chosen, ok := selectESP(t.config.espSuites, saPayload.Proposals)
	if !ok {
		sa.log.Warn("NO_PROPOSAL_CHOSEN: none of the peer's ESP proposals is configured",
			zap.String("child", t.config.Name),
			zap.String("received", proposalsString(saPayload.Proposals)),
			zap.String("configured", proposalsString(t.config.offeredESP(0))))
		t.failure = message.NewNotify(message.NotifyNoProposalChosen, nil)
		return
	}
	outSPI, ok := chosen.SPI32()
	if !ok || outSPI < 256 {
		t.failure = message.NewNotify(message.NotifyInvalidSyntax, nil)
		return
	}
	t.suite, t.outSPI, t.proposalNumber = suite, outSPI, chosen.Number
}

func (t *childCreate) processResponse(resp *message.Message) error {
	sa := t.sa
	for _, n := range resp.Notifies() {
		if n.NotifyType.IsError() {
			sa.log.Warn("CHILD_SA not created: the peer refused it", zap.String("child", t.config.Name),
				zap.Stringer("notify", n.NotifyType))
			sa.setChildError(t.config.Name, peerError(n))
			return nil
		}
	}
	saPayload, _ := resp.Find(message.PayloadSA).(*message.SA)
	tsi, tsr := findTS(resp)
	if saPayload == nil || tsi == nil || tsr == nil || len(saPayload.Proposals) != 1 {
		return fmt.Errorf("%w: IKE_AUTH response without one SA, TSi and TSr", ErrUnexpected)
	}
	got := saPayload.Proposals[0]
	suite, ok := t.accepted(got)
	if !ok {
		return fmt.Errorf("%w: peer chose ESP %v, which we did not propose", ErrNoProposalChosen, got)
	}
	outSPI, ok := got.SPI32()
	if !ok || outSPI < 256 {
		return fmt.Errorf("%w: ESP SPI", ErrUnexpected)
	}
	local, okL := prefixes(tsi.Selectors)
	remote, okR := prefixes(tsr.Selectors)
	if (resp.Notify(message.NotifyUseTransportMode) != nil) != (t.config.Mode == installer.Transport) {
		return fmt.Errorf("%w: the responder does not agree to %v mode", ErrTSUnacceptable, t.config.Mode)
	}
	if !okL || !okR || !selectorsWithin(local, t.config.LocalTS) || !selectorsWithin(remote, t.config.RemoteTS) {
		return fmt.Errorf("%w: responder's selectors %v/%v are not within ours", ErrTSUnacceptable, tsi.Selectors, tsr.Selectors)
	}
	t.suite, t.outSPI, t.localTS, t.remoteTS = suite, outSPI, local, remote
	return t.install()
}

func (t *childCreate) accepted(got message.Proposal) (crypto.Suite, bool) {
	for _, s := range t.config.espSuites {
		want := espProposal(got.Number, s, 0)
		if got.Protocol == message.ProtocolESP && covers(got, want) && len(got.Transforms) == len(want.Transforms) {
			return s, true
		}
	}
	return crypto.Suite{}, false
}

// install derives KEYMAT and adds the inbound and the outbound SA. Keys are
// taken initiator-to-responder first (RFC 7296 §2.17).
func (t *childCreate) install() error {
	sa := t.sa
	keys, err := crypto.DeriveChildSAKeys(sa.suite.PRF, sa.keys.D, nil, sa.ni, sa.nr, t.suite.EncKeyLen, t.suite.IntegKeyLen)
	if err != nil {
		return fmt.Errorf("ike: CHILD_SA keys: %w", err)
	}
	inEnc, inInteg, outEnc, outInteg := keys.EncrR, keys.IntegR, keys.EncrI, keys.IntegI
	if !t.initiator {
		inEnc, inInteg, outEnc, outInteg = keys.EncrI, keys.IntegI, keys.EncrR, keys.IntegR
	}
	base := installer.SAParams{
		Protocol: installer.ESP,
		Mode:     t.config.Mode,
		Local:    sa.local,
		Remote:   sa.remote,
		Encap:    sa.nat.encap(),
		Suite:    t.suite,
		ESN:      t.suite.ESN,
		LocalTS:  t.localTS,
		RemoteTS: t.remoteTS,
	}
	in := base
	in.SPI, in.Direction, in.EncKey, in.IntegKey = t.inSPI, installer.Inbound, inEnc, inInteg
	in.ReplayWindow = t.config.ReplayWindow
	out := base
	out.SPI, out.Direction, out.EncKey, out.IntegKey = t.outSPI, installer.Outbound, outEnc, outInteg
	if err := sa.conn.Installer.Add(in); err != nil {
		return fmt.Errorf("ike: install inbound SA: %w", err)
	}
	if err := sa.conn.Installer.Add(out); err != nil {
		_ = sa.conn.Installer.Delete(in.SPI, installer.Inbound)
		return fmt.Errorf("ike: install outbound SA: %w", err)
	}
	sa.children = append(sa.children, ChildSA{Name: t.config.Name, Suite: t.suite, Mode: t.config.Mode,
		Encap: base.Encap, InboundSPI: t.inSPI, OutboundSPI: t.outSPI,
		LocalTS: t.localTS, RemoteTS: t.remoteTS, Installed: sa.conn.Clock.Now()})
	sa.log.Info("CHILD_SA installed", zap.String("child", t.config.Name), zap.String("suite", t.suite.String()),
		zap.String("spi_in", fmt.Sprintf("%08x", t.inSPI)), zap.String("spi_out", fmt.Sprintf("%08x", t.outSPI)),
		zap.Stringers("local_ts", t.localTS), zap.Stringers("remote_ts", t.remoteTS))
	return nil
}

func findTS(msg *message.Message) (tsi, tsr *message.TS) {
	tsi, _ = msg.Find(message.PayloadTSi).(*message.TS)
	tsr, _ = msg.Find(message.PayloadTSr).(*message.TS)
	return tsi, tsr
}

// offeredESP is the SAi2 payload's proposals with our inbound SPI.
func (c *childConfig) offeredESP(spi uint32) []message.Proposal {
	ps := make([]message.Proposal, len(c.espSuites))
	for i, s := range c.espSuites {
		ps[i] = espProposal(uint8(i+1), s, spi)
	}
	return ps
}

func (c *connection) childNames() []string {
	names := make([]string, len(c.children))
	for i, ch := range c.children {
		names[i] = ch.Name
	}
	return names
}
