package ike

import (
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
