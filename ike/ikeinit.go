package ike

import (
	"fmt"
	"slices"

	"go.uber.org/zap"

	"github.com/espd/espd/crypto"
	"github.com/espd/espd/ike/message"
)

// ikeInit is the IKE_SA_INIT exchange (RFC 7296 §1.2):
//
//	HDR, SAi1, KEi, Ni  -->
//	                    <--  HDR, SAr1, KEr, Nr
//
// after which both sides derive the IKE SA's keys (§2.14).
type ikeInit struct {
	sa        *IKESA
	initiator bool
	// group is the D-H group of our KE: the first proposal's, or the one
	// an INVALID_KE_PAYLOAD asked for.
	group  uint16
	ke     crypto.KeyExchange
	nonce  []byte
	chosen message.Proposal // responder
	// cookie is the responder's COOKIE, returned first in the retried
	// request (RFC 7296 §2.6); cookieRetries bounds how often a responder
	// may ask (strongSwan gives up after 5).
	cookie        []byte
	cookieRetries int
}

func (t *ikeInit) exchange() message.ExchangeType { return message.ExchangeIKESAInit }

func (t *ikeInit) build(msg *message.Message) error {
	if !t.initiator {
		msg.Payloads = append(msg.Payloads,
			&message.SA{Proposals: []message.Proposal{t.chosen}},
			&message.KE{Group: t.ke.Group(), Data: t.ke.PublicValue()},
			&message.Nonce{Data: t.sa.nr})
		return nil
	}
	// A retry after INVALID_KE_PAYLOAD or COOKIE keeps the nonce: the
	// COOKIE is bound to it (RFC 7296 §2.6, "all other payloads unchanged").
	var err error
	if t.nonce == nil {
		if t.nonce, err = randomNonce(); err != nil {
			return err
		}
	}
	if t.ke == nil || t.ke.Group() != t.group {
		if t.ke, err = crypto.NewKeyExchange(t.group); err != nil {
			return fmt.Errorf("ike: %w", err)
		}
	}
	t.sa.ni = t.nonce
	if t.cookie != nil {
		msg.Payloads = append(msg.Payloads, message.NewNotify(message.NotifyCookie, t.cookie))
	}
	msg.Payloads = append(msg.Payloads,
		&message.SA{Proposals: t.sa.conn.offeredIKE()},
		&message.KE{Group: t.group, Data: t.ke.PublicValue()},
		&message.Nonce{Data: t.nonce})
	return nil
}

func (t *ikeInit) process(msg *message.Message) (taskStatus, error) {
	if t.initiator {
		return t.processResponse(msg)
	}
	return taskDone, t.processRequest(msg)
}

func (t *ikeInit) processRequest(req *message.Message) error {
	sa := t.sa
	saPayload, _ := req.Find(message.PayloadSA).(*message.SA)
	ke, _ := req.Find(message.PayloadKE).(*message.KE)
	nonce, _ := req.Find(message.PayloadNonce).(*message.Nonce)
	if saPayload == nil || ke == nil || nonce == nil {
		return withNotify(message.NotifyInvalidSyntax, nil, fmt.Errorf("%w: IKE_SA_INIT without SA, KE or Nonce", ErrUnexpected))
	}
	suite, chosen, ok := selectIKE(sa.conn.ikeSuites, saPayload.Proposals)
	if !ok {
		sa.log.Warn("NO_PROPOSAL_CHOSEN: none of the peer's IKE proposals is configured",
			zap.String("received", proposalsString(saPayload.Proposals)),
			zap.String("configured", proposalsString(sa.conn.offeredIKE())))
		return withNotify(message.NotifyNoProposalChosen, nil, fmt.Errorf("%w: IKE proposals", ErrNoProposalChosen))
	}
	if ke.Group != suite.DHGroup {
		sa.log.Info("asking the peer for another D-H group (INVALID_KE_PAYLOAD)",
			zap.Uint16("received", ke.Group), zap.Uint16("wanted", suite.DHGroup))
		return withNotify(message.NotifyInvalidKEPayload, []byte{byte(suite.DHGroup >> 8), byte(suite.DHGroup)},
			fmt.Errorf("%w: group %d, want %d", ErrInvalidKE, ke.Group, suite.DHGroup))
	}
	if err := checkNonce(suite, nonce.Data); err != nil {
		return withNotify(message.NotifyInvalidSyntax, nil, err)
	}
	ours, err := crypto.NewKeyExchange(suite.DHGroup)
	if err != nil {
		return fmt.Errorf("ike: %w", err)
	}
	shared, err := ours.SharedSecret(ke.Data)
	if err != nil {
		return withNotify(message.NotifyInvalidSyntax, nil, fmt.Errorf("%w: %w", ErrInvalidKE, err))
	}
	nr, err := randomNonce()
	if err != nil {
		return err
	}
	sa.spiI = req.Header.SPIi
	sa.ni, sa.nr = slices.Clone(nonce.Data), nr
	if err := sa.deriveKeys(suite, shared); err != nil {
		return err
	}
	if err := sa.transition(StateCreated, StateConnecting); err != nil {
		return err
	}
	sa.armHalfOpen()
	t.ke, t.chosen = ours, chosen
	return nil
}

func (t *ikeInit) processResponse(resp *message.Message) (taskStatus, error) {
	sa := t.sa
	if n := resp.Notify(message.NotifyCookie); n != nil {
		if t.cookieRetries++; t.cookieRetries > 5 {
			return taskDone, fmt.Errorf("%w: the responder asked for a COOKIE %d times", ErrPeerError, t.cookieRetries)
		}
		sa.log.Info("responder is under load and asks for a COOKIE, retrying IKE_SA_INIT")
		t.cookie = slices.Clone(n.Data)
		return taskRetry, nil
	}
	if n := resp.Notify(message.NotifyInvalidKEPayload); n != nil {
		group, err := n.InvalidKEGroup()
		if err != nil || group == t.group || !sa.conn.offersGroup(group) {
			return taskDone, fmt.Errorf("%w: peer wants D-H group %d, which we do not propose", ErrInvalidKE, group)
		}
		sa.log.Info("peer asked for another D-H group, retrying IKE_SA_INIT",
			zap.Uint16("from", t.group), zap.Uint16("to", group))
		t.group = group
		return taskRetry, nil
	}
	for _, n := range resp.Notifies() {
		if n.NotifyType.IsError() {
			if n.NotifyType == message.NotifyNoProposalChosen {
				sa.log.Warn("NO_PROPOSAL_CHOSEN: the peer accepts none of our IKE proposals",
					zap.String("configured", proposalsString(sa.conn.offeredIKE())))
			}
			return taskDone, peerError(n)
		}
	}
	saPayload, _ := resp.Find(message.PayloadSA).(*message.SA)
	ke, _ := resp.Find(message.PayloadKE).(*message.KE)
	nonce, _ := resp.Find(message.PayloadNonce).(*message.Nonce)
	if saPayload == nil || ke == nil || nonce == nil || len(saPayload.Proposals) != 1 {
		return taskDone, fmt.Errorf("%w: IKE_SA_INIT response without one SA, KE and Nonce", ErrUnexpected)
	}
	got := saPayload.Proposals[0]
	suite, ok := t.accepted(got)
	if !ok {
		return taskDone, fmt.Errorf("%w: peer chose %v, which we did not propose", ErrNoProposalChosen, got)
	}
	if ke.Group != suite.DHGroup || t.ke.Group() != suite.DHGroup {
		return taskDone, fmt.Errorf("%w: response KE group %d for proposal %v", ErrInvalidKE, ke.Group, got)
	}
	if err := checkNonce(suite, nonce.Data); err != nil {
		return taskDone, err
	}
	if resp.Header.SPIr == 0 {
		return taskDone, fmt.Errorf("%w: IKE_SA_INIT response without responder SPI", ErrUnexpected)
	}
	shared, err := t.ke.SharedSecret(ke.Data)
	if err != nil {
		return taskDone, fmt.Errorf("%w: %w", ErrInvalidKE, err)
	}
	sa.spiR = resp.Header.SPIr
	sa.nr = slices.Clone(nonce.Data)
	return taskDone, sa.deriveKeys(suite, shared)
}

// accepted finds our suite that the responder's chosen proposal is exactly.
func (t *ikeInit) accepted(got message.Proposal) (crypto.IKESuite, bool) {
	for _, s := range t.sa.conn.ikeSuites {
		want := ikeProposal(got.Number, s)
		if len(got.Transforms) == len(want.Transforms) && covers(got, want) && len(got.SPI) == 0 {
			return s, true
		}
	}
	return crypto.IKESuite{}, false
}

func checkNonce(suite crypto.IKESuite, n []byte) error {
	if len(n) < message.MinNonceLen || len(n) < suite.PRF.MinNonceLen() || len(n) > message.MaxNonceLen {
		return fmt.Errorf("%w: nonce of %d bytes", ErrUnexpected, len(n))
	}
	return nil
}

// offeredIKE is the SA payload's proposals, numbered from 1 (RFC 7296 §3.3).
func (c *connection) offeredIKE() []message.Proposal {
	ps := make([]message.Proposal, len(c.ikeSuites))
	for i, s := range c.ikeSuites {
		ps[i] = ikeProposal(uint8(i+1), s)
	}
	return ps
}

func (c *connection) offersGroup(group uint16) bool {
	for _, s := range c.ikeSuites {
		if s.DHGroup == group {
			return true
		}
	}
	return false
}
