package message

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
)

// ProtocolID names the protocol of a proposal, notification or delete
// (RFC 7296 §3.3.1, §3.10, §3.11).
type ProtocolID uint8

const (
	ProtocolNone ProtocolID = 0 // in Notify: not about an SA
	ProtocolIKE  ProtocolID = 1
	ProtocolAH   ProtocolID = 2
	ProtocolESP  ProtocolID = 3
)

func (p ProtocolID) String() string {
	switch p {
	case ProtocolNone:
		return "NONE"
	case ProtocolIKE:
		return "IKE"
	case ProtocolAH:
		return "AH"
	case ProtocolESP:
		return "ESP"
	}
	return fmt.Sprintf("PROTO(%d)", uint8(p))
}

// TransformType is a transform's Transform Type (RFC 7296 §3.3.2; types
// 6-12 are RFC 9370's additional key exchanges).
type TransformType uint8

const (
	TransformEncr   TransformType = 1 // encryption algorithm (ENCR)
	TransformPRF    TransformType = 2 // pseudorandom function (PRF)
	TransformInteg  TransformType = 3 // integrity algorithm (INTEG)
	TransformDH     TransformType = 4 // Diffie-Hellman group (D-H), "Key Exchange Method" in RFC 9370
	TransformESN    TransformType = 5 // extended sequence numbers (ESN)
	TransformAddKE1 TransformType = 6
	TransformAddKE7 TransformType = 12
)

func (t TransformType) String() string {
	switch t {
	case TransformEncr:
		return "ENCR"
	case TransformPRF:
		return "PRF"
	case TransformInteg:
		return "INTEG"
	case TransformDH:
		return "KE"
	case TransformESN:
		return "ESN"
	}
	if t >= TransformAddKE1 && t <= TransformAddKE7 {
		return fmt.Sprintf("ADDKE%d", t-TransformAddKE1+1)
	}
	return fmt.Sprintf("TRANSFORM(%d)", uint8(t))
}

// Transform IDs (RFC 7296 §3.3.2 and the IANA "IKEv2 Parameters"
// registry) of the algorithms strongSwan proposes by default or that espd
// implements; others decode as numbers.
const (
	EncrNull             uint16 = 11
	Encr3DES             uint16 = 3
	EncrAESCBC           uint16 = 12
	EncrAESCTR           uint16 = 13
	EncrAESCCM8          uint16 = 14
	EncrAESCCM12         uint16 = 15
	EncrAESCCM16         uint16 = 16
	EncrAESGCM8          uint16 = 18
	EncrAESGCM12         uint16 = 19
	EncrAESGCM16         uint16 = 20
	EncrNullAuthAESGMAC  uint16 = 21
	EncrChaCha20Poly1305 uint16 = 28

	PRFHMACMD5      uint16 = 1
	PRFHMACSHA1     uint16 = 2
	PRFAES128XCBC   uint16 = 4
	PRFHMACSHA2_256 uint16 = 5
	PRFHMACSHA2_384 uint16 = 6
	PRFHMACSHA2_512 uint16 = 7
	PRFAES128CMAC   uint16 = 8

	IntegNone             uint16 = 0
	IntegHMACMD5_96       uint16 = 1
	IntegHMACSHA1_96      uint16 = 2
	IntegAESXCBC96        uint16 = 5
	IntegAESCMAC96        uint16 = 8
	IntegHMACSHA2_256_128 uint16 = 12
	IntegHMACSHA2_384_192 uint16 = 13
	IntegHMACSHA2_512_256 uint16 = 14

	DHNone       uint16 = 0
	DHMODP1024   uint16 = 2
	DHMODP1536   uint16 = 5
	DHMODP2048   uint16 = 14
	DHMODP3072   uint16 = 15
	DHMODP4096   uint16 = 16
	DHMODP6144   uint16 = 17
	DHMODP8192   uint16 = 18
	DHECP256     uint16 = 19
	DHECP384     uint16 = 20
	DHECP521     uint16 = 21
	DHCurve25519 uint16 = 31
	DHCurve448   uint16 = 32
	DHMLKEM512   uint16 = 35 // RFC 9370 with draft-ietf-ipsecme-ikev2-mlkem
	DHMLKEM768   uint16 = 36
	DHMLKEM1024  uint16 = 37

	ESNNo  uint16 = 0
	ESNYes uint16 = 1
)

var transformNames = map[TransformType]map[uint16]string{
	TransformEncr: {
		Encr3DES: "3DES_CBC", EncrNull: "NULL", EncrAESCBC: "AES_CBC", EncrAESCTR: "AES_CTR",
		EncrAESCCM8: "AES_CCM_8", EncrAESCCM12: "AES_CCM_12", EncrAESCCM16: "AES_CCM_16",
		EncrAESGCM8: "AES_GCM_8", EncrAESGCM12: "AES_GCM_12", EncrAESGCM16: "AES_GCM_16",
		EncrNullAuthAESGMAC: "NULL_AES_GMAC", EncrChaCha20Poly1305: "CHACHA20_POLY1305",
	},
	TransformPRF: {
		PRFHMACMD5: "PRF_HMAC_MD5", PRFHMACSHA1: "PRF_HMAC_SHA1", PRFAES128XCBC: "PRF_AES128_XCBC",
		PRFHMACSHA2_256: "PRF_HMAC_SHA2_256", PRFHMACSHA2_384: "PRF_HMAC_SHA2_384",
		PRFHMACSHA2_512: "PRF_HMAC_SHA2_512", PRFAES128CMAC: "PRF_AES128_CMAC",
	},
	TransformInteg: {
		IntegNone: "NONE", IntegHMACMD5_96: "HMAC_MD5_96", IntegHMACSHA1_96: "HMAC_SHA1_96",
		IntegAESXCBC96: "AES_XCBC_96", IntegAESCMAC96: "AES_CMAC_96",
		IntegHMACSHA2_256_128: "HMAC_SHA2_256_128", IntegHMACSHA2_384_192: "HMAC_SHA2_384_192",
		IntegHMACSHA2_512_256: "HMAC_SHA2_512_256",
	},
	TransformDH: {
		DHNone: "NONE", DHMODP1024: "MODP_1024", DHMODP1536: "MODP_1536", DHMODP2048: "MODP_2048",
		DHMODP3072: "MODP_3072", DHMODP4096: "MODP_4096", DHMODP6144: "MODP_6144",
		DHMODP8192: "MODP_8192", DHECP256: "ECP_256", DHECP384: "ECP_384", DHECP521: "ECP_521",
		DHCurve25519: "CURVE_25519", DHCurve448: "CURVE_448", DHMLKEM512: "ML_KEM_512",
		DHMLKEM768: "ML_KEM_768", DHMLKEM1024: "ML_KEM_1024",
	},
	TransformESN: {ESNNo: "NO_EXT_SEQ", ESNYes: "EXT_SEQ"},
}

// AttributeType is a transform attribute's type, without the AF bit
// (RFC 7296 §3.3.5).
type AttributeType uint16

// AttributeKeyLength is the only transform attribute IKEv2 defines: the
// key length in bits of a cipher with a variable key size, in TV format.
const AttributeKeyLength AttributeType = 14

// Attribute is a data attribute of a transform (RFC 7296 §3.3.5):
//
//	                     1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|A|       Attribute Type        |    AF=0  Attribute Length     |
//	|F|                             |    AF=1  Attribute Value      |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                   AF=0  Attribute Value                       |
//	|                   AF=1  Not Transmitted                       |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// TV (AF=1) attributes carry a 16-bit Value; TLV ones carry Data.
type Attribute struct {
	Type  AttributeType
	TV    bool
	Value uint16
	Data  []byte
}

const (
	attrFormatTV   = 0x8000
	attrHeaderLen  = 4
	maxAttrTypeVal = 0x7fff
)

// KeyLength returns the Key Length attribute for bits.
func KeyLength(bits uint16) Attribute {
	return Attribute{Type: AttributeKeyLength, TV: true, Value: bits}
}

// Transform is a transform substructure (RFC 7296 §3.3.2):
//
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	| Last Substruc |   RESERVED    |        Transform Length       |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|Transform Type |   RESERVED    |          Transform ID         |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	~                      Transform Attributes                     ~
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Last Substruc is 0 for the last transform of a proposal and 3 otherwise.
type Transform struct {
	Type       TransformType
	ID         uint16
	Attributes []Attribute
}

const (
	transformHeaderLen = 8
	lastTransform      = 0
	moreTransforms     = 3
)

// KeyLength returns the Key Length attribute's value, if present.
func (t Transform) KeyLength() (bits uint16, ok bool) {
	for _, a := range t.Attributes {
		if a.Type == AttributeKeyLength && a.TV {
			return a.Value, true
		}
	}
	return 0, false
}

// String names the transform as strongSwan does: "AES_CBC_256",
// "PRF_HMAC_SHA2_256", "CURVE_25519", or the numbers when unknown.
func (t Transform) String() string {
	name, ok := transformNames[t.Type][t.ID]
	switch {
	case ok:
	case t.Type >= TransformAddKE1 && t.Type <= TransformAddKE7:
		// Additional key exchanges take the key exchange method IDs
		// (RFC 9370 §2.2.1).
		dh, known := transformNames[TransformDH][t.ID]
		if !known {
			dh = strconv.Itoa(int(t.ID))
		}
		name = t.Type.String() + "_" + dh
	default:
		name = fmt.Sprintf("%v_%d", t.Type, t.ID)
	}
	if bits, ok := t.KeyLength(); ok {
		name += fmt.Sprintf("_%d", bits)
	}
	return name
}

// Proposal is a proposal substructure (RFC 7296 §3.3.1):
//
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	| Last Substruc |   RESERVED    |         Proposal Length       |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	| Proposal Num  |  Protocol ID  |    SPI Size   |Num  Transforms|
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	~                        SPI (variable)                         ~
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	~                        <Transforms>                           ~
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Last Substruc is 0 for the last proposal and 2 otherwise. The SPI is 4
// bytes for AH and ESP and 0 (IKE_SA_INIT) or 8 (IKE SA rekey) for IKE.
type Proposal struct {
	Number     uint8
	Protocol   ProtocolID
	SPI        []byte
	Transforms []Transform
}

const (
	proposalHeaderLen = 8
	lastProposal      = 0
	moreProposals     = 2
)

// SPI32 returns the SPI of an AH or ESP proposal.
func (p Proposal) SPI32() (uint32, bool) {
	if len(p.SPI) != 4 {
		return 0, false
	}
	return binary.BigEndian.Uint32(p.SPI), true
}

// SPI64 returns the SPI of an IKE proposal in a rekey.
func (p Proposal) SPI64() (uint64, bool) {
	if len(p.SPI) != 8 {
		return 0, false
	}
	return binary.BigEndian.Uint64(p.SPI), true
}

// String renders the proposal as strongSwan logs one, for example
// "IKE:AES_CBC_256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/CURVE_25519", with
// the transforms in the order of their types.
func (p Proposal) String() string {
	var names []string
	for _, typ := range []TransformType{TransformEncr, TransformInteg, TransformPRF, TransformDH, TransformESN} {
		for _, t := range p.Transforms {
			if t.Type == typ {
				names = append(names, t.String())
			}
		}
	}
	for _, t := range p.Transforms {
		if t.Type < TransformEncr || t.Type > TransformESN {
			names = append(names, t.String())
		}
	}
	return p.Protocol.String() + ":" + strings.Join(names, "/")
}

// checkSPISize applies the SPI sizes RFC 7296 §3.3.1 gives the protocols
// it defines; other protocols are left to the proposal matching, which
// will not choose them.
func checkSPISize(protocol ProtocolID, size int) error {
	switch protocol {
	case ProtocolAH, ProtocolESP:
		if size != 4 {
			return malformed("%v proposal with a %d-byte SPI, want 4", protocol, size)
		}
	case ProtocolIKE:
		if size != 0 && size != 8 {
			return malformed("IKE proposal with a %d-byte SPI, want 0 or 8", size)
		}
	}
	return nil
}

// SA is the Security Association payload (RFC 7296 §3.3): one or more
// proposals. In a request they are numbered from 1, each one more than the
// last; a response holds the one chosen, with its number. Decode checks
// only that numbers are non-zero and never decrease (as strongSwan does),
// which both shapes satisfy.
type SA struct {
	Proposals []Proposal
}

func (*SA) Type() PayloadType { return PayloadSA }

func (sa *SA) Encode(b []byte) ([]byte, error) {
	if len(sa.Proposals) == 0 {
		return nil, cannotEncode("SA payload without proposals")
	}
	for i, p := range sa.Proposals {
		if err := checkSPISize(p.Protocol, len(p.SPI)); err != nil {
			return nil, cannotEncode("proposal %d: %v", p.Number, err)
		}
		if len(p.Transforms) > 0xff {
			return nil, cannotEncode("proposal %d has %d transforms", p.Number, len(p.Transforms))
		}
		last := byte(moreProposals)
		if i == len(sa.Proposals)-1 {
			last = lastProposal
		}
		start := len(b)
		b = append(b, last, 0, 0, 0, p.Number, byte(p.Protocol), byte(len(p.SPI)), byte(len(p.Transforms)))
		b = append(b, p.SPI...)
		for j, t := range p.Transforms {
			var err error
			if b, err = appendTransform(b, t, j == len(p.Transforms)-1); err != nil {
				return nil, fmt.Errorf("proposal %d: %w", p.Number, err)
			}
		}
		if len(b)-start > maxPayloadLen {
			return nil, cannotEncode("proposal %d is %d bytes", p.Number, len(b)-start)
		}
		binary.BigEndian.PutUint16(b[start+2:], uint16(len(b)-start))
	}
	return b, nil
}

func appendTransform(b []byte, t Transform, isLast bool) ([]byte, error) {
	last := byte(moreTransforms)
	if isLast {
		last = lastTransform
	}
	start := len(b)
	b = append(b, last, 0, 0, 0, byte(t.Type), 0, byte(t.ID>>8), byte(t.ID))
	for _, a := range t.Attributes {
		if a.Type > maxAttrTypeVal {
			return nil, cannotEncode("attribute type %d does not fit 15 bits", a.Type)
		}
		if a.TV {
			b = binary.BigEndian.AppendUint16(b, attrFormatTV|uint16(a.Type))
			b = binary.BigEndian.AppendUint16(b, a.Value)
			continue
		}
		if len(a.Data) > maxPayloadLen {
			return nil, cannotEncode("attribute %d has %d bytes", a.Type, len(a.Data))
		}
		b = binary.BigEndian.AppendUint16(b, uint16(a.Type))
		b = binary.BigEndian.AppendUint16(b, uint16(len(a.Data)))
		b = append(b, a.Data...)
	}
	if len(b)-start > maxPayloadLen {
		return nil, cannotEncode("transform %v is %d bytes", t, len(b)-start)
	}
	binary.BigEndian.PutUint16(b[start+2:], uint16(len(b)-start))
	return b, nil
}

func (sa *SA) Decode(body []byte) error {
	sa.Proposals = nil
	if len(body) == 0 {
		return malformed("SA payload without proposals")
	}
	previous := uint8(1)
	for len(body) > 0 {
		if len(body) < proposalHeaderLen {
			return truncated("proposal header needs %d bytes, %d left", proposalHeaderLen, len(body))
		}
		last, length := body[0], int(binary.BigEndian.Uint16(body[2:]))
		if last != lastProposal && last != moreProposals {
			return malformed("proposal Last Substruc %d, want 0 or 2", last)
		}
		if length < proposalHeaderLen {
			return malformed("proposal length %d", length)
		}
		if length > len(body) {
			return truncated("proposal length %d, %d bytes left", length, len(body))
		}
		if (last == lastProposal) != (length == len(body)) {
			return malformed("proposal Last Substruc %d does not match its position", last)
		}
		p, err := decodeProposal(body[:length:length])
		if err != nil {
			return err
		}
		if p.Number < previous {
			return malformed("proposal number %d after %d", p.Number, previous)
		}
		previous = p.Number
		sa.Proposals = append(sa.Proposals, p)
		body = body[length:]
	}
	return nil
}

func decodeProposal(b []byte) (Proposal, error) {
	p := Proposal{Number: b[4], Protocol: ProtocolID(b[5])}
	spiSize, count := int(b[6]), int(b[7])
	b = b[proposalHeaderLen:]
	if spiSize > len(b) {
		return Proposal{}, truncated("proposal %d: %d-byte SPI, %d bytes left", p.Number, spiSize, len(b))
	}
	if err := checkSPISize(p.Protocol, spiSize); err != nil {
		return Proposal{}, err
	}
	p.SPI, b = b[:spiSize:spiSize], b[spiSize:]
	if count == 0 {
		// RFC 7296 §3.3.1 makes every proposal carry its transforms.
		return Proposal{}, malformed("proposal %d without transforms", p.Number)
	}
	p.Transforms = make([]Transform, 0, min(count, len(b)/transformHeaderLen))
	for len(b) > 0 {
		if len(b) < transformHeaderLen {
			return Proposal{}, truncated("proposal %d: transform header needs %d bytes, %d left", p.Number, transformHeaderLen, len(b))
		}
		last, length := b[0], int(binary.BigEndian.Uint16(b[2:]))
		if last != lastTransform && last != moreTransforms {
			return Proposal{}, malformed("proposal %d: transform Last Substruc %d, want 0 or 3", p.Number, last)
		}
		if length < transformHeaderLen {
			return Proposal{}, malformed("proposal %d: transform length %d", p.Number, length)
		}
		if length > len(b) {
			return Proposal{}, truncated("proposal %d: transform length %d, %d bytes left", p.Number, length, len(b))
		}
		if (last == lastTransform) != (length == len(b)) {
			return Proposal{}, malformed("proposal %d: transform Last Substruc %d does not match its position", p.Number, last)
		}
		t, err := decodeTransform(b[:length:length])
		if err != nil {
			return Proposal{}, fmt.Errorf("proposal %d: %w", p.Number, err)
		}
		p.Transforms = append(p.Transforms, t)
		b = b[length:]
	}
	if len(p.Transforms) != count {
		return Proposal{}, malformed("proposal %d says %d transforms, holds %d", p.Number, count, len(p.Transforms))
	}
	return p, nil
}

func decodeTransform(b []byte) (Transform, error) {
	t := Transform{Type: TransformType(b[4]), ID: binary.BigEndian.Uint16(b[6:])}
	b = b[transformHeaderLen:]
	for len(b) > 0 {
		if len(b) < attrHeaderLen {
			return Transform{}, truncated("transform %v: attribute header needs %d bytes, %d left", t, attrHeaderLen, len(b))
		}
		word, valueOrLength := binary.BigEndian.Uint16(b), binary.BigEndian.Uint16(b[2:])
		a := Attribute{Type: AttributeType(word &^ attrFormatTV)}
		if word&attrFormatTV != 0 {
			a.TV, a.Value = true, valueOrLength
			b = b[attrHeaderLen:]
		} else {
			n := int(valueOrLength)
			if attrHeaderLen+n > len(b) {
				return Transform{}, truncated("transform %v: attribute %d of %d bytes, %d left", t, a.Type, n, len(b)-attrHeaderLen)
			}
			a.Data = b[attrHeaderLen : attrHeaderLen+n : attrHeaderLen+n]
			b = b[attrHeaderLen+n:]
		}
		if a.Type == AttributeKeyLength && !a.TV {
			return Transform{}, malformed("transform %v: Key Length attribute in TLV format", t)
		}
		t.Attributes = append(t.Attributes, a)
	}
	return t, nil
}
