package pubkey

import (
	"crypto/sha1"
	"crypto/x509/pkix"
	encasn1 "encoding/asn1"
	"net"
	"net/netip"
	"testing"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"

	"github.com/espd/espd/ike/message"
)

// dn encodes a Name (RFC 5280 §4.1.2.4), one attribute per RDN, every
// value with the given string tag.
func dn(t testing.TB, tag asn1.Tag, attrs ...[2]string) []byte {
	t.Helper()
	oids := map[string]encasn1.ObjectIdentifier{
		"C": {2, 5, 4, 6}, "O": {2, 5, 4, 10}, "CN": {2, 5, 4, 3}, "E": {1, 2, 840, 113549, 1, 9, 1},
	}
	var b cryptobyte.Builder
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		for _, a := range attrs {
			b.AddASN1(asn1.SET, func(b *cryptobyte.Builder) {
				b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1ObjectIdentifier(oids[a[0]])
					b.AddASN1(tag, func(b *cryptobyte.Builder) { b.AddBytes([]byte(a[1])) })
				})
			})
		}
	})
	return b.BytesOrPanic()
}

func TestMatchIdentity(t *testing.T) {
	key := testKey(t, "p256")
	skid := []byte{1, 2, 3, 4, 5, 6, 7, 8}
	cert := newLeaf(t, key, leafOptions{
		selfSigned:   true,
		subject:      &pkix.Name{Country: []string{"CH"}, Organization: []string{"espd"}, CommonName: "moon.espd.test"},
		dns:          []string{"moon.espd.test", "vpn.espd.test"},
		email:        []string{"moon@espd.test"},
		ips:          []net.IP{net.ParseIP("192.0.2.1").To4(), net.ParseIP("2001:db8::1")},
		subjectKeyID: skid,
	})
	spkiHash := sha1.Sum(cert.RawSubjectPublicKeyInfo)
	const printable, utf8 = asn1.PrintableString, asn1.UTF8String
	id := func(typ message.IDType, data []byte) *message.ID { return &message.ID{IDType: typ, Data: data} }
	addr := func(s string) *message.ID { return message.NewAddrID(false, netip.MustParseAddr(s)) }

	for _, tc := range []struct {
		name string
		id   *message.ID
		want bool
	}{
		{"DN as in the certificate", id(message.IDDERASN1DN, cert.RawSubject), true},
		{"DN from IdentityFromCert", IdentityFromCert(cert), true},
		{"DN as PrintableString", id(message.IDDERASN1DN, dn(t, printable, [2]string{"C", "CH"}, [2]string{"O", "espd"}, [2]string{"CN", "moon.espd.test"})), true},
		{"DN as UTF8String", id(message.IDDERASN1DN, dn(t, utf8, [2]string{"C", "CH"}, [2]string{"O", "espd"}, [2]string{"CN", "moon.espd.test"})), true},
		{"DN other case, PrintableString", id(message.IDDERASN1DN, dn(t, printable, [2]string{"C", "ch"}, [2]string{"O", "ESPD"}, [2]string{"CN", "MOON.espd.test"})), true},
		{"DN other case, UTF8String", id(message.IDDERASN1DN, dn(t, utf8, [2]string{"C", "CH"}, [2]string{"O", "ESPD"}, [2]string{"CN", "moon.espd.test"})), false},
		{"DN other CN", id(message.IDDERASN1DN, dn(t, printable, [2]string{"C", "CH"}, [2]string{"O", "espd"}, [2]string{"CN", "sun.espd.test"})), false},
		{"DN other order", id(message.IDDERASN1DN, dn(t, printable, [2]string{"O", "espd"}, [2]string{"C", "CH"}, [2]string{"CN", "moon.espd.test"})), false},
		{"DN missing attribute", id(message.IDDERASN1DN, dn(t, printable, [2]string{"C", "CH"}, [2]string{"CN", "moon.espd.test"})), false},
		{"DN extra attribute", id(message.IDDERASN1DN, dn(t, printable, [2]string{"C", "CH"}, [2]string{"O", "espd"}, [2]string{"CN", "moon.espd.test"}, [2]string{"E", "x@y"})), false},
		{"DN garbage", id(message.IDDERASN1DN, []byte{0x30, 0x03, 0x31, 0x01}), false},
		{"DN empty", id(message.IDDERASN1DN, nil), false},
		{"FQDN first SAN", id(message.IDFQDN, []byte("moon.espd.test")), true},
		{"FQDN second SAN", id(message.IDFQDN, []byte("vpn.espd.test")), true},
		{"FQDN other case", id(message.IDFQDN, []byte("Moon.ESPD.test")), true},
		{"FQDN not in SANs", id(message.IDFQDN, []byte("sun.espd.test")), false},
		{"FQDN empty", id(message.IDFQDN, nil), false},
		{"email", id(message.IDRFC822Addr, []byte("moon@espd.test")), true},
		{"email other", id(message.IDRFC822Addr, []byte("sun@espd.test")), false},
		{"FQDN is not an email", id(message.IDRFC822Addr, []byte("moon.espd.test")), false},
		{"IPv4", addr("192.0.2.1"), true},
		{"IPv4 other", addr("192.0.2.2"), false},
		{"IPv6", addr("2001:db8::1"), true},
		{"IPv6 other", addr("2001:db8::2"), false},
		{"IPv4 of bad length", id(message.IDIPv4Addr, []byte{192, 0, 2}), false},
		{"key id = subjectKeyIdentifier", id(message.IDKeyID, skid), true},
		{"key id = SPKI hash", id(message.IDKeyID, spkiHash[:]), true},
		{"key id other", id(message.IDKeyID, []byte{9, 9}), false},
		{"key id empty", id(message.IDKeyID, nil), false},
		{"null id", id(message.IDNull, nil), false},
		{"GN id", id(message.IDDERASN1GN, cert.RawSubject), false},
		{"nil id", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := MatchIdentity(tc.id, cert); got != tc.want {
				t.Fatalf("MatchIdentity(%v) = %v, want %v", tc.id, got, tc.want)
			}
		})
	}
	if MatchIdentity(IdentityFromCert(cert), nil) {
		t.Fatal("matched a nil certificate")
	}
	id2 := IdentityFromCert(cert)
	if id2.IDType != message.IDDERASN1DN || id2.String() != "CN=moon.espd.test,O=espd,C=CH" {
		t.Fatalf("IdentityFromCert: %v %q", id2.IDType, id2.String())
	}
}

// TestDNEqualEmail: strongSwan ignores case in IA5String emailAddress
// attributes only.
func TestDNEqualEmail(t *testing.T) {
	a := dn(t, asn1.IA5String, [2]string{"CN", "moon"}, [2]string{"E", "Moon@ESPD.test"})
	b := dn(t, asn1.IA5String, [2]string{"CN", "moon"}, [2]string{"E", "moon@espd.test"})
	if !DNEqual(a, b) {
		t.Fatal("emailAddress compared with case")
	}
	c := dn(t, asn1.IA5String, [2]string{"CN", "MOON"}, [2]string{"E", "moon@espd.test"})
	if DNEqual(b, c) {
		t.Fatal("IA5String CN compared without case")
	}
}
