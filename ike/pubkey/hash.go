package pubkey

import (
	"crypto"
	_ "crypto/sha1" // linked for crypto.SHA1 (RSA_SIG, RFC 7296 §3.8)
	_ "crypto/sha256"
	_ "crypto/sha512"
	"encoding/binary"
	"fmt"
)

// Hash is an IKEv2 hash algorithm identifier (RFC 7427 §7, the IANA
// "IKEv2 Hash Algorithms" registry), as carried in a
// SIGNATURE_HASH_ALGORITHMS notification.
type Hash uint16

const (
	HashSHA1     Hash = 1
	HashSHA256   Hash = 2
	HashSHA384   Hash = 3
	HashSHA512   Hash = 4
	HashIdentity Hash = 5 // RFC 8420: the signature algorithm hashes itself (Ed25519)
)

var hashNames = map[Hash]string{
	HashSHA1: "sha1", HashSHA256: "sha256", HashSHA384: "sha384", HashSHA512: "sha512",
	HashIdentity: "identity",
}

// String gives the name swanctl.conf uses in auth constraints.
func (h Hash) String() string {
	if name, ok := hashNames[h]; ok {
		return name
	}
	return fmt.Sprintf("HASH(%d)", uint16(h))
}

// parseHashName reads a swanctl.conf hash token.
func parseHashName(name string) (Hash, bool) {
	for h, n := range hashNames {
		if n == name {
			return h, true
		}
	}
	return 0, false
}

// cryptoHash is the standard library hash; 0 for identity and unknown.
func (h Hash) cryptoHash() crypto.Hash {
	switch h {
	case HashSHA1:
		return crypto.SHA1
	case HashSHA256:
		return crypto.SHA256
	case HashSHA384:
		return crypto.SHA384
	case HashSHA512:
		return crypto.SHA512
	}
	return 0
}

// digest hashes the signed octets; nil for identity and unknown hashes,
// which no caller passes.
func (h Hash) digest(octets []byte) []byte {
	if h.cryptoHash() == 0 {
		return nil
	}
	hasher := h.cryptoHash().New()
	hasher.Write(octets)
	return hasher.Sum(nil)
}

// SupportedHashes is what espd announces in SIGNATURE_HASH_ALGORITHMS:
// the hashes Verify accepts in RFC 7427 signatures. SHA-1 is left out
// (RFC 8247 §3.2 forbids it for signatures).
func SupportedHashes() []Hash {
	return []Hash{HashSHA256, HashSHA384, HashSHA512, HashIdentity}
}

// EncodeSignatureHashes builds SIGNATURE_HASH_ALGORITHMS Notification
// Data (RFC 7427 §4): a list of 2-octet hash algorithm identifiers.
func EncodeSignatureHashes(hashes []Hash) []byte {
	data := make([]byte, 0, 2*len(hashes))
	for _, h := range hashes {
		data = binary.BigEndian.AppendUint16(data, uint16(h))
	}
	return data
}

// DecodeSignatureHashes reads SIGNATURE_HASH_ALGORITHMS Notification Data
// (RFC 7427 §4). Unknown identifiers are kept: they are simply never
// chosen.
func DecodeSignatureHashes(data []byte) ([]Hash, error) {
	if len(data)%2 != 0 {
		return nil, malformed("SIGNATURE_HASH_ALGORITHMS of %d bytes is not a list of 2-byte identifiers", len(data))
	}
	hashes := make([]Hash, 0, len(data)/2)
	for ; len(data) >= 2; data = data[2:] {
		hashes = append(hashes, Hash(binary.BigEndian.Uint16(data)))
	}
	return hashes, nil
}
