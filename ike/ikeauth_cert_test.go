package ike

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/espd/espd/esp/installer"
	"github.com/espd/espd/ike/message"
	"github.com/espd/espd/ike/pubkey"
)

// testCA issues certificates for the in-process certificate tests; the
// FakeClock of newPair (2026-01-01) is inside their validity.
type testCA struct {
	cert *x509.Certificate
	key  crypto.Signer
}

var certEpoch = time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{Organization: []string{"espd"}, CommonName: name},
		NotBefore: certEpoch, NotAfter: certEpoch.AddDate(2, 0, 0),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key}
}

func newTestKey(t *testing.T, kind string) crypto.Signer {
	t.Helper()
	var key crypto.Signer
	var err error
	switch kind {
	case "rsa", "rsa/pss":
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	case "ecdsa":
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "ed25519":
		_, key, err = ed25519.GenerateKey(rand.Reader)
	}
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// issue makes credentials for dnsName, signed by the CA.
func (ca *testCA) issue(t *testing.T, dnsName, kind string) *pubkey.Credentials {
	t.Helper()
	key := newTestKey(t, kind)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{Organization: []string{"espd"}, CommonName: dnsName},
		NotBefore: certEpoch, NotAfter: certEpoch.AddDate(1, 0, 0),
		KeyUsage: x509.KeyUsageDigitalSignature, DNSNames: []string{dnsName},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &pubkey.Credentials{Cert: cert, Key: key}
}

// withCerts makes both peers authenticate with certificates from ca, of
// the given key kind, and require the other's.
func withCerts(t *testing.T, ca *testCA, kind string) func(ci, cr *Config) {
	return func(ci, cr *Config) {
		anchors := pubkey.NewTrustAnchors(ca.cert)
		ci.Credentials, cr.Credentials = ca.issue(t, "initiator.example", kind), ca.issue(t, "responder.example", kind)
		ci.SignOptions.PSS, cr.SignOptions.PSS = kind == "rsa/pss", kind == "rsa/pss"
		ci.RemoteAuth, cr.RemoteAuth = AuthPubkey, AuthPubkey
		ci.TrustAnchors, cr.TrustAnchors = anchors, anchors
		ci.PSK, cr.PSK = nil, nil
	}
}

func TestEstablishWithCertificates(t *testing.T) {
	ca := newTestCA(t, "espd test CA")
	for _, kind := range []string{"rsa", "rsa/pss", "ecdsa", "ed25519"} {
		t.Run(kind, func(t *testing.T) {
			i, r, _ := newPair(t, withCerts(t, ca, kind))
			if err := i.sa.Initiate(); err != nil {
				t.Fatal(err)
			}
			deliver(t, i, r)         // IKE_SA_INIT request, with SIGNATURE_HASH_ALGORITHMS
			resp := deliver(t, r, i) // IKE_SA_INIT response, with it and CERTREQ
			msg, err := message.Parse(resp)
			if err != nil {
				t.Fatal(err)
			}
			if msg.Notify(message.NotifySignatureHashAlgorithms) == nil || msg.Find(message.PayloadCERTREQ) == nil {
				t.Errorf("IKE_SA_INIT response lacks SIGNATURE_HASH_ALGORITHMS or CERTREQ: %v", msg)
			}
			deliver(t, i, r) // IKE_AUTH request: IDi, CERT, CERTREQ, AUTH
			deliver(t, r, i) // IKE_AUTH response: IDr, CERT, AUTH
			assertMirrored(t, i, r)
		})
	}
}

func TestCertificateFailures(t *testing.T) {
	ca, other := newTestCA(t, "espd test CA"), newTestCA(t, "another CA")
	for _, tc := range []struct {
		name   string
		mutate func(ci, cr *Config)
	}{
		{"untrusted CA", func(ci, cr *Config) { ci.Credentials = other.issue(t, "initiator.example", "ecdsa") }},
		{"identity not in the certificate", func(ci, cr *Config) { ci.LocalID, cr.RemoteID = ParseID("someone-else.example"), nil }},
		{"PSK where a certificate is required", func(ci, cr *Config) {
			ci.Credentials, ci.PSK, cr.PSK = nil, []byte("a shared key"), []byte("a shared key")
		}},
		{"key type constraint", func(ci, cr *Config) {
			cr.RemoteConstraints = []pubkey.Constraint{{Type: "rsa"}}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			i, r, _ := newPair(t, func(ci, cr *Config) {
				withCerts(t, ca, "ecdsa")(ci, cr)
				tc.mutate(ci, cr)
			})
			establish(t, i, r)
			if !errors.Is(r.sa.Err(), ErrAuthenticationFailed) || !errors.Is(i.sa.Err(), ErrAuthenticationFailed) {
				t.Errorf("errors %v / %v, want AUTHENTICATION_FAILED on both sides", i.sa.Err(), r.sa.Err())
			}
			assertNothingInstalled(t, i)
			assertNothingInstalled(t, r)
		})
	}
}

func TestCertificateInitiatorPSKResponder(t *testing.T) {
	// Each side proves itself its own way, as strongSwan allows: the
	// initiator with a certificate, the responder with the PSK.
	ca := newTestCA(t, "espd test CA")
	i, r, _ := newPair(t, func(ci, cr *Config) {
		ci.Credentials = ca.issue(t, "initiator.example", "ed25519")
		cr.RemoteAuth, cr.TrustAnchors = AuthPubkey, pubkey.NewTrustAnchors(ca.cert)
	})
	establish(t, i, r)
	assertMirrored(t, i, r)
	if n := len(i.recorder.Installed(installer.Inbound)); n != 1 {
		t.Errorf("initiator installed %d inbound SAs", n)
	}
}

// Raw public keys (swanctl.conf pubkeys): no CERT on the wire, each side
// verifies with the key it has configured for the other.
func TestRawPublicKeys(t *testing.T) {
	keyI, keyR := newTestKey(t, "ed25519"), newTestKey(t, "ecdsa")
	for _, tc := range []struct {
		name     string
		trustedI crypto.PublicKey // what the responder expects of the initiator
		ok       bool
	}{
		{"configured keys", keyI.Public(), true},
		{"another key", newTestKey(t, "ed25519").Public(), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			i, r, _ := newPair(t, func(ci, cr *Config) {
				ci.Credentials, cr.Credentials = &pubkey.Credentials{Key: keyI}, &pubkey.Credentials{Key: keyR}
				ci.RemoteAuth, cr.RemoteAuth = AuthPubkey, AuthPubkey
				ci.RemotePublicKeys, cr.RemotePublicKeys = []crypto.PublicKey{keyR.Public()}, []crypto.PublicKey{tc.trustedI}
				ci.PSK, cr.PSK = nil, nil
			})
			if err := i.sa.Initiate(); err != nil {
				t.Fatal(err)
			}
			deliver(t, i, r) // IKE_SA_INIT
			deliver(t, r, i)
			req := deliver(t, i, r) // IKE_AUTH request: IDi, AUTH, no CERT
			if msg := open(t, r, req); msg.Find(message.PayloadCERT) != nil {
				t.Error("a raw-key IKE_AUTH carries a CERT payload")
			}
			deliver(t, r, i) // IKE_AUTH response
			if tc.ok {
				assertMirrored(t, i, r)
				return
			}
			if !errors.Is(r.sa.Err(), ErrAuthenticationFailed) {
				t.Errorf("responder: %v, want AUTHENTICATION_FAILED", r.sa.Err())
			}
			assertNothingInstalled(t, r)
		})
	}
}
