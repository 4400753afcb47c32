// Package crypto builds the ESP and IKE SK payload protection
// transforms from the Go standard library and golang.org/x/crypto, by IKEv2
// transform ID and by strongSwan proposal keyword. It holds no primitives of
// its own.
package crypto

import "errors"

var (
	// ErrAuth is returned by Open when the ICV does not verify.
	ErrAuth = errors.New("crypto: ICV mismatch")
	// ErrMalformed is returned by Open when the message cannot be a
	// protected message of this transform at all: the IV has the wrong
	// length, the ciphertext is shorter than the ICV or (CBC) not a whole
	// number of blocks, or an AEAD was handed a trailer. Like ErrAuth it is a
	// bare sentinel, so the drop path allocates nothing.
	ErrMalformed = errors.New("crypto: malformed ciphertext")
)

// Transform protects messages in place with one SA's keys. It is safe for
// concurrent use by the pipeline's crypto workers, and Seal and Open allocate
// nothing.
//
// A protected message is laid out as the ESP packet (RFC 4303 §2) and the IKE
// SK payload (RFC 7296 §3.14) both are:
//
//	auth | IV (IVLen) | ciphertext (payload, padding, trailer) | ICV (ICVLen)
//
// auth is authenticated but not encrypted.
type Transform interface {
	// Name is the strongSwan keyword, for example "aes128gcm16".
	Name() string
	// AEAD reports a combined-mode cipher (GCM, ChaCha20-Poly1305). With
	// ESN, an AEAD takes the high sequence bits inside auth (SPI || seq-hi
	// || seq-lo, RFC 4106 §5, RFC 7634 §3), while a cipher with a separate
	// integrity algorithm takes them in trailer (RFC 4303 §3.3.2.1).
	AEAD() bool
	IVLen() int
	ICVLen() int
	// BlockLen is the alignment of the ciphertext: 16 for AES-CBC, 4 for
	// AEADs (ESP's 4-byte alignment, RFC 4303 §2.4).
	BlockLen() int
	// MakeIV writes IVLen bytes of IV into iv (which must hold them) for a
	// message whose counter (the ESP sequence number) is unique for this key. AEADs use the counter
	// itself (RFC 4106 §3.1); CBC derives an unpredictable IV from it
	// with a separate per-SA random key (RFC 3602 §3).
	MakeIV(iv []byte, counter uint64)
	// Seal encrypts plaintext in place and writes the ICV into the ICVLen
	// bytes that follow it in the same backing array (cap must allow).
	// trailer is authenticated after the ciphertext but not sent; nil
	// unless ESN with a non-AEAD transform. It returns ciphertext||ICV.
	//
	// Seal has no error to return, so the caller guarantees what only a
	// bug could break, and Seal panics (as crypto/cipher's Seal does)
	// otherwise: len(iv) == IVLen, len(plaintext) a multiple of BlockLen
	// for CBC (the ESP layer pads, RFC 4303 §2.4), cap(plaintext) >=
	// len(plaintext)+ICVLen, auth not overlapping plaintext, and no trailer
	// for an AEAD. auth, iv and plaintext may be adjacent slices of one
	// buffer; the trailer may sit in the ICV space: it is read before the
	// ICV is written.
	Seal(auth, iv, plaintext, trailer []byte) []byte
	// Open verifies ciphertextICV and decrypts it in place, returning the
	// plaintext, or ErrAuth (leaving no partial plaintext to trust), or
	// ErrMalformed for a message no sender of this transform could have
	// produced. It never panics, whatever the input.
	Open(auth, iv, ciphertextICV, trailer []byte) ([]byte, error)
}
