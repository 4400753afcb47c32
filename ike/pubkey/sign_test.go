package pubkey

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"encoding/hex"
	"math/big"
	"strings"
	"testing"

	"github.com/espd/espd/ike/message"
)

func TestSignVerifyRoundTrip(t *testing.T) {
	octets := testOctets(300)
	for _, tc := range []struct {
		key  string
		peer []Hash
		opts SignOptions
		want Scheme
	}{
		{"rsa2048", nil, SignOptions{}, Scheme{Key: KeyRSA, Hash: HashSHA256}},
		{"rsa2048", []Hash{HashSHA384}, SignOptions{}, Scheme{Key: KeyRSA, Hash: HashSHA384}},
		{"rsa2048", []Hash{HashSHA512}, SignOptions{}, Scheme{Key: KeyRSA, Hash: HashSHA512}},
		{"rsa2048", nil, SignOptions{PSS: true}, Scheme{Key: KeyRSA, Hash: HashSHA256, PSS: true, SaltLength: 32}},
		{"rsa2048", []Hash{HashSHA384}, SignOptions{PSS: true}, Scheme{Key: KeyRSA, Hash: HashSHA384, PSS: true, SaltLength: 48}},
		{"rsa2048", []Hash{HashSHA512}, SignOptions{PSS: true}, Scheme{Key: KeyRSA, Hash: HashSHA512, PSS: true, SaltLength: 64}},
		{"p256", nil, SignOptions{}, Scheme{Key: KeyECDSA, Hash: HashSHA256}},
		{"p256", []Hash{HashSHA384}, SignOptions{}, Scheme{Key: KeyECDSA, Hash: HashSHA384}},
		{"p256", []Hash{HashSHA512}, SignOptions{}, Scheme{Key: KeyECDSA, Hash: HashSHA512}},
		{"p384", nil, SignOptions{}, Scheme{Key: KeyECDSA, Hash: HashSHA384}},
		{"p384", []Hash{HashSHA512}, SignOptions{}, Scheme{Key: KeyECDSA, Hash: HashSHA512}},
		{"p521", nil, SignOptions{}, Scheme{Key: KeyECDSA, Hash: HashSHA512}},
		{"ed25519", nil, SignOptions{}, Scheme{Key: KeyEd25519, Hash: HashIdentity}},
		{"ed25519", SupportedHashes(), SignOptions{}, Scheme{Key: KeyEd25519, Hash: HashIdentity}},
	} {
		tc.want.Method = message.AuthDigitalSignature
		t.Run(tc.want.String()+"/"+tc.key, func(t *testing.T) {
			key := testKey(t, tc.key)
			auth, err := Sign(key, octets, tc.peer, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if auth.Method != message.AuthDigitalSignature {
				t.Fatalf("method %v", auth.Method)
			}
			got, err := Verify(auth, octets, key.Public())
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if got != tc.want {
				t.Fatalf("scheme %+v, want %+v", got, tc.want)
			}
			// The payload survives its own codec.
			body, err := auth.Encode(nil)
			if err != nil {
				t.Fatal(err)
			}
			var decoded message.Auth
			if err := decoded.Decode(body); err != nil {
				t.Fatal(err)
			}
			if _, err := Verify(&decoded, octets, key.Public()); err != nil {
				t.Fatalf("Verify after encode/decode: %v", err)
			}
		})
	}
}

// TestHashChoice follows strongSwan's signature_schemes_for_key order.
func TestHashChoice(t *testing.T) {
	bigRSA := func(bits int) crypto.PublicKey {
		return &rsa.PublicKey{N: new(big.Int).Lsh(big.NewInt(1), uint(bits-1)), E: 65537}
	}
	all := []Hash{HashSHA1, HashSHA256, HashSHA384, HashSHA512, HashIdentity}
	for _, tc := range []struct {
		name string
		pub  crypto.PublicKey
		peer []Hash
		opts SignOptions
		want Hash // 0: no common hash
	}{
		{"rsa2048 any", testKey(t, "rsa2048").Public(), all, SignOptions{}, HashSHA256},
		{"rsa2048 none announced", testKey(t, "rsa2048").Public(), nil, SignOptions{}, HashSHA256},
		{"rsa2048 sha1 only", testKey(t, "rsa2048").Public(), []Hash{HashSHA1}, SignOptions{}, 0},
		{"rsa3072", bigRSA(3072), all, SignOptions{}, HashSHA256},
		{"rsa4096", bigRSA(4096), all, SignOptions{}, HashSHA384},
		{"rsa4096 fallback", bigRSA(4096), []Hash{HashSHA256}, SignOptions{}, HashSHA256},
		{"rsa8192", bigRSA(8192), all, SignOptions{}, HashSHA512},
		{"rsa8192 fallback", bigRSA(8192), []Hash{HashSHA384, HashSHA256}, SignOptions{}, HashSHA384},
		{"p256", testKey(t, "p256").Public(), all, SignOptions{}, HashSHA256},
		{"p384", testKey(t, "p384").Public(), all, SignOptions{}, HashSHA384},
		{"p384 sha256 only", testKey(t, "p384").Public(), []Hash{HashSHA256}, SignOptions{}, 0},
		{"p521", testKey(t, "p521").Public(), all, SignOptions{}, HashSHA512},
		{"ed25519 without identity", testKey(t, "ed25519").Public(), []Hash{HashSHA256, HashSHA512}, SignOptions{}, 0},
		{"unknown ids ignored", testKey(t, "p256").Public(), []Hash{0, 99, HashSHA512}, SignOptions{}, HashSHA512},
		{"configured order", testKey(t, "rsa2048").Public(), all, SignOptions{Hashes: []Hash{HashSHA512, HashSHA256}}, HashSHA512},
		{"configured, peer lacks first", testKey(t, "rsa2048").Public(), []Hash{HashSHA256}, SignOptions{Hashes: []Hash{HashSHA512, HashSHA256}}, HashSHA256},
		{"configured identity for rsa", testKey(t, "rsa2048").Public(), all, SignOptions{Hashes: []Hash{HashIdentity}}, 0},
		{"configured sha384 for p256", testKey(t, "p256").Public(), nil, SignOptions{Hashes: []Hash{HashSHA384}}, HashSHA384},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := chooseScheme(tc.pub, tc.peer, tc.opts)
			if tc.want == 0 {
				wantErr(t, err, ErrUnsupported)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.Hash != tc.want {
				t.Fatalf("hash %v, want %v", s.Hash, tc.want)
			}
		})
	}
}

func TestSignRefuses(t *testing.T) {
	if _, err := Sign(nil, nil, nil, SignOptions{}); err == nil {
		t.Fatal("signed without a key")
	}
	auth, err := Sign(testKey(t, "ed25519"), nil, []Hash{HashSHA256}, SignOptions{})
	wantErr(t, err, ErrUnsupported)
	if auth != nil {
		t.Fatal("an AUTH payload with the error")
	}
	// An empty message is fine to sign.
	auth, err = Sign(testKey(t, "p256"), nil, nil, SignOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(auth, nil, testKey(t, "p256").Public()); err != nil {
		t.Fatal(err)
	}
}

// signAuth signs with a fixed scheme and AlgorithmIdentifier, bypassing
// the choice, for the tamper tests.
func signAuth(t testing.TB, key crypto.Signer, s Scheme, octets []byte) *message.Auth {
	t.Helper()
	s.Method = message.AuthDigitalSignature
	aid, err := algorithmIdentifier(s)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := sign(key, s, octets)
	if err != nil {
		t.Fatal(err)
	}
	auth, err := message.NewDigitalSignatureAuth(aid, sig)
	if err != nil {
		t.Fatal(err)
	}
	return auth
}

func withAlgorithm(t testing.TB, auth *message.Auth, aid []byte) *message.Auth {
	t.Helper()
	_, sig, err := auth.SignatureData()
	if err != nil {
		t.Fatal(err)
	}
	out, err := message.NewDigitalSignatureAuth(aid, sig)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestVerifyRejects(t *testing.T) {
	octets := testOctets(200)
	rsaKey, p256, p384, ed := testKey(t, "rsa2048"), testKey(t, "p256"), testKey(t, "p384"), testKey(t, "ed25519")
	rsaAuth := signAuth(t, rsaKey, Scheme{Key: KeyRSA, Hash: HashSHA256}, octets)
	pssAuth := signAuth(t, rsaKey, Scheme{Key: KeyRSA, Hash: HashSHA256, PSS: true, SaltLength: 32}, octets)
	ecAuth := signAuth(t, p256, Scheme{Key: KeyECDSA, Hash: HashSHA256}, octets)
	edAuth := signAuth(t, ed, Scheme{Key: KeyEd25519, Hash: HashIdentity}, octets)

	flipped := bytes.Clone(octets)
	flipped[17] ^= 0x01
	flipSignature := func(a *message.Auth) *message.Auth {
		data := bytes.Clone(a.Data)
		data[len(data)-5] ^= 0x80
		return &message.Auth{Method: a.Method, Data: data}
	}
	aid := func(s Scheme) []byte {
		b, err := algorithmIdentifier(s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}

	for _, tc := range []struct {
		name   string
		auth   *message.Auth
		octets []byte
		pub    crypto.PublicKey
		want   error
	}{
		{"rsa flipped octet", rsaAuth, flipped, rsaKey.Public(), ErrVerify},
		{"pss flipped octet", pssAuth, flipped, rsaKey.Public(), ErrVerify},
		{"ecdsa flipped octet", ecAuth, flipped, p256.Public(), ErrVerify},
		{"ed25519 flipped octet", edAuth, flipped, ed.Public(), ErrVerify},
		{"rsa flipped signature", flipSignature(rsaAuth), octets, rsaKey.Public(), ErrVerify},
		{"ecdsa flipped signature", flipSignature(ecAuth), octets, p256.Public(), ErrVerify},
		{"ed25519 flipped signature", flipSignature(edAuth), octets, ed.Public(), ErrVerify},
		{"rsa wrong key", rsaAuth, octets, testKey(t, "rsa2048b").Public(), ErrVerify},
		{"ecdsa wrong key", ecAuth, octets, testKey(t, "p256b").Public(), ErrVerify},
		{"ecdsa other curve", ecAuth, octets, p384.Public(), ErrVerify},
		{"ed25519 wrong key", edAuth, octets, testKey(t, "ed25519b").Public(), ErrVerify},
		{"rsa signature, ecdsa key", rsaAuth, octets, p256.Public(), ErrVerify},
		{"ecdsa signature, rsa key", ecAuth, octets, rsaKey.Public(), ErrVerify},
		{"ed25519 signature, ecdsa key", edAuth, octets, p256.Public(), ErrVerify},
		{"ecdsa signature named rsa", withAlgorithm(t, ecAuth, aid(Scheme{Key: KeyRSA, Hash: HashSHA256})), octets, p256.Public(), ErrVerify},
		{"rsa signature named ecdsa", withAlgorithm(t, rsaAuth, aid(Scheme{Key: KeyECDSA, Hash: HashSHA256})), octets, rsaKey.Public(), ErrVerify},
		{"pkcs1 signature named pss", withAlgorithm(t, rsaAuth, aid(Scheme{Key: KeyRSA, Hash: HashSHA256, PSS: true, SaltLength: 32})), octets, rsaKey.Public(), ErrVerify},
		{"pss signature named pkcs1", withAlgorithm(t, pssAuth, aid(Scheme{Key: KeyRSA, Hash: HashSHA256})), octets, rsaKey.Public(), ErrVerify},
		{"pss other salt length", withAlgorithm(t, pssAuth, aid(Scheme{Key: KeyRSA, Hash: HashSHA256, PSS: true, SaltLength: 20})), octets, rsaKey.Public(), ErrVerify},
		{"pss salt too long for the key", withAlgorithm(t, pssAuth, aid(Scheme{Key: KeyRSA, Hash: HashSHA256, PSS: true, SaltLength: 5000})), octets, rsaKey.Public(), ErrVerify},
		{"pss other hash", withAlgorithm(t, pssAuth, aid(Scheme{Key: KeyRSA, Hash: HashSHA384, PSS: true, SaltLength: 32})), octets, rsaKey.Public(), ErrVerify},
		{"ecdsa other hash", withAlgorithm(t, ecAuth, aid(Scheme{Key: KeyECDSA, Hash: HashSHA384})), octets, p256.Public(), ErrVerify},
		{"ed25519 signature named ecdsa", withAlgorithm(t, edAuth, aid(Scheme{Key: KeyECDSA, Hash: HashSHA256})), octets, ed.Public(), ErrVerify},
		{"length byte beyond data", &message.Auth{Method: message.AuthDigitalSignature, Data: append([]byte{0xff}, rsaAuth.Data[1:40]...)}, octets, rsaKey.Public(), ErrVerify},
		{"length byte zero", &message.Auth{Method: message.AuthDigitalSignature, Data: append([]byte{0}, rsaAuth.Data[1:]...)}, octets, rsaKey.Public(), ErrVerify},
		{"no data", &message.Auth{Method: message.AuthDigitalSignature}, octets, rsaKey.Public(), ErrVerify},
		{"garbage AlgorithmIdentifier", withAlgorithm(t, rsaAuth, []byte{0x30, 0x03, 0x02, 0x01, 0x05}), octets, rsaKey.Public(), ErrVerify},
		{"not a SEQUENCE", withAlgorithm(t, rsaAuth, []byte{0x04, 0x02, 0x01, 0x05}), octets, rsaKey.Public(), ErrVerify},
		{"trailing bytes after AlgorithmIdentifier", withAlgorithm(t, rsaAuth, append(aid(Scheme{Key: KeyRSA, Hash: HashSHA256}), 0)), octets, rsaKey.Public(), ErrVerify},
		{"BER long-form length", withAlgorithm(t, ecAuth, mustHex(t, "30 81 0a 06 08 2a 86 48 ce 3d 04 03 02")), octets, p256.Public(), ErrVerify},
		{"ecdsa with junk parameters", withAlgorithm(t, ecAuth, mustHex(t, "30 0d 06 08 2a 86 48 ce 3d 04 03 02 02 01 00")), octets, p256.Public(), ErrVerify},
		{"unknown OID", withAlgorithm(t, rsaAuth, mustHex(t, "30 07 06 05 2b 06 01 04 01")), octets, rsaKey.Public(), ErrUnsupported},
		{"sha1WithRSAEncryption", withAlgorithm(t, rsaAuth, mustHex(t, "300d06092a864886f70d0101050500")), octets, rsaKey.Public(), ErrUnsupported},
		{"ecdsa-with-SHA1", withAlgorithm(t, ecAuth, mustHex(t, "3009 0607 2a8648ce3d0401")), octets, p256.Public(), ErrUnsupported},
		{"Ed448", withAlgorithm(t, edAuth, mustHex(t, "300506032b6571")), octets, ed.Public(), ErrUnsupported},
		{"PSK method", &message.Auth{Method: message.AuthSharedKeyMIC, Data: make([]byte, 32)}, octets, rsaKey.Public(), ErrUnsupported},
		{"NULL method", &message.Auth{Method: message.AuthNull}, octets, rsaKey.Public(), ErrUnsupported},
		{"DSS method", &message.Auth{Method: message.AuthDSSSignature, Data: make([]byte, 40)}, octets, rsaKey.Public(), ErrUnsupported},
		{"nil auth", nil, octets, rsaKey.Public(), ErrVerify},
		{"nil key", rsaAuth, octets, nil, ErrVerify},
		{"short ed25519 key", edAuth, octets, ed25519.PublicKey{1, 2, 3}, ErrUnsupported},
		{"empty rsa key", rsaAuth, octets, &rsa.PublicKey{}, ErrUnsupported},
		{"ecdsa key without curve", ecAuth, octets, &ecdsa.PublicKey{}, ErrUnsupported},
		{"nil ecdsa key", ecAuth, octets, (*ecdsa.PublicKey)(nil), ErrUnsupported},
		{"nil rsa key", rsaAuth, octets, (*rsa.PublicKey)(nil), ErrUnsupported},
		{"x25519 key", edAuth, octets, struct{ crypto.PublicKey }{}, ErrVerify},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Verify(tc.auth, tc.octets, tc.pub)
			wantErr(t, err, tc.want)
		})
	}
}

// TestVerifyTruncated cuts the AUTH data at every length: every prefix
// fails, none panics.
func TestVerifyTruncated(t *testing.T) {
	octets := testOctets(64)
	for _, name := range []string{"rsa2048", "p384", "ed25519"} {
		key := testKey(t, name)
		auth, err := Sign(key, octets, nil, SignOptions{PSS: name == "rsa2048"})
		if err != nil {
			t.Fatal(err)
		}
		for n := 0; n < len(auth.Data); n++ {
			cut := &message.Auth{Method: auth.Method, Data: auth.Data[:n]}
			_, err := Verify(cut, octets, key.Public())
			wantErr(t, err, ErrVerify, ErrUnsupported)
		}
	}
}

// TestPSSParameterVariants: what other implementations send must verify,
// what Go cannot check must be refused as unsupported.
func TestPSSParameterVariants(t *testing.T) {
	octets := testOctets(100)
	key := testKey(t, "rsa2048")
	auth := signAuth(t, key, Scheme{Key: KeyRSA, Hash: HashSHA256, PSS: true, SaltLength: 32}, octets)
	for _, tc := range []struct {
		name string
		aid  string
		want error // nil: verifies
	}{
		{"hash parameters absent", "303d 0609 2a864886f70d01010a 3030" +
			"a00d 300b 0609 608648016503040201" +
			"a11a 3018 0609 2a864886f70d010108 300b 0609 608648016503040201" +
			"a203 020120", nil},
		{"explicit trailerField 1", "3046 0609 2a864886f70d01010a 3039" +
			"a00f 300d 0609 608648016503040201 0500" +
			"a11c 301a 0609 2a864886f70d010108 300d 0609 608648016503040201 0500" +
			"a203 020120 a303 020101", nil},
		{"trailerField 2", "3046 0609 2a864886f70d01010a 3039" +
			"a00f 300d 0609 608648016503040201 0500" +
			"a11c 301a 0609 2a864886f70d010108 300d 0609 608648016503040201 0500" +
			"a203 020120 a303 020102", ErrVerify},
		{"MGF1 with SHA-384", "3041 0609 2a864886f70d01010a 3034" +
			"a00f 300d 0609 608648016503040201 0500" +
			"a11c 301a 0609 2a864886f70d010108 300d 0609 608648016503040202 0500" +
			"a203 020120", ErrUnsupported},
		{"other mask generation function", "3041 0609 2a864886f70d01010a 3034" +
			"a00f 300d 0609 608648016503040201 0500" +
			"a11c 301a 0609 2a864886f70d010109 300d 0609 608648016503040201 0500" +
			"a203 020120", ErrUnsupported},
		{"unknown hash", "3041 0609 2a864886f70d01010a 3034" +
			"a00f 300d 0609 608648016503040208 0500" +
			"a11c 301a 0609 2a864886f70d010108 300d 0609 608648016503040208 0500" +
			"a203 020120", ErrUnsupported},
		{"negative salt", "3041 0609 2a864886f70d01010a 3034" +
			"a00f 300d 0609 608648016503040201 0500" +
			"a11c 301a 0609 2a864886f70d010108 300d 0609 608648016503040201 0500" +
			"a203 0201e0", ErrVerify},
		{"fields out of order", "3041 0609 2a864886f70d01010a 3034" +
			"a11c 301a 0609 2a864886f70d010108 300d 0609 608648016503040201 0500" +
			"a00f 300d 0609 608648016503040201 0500" +
			"a203 020120", ErrVerify},
		{"no parameters", "300b 0609 2a864886f70d01010a", ErrVerify},
		{"NULL parameters", "300d 0609 2a864886f70d01010a 0500", ErrVerify},
		// RFC 7427 Appendix A.4.1: all defaults, that is SHA-1.
		{"empty parameters (SHA-1)", "300d 0609 2a864886f70d01010a 3000", ErrUnsupported},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Verify(withAlgorithm(t, auth, mustHex(t, tc.aid)), octets, key.Public())
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantErr(t, err, tc.want)
		})
	}
}

// TestClassicMethods: RSA_SIG (RFC 7296 §3.8) and ECDSA_256/384/521
// (RFC 4754) verify; the wrong curve, length or key fails.
func TestClassicMethods(t *testing.T) {
	octets := testOctets(150)
	rsaKey := testKey(t, "rsa2048").(*rsa.PrivateKey)
	digest := sha1.Sum(octets)
	rsaSig, err := rsa.SignPKCS1v15(rand.Reader, rsaKey, crypto.SHA1, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	rsaAuth := &message.Auth{Method: message.AuthRSASignature, Data: rsaSig}
	s, err := Verify(rsaAuth, octets, rsaKey.Public())
	if err != nil {
		t.Fatalf("RSA_SIG (SHA-1): %v", err)
	}
	if s.Hash != HashSHA1 || s.Key != KeyRSA || s.Method != message.AuthRSASignature {
		t.Fatalf("scheme %+v", s)
	}
	_, err = Verify(rsaAuth, testOctets(151), rsaKey.Public())
	wantErr(t, err, ErrVerify)

	raw := func(key *ecdsa.PrivateKey, h Hash) []byte {
		r, s, err := ecdsa.Sign(rand.Reader, key, h.digest(octets))
		if err != nil {
			t.Fatal(err)
		}
		size := (key.Curve.Params().BitSize + 7) / 8
		sig := make([]byte, 2*size)
		r.FillBytes(sig[:size])
		s.FillBytes(sig[size:])
		return sig
	}
	for _, tc := range []struct {
		key    string
		method message.AuthMethod
		hash   Hash
	}{
		{"p256", message.AuthECDSASHA256P256, HashSHA256},
		{"p384", message.AuthECDSASHA384P384, HashSHA384},
		{"p521", message.AuthECDSASHA512P521, HashSHA512},
	} {
		t.Run(tc.method.String(), func(t *testing.T) {
			key := testKey(t, tc.key).(*ecdsa.PrivateKey)
			sig := raw(key, tc.hash)
			auth := &message.Auth{Method: tc.method, Data: sig}
			got, err := Verify(auth, octets, key.Public())
			if err != nil {
				t.Fatal(err)
			}
			if got.Hash != tc.hash || got.Method != tc.method {
				t.Fatalf("scheme %+v", got)
			}
			_, err = Verify(&message.Auth{Method: tc.method, Data: sig[1:]}, octets, key.Public())
			wantErr(t, err, ErrVerify)
			_, err = Verify(&message.Auth{Method: tc.method, Data: append(bytes.Clone(sig), 0)}, octets, key.Public())
			wantErr(t, err, ErrVerify)
			_, err = Verify(auth, testOctets(149), key.Public())
			wantErr(t, err, ErrVerify)
			_, err = Verify(auth, octets, rsaKey.Public())
			wantErr(t, err, ErrVerify)
		})
	}
	// A P-256 key under ECDSA_384 is refused whatever the signature.
	p256 := testKey(t, "p256").(*ecdsa.PrivateKey)
	_, err = Verify(&message.Auth{Method: message.AuthECDSASHA384P384, Data: make([]byte, 96)}, octets, p256.Public())
	wantErr(t, err, ErrVerify)
	// The DER form under a classic method is the wrong length.
	der, err := ecdsa.SignASN1(rand.Reader, p256, HashSHA256.digest(octets))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Verify(&message.Auth{Method: message.AuthECDSASHA256P256, Data: der}, octets, p256.Public())
	wantErr(t, err, ErrVerify)
}

// TestAlgorithmIdentifierKnownAnswers checks the DER this package sends
// against RFC 7427 Appendix A (A.1 PKCS#1 v1.5, A.3 ECDSA, A.4.3
// RSASSA-PSS with SHA-256) and RFC 8410 §3 (id-Ed25519 {1 3 101 112},
// parameters absent), and that each parses back to its scheme.
func TestAlgorithmIdentifierKnownAnswers(t *testing.T) {
	for _, tc := range []struct {
		name   string
		scheme Scheme
		der    string
	}{
		{"sha256WithRSAEncryption", Scheme{Key: KeyRSA, Hash: HashSHA256}, "300d 0609 2a86 4886 f70d 0101 0b05 00"},
		{"sha384WithRSAEncryption", Scheme{Key: KeyRSA, Hash: HashSHA384}, "300d 0609 2a86 4886 f70d 0101 0c05 00"},
		{"sha512WithRSAEncryption", Scheme{Key: KeyRSA, Hash: HashSHA512}, "300d 0609 2a86 4886 f70d 0101 0d05 00"},
		{"ecdsa-with-sha256", Scheme{Key: KeyECDSA, Hash: HashSHA256}, "300a 0608 2a86 48ce 3d04 0302"},
		{"ecdsa-with-sha384", Scheme{Key: KeyECDSA, Hash: HashSHA384}, "300a 0608 2a86 48ce 3d04 0303"},
		{"ecdsa-with-sha512", Scheme{Key: KeyECDSA, Hash: HashSHA512}, "300a 0608 2a86 48ce 3d04 0304"},
		{"RSASSA-PSS with SHA-256", Scheme{Key: KeyRSA, Hash: HashSHA256, PSS: true, SaltLength: 32},
			"3041 0609 2a86 4886 f70d 0101 0a30 34a0" +
				"0f30 0d06 0960 8648 0165 0304 0201 0500" +
				"a11c 301a 0609 2a86 4886 f70d 0101 0830" +
				"0d06 0960 8648 0165 0304 0201 0500 a203" +
				"0201 20"},
		{"id-Ed25519", Scheme{Key: KeyEd25519, Hash: HashIdentity}, "3005 0603 2b65 70"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.scheme.Method = message.AuthDigitalSignature
			want := mustHex(t, tc.der)
			got, err := algorithmIdentifier(tc.scheme)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("DER\n got %x\nwant %x", got, want)
			}
			parsed, err := parseAlgorithmIdentifier(want)
			if err != nil {
				t.Fatal(err)
			}
			if parsed != tc.scheme {
				t.Fatalf("parsed %+v, want %+v", parsed, tc.scheme)
			}
		})
	}

	// RFC 7427 Appendix A.1.1, sha1WithRSAEncryption: encodable, refused.
	sha1RSA := mustHex(t, "300d 0609 2a86 4886 f70d 0101 0505 00")
	got, err := algorithmIdentifier(Scheme{Key: KeyRSA, Hash: HashSHA1})
	if err != nil || !bytes.Equal(got, sha1RSA) {
		t.Fatalf("sha1WithRSAEncryption: %x, %v", got, err)
	}
	_, err = parseAlgorithmIdentifier(sha1RSA)
	wantErr(t, err, ErrUnsupported)

	// RFC 7427 Appendix A.4.2, RSASSA-PSS with the default parameters
	// spelled out (quoted in RFC erratum 4295): every field parses, and
	// the SHA-1 they name is refused.
	a42 := mustHex(t, "303e 0609 2a86 4886 f70d 0101 0a30 31a0"+
		"0b30 0906 052b 0e03 021a 0500 a118 3016"+
		"0609 2a86 4886 f70d 0101 0830 0906 052b"+
		"0e03 021a 0500 a203 0201 14a3 0302 0101")
	input := a42[2+11:] // past the outer SEQUENCE header and the OID
	p, err := parsePSSParams(input)
	if err != nil {
		t.Fatal(err)
	}
	if p != (pssParams{hash: HashSHA1, mgf1Hash: HashSHA1, saltLength: 20}) {
		t.Fatalf("A.4.2 parameters %+v", p)
	}
	_, err = parseAlgorithmIdentifier(a42)
	wantErr(t, err, ErrUnsupported)
}

func TestSchemeString(t *testing.T) {
	for _, tc := range []struct {
		s    Scheme
		want string
	}{
		{Scheme{Method: message.AuthDigitalSignature, Key: KeyRSA, Hash: HashSHA256}, "rsa-sha256"},
		{Scheme{Method: message.AuthDigitalSignature, Key: KeyRSA, Hash: HashSHA384, PSS: true}, "rsa/pss-sha384"},
		{Scheme{Method: message.AuthDigitalSignature, Key: KeyECDSA, Hash: HashSHA512}, "ecdsa-sha512"},
		{Scheme{Method: message.AuthDigitalSignature, Key: KeyEd25519, Hash: HashIdentity}, "ed25519"},
		{Scheme{Method: message.AuthRSASignature, Key: KeyRSA, Hash: HashSHA1}, "rsa-sha1 (RSA_SIG)"},
		{Scheme{Method: message.AuthECDSASHA384P384, Key: KeyECDSA, Hash: HashSHA384}, "ecdsa-sha384 (ECDSA_384)"},
	} {
		if got := tc.s.String(); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.s, got, tc.want)
		}
	}
}

func TestSignatureHashes(t *testing.T) {
	data := EncodeSignatureHashes(SupportedHashes())
	if want := mustHex(t, "0002 0003 0004 0005"); !bytes.Equal(data, want) {
		t.Fatalf("encoded %x, want %x", data, want)
	}
	got, err := DecodeSignatureHashes(mustHex(t, "0001 0002 0003 0004 0005 00ff"))
	if err != nil {
		t.Fatal(err)
	}
	want := []Hash{HashSHA1, HashSHA256, HashSHA384, HashSHA512, HashIdentity, 255}
	if len(got) != len(want) {
		t.Fatalf("%v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("%v, want %v", got, want)
		}
	}
	if _, err := DecodeSignatureHashes([]byte{0, 2, 0}); err == nil {
		t.Fatal("odd length accepted")
	}
	if got, err := DecodeSignatureHashes(nil); err != nil || len(got) != 0 {
		t.Fatalf("empty: %v %v", got, err)
	}
	// The message package reads the same notification data the same way.
	n := &message.Notify{NotifyType: message.NotifySignatureHashAlgorithms, Data: data}
	ids, err := n.HashAlgorithms()
	if err != nil || len(ids) != 4 || Hash(ids[3]) != HashIdentity {
		t.Fatalf("message.Notify.HashAlgorithms: %v %v", ids, err)
	}
	if HashSHA384.String() != "sha384" || Hash(77).String() != "HASH(77)" {
		t.Fatal("Hash.String")
	}
}
