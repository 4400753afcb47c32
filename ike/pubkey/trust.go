package pubkey

import (
	"crypto/sha1"
	"crypto/x509"
	"fmt"
	"slices"
	"time"
)

// TrustAnchors are the CA certificates a peer's chain must end at
// (swanctl.conf cacerts, or the x509ca directory). The zero value is an
// empty set, ready for Add.
type TrustAnchors struct {
	pool  *x509.CertPool
	certs []*x509.Certificate
}

// NewTrustAnchors returns a set holding certs.
func NewTrustAnchors(certs ...*x509.Certificate) *TrustAnchors {
	t := &TrustAnchors{}
	for _, c := range certs {
		t.Add(c)
	}
	return t
}

// LoadTrustAnchors reads CA certificate files (PEM or DER).
func LoadTrustAnchors(paths ...string) (*TrustAnchors, error) {
	t := &TrustAnchors{}
	for _, path := range paths {
		cert, err := LoadCertificate(path)
		if err != nil {
			return nil, err
		}
		t.Add(cert)
	}
	return t, nil
}

// Add trusts cert.
func (t *TrustAnchors) Add(cert *x509.Certificate) {
	if cert == nil {
		return
	}
	if t.pool == nil {
		t.pool = x509.NewCertPool()
	}
	t.pool.AddCert(cert)
	t.certs = append(t.certs, cert)
}

// Certificates returns the anchors in the order they were added.
func (t *TrustAnchors) Certificates() []*x509.Certificate {
	if t == nil {
		return nil
	}
	return t.certs
}

// VerifyChain checks that leaf chains to one of the anchors at time now,
// through the given intermediates, and returns that chain, leaf first.
// Like strongSwan it asks for no particular extended key usage. With no
// anchors nothing is trusted (never the system roots).
func VerifyChain(leaf *x509.Certificate, intermediates []*x509.Certificate, anchors *TrustAnchors, now time.Time) ([]*x509.Certificate, error) {
	if leaf == nil {
		return nil, fmt.Errorf("%w: no certificate", ErrUntrusted)
	}
	if anchors == nil || len(anchors.certs) == 0 {
		return nil, fmt.Errorf("%w: %q: no CA certificates are configured", ErrUntrusted, leaf.Subject.String())
	}
	pool := x509.NewCertPool()
	for _, c := range intermediates {
		if c != nil {
			pool.AddCert(c)
		}
	}
	chains, err := leaf.Verify(x509.VerifyOptions{
		Roots:         anchors.pool,
		Intermediates: pool,
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %q: %w", ErrUntrusted, leaf.Subject.String(), err)
	}
	return chains[0], nil
}

// KeyHash is how CERTREQ names a CA (RFC 7296 §3.7): the SHA-1 hash of its
// certificate's DER SubjectPublicKeyInfo.
func KeyHash(cert *x509.Certificate) [sha1.Size]byte {
	return sha1.Sum(cert.RawSubjectPublicKeyInfo)
}

// CertReqHashes is the Certification Authority field of an X509_SIGNATURE
// CERTREQ (RFC 7296 §3.7) asking for a chain to any of the anchors: their
// key hashes, concatenated.
func (t *TrustAnchors) CertReqHashes() []byte {
	if t == nil {
		return nil
	}
	data := make([]byte, 0, len(t.certs)*sha1.Size)
	for _, c := range t.certs {
		h := KeyHash(c)
		data = append(data, h[:]...)
	}
	return data
}

// Requested returns the anchors that a peer's CERTREQ Certification
// Authority field names, in the peer's order, so that the local end can
// present credentials that chain to one of them. Hashes it does not know
// a repeated one and a trailing partial hash are ignored.
func (t *TrustAnchors) Requested(caHashes []byte) []*x509.Certificate {
	if t == nil {
		return nil
	}
	var requested []*x509.Certificate
	for ; len(caHashes) >= sha1.Size; caHashes = caHashes[sha1.Size:] {
		want := [sha1.Size]byte(caHashes)
		for _, c := range t.certs {
			if KeyHash(c) == want && !slices.Contains(requested, c) {
				requested = append(requested, c)
				break
			}
		}
	}
	return requested
}
