package ike

import (
	"bytes"
	"crypto/rand"
	"crypto/sha1"
	"encoding/binary"
	"net/netip"

	"go.uber.org/zap"

	"github.com/espd/espd/ike/message"
)

// natDetection is NAT detection in IKE_SA_INIT (RFC 7296 §2.23): each side
// sends a hash of the addresses and ports it sends from and to, and compares
// the peer's hashes with the addresses the message really travelled between.
// If either differs, a NAT is in the way: the initiator moves IKE to port
// 4500 for IKE_AUTH, and the CHILD_SAs are UDP-encapsulated (RFC 3948).
//
// With encap = yes (ForceEncap) we send a random source hash, so that the
// peer believes we are behind a NAT, as strongSwan does; both sides then
// encapsulate.
type natDetection struct {
	sa        *IKESA
	initiator bool
	// peerSentHashes: the request carried NAT-D notifies, so the responder
	// answers with its own (RFC 7296 §2.23: only then).
	peerSentHashes bool
}

// natState is what NAT detection found.
type natState struct {
	// here: our own address is translated; we send keepalives.
	here bool
	// there: the peer's address is translated, or the peer fakes it.
	there bool
	// fake: our configuration forces encapsulation.
	fake bool
}

// encap says whether CHILD_SAs must use ESP-in-UDP.
func (n natState) encap() bool { return n.here || n.there || n.fake }

func (t *natDetection) exchange() message.ExchangeType { return message.ExchangeIKESAInit }

func (t *natDetection) build(msg *message.Message) error {
	sa := t.sa
	if !t.initiator && !t.peerSentHashes {
		return nil
	}
	spiI, spiR := msg.Header.SPIi, msg.Header.SPIr
	source := natdHash(spiI, spiR, sa.local)
	if sa.conn.ForceEncap {
		source = make([]byte, sha1.Size)
		if _, err := rand.Read(source); err != nil {
			return err
		}
	}
	msg.Payloads = append(msg.Payloads,
		message.NewNotify(message.NotifyNATDetectionSourceIP, source),
		message.NewNotify(message.NotifyNATDetectionDestinationIP, natdHash(spiI, spiR, sa.remote)))
	return nil
}

func (t *natDetection) process(msg *message.Message) (taskStatus, error) {
	sa := t.sa
	var sources [][]byte
	var destination []byte
	for _, n := range msg.Notifies() {
		switch n.NotifyType {
		case message.NotifyNATDetectionSourceIP:
			sources = append(sources, n.Data)
		case message.NotifyNATDetectionDestinationIP:
			destination = n.Data
		}
	}
	if msg.Header.Flags.Response() && (msg.Notify(message.NotifyInvalidKEPayload) != nil || msg.Notify(message.NotifyCookie) != nil) {
		return taskDone, nil
	}
	t.peerSentHashes = len(sources) > 0 && destination != nil
	sa.nat = natState{fake: sa.conn.ForceEncap}
	if !t.peerSentHashes {
		// The peer does not support NAT traversal; only a forced
		// encapsulation can still ask for it.
		return taskDone, nil
	}
	spiI, spiR := msg.Header.SPIi, msg.Header.SPIr
	sa.nat.here = !bytes.Equal(destination, natdHash(spiI, spiR, sa.local))
	sa.nat.there = true
	fromPeer := natdHash(spiI, spiR, sa.remote)
	for _, s := range sources {
		if bytes.Equal(s, fromPeer) {
			sa.nat.there = false
		}
	}
	if sa.nat.encap() {
		sa.log.Info("NAT detected, UDP encapsulation on",
			zap.Bool("nat_here", sa.nat.here), zap.Bool("nat_there", sa.nat.there), zap.Bool("forced", sa.nat.fake))
	}
	return taskDone, nil
}

// natdHash is SHA-1(SPIi | SPIr | IP | Port) (RFC 7296 §2.23).
func natdHash(spiI, spiR uint64, ap netip.AddrPort) []byte {
	h := sha1.New()
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], spiI)
	binary.BigEndian.PutUint64(b[8:], spiR)
	h.Write(b[:])
	addr := ap.Addr().Unmap()
	h.Write(addr.AsSlice())
	binary.BigEndian.PutUint16(b[:2], ap.Port())
	h.Write(b[:2])
	return h.Sum(nil)
}
