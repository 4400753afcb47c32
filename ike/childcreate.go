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
		msg.Payloads = append(msg.Payloads,
			&message.SA{Proposals: sa.conn.offeredESP(spi)},
			&message.TS{Selectors: selectors(sa.conn.LocalTS)},
			&message.TS{Responder: true, Selectors: selectors(sa.conn.RemoteTS)})
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
	suite, chosen, ok := selectESP(sa.conn.espSuites, saPayload.Proposals)
	if !ok {
		sa.log.Warn("NO_PROPOSAL_CHOSEN: none of the peer's ESP proposals is configured",
			zap.String("received", proposalsString(saPayload.Proposals)),
			zap.String("configured", proposalsString(sa.conn.offeredESP(0))))
		t.failure = message.NewNotify(message.NotifyNoProposalChosen, nil)
		return
	}
	outSPI, ok := chosen.SPI32()
	if !ok || outSPI < 256 {
		t.failure = message.NewNotify(message.NotifyInvalidSyntax, nil)
		return
	}
	// TSi describes the initiator's side, our remote; TSr ours.
	t.remoteTS = narrow(tsi.Selectors, sa.conn.RemoteTS)
	t.localTS = narrow(tsr.Selectors, sa.conn.LocalTS)
	if len(t.localTS) == 0 || len(t.remoteTS) == 0 {
		sa.log.Warn("TS_UNACCEPTABLE: the peer's traffic selectors do not meet ours",
			zap.Stringers("received_tsi", tsi.Selectors), zap.Stringers("received_tsr", tsr.Selectors),
			zap.Stringers("local_ts", sa.conn.LocalTS), zap.Stringers("remote_ts", sa.conn.RemoteTS))
		t.failure = message.NewNotify(message.NotifyTSUnacceptable, nil)
		return
	}
	t.suite, t.outSPI, t.proposalNumber = suite, outSPI, chosen.Number
}

func (t *childCreate) processResponse(resp *message.Message) error {
	sa := t.sa
	for _, n := range resp.Notifies() {
		if n.NotifyType.IsError() {
			sa.log.Warn("CHILD_SA not created", zap.Stringer("notify", n.NotifyType))
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
	if !okL || !okR || !selectorsWithin(local, sa.conn.LocalTS) || !selectorsWithin(remote, sa.conn.RemoteTS) {
		return fmt.Errorf("%w: responder's selectors %v/%v are not within ours", ErrTSUnacceptable, tsi.Selectors, tsr.Selectors)
	}
	t.suite, t.outSPI, t.localTS, t.remoteTS = suite, outSPI, local, remote
	return t.install()
}

func (t *childCreate) accepted(got message.Proposal) (crypto.Suite, bool) {
	for _, s := range t.sa.conn.espSuites {
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
		Mode:     installer.Tunnel,
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
	in.ReplayWindow = sa.conn.ReplayWindow
	out := base
	out.SPI, out.Direction, out.EncKey, out.IntegKey = t.outSPI, installer.Outbound, outEnc, outInteg
	if err := sa.conn.Installer.Add(in); err != nil {
		return fmt.Errorf("ike: install inbound SA: %w", err)
	}
	if err := sa.conn.Installer.Add(out); err != nil {
		_ = sa.conn.Installer.Delete(in.SPI, installer.Inbound)
		return fmt.Errorf("ike: install outbound SA: %w", err)
	}
	sa.children = append(sa.children, ChildSA{Suite: t.suite, InboundSPI: t.inSPI, OutboundSPI: t.outSPI,
		LocalTS: t.localTS, RemoteTS: t.remoteTS})
	sa.log.Info("CHILD_SA installed", zap.String("suite", t.suite.String()),
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
func (c *connection) offeredESP(spi uint32) []message.Proposal {
	ps := make([]message.Proposal, len(c.espSuites))
	for i, s := range c.espSuites {
		ps[i] = espProposal(uint8(i+1), s, spi)
	}
	return ps
}
