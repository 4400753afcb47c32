package ike

import (
	"bytes"
	"fmt"
	"net/netip"
	"slices"

	"go.uber.org/zap"

	"github.com/espd/espd/crypto"
	"github.com/espd/espd/esp/installer"
	"github.com/espd/espd/ike/message"
)

// childCreate negotiates one CHILD_SA. The first rides in IKE_AUTH (RFC 7296
// §1.2) and takes its keys from IKE_SA_INIT's nonces; every other has a
// CREATE_CHILD_SA exchange of its own (§1.3.1):
//
//	HDR, SK {[N(REKEY_SA)], [N+], SA, Ni, [KEi], TSi, TSr}  -->
//	                              <--  HDR, SK {[N+], SA, Nr, [KEr], TSi, TSr}
//
// The initiator offers its proposals with its inbound SPI and TSi/TSr; the
// responder answers with the chosen proposal, its SPI and the selectors
// narrowed to its policy (§2.9). A D-H group in the ESP proposal asks for
// a KE payload (PFS); KEYMAT = prf+(SK_d, [g^ir (new) |] Ni | Nr) (§2.17).
// A failure here leaves the IKE SA up. childRekey (childrekey.go) drives
// this task with REKEY_SA for a rekey (§1.3.3).
type childCreate struct {
	sa        *IKESA
	initiator bool
	// auth: the CHILD_SA rides in IKE_AUTH.
	auth bool
	// config is the CHILD_SA configuration: the initiator's choice, or the
	// one whose selectors fit the request (responder).
	config *childConfig
	// rekey is the CHILD_SA this one replaces; its selectors are proposed
	// again. holdOutbound keeps the new outbound SA out of the data plane
	// until the rekey is settled (make-before-break, §2.8).
	rekey        *childSA
	holdOutbound bool

	inSPI, outSPI     uint32
	suite             crypto.Suite
	proposalNumber    uint8
	localTS, remoteTS []netip.Prefix
	// nonceI and nonceR are this exchange's nonces; group, ke and shared
	// its key exchange (none without PFS).
	nonceI, nonceR []byte
	group          uint16
	groupSet       bool
	ke             crypto.KeyExchange
	shared         []byte
	// failure is the notification the responder sends instead of SA and
	// TS payloads; refused the one the initiator got.
	failure *message.Notify
	refused *message.Notify
	// child is the CHILD_SA installed.
	child *childSA
}

func (t *childCreate) exchange() message.ExchangeType {
	if t.auth {
		return message.ExchangeIKEAuth
	}
	return message.ExchangeCreateChildSA
}

// skip drops a queued CREATE_CHILD_SA once the IKE SA cannot carry it.
func (t *childCreate) skip() bool {
	return !t.auth && t.sa.state != StateEstablished && t.sa.state != StateRekeying
}

// rebind moves a queued task to the IKE SA that replaced its own.
func (t *childCreate) rebind(sa *IKESA) { t.sa = sa }

func (t *childCreate) build(msg *message.Message) error {
	if !t.initiator {
		return t.buildResponse(msg)
	}
	sa := t.sa
	if t.inSPI == 0 {
		spi, err := sa.conn.Installer.AllocateSPI()
		if err != nil {
			return fmt.Errorf("ike: allocate SPI: %w", err)
		}
		t.inSPI = spi
	}
	localTS, remoteTS := sa.selectors(t.config)
	if t.rekey != nil {
		// The REKEY_SA notify names the SA by the SPI we receive on
		// (RFC 7296 §1.3.3), and the new SA keeps its selectors.
		msg.Payloads = append(msg.Payloads,
			message.NewChildSANotify(message.NotifyRekeySA, message.ProtocolESP, t.rekey.InboundSPI, nil))
		localTS, remoteTS = t.rekey.LocalTS, t.rekey.RemoteTS
	}
	if t.config.Mode == installer.Transport {
		msg.Payloads = append(msg.Payloads, message.NewNotify(message.NotifyUseTransportMode, nil))
	}
	if t.auth {
		msg.Payloads = append(msg.Payloads, &message.SA{Proposals: t.config.offeredESP(t.inSPI, false)})
	} else {
		nonce, err := sa.conn.newNonce()
		if err != nil {
			return err
		}
		t.nonceI = nonce
		if !t.groupSet {
			t.group, t.groupSet = t.config.pfsGroup(t.rekey), true
		}
		msg.Payloads = append(msg.Payloads,
			&message.SA{Proposals: t.config.offeredESP(t.inSPI, true)},
			&message.Nonce{Data: nonce})
		if t.group != crypto.DHGroupNone {
			if t.ke == nil || t.ke.Group() != t.group {
				if t.ke, err = crypto.NewKeyExchange(t.group); err != nil {
					return fmt.Errorf("ike: %w", err)
				}
			}
			msg.Payloads = append(msg.Payloads, &message.KE{Group: t.group, Data: t.ke.PublicValue()})
		}
	}
	msg.Payloads = append(msg.Payloads,
		&message.TS{Selectors: selectors(localTS)},
		&message.TS{Responder: true, Selectors: selectors(remoteTS)})
	return nil
}

// buildResponse installs the CHILD_SA and answers with it, or with the
// failure found in the request.
func (t *childCreate) buildResponse(msg *message.Message) error {
	sa := t.sa
	if t.failure == nil {
		if err := t.installResponder(); err != nil {
			sa.log.Warn("NO_PROPOSAL_CHOSEN: cannot install the CHILD_SA", zap.String("child", t.config.Name), zap.Error(err))
			t.failure = message.NewNotify(message.NotifyNoProposalChosen, nil)
		}
	}
	if t.failure != nil {
		msg.Payloads = append(msg.Payloads, t.failure)
		return nil
	}
	if t.config.Mode == installer.Transport {
		msg.Payloads = append(msg.Payloads, message.NewNotify(message.NotifyUseTransportMode, nil))
	}
	msg.Payloads = append(msg.Payloads,
		&message.SA{Proposals: []message.Proposal{espProposal(t.proposalNumber, t.suite, t.inSPI, !t.auth)}})
	if !t.auth {
		msg.Payloads = append(msg.Payloads, &message.Nonce{Data: t.nonceR})
		if t.ke != nil {
			msg.Payloads = append(msg.Payloads, &message.KE{Group: t.ke.Group(), Data: t.ke.PublicValue()})
		}
	}
	msg.Payloads = append(msg.Payloads,
		&message.TS{Selectors: selectors(t.remoteTS)},
		&message.TS{Responder: true, Selectors: selectors(t.localTS)})
	return nil
}

func (t *childCreate) installResponder() error {
	spi, err := t.sa.conn.Installer.AllocateSPI()
	if err != nil {
		return fmt.Errorf("ike: allocate SPI: %w", err)
	}
	t.inSPI = spi
	return t.install()
}

func (t *childCreate) process(msg *message.Message) (taskStatus, error) {
	if t.initiator {
		return t.processResponse(msg)
	}
	t.processRequest(msg)
	return taskDone, nil
}

// refuse makes the responder answer with notification n.
func (t *childCreate) refuse(n message.NotifyType, data []byte) {
	t.failure = message.NewNotify(n, data)
}

func (t *childCreate) processRequest(req *message.Message) {
	sa := t.sa
	saPayload, _ := req.Find(message.PayloadSA).(*message.SA)
	tsi, tsr := findTS(req)
	nonce, _ := req.Find(message.PayloadNonce).(*message.Nonce)
	if saPayload == nil || tsi == nil || tsr == nil || (!t.auth && nonce == nil) {
		t.refuse(message.NotifyInvalidSyntax, nil)
		return
	}
	if !t.auth && sa.state != StateEstablished {
		// RFC 7296 §2.25.2: no new CHILD_SA while the IKE SA is being
		// rekeyed or deleted.
		sa.log.Info("TEMPORARY_FAILURE: CREATE_CHILD_SA while the IKE SA is busy", zap.Stringer("state", sa.state))
		t.refuse(message.NotifyTemporaryFailure, nil)
		return
	}
	// TSi describes the initiator's side, our remote; TSr ours. The first
	// child whose selectors meet the peer's is the one (strongSwan picks
	// the best fit; espd's configurations rarely overlap). A rekey stays
	// with the child it replaces.
	transport := req.Notify(message.NotifyUseTransportMode) != nil
	candidates := sa.conn.children
	if t.rekey != nil {
		candidates = []*childConfig{t.rekey.config}
	}
	for _, ch := range candidates {
		ours, theirs := sa.selectors(ch)
		remote, local := narrow(tsi.Selectors, theirs), narrow(tsr.Selectors, ours)
		if len(local) > 0 && len(remote) > 0 && transport == (ch.Mode == installer.Transport) {
			t.config, t.localTS, t.remoteTS = ch, local, remote
			break
		}
	}
	if t.config == nil {
		sa.log.Warn("TS_UNACCEPTABLE: the peer's traffic selectors (or mode) meet none of our children",
			zap.Stringers("received_tsi", tsi.Selectors), zap.Stringers("received_tsr", tsr.Selectors),
			zap.Bool("transport", transport), zap.Strings("children", sa.conn.childNames()))
		t.refuse(message.NotifyTSUnacceptable, nil)
		return
	}
	suite, chosen, ok := selectESP(t.config.espSuites, saPayload.Proposals, !t.auth)
	if !ok {
		sa.log.Warn("NO_PROPOSAL_CHOSEN: none of the peer's ESP proposals is configured",
			zap.String("child", t.config.Name),
			zap.String("received", proposalsString(saPayload.Proposals)),
			zap.String("configured", proposalsString(t.config.offeredESP(0, !t.auth))))
		t.refuse(message.NotifyNoProposalChosen, nil)
		return
	}
	outSPI, ok := chosen.SPI32()
	if !ok || outSPI < 256 {
		t.refuse(message.NotifyInvalidSyntax, nil)
		return
	}
	t.suite, t.outSPI, t.proposalNumber = suite, outSPI, chosen.Number
	if t.auth {
		return
	}
	if len(nonce.Data) < message.MinNonceLen || len(nonce.Data) < sa.suite.PRF.MinNonceLen() || len(nonce.Data) > message.MaxNonceLen {
		t.refuse(message.NotifyInvalidSyntax, nil)
		return
	}
	t.nonceI = slices.Clone(nonce.Data)
	if suite.DHGroup != crypto.DHGroupNone {
		// RFC 7296 §1.3.1: a KE of another group than the chosen
		// proposal's is refused with INVALID_KE_PAYLOAD naming ours.
		ke, _ := req.Find(message.PayloadKE).(*message.KE)
		if ke == nil || ke.Group != suite.DHGroup {
			got := uint16(0)
			if ke != nil {
				got = ke.Group
			}
			sa.log.Info("asking the peer for another PFS group (INVALID_KE_PAYLOAD)",
				zap.String("child", t.config.Name), zap.Uint16("received", got), zap.Uint16("wanted", suite.DHGroup))
			t.refuse(message.NotifyInvalidKEPayload, []byte{byte(suite.DHGroup >> 8), byte(suite.DHGroup)})
			return
		}
		ours, err := crypto.NewKeyExchange(suite.DHGroup)
		if err != nil {
			t.refuse(message.NotifyNoProposalChosen, nil)
			return
		}
		shared, err := ours.SharedSecret(ke.Data)
		if err != nil {
			sa.log.Info("peer's PFS public value is unusable", zap.Error(err))
			t.refuse(message.NotifyInvalidSyntax, nil)
			return
		}
		t.ke, t.shared = ours, shared
	}
	nr, err := sa.conn.newNonce()
	if err != nil {
		t.refuse(message.NotifyNoProposalChosen, nil)
		return
	}
	t.nonceR = nr
}

func (t *childCreate) processResponse(resp *message.Message) (taskStatus, error) {
	sa := t.sa
	for _, n := range resp.Notifies() {
		if !n.NotifyType.IsError() {
			continue
		}
		if n.NotifyType == message.NotifyInvalidKEPayload && !t.auth {
			group, err := n.InvalidKEGroup()
			if err == nil && group != t.group && t.config.offersGroup(group) {
				sa.log.Info("peer asked for another PFS group, retrying CREATE_CHILD_SA",
					zap.String("child", t.config.Name), zap.Uint16("from", t.group), zap.Uint16("to", group))
				t.group = group
				return taskRetry, nil
			}
		}
		sa.log.Warn("CHILD_SA not created: the peer refused it", zap.String("child", t.config.Name),
			zap.Stringer("notify", n.NotifyType))
		t.refused = n
		sa.setChildError(t.config.Name, peerError(n))
		return taskDone, nil
	}
	if err := t.acceptResponse(resp); err != nil {
		if t.auth {
			return taskDone, err
		}
		// The peer has installed an SA that we will not: tell it to
		// delete the SA (named by our inbound SPI, RFC 7296 §3.11).
		sa.log.Warn("CHILD_SA not created: the peer's answer is unacceptable", zap.String("child", t.config.Name), zap.Error(err))
		sa.setChildError(t.config.Name, err)
		t.refused = message.NewNotify(message.NotifyNoProposalChosen, nil)
		sa.tm.queueFirst(&childDelete{sa: sa, initiator: true, orphans: []uint32{t.inSPI}})
		return taskDone, nil
	}
	if err := t.install(); err != nil {
		if t.auth {
			return taskDone, err
		}
		sa.log.Warn("cannot install the CHILD_SA", zap.String("child", t.config.Name), zap.Error(err))
		sa.setChildError(t.config.Name, err)
		sa.tm.queueFirst(&childDelete{sa: sa, initiator: true, orphans: []uint32{t.inSPI}})
	}
	return taskDone, nil
}

// acceptResponse checks the responder's choice against what we offered.
func (t *childCreate) acceptResponse(resp *message.Message) error {
	sa := t.sa
	saPayload, _ := resp.Find(message.PayloadSA).(*message.SA)
	tsi, tsr := findTS(resp)
	if saPayload == nil || tsi == nil || tsr == nil || len(saPayload.Proposals) != 1 {
		return fmt.Errorf("%w: %v response without one SA, TSi and TSr", ErrUnexpected, resp.Header.Exchange)
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
	ours, theirs := sa.selectors(t.config)
	if !okL || !okR || !selectorsWithin(local, ours) || !selectorsWithin(remote, theirs) {
		return fmt.Errorf("%w: responder's selectors %v/%v are not within ours", ErrTSUnacceptable, tsi.Selectors, tsr.Selectors)
	}
	if !t.auth {
		nonce, _ := resp.Find(message.PayloadNonce).(*message.Nonce)
		if nonce == nil || len(nonce.Data) < message.MinNonceLen || len(nonce.Data) < sa.suite.PRF.MinNonceLen() || len(nonce.Data) > message.MaxNonceLen {
			return fmt.Errorf("%w: CREATE_CHILD_SA response without a usable nonce", ErrUnexpected)
		}
		t.nonceR = slices.Clone(nonce.Data)
		if suite.DHGroup != crypto.DHGroupNone {
			ke, _ := resp.Find(message.PayloadKE).(*message.KE)
			if ke == nil || t.ke == nil || ke.Group != suite.DHGroup || t.ke.Group() != suite.DHGroup {
				return fmt.Errorf("%w: PFS response without a KE of group %d", ErrInvalidKE, suite.DHGroup)
			}
			shared, err := t.ke.SharedSecret(ke.Data)
			if err != nil {
				return fmt.Errorf("%w: %w", ErrInvalidKE, err)
			}
			t.shared = shared
		}
	}
	t.suite, t.outSPI, t.localTS, t.remoteTS = suite, outSPI, local, remote
	return nil
}

func (t *childCreate) accepted(got message.Proposal) (crypto.Suite, bool) {
	for _, s := range t.config.espSuites {
		if t.auth {
			s.DHGroup = crypto.DHGroupNone
		}
		want := espProposal(got.Number, s, 0, !t.auth)
		if got.Protocol == message.ProtocolESP && covers(got, want) && len(got.Transforms) == len(want.Transforms) {
			return s, true
		}
	}
	return crypto.Suite{}, false
}

// install derives KEYMAT (RFC 7296 §2.17) and adds the CHILD_SA: IKE_AUTH's
// from IKE_SA_INIT's nonces, CREATE_CHILD_SA's from its own and any PFS
// secret.
func (t *childCreate) install() error {
	sa := t.sa
	ni, nr := sa.ni, sa.nr
	if !t.auth {
		ni, nr = t.nonceI, t.nonceR
	}
	keys, err := crypto.DeriveChildSAKeys(sa.suite.PRF, sa.keys.D, t.shared, ni, nr, t.suite.EncKeyLen, t.suite.IntegKeyLen)
	if err != nil {
		return fmt.Errorf("ike: CHILD_SA keys: %w", err)
	}
	c, err := sa.installChild(childKeys{
		config: t.config, suite: t.suite, inSPI: t.inSPI, outSPI: t.outSPI,
		localTS: t.localTS, remoteTS: t.remoteTS, keys: keys,
		exchangeInitiator: t.initiator, holdOutbound: t.holdOutbound,
	})
	if err != nil {
		return err
	}
	delete(sa.childErrors, t.config.Name)
	t.child = c
	return nil
}

// lowestNonce is the smaller of the exchange's nonces, which decides a
// rekey collision (RFC 7296 §2.8.1).
func (t *childCreate) lowestNonce() []byte {
	return lowerNonce(t.nonceI, t.nonceR)
}

func lowerNonce(a, b []byte) []byte {
	if bytes.Compare(a, b) <= 0 {
		return a
	}
	return b
}

func findTS(msg *message.Message) (tsi, tsr *message.TS) {
	tsi, _ = msg.Find(message.PayloadTSi).(*message.TS)
	tsr, _ = msg.Find(message.PayloadTSr).(*message.TS)
	return tsi, tsr
}

// offeredESP is the SA payload's proposals with our inbound SPI; pfs adds
// the D-H groups (CREATE_CHILD_SA).
func (c *childConfig) offeredESP(spi uint32, pfs bool) []message.Proposal {
	ps := make([]message.Proposal, len(c.espSuites))
	for i, s := range c.espSuites {
		ps[i] = espProposal(uint8(i+1), s, spi, pfs)
	}
	return ps
}

// pfsGroup is the D-H group of our first KE: the group the rekeyed SA
// used, if we still propose it (strongSwan's prefer_previous_dh_group),
// else the first proposal's; DHGroupNone without PFS.
func (c *childConfig) pfsGroup(previous *childSA) uint16 {
	if previous != nil && previous.Suite.DHGroup != crypto.DHGroupNone && c.offersGroup(previous.Suite.DHGroup) {
		return previous.Suite.DHGroup
	}
	return c.espSuites[0].DHGroup
}

func (c *childConfig) offersGroup(group uint16) bool {
	for _, s := range c.espSuites {
		if s.DHGroup == group && group != crypto.DHGroupNone {
			return true
		}
	}
	return false
}

func (c *connection) childNames() []string {
	names := make([]string, len(c.children))
	for i, ch := range c.children {
		names[i] = ch.Name
	}
	return names
}

// selectors are a child's configured traffic selectors with "dynamic"
// resolved to this IKE SA's own addresses.
func (sa *IKESA) selectors(ch *childConfig) (local, remote []netip.Prefix) {
	local, remote = ch.LocalTS, ch.RemoteTS
	if ch.LocalDynamic {
		a := sa.local.Addr().Unmap()
		local = append(slices.Clone(local), netip.PrefixFrom(a, a.BitLen()))
	}
	if ch.RemoteDynamic {
		a := sa.remote.Addr().Unmap()
		remote = append(slices.Clone(remote), netip.PrefixFrom(a, a.BitLen()))
	}
	return local, remote
}
