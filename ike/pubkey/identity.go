package pubkey

import (
	"bytes"
	"crypto/sha1"
	"crypto/x509"
	encasn1 "encoding/asn1"
	"net/netip"
	"strings"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"

	"github.com/espd/espd/ike/message"
)

// IdentityFromCert is the identity an end with a certificate and no
// configured id uses, as strongSwan's default: the subject DN as
// ID_DER_ASN1_DN (RFC 7296 §3.5). Responder is left false.
func IdentityFromCert(cert *x509.Certificate) *message.ID {
	if cert == nil {
		return nil
	}
	return &message.ID{IDType: message.IDDERASN1DN, Data: bytes.Clone(cert.RawSubject)}
}

// MatchIdentity says whether a peer's IDi or IDr names the certificate
// that signed its AUTH payload, as strongSwan's x509 has_subject decides
// (RFC 7296 §3.5, RFC 4945 §3.1):
//
//   - ID_DER_ASN1_DN: the subject DN, attribute by attribute (see DNEqual);
//   - ID_FQDN and ID_RFC822_ADDR: a dNSName or rfc822Name subjectAltName,
//     without regard to case;
//   - ID_IPV4_ADDR and ID_IPV6_ADDR: an iPAddress subjectAltName;
//   - ID_KEY_ID: the subjectKeyIdentifier, or the SHA-1 hash of the
//     SubjectPublicKeyInfo.
//
// Other types match nothing.
func MatchIdentity(id *message.ID, cert *x509.Certificate) bool {
	if id == nil || cert == nil {
		return false
	}
	switch id.IDType {
	case message.IDDERASN1DN:
		return DNEqual(id.Data, cert.RawSubject)
	case message.IDFQDN:
		return containsFold(cert.DNSNames, string(id.Data))
	case message.IDRFC822Addr:
		return containsFold(cert.EmailAddresses, string(id.Data))
	case message.IDIPv4Addr, message.IDIPv6Addr:
		addr, ok := id.Addr()
		if !ok {
			return false
		}
		for _, ip := range cert.IPAddresses {
			if san, ok := netip.AddrFromSlice(ip); ok && san.Unmap() == addr.Unmap() {
				return true
			}
		}
	case message.IDKeyID:
		keyHash := sha1.Sum(cert.RawSubjectPublicKeyInfo)
		return len(id.Data) > 0 &&
			(bytes.Equal(id.Data, cert.SubjectKeyId) || bytes.Equal(id.Data, keyHash[:]))
	}
	return false
}

func containsFold(names []string, name string) bool {
	if name == "" {
		return false
	}
	for _, n := range names {
		if strings.EqualFold(n, name) {
			return true
		}
	}
	return false
}

// DNEqual compares two DER Names the way strongSwan's compare_dn does:
// the attributes in order (RDN sets flattened), each with the same type
// OID and the same value octets whatever the string type they are encoded
// with, ignoring case when both are PrintableString or both are IA5String
// email addresses. So a DN typed in swanctl.conf (UTF8String) matches a
// certificate's (often PrintableString) as long as the text is the same.
func DNEqual(a, b []byte) bool {
	if bytes.Equal(a, b) {
		return true
	}
	attrsA, okA := dnAttributes(a)
	attrsB, okB := dnAttributes(b)
	if !okA || !okB || len(attrsA) != len(attrsB) {
		return false
	}
	for i := range attrsA {
		x, y := attrsA[i], attrsB[i]
		if !x.oid.Equal(y.oid) || len(x.value) != len(y.value) {
			return false
		}
		caseless := x.tag == y.tag &&
			(x.tag == asn1.PrintableString || (x.tag == asn1.IA5String && x.oid.Equal(oidEmailAddress)))
		if caseless {
			if !strings.EqualFold(string(x.value), string(y.value)) {
				return false
			}
		} else if !bytes.Equal(x.value, y.value) {
			return false
		}
	}
	return true
}

var oidEmailAddress = encasn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}

type dnAttribute struct {
	oid   encasn1.ObjectIdentifier
	tag   asn1.Tag
	value []byte
}

// dnAttributes flattens a Name (RFC 5280 §4.1.2.4): SEQUENCE OF SET OF
// SEQUENCE { type OID, value ANY }.
func dnAttributes(der []byte) ([]dnAttribute, bool) {
	input := cryptobyte.String(der)
	var rdns cryptobyte.String
	if !input.ReadASN1(&rdns, asn1.SEQUENCE) || !input.Empty() {
		return nil, false
	}
	var attrs []dnAttribute
	for !rdns.Empty() {
		var set cryptobyte.String
		if !rdns.ReadASN1(&set, asn1.SET) || set.Empty() {
			return nil, false
		}
		for !set.Empty() {
			var atv, value cryptobyte.String
			var a dnAttribute
			if !set.ReadASN1(&atv, asn1.SEQUENCE) || !atv.ReadASN1ObjectIdentifier(&a.oid) ||
				!atv.ReadAnyASN1(&value, &a.tag) || !atv.Empty() {
				return nil, false
			}
			a.value = value
			attrs = append(attrs, a)
		}
	}
	return attrs, true
}
