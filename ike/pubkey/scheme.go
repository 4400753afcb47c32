package pubkey

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	encasn1 "encoding/asn1"
	"fmt"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"

	"github.com/espd/espd/ike/message"
)

// KeyType is the kind of public key a signature scheme uses.
type KeyType uint8

const (
	KeyUnknown KeyType = iota
	KeyRSA
	KeyECDSA
	KeyEd25519
)

func (k KeyType) String() string {
	switch k {
	case KeyRSA:
		return "rsa"
	case KeyECDSA:
		return "ecdsa"
	case KeyEd25519:
		return "ed25519"
	}
	return "unknown"
}

// keyTypeOf classifies a public key from x509 or a crypto.Signer.
func keyTypeOf(pub crypto.PublicKey) KeyType {
	switch pub.(type) {
	case *rsa.PublicKey:
		return KeyRSA
	case *ecdsa.PublicKey:
		return KeyECDSA
	case ed25519.PublicKey:
		return KeyEd25519
	}
	return KeyUnknown
}

// keyBits is the key size as auth constraints count it: the modulus for
// RSA, the curve for ECDSA.
func keyBits(pub crypto.PublicKey) int {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k != nil && k.N != nil {
			return k.N.BitLen()
		}
	case *ecdsa.PublicKey:
		if k != nil && k.Curve != nil {
			return k.Curve.Params().BitSize
		}
	case ed25519.PublicKey:
		return 256
	}
	return 0
}

// describeKey names a key for messages: "RSA-3072", "ECDSA P-384".
func describeKey(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA-%d", keyBits(k))
	case *ecdsa.PublicKey:
		if k != nil && k.Curve != nil {
			return "ECDSA " + k.Curve.Params().Name
		}
		return "ECDSA"
	case ed25519.PublicKey:
		return "Ed25519"
	}
	return fmt.Sprintf("%T", pub)
}

// Scheme is the signature algorithm of one AUTH payload.
type Scheme struct {
	// Method is the Auth Method: AuthDigitalSignature (RFC 7427) or a
	// classic one (AuthRSASignature, AuthECDSASHA256P256 and the other
	// RFC 4754 methods).
	Method message.AuthMethod
	Key    KeyType
	Hash   Hash
	// PSS selects RSASSA-PSS (RFC 4055) over RSASSA-PKCS1-v1_5; MGF1
	// always uses Hash.
	PSS bool
	// SaltLength is the PSS salt length in octets.
	SaltLength int
}

// String gives the scheme in swanctl.conf constraint words
// ("rsa/pss-sha256", "ecdsa-sha384", "ed25519"), with the classic method
// added for the RFC 7296 and RFC 4754 ones.
func (s Scheme) String() string {
	var name string
	switch {
	case s.Key == KeyEd25519:
		name = "ed25519"
	case s.PSS:
		name = fmt.Sprintf("rsa/pss-%v", s.Hash)
	default:
		name = fmt.Sprintf("%v-%v", s.Key, s.Hash)
	}
	if s.Method != message.AuthDigitalSignature {
		name += " (" + s.Method.String() + ")"
	}
	return name
}

// Object identifiers of RFC 7427 Appendix A, RFC 4055, RFC 5758 and
// RFC 8410.
var (
	oidSHA1WithRSA     = encasn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 5}
	oidSHA256WithRSA   = encasn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}
	oidSHA384WithRSA   = encasn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 12}
	oidSHA512WithRSA   = encasn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 13}
	oidRSASSAPSS       = encasn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 10}
	oidMGF1            = encasn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 8}
	oidSHA1            = encasn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}
	oidSHA256          = encasn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidSHA384          = encasn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}
	oidSHA512          = encasn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}
	oidECDSAWithSHA1   = encasn1.ObjectIdentifier{1, 2, 840, 10045, 4, 1}
	oidECDSAWithSHA256 = encasn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	oidECDSAWithSHA384 = encasn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}
	oidECDSAWithSHA512 = encasn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 4}
	oidEd25519         = encasn1.ObjectIdentifier{1, 3, 101, 112}
	oidEd448           = encasn1.ObjectIdentifier{1, 3, 101, 113}
)

// plainSchemes are the signature algorithms whose AlgorithmIdentifier
// carries no parameters of substance: RSASSA-PKCS1-v1_5 with a NULL
// (RFC 4055 §5), ECDSA (RFC 5758 §3.2) and Ed25519 (RFC 8410 §3) with none.
var plainSchemes = []struct {
	oid  encasn1.ObjectIdentifier
	key  KeyType
	hash Hash
}{
	{oidSHA256WithRSA, KeyRSA, HashSHA256},
	{oidSHA384WithRSA, KeyRSA, HashSHA384},
	{oidSHA512WithRSA, KeyRSA, HashSHA512},
	{oidECDSAWithSHA256, KeyECDSA, HashSHA256},
	{oidECDSAWithSHA384, KeyECDSA, HashSHA384},
	{oidECDSAWithSHA512, KeyECDSA, HashSHA512},
	{oidEd25519, KeyEd25519, HashIdentity},
	// Known so that Scheme can name it; parseAlgorithmIdentifier refuses it.
	{oidSHA1WithRSA, KeyRSA, HashSHA1},
}

var hashOIDs = map[Hash]encasn1.ObjectIdentifier{
	HashSHA1: oidSHA1, HashSHA256: oidSHA256, HashSHA384: oidSHA384, HashSHA512: oidSHA512,
}

// algorithmIdentifier is the DER AlgorithmIdentifier (RFC 5280 §4.1.1.2)
// an RFC 7427 AUTH payload names its scheme with. The encodings are those
// of RFC 7427 Appendix A and strongSwan's: NULL parameters for RSA and for
// the hashes inside RSASSA-PSS-params, none for ECDSA and Ed25519, and no
// trailerField (its DER default).
func algorithmIdentifier(s Scheme) ([]byte, error) {
	var b cryptobyte.Builder
	if s.PSS {
		hashOID, ok := hashOIDs[s.Hash]
		if !ok || s.Key != KeyRSA {
			return nil, unsupported("no AlgorithmIdentifier for %v", s)
		}
		// RSASSA-PSS-params (RFC 4055 §3.1).
		b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(oidRSASSAPSS)
			b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1(asn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
					addHashAlgorithm(b, hashOID)
				})
				b.AddASN1(asn1.Tag(1).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
					b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1ObjectIdentifier(oidMGF1)
						addHashAlgorithm(b, hashOID)
					})
				})
				b.AddASN1(asn1.Tag(2).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
					b.AddASN1Int64(int64(s.SaltLength))
				})
			})
		})
		return b.Bytes()
	}
	for _, p := range plainSchemes {
		if p.key == s.Key && p.hash == s.Hash {
			b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1ObjectIdentifier(p.oid)
				if p.key == KeyRSA {
					b.AddASN1NULL()
				}
			})
			return b.Bytes()
		}
	}
	return nil, unsupported("no AlgorithmIdentifier for %v", s)
}

func addHashAlgorithm(b *cryptobyte.Builder, oid encasn1.ObjectIdentifier) {
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oid)
		b.AddASN1NULL()
	})
}

// refusedOIDs are signature algorithms that parse but that Verify does not
// accept, named so that the error says which.
var refusedOIDs = []struct {
	oid    encasn1.ObjectIdentifier
	reason string
}{
	{oidSHA1WithRSA, "sha1WithRSAEncryption: SHA-1 signatures are refused (RFC 8247 §3.2)"},
	{oidECDSAWithSHA1, "ecdsa-with-SHA1: SHA-1 signatures are refused (RFC 8247 §3.2)"},
	{oidEd448, "Ed448 is not supported"},
}

// parseAlgorithmIdentifier reads the DER AlgorithmIdentifier of an RFC 7427
// AUTH payload. Structural damage is ErrVerify; an algorithm this package
// does not take is ErrUnsupported.
func parseAlgorithmIdentifier(der []byte) (Scheme, error) {
	// AlgorithmIdentifier ::= SEQUENCE { algorithm OID, parameters ANY OPTIONAL }
	input := cryptobyte.String(der)
	var params cryptobyte.String // the SEQUENCE's contents, then what follows the OID
	var oid encasn1.ObjectIdentifier
	if !input.ReadASN1(&params, asn1.SEQUENCE) || !input.Empty() ||
		!params.ReadASN1ObjectIdentifier(&oid) {
		return Scheme{}, verifyFailed("AlgorithmIdentifier is not DER")
	}
	if oid.Equal(oidRSASSAPSS) {
		pss, err := parsePSSParams(params)
		if err != nil {
			return Scheme{}, err
		}
		return pss.scheme()
	}
	for _, r := range refusedOIDs {
		if oid.Equal(r.oid) {
			return Scheme{}, unsupported("%s", r.reason)
		}
	}
	for _, p := range plainSchemes {
		if oid.Equal(p.oid) {
			// A NULL where none belongs (or none where a NULL does) is
			// seen in the wild and carries no meaning, so both are taken.
			if !params.Empty() && !readNULL(&params) {
				return Scheme{}, verifyFailed("unexpected parameters for %v", oid)
			}
			return Scheme{Method: message.AuthDigitalSignature, Key: p.key, Hash: p.hash}, nil
		}
	}
	return Scheme{}, unsupported("signature algorithm %v", oid)
}

// readNULL reads an ASN.1 NULL that must end s.
func readNULL(s *cryptobyte.String) bool {
	var null cryptobyte.String
	return s.ReadASN1(&null, asn1.NULL) && null.Empty() && s.Empty()
}

// pssParams are RSASSA-PSS-params (RFC 4055 §3.1) as written, defaults
// filled in: SHA-1, MGF1 with SHA-1, 20 octets of salt, trailerField 1.
type pssParams struct {
	hash, mgf1Hash Hash
	saltLength     int64
}

func parsePSSParams(params cryptobyte.String) (pssParams, error) {
	p := pssParams{hash: HashSHA1, mgf1Hash: HashSHA1, saltLength: 20}
	var seq cryptobyte.String
	if !params.ReadASN1(&seq, asn1.SEQUENCE) || !params.Empty() {
		return p, verifyFailed("RSASSA-PSS without RSASSA-PSS-params")
	}
	var field cryptobyte.String
	var present bool
	bad := func(what string) (pssParams, error) {
		return p, verifyFailed("RSASSA-PSS-params: bad %s", what)
	}

	if !seq.ReadOptionalASN1(&field, &present, asn1.Tag(0).Constructed().ContextSpecific()) {
		return bad("hashAlgorithm")
	}
	if present {
		h, ok := readHashAlgorithm(&field)
		if !ok || !field.Empty() {
			return bad("hashAlgorithm")
		}
		p.hash = h
	}

	if !seq.ReadOptionalASN1(&field, &present, asn1.Tag(1).Constructed().ContextSpecific()) {
		return bad("maskGenAlgorithm")
	}
	if present {
		var mgf cryptobyte.String
		var oid encasn1.ObjectIdentifier
		if !field.ReadASN1(&mgf, asn1.SEQUENCE) || !field.Empty() || !mgf.ReadASN1ObjectIdentifier(&oid) {
			return bad("maskGenAlgorithm")
		}
		if !oid.Equal(oidMGF1) {
			return p, unsupported("RSASSA-PSS with mask generation function %v", oid)
		}
		h, ok := readHashAlgorithm(&mgf)
		if !ok || !mgf.Empty() {
			return bad("MGF1 hash")
		}
		p.mgf1Hash = h
	}

	if !seq.ReadOptionalASN1(&field, &present, asn1.Tag(2).Constructed().ContextSpecific()) {
		return bad("saltLength")
	}
	if present {
		if !field.ReadASN1Integer(&p.saltLength) || !field.Empty() || p.saltLength < 0 {
			return bad("saltLength")
		}
	}

	if !seq.ReadOptionalASN1(&field, &present, asn1.Tag(3).Constructed().ContextSpecific()) {
		return bad("trailerField")
	}
	if present {
		var trailer int64
		if !field.ReadASN1Integer(&trailer) || !field.Empty() || trailer != 1 {
			return bad("trailerField")
		}
	}
	if !seq.Empty() {
		return bad("trailing data")
	}
	return p, nil
}

// readHashAlgorithm reads a hash AlgorithmIdentifier, with or without its
// NULL parameters (RFC 4055 §2.1 allows both). Unknown hashes give 0.
func readHashAlgorithm(s *cryptobyte.String) (Hash, bool) {
	var alg cryptobyte.String
	var oid encasn1.ObjectIdentifier
	if !s.ReadASN1(&alg, asn1.SEQUENCE) || !alg.ReadASN1ObjectIdentifier(&oid) {
		return 0, false
	}
	if !alg.Empty() && !readNULL(&alg) {
		return 0, false
	}
	for h, o := range hashOIDs {
		if oid.Equal(o) {
			return h, true
		}
	}
	return 0, true
}

// scheme applies what Go's crypto/rsa and RFC 8247 allow: a SHA-2 hash
// and MGF1 with the same hash.
func (p pssParams) scheme() (Scheme, error) {
	switch {
	case p.hash == 0 || p.mgf1Hash == 0:
		return Scheme{}, unsupported("RSASSA-PSS with an unknown hash")
	case p.hash == HashSHA1:
		return Scheme{}, unsupported("RSASSA-PSS with SHA-1: SHA-1 signatures are refused (RFC 8247 §3.2)")
	case p.mgf1Hash != p.hash:
		return Scheme{}, unsupported("RSASSA-PSS with MGF1-%v and %v: a different MGF1 hash is not supported", p.mgf1Hash, p.hash)
	case p.saltLength > 1<<16:
		return Scheme{}, verifyFailed("RSASSA-PSS salt length %d", p.saltLength)
	}
	return Scheme{Method: message.AuthDigitalSignature, Key: KeyRSA, Hash: p.hash, PSS: true,
		SaltLength: int(p.saltLength)}, nil
}

// classicSchemes are the Auth Methods that fix the scheme (RFC 7296 §3.8,
// RFC 4754 §3) with the curve each ECDSA one requires.
var classicSchemes = map[message.AuthMethod]struct {
	scheme Scheme
	curve  elliptic.Curve
}{
	message.AuthRSASignature:    {Scheme{Method: message.AuthRSASignature, Key: KeyRSA, Hash: HashSHA1}, nil},
	message.AuthECDSASHA256P256: {Scheme{Method: message.AuthECDSASHA256P256, Key: KeyECDSA, Hash: HashSHA256}, elliptic.P256()},
	message.AuthECDSASHA384P384: {Scheme{Method: message.AuthECDSASHA384P384, Key: KeyECDSA, Hash: HashSHA384}, elliptic.P384()},
	message.AuthECDSASHA512P521: {Scheme{Method: message.AuthECDSASHA512P521, Key: KeyECDSA, Hash: HashSHA512}, elliptic.P521()},
}

// SchemeOf tells which signature scheme an AUTH payload uses, and returns
// its signature value.
func SchemeOf(auth *message.Auth) (Scheme, []byte, error) {
	if auth == nil {
		return Scheme{}, nil, verifyFailed("no AUTH payload")
	}
	if classic, ok := classicSchemes[auth.Method]; ok {
		return classic.scheme, auth.Data, nil
	}
	if auth.Method != message.AuthDigitalSignature {
		return Scheme{}, nil, unsupported("auth method %v is not a public key signature", auth.Method)
	}
	// RFC 7427 §3: | ASN.1 Length | AlgorithmIdentifier | Signature |
	algorithm, signature, err := auth.SignatureData()
	if err != nil {
		return Scheme{}, nil, verifyFailed("%v", err)
	}
	s, err := parseAlgorithmIdentifier(algorithm)
	if err != nil {
		return Scheme{}, nil, err
	}
	return s, signature, nil
}
