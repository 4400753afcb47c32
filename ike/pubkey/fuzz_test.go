package pubkey

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/espd/espd/ike/message"
)

// FuzzVerify feeds arbitrary Auth Methods and Authentication Data to
// Verify with keys of every type. Nothing may panic, and every failure
// must be ErrVerify or ErrUnsupported.
func FuzzVerify(f *testing.F) {
	octets := testOctets(120)
	keys := []crypto.Signer{testKey(f, "rsa2048"), testKey(f, "p256"), testKey(f, "p384"), testKey(f, "ed25519")}
	for _, key := range keys {
		for _, opts := range []SignOptions{{}, {PSS: true}} {
			for _, peer := range [][]Hash{nil, {HashSHA384}, {HashSHA512}} {
				auth, err := Sign(key, octets, peer, opts)
				if err != nil {
					continue
				}
				f.Add(uint8(auth.Method), auth.Data)
			}
		}
	}
	p256 := testKey(f, "p256").(*ecdsa.PrivateKey)
	r, s, err := ecdsa.Sign(rand.Reader, p256, HashSHA256.digest(octets))
	if err != nil {
		f.Fatal(err)
	}
	raw := make([]byte, 64)
	r.FillBytes(raw[:32])
	s.FillBytes(raw[32:])
	f.Add(uint8(message.AuthECDSASHA256P256), raw)
	f.Add(uint8(message.AuthRSASignature), make([]byte, 256))
	f.Add(uint8(message.AuthDigitalSignature), []byte{0x0d, 0x30, 0x0b, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a, 0x30, 0x00})

	f.Fuzz(func(t *testing.T, method uint8, data []byte) {
		auth := &message.Auth{Method: message.AuthMethod(method), Data: data}
		for _, key := range keys {
			scheme, err := Verify(auth, octets, key.Public())
			if err != nil {
				if !errors.Is(err, ErrVerify) && !errors.Is(err, ErrUnsupported) {
					t.Fatalf("error outside ErrVerify and ErrUnsupported: %v", err)
				}
				continue
			}
			if scheme.Key != keyTypeOf(key.Public()) {
				t.Fatalf("verified %v with a %T key", scheme, key.Public())
			}
		}
		if s, _, err := SchemeOf(auth); err == nil {
			_ = s.String()
		}
	})
}
