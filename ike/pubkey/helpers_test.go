package pubkey

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
	"net"
	"sync"
	"testing"
	"time"
)

// Keys are generated once per test binary: RSA generation dominates the
// run time otherwise, above all under -race.
var (
	testKeysOnce sync.Once
	testKeys     map[string]crypto.Signer
)

// testKey returns one of "rsa2048", "rsa2048b", "p256", "p256b", "p384",
// "p521", "ed25519", "ed25519b" (the b keys are second keys of a type).
func testKey(t testing.TB, name string) crypto.Signer {
	t.Helper()
	testKeysOnce.Do(func() {
		testKeys = map[string]crypto.Signer{}
		var wg sync.WaitGroup
		var mu sync.Mutex
		add := func(name string, generate func() (crypto.Signer, error)) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				k, err := generate()
				if err != nil {
					panic(err)
				}
				mu.Lock()
				testKeys[name] = k
				mu.Unlock()
			}()
		}
		for _, name := range []string{"rsa2048", "rsa2048b"} {
			add(name, func() (crypto.Signer, error) { return rsa.GenerateKey(rand.Reader, 2048) })
		}
		for name, curve := range map[string]elliptic.Curve{
			"p256": elliptic.P256(), "p256b": elliptic.P256(), "p384": elliptic.P384(), "p521": elliptic.P521(),
		} {
			add(name, func() (crypto.Signer, error) { return ecdsa.GenerateKey(curve, rand.Reader) })
		}
		for _, name := range []string{"ed25519", "ed25519b"} {
			add(name, func() (crypto.Signer, error) {
				_, k, err := ed25519.GenerateKey(rand.Reader)
				return k, err
			})
		}
		wg.Wait()
	})
	k, ok := testKeys[name]
	if !ok {
		t.Fatalf("no test key %q", name)
	}
	return k
}

var testSerial struct {
	sync.Mutex
	n int64
}

func nextSerial() *big.Int {
	testSerial.Lock()
	defer testSerial.Unlock()
	testSerial.n++
	return big.NewInt(testSerial.n)
}

// testNow is the time the chain tests verify at.
var testNow = time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)

// newCA makes a self-signed CA certificate valid around testNow.
func newCA(t testing.TB, key crypto.Signer, cn string) *x509.Certificate {
	t.Helper()
	template := &x509.Certificate{
		SerialNumber:          nextSerial(),
		Subject:               pkix.Name{Country: []string{"CH"}, Organization: []string{"espd"}, CommonName: cn},
		NotBefore:             testNow.AddDate(-1, 0, 0),
		NotAfter:              testNow.AddDate(5, 0, 0),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	return createCert(t, template, template, key.Public(), key)
}

// leafOptions adjust a leaf certificate.
type leafOptions struct {
	cn                    string
	dns, email            []string
	ips                   []net.IP
	notBefore, notAfter   time.Time
	subjectKeyID          []byte
	subject               *pkix.Name
	isCA, selfSigned      bool
	issuer                *x509.Certificate
	issuerKey             crypto.Signer
	extKeyUsageServerOnly bool
}

// newLeaf issues an end-entity certificate for key's public key.
func newLeaf(t testing.TB, key crypto.Signer, o leafOptions) *x509.Certificate {
	t.Helper()
	if o.cn == "" {
		o.cn = "moon.espd.test"
	}
	if o.notBefore.IsZero() {
		o.notBefore = testNow.AddDate(0, -1, 0)
	}
	if o.notAfter.IsZero() {
		o.notAfter = testNow.AddDate(1, 0, 0)
	}
	subject := pkix.Name{Country: []string{"CH"}, Organization: []string{"espd"}, CommonName: o.cn}
	if o.subject != nil {
		subject = *o.subject
	}
	template := &x509.Certificate{
		SerialNumber:   nextSerial(),
		Subject:        subject,
		NotBefore:      o.notBefore,
		NotAfter:       o.notAfter,
		KeyUsage:       x509.KeyUsageDigitalSignature,
		DNSNames:       o.dns,
		EmailAddresses: o.email,
		IPAddresses:    o.ips,
		SubjectKeyId:   o.subjectKeyID,
	}
	if o.isCA {
		template.IsCA, template.BasicConstraintsValid = true, true
		template.KeyUsage |= x509.KeyUsageCertSign
	}
	if o.extKeyUsageServerOnly {
		template.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	}
	if o.selfSigned {
		return createCert(t, template, template, key.Public(), key)
	}
	return createCert(t, template, o.issuer, key.Public(), o.issuerKey)
}

func createCert(t testing.TB, template, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) *x509.Certificate {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, template, parent, pub, signer)
	if err != nil {
		t.Fatalf("CreateCertificate: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("ParseCertificate: %v", err)
	}
	return cert
}

// testOctets stand in for the AUTH octets of RFC 7296 §2.15.
func testOctets(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + 3)
	}
	return b
}

// wantErr fails unless err wraps one of targets.
func wantErr(t testing.TB, err error, targets ...error) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one of %v", targets)
	}
	for _, target := range targets {
		if errors.Is(err, target) {
			return
		}
	}
	t.Fatalf("error %q wraps none of %v", err, targets)
}
