package esp

import (
	"encoding/binary"

	"github.com/espd/espd/esp/installer"
	"github.com/espd/espd/esp/packet"
)

// ESP packet layout, RFC 4303 §2:
//
//	 0                   1                   2                   3
//	+---------------------------------------------------------------+
//	|               Security Parameters Index (SPI)                 |
//	|                      Sequence Number (low 32 bits)            |
//	|                      IV (transform-specific)                  |
//	~                      Payload Data                             ~
//	|               |     Padding (0-255 bytes)                     |
//	|               |  Pad Length   | Next Header   |
//	~          Integrity Check Value (ICV)                          ~
//
// Everything from the payload to Next Header is encrypted.
const espHeaderLen = 8

// encapsulate turns the inner packet in b into an ESP packet for sa with
// sequence number seq, in place: the header and IV go into the headroom,
// the padding, trailer and ICV into the tailroom. On return b holds the ESP
// packet from the SPI to the ICV.
func (sa *SA) encapsulate(b *packet.Buffer, seq uint64) DropReason {
	payloadStart := b.Start
	nextHeader := byte(protoIPv4)
	if sa.mode == installer.Transport {
		// RFC 4303 §3.1.1: ESP goes between the IP header and the
		// upper-layer protocol. The kernel builds the outer IP header,
		// so the inner one is simply dropped.
		hdrLen, proto, ok := transportPayload(b.Data())
		if !ok {
			return DropMalformed
		}
		payloadStart += hdrLen
		nextHeader = proto
	} else if b.Bytes[b.Start]>>4 == 6 {
		nextHeader = protoIPv6
	}

	xf := sa.xf
	ivLen, icvLen, block := xf.IVLen(), xf.ICVLen(), xf.BlockLen()
	payloadLen := b.End - payloadStart
	// RFC 4303 §2.4: pad so the ciphertext ends on the cipher's block
	// boundary, with pad bytes 1, 2, 3, ... .
	padLen := (block - (payloadLen+2)%block) % block
	hdrStart := payloadStart - espHeaderLen - ivLen
	trailerEnd := b.End + padLen + 2
	if hdrStart < 4 || trailerEnd+icvLen > len(b.Bytes) {
		return DropTooBig
	}
	buf := b.Bytes[:]
	for i := 0; i < padLen; i++ {
		buf[b.End+i] = byte(i + 1)
	}
	buf[trailerEnd-2] = byte(padLen)
	buf[trailerEnd-1] = nextHeader

	binary.BigEndian.PutUint32(buf[hdrStart:], sa.spi)
	binary.BigEndian.PutUint32(buf[hdrStart+4:], uint32(seq))
	iv := buf[hdrStart+espHeaderLen : payloadStart]
	xf.MakeIV(iv, seq)
	auth, trailer := sa.esnAuth(buf, hdrStart, seq)
	sealed := xf.Seal(auth, iv, buf[payloadStart:trailerEnd], trailer)
	if sa.esn && xf.AEAD() {
		binary.BigEndian.PutUint32(buf[hdrStart:], sa.spi) // undo esnAuth's shuffle
	}
	b.SetData(hdrStart, payloadStart-hdrStart+len(sealed))
	return 0
}

// esnAuth lays out the data that the ICV covers besides the packet itself.
// With ESN the high 32 sequence bits are authenticated but never sent: an
// AEAD takes them inside its associated data as SPI || seq-hi || seq-lo
// (RFC 4106 §5, RFC 7634 §3), a separate integrity algorithm takes them
// after the ciphertext (RFC 4303 §3.3.2.1). Both are laid out in the four
// bytes of headroom in front of the ESP header, so nothing is allocated; for
// the AEAD the SPI moves forward four bytes and the caller puts it back.
func (sa *SA) esnAuth(buf []byte, hdrStart int, seq uint64) (auth, trailer []byte) {
	if !sa.esn {
		return buf[hdrStart : hdrStart+espHeaderLen], nil
	}
	hi := uint32(seq >> 32)
	if sa.xf.AEAD() {
		binary.BigEndian.PutUint32(buf[hdrStart-4:], sa.spi)
		binary.BigEndian.PutUint32(buf[hdrStart:], hi)
		return buf[hdrStart-4 : hdrStart+espHeaderLen], nil
	}
	binary.BigEndian.PutUint32(buf[hdrStart-4:], hi)
	return buf[hdrStart : hdrStart+espHeaderLen], buf[hdrStart-4 : hdrStart]
}
