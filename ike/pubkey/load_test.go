package pubkey

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/espd/espd/ike/message"
)

func writeFile(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func TestLoadCertificate(t *testing.T) {
	dir := t.TempDir()
	caKey := testKey(t, "p384")
	ca := newCA(t, caKey, "espd CA")
	for name, data := range map[string][]byte{
		"der":         ca.Raw,
		"pem":         pemBlock("CERTIFICATE", ca.Raw),
		"bundle":      append(append([]byte("comment\n"), pemBlock("CERTIFICATE", ca.Raw)...), pemBlock("CERTIFICATE", newCA(t, caKey, "other").Raw)...),
		"after a key": append(pemBlock("EC PRIVATE KEY", []byte{1, 2, 3}), pemBlock("CERTIFICATE", ca.Raw)...),
	} {
		t.Run(name, func(t *testing.T) {
			cert, err := LoadCertificate(writeFile(t, dir, name, data))
			if err != nil {
				t.Fatal(err)
			}
			if !cert.Equal(ca) {
				t.Fatalf("loaded %q", cert.Subject)
			}
		})
	}
	for name, data := range map[string][]byte{
		"empty":          nil,
		"garbage":        []byte("not a certificate"),
		"pem without":    pemBlock("PUBLIC KEY", []byte{1, 2}),
		"broken pem der": pemBlock("CERTIFICATE", ca.Raw[:100]),
		"truncated der":  ca.Raw[:len(ca.Raw)-1],
	} {
		t.Run(name, func(t *testing.T) {
			_, err := LoadCertificate(writeFile(t, dir, name, data))
			wantErr(t, err, ErrMalformed)
		})
	}
	if _, err := LoadCertificate(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
	if _, err := ParseCertificate(ca.Raw); err != nil {
		t.Fatal(err)
	}
}

func TestLoadPrivateKey(t *testing.T) {
	dir := t.TempDir()
	rsaKey := testKey(t, "rsa2048").(*rsa.PrivateKey)
	ecKey := testKey(t, "p256").(*ecdsa.PrivateKey)
	edKey := testKey(t, "ed25519").(ed25519.PrivateKey)
	pkcs8 := func(k any) []byte {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	sec1, err := x509.MarshalECPrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	pkcs1 := x509.MarshalPKCS1PrivateKey(rsaKey)
	for _, tc := range []struct {
		name string
		data []byte
		want crypto.PublicKey
	}{
		{"pkcs8 rsa pem", pemBlock("PRIVATE KEY", pkcs8(rsaKey)), rsaKey.Public()},
		{"pkcs8 ecdsa pem", pemBlock("PRIVATE KEY", pkcs8(ecKey)), ecKey.Public()},
		{"pkcs8 ed25519 pem", pemBlock("PRIVATE KEY", pkcs8(edKey)), edKey.Public()},
		{"pkcs8 rsa der", pkcs8(rsaKey), rsaKey.Public()},
		{"pkcs8 ed25519 der", pkcs8(edKey), edKey.Public()},
		{"pkcs1 pem", pemBlock("RSA PRIVATE KEY", pkcs1), rsaKey.Public()},
		{"pkcs1 der", pkcs1, rsaKey.Public()},
		{"sec1 pem", pemBlock("EC PRIVATE KEY", sec1), ecKey.Public()},
		{"sec1 der", sec1, ecKey.Public()},
		{"sec1 after EC PARAMETERS", append(pemBlock("EC PARAMETERS", []byte{6, 8, 42, 134, 72, 206, 61, 3, 1, 7}), pemBlock("EC PRIVATE KEY", sec1)...), ecKey.Public()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key, err := LoadPrivateKey(writeFile(t, dir, "key", tc.data))
			if err != nil {
				t.Fatal(err)
			}
			if !samePublicKey(key.Public(), tc.want) {
				t.Fatal("a different key")
			}
		})
	}

	legacyEncrypted := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY",
		Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-128-CBC,00112233445566778899AABBCCDDEEFF"},
		Bytes:   pkcs1[:64]})
	// EncryptedPrivateKeyInfo: SEQUENCE { AlgorithmIdentifier, OCTET STRING }.
	encryptedDER := mustHex(t, "3016 300b 0609 2a864886f70d01050d 0407 00112233445566")
	for _, tc := range []struct {
		name string
		data []byte
		want error
	}{
		{"encrypted pkcs8 pem", pemBlock("ENCRYPTED PRIVATE KEY", encryptedDER), ErrEncryptedKey},
		{"encrypted pkcs8 der", encryptedDER, ErrEncryptedKey},
		{"legacy encrypted pem", legacyEncrypted, ErrEncryptedKey},
		{"empty", nil, ErrMalformed},
		{"garbage", []byte("garbage"), ErrMalformed},
		{"certificate only", pemBlock("CERTIFICATE", newCA(t, ecKey, "x").Raw), ErrMalformed},
		{"broken pkcs8", pemBlock("PRIVATE KEY", pkcs8(rsaKey)[:50]), ErrMalformed},
		// A PKCS#8 key with id-Ed448 (RFC 8410 §3), which x509 does not know.
		{"ed448", pemBlock("PRIVATE KEY", mustHex(t, "3047020100300506032b6571043b0439"+
			"d65df341ad13e008567688baedda8e9dcdc17dc024974ea5b4227b6530e339bff21f99e68ca6968f3cca6dfe0fb9f4fab4fa135d5542ea3f01")), ErrUnsupported},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadPrivateKey(writeFile(t, dir, "bad", tc.data))
			wantErr(t, err, tc.want)
		})
	}
	if !errors.Is(ErrEncryptedKey, ErrUnsupported) {
		t.Fatal("ErrEncryptedKey does not wrap ErrUnsupported")
	}
}

func TestCredentials(t *testing.T) {
	dir := t.TempDir()
	caKey := testKey(t, "p384")
	ca := newCA(t, caKey, "espd CA")
	intermediateKey := testKey(t, "p256b")
	intermediate := newLeaf(t, intermediateKey, leafOptions{cn: "espd intermediate", isCA: true, issuer: ca, issuerKey: caKey})
	key := testKey(t, "p256")
	leaf := newLeaf(t, key, leafOptions{dns: []string{"moon.espd.test"}, issuer: intermediate, issuerKey: intermediateKey})
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPath := writeFile(t, dir, "moon.pem", pemBlock("CERTIFICATE", leaf.Raw))
	keyPath := writeFile(t, dir, "moon.key", pemBlock("PRIVATE KEY", pkcs8))
	intermediatePath := writeFile(t, dir, "intermediate.pem", pemBlock("CERTIFICATE", intermediate.Raw))

	creds, err := LoadCredentials(certPath, keyPath, intermediatePath)
	if err != nil {
		t.Fatal(err)
	}
	payloads := creds.CertPayloads()
	if len(payloads) != 2 || payloads[0].Encoding != message.CertX509Signature {
		t.Fatalf("CERT payloads %v", payloads)
	}

	// What the peer receives: a hash-and-URL payload first is skipped.
	received := append([]*message.Cert{{Encoding: message.CertHashURLX509, Data: []byte("x")}}, payloads...)
	gotLeaf, gotIntermediates, err := ParseCertPayloads(received)
	if err != nil {
		t.Fatal(err)
	}
	if !gotLeaf.Equal(leaf) || len(gotIntermediates) != 1 || !gotIntermediates[0].Equal(intermediate) {
		t.Fatal("CERT payloads do not give back leaf and intermediate")
	}
	if _, err := VerifyChain(gotLeaf, gotIntermediates, NewTrustAnchors(ca), testNow); err != nil {
		t.Fatal(err)
	}
	octets := testOctets(99)
	auth, err := Sign(creds.Key, octets, SupportedHashes(), SignOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(auth, octets, gotLeaf.PublicKey); err != nil {
		t.Fatal(err)
	}

	_, _, err = ParseCertPayloads(nil)
	wantErr(t, err, ErrUnsupported)
	_, _, err = ParseCertPayloads([]*message.Cert{{Encoding: message.CertX509Signature, Data: []byte{0x30, 0}}})
	wantErr(t, err, ErrMalformed)

	otherKey, err := x509.MarshalPKCS8PrivateKey(testKey(t, "p256b"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = LoadCredentials(certPath, writeFile(t, dir, "other.key", pemBlock("PRIVATE KEY", otherKey)))
	wantErr(t, err, ErrKeyMismatch)
}

// A key encrypted the traditional PEM way, as swanctl's secrets decrypt
// it: the right passphrase among others opens it, a wrong one does not.
func TestLoadEncryptedPrivateKey(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	block, err := x509.EncryptPEMBlock(rand.Reader, "EC PRIVATE KEY", der, []byte("right"), x509.PEMCipherAES128) //nolint:staticcheck // the format under test
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadPrivateKey(path); !errors.Is(err, ErrEncryptedKey) {
		t.Errorf("without passphrases: %v, want ErrEncryptedKey", err)
	}
	got, err := LoadEncryptedPrivateKey(path, [][]byte{[]byte("wrong"), []byte("right")})
	if err != nil {
		t.Fatalf("with the right passphrase second: %v", err)
	}
	if !key.Public().(*ecdsa.PublicKey).Equal(got.Public()) {
		t.Error("decrypted another key")
	}
	if _, err := LoadEncryptedPrivateKey(path, [][]byte{[]byte("wrong")}); !errors.Is(err, ErrEncryptedKey) {
		t.Errorf("with a wrong passphrase: %v, want ErrEncryptedKey", err)
	}
}
