package rawip

import (
	"encoding/binary"
	"net/netip"
)

const (
	// protocolESP is ESP's IP protocol number (RFC 4303 §2).
	protocolESP = 50
	// minIPv4HeaderLen and maxIPv4HeaderLen bound the IPv4 header: IHL is
	// 5 to 15 32-bit words (RFC 791 §3.1).
	minIPv4HeaderLen = 20
	maxIPv4HeaderLen = 60
)

// stripIPv4 finds the payload of an IPv4 packet as a raw IPv4 socket
// delivers it (header included, fields in network order), checking the header
// fields the payload bounds depend on (RFC 791 §3.1):
//
//	0      Version (4) | IHL (header length in 32-bit words, >= 5)
//	2-3    Total Length (header and payload, bytes)
//	6-7    Flags | Fragment Offset (a reassembled packet has MF and offset 0)
//	9      Protocol (50, ESP)
//	12-15  Source Address
//
// The payload is b[start:end]; bytes after Total Length are ignored.
func stripIPv4(b []byte) (start, end int, src netip.Addr, ok bool) {
	if len(b) < minIPv4HeaderLen || b[0]>>4 != 4 {
		return 0, 0, netip.Addr{}, false
	}
	headerLen := int(b[0]&0x0f) * 4
	totalLen := int(binary.BigEndian.Uint16(b[2:4]))
	const moreFragments, offsetMask = 0x2000, 0x1fff
	fragment := binary.BigEndian.Uint16(b[6:8]) & (moreFragments | offsetMask)
	switch {
	case headerLen < minIPv4HeaderLen,
		totalLen < headerLen,
		totalLen > len(b),
		fragment != 0,
		b[9] != protocolESP:
		return 0, 0, netip.Addr{}, false
	}
	return headerLen, totalLen, netip.AddrFrom4([4]byte(b[12:16])), true
}
