package ike

import (
	"crypto/hmac"
	"errors"
	"fmt"

	"go.uber.org/zap"

	"github.com/espd/espd/ike/message"
	"github.com/espd/espd/ike/pubkey"
)

// ikeAuth authenticates both peers in IKE_AUTH (RFC 7296 §1.2, §2.15), with
// the PSK or with a certificate's key (RFC 7427 digital signatures):
//
//	HDR, SK {IDi, [CERT,] [CERTREQ,] AUTH, SAi2, TSi, TSr}  -->
//	                                <--  HDR, SK {IDr, [CERT,] AUTH, SAr2, TSi, TSr}
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

// signedOctets are what an AUTH payload proves (RFC 7296 §2.15): the
// sender's IKE_SA_INIT message, the peer's nonce and prf(SK_px, the
// sender's ID payload body).
func (sa *IKESA) signedOctets(fromInitiator bool, idBody []byte) []byte {
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
	return octets
}

// pskAuth is AUTH = prf(prf(Shared Secret, "Key Pad for IKEv2"),
// <SignedOctets>) (RFC 7296 §2.15).
func (sa *IKESA) pskAuth(fromInitiator bool, idBody []byte) []byte {
	prf := sa.suite.PRF
	return prf.Compute(prf.Compute(sa.conn.PSK, keyPad), sa.signedOctets(fromInitiator, idBody))
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
	creds := sa.conn.Credentials
	if creds == nil {
		msg.Payloads = append(msg.Payloads,
			&message.Auth{Method: message.AuthSharedKeyMIC, Data: sa.pskAuth(t.initiator, body)})
		return nil
	}
	if creds.Cert != nil {
		for _, c := range creds.CertPayloads() {
			msg.Payloads = append(msg.Payloads, c)
		}
	}
	if t.initiator {
		if req := sa.certReq(); req != nil {
			msg.Payloads = append(msg.Payloads, req)
		}
	}
	auth, err := pubkey.Sign(creds.Key, sa.signedOctets(t.initiator, body), sa.peerHashes, sa.conn.SignOptions)
	if err != nil {
		return fmt.Errorf("ike: signing AUTH: %w", err)
	}
	msg.Payloads = append(msg.Payloads, auth)
	return nil
}

func (t *ikeAuth) process(msg *message.Message) (taskStatus, error) {
	sa := t.sa
	if t.initiator {
		if n := msg.Notify(message.NotifyAuthenticationFailed); n != nil {
			sa.log.Warn("peer refused our authentication (AUTHENTICATION_FAILED): check the PSK or certificate and the identities")
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
	how, err := t.verify(msg, id, auth)
	if err != nil {
		sa.log.Warn("AUTHENTICATION_FAILED: the peer's AUTH does not verify", zap.Error(err))
		if t.initiator {
			t.notifyPeer = true
			return taskDone, err
		}
		return taskDone, withNotify(message.NotifyAuthenticationFailed, nil, err)
	}
	sa.log.Info("peer authenticated", zap.Stringer("id", id), zap.String("with", how))
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

// verify checks the peer's AUTH in the way the configuration demands and
// says how it was proven.
func (t *ikeAuth) verify(msg *message.Message, id *message.ID, auth *message.Auth) (string, error) {
	sa := t.sa
	if id == nil || auth == nil {
		return "", fmt.Errorf("%w: ID or AUTH payload missing", ErrAuthenticationFailed)
	}
	if !matchesIdentity(sa.conn.RemoteID, id) {
		return "", fmt.Errorf("%w: peer identity %v is not %v", ErrAuthenticationFailed, id, sa.conn.RemoteID)
	}
	body, err := id.Encode(nil)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrAuthenticationFailed, err)
	}
	octets := sa.signedOctets(!t.initiator, body)
	if sa.conn.RemoteAuth == AuthPSK {
		if auth.Method != message.AuthSharedKeyMIC {
			return "", fmt.Errorf("%w: peer uses %v, we expect a PSK", ErrAuthenticationFailed, auth.Method)
		}
		if !hmac.Equal(auth.Data, sa.pskAuth(!t.initiator, body)) {
			return "", fmt.Errorf("%w: PSK AUTH mismatch for %v", ErrAuthenticationFailed, id)
		}
		return "pre-shared key", nil
	}
	if auth.Method == message.AuthSharedKeyMIC {
		return "", fmt.Errorf("%w: peer uses a PSK, we expect a certificate", ErrAuthenticationFailed)
	}
	var certs []*message.Cert
	for _, p := range msg.Payloads {
		if c, ok := p.(*message.Cert); ok {
			certs = append(certs, c)
		}
	}
	if len(certs) == 0 && len(sa.conn.RemotePublicKeys) > 0 {
		return t.verifyRawKey(auth, octets)
	}
	leaf, intermediates, err := pubkey.ParseCertPayloads(certs)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrAuthenticationFailed, err)
	}
	if _, err := pubkey.VerifyChain(leaf, intermediates, sa.conn.TrustAnchors, sa.conn.Clock.Now()); err != nil {
		return "", fmt.Errorf("%w: certificate %q: %w", ErrAuthenticationFailed, leaf.Subject, err)
	}
	if !pubkey.MatchIdentity(id, leaf) {
		return "", fmt.Errorf("%w: identity %v is not in certificate %q", ErrAuthenticationFailed, id, leaf.Subject)
	}
	scheme, err := pubkey.Verify(auth, octets, leaf.PublicKey)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrAuthenticationFailed, err)
	}
	if err := pubkey.CheckKey(leaf.PublicKey, sa.conn.RemoteConstraints); err != nil {
		return "", fmt.Errorf("%w: %w", ErrAuthenticationFailed, err)
	}
	if err := pubkey.CheckScheme(scheme, sa.conn.RemoteConstraints); err != nil {
		return "", fmt.Errorf("%w: %w", ErrAuthenticationFailed, err)
	}
	return fmt.Sprintf("certificate %q, %v", leaf.Subject, scheme), nil
}

// verifyRawKey checks a signature against the peer's configured raw public
// keys (RFC 7296 §2.15 with keys known out of band, as strongSwan's
// pubkeys); the configured identity is all that names the peer.
func (t *ikeAuth) verifyRawKey(auth *message.Auth, octets []byte) (string, error) {
	sa := t.sa
	var errs []error
	for _, key := range sa.conn.RemotePublicKeys {
		scheme, err := pubkey.Verify(auth, octets, key)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := pubkey.CheckKey(key, sa.conn.RemoteConstraints); err != nil {
			return "", fmt.Errorf("%w: %w", ErrAuthenticationFailed, err)
		}
		if err := pubkey.CheckScheme(scheme, sa.conn.RemoteConstraints); err != nil {
			return "", fmt.Errorf("%w: %w", ErrAuthenticationFailed, err)
		}
		return fmt.Sprintf("raw public key, %v", scheme), nil
	}
	return "", fmt.Errorf("%w: no configured public key verifies the AUTH: %w", ErrAuthenticationFailed, errors.Join(errs...))
}

// certReq asks the peer for a certificate under one of our trust anchors
// (RFC 7296 §3.7), so that a peer with several sends the right one.
func (sa *IKESA) certReq() *message.CertReq {
	if sa.conn.RemoteAuth != AuthPubkey || sa.conn.TrustAnchors == nil {
		return nil
	}
	hashes := sa.conn.TrustAnchors.CertReqHashes()
	if len(hashes) == 0 {
		return nil
	}
	return &message.CertReq{Encoding: message.CertX509Signature, Data: hashes}
}
