package esp

import (
	"encoding/binary"
	"net/netip"
)

// IP protocol numbers used as ESP Next Header values (IANA).
const (
	protoIPv4    = 4
	protoIPv6    = 41
	protoNoNext  = 59 // dummy packet, RFC 4303 §2.6
	ipv4HeaderLn = 20
	ipv6HeaderLn = 40
)

// innerAddrs reads the source and destination of an IP packet without
// copying it. ok is false when the packet is too short or not IPv4/IPv6.
func innerAddrs(pkt []byte) (src, dst netip.Addr, ok bool) {
	if len(pkt) < 1 {
		return src, dst, false
	}
	switch pkt[0] >> 4 {
	case 4:
		if len(pkt) < ipv4HeaderLn {
			return src, dst, false
		}
		// RFC 791 §3.1: source at 12, destination at 16.
		return netip.AddrFrom4([4]byte(pkt[12:16])), netip.AddrFrom4([4]byte(pkt[16:20])), true
	case 6:
		if len(pkt) < ipv6HeaderLn {
			return src, dst, false
		}
		// RFC 8200 §3: source at 8, destination at 24.
		return netip.AddrFrom16([16]byte(pkt[8:24])), netip.AddrFrom16([16]byte(pkt[24:40])), true
	}
	return src, dst, false
}

// isIPv6ExtensionHeader reports the RFC 8200 §4 extension headers that
// transport mode would have to walk. espd does not yet, so such packets are
// dropped as malformed rather than sent with the wrong Next Header.
func isIPv6ExtensionHeader(nh byte) bool {
	switch nh {
	case 0, 43, 44, 50, 51, 60, 135, 139, 140:
		return true
	}
	return false
}

// transportPayload finds the upper-layer payload of a packet that transport
// mode protects: it returns the header length and protocol, or ok = false
// for a packet it cannot take apart.
func transportPayload(pkt []byte) (hdrLen int, proto byte, ok bool) {
	switch pkt[0] >> 4 {
	case 4:
		ihl := int(pkt[0]&0x0f) * 4
		total := int(binary.BigEndian.Uint16(pkt[2:4]))
		fragment := binary.BigEndian.Uint16(pkt[6:8])&0x3fff != 0
		if ihl < ipv4HeaderLn || total != len(pkt) || ihl > total || fragment {
			return 0, 0, false
		}
		return ihl, pkt[9], true
	case 6:
		if int(binary.BigEndian.Uint16(pkt[4:6]))+ipv6HeaderLn != len(pkt) || isIPv6ExtensionHeader(pkt[6]) {
			return 0, 0, false
		}
		return ipv6HeaderLn, pkt[6], true
	}
	return 0, 0, false
}

// innerLength checks the IP header of a decrypted tunnel-mode packet against
// the Next Header that announced it and returns the packet's own length,
// which may be shorter than what ESP carried but never longer.
func innerLength(pkt []byte, nextHeader byte) (int, bool) {
	switch {
	case nextHeader == protoIPv4 && len(pkt) >= ipv4HeaderLn && pkt[0]>>4 == 4:
		n := int(binary.BigEndian.Uint16(pkt[2:4]))
		return n, n >= ipv4HeaderLn && n <= len(pkt)
	case nextHeader == protoIPv6 && len(pkt) >= ipv6HeaderLn && pkt[0]>>4 == 6:
		n := int(binary.BigEndian.Uint16(pkt[4:6])) + ipv6HeaderLn
		return n, n <= len(pkt)
	}
	return 0, false
}

// writeIPv4Header writes a 20-byte RFC 791 header into hdr for a
// transport-mode packet that ESP delivered.
func writeIPv4Header(hdr []byte, src, dst netip.Addr, proto byte, total int) {
	hdr[0] = 0x45
	hdr[1] = 0
	binary.BigEndian.PutUint16(hdr[2:4], uint16(total))
	binary.BigEndian.PutUint32(hdr[4:8], 0) // ID 0 and no fragmentation: the kernel already reassembled
	hdr[8] = 64
	hdr[9] = proto
	hdr[10], hdr[11] = 0, 0
	s, d := src.As4(), dst.As4()
	copy(hdr[12:16], s[:])
	copy(hdr[16:20], d[:])
	binary.BigEndian.PutUint16(hdr[10:12], ipv4Checksum(hdr[:ipv4HeaderLn]))
}

// writeIPv6Header writes a 40-byte RFC 8200 header into hdr.
func writeIPv6Header(hdr []byte, src, dst netip.Addr, proto byte, payload int) {
	binary.BigEndian.PutUint32(hdr[0:4], 6<<28)
	binary.BigEndian.PutUint16(hdr[4:6], uint16(payload))
	hdr[6] = proto
	hdr[7] = 64
	s, d := src.As16(), dst.As16()
	copy(hdr[8:24], s[:])
	copy(hdr[24:40], d[:])
}

func ipv4Checksum(hdr []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(hdr); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(hdr[i:]))
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}
