package crypto

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"fmt"
	"sync"
	"unsafe"

	"golang.org/x/crypto/chacha20poly1305"
)

// The combined-mode ciphers share one shape in ESP and IKEv2:
//
//	keying material = key | salt (4)          RFC 4106 §8.1, RFC 7634 §4
//	nonce (12)      = salt (4) | IV (8)       RFC 4106 §4,   RFC 7634 §2
//	AAD             = SPI | seq-lo            RFC 4106 §5,   RFC 7634 §3
//	                  SPI | seq-hi | seq-lo   (with ESN)
//	ICV             = the 16-byte tag
//
// Only the 8-byte IV travels in the packet; the salt never does.
const (
	aeadSaltLen  = 4
	aeadIVLen    = 8
	aeadNonceLen = aeadSaltLen + aeadIVLen
	aeadICVLen   = 16
	// espAlignment is the only alignment an AEAD ciphertext needs: the ESP
	// trailer ends on a 4-byte boundary (RFC 4303 §2.4).
	espAlignment = 4
)

// aeadTransform is AES-GCM-16 or ChaCha20-Poly1305 as ESP uses them.
type aeadTransform struct {
	name string
	aead cipher.AEAD
	salt [aeadSaltLen]byte
	// nonces holds *[aeadNonceLen]byte with the salt already in place. A
	// nonce array on the stack would escape through the cipher.AEAD
	// interface call and cost an allocation per packet; a pooled one does
	// not, and pooling keeps the transform safe for concurrent workers.
	nonces sync.Pool
}

// newAESGCM16 builds ENCR_AES_GCM_16 from key | salt (RFC 4106 §8.1).
func newAESGCM16(name string, keyingMaterial []byte) (*aeadTransform, error) {
	key, salt := splitSalt(keyingMaterial)
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("crypto: %s: %w", name, err)
	}
	// The standard 12-byte nonce and 16-byte tag are exactly RFC 4106's.
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("crypto: %s: %w", name, err)
	}
	return newAEADTransform(name, gcm, salt), nil
}

// newChaCha20Poly1305 builds ENCR_CHACHA20_POLY1305 from key | salt
// (RFC 7634 §4).
func newChaCha20Poly1305(name string, keyingMaterial []byte) (*aeadTransform, error) {
	key, salt := splitSalt(keyingMaterial)
	aead, err := chacha20poly1305.New(key)
	if err != nil {
		return nil, fmt.Errorf("crypto: %s: %w", name, err)
	}
	return newAEADTransform(name, aead, salt), nil
}

func splitSalt(keyingMaterial []byte) (key, salt []byte) {
	n := len(keyingMaterial) - aeadSaltLen
	return keyingMaterial[:n], keyingMaterial[n:]
}

func newAEADTransform(name string, aead cipher.AEAD, salt []byte) *aeadTransform {
	t := &aeadTransform{name: name, aead: aead}
	copy(t.salt[:], salt)
	t.nonces.New = func() any {
		nonce := new([aeadNonceLen]byte)
		copy(nonce[:aeadSaltLen], t.salt[:])
		return nonce
	}
	return t
}

func (t *aeadTransform) Name() string  { return t.name }
func (t *aeadTransform) AEAD() bool    { return true }
func (t *aeadTransform) IVLen() int    { return aeadIVLen }
func (t *aeadTransform) ICVLen() int   { return aeadICVLen }
func (t *aeadTransform) BlockLen() int { return espAlignment }

// MakeIV uses the counter itself: GCM and ChaCha20 need a unique nonce, not
// an unpredictable one, and the ESP sequence number never repeats under one
// key (RFC 4106 §3.1, RFC 7634 §2).
func (t *aeadTransform) MakeIV(iv []byte, counter uint64) {
	binary.BigEndian.PutUint64(iv[:aeadIVLen], counter)
}

func (t *aeadTransform) Seal(auth, iv, plaintext, trailer []byte) []byte {
	if len(iv) != aeadIVLen {
		panic("crypto: Seal: AEAD IV must be 8 bytes")
	}
	if len(trailer) != 0 {
		// Ignoring it would leave the ESN high bits unauthenticated.
		panic("crypto: Seal: an AEAD takes the ESN high bits in auth, not in trailer")
	}
	// Without tailroom cipher.AEAD would quietly seal into a new buffer;
	// the data plane relies on in-place sealing, so fail loudly instead.
	_ = plaintext[:len(plaintext)+aeadICVLen]

	nonce := t.nonce(iv)
	sealed := t.aead.Seal(plaintext[:0], nonce[:], plaintext, auth)
	t.nonces.Put(nonce)
	return sealed
}

func (t *aeadTransform) Open(auth, iv, ciphertextICV, trailer []byte) ([]byte, error) {
	if len(iv) != aeadIVLen || len(ciphertextICV) < aeadICVLen || len(trailer) != 0 {
		return nil, ErrMalformed
	}
	if overlap(auth, ciphertextICV) {
		// Both AEAD packages panic on AAD inside their output; adjacent
		// is fine, overlapping is a layout no packet has.
		return nil, ErrMalformed
	}
	nonce := t.nonce(iv)
	// On failure both x/crypto and crypto/cipher wipe the output, so no
	// unauthenticated plaintext is left in the caller's buffer.
	plaintext, err := t.aead.Open(ciphertextICV[:0], nonce[:], ciphertextICV, auth)
	t.nonces.Put(nonce)
	if err != nil {
		return nil, ErrAuth
	}
	return plaintext, nil
}

// overlap reports whether a and b share any byte of memory. Adjacent slices
// of one buffer, as auth and ciphertext are in an ESP packet, do not.
func overlap(a, b []byte) bool {
	if len(a) == 0 || len(b) == 0 {
		return false
	}
	aFirst, aLast := uintptr(unsafe.Pointer(&a[0])), uintptr(unsafe.Pointer(&a[len(a)-1]))
	bFirst, bLast := uintptr(unsafe.Pointer(&b[0])), uintptr(unsafe.Pointer(&b[len(b)-1]))
	return aFirst <= bLast && bFirst <= aLast
}

func (t *aeadTransform) nonce(iv []byte) *[aeadNonceLen]byte {
	nonce := t.nonces.Get().(*[aeadNonceLen]byte)
	copy(nonce[aeadSaltLen:], iv)
	return nonce
}
