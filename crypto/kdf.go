package crypto

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// IKEv2 key derivation (RFC 7296 §2.14, §2.17, §2.18): SKEYSEED from the
// nonces and g^ir, the IKE SA's seven keys from SKEYSEED with prf+, and
// each CHILD_SA's KEYMAT from SK_d with prf+.

// ErrKeyMaterial is wrapped when keys cannot be derived as asked: a
// negative length, more than prf+ can produce (RFC 7296 §2.13), or a key
// the PRF refuses (see PRF.Compute).
var ErrKeyMaterial = errors.New("crypto: cannot derive keying material")

// SKEYSEED computes prf(Ni | Nr, g^ir) for a new IKE SA (RFC 7296 §2.14).
// The nonces are the PRF key; HMAC takes a key of any length, so none of
// §2.14's truncation for fixed-key PRFs applies.
func SKEYSEED(prf PRF, ni, nr, sharedSecret []byte) ([]byte, error) {
	if !prf.Supported() {
		return nil, fmt.Errorf("%w: PRF %s", ErrUnsupported, prf)
	}
	return compute(prf, concat(ni, nr), sharedSecret)
}

// RekeySKEYSEED computes prf(SK_d (old), g^ir (new) | Ni | Nr) for the IKE
// SA that replaces an old one in CREATE_CHILD_SA (RFC 7296 §2.18). oldPRF
// is the old IKE SA's PRF: the rekeying exchange belongs to the old SA, so
// §2.18 uses its PRF for SKEYSEED even when the new SA picks another.
// (strongSwan keeps the old PRF for the prf+ that follows as well,
// keymat_v2.c; the caller chooses the PRF it passes to DeriveIKESAKeys.)
func RekeySKEYSEED(oldPRF PRF, oldSKd, sharedSecret, ni, nr []byte) ([]byte, error) {
	if !oldPRF.Supported() {
		return nil, fmt.Errorf("%w: PRF %s", ErrUnsupported, oldPRF)
	}
	return compute(oldPRF, oldSKd, concat(sharedSecret, ni, nr))
}

// IKESAKeys are an IKE SA's keys, in the order prf+ yields them
// (RFC 7296 §2.14). The slices share one buffer.
type IKESAKeys struct {
	// D (SK_d) keys the CHILD_SAs and the IKE SA that replaces this one.
	D []byte
	// AI and AR (SK_ai, SK_ar) are the integrity keys of the SK payload
	// the initiator and the responder send; empty for an AEAD.
	AI, AR []byte
	// EI and ER (SK_ei, SK_er) are the encryption keys, each with the
	// 4-byte salt at its end for an AEAD (RFC 4106 §8.1 as RFC 5282
	// carries it into IKE, RFC 7634 §4).
	EI, ER []byte
	// PI and PR (SK_pi, SK_pr) go into the initiator's and the responder's
	// AUTH payload (RFC 7296 §2.15).
	PI, PR []byte
}

// DeriveIKESAKeys computes
//
//	{SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr}
//	        = prf+ (SKEYSEED, Ni | Nr | SPIi | SPIr)
//
// (RFC 7296 §2.14). SK_d, SK_pi and SK_pr are prf.KeyLen() long; the SPIs
// are the 8-octet values of the IKE header (§3.1), in network order.
func DeriveIKESAKeys(prf PRF, skeyseed, ni, nr []byte, spiI, spiR uint64, encKeyLen, integKeyLen int) (IKESAKeys, error) {
	if !prf.Supported() {
		return IKESAKeys{}, fmt.Errorf("%w: PRF %s", ErrUnsupported, prf)
	}
	if err := checkKeyLens(prf, encKeyLen, integKeyLen); err != nil {
		return IKESAKeys{}, err
	}
	var spis [16]byte
	binary.BigEndian.PutUint64(spis[:8], spiI)
	binary.BigEndian.PutUint64(spis[8:], spiR)

	prfKeyLen := prf.KeyLen()
	total := 3*prfKeyLen + 2*integKeyLen + 2*encKeyLen
	keymat, err := plus(prf, skeyseed, concat(ni, nr, spis[:]), total)
	if err != nil {
		return IKESAKeys{}, err
	}
	next := splitter(keymat)
	return IKESAKeys{
		D:  next(prfKeyLen),
		AI: next(integKeyLen),
		AR: next(integKeyLen),
		EI: next(encKeyLen),
		ER: next(encKeyLen),
		PI: next(prfKeyLen),
		PR: next(prfKeyLen),
	}, nil
}

// ChildSAKeys are one CHILD_SA's keys (RFC 7296 §2.17): both directions of
// one ESP SA pair. The slices share one buffer.
type ChildSAKeys struct {
	// EncrI and IntegI protect traffic from the initiator to the
	// responder of the exchange that created the CHILD_SA; EncrR and
	// IntegR the other direction. Integ is empty for an AEAD, and Encr
	// ends with an AEAD's salt.
	EncrI, IntegI []byte
	EncrR, IntegR []byte
}

// DeriveChildSAKeys computes KEYMAT = prf+(SK_d, Ni | Nr), or with PFS
// prf+(SK_d, g^ir (new) | Ni | Nr) when newSharedSecret is not empty
// (RFC 7296 §2.17). Ni and Nr are the nonces of the exchange creating the
// CHILD_SA (IKE_AUTH reuses IKE_SA_INIT's). §2.17 takes all of the
// initiator-to-responder keys first, and RFC 4301 (via §2.17) the
// encryption key before the integrity key within each direction.
func DeriveChildSAKeys(prf PRF, skd, newSharedSecret, ni, nr []byte, encKeyLen, integKeyLen int) (ChildSAKeys, error) {
	if !prf.Supported() {
		return ChildSAKeys{}, fmt.Errorf("%w: PRF %s", ErrUnsupported, prf)
	}
	if err := checkKeyLens(prf, encKeyLen, integKeyLen); err != nil {
		return ChildSAKeys{}, err
	}
	keymat, err := plus(prf, skd, concat(newSharedSecret, ni, nr), 2*(encKeyLen+integKeyLen))
	if err != nil {
		return ChildSAKeys{}, err
	}
	next := splitter(keymat)
	return ChildSAKeys{
		EncrI:  next(encKeyLen),
		IntegI: next(integKeyLen),
		EncrR:  next(encKeyLen),
		IntegR: next(integKeyLen),
	}, nil
}

// checkKeyLens refuses a negative length, and one that alone exceeds prf+
// before it can overflow the sum of all the lengths.
func checkKeyLens(prf PRF, lens ...int) error {
	for _, n := range lens {
		if n < 0 || n > prf.MaxPlusLen() {
			return fmt.Errorf("%w: key length %d out of range", ErrKeyMaterial, n)
		}
	}
	return nil
}

// compute is prf.Compute with its refusal as an error.
func compute(prf PRF, key, data []byte) ([]byte, error) {
	out := prf.Compute(key, data)
	if out == nil {
		return nil, fmt.Errorf("%w: %s refused a %d-byte key", ErrKeyMaterial, prf, len(key))
	}
	return out, nil
}

// plus is prf.Plus with its limits as errors.
func plus(prf PRF, key, seed []byte, n int) ([]byte, error) {
	if n > prf.MaxPlusLen() {
		return nil, fmt.Errorf("%w: %d bytes asked of %s's prf+, which stops at %d",
			ErrKeyMaterial, n, prf, prf.MaxPlusLen())
	}
	out := prf.Plus(key, seed, n)
	if out == nil {
		return nil, fmt.Errorf("%w: %s refused a %d-byte key", ErrKeyMaterial, prf, len(key))
	}
	return out, nil
}

// splitter hands out consecutive pieces of keymat, each with its capacity
// capped so an append to one key cannot overwrite the next.
func splitter(keymat []byte) func(n int) []byte {
	return func(n int) []byte {
		piece := keymat[:n:n]
		keymat = keymat[n:]
		return piece
	}
}

func concat(parts ...[]byte) []byte {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	out := make([]byte, 0, n)
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}
