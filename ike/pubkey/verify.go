package pubkey

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"math/big"

	"github.com/espd/espd/ike/message"
)

// Verify checks an AUTH payload's signature over the AUTH octets
// (RFC 7296 §2.15) with the peer's public key, and returns the scheme it
// used so that the caller can log it and hold it against the auth
// constraints (CheckScheme).
//
// It takes Digital Signature (RFC 7427) with RSASSA-PKCS1-v1_5 or
// RSASSA-PSS over SHA-256/384/512, ECDSA over SHA-256/384/512 on any
// curve, and Ed25519; and the classic methods RSA_SIG (PKCS#1 v1.5 with
// SHA-1, RFC 7296 §3.8, the only way a peer without RFC 7427 signs with
// RSA) and ECDSA_256/384/521 (RFC 4754, r||s over the curve the method
// names). A scheme that does not fit the key's type is ErrVerify.
func Verify(auth *message.Auth, octets []byte, pub crypto.PublicKey) (Scheme, error) {
	scheme, signature, err := SchemeOf(auth)
	if err != nil {
		return scheme, err
	}
	if keyType := keyTypeOf(pub); keyType != scheme.Key {
		return scheme, verifyFailed("AUTH is signed with %v, but the peer's key is %s", scheme, describeKey(pub))
	}
	ok := false
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k == nil || k.N == nil {
			return scheme, unsupported("empty RSA key")
		}
		hash := scheme.Hash.cryptoHash()
		digest := scheme.Hash.digest(octets)
		if scheme.PSS {
			// A declared salt length of 0 becomes PSSSaltLengthAuto,
			// which also accepts an empty salt.
			ok = rsa.VerifyPSS(k, hash, digest, signature,
				&rsa.PSSOptions{SaltLength: scheme.SaltLength, Hash: hash}) == nil
		} else {
			ok = rsa.VerifyPKCS1v15(k, hash, digest, signature) == nil
		}
	case *ecdsa.PublicKey:
		if k == nil || k.Curve == nil {
			return scheme, unsupported("ECDSA key without a curve")
		}
		digest := scheme.Hash.digest(octets)
		if scheme.Method == message.AuthDigitalSignature {
			ok = ecdsa.VerifyASN1(k, digest, signature)
			break
		}
		// RFC 4754 §7: r and s, each as long as the curve's order.
		curve := classicSchemes[scheme.Method].curve
		if k.Curve.Params().Name != curve.Params().Name {
			return scheme, verifyFailed("%v needs a %s key, the peer's is %s", scheme.Method, curve.Params().Name, describeKey(pub))
		}
		size := (curve.Params().BitSize + 7) / 8
		if len(signature) != 2*size {
			return scheme, verifyFailed("%v signature of %d bytes, want %d", scheme.Method, len(signature), 2*size)
		}
		r := new(big.Int).SetBytes(signature[:size])
		s := new(big.Int).SetBytes(signature[size:])
		ok = ecdsa.Verify(k, digest, r, s)
	case ed25519.PublicKey:
		// ed25519.Verify panics on a key of the wrong size.
		if len(k) != ed25519.PublicKeySize {
			return scheme, unsupported("Ed25519 key of %d bytes", len(k))
		}
		ok = ed25519.Verify(k, octets, signature)
	}
	if !ok {
		return scheme, verifyFailed("%v signature does not verify with the peer's %s key", scheme, describeKey(pub))
	}
	return scheme, nil
}
