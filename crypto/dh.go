package crypto

import (
	"crypto/ecdh"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
)

// The Diffie-Hellman groups of IKEv2's KE payload (RFC 7296 §3.4). Each
// KeyExchange is one ephemeral private value: IKE_SA_INIT and every
// CREATE_CHILD_SA with a KE payload make a new one, and the IKE code drops
// it once the shared secret has gone into SKEYSEED or KEYMAT.

var (
	// ErrUnsupportedGroup is wrapped when a group number is not one this
	// package implements; the exchange answers INVALID_KE_PAYLOAD naming a
	// group it does support (RFC 7296 §1.2, §3.10.1).
	ErrUnsupportedGroup = errors.New("crypto: unsupported DH group")
	// ErrInvalidKE is wrapped when the peer's KE data has the wrong length
	// for its group or is not a valid public value (RFC 6989): the
	// exchange fails with INVALID_SYNTAX (RFC 7296 §2.12, RFC 6989 §5).
	ErrInvalidKE = errors.New("crypto: invalid KE data")
)

// KeyExchange is one side of a Diffie-Hellman exchange in one group.
type KeyExchange interface {
	// Group is the transform type 4 ID, e.g. DHGroupCurve25519.
	Group() uint16
	// PublicValue is the Key Exchange Data of our KE payload, in the
	// group's fixed length (RFC 7296 §3.4). The caller must not modify it.
	PublicValue() []byte
	// SharedSecret checks the peer's Key Exchange Data and returns g^ir in
	// the group's fixed length, or an error wrapping ErrInvalidKE.
	SharedSecret(peer []byte) ([]byte, error)
}

// SupportsGroup reports whether NewKeyExchange implements group.
func SupportsGroup(group uint16) bool {
	_, ok := PublicValueLen(group)
	return ok
}

// PublicValueLen is the length of the Key Exchange Data for group, so a
// KE payload of any other length can be refused before any arithmetic.
func PublicValueLen(group uint16) (int, bool) {
	if g, ok := modpGroups[group]; ok {
		return g.byteLen, true
	}
	if c, ok := ecpGroups[group]; ok {
		return 2 * c.coordLen, true
	}
	if group == DHGroupCurve25519 {
		return x25519Len, true
	}
	return 0, false
}

// NewKeyExchange makes a fresh private value in group from crypto/rand.
func NewKeyExchange(group uint16) (KeyExchange, error) {
	if g, ok := modpGroups[group]; ok {
		private := make([]byte, g.exponentLen)
		for {
			if _, err := rand.Read(private); err != nil {
				return nil, fmt.Errorf("crypto: DH group %d: %w", group, err)
			}
			kx, err := newMODP(g, private)
			if err == nil || !errors.Is(err, errWeakExponent) {
				return kx, err
			}
			// An exponent of 0 or 1 (odds of 2^-383 at most): draw again.
		}
	}
	if c, ok := ecpGroups[group]; ok {
		private, err := c.curve.GenerateKey(rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("crypto: DH group %d: %w", group, err)
		}
		return newECDHFromKey(group, c, private), nil
	}
	if group == DHGroupCurve25519 {
		private, err := ecdh.X25519().GenerateKey(rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("crypto: DH group %d: %w", group, err)
		}
		return newECDHFromKey(group, x25519Group, private), nil
	}
	return nil, fmt.Errorf("%w: %d", ErrUnsupportedGroup, group)
}

// newKeyExchangeFromPrivate builds a KeyExchange from a known private
// value: the big-endian exponent for MODP, the scalar for ECP and X25519.
// Known-answer tests need it; NewKeyExchange uses it for MODP.
func newKeyExchangeFromPrivate(group uint16, private []byte) (KeyExchange, error) {
	if g, ok := modpGroups[group]; ok {
		return newMODP(g, private)
	}
	c, ok := ecpGroups[group]
	if group == DHGroupCurve25519 {
		c, ok = x25519Group, true
	}
	if !ok {
		return nil, fmt.Errorf("%w: %d", ErrUnsupportedGroup, group)
	}
	key, err := c.curve.NewPrivateKey(private)
	if err != nil {
		return nil, fmt.Errorf("crypto: DH group %d: %w", group, err)
	}
	return newECDHFromKey(group, c, key), nil
}

// MODP groups (RFC 3526) with math/big.
//
// The private exponent is shorter than the prime, as RFC 3526 §8 allows:
// its security needs an exponent of twice the group's strength, and the
// table there puts the 2048-bit group at 110 to 160 bits of strength
// (exponent 220 to 320 bits) and the 3072-bit group at 130 to 210 (260 to
// 420). We take 384 and 512 bits, above the larger estimates; strongSwan
// uses 384 bits for both (key_exchange.c, exp_len = 48). A shorter
// exponent makes g^x about 5 times cheaper than a full-size one.
//
// math/big is not constant-time. The exponent is ephemeral, used for one
// exchange and then dropped, which leaves a timing attacker one
// measurement per secret; the ECP groups and Curve25519 have no such
// caveat.

type modpGroup struct {
	id          uint16
	prime       *big.Int
	primeMinus1 *big.Int
	generator   *big.Int
	byteLen     int // the KE data and g^ir are padded to this (RFC 7296 §3.4, §2.14)
	exponentLen int // bytes
}

var errWeakExponent = errors.New("crypto: DH exponent below 2")

func mustHex(s string) *big.Int {
	n, ok := new(big.Int).SetString(s, 16)
	if !ok {
		panic("crypto: bad built-in MODP prime") // unreachable: the constants below are valid hex
	}
	return n
}

func newMODPGroup(id uint16, primeHex string, exponentLen int) *modpGroup {
	p := mustHex(primeHex)
	return &modpGroup{
		id:          id,
		prime:       p,
		primeMinus1: new(big.Int).Sub(p, big.NewInt(1)),
		generator:   big.NewInt(2),
		byteLen:     (p.BitLen() + 7) / 8,
		exponentLen: exponentLen,
	}
}

var modpGroups = map[uint16]*modpGroup{
	// RFC 3526 §3: 2^2048 - 2^1984 - 1 + 2^64 * { [2^1918 pi] + 124476 },
	// generator 2.
	DHGroupMODP2048: newMODPGroup(DHGroupMODP2048,
		"FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74"+
			"020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437"+
			"4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"+
			"EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF05"+
			"98DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB"+
			"9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B"+
			"E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF695581718"+
			"3995497CEA956AE515D2261898FA051015728E5A8AACAA68FFFFFFFFFFFFFFFF",
		48),
	// RFC 3526 §4: 2^3072 - 2^3008 - 1 + 2^64 * { [2^2942 pi] + 1690314 },
	// generator 2.
	DHGroupMODP3072: newMODPGroup(DHGroupMODP3072,
		"FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74"+
			"020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437"+
			"4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"+
			"EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF05"+
			"98DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB"+
			"9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B"+
			"E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF695581718"+
			"3995497CEA956AE515D2261898FA051015728E5A8AAAC42DAD33170D04507A33"+
			"A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7"+
			"ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864"+
			"D87602733EC86A64521F2B18177B200CBBE117577A615D6C770988C0BAD946E2"+
			"08E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF",
		64),
}

type modpKeyExchange struct {
	group    *modpGroup
	exponent *big.Int
	public   []byte
}

func newMODP(g *modpGroup, private []byte) (*modpKeyExchange, error) {
	x := new(big.Int).SetBytes(private)
	if x.Cmp(big.NewInt(2)) < 0 {
		return nil, fmt.Errorf("%w (group %d)", errWeakExponent, g.id)
	}
	y := new(big.Int).Exp(g.generator, x, g.prime)
	return &modpKeyExchange{group: g, exponent: x, public: y.FillBytes(make([]byte, g.byteLen))}, nil
}

func (k *modpKeyExchange) Group() uint16       { return k.group.id }
func (k *modpKeyExchange) PublicValue() []byte { return k.public }

// SharedSecret refuses a peer value outside 1 < y < p-1: 0, 1 and p-1 (and
// anything not reduced mod p) would force the secret into {0, 1, p-1}
// whatever our exponent. For these safe-prime groups that check is all RFC
// 6989 §2.1 asks; every other y lies in a subgroup of order q or 2q, where
// q = (p-1)/2 is prime.
func (k *modpKeyExchange) SharedSecret(peer []byte) ([]byte, error) {
	g := k.group
	if len(peer) != g.byteLen {
		// RFC 7296 §3.4: the value is padded with zeros to the prime's
		// length, so a short or long one is malformed, not merely odd.
		return nil, fmt.Errorf("%w: group %d: %d bytes, want %d", ErrInvalidKE, g.id, len(peer), g.byteLen)
	}
	y := new(big.Int).SetBytes(peer)
	if y.Cmp(big.NewInt(1)) <= 0 || y.Cmp(g.primeMinus1) >= 0 {
		return nil, fmt.Errorf("%w: group %d: public value not in (1, p-1) (RFC 6989 §2.1)", ErrInvalidKE, g.id)
	}
	z := new(big.Int).Exp(y, k.exponent, g.prime)
	if z.Cmp(big.NewInt(1)) <= 0 {
		// Unreachable for a y that passed the check, short of an exponent
		// that is a multiple of the subgroup order; refuse it all the same.
		return nil, fmt.Errorf("%w: group %d: degenerate shared secret", ErrInvalidKE, g.id)
	}
	// g^ir keeps its leading zeros: SKEYSEED is computed over the padded
	// value (RFC 7296 §2.14).
	return z.FillBytes(make([]byte, g.byteLen)), nil
}

// ECP groups (RFC 5903) and Curve25519 (RFC 8031) with crypto/ecdh.

type ecdhGroup struct {
	curve    ecdh.Curve
	coordLen int // bytes of one coordinate (ECP) or of the whole value (X25519)
	// uncompressed marks the NIST curves: their KE data is x | y, which
	// crypto/ecdh reads as the SEC 1 uncompressed point 0x04 | x | y
	// (RFC 5903 §7: no 0x04 on the wire).
	uncompressed bool
}

const x25519Len = 32

var (
	ecpGroups = map[uint16]ecdhGroup{
		DHGroupECP256: {ecdh.P256(), 32, true},
		DHGroupECP384: {ecdh.P384(), 48, true},
	}
	x25519Group = ecdhGroup{ecdh.X25519(), x25519Len, false}
)

type ecdhKeyExchange struct {
	id      uint16
	group   ecdhGroup
	private *ecdh.PrivateKey
	public  []byte
}

func newECDHFromKey(id uint16, g ecdhGroup, private *ecdh.PrivateKey) *ecdhKeyExchange {
	public := private.PublicKey().Bytes()
	if g.uncompressed {
		public = public[1:] // drop the 0x04 (RFC 5903 §7)
	}
	return &ecdhKeyExchange{id: id, group: g, private: private, public: public}
}

func (k *ecdhKeyExchange) Group() uint16       { return k.id }
func (k *ecdhKeyExchange) PublicValue() []byte { return k.public }

// SharedSecret checks the length, then lets crypto/ecdh check the value:
// for ECP, that the point lies on the curve, which RFC 6989 §2.3 requires
// and which also rules out the point at infinity (it has no x | y form);
// for X25519, that the result is not all zeros (RFC 8031 §2.3), which
// catches the low-order points. The ECP secret is the x coordinate alone
// (RFC 5903 §7); the X25519 secret is the 32-byte output (RFC 8031 §2).
func (k *ecdhKeyExchange) SharedSecret(peer []byte) ([]byte, error) {
	want := k.group.coordLen
	if k.group.uncompressed {
		want *= 2
	}
	if len(peer) != want {
		return nil, fmt.Errorf("%w: group %d: %d bytes, want %d", ErrInvalidKE, k.id, len(peer), want)
	}
	encoded := peer
	if k.group.uncompressed {
		encoded = append([]byte{4}, peer...)
	}
	public, err := k.group.curve.NewPublicKey(encoded)
	if err != nil {
		return nil, fmt.Errorf("%w: group %d: %v", ErrInvalidKE, k.id, err)
	}
	secret, err := k.private.ECDH(public)
	if err != nil {
		return nil, fmt.Errorf("%w: group %d: %v", ErrInvalidKE, k.id, err)
	}
	return secret, nil
}
