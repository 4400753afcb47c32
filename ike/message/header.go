package message

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// HeaderLen is the fixed IKE header (RFC 7296 §3.1).
const HeaderLen = 28

// The IKE header (RFC 7296 §3.1):
//
//	                     1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                       IKE SA Initiator's SPI                  |
//	|                                                               |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                       IKE SA Responder's SPI                  |
//	|                                                               |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|  Next Payload | MjVer | MnVer | Exchange Type |     Flags     |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                          Message ID                           |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                            Length                             |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
const (
	hdrSPIi        = 0
	hdrSPIr        = 8
	hdrNextPayload = 16
	hdrVersion     = 17
	hdrExchange    = 18
	hdrFlags       = 19
	hdrMessageID   = 20
	hdrLength      = 24
)

// Version is the only version this package speaks: major 2, minor 0. RFC
// 7296 §3.1 makes senders set the minor version to 0 and receivers ignore
// it.
const (
	MajorVersion = 2
	MinorVersion = 0
)

// ExchangeType is the IKE header's Exchange Type (RFC 7296 §3.1 and the
// IANA "IKEv2 Exchange Types" registry).
type ExchangeType uint8

const (
	ExchangeIKESAInit        ExchangeType = 34
	ExchangeIKEAuth          ExchangeType = 35
	ExchangeCreateChildSA    ExchangeType = 36
	ExchangeInformational    ExchangeType = 37
	ExchangeIKESessionResume ExchangeType = 38 // RFC 5723
	ExchangeGSAAuth          ExchangeType = 39 // G-IKEv2 (draft-ietf-ipsecme-g-ikev2)
	ExchangeGSARegistration  ExchangeType = 40 // G-IKEv2
	ExchangeGSARekey         ExchangeType = 41 // G-IKEv2
	ExchangeIKEIntermediate  ExchangeType = 43 // RFC 9242
	ExchangeIKEFollowupKE    ExchangeType = 44 // RFC 9370
)

var exchangeNames = map[ExchangeType]string{
	ExchangeIKESAInit:        "IKE_SA_INIT",
	ExchangeIKEAuth:          "IKE_AUTH",
	ExchangeCreateChildSA:    "CREATE_CHILD_SA",
	ExchangeInformational:    "INFORMATIONAL",
	ExchangeIKESessionResume: "IKE_SESSION_RESUME",
	ExchangeGSAAuth:          "GSA_AUTH",
	ExchangeGSARegistration:  "GSA_REGISTRATION",
	ExchangeGSARekey:         "GSA_REKEY",
	ExchangeIKEIntermediate:  "IKE_INTERMEDIATE",
	ExchangeIKEFollowupKE:    "IKE_FOLLOWUP_KE",
}

func (e ExchangeType) String() string {
	if name, ok := exchangeNames[e]; ok {
		return name
	}
	return fmt.Sprintf("EXCHANGE(%d)", uint8(e))
}

// Flags is the IKE header's flags octet (RFC 7296 §3.1). The other bits
// are reserved: sent as zero, ignored on receipt.
type Flags uint8

const (
	// FlagInitiator is set by the original initiator of the IKE SA (not of
	// the exchange), and stays with it across rekeys of the IKE SA's
	// messages: it tells the receiver which SPI is its own.
	FlagInitiator Flags = 0x08
	// FlagVersion says the sender could speak a higher major version.
	FlagVersion Flags = 0x10
	// FlagResponse marks a response; requests have it clear.
	FlagResponse Flags = 0x20

	flagsDefined = FlagInitiator | FlagVersion | FlagResponse
)

func (f Flags) Initiator() bool { return f&FlagInitiator != 0 }
func (f Flags) Response() bool  { return f&FlagResponse != 0 }

func (f Flags) String() string {
	var parts []string
	if f&FlagInitiator != 0 {
		parts = append(parts, "I")
	}
	if f&FlagVersion != 0 {
		parts = append(parts, "V")
	}
	if f&FlagResponse != 0 {
		parts = append(parts, "R")
	}
	if rest := f &^ flagsDefined; rest != 0 {
		parts = append(parts, fmt.Sprintf("0x%02x", uint8(rest)))
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// Header is the decoded IKE header. Encoders fill NextPayload and Length
// themselves and always write version 2.0.
type Header struct {
	SPIi, SPIr  uint64
	NextPayload PayloadType
	Exchange    ExchangeType
	Flags       Flags
	MessageID   uint32
	Length      uint32
}

func (h Header) String() string {
	kind := "request"
	if h.Flags.Response() {
		kind = "response"
	}
	return fmt.Sprintf("%v %s %d (SPIs %016x_i %016x_r, flags %v)", h.Exchange, kind, h.MessageID, h.SPIi, h.SPIr, h.Flags)
}

// HeaderView reads and writes the fields of an IKE header in place, in the
// manner of gVisor's header views: nothing is copied or checked. It must
// hold at least HeaderLen bytes; ParseHeader is the checked way in.
type HeaderView []byte

func (v HeaderView) SPIi() uint64                 { return binary.BigEndian.Uint64(v[hdrSPIi:]) }
func (v HeaderView) SPIr() uint64                 { return binary.BigEndian.Uint64(v[hdrSPIr:]) }
func (v HeaderView) NextPayload() PayloadType     { return PayloadType(v[hdrNextPayload]) }
func (v HeaderView) MajorVersion() uint8          { return v[hdrVersion] >> 4 }
func (v HeaderView) MinorVersion() uint8          { return v[hdrVersion] & 0x0f }
func (v HeaderView) Exchange() ExchangeType       { return ExchangeType(v[hdrExchange]) }
func (v HeaderView) Flags() Flags                 { return Flags(v[hdrFlags]) }
func (v HeaderView) MessageID() uint32            { return binary.BigEndian.Uint32(v[hdrMessageID:]) }
func (v HeaderView) Length() uint32               { return binary.BigEndian.Uint32(v[hdrLength:]) }
func (v HeaderView) SetSPIi(spi uint64)           { binary.BigEndian.PutUint64(v[hdrSPIi:], spi) }
func (v HeaderView) SetSPIr(spi uint64)           { binary.BigEndian.PutUint64(v[hdrSPIr:], spi) }
func (v HeaderView) SetNextPayload(t PayloadType) { v[hdrNextPayload] = uint8(t) }
func (v HeaderView) SetExchange(e ExchangeType)   { v[hdrExchange] = uint8(e) }
func (v HeaderView) SetFlags(f Flags)             { v[hdrFlags] = uint8(f) }
func (v HeaderView) SetMessageID(id uint32)       { binary.BigEndian.PutUint32(v[hdrMessageID:], id) }
func (v HeaderView) SetLength(n uint32)           { binary.BigEndian.PutUint32(v[hdrLength:], n) }

// SetVersion writes version 2.0.
func (v HeaderView) SetVersion() { v[hdrVersion] = MajorVersion<<4 | MinorVersion }

// Header decodes the view into a Header.
func (v HeaderView) Header() Header {
	return Header{
		SPIi:        v.SPIi(),
		SPIr:        v.SPIr(),
		NextPayload: v.NextPayload(),
		Exchange:    v.Exchange(),
		Flags:       v.Flags(),
		MessageID:   v.MessageID(),
		Length:      v.Length(),
	}
}

// ParseHeader checks and decodes the IKE header at the start of a whole
// datagram (after any non-ESP marker, RFC 3948 §2.2):
//   - at least HeaderLen bytes, else ErrTruncated;
//   - major version 2, else ErrInvalidMajorVersion (checked before the
//     rest, since another version's header need not look like this one);
//   - the Length field equal to len(datagram), else ErrLengthMismatch: a
//     longer field is a truncated datagram, a shorter one has trailing
//     bytes that no integrity check would cover;
//   - a non-zero initiator SPI, else ErrZeroSPI. RFC 7296 §3.1 says it
//     MUST NOT be zero, and no exchange of RFC 7296, 5723 or 7383 makes an
//     exception; only the responder SPI may be zero (the first IKE_SA_INIT
//     request and stateless IKE_SA_INIT responses such as COOKIE). A caller
//     that wants to look at such a datagram anyway uses HeaderView.
func ParseHeader(datagram []byte) (Header, error) {
	if len(datagram) < HeaderLen {
		return Header{}, truncated("%d bytes, shorter than the %d-byte IKE header", len(datagram), HeaderLen)
	}
	v := HeaderView(datagram)
	if v.MajorVersion() != MajorVersion {
		return Header{}, fmt.Errorf("%w: %d.%d", ErrInvalidMajorVersion, v.MajorVersion(), v.MinorVersion())
	}
	if v.Length() != uint32(len(datagram)) {
		return Header{}, fmt.Errorf("%w: header says %d bytes, datagram has %d", ErrLengthMismatch, v.Length(), len(datagram))
	}
	if v.SPIi() == 0 {
		return Header{}, ErrZeroSPI
	}
	return v.Header(), nil
}

// appendHeader appends h as version 2.0 with the given next payload; the
// caller patches Length once the message is complete.
func appendHeader(b []byte, h Header, next PayloadType) []byte {
	start := len(b)
	b = append(b, make([]byte, HeaderLen)...)
	v := HeaderView(b[start:])
	v.SetSPIi(h.SPIi)
	v.SetSPIr(h.SPIr)
	v.SetNextPayload(next)
	v.SetVersion()
	v.SetExchange(h.Exchange)
	v.SetFlags(h.Flags & flagsDefined) // reserved bits are sent as zero
	v.SetMessageID(h.MessageID)
	return b
}
