package crypto

import (
	"errors"
	"fmt"
	"strings"
)

// ErrIKEProposal is wrapped by every ParseIKEProposal error.
var ErrIKEProposal = errors.New("crypto: invalid IKE proposal")

// IKESuite is one negotiated IKE SA suite: what an IKE_SA_INIT proposal
// selects and what a strongSwan IKE proposal string names.
type IKESuite struct {
	EncrID uint16
	// EncrKeyBits is the Key Length attribute: 128 or 256 for AES, 0 for
	// ChaCha20-Poly1305 (RFC 7634 §2).
	EncrKeyBits int
	// IntegID is AuthNone for an AEAD (RFC 7296 §3.3).
	IntegID uint16
	PRF     PRF
	// DHGroup is never DHGroupNone: IKE_SA_INIT and an IKE SA rekey always
	// carry a KE payload (RFC 7296 §1.2, §2.18).
	DHGroup uint16
	// EncKeyLen is the length of SK_ei and SK_er, with the 4-byte salt of
	// an AEAD; IntegKeyLen that of SK_ai and SK_ar, 0 for an AEAD.
	EncKeyLen   int
	IntegKeyLen int
}

// cipherSuite is the ESP Suite with the same cipher and integrity
// algorithm: the SK payload uses the same constructions as ESP (RFC 5282
// for GCM in IKE, RFC 7634 §4 for ChaCha20-Poly1305, RFC 7296 §3.14 and
// RFC 4868 §2.3 for CBC with HMAC).
func (s IKESuite) cipherSuite() (Suite, bool) {
	return LookupESP(s.EncrID, s.EncrKeyBits, s.IntegID)
}

// AEAD reports a combined-mode cipher, whose proposal has no integrity
// transform.
func (s IKESuite) AEAD() bool { return s.IntegID == AuthNone }

// String renders the suite as a strongSwan IKE proposal that
// ParseIKEProposal reads back to the same IKESuite, always naming the PRF:
// "aes128gcm16-prfsha256-curve25519", "aes256-sha256-prfsha256-modp2048".
func (s IKESuite) String() string {
	var b strings.Builder
	if cipher, ok := s.cipherSuite(); ok {
		b.WriteString(cipher.Keyword)
	} else {
		fmt.Fprintf(&b, "encr%d_%d-integ%d", s.EncrID, s.EncrKeyBits, s.IntegID)
	}
	b.WriteString("-" + s.PRF.String())
	if token, ok := canonicalDHToken[s.DHGroup]; ok {
		b.WriteString("-" + token)
	} else {
		fmt.Fprintf(&b, "-dh%d", s.DHGroup)
	}
	return b.String()
}

// NewTransform builds the SK payload transform (RFC 7296 §3.14) for one
// direction: SK_ei with SK_ai for what the original initiator sends,
// SK_er with SK_ar for what the responder sends. It is the ESP transform
// of the same algorithms. auth is the IKE header and the SK payload
// header; an AEAD takes them as AAD (RFC 5282), CBC puts them under the
// ICV (§3.14). The counter given to MakeIV must never repeat for one
// transform, or GCM and ChaCha20 lose everything: a Message ID does not
// qualify, since the requests and the responses one side sends share its
// SK_e, so the caller keeps a send counter per transform and retransmits
// the stored message rather than sealing it again.
func (s IKESuite) NewTransform(encKey, integKey []byte) (Transform, error) {
	cipher, ok := s.cipherSuite()
	if !ok {
		return nil, fmt.Errorf("%w: IKE encryption %d (%d bits) with integrity %d",
			ErrUnsupported, s.EncrID, s.EncrKeyBits, s.IntegID)
	}
	return cipher.New(encKey, integKey)
}

// DeriveKeys computes the IKE SA's keys from SKEYSEED with the suite's PRF
// and key lengths (DeriveIKESAKeys).
func (s IKESuite) DeriveKeys(skeyseed, ni, nr []byte, spiI, spiR uint64) (IKESAKeys, error) {
	return DeriveIKESAKeys(s.PRF, skeyseed, ni, nr, spiI, spiR, s.EncKeyLen, s.IntegKeyLen)
}

// LookupIKE finds the suite for the transform IDs an IKE proposal selects:
// encryption with its Key Length attribute (0 if absent), integrity
// (AuthNone for an AEAD), PRF and DH group. It reports false for any
// combination this package cannot run, including no DH group.
func LookupIKE(encrID uint16, encrKeyBits int, integID, prf, dhGroup uint16) (IKESuite, bool) {
	cipher, ok := LookupESP(encrID, encrKeyBits, integID)
	if !ok {
		return IKESuite{}, false
	}
	p, ok := LookupPRF(prf)
	if !ok || !SupportsGroup(dhGroup) {
		return IKESuite{}, false
	}
	return IKESuite{
		EncrID:      cipher.EncrID,
		EncrKeyBits: cipher.EncrKeyBits,
		IntegID:     cipher.IntegID,
		PRF:         p,
		DHGroup:     dhGroup,
		EncKeyLen:   cipher.EncKeyLen,
		IntegKeyLen: cipher.IntegKeyLen,
	}, true
}

// ParseIKEProposal reads one strongSwan IKE proposal, such as
// "aes128gcm16-prfsha256-x25519" or "aes256-sha256-modp2048": one cipher,
// an integrity algorithm unless the cipher is an AEAD, at most one PRF and
// exactly one DH group (proposal.c, check_proposal). Without a prf keyword
// the PRF is the HMAC of the integrity keyword, as in strongSwan: "sha256"
// means AUTH_HMAC_SHA2_256_128 and PRF_HMAC_SHA2_256. An AEAD proposal
// therefore names its PRF with prfsha* or, as strongSwan also accepts, with
// an integrity keyword that then selects only the PRF (strongSwan drops
// integrity transforms from AEAD proposals). Alternatives (two ciphers, two
// groups) need more than one IKESuite and are rejected, naming the token
// that conflicts.
func ParseIKEProposal(s string) (IKESuite, error) {
	fail := func(format string, args ...any) (IKESuite, error) {
		return IKESuite{}, fmt.Errorf("%w %q: %s", ErrIKEProposal, s, fmt.Sprintf(format, args...))
	}
	k, err := scanProposal(s)
	if err != nil {
		return fail("%v", err)
	}
	switch {
	case k.esnToken != "":
		return fail("%q belongs in ESP proposals, not IKE", k.esnToken)
	case k.encrToken == "":
		return fail("no cipher")
	case !k.encr.aead && k.integToken == "":
		return fail("cipher %q needs an integrity algorithm", k.encrToken)
	case k.prfToken == "" && k.integToken == "":
		return fail("AEAD %q needs a PRF, such as %q", k.encrToken, "prfsha256")
	case k.dhToken == "":
		return fail("no DH group (IKE needs one, such as %q)", "x25519")
	}
	prf := k.prf
	if k.prfToken == "" {
		prf = integrityPRF[k.integ.id]
	}
	integID := k.integ.id
	if k.encr.aead {
		integID = AuthNone
	}
	suite, ok := LookupIKE(k.encr.id, k.encr.keyBits, integID, uint16(prf), k.dhGroup)
	if !ok {
		return fail("%q with %q, %q and %q is not supported", k.encrToken, k.integToken, prf, k.dhToken) // unreachable with the tables
	}
	return suite, nil
}
