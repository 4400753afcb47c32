package ike

import (
	"encoding/asn1"
	"testing"

	"github.com/espd/espd/ike/message"
)

func TestMatchesIdentity(t *testing.T) {
	email := func(s string) *message.ID { return &message.ID{IDType: message.IDRFC822Addr, Data: []byte(s)} }
	for _, tc := range []struct {
		want, got *message.ID
		match     bool
	}{
		{nil, ParseID("anyone.example"), true},
		{ParseID("gw.example.org"), ParseID("gw.example.org"), true},
		{ParseID("gw.example.org"), ParseID("GW.example.org"), false}, // exact octets without a wildcard
		{ParseID("192.0.2.1"), ParseID("192.0.2.1"), true},
		{ParseID("192.0.2.1"), ParseID("192.0.2.2"), false},
		{ParseID("192.0.2.1"), ParseID("gw.example.org"), false},
		{email("*@example.org"), email("alice@example.org"), true},
		{email("*@example.org"), email("alice@Example.ORG"), true},
		{email("*@example.org"), email("alice@example.org.evil"), false},
		{email("*@example.org"), ParseID("example.org"), false}, // another type
		{ParseID("*.example.org"), ParseID("moon.example.org"), true},
		{ParseID("*.example.org"), ParseID("example.org"), false},
		{ParseID("a*b*c"), ParseID("aXXbYYc"), true},
		{ParseID("a*b*c"), ParseID("aXXbYYcd"), false},
		{ParseID("*"), ParseID("x"), true},
	} {
		if got := matchesIdentity(tc.want, tc.got); got != tc.match {
			t.Errorf("matchesIdentity(%v, %v) = %v, want %v", tc.want, tc.got, got, tc.match)
		}
	}
}

// dn encodes CN=cn, O=espd as a DER Name with the string type tag.
func dn(t *testing.T, tag int, cn string) *message.ID {
	t.Helper()
	type attr struct {
		Type  asn1.ObjectIdentifier
		Value asn1.RawValue
	}
	// encoding/asn1 writes a slice type whose name ends in SET as a SET.
	type rdnSET []attr
	rdn := func(oid asn1.ObjectIdentifier, v string) rdnSET {
		return rdnSET{{oid, asn1.RawValue{Tag: tag, Bytes: []byte(v)}}}
	}
	b, err := asn1.Marshal([]rdnSET{rdn(asn1.ObjectIdentifier{2, 5, 4, 10}, "espd"), rdn(asn1.ObjectIdentifier{2, 5, 4, 3}, cn)})
	if err != nil {
		t.Fatal(err)
	}
	return &message.ID{IDType: message.IDDERASN1DN, Data: b}
}

func TestMatchesDNIdentity(t *testing.T) {
	const utf8, printable = asn1.TagUTF8String, asn1.TagPrintableString
	if !matchesIdentity(dn(t, utf8, "sun.espd.test"), dn(t, printable, "sun.espd.test")) {
		t.Error("the same DN in UTF8String and PrintableString does not match")
	}
	if matchesIdentity(dn(t, utf8, "sun.espd.test"), dn(t, printable, "moon.espd.test")) {
		t.Error("different DNs match")
	}
}
