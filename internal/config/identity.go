package config

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// IDType is an IKEv2 identification type (RFC 7296 §3.5), with IDAny for
// strongSwan's %any, which is no wire type.
type IDType uint8

// The identity types espd reads.
const (
	IDAny     IDType = 0
	IDIPv4    IDType = 1  // ID_IPV4_ADDR
	IDFQDN    IDType = 2  // ID_FQDN
	IDEmail   IDType = 3  // ID_RFC822_ADDR
	IDIPv6    IDType = 5  // ID_IPV6_ADDR
	IDDN      IDType = 9  // ID_DER_ASN1_DN
	IDKeyID   IDType = 11 // ID_KEY_ID
	idTypeMax        = IDKeyID
)

func (t IDType) String() string {
	switch t {
	case IDAny:
		return "any"
	case IDIPv4:
		return "IPv4 address"
	case IDFQDN:
		return "FQDN"
	case IDEmail:
		return "email address"
	case IDIPv6:
		return "IPv6 address"
	case IDDN:
		return "distinguished name"
	case IDKeyID:
		return "key ID"
	}
	return fmt.Sprintf("ID type %d", uint8(t))
}

// Identity is an IKE identity as swanctl.conf writes it (the id keys of the
// local and remote sections, the id<suffix> keys of secrets). Note that a
// key ID, "@#hex", must be quoted in the file: an unquoted '#' starts a
// comment.
type Identity struct {
	Type IDType
	// Data is the Identification Data as it goes into an IDi/IDr payload
	// (RFC 7296 §3.5): four or sixteen address bytes, the FQDN or email
	// address as text, the DER encoding of a DN, the key ID's bytes.
	Data []byte
	// Text is the identity as written, for messages and logs.
	Text string
}

func (id Identity) String() string { return id.Text }

// Wildcard reports whether the identity has a '*', which matches any
// label (FQDN), local part (email) or attribute value (DN) of a peer's
// identity; only remote identities may have one.
func (id Identity) Wildcard() bool {
	switch id.Type {
	case IDFQDN, IDEmail:
		return strings.Contains(string(id.Data), "*")
	case IDDN:
		return strings.Contains(id.Text, "*")
	}
	return false
}

// anyIdentities are the spellings strongSwan reads as ID_ANY
// (identification.c, identification_create_from_string).
var anyIdentities = map[string]bool{"%any": true, "%any6": true, "*": true, "0.0.0.0": true, "::": true, "0::0": true}

// parseIdentity reads an identity the way strongSwan's
// identification_create_from_string does (swanctl.conf(5), local id), with
// two differences: what strongSwan would guess at (a DN with an unknown
// attribute, a malformed address, a string with blanks, read as a key ID or
// FQDN) is an error here, and so are the types espd cannot use (subnets,
// ranges, ASN.1 general names, numeric types).
func parseIdentity(s string) (Identity, error) {
	id := Identity{Text: s}
	if prefix, rest, ok := strings.Cut(s, ":"); ok {
		if t, known := idPrefixes[strings.ToLower(prefix)]; known {
			return parsePrefixedIdentity(id, prefix, t, rest)
		}
		if unsupportedIDPrefixes[strings.ToLower(prefix)] || strings.HasPrefix(prefix, "{") {
			return id, fmt.Errorf("identity type %q is not supported by espd (use an address, FQDN, email address, DN or @#hex key ID)", prefix+":")
		}
	}
	switch {
	case strings.Contains(s, "="):
		der, err := parseDN(s)
		if err != nil {
			return id, err
		}
		id.Type, id.Data = IDDN, der
		return id, nil
	case anyIdentities[s]:
		id.Type = IDAny
		return id, nil
	case s == "@":
		return id, errors.New(`identity "@" is empty (an unquoted '#' starts a comment, so a key ID must be quoted: "@#...")`)
	case strings.HasPrefix(s, "@#"):
		data, err := parseIDHex(s[2:])
		if err != nil {
			return id, err
		}
		id.Type, id.Data = IDKeyID, data
		return id, nil
	case strings.HasPrefix(s, "@@"):
		// strongSwan takes the rest as it is, an email address without
		// conversion.
		return literalIdentity(id, IDEmail, s[2:])
	case strings.HasPrefix(s, "@"):
		return literalIdentity(id, IDFQDN, s[1:])
	case strings.Contains(s, "@"):
		if err := checkEmail(s); err != nil {
			return id, err
		}
		id.Type, id.Data = IDEmail, []byte(s)
		return id, nil
	case strings.Contains(s, ":"):
		addr, err := netip.ParseAddr(s)
		if err != nil || !addr.Is6() || addr.Zone() != "" {
			return id, fmt.Errorf("%q is not an IPv6 address (a key ID is written @#hex)", s)
		}
		id.Type, id.Data = IDIPv6, addr.AsSlice()
		return id, nil
	}
	if addr, err := netip.ParseAddr(s); err == nil && addr.Is4() {
		id.Type, id.Data = IDIPv4, addr.AsSlice()
		return id, nil
	}
	if strings.ContainsAny(s, "/-") && looksNumeric(s) {
		return id, fmt.Errorf("%q is an address range or subnet, which espd does not support as an identity", s)
	}
	if err := checkHostname(s, true); err != nil {
		return id, err
	}
	id.Type, id.Data = IDFQDN, []byte(s)
	return id, nil
}

// idPrefixes are the type prefixes of identification.c that espd supports.
var idPrefixes = map[string]IDType{
	"ipv4": IDIPv4, "ipv6": IDIPv6,
	"rfc822": IDEmail, "email": IDEmail, "userfqdn": IDEmail,
	"fqdn": IDFQDN, "dns": IDFQDN,
	"asn1dn": IDDN,
	"keyid":  IDKeyID,
}

var unsupportedIDPrefixes = map[string]bool{
	"ipv4net": true, "ipv6net": true, "ipv4range": true, "ipv6range": true, "asn1gn": true, "xmppaddr": true,
}

// parsePrefixedIdentity reads "type:value" or "type:#hex". As in
// strongSwan, a value without '#' is taken as it is, so "ipv4:192.0.2.1"
// would be eleven bytes of text, which no peer accepts as an address; that
// and a DN given as text are refused.
func parsePrefixedIdentity(id Identity, prefix string, t IDType, value string) (Identity, error) {
	if value == "" {
		return id, fmt.Errorf("identity %q has nothing after the prefix (an unquoted '#' starts a comment, so hex data must be quoted: \"%s#...\")", id.Text, id.Text)
	}
	if !strings.HasPrefix(value, "#") {
		switch t {
		case IDIPv4, IDIPv6, IDDN:
			return id, fmt.Errorf("%q takes hex data (%s:#...); strongSwan does not convert text for this type, so write the identity without the prefix", id.Text, prefix)
		}
		return literalIdentity(id, t, value)
	}
	data, err := parseIDHex(value[1:])
	if err != nil {
		return id, err
	}
	switch t {
	case IDIPv4:
		if len(data) != 4 {
			return id, fmt.Errorf("an IPv4 identity is 4 bytes, %q has %d", id.Text, len(data))
		}
	case IDIPv6:
		if len(data) != 16 {
			return id, fmt.Errorf("an IPv6 identity is 16 bytes, %q has %d", id.Text, len(data))
		}
	case IDDN:
		var rdns pkix.RDNSequence
		if rest, err := asn1.Unmarshal(data, &rdns); err != nil || len(rest) != 0 {
			return id, fmt.Errorf("%q is not the DER encoding of a distinguished name", id.Text)
		}
	}
	id.Type, id.Data = t, data
	return id, nil
}

// literalIdentity is an identity whose text is its data.
func literalIdentity(id Identity, t IDType, value string) (Identity, error) {
	if value == "" {
		return id, fmt.Errorf("identity %q is empty after its prefix", id.Text)
	}
	if t != IDKeyID && strings.ContainsAny(value, " \t") {
		return id, fmt.Errorf("identity %q contains a blank", id.Text)
	}
	id.Type, id.Data = t, []byte(value)
	return id, nil
}

func parseIDHex(s string) ([]byte, error) {
	if s == "" {
		return nil, errors.New("no hex digits after '#'")
	}
	if strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X") {
		return nil, errors.New("write the hex digits after '#' without 0x")
	}
	return parseHexKey(s)
}

// looksNumeric reports whether s is made of what addresses, ranges and
// prefixes are made of, so that "192.0.2.1-192.0.2.9" is not taken for a
// hostname.
func looksNumeric(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && c != '.' && c != '/' && c != '-' {
			return false
		}
	}
	return true
}

// checkHostname applies RFC 1123 §2.1 hostname rules (letters, digits,
// hyphens; labels of 1 to 63 bytes; at most 253 in all), accepting '_' as
// DNS does in practice; with wildcard, a first label of "*" too. An
// all-numeric name is a mistyped IPv4 address rather than a name.
func checkHostname(s string, wildcard bool) error {
	if s == "" {
		return errors.New("empty name")
	}
	if len(s) > 253 {
		return fmt.Errorf("%q is longer than 253 bytes, too long for a DNS name", s)
	}
	if looksNumeric(s) {
		return fmt.Errorf("%q is not an IP address", s)
	}
	for i, label := range strings.Split(s, ".") {
		if wildcard && i == 0 && label == "*" {
			continue
		}
		if label == "" || len(label) > 63 {
			return fmt.Errorf("%q is not a DNS name (each dot-separated label has 1 to 63 bytes)", s)
		}
		for j := 0; j < len(label); j++ {
			c := label[j]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return fmt.Errorf("%q is not a DNS name (%s in a label)", s, describeByte(c))
			}
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("%q is not a DNS name (a label starts or ends with '-')", s)
		}
	}
	return nil
}

func describeByte(c byte) string {
	if c > ' ' && c < 0x7f {
		return fmt.Sprintf("%q", rune(c))
	}
	return fmt.Sprintf("byte 0x%02x", c)
}

// checkEmail accepts local@domain, where local may be "*" (any user of
// the domain, in a remote identity).
func checkEmail(s string) error {
	local, domain, _ := strings.Cut(s, "@")
	switch {
	case local == "":
		return fmt.Errorf("%q has nothing before the '@'", s)
	case strings.Contains(domain, "@"):
		return fmt.Errorf("%q has more than one '@'", s)
	case strings.ContainsAny(local, " \t"):
		return fmt.Errorf("%q contains a blank", s)
	}
	if err := checkHostname(domain, false); err != nil {
		return fmt.Errorf("%q: the domain: %v", s, err)
	}
	return nil
}

// dnAttribute is one attribute name strongSwan's atodn knows
// (identification.c, x501rdns), with its OID (RFC 4519, RFC 2985).
type dnAttribute struct {
	oid asn1.ObjectIdentifier
	// ia5 selects IA5String, as strongSwan encodes email addresses and
	// unstructured names; the others are PrintableString when their value
	// allows it and UTF8String otherwise.
	ia5 bool
}

var dnAttributes = func() map[string]dnAttribute {
	x520 := func(n int) asn1.ObjectIdentifier { return asn1.ObjectIdentifier{2, 5, 4, n} }
	pkcs9 := func(n int) asn1.ObjectIdentifier { return asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, n} }
	m := map[string]dnAttribute{
		"uid": {oid: asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 1}},
		"dc":  {oid: asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 25}},
		"cn":  {oid: x520(3)}, "sn": {oid: x520(4)}, "serialnumber": {oid: x520(5)},
		"c": {oid: x520(6)}, "l": {oid: x520(7)}, "st": {oid: x520(8)}, "street": {oid: x520(9)},
		"o": {oid: x520(10)}, "ou": {oid: x520(11)}, "t": {oid: x520(12)}, "d": {oid: x520(13)},
		"postaladdress": {oid: x520(16)}, "postalcode": {oid: x520(17)},
		"n": {oid: x520(41)}, "g": {oid: x520(42)}, "i": {oid: x520(43)},
		"id": {oid: x520(45)}, "dnqualifier": {oid: x520(46)}, "dmdname": {oid: x520(54)},
		"pseudonym": {oid: x520(65)},
		"en":        {oid: asn1.ObjectIdentifier{2, 16, 840, 1, 113730, 3, 1, 3}},
		"e":         {oid: pkcs9(1), ia5: true}, "email": {oid: pkcs9(1), ia5: true},
		"un": {oid: pkcs9(2), ia5: true}, "ua": {oid: pkcs9(8)},
	}
	m["employeenumber"] = m["en"]
	m["emailaddress"] = m["e"]
	m["unstructuredname"] = m["un"]
	m["unstructuredaddress"] = m["ua"]
	return m
}()

// parseDN reads a distinguished name such as "C=CH, O=strongSwan, CN=moon"
// (or "/C=CH/O=strongSwan/CN=moon", openssl's older style) into its DER
// encoding, one attribute per RDN in the order written, as strongSwan's
// atodn does. Attribute names are case-insensitive; there is no escaping,
// so a value cannot contain the separator.
func parseDN(s string) ([]byte, error) {
	sep, body := ",", s
	if strings.HasPrefix(s, "/") {
		sep, body = "/", s[1:]
	}
	var rdns pkix.RDNSequence
	for _, part := range strings.Split(body, sep) {
		part = strings.TrimLeft(part, " ")
		name, value, ok := strings.Cut(part, "=")
		name = strings.TrimRight(name, " ")
		switch {
		case part == "":
			return nil, fmt.Errorf("distinguished name %q has an empty part", s)
		case !ok:
			return nil, fmt.Errorf("distinguished name %q: %q is not attribute=value", s, part)
		case strings.ContainsAny(name, " \t"):
			return nil, fmt.Errorf("distinguished name %q: attribute %q contains a blank", s, name)
		}
		attr, known := dnAttributes[strings.ToLower(name)]
		if !known {
			return nil, fmt.Errorf("distinguished name %q: unknown attribute %q (known: C, ST, L, O, OU, CN, E, SN, serialNumber, DC, UID and the rest of strongSwan's list)", s, name)
		}
		value = strings.TrimRight(strings.TrimLeft(value, " ="), " ")
		var encoded any = value
		if attr.ia5 {
			for i := 0; i < len(value); i++ {
				if value[i] >= 0x80 {
					return nil, fmt.Errorf("distinguished name %q: %s must be ASCII", s, name)
				}
			}
			encoded = asn1.RawValue{Tag: asn1.TagIA5String, Bytes: []byte(value)}
		}
		rdns = append(rdns, pkix.RelativeDistinguishedNameSET{{Type: attr.oid, Value: encoded}})
	}
	der, err := asn1.Marshal(rdns)
	if err != nil {
		return nil, fmt.Errorf("distinguished name %q: %v", s, err)
	}
	return der, nil
}
