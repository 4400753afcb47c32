package crypto

import (
	"crypto/fips140"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"hash"
	"strconv"
)

// PRF is an IKEv2 pseudorandom function, named by its transform ID
// (transform type 2, RFC 7296 §3.3.2). The HMAC-SHA-2 PRFs of RFC 4868 are
// the ones this package implements; LookupPRF and ParseIKEProposal return
// only those.
type PRF uint16

// Transform type 2 IDs (RFC 4868 §2.1, IANA "IKEv2 Parameters").
const (
	PRFHMACSHA2_256 PRF = 5
	PRFHMACSHA2_384 PRF = 6
	PRFHMACSHA2_512 PRF = 7
)

// prfPlusMaxBlocks is how far prf+ is defined: its counter is one octet
// and starts at 1 (RFC 7296 §2.13).
const prfPlusMaxBlocks = 255

// minNonceLen is RFC 7296 §2.10's floor for a nonce: 128 bits.
const minNonceLen = 16

type prfInfo struct {
	keyword string
	newHash func() hash.Hash
	size    int
}

var prfs = map[PRF]prfInfo{
	PRFHMACSHA2_256: {"prfsha256", sha256.New, sha256.Size},
	PRFHMACSHA2_384: {"prfsha384", sha512.New384, sha512.Size384},
	PRFHMACSHA2_512: {"prfsha512", sha512.New, sha512.Size},
}

// prfTokens are strongSwan's keywords (proposal_keywords_static.txt).
var prfTokens = map[string]PRF{
	"prfsha256": PRFHMACSHA2_256,
	"prfsha384": PRFHMACSHA2_384,
	"prfsha512": PRFHMACSHA2_512,
}

// integrityPRF is the PRF strongSwan assumes for an IKE proposal that
// names an integrity algorithm but no PRF (proposal.c, check_proposal:
// "We assume the same algorithm as used for integrity checking").
var integrityPRF = map[uint16]PRF{
	AuthHMACSHA2_256_128: PRFHMACSHA2_256,
	AuthHMACSHA2_384_192: PRFHMACSHA2_384,
	AuthHMACSHA2_512_256: PRFHMACSHA2_512,
}

// LookupPRF reports whether this package implements the PRF with
// transform ID id.
func LookupPRF(id uint16) (PRF, bool) {
	_, ok := prfs[PRF(id)]
	return PRF(id), ok
}

// Supported reports whether Compute and Plus work for p.
func (p PRF) Supported() bool {
	_, ok := prfs[p]
	return ok
}

// String is the strongSwan keyword ("prfsha256"), or "prf<ID>" for a PRF
// this package does not implement.
func (p PRF) String() string {
	if info, ok := prfs[p]; ok {
		return info.keyword
	}
	return "prf" + strconv.Itoa(int(p))
}

// Size is the output length in bytes, 0 for an unsupported PRF.
func (p PRF) Size() int { return prfs[p].size }

// KeyLen is the PRF's preferred key length, the length of SK_d, SK_pi and
// SK_pr (RFC 7296 §2.14): for HMAC-SHA-2 the output length (RFC 4868 §2.1.2).
func (p PRF) KeyLen() int { return prfs[p].size }

// MinNonceLen is the shortest nonce to send or accept with this PRF: at
// least 128 bits and at least half the PRF key (RFC 7296 §2.10).
func (p PRF) MinNonceLen() int { return max(minNonceLen, (p.KeyLen()+1)/2) }

// MaxPlusLen is the most output prf+ can give: 255 blocks (RFC 7296 §2.13).
func (p PRF) MaxPlusLen() int { return prfPlusMaxBlocks * p.Size() }

// Compute returns prf(key, data), HMAC with key of any length (RFC 4868
// §2.1.2: keys longer than the block are hashed, as HMAC does). It returns
// nil for a PRF that is not Supported, or for a key under 112 bits in
// FIPS 140-only mode, where crypto/hmac would panic; IKE's keys (two
// nonces of 128 bits or more, SK_d) are never that short.
func (p PRF) Compute(key, data []byte) []byte {
	mac, size, ok := p.newMAC(key)
	if !ok {
		return nil
	}
	mac.Write(data)
	return mac.Sum(make([]byte, 0, size))
}

// Plus returns the first n bytes of prf+(key, seed) (RFC 7296 §2.13):
//
//	prf+ (K,S) = T1 | T2 | T3 | T4 | ...
//	T1 = prf (K, S | 0x01)
//	T2 = prf (K, T1 | S | 0x02)
//	T3 = prf (K, T2 | S | 0x03)
//
// It returns nil when n is negative or beyond MaxPlusLen (the counter
// would wrap), and where Compute does.
func (p PRF) Plus(key, seed []byte, n int) []byte {
	if n < 0 || n > p.MaxPlusLen() {
		return nil
	}
	mac, size, ok := p.newMAC(key)
	if !ok {
		return nil
	}
	// Round up to whole blocks so the last Sum appends without growing.
	out := make([]byte, 0, (n+size-1)/size*size)
	var previous []byte
	for counter := byte(1); len(out) < n; counter++ {
		mac.Reset()
		mac.Write(previous)
		mac.Write(seed)
		mac.Write([]byte{counter})
		start := len(out)
		out = mac.Sum(out)
		previous = out[start:]
	}
	return out[:n:n]
}

// newMAC is HMAC keyed with key, unless the PRF is unsupported or
// crypto/hmac would refuse the key.
func (p PRF) newMAC(key []byte) (mac hash.Hash, size int, ok bool) {
	info, ok := prfs[p]
	if !ok || (len(key) < fipsMinHMACKeyLen && fips140.Enforced()) {
		return nil, 0, false
	}
	return hmac.New(info.newHash, key), info.size, true
}

// fipsMinHMACKeyLen is the 112 bits below which crypto/hmac panics in
// FIPS 140-only mode.
const fipsMinHMACKeyLen = 14
