package ike

// IKE fragmentation (RFC 7383) in the engine. Both peers announce it in
// IKE_SA_INIT; from then on a protected message larger than the path
// takes in one IP datagram (Config.FragmentSize) leaves as SKF fragments,
// each protected on its own, so that IKE_AUTH with a certificate chain
// crosses NATs and firewalls that drop IP fragments. The task manager's
// slots hold a message as the list of its datagrams, so a request is
// retransmitted, and a cached response resent, as all its fragments,
// never sealed again. Fragments from the peer are verified one by one and
// collected per slot (message.Reassembler); the reassembled message then
// takes the way of a whole one.

import (
	"fmt"

	"go.uber.org/zap"

	"github.com/espd/espd/crypto"
	"github.com/espd/espd/ike/message"
)

// fragmentationSupport is the IKEV2_FRAGMENTATION_SUPPORTED notification
// of IKE_SA_INIT (RFC 7383 §2.3): the initiator sends it unless
// configured not to, the responder answers with it only if the request
// had it, and fragments are used only when both sent it.
type fragmentationSupport struct {
	sa        *IKESA
	initiator bool
	peerSent  bool
}

func (t *fragmentationSupport) exchange() message.ExchangeType { return message.ExchangeIKESAInit }

func (t *fragmentationSupport) build(msg *message.Message) error {
	if t.sa.conn.NoFragmentation || (!t.initiator && !t.peerSent) {
		return nil
	}
	msg.Payloads = append(msg.Payloads, message.NewNotify(message.NotifyIKEv2FragmentationSupported, nil))
	return nil
}

func (t *fragmentationSupport) process(msg *message.Message) (taskStatus, error) {
	t.peerSent = msg.Notify(message.NotifyIKEv2FragmentationSupported) != nil
	t.sa.fragmentation = t.peerSent && !t.sa.conn.NoFragmentation
	return taskDone, nil
}

// seal encodes msg as the datagrams that carry it: IKE_SA_INIT in the
// clear, any other message protected, whole or, when fragmentation was
// negotiated and the whole would not fit fragmentBudget, as SKF fragments
// (RFC 7383 §2.5). Each datagram takes its own IV counter.
func (sa *IKESA) seal(msg *message.Message) ([][]byte, error) {
	if msg.Header.Exchange == message.ExchangeIKESAInit || !sa.fragmentation || sa.sendT == nil {
		b, err := sa.encode(msg)
		if err != nil {
			return nil, err
		}
		return [][]byte{b}, nil
	}
	budget := sa.fragmentBudget()
	size, err := sealedLen(msg, sa.sendT)
	if err != nil {
		return nil, err
	}
	if size <= budget {
		b, err := sa.encode(msg)
		if err != nil {
			return nil, err
		}
		return [][]byte{b}, nil
	}
	fragments, err := message.SealFragments(msg, sa.sendT, sa.sendCounter, budget)
	if err != nil {
		return nil, fmt.Errorf("ike: fragmenting %v: %w", msg.Header.Exchange, err)
	}
	sa.sendCounter += uint64(len(fragments))
	sa.log.Debug("splitting IKE message into fragments", zap.Stringer("exchange", msg.Header.Exchange),
		zap.Uint32("message_id", msg.Header.MessageID), zap.Int("bytes", size), zap.Int("fragments", len(fragments)))
	return fragments, nil
}

// fragmentBudget is the largest IKE message, or fragment of one, that fits
// Config.FragmentSize once the IP and UDP headers are taken off (no IP
// options or extension headers), and the non-ESP marker away from port
// 500: strongSwan's message_t.fragment counts the same way.
func (sa *IKESA) fragmentBudget() int {
	const ipv4Header, ipv6Header, udpHeader, nonESPMarker = 20, 40, 8, 4
	budget := sa.conn.FragmentSize - udpHeader
	if sa.remote.Addr().Unmap().Is4() {
		budget -= ipv4Header
	} else {
		budget -= ipv6Header
	}
	// Config.Send prefixes the marker on the NAT-T port (RFC 3948 §2.2);
	// any port but 500 is counted as carrying it.
	if sa.local.Port() != 500 {
		budget -= nonESPMarker
	}
	return budget
}

// sealedLen is the length message.Seal would give msg under t, computed
// without sealing, so that deciding to fragment costs no IV counter: the
// header, any cleartext payloads, then the SK payload's header, IV, the
// payloads padded with their Pad Length octet, and the ICV (RFC 7296
// §3.14; the padding as message.Seal pads).
func sealedLen(msg *message.Message, t crypto.Transform) (int, error) {
	inner, err := (&message.Message{Header: msg.Header, Payloads: msg.Payloads}).Encode()
	if err != nil {
		return 0, err
	}
	cleartext := 0
	if len(msg.Cleartext) > 0 {
		b, err := (&message.Message{Header: msg.Header, Payloads: msg.Cleartext}).Encode()
		if err != nil {
			return 0, err
		}
		cleartext = len(b) - message.HeaderLen
	}
	align := 1
	if !t.AEAD() && t.BlockLen() > 1 {
		align = t.BlockLen()
	}
	padded := (len(inner) - message.HeaderLen + 1 + align - 1) / align * align
	return message.HeaderLen + cleartext + message.GenericHeaderLen + t.IVLen() + padded + t.ICVLen(), nil
}

// carriesFragment reports whether a protected datagram ends with an SKF
// payload rather than SK (RFC 7383 §2.5). SKF is normally the first
// payload; only when cleartext payloads precede it is the chain parsed.
func carriesFragment(hdr message.Header, datagram []byte) bool {
	switch hdr.NextPayload {
	case message.PayloadSKF:
		return true
	case message.PayloadSK:
		return false
	}
	m, err := message.Parse(datagram)
	return err == nil && len(m.Payloads) > 0 && m.Payloads[len(m.Payloads)-1].Type() == message.PayloadSKF
}

// answersRetransmit decides whether a datagram with the message ID of the
// request we last answered gets the cached response again. A whole
// message does. Of a fragmented request only an authentic fragment 1
// does, so the response goes once per retransmission of the request and
// not once per fragment (RFC 7383 §2.6.1); like strongSwan we answer it
// at once rather than wait for fragments that may not all arrive. The
// other fragments are ignored (nil error); a bad one is dropped.
func (tm *taskManager) answersRetransmit(hdr message.Header, datagram []byte) (bool, error) {
	sa := tm.sa
	if hdr.Exchange == message.ExchangeIKESAInit || sa.recvT == nil || !carriesFragment(hdr, datagram) {
		return true, nil
	}
	if !sa.fragmentation {
		return false, fmt.Errorf("%w: a fragment, but IKE fragmentation was not negotiated", ErrUnexpected)
	}
	f, err := message.OpenFragment(datagram, sa.recvT)
	if err != nil {
		sa.log.Debug("dropping fragment of a retransmitted request", zap.Error(err))
		return false, fmt.Errorf("ike: dropped: %w", err)
	}
	if f.Number != 1 {
		sa.log.Debug("ignoring fragment of a retransmitted request", zap.Uint32("message_id", hdr.MessageID),
			zap.Uint16("fragment", f.Number), zap.Uint16("total", f.Total))
		return false, nil
	}
	return true, nil
}
