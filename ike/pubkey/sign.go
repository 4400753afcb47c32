package pubkey

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"slices"

	"github.com/espd/espd/ike/message"
)

// SignOptions are the local choices that shape an AUTH signature.
type SignOptions struct {
	// PSS signs RSA keys with RSASSA-PSS instead of PKCS#1 v1.5
	// (swanctl.conf auth = rsa/pss).
	PSS bool
	// Hashes, when not empty, are the hashes the local auth constraints
	// allow, most preferred first; otherwise the key's size decides (see
	// Sign).
	Hashes []Hash
}

// Sign signs the AUTH octets (RFC 7296 §2.15) with key and returns a
// Digital Signature AUTH payload (RFC 7427 §3).
//
// The hash is the first one of the preference list that the peer announced
// in SIGNATURE_HASH_ALGORITHMS (peerHashes); with no announcement the first
// one is used. Without opts.Hashes the list follows the key's strength as
// strongSwan's does (signature_schemes_for_key), so a stronger hash than
// the key's security level is only used when the peer lacks the matching
// one: RSA up to 3072 bits and ECDSA P-256 prefer SHA-256, RSA up to 7680
// bits and P-384 SHA-384, larger keys SHA-512; RSA falls back to weaker
// SHA-2 hashes, ECDSA does not; Ed25519 signs with identity (RFC 8420).
// PSS uses MGF1 with the same hash and a salt as long as the hash
// (RFC 8247 §3.2).
func Sign(key crypto.Signer, octets []byte, peerHashes []Hash, opts SignOptions) (*message.Auth, error) {
	if key == nil {
		return nil, unsupported("no private key")
	}
	scheme, err := chooseScheme(key.Public(), peerHashes, opts)
	if err != nil {
		return nil, err
	}
	algorithm, err := algorithmIdentifier(scheme)
	if err != nil {
		return nil, err
	}
	signature, err := sign(key, scheme, octets)
	if err != nil {
		return nil, err
	}
	return message.NewDigitalSignatureAuth(algorithm, signature)
}

func chooseScheme(pub crypto.PublicKey, peerHashes []Hash, opts SignOptions) (Scheme, error) {
	keyType := keyTypeOf(pub)
	if keyType == KeyUnknown || keyBits(pub) == 0 {
		return Scheme{}, unsupported("cannot sign with a %T key", pub)
	}
	candidates := preferredHashes(pub)
	if len(opts.Hashes) > 0 {
		candidates = slices.DeleteFunc(slices.Clone(opts.Hashes), func(h Hash) bool {
			return !signsWith(keyType, h)
		})
		if len(candidates) == 0 {
			return Scheme{}, unsupported("none of the configured hashes %v signs with a %s key", opts.Hashes, describeKey(pub))
		}
	}
	i := 0
	if len(peerHashes) > 0 {
		i = slices.IndexFunc(candidates, func(h Hash) bool { return slices.Contains(peerHashes, h) })
		if i < 0 {
			return Scheme{}, unsupported("no common hash algorithm: the peer accepts %v, a %s key here signs with %v",
				peerHashes, describeKey(pub), candidates)
		}
	}
	scheme := Scheme{Method: message.AuthDigitalSignature, Key: keyType, Hash: candidates[i]}
	if keyType == KeyRSA && opts.PSS {
		scheme.PSS, scheme.SaltLength = true, scheme.Hash.cryptoHash().Size()
	}
	return scheme, nil
}

// preferredHashes is strongSwan's order of signature schemes for a key
// (public_key.c scheme_map, pubkey_authenticator.c's RSA fallback).
func preferredHashes(pub crypto.PublicKey) []Hash {
	bits := keyBits(pub)
	switch keyTypeOf(pub) {
	case KeyRSA:
		switch {
		case bits <= 3072:
			return []Hash{HashSHA256, HashSHA384, HashSHA512}
		case bits <= 7680:
			return []Hash{HashSHA384, HashSHA512, HashSHA256}
		}
		return []Hash{HashSHA512, HashSHA384, HashSHA256}
	case KeyECDSA:
		switch {
		case bits <= 256:
			return []Hash{HashSHA256, HashSHA384, HashSHA512}
		case bits <= 384:
			return []Hash{HashSHA384, HashSHA512}
		}
		return []Hash{HashSHA512}
	case KeyEd25519:
		return []Hash{HashIdentity}
	}
	return nil
}

// signsWith says whether a key type makes RFC 7427 signatures with h.
func signsWith(keyType KeyType, h Hash) bool {
	switch keyType {
	case KeyRSA, KeyECDSA:
		return h == HashSHA256 || h == HashSHA384 || h == HashSHA512
	case KeyEd25519:
		return h == HashIdentity
	}
	return false
}

// sign produces the Signature Value of RFC 7427 §3: the PKCS#1 signature
// for RSA, the DER ECDSA-Sig-Value for ECDSA, the 64 octets of Ed25519
// over the octets themselves (RFC 8420 §2).
func sign(key crypto.Signer, s Scheme, octets []byte) ([]byte, error) {
	var signature []byte
	var err error
	switch {
	case s.Key == KeyEd25519:
		signature, err = key.Sign(rand.Reader, octets, crypto.Hash(0))
	case s.PSS:
		signature, err = key.Sign(rand.Reader, s.Hash.digest(octets),
			&rsa.PSSOptions{SaltLength: s.SaltLength, Hash: s.Hash.cryptoHash()})
	default:
		signature, err = key.Sign(rand.Reader, s.Hash.digest(octets), s.Hash.cryptoHash())
	}
	if err != nil {
		return nil, fmt.Errorf("pubkey: signing with %v: %w", s, err)
	}
	return signature, nil
}
