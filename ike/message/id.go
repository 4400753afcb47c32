package message

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"fmt"
	"net/netip"
	"strconv"
)

// IDType is an Identification payload's ID Type (RFC 7296 §3.5).
type IDType uint8

const (
	IDIPv4Addr   IDType = 1  // a single 4-octet IPv4 address
	IDFQDN       IDType = 2  // a fully qualified domain name, no terminator
	IDRFC822Addr IDType = 3  // an email address, no terminator
	IDIPv6Addr   IDType = 5  // a single 16-octet IPv6 address
	IDDERASN1DN  IDType = 9  // the DER of an X.500 Distinguished Name
	IDDERASN1GN  IDType = 10 // the DER of an X.509 GeneralName
	IDKeyID      IDType = 11 // opaque octets, vendor-specific
	IDFCName     IDType = 12 // RFC 4595
	IDNull       IDType = 13 // RFC 7619: no identity
)

var idTypeNames = map[IDType]string{
	IDIPv4Addr: "ID_IPV4_ADDR", IDFQDN: "ID_FQDN", IDRFC822Addr: "ID_RFC822_ADDR",
	IDIPv6Addr: "ID_IPV6_ADDR", IDDERASN1DN: "ID_DER_ASN1_DN", IDDERASN1GN: "ID_DER_ASN1_GN",
	IDKeyID: "ID_KEY_ID", IDFCName: "ID_FC_NAME", IDNull: "ID_NULL",
}

func (t IDType) String() string {
	if name, ok := idTypeNames[t]; ok {
		return name
	}
	return fmt.Sprintf("ID_TYPE(%d)", uint8(t))
}

// ID is the Identification payload, IDi or IDr (RFC 7296 §3.5):
//
//	                     1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|   ID Type     |                 RESERVED                      |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	~                   Identification Data                         ~
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// The body as received, RESERVED octets included, is what the AUTH
// payload signs (RestOfInitIDPayload, RFC 7296 §2.15), so Reserved keeps
// them and Encode(nil) gives that body back unchanged.
type ID struct {
	// Responder selects IDr; false is IDi.
	Responder bool
	IDType    IDType
	Reserved  [3]byte
	Data      []byte
}

const idHeaderLen = 4

func (id *ID) Type() PayloadType {
	if id.Responder {
		return PayloadIDr
	}
	return PayloadIDi
}

func (id *ID) Encode(b []byte) ([]byte, error) {
	if err := checkIDData(id.IDType, id.Data); err != nil {
		return nil, cannotEncode("%v", err)
	}
	b = append(b, byte(id.IDType))
	b = append(b, id.Reserved[:]...)
	return append(b, id.Data...), nil
}

func (id *ID) Decode(body []byte) error {
	if len(body) < idHeaderLen {
		return truncated("ID payload of %d bytes", len(body))
	}
	id.IDType = IDType(body[0])
	copy(id.Reserved[:], body[1:idHeaderLen])
	id.Data = body[idHeaderLen:]
	return checkIDData(id.IDType, id.Data)
}

// checkIDData applies the fixed sizes of the address types.
func checkIDData(t IDType, data []byte) error {
	switch t {
	case IDIPv4Addr:
		if len(data) != 4 {
			return malformed("%v of %d bytes", t, len(data))
		}
	case IDIPv6Addr:
		if len(data) != 16 {
			return malformed("%v of %d bytes", t, len(data))
		}
	}
	return nil
}

// Addr returns the address of an ID_IPV4_ADDR or ID_IPV6_ADDR.
func (id *ID) Addr() (netip.Addr, bool) {
	switch {
	case id.IDType == IDIPv4Addr && len(id.Data) == 4:
		return netip.AddrFrom4([4]byte(id.Data)), true
	case id.IDType == IDIPv6Addr && len(id.Data) == 16:
		return netip.AddrFrom16([16]byte(id.Data)), true
	}
	return netip.Addr{}, false
}

// NewAddrID returns the ID_IPV4_ADDR or ID_IPV6_ADDR of addr.
func NewAddrID(responder bool, addr netip.Addr) *ID {
	if addr.Is4() || addr.Is4In6() {
		a := addr.Unmap().As4()
		return &ID{Responder: responder, IDType: IDIPv4Addr, Data: a[:]}
	}
	a := addr.As16()
	return &ID{Responder: responder, IDType: IDIPv6Addr, Data: a[:]}
}

// String renders the identity as strongSwan prints one: an address, a
// name, a DN in RFC 4514 form, or hex for opaque types.
func (id *ID) String() string {
	switch id.IDType {
	case IDIPv4Addr, IDIPv6Addr:
		if a, ok := id.Addr(); ok {
			return a.String()
		}
	case IDFQDN, IDRFC822Addr:
		if printable(id.Data) {
			return string(id.Data)
		}
		return strconv.Quote(string(id.Data))
	case IDDERASN1DN:
		var rdns pkix.RDNSequence
		if rest, err := asn1.Unmarshal(id.Data, &rdns); err == nil && len(rest) == 0 {
			var name pkix.Name
			name.FillFromRDNSequence(&rdns)
			return name.String()
		}
	case IDNull:
		return "%null"
	}
	return fmt.Sprintf("%v:%s", id.IDType, hex.EncodeToString(id.Data))
}

func printable(b []byte) bool {
	for _, c := range b {
		if c < 0x21 || c > 0x7e {
			return false
		}
	}
	return true
}
