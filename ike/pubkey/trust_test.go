package pubkey

import (
	"bytes"
	"crypto/sha1"
	"crypto/x509"
	"testing"
)

func TestVerifyChain(t *testing.T) {
	caKey := testKey(t, "p384")
	ca := newCA(t, caKey, "espd CA")
	otherCAKey := testKey(t, "p256b")
	otherCA := newCA(t, otherCAKey, "other CA")
	intermediateKey := testKey(t, "rsa2048b")
	intermediate := newLeaf(t, intermediateKey, leafOptions{cn: "espd intermediate", isCA: true, issuer: ca, issuerKey: caKey})

	key := testKey(t, "p256")
	anchors := NewTrustAnchors(ca)
	for _, tc := range []struct {
		name          string
		leaf          *x509.Certificate
		intermediates []*x509.Certificate
		anchors       *TrustAnchors
		ok            bool
	}{
		{"leaf signed by the CA", newLeaf(t, key, leafOptions{issuer: ca, issuerKey: caKey}), nil, anchors, true},
		{"rsa leaf", newLeaf(t, testKey(t, "rsa2048"), leafOptions{issuer: ca, issuerKey: caKey}), nil, anchors, true},
		{"ed25519 leaf", newLeaf(t, testKey(t, "ed25519"), leafOptions{issuer: ca, issuerKey: caKey}), nil, anchors, true},
		{"through an intermediate", newLeaf(t, key, leafOptions{issuer: intermediate, issuerKey: intermediateKey}), []*x509.Certificate{intermediate}, anchors, true},
		{"serverAuth only is fine", newLeaf(t, key, leafOptions{issuer: ca, issuerKey: caKey, extKeyUsageServerOnly: true}), nil, anchors, true},
		{"second of two anchors", newLeaf(t, key, leafOptions{issuer: otherCA, issuerKey: otherCAKey}), nil, NewTrustAnchors(ca, otherCA), true},
		{"expired leaf", newLeaf(t, key, leafOptions{issuer: ca, issuerKey: caKey, notBefore: testNow.AddDate(-2, 0, 0), notAfter: testNow.AddDate(-1, 0, 0)}), nil, anchors, false},
		{"not yet valid", newLeaf(t, key, leafOptions{issuer: ca, issuerKey: caKey, notBefore: testNow.AddDate(0, 0, 1)}), nil, anchors, false},
		{"unknown CA", newLeaf(t, key, leafOptions{issuer: otherCA, issuerKey: otherCAKey}), nil, anchors, false},
		{"missing intermediate", newLeaf(t, key, leafOptions{issuer: intermediate, issuerKey: intermediateKey}), nil, anchors, false},
		{"self-signed leaf without anchor", newLeaf(t, key, leafOptions{selfSigned: true}), nil, anchors, false},
		{"self-signed leaf, no anchors", newLeaf(t, key, leafOptions{selfSigned: true}), nil, nil, false},
		{"empty anchors", newLeaf(t, key, leafOptions{issuer: ca, issuerKey: caKey}), nil, &TrustAnchors{}, false},
		{"no leaf", nil, nil, anchors, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			chain, err := VerifyChain(tc.leaf, tc.intermediates, tc.anchors, testNow)
			if !tc.ok {
				wantErr(t, err, ErrUntrusted)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !chain[0].Equal(tc.leaf) || !chain[len(chain)-1].IsCA {
				t.Fatalf("chain %v", chain)
			}
		})
	}

	// A self-signed end-entity certificate that is itself trusted works,
	// as strongSwan's trusted peer certificates do.
	self := newLeaf(t, key, leafOptions{selfSigned: true})
	if _, err := VerifyChain(self, nil, NewTrustAnchors(self), testNow); err != nil {
		t.Fatal(err)
	}
}

func TestCertReq(t *testing.T) {
	ca1 := newCA(t, testKey(t, "p384"), "CA one")
	ca2 := newCA(t, testKey(t, "rsa2048"), "CA two")
	ca3 := newCA(t, testKey(t, "ed25519"), "CA three")
	var anchors TrustAnchors // the zero value is usable
	anchors.Add(ca1)
	anchors.Add(ca2)
	anchors.Add(nil)

	data := anchors.CertReqHashes()
	h1 := sha1.Sum(ca1.RawSubjectPublicKeyInfo)
	h2 := sha1.Sum(ca2.RawSubjectPublicKeyInfo)
	if !bytes.Equal(data, append(h1[:], h2[:]...)) {
		t.Fatalf("CERTREQ data %x", data)
	}
	if KeyHash(ca1) != h1 {
		t.Fatal("KeyHash")
	}

	h3 := KeyHash(ca3)
	request := append(append(append(h3[:], h2[:]...), h2[:]...), h1[:5]...)
	got := anchors.Requested(request)
	if len(got) != 1 || !got[0].Equal(ca2) {
		t.Fatalf("requested %v", got)
	}
	got = anchors.Requested(append(h2[:], h1[:]...))
	if len(got) != 2 || !got[0].Equal(ca2) || !got[1].Equal(ca1) {
		t.Fatal("peer's order not kept")
	}
	if anchors.Requested(nil) != nil {
		t.Fatal("an empty request names no anchor")
	}
	var none *TrustAnchors
	if none.CertReqHashes() != nil || none.Requested(data) != nil || none.Certificates() != nil {
		t.Fatal("nil TrustAnchors")
	}
	if len(anchors.Certificates()) != 2 {
		t.Fatal("Certificates")
	}
}
