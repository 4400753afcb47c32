package ike

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/espd/espd/crypto"
	"github.com/espd/espd/ike/message"
)

// ikeRekey replaces the IKE SA with a new one (RFC 7296 §1.3.2, §2.18):
//
//	CREATE_CHILD_SA { SA(new SPIi), Ni, KEi }  -->
//	                          <--  CREATE_CHILD_SA { SA(new SPIr), Nr, KEr }
//	INFORMATIONAL { D(IKE) } on the old SA  -->
//	                                          <--  INFORMATIONAL { }
//
// Both derive SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr) with the old
// SA's PRF, then the new SA's keys as in §2.14 with the new SPIs. As in
// strongSwan, the rekey makes a new *IKESA: established, message IDs from
// 0 in both directions, the same configuration; the CHILD_SAs and queued
// exchanges move to it, and whoever initiated the rekey becomes its
// original initiator. The old SA is deleted by the rekey's initiator and
// answers nothing but that Delete meanwhile. The Observer hears of the new
// SA (Rekeyed) before it sends anything, and of the old one when it goes.
//
// When both peers rekey at once (§2.8.2), each answers the other's request
// while its own is out and so holds two new SAs. The one made with the
// lowest of the four nonces is redundant: the peer that initiated it
// deletes it, and the old SA is deleted by the peer that initiated the
// surviving one.
type ikeRekey struct {
	sa        *IKESA
	initiator bool

	// spi is our SPI in the new SA; group, ke and nonce our key exchange.
	spi      uint64
	group    uint16
	groupSet bool
	ke       crypto.KeyExchange
	nonce    []byte
	started  bool
	// next is the new SA the exchange made.
	next *IKESA
	// passive is the new SA of the peer's colliding rekey, which we
	// answered while our request was out; passiveLowest is that
	// exchange's lower nonce.
	passive       *IKESA
	passiveLowest []byte

	// Responder: the refusal, the chosen proposal with our new SPI, and
	// whether our own rekey is out (a collision).
	failure   *message.Notify
	chosen    message.Proposal
	collision bool
}

func (t *ikeRekey) exchange() message.ExchangeType { return message.ExchangeCreateChildSA }

func (t *ikeRekey) skip() bool {
	return !t.started && t.sa.state != StateEstablished
}

func (t *ikeRekey) build(msg *message.Message) error {
	if !t.initiator {
		return t.buildResponse(msg)
	}
	sa := t.sa
	var err error
	if !t.started {
		if err := sa.transition(StateEstablished, StateRekeying); err != nil {
			return err
		}
		stopTimer(sa.rekeyTimer)
		if t.spi, err = randomSPI(); err != nil {
			return err
		}
		t.started = true
		sa.log.Info("rekeying IKE SA")
	}
	if !t.groupSet {
		t.group, t.groupSet = sa.conn.ikeSuites[0].DHGroup, true
		if sa.conn.offersGroup(sa.suite.DHGroup) {
			// strongSwan's prefer_previous_dh_group.
			t.group = sa.suite.DHGroup
		}
	}
	if t.nonce, err = sa.conn.newNonce(); err != nil {
		return err
	}
	if t.ke == nil || t.ke.Group() != t.group {
		if t.ke, err = crypto.NewKeyExchange(t.group); err != nil {
			return fmt.Errorf("ike: %w", err)
		}
	}
	proposals := sa.conn.offeredIKE()
	for i := range proposals {
		proposals[i].SPI = binary.BigEndian.AppendUint64(nil, t.spi)
	}
	msg.Payloads = append(msg.Payloads,
		&message.SA{Proposals: proposals},
		&message.Nonce{Data: t.nonce},
		&message.KE{Group: t.group, Data: t.ke.PublicValue()})
	return nil
}

func (t *ikeRekey) process(msg *message.Message) (taskStatus, error) {
	if !t.initiator {
		t.processRequest(msg)
		return taskDone, nil
	}
	sa := t.sa
	for _, n := range msg.Notifies() {
		if !n.NotifyType.IsError() {
			continue
		}
		if n.NotifyType == message.NotifyInvalidKEPayload {
			group, err := n.InvalidKEGroup()
			if err == nil && group != t.group && sa.conn.offersGroup(group) {
				sa.log.Info("peer asked for another D-H group, retrying the IKE SA rekey",
					zap.Uint16("from", t.group), zap.Uint16("to", group))
				t.group = group
				return taskRetry, nil
			}
		}
		t.abort(n.NotifyType, peerError(n))
		return taskDone, nil
	}
	next, err := t.acceptResponse(msg)
	if err != nil {
		// The peer may hold the new SA; without keys we cannot delete it
		// there, and it times out.
		sa.log.Warn("IKE SA rekey failed: the peer's answer is unacceptable", zap.Error(err))
		t.abort(0, err)
		return taskDone, nil
	}
	t.next = next
	t.conclude()
	return taskDone, nil
}

func (t *ikeRekey) acceptResponse(resp *message.Message) (*IKESA, error) {
	sa := t.sa
	saPayload, _ := resp.Find(message.PayloadSA).(*message.SA)
	ke, _ := resp.Find(message.PayloadKE).(*message.KE)
	nonce, _ := resp.Find(message.PayloadNonce).(*message.Nonce)
	if saPayload == nil || ke == nil || nonce == nil || len(saPayload.Proposals) != 1 {
		return nil, fmt.Errorf("%w: IKE rekey response without one SA, KE and Nonce", ErrUnexpected)
	}
	got := saPayload.Proposals[0]
	spiR, ok := got.SPI64()
	if !ok || spiR == 0 {
		return nil, fmt.Errorf("%w: IKE rekey response without the responder's new SPI", ErrUnexpected)
	}
	var suite crypto.IKESuite
	found := false
	for _, s := range sa.conn.ikeSuites {
		want := ikeProposal(got.Number, s)
		if len(got.Transforms) == len(want.Transforms) && covers(got, want) {
			suite, found = s, true
			break
		}
	}
	if !found {
		return nil, fmt.Errorf("%w: peer chose %v, which we did not propose", ErrNoProposalChosen, got)
	}
	if ke.Group != suite.DHGroup || t.ke.Group() != suite.DHGroup {
		return nil, fmt.Errorf("%w: response KE group %d for proposal %v", ErrInvalidKE, ke.Group, got)
	}
	if err := checkNonce(suite, nonce.Data); err != nil {
		return nil, err
	}
	shared, err := t.ke.SharedSecret(ke.Data)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidKE, err)
	}
	return sa.newRekeyedSA(true, t.spi, spiR, suite, t.nonce, slices.Clone(nonce.Data), shared)
}

// conclude puts the new SA in place of the old one, or, after losing a
// collision, the peer's.
func (t *ikeRekey) conclude() {
	sa, next := t.sa, t.next
	if p := t.passive; p != nil {
		if bytes.Compare(lowerNonce(next.ni, next.nr), t.passiveLowest) < 0 {
			// Ours has the lowest nonce: we made the redundant SA and
			// delete it; the peer deletes the old one (RFC 7296 §2.8.2).
			sa.log.Info("IKE SA rekey collision lost, deleting our redundant SA")
			next.mu.Lock()
			next.closing = true
			next.tm.queue(&ikeDelete{sa: next, initiator: true})
			_ = next.tm.initiate()
			next.mu.Unlock()
			sa.announce(next)
			sa.handOver(p)
			sa.waitForDelete()
			return
		}
		sa.log.Info("IKE SA rekey collision won")
		p.mu.Lock()
		_ = p.transition(StateEstablished, StateRekeyed)
		p.armDeath(p.conn.HalfOpenTimeout)
		p.mu.Unlock()
		sa.announce(p)
	}
	sa.handOver(next)
	if sa.closing {
		// Close came while the rekey was out: close the new SA too.
		next.mu.Lock()
		next.closing = true
		next.tm.queueFirst(&ikeDelete{sa: next, initiator: true})
		_ = next.tm.initiate()
		next.mu.Unlock()
	}
	sa.tm.queueFirst(&ikeDelete{sa: sa, initiator: true})
}

// abort ends a rekey that made no SA: the peer's colliding rekey, if we
// answered one, stands; otherwise the SA is established again, and tries
// once more later if the peer was only busy (RFC 7296 §2.25).
func (t *ikeRekey) abort(notify message.NotifyType, err error) {
	sa := t.sa
	if p := t.passive; p != nil {
		sa.log.Info("IKE SA rekey failed, the peer's rekey stands", zap.Error(err))
		sa.handOver(p)
		sa.waitForDelete()
		return
	}
	if sa.state != StateRekeying {
		return
	}
	_ = sa.transition(StateRekeying, StateEstablished)
	if notify == message.NotifyTemporaryFailure {
		delay := rekeyRetry - sa.conn.Jitter(rekeyRetryJitter)
		sa.log.Info("IKE SA rekey failed temporarily, trying again", zap.Duration("in", delay))
		sa.scheduleIKERekey(delay)
		return
	}
	sa.log.Warn("IKE SA rekey failed", zap.Error(err))
}

// processRequest answers the peer's rekey (RFC 7296 §1.3.2).
func (t *ikeRekey) processRequest(req *message.Message) {
	sa := t.sa
	refuse := func(n message.NotifyType, data []byte) { t.failure = message.NewNotify(n, data) }
	switch sa.state {
	case StateRekeying:
		if _, ok := activeTask[*ikeRekey](&sa.tm); ok {
			t.collision = true
			break
		}
		refuse(message.NotifyTemporaryFailure, nil)
		return
	case StateEstablished:
		// RFC 7296 §2.25.2: not while we create, rekey or delete a
		// CHILD_SA.
		_, creating := activeTask[*childCreate](&sa.tm)
		_, rekeying := activeTask[*childRekey](&sa.tm)
		_, deleting := activeTask[*childDelete](&sa.tm)
		if creating || rekeying || deleting {
			sa.log.Info("TEMPORARY_FAILURE: IKE SA rekey while a CHILD_SA exchange of ours is out")
			refuse(message.NotifyTemporaryFailure, nil)
			return
		}
	default:
		sa.log.Info("TEMPORARY_FAILURE: IKE SA rekey while the SA is being deleted or replaced", zap.Stringer("state", sa.state))
		refuse(message.NotifyTemporaryFailure, nil)
		return
	}
	saPayload, _ := req.Find(message.PayloadSA).(*message.SA)
	ke, _ := req.Find(message.PayloadKE).(*message.KE)
	nonce, _ := req.Find(message.PayloadNonce).(*message.Nonce)
	if saPayload == nil || ke == nil || nonce == nil {
		refuse(message.NotifyInvalidSyntax, nil)
		return
	}
	var suite crypto.IKESuite
	var spiI uint64
	found := false
search:
	for _, s := range sa.conn.ikeSuites {
		for _, p := range saPayload.Proposals {
			if covers(p, ikeProposal(p.Number, s)) {
				suite, found = s, true
				t.chosen = ikeProposal(p.Number, s)
				spiI, _ = p.SPI64()
				break search
			}
		}
	}
	if !found {
		sa.log.Warn("NO_PROPOSAL_CHOSEN: none of the peer's IKE rekey proposals is configured",
			zap.String("received", proposalsString(saPayload.Proposals)),
			zap.String("configured", proposalsString(sa.conn.offeredIKE())))
		refuse(message.NotifyNoProposalChosen, nil)
		return
	}
	if spiI == 0 {
		refuse(message.NotifyInvalidSyntax, nil)
		return
	}
	if ke.Group != suite.DHGroup {
		sa.log.Info("asking the peer for another D-H group for the IKE SA rekey (INVALID_KE_PAYLOAD)",
			zap.Uint16("received", ke.Group), zap.Uint16("wanted", suite.DHGroup))
		refuse(message.NotifyInvalidKEPayload, []byte{byte(suite.DHGroup >> 8), byte(suite.DHGroup)})
		return
	}
	if err := checkNonce(suite, nonce.Data); err != nil {
		refuse(message.NotifyInvalidSyntax, nil)
		return
	}
	ours, err := crypto.NewKeyExchange(suite.DHGroup)
	if err != nil {
		refuse(message.NotifyNoProposalChosen, nil)
		return
	}
	shared, err := ours.SharedSecret(ke.Data)
	if err != nil {
		refuse(message.NotifyInvalidSyntax, nil)
		return
	}
	spiR, err := randomSPI()
	if err != nil {
		refuse(message.NotifyNoProposalChosen, nil)
		return
	}
	nr, err := sa.conn.newNonce()
	if err != nil {
		refuse(message.NotifyNoProposalChosen, nil)
		return
	}
	next, err := sa.newRekeyedSA(false, spiI, spiR, suite, slices.Clone(nonce.Data), nr, shared)
	if err != nil {
		sa.log.Warn("cannot derive the rekeyed IKE SA's keys", zap.Error(err))
		refuse(message.NotifyNoProposalChosen, nil)
		return
	}
	t.chosen.SPI = binary.BigEndian.AppendUint64(nil, spiR)
	t.ke, t.nonce, t.next = ours, nr, next
}

func (t *ikeRekey) buildResponse(msg *message.Message) error {
	if t.failure != nil {
		msg.Payloads = append(msg.Payloads, t.failure)
		return nil
	}
	msg.Payloads = append(msg.Payloads,
		&message.SA{Proposals: []message.Proposal{t.chosen}},
		&message.Nonce{Data: t.nonce},
		&message.KE{Group: t.ke.Group(), Data: t.ke.PublicValue()})
	return nil
}

// afterResponse puts the peer's new SA in place once our answer is on its
// way, unless our own rekey is out: then our task settles the collision
// when its response comes.
func (t *ikeRekey) afterResponse() {
	sa, next := t.sa, t.next
	if next == nil {
		return
	}
	if t.collision {
		if ours, ok := activeTask[*ikeRekey](&sa.tm); ok {
			sa.log.Info("IKE SA rekey collision")
			ours.passive, ours.passiveLowest = next, lowerNonce(next.ni, next.nr)
			return
		}
	}
	sa.handOver(next)
	sa.waitForDelete()
}

// newRekeyedSA makes the IKE SA that a rekey of sa negotiated, with the
// keys of RFC 7296 §2.18; nobody else knows of it yet.
func (sa *IKESA) newRekeyedSA(initiator bool, spiI, spiR uint64, suite crypto.IKESuite, ni, nr, shared []byte) (*IKESA, error) {
	skeyseed, err := crypto.RekeySKEYSEED(sa.suite.PRF, sa.keys.D, shared, ni, nr)
	if err != nil {
		return nil, fmt.Errorf("ike: rekey SKEYSEED: %w", err)
	}
	now := sa.conn.Clock.Now()
	next := &IKESA{conn: sa.conn, initiator: initiator, state: StateEstablished,
		spiI: spiI, spiR: spiR, ni: ni, nr: nr,
		local: sa.local, remote: sa.remote, nat: sa.nat, fragmentation: sa.fragmentation,
		created: now, established: now, lastRecv: now, peerID: sa.peerID}
	role := "responder"
	if initiator {
		role = "initiator"
	}
	next.log = sa.conn.Logger.With(zap.String("role", role), zap.Stringer("remote", sa.remote),
		zap.String("spi_i", fmt.Sprintf("%016x", spiI)), zap.String("spi_r", fmt.Sprintf("%016x", spiR)))
	next.tm.sa = next
	if err := next.keysFromSKEYSEED(suite, skeyseed); err != nil {
		return nil, err
	}
	return next, nil
}

// rebinder is a queued task that can move to the IKE SA replacing its own.
type rebinder interface {
	rebind(sa *IKESA)
}

// handOver makes next the IKE SA that carries on: the CHILD_SAs (with their
// lifetimes) and our queued exchanges move to it, it starts its own DPD
// and rekey timers, and the Observer hears of it.
func (sa *IKESA) handOver(next *IKESA) {
	next.mu.Lock()
	now := sa.conn.Clock.Now()
	next.established, next.lastRecv = now, now
	for _, c := range sa.children {
		stopTimer(c.rekeyTimer)
		stopTimer(c.expireTimer)
		next.children = append(next.children, c)
		next.startChildTimers(c)
	}
	sa.children = nil
	var keep []task
	for _, t := range sa.tm.queued {
		if r, ok := t.(rebinder); ok {
			r.rebind(next)
			next.tm.queue(t)
			continue
		}
		keep = append(keep, t)
	}
	sa.tm.queued = keep
	next.startTimers()
	_ = next.tm.initiate()
	next.mu.Unlock()
	stopTimer(sa.rekeyTimer)
	stopTimer(sa.dpdTimer)
	sa.rekeyAt = time.Time{}
	sa.log.Info("IKE SA rekeyed", zap.String("new_spi_i", fmt.Sprintf("%016x", next.spiI)),
		zap.String("new_spi_r", fmt.Sprintf("%016x", next.spiR)), zap.Int("children", len(next.children)))
	sa.announce(next)
}

// announce tells the Observer of next, and sends what next has queued
// after sa's own messages: the owner routes next's SPIs before next's
// first message leaves, and the peer learns of next before it hears from
// it.
func (sa *IKESA) announce(next *IKESA) {
	if obs := sa.conn.Observer; obs != nil {
		sa.later(func() { obs.Rekeyed(sa, next) })
	}
	sa.afterSend = append(sa.afterSend, next.flush)
}

// waitForDelete leaves a replaced SA to the peer, which deletes it; should
// that Delete never come, the SA goes once every retransmission of it
// would have (strongSwan waits a fixed 90 s).
func (sa *IKESA) waitForDelete() {
	if sa.state == StateRekeying || sa.state == StateEstablished {
		_ = sa.transition(sa.state, StateRekeyed)
	}
	sa.armDeath(sa.conn.Retransmit.total())
}

// armDeath destroys a replaced or redundant SA after d unless a Delete
// ends it first.
func (sa *IKESA) armDeath(d time.Duration) {
	stopTimer(sa.deathTimer)
	sa.deathTimer = sa.afterFunc(d, func() {
		if sa.state == StateRekeyed {
			sa.log.Info("the peer never deleted the replaced IKE SA, destroying it")
			sa.destroy(nil)
		}
	})
}
