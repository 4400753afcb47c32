// Package nat carries ESP in UDP (RFC 3948) on the port it shares with IKE:
// it demultiplexes ESP, IKE and NAT-keepalive datagrams, moves ESP in
// batches for the data plane, and keeps NAT mappings alive.
package nat

import "fmt"

// Kind is what a datagram on the ESP-in-UDP port carries.
type Kind uint8

const (
	// KindInvalid is a datagram that is none of the others; it is dropped.
	KindInvalid Kind = iota
	// KindESP is an ESP packet: a non-zero SPI where IKE has its non-ESP
	// marker (RFC 3948 §2.1, §2.2).
	KindESP
	// KindIKE is an IKE message behind the 4-byte zero non-ESP marker
	// (RFC 3948 §2.2, RFC 7296 §2.23).
	KindIKE
	// KindKeepalive is a NAT-keepalive: the single byte 0xFF (RFC 3948
	// §2.3).
	KindKeepalive
)

func (k Kind) String() string {
	switch k {
	case KindInvalid:
		return "invalid"
	case KindESP:
		return "ESP"
	case KindIKE:
		return "IKE"
	case KindKeepalive:
		return "keepalive"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

const (
	// nonESPMarkerLen is the length of the zero "SPI" that precedes IKE
	// messages on port 4500 (RFC 3948 §2.2).
	nonESPMarkerLen = 4
	// espHeaderLen is the SPI and sequence number every ESP packet starts
	// with (RFC 4303 §2).
	espHeaderLen = 8
	// keepaliveByte is the whole NAT-keepalive payload (RFC 3948 §2.3).
	keepaliveByte = 0xFF
)

// invalidReason says why a datagram is KindInvalid, for the drop counters.
type invalidReason uint8

const (
	notInvalid    invalidReason = iota
	invalidEmpty                // zero-length datagram
	invalidShort                // too short for an ESP header and not a keepalive
	invalidMarker               // non-ESP marker with no IKE message after it
)

// Classify applies the receiver's demultiplexing rule of RFC 3948 §2.2 and
// §2.3 to one UDP payload:
//
//	one byte 0xFF                       NAT-keepalive
//	00 00 00 00 | IKE message (1+ bytes) IKE
//	SPI (non-zero) | sequence | ...     ESP, at least 8 bytes
//
// Everything else (empty, shorter than an ESP header, a bare marker) is
// KindInvalid.
func Classify(datagram []byte) Kind {
	kind, _ := classify(datagram)
	return kind
}

func classify(d []byte) (Kind, invalidReason) {
	switch {
	case len(d) == 0:
		return KindInvalid, invalidEmpty
	case len(d) == 1 && d[0] == keepaliveByte:
		return KindKeepalive, notInvalid
	case len(d) < nonESPMarkerLen:
		return KindInvalid, invalidShort
	case d[0]|d[1]|d[2]|d[3] == 0:
		if len(d) == nonESPMarkerLen {
			return KindInvalid, invalidMarker
		}
		return KindIKE, notInvalid
	case len(d) < espHeaderLen:
		return KindInvalid, invalidShort
	}
	return KindESP, notInvalid
}
