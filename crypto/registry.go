package crypto

import (
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"fmt"
	"hash"
	"strings"
)

// IKEv2 transform IDs (RFC 7296 §3.3.2 and the IANA "IKEv2 Parameters"
// registry) for the algorithms this package implements.
const (
	// Transform type 1, encryption.
	EncrAESCBC           uint16 = 12 // RFC 3602
	EncrAESGCM16         uint16 = 20 // RFC 4106, 16-byte ICV
	EncrChaCha20Poly1305 uint16 = 28 // RFC 7634

	// Transform type 3, integrity. AuthNone is what an AEAD proposal
	// carries, if anything (RFC 7296 §3.3).
	AuthNone             uint16 = 0
	AuthHMACSHA2_256_128 uint16 = 12 // RFC 4868
	AuthHMACSHA2_384_192 uint16 = 13 // RFC 4868
	AuthHMACSHA2_512_256 uint16 = 14 // RFC 4868

	// Transform type 4, Diffie-Hellman group.
	DHGroupNone       uint16 = 0
	DHGroupMODP2048   uint16 = 14 // RFC 3526
	DHGroupMODP3072   uint16 = 15 // RFC 3526
	DHGroupECP256     uint16 = 19 // RFC 5903
	DHGroupECP384     uint16 = 20 // RFC 5903
	DHGroupCurve25519 uint16 = 31 // RFC 8031
)

var (
	// ErrProposal is wrapped by every ParseESPProposal error.
	ErrProposal = errors.New("crypto: invalid ESP proposal")
	// ErrKeyLength is wrapped when Suite.New gets keys of the wrong size.
	ErrKeyLength = errors.New("crypto: wrong key length")
	// ErrUnsupported is wrapped when Suite.New gets a suite this package
	// does not implement.
	ErrUnsupported = errors.New("crypto: unsupported suite")
)

// Suite is one negotiated ESP protection suite: what an IKEv2 proposal
// selects and what a strongSwan ESP proposal string names.
type Suite struct {
	// Keyword is the canonical strongSwan name of the cipher (and
	// integrity) part, e.g. "aes128gcm16" or "aes256-sha384". Transforms
	// built from the suite report it as their Name.
	Keyword string
	EncrID  uint16
	// EncrKeyBits is the Key Length attribute: 128 or 256 for AES, 0 for
	// ChaCha20-Poly1305, which must be sent without one (RFC 7634 §2).
	EncrKeyBits int
	// IntegID is AuthNone for an AEAD.
	IntegID uint16
	// EncKeyLen is the encryption keying material in bytes, including the
	// 4-byte salt of an AEAD (RFC 4106 §8.1, RFC 7634 §4): what IKE draws
	// from KEYMAT for the cipher (RFC 7296 §2.17).
	EncKeyLen   int
	IntegKeyLen int
	// ESN selects 64-bit extended sequence numbers (RFC 4303 §2.2.1).
	// strongSwan proposes no ESN unless the proposal says "esn".
	ESN bool
	// DHGroup is the PFS group for CREATE_CHILD_SA, DHGroupNone if none.
	DHGroup uint16
}

// String renders the suite as a strongSwan ESP proposal that
// ParseESPProposal reads back to the same Suite (for the DH groups this
// package names).
func (s Suite) String() string {
	var b strings.Builder
	b.WriteString(s.Keyword)
	if s.DHGroup != DHGroupNone {
		if token, ok := canonicalDHToken[s.DHGroup]; ok {
			b.WriteString("-" + token)
		} else {
			// No strongSwan keyword that this package knows; still say it.
			fmt.Fprintf(&b, "-dh%d", s.DHGroup)
		}
	}
	if s.ESN {
		b.WriteString("-esn")
	}
	return b.String()
}

// New builds the suite's Transform from keys taken from KEYMAT. encKey
// includes the salt for an AEAD; integKey is empty for an AEAD.
func (s Suite) New(encKey, integKey []byte) (Transform, error) {
	known, ok := LookupESP(s.EncrID, s.EncrKeyBits, s.IntegID)
	if !ok {
		return nil, fmt.Errorf("%w: encryption %d (%d bits) with integrity %d",
			ErrUnsupported, s.EncrID, s.EncrKeyBits, s.IntegID)
	}
	if len(encKey) != known.EncKeyLen {
		return nil, fmt.Errorf("%w: %s encryption key is %d bytes, want %d",
			ErrKeyLength, known.Keyword, len(encKey), known.EncKeyLen)
	}
	if len(integKey) != known.IntegKeyLen {
		return nil, fmt.Errorf("%w: %s integrity key is %d bytes, want %d",
			ErrKeyLength, known.Keyword, len(integKey), known.IntegKeyLen)
	}
	switch known.EncrID {
	case EncrAESGCM16:
		return newAESGCM16(known.Keyword, encKey)
	case EncrChaCha20Poly1305:
		return newChaCha20Poly1305(known.Keyword, encKey)
	default:
		integ := integrityByID[known.IntegID]
		return newCBCHMAC(known.Keyword, encKey, integ.newHash, integKey, integ.icvLen)
	}
}

// LookupESP finds the suite for IKEv2 transform IDs: the encryption ID
// with its Key Length attribute (0 if absent) and the integrity ID
// (AuthNone for an AEAD). The result has no ESN and no DH group; the caller
// sets those from the other transforms of the proposal.
func LookupESP(encrID uint16, encrKeyBits int, integID uint16) (Suite, bool) {
	if encrID == EncrChaCha20Poly1305 && encrKeyBits == 256 {
		// RFC 7634 §2 forbids the attribute, but some peers send 256
		// (strongSwan's "chacha20poly1305compat"); the key is the same.
		encrKeyBits = 0
	}
	for _, s := range espSuites {
		if s.EncrID == encrID && s.EncrKeyBits == encrKeyBits && s.IntegID == integID {
			return s, true
		}
	}
	return Suite{}, false
}

// ParseESPProposal reads one strongSwan ESP proposal, such as
// "aes128gcm16", "aes256-sha384-noesn" or "aes128-sha256-modp2048-esn":
// dash-separated keywords naming one cipher, one integrity algorithm unless
// the cipher is an AEAD, at most one DH group and at most one of esn/noesn.
// A proposal listing alternatives (two ciphers, "esn-noesn") needs more than
// one Suite and is rejected, naming the token that conflicts.
func ParseESPProposal(s string) (Suite, error) {
	fail := func(format string, args ...any) (Suite, error) {
		return Suite{}, fmt.Errorf("%w %q: %s", ErrProposal, s, fmt.Sprintf(format, args...))
	}
	k, err := scanProposal(s)
	if err != nil {
		return fail("%v", err)
	}
	switch {
	case k.prfToken != "":
		return fail("%q belongs in IKE proposals, not ESP", k.prfToken)
	case k.encrToken == "":
		return fail("no cipher")
	case k.encr.aead && k.integToken != "":
		return fail("AEAD %q takes no integrity algorithm, got %q", k.encrToken, k.integToken)
	case !k.encr.aead && k.integToken == "":
		return fail("cipher %q needs an integrity algorithm", k.encrToken)
	}
	suite, ok := LookupESP(k.encr.id, k.encr.keyBits, k.integ.id)
	if !ok {
		return fail("%q with %q is not supported", k.encrToken, k.integToken) // unreachable with the tables below
	}
	suite.ESN = k.esn
	suite.DHGroup = k.dhGroup
	return suite, nil
}

// proposalKeywords is what one strongSwan proposal string names, at most one
// keyword of each kind.
type proposalKeywords struct {
	encrToken, integToken, prfToken, dhToken, esnToken string

	encr    encryption
	integ   integrity
	prf     PRF
	dhGroup uint16
	esn     bool
}

// scanProposal sorts the dash-separated keywords of an ESP or IKE proposal
// by kind. A second keyword of a kind would be an alternative, which needs
// more than one suite, so it is an error naming both; so is a keyword it does
// not know. Which kinds a proposal may or must have is the caller's rule.
func scanProposal(s string) (proposalKeywords, error) {
	var k proposalKeywords
	take := func(kind, token string, seen *string) error {
		if *seen != "" {
			return fmt.Errorf("%s %q conflicts with %q", kind, token, *seen)
		}
		*seen = token
		return nil
	}
	for _, token := range strings.Split(s, "-") {
		var err error
		if e, ok := encryptionTokens[token]; ok {
			err, k.encr = take("cipher", token, &k.encrToken), e
		} else if i, ok := integrityTokens[token]; ok {
			err, k.integ = take("integrity algorithm", token, &k.integToken), i
		} else if p, ok := prfTokens[token]; ok {
			err, k.prf = take("PRF", token, &k.prfToken), p
		} else if group, ok := dhGroupTokens[token]; ok {
			err, k.dhGroup = take("DH group", token, &k.dhToken), group
		} else if token == "esn" || token == "noesn" {
			err, k.esn = take("ESN setting", token, &k.esnToken), token == "esn"
		} else if token == "" {
			err = errors.New("empty keyword")
		} else {
			err = fmt.Errorf("unknown keyword %q", token)
		}
		if err != nil {
			return k, err
		}
	}
	return k, nil
}

// encryption is what a cipher keyword selects.
type encryption struct {
	keyword string // canonical
	id      uint16
	keyBits int
	keyLen  int // bytes, with the salt of an AEAD
	aead    bool
}

// integrity is what an integrity keyword selects (RFC 4868 §2.1: the key is
// as long as the hash output, the ICV half of it).
type integrity struct {
	keyword string // canonical
	id      uint16
	keyLen  int
	icvLen  int
	newHash func() hash.Hash
}

var (
	aes128GCM16      = encryption{"aes128gcm16", EncrAESGCM16, 128, 16 + aeadSaltLen, true}
	aes256GCM16      = encryption{"aes256gcm16", EncrAESGCM16, 256, 32 + aeadSaltLen, true}
	chaCha20Poly1305 = encryption{"chacha20poly1305", EncrChaCha20Poly1305, 0, chacha20KeyLen + aeadSaltLen, true}
	aes128CBC        = encryption{"aes128", EncrAESCBC, 128, 16, false}
	aes256CBC        = encryption{"aes256", EncrAESCBC, 256, 32, false}

	hmacSHA256 = integrity{"sha256", AuthHMACSHA2_256_128, 32, 16, sha256.New}
	hmacSHA384 = integrity{"sha384", AuthHMACSHA2_384_192, 48, 24, sha512.New384}
	hmacSHA512 = integrity{"sha512", AuthHMACSHA2_512_256, 64, 32, sha512.New}
)

const chacha20KeyLen = 32

// The keywords and aliases of strongSwan's proposal_keywords_static.txt
// for the algorithms above.
var (
	encryptionTokens = map[string]encryption{
		"aes128gcm16": aes128GCM16, "aes128gcm128": aes128GCM16, "aes128gcm": aes128GCM16,
		"aes256gcm16": aes256GCM16, "aes256gcm128": aes256GCM16, "aes256gcm": aes256GCM16,
		"chacha20poly1305": chaCha20Poly1305,
		"aes128":           aes128CBC, "aes": aes128CBC,
		"aes256": aes256CBC,
	}
	integrityTokens = map[string]integrity{
		"sha256": hmacSHA256, "sha2_256": hmacSHA256,
		"sha384": hmacSHA384, "sha2_384": hmacSHA384,
		"sha512": hmacSHA512, "sha2_512": hmacSHA512,
	}
	integrityByID = map[uint16]integrity{
		AuthHMACSHA2_256_128: hmacSHA256,
		AuthHMACSHA2_384_192: hmacSHA384,
		AuthHMACSHA2_512_256: hmacSHA512,
	}
	dhGroupTokens = map[string]uint16{
		"modp2048": DHGroupMODP2048,
		"modp3072": DHGroupMODP3072,
		"ecp256":   DHGroupECP256,
		"ecp384":   DHGroupECP384,
		"x25519":   DHGroupCurve25519, "curve25519": DHGroupCurve25519,
	}
	canonicalDHToken = map[uint16]string{
		DHGroupMODP2048:   "modp2048",
		DHGroupMODP3072:   "modp3072",
		DHGroupECP256:     "ecp256",
		DHGroupECP384:     "ecp384",
		DHGroupCurve25519: "curve25519",
	}
)

// espSuites lists every suite: each AEAD alone, each CBC cipher with each
// integrity algorithm.
var espSuites = func() []Suite {
	var suites []Suite
	for _, e := range []encryption{aes128GCM16, aes256GCM16, chaCha20Poly1305} {
		suites = append(suites, Suite{Keyword: e.keyword, EncrID: e.id, EncrKeyBits: e.keyBits,
			IntegID: AuthNone, EncKeyLen: e.keyLen})
	}
	for _, i := range []integrity{hmacSHA256, hmacSHA384, hmacSHA512} {
		for _, e := range []encryption{aes128CBC, aes256CBC} {
			suites = append(suites, Suite{Keyword: e.keyword + "-" + i.keyword, EncrID: e.id,
				EncrKeyBits: e.keyBits, IntegID: i.id, EncKeyLen: e.keyLen, IntegKeyLen: i.keyLen})
		}
	}
	return suites
}()

// ESPSuites returns every suite this package implements, without ESN or DH
// group, in a stable order (AEADs first).
func ESPSuites() []Suite {
	return append([]Suite(nil), espSuites...)
}
