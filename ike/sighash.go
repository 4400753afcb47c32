package ike

import (
	"go.uber.org/zap"

	"github.com/espd/espd/ike/message"
	"github.com/espd/espd/ike/pubkey"
)

// signatureHashes announces, in IKE_SA_INIT, the hashes we can verify
// digital signatures with, and learns the peer's (RFC 7427 §4): without the
// peer's list, strongSwan falls back to the classic RSA-SHA1 and ECDSA
// methods. The responder that wants a certificate also sends CERTREQ here
// (RFC 7296 §3.7).
type signatureHashes struct {
	sa        *IKESA
	initiator bool
	peerSent  bool
}

func (t *signatureHashes) exchange() message.ExchangeType { return message.ExchangeIKESAInit }

func (t *signatureHashes) build(msg *message.Message) error {
	if t.initiator || t.peerSent {
		msg.Payloads = append(msg.Payloads,
			message.NewNotify(message.NotifySignatureHashAlgorithms, pubkey.EncodeSignatureHashes(pubkey.SupportedHashes())))
	}
	if !t.initiator {
		if req := t.sa.certReq(); req != nil {
			msg.Payloads = append(msg.Payloads, req)
		}
	}
	return nil
}

func (t *signatureHashes) process(msg *message.Message) (taskStatus, error) {
	n := msg.Notify(message.NotifySignatureHashAlgorithms)
	if n == nil {
		return taskDone, nil
	}
	hashes, err := pubkey.DecodeSignatureHashes(n.Data)
	if err != nil {
		// A malformed list is ignored, as if none came: we then sign
		// with our defaults.
		t.sa.log.Debug("ignoring malformed SIGNATURE_HASH_ALGORITHMS", zap.Error(err))
		return taskDone, nil
	}
	t.peerSent = true
	t.sa.peerHashes = hashes
	return taskDone, nil
}
