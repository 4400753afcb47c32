package config

import (
	"bytes"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"strings"
	"testing"
)

func TestParseIdentity(t *testing.T) {
	dnCH := mustDER(t, pkix.RDNSequence{
		{{Type: asn1.ObjectIdentifier{2, 5, 4, 6}, Value: "CH"}},
		{{Type: asn1.ObjectIdentifier{2, 5, 4, 10}, Value: "strongSwan"}},
		{{Type: asn1.ObjectIdentifier{2, 5, 4, 3}, Value: "moon.strongswan.org"}},
	})
	dnEmail := mustDER(t, pkix.RDNSequence{
		{{Type: asn1.ObjectIdentifier{2, 5, 4, 3}, Value: "carol"}},
		{{Type: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}, Value: asn1.RawValue{Tag: asn1.TagIA5String, Bytes: []byte("carol@example.org")}}},
	})
	tests := []struct {
		in   string
		typ  IDType
		data []byte
	}{
		{"192.0.2.1", IDIPv4, []byte{192, 0, 2, 1}},
		{"2001:db8::1", IDIPv6, append([]byte{0x20, 0x01, 0x0d, 0xb8}, append(make([]byte, 11), 1)...)},
		{"gw.example.org", IDFQDN, []byte("gw.example.org")},
		{"*.example.org", IDFQDN, []byte("*.example.org")},
		{"@moon", IDFQDN, []byte("moon")},
		{"@example.org", IDFQDN, []byte("example.org")},
		{"alice@example.org", IDEmail, []byte("alice@example.org")},
		{"*@example.org", IDEmail, []byte("*@example.org")},
		{"@@alice", IDEmail, []byte("alice")},
		{"@#0123abcd", IDKeyID, []byte{0x01, 0x23, 0xab, 0xcd}},
		{"keyid:my key", IDKeyID, []byte("my key")},
		{"keyid:#ff00", IDKeyID, []byte{0xff, 0x00}},
		{"fqdn:gw", IDFQDN, []byte("gw")},
		{"DNS:gw", IDFQDN, []byte("gw")},
		{"email:bob@example.org", IDEmail, []byte("bob@example.org")},
		{"userfqdn:bob", IDEmail, []byte("bob")},
		{"ipv4:#c0000201", IDIPv4, []byte{192, 0, 2, 1}},
		{"ipv6:#20010db8000000000000000000000001", IDIPv6, append([]byte{0x20, 0x01, 0x0d, 0xb8}, append(make([]byte, 11), 1)...)},
		{"C=CH, O=strongSwan, CN=moon.strongswan.org", IDDN, dnCH},
		{"c=CH,o=strongSwan,cn=moon.strongswan.org", IDDN, dnCH},
		{"/C=CH/O=strongSwan/CN=moon.strongswan.org", IDDN, dnCH},
		{"CN=carol, E=carol@example.org", IDDN, dnEmail},
		{"asn1dn:#" + hex.EncodeToString(dnCH), IDDN, dnCH},
		{"%any", IDAny, nil},
		{"*", IDAny, nil},
		{"0.0.0.0", IDAny, nil},
		{"::", IDAny, nil},
	}
	for _, tt := range tests {
		id, err := parseIdentity(tt.in)
		if err != nil {
			t.Errorf("%q: %v", tt.in, err)
			continue
		}
		if id.Type != tt.typ || !bytes.Equal(id.Data, tt.data) || id.Text != tt.in || id.String() != tt.in {
			t.Errorf("%q: %v %x %q, want %v %x", tt.in, id.Type, id.Data, id.Text, tt.typ, tt.data)
		}
	}

	// A DN with characters outside PrintableString is UTF8String, as in
	// strongSwan's atodn; '*' is one of them.
	id, err := parseIdentity("C=CH, CN=*")
	if err != nil {
		t.Fatal(err)
	}
	var rdns pkix.RDNSequence
	if _, err := asn1.Unmarshal(id.Data, &rdns); err != nil || len(rdns) != 2 || rdns[1][0].Value != "*" || !id.Wildcard() {
		t.Errorf("wildcard DN: %v %v", rdns, err)
	}
	if !bytes.Contains(id.Data, []byte{asn1.TagUTF8String, 1, '*'}) {
		t.Errorf("'*' not encoded as UTF8String: %x", id.Data)
	}

	for _, bad := range []struct{ in, reason string }{
		{"192.0.2.256", "is not an IP address"},
		{"198.18.0.0/16", "address range or subnet"},
		{"198.18.0.1-198.18.0.9", "address range or subnet"},
		{"2001:db8::x", "is not an IPv6 address"},
		{"fe80::1%eth0", "is not an IPv6 address"},
		{"gw .example.org", "is not a DNS name"},
		{"-gw.example.org", "starts or ends with '-'"},
		{strings.Repeat("a", 64) + ".example.org", "1 to 63 bytes"},
		{"@", "must be quoted"},
		{"keyid:", "must be quoted"},
		{"@@", "empty after its prefix"},
		{"@#", "no hex digits"},
		{"@#0x12", "without 0x"},
		{"@#123", "odd number of hex digits"},
		{"@a b", "contains a blank"},
		{"alice@", "the domain"},
		{"a@b@example.org", "more than one"},
		{"fqdn:a b", "contains a blank"},
		{"alice@example..org", "the domain"},
		{"ipv4:#c00002", "4 bytes"},
		{"ipv6:#c0000201", "16 bytes"},
		{"asn1dn:CN=x", "takes hex data"},
		{"asn1dn:#0102", "not the DER encoding"},
		{"ipv4net:#c0000200ffffff00", "not supported"},
		{"{11}:#01", "not supported"},
		{"C=CH, , CN=x", "empty part"},
		{"C=CH, CN", "is not attribute=value"},
		{"C=CH, Foo=bar", `unknown attribute "Foo"`},
		{"C H=x", "contains a blank"},
		{"E=\xc3\xa9@example.org", "must be ASCII"},
		{"CN=\xff", "distinguished name"},
	} {
		if _, err := parseIdentity(bad.in); err == nil || !strings.Contains(err.Error(), bad.reason) {
			t.Errorf("%q: error %v, want ...%s...", bad.in, err, bad.reason)
		}
	}
}

func mustDER(t *testing.T, v any) []byte {
	t.Helper()
	der, err := asn1.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestIDTypeString(t *testing.T) {
	for typ := IDType(0); typ <= idTypeMax+1; typ++ {
		if typ.String() == "" {
			t.Errorf("%d has no name", typ)
		}
	}
}
