package esp

import (
	"encoding/binary"

	"github.com/espd/espd/esp/installer"
	"github.com/espd/espd/esp/packet"
)

// The inbound checks run in the order RFC 4303 §3.4 gives them, split over
// the pipeline's stages:
//
//	socket reader (sequential):  1 length, 2 SPI lookup, 3 replay pre-check
//	crypto worker (parallel):    4 ICV and decryption
//	inbound stage (sequential):  5 replay commit, 6 padding, 7 selectors
//
// so that a forged packet costs one ICV computation and never moves the
// replay window.

// minESPLen is the shortest datagram worth an SPI lookup.
const minESPLen = espHeaderLen + 4

// spiOf reads the SPI of an ESP packet that passed the minESPLen check.
func spiOf(pkt []byte) uint32 { return binary.BigEndian.Uint32(pkt) }

// precheck runs the per-SA length check and the replay pre-check, and
// returns the full sequence number that the ICV covers.
func (sa *SA) precheck(pkt []byte) (uint64, DropReason) {
	xf := sa.xf
	ct := len(pkt) - espHeaderLen - xf.IVLen() - xf.ICVLen()
	if ct < 2 || ct%xf.BlockLen() != 0 {
		return 0, DropShort
	}
	low := binary.BigEndian.Uint32(pkt[4:8])
	sa.replayMu.Lock()
	seq, ok := sa.replay.Check(low, sa.esn)
	sa.replayMu.Unlock()
	if !ok {
		return 0, DropReplay
	}
	return seq, 0
}

// decrypt verifies the ICV and decrypts in place; on success b holds the
// plaintext payload, padding and trailer.
func (sa *SA) decrypt(b *packet.Buffer, seq uint64) DropReason {
	xf := sa.xf
	buf := b.Bytes[:]
	hdrStart := b.Start
	if hdrStart < 4 { // esnAuth needs the four bytes in front
		return DropShort
	}
	ivEnd := hdrStart + espHeaderLen + xf.IVLen()
	auth, trailer := sa.esnAuth(buf, hdrStart, seq)
	plain, err := xf.Open(auth, buf[hdrStart+espHeaderLen:ivEnd], buf[ivEnd:b.End], trailer)
	if err != nil {
		return DropICV
	}
	b.SetData(ivEnd, len(plain))
	return 0
}

// commit records seq in the replay window once its ICV verified; false if a
// copy of the packet got there first.
func (sa *SA) commit(seq uint64) bool {
	sa.replayMu.Lock()
	ok := sa.replay.Commit(seq)
	sa.replayMu.Unlock()
	return ok
}

// deliver checks the trailer and the inner packet of a decrypted packet and
// leaves b holding the IP packet to write to the TUN.
func (sa *SA) deliver(b *packet.Buffer) DropReason {
	plain := b.Data()
	n := len(plain)
	padLen, nextHeader := int(plain[n-2]), plain[n-1]
	if padLen+2 > n {
		return DropPadding
	}
	// RFC 4303 §2.4: with the default padding scheme the receiver checks
	// the pad bytes are 1, 2, 3, ... .
	pad := plain[n-2-padLen : n-2]
	for i, p := range pad {
		if p != byte(i+1) {
			return DropPadding
		}
	}
	payloadLen := n - 2 - padLen
	if nextHeader == protoNoNext {
		return DropDummy
	}
	if sa.mode == installer.Transport {
		return sa.rebuildTransport(b, payloadLen, nextHeader)
	}
	inner := plain[:payloadLen]
	ipLen, ok := innerLength(inner, nextHeader)
	if !ok {
		return DropMalformed
	}
	src, dst, _ := innerAddrs(inner)
	if !sa.matches(src, dst) {
		return DropSelector
	}
	b.End = b.Start + ipLen
	return 0
}

// rebuildTransport puts an IP header back in front of a transport-mode
// payload, with the SA's outer addresses, as the packet had before the
// peer's ESP took its header away.
func (sa *SA) rebuildTransport(b *packet.Buffer, payloadLen int, proto byte) DropReason {
	src, dst := sa.Remote().Addr(), sa.local.Addr()
	hdrLen := ipv6HeaderLn
	if src.Is4() {
		hdrLen = ipv4HeaderLn
	}
	start := b.Start - hdrLen
	if start < 0 || payloadLen > 0xffff-ipv4HeaderLn {
		return DropMalformed
	}
	hdr := b.Bytes[start:b.Start]
	if src.Is4() {
		writeIPv4Header(hdr, src, dst, proto, hdrLen+payloadLen)
	} else {
		writeIPv6Header(hdr, src, dst, proto, payloadLen)
	}
	b.SetData(start, hdrLen+payloadLen)
	return 0
}
