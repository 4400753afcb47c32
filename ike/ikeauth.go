package ike

import (
	"crypto/hmac"
	"fmt"

	"go.uber.org/zap"

	"github.com/espd/espd/ike/message"
)

// ikeAuth authenticates both peers with the PSK in IKE_AUTH (RFC 7296 §1.2,
// §2.15):
//
//	HDR, SK {IDi, AUTH, SAi2, TSi, TSr}  -->
//	                               <--  HDR, SK {IDr, AUTH, SAr2, TSi, TSr}
//
// SA and TS belong to childCreate, which runs in the same exchange.
type ikeAuth struct {
	sa        *IKESA
	initiator bool
	// notifyPeer: the initiator could not verify the responder and tells
	// it so (RFC 7296 §2.21.2).
	notifyPeer bool
}

func (t *ikeAuth) failureNotify() *message.Notify {
	if !t.notifyPeer {
		return nil
	}
	return message.NewNotify(message.NotifyAuthenticationFailed, nil)
}

func (t *ikeAuth) exchange() message.ExchangeType { return message.ExchangeIKEAuth }

// keyPad is the constant of RFC 7296 §2.15, without a terminator.
var keyPad = []byte("Key Pad for IKEv2")

// pskAuth computes AUTH = prf(prf(Shared Secret, "Key Pad for IKEv2"),
// <SignedOctets>), where the signed octets are the sender's IKE_SA_INIT
// message, the peer's nonce and prf(SK_px, the sender's ID payload body)
// (RFC 7296 §2.15).
func (sa *IKESA) pskAuth(fromInitiator bool, idBody []byte) []byte {
	prf := sa.suite.PRF
	var octets []byte
	if fromInitiator {
		octets = append(octets, sa.initRequest...)
		octets = append(octets, sa.nr...)
		octets = append(octets, prf.Compute(sa.keys.PI, idBody)...)
	} else {
		octets = append(octets, sa.initResponse...)
		octets = append(octets, sa.ni...)
		octets = append(octets, prf.Compute(sa.keys.PR, idBody)...)
	}
	return prf.Compute(prf.Compute(sa.conn.PSK, keyPad), octets)
}

func (t *ikeAuth) build(msg *message.Message) error {
	sa := t.sa
	id := *sa.conn.localID
	id.Responder = !t.initiator
	body, err := id.Encode(nil)
	if err != nil {
		return fmt.Errorf("ike: own ID: %w", err)
	}
	msg.Payloads = append(msg.Payloads, &id)
	if t.initiator && sa.conn.InitialContact {
		// RFC 7296 §2.4: we hold no other IKE SA with this peer.
		msg.Payloads = append(msg.Payloads, message.NewNotify(message.NotifyInitialContact, nil))
	}
	msg.Payloads = append(msg.Payloads,
		&message.Auth{Method: message.AuthSharedKeyMIC, Data: sa.pskAuth(t.initiator, body)})
	return nil
}

func (t *ikeAuth) process(msg *message.Message) (taskStatus, error) {
	sa := t.sa
	if t.initiator {
		if n := msg.Notify(message.NotifyAuthenticationFailed); n != nil {
			sa.log.Warn("peer refused our authentication (AUTHENTICATION_FAILED): check the PSK and identities")
			return taskDone, peerError(n)
		}
		for _, n := range msg.Notifies() {
			if n.NotifyType.IsError() && n.NotifyType != message.NotifyNoProposalChosen && n.NotifyType != message.NotifyTSUnacceptable {
				return taskDone, peerError(n)
			}
		}
	}
	wantID := message.PayloadIDi
	if t.initiator {
		wantID = message.PayloadIDr
	}
	id, _ := msg.Find(wantID).(*message.ID)
	auth, _ := msg.Find(message.PayloadAUTH).(*message.Auth)
	if err := t.verify(id, auth); err != nil {
		sa.log.Warn("AUTHENTICATION_FAILED: the peer's AUTH does not verify", zap.Error(err))
		if t.initiator {
			t.notifyPeer = true
			return taskDone, err
		}
		return taskDone, withNotify(message.NotifyAuthenticationFailed, nil, err)
	}
	sa.log.Info("peer authenticated with PSK", zap.Stringer("id", id))
	if !t.initiator && sa.halfOpen != nil {
		sa.halfOpen.Stop()
	}
	if err := sa.transition(StateConnecting, StateEstablished); err != nil {
		return taskDone, err
	}
	sa.onEstablished(id.String(), !t.initiator && msg.Notify(message.NotifyInitialContact) != nil)
	return taskDone, nil
}

// onEstablished starts an authenticated SA's timers, and passes the peer's
// INITIAL_CONTACT on to the owner, which deletes the older IKE SAs it
// still holds with that identity (RFC 7296 §2.4).
func (sa *IKESA) onEstablished(peerID string, initialContact bool) {
	now := sa.conn.Clock.Now()
	sa.established, sa.lastRecv, sa.peerID = now, now, peerID
	sa.startTimers()
	if f := sa.conn.OnInitialContact; initialContact && f != nil {
		sa.later(func() { f(peerID) })
	}
}

func (t *ikeAuth) verify(id *message.ID, auth *message.Auth) error {
	sa := t.sa
	if id == nil || auth == nil {
		return fmt.Errorf("%w: ID or AUTH payload missing", ErrAuthenticationFailed)
	}
	if auth.Method != message.AuthSharedKeyMIC {
		return fmt.Errorf("%w: peer uses %v, we expect a PSK", ErrAuthenticationFailed, auth.Method)
	}
	if !matchesIdentity(sa.conn.RemoteID, id) {
		return fmt.Errorf("%w: peer identity %v is not %q", ErrAuthenticationFailed, id, sa.conn.RemoteID)
	}
	body, err := id.Encode(nil)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrAuthenticationFailed, err)
	}
	if !hmac.Equal(auth.Data, sa.pskAuth(!t.initiator, body)) {
		return fmt.Errorf("%w: PSK AUTH mismatch for %v", ErrAuthenticationFailed, id)
	}
	return nil
}
