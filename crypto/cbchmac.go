package crypto

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha512"
	"encoding/binary"
	"fmt"
	"hash"
	"sync"
)

// AES-CBC (RFC 3602) with a truncated HMAC-SHA-2 (RFC 4868) protects a
// message as
//
//	auth | IV (16) | ciphertext (n*16) | ICV (16, 24 or 32)
//
// where the ICV is the left half of HMAC(auth | IV | ciphertext | trailer)
// (RFC 4868 §2.3; RFC 4303 §3.3.2.1 puts the ESN high bits in trailer).
const cbcIVLen = aes.BlockSize

// ivSettingBlockMode is what crypto/cipher's CBC encrypter and decrypter
// offer beyond cipher.BlockMode: SetIV lets one pooled mode serve every
// packet instead of allocating a new one per IV.
type ivSettingBlockMode interface {
	cipher.BlockMode
	SetIV(iv []byte)
}

type cbcHMACTransform struct {
	name   string
	icvLen int
	block  cipher.Block
	// ivBlock is AES under a random key of this transform's own. RFC 3602
	// §3 requires a CBC IV the attacker cannot predict, and an IV that
	// repeats or can be guessed lets a chosen-plaintext attacker test
	// guesses about earlier blocks (the attack behind BEAST). Encrypting
	// the unique ESP sequence number under a secret key gives IVs that
	// never repeat (AES is a permutation) and look random without a
	// crypto/rand call per packet. The key is separate from the traffic
	// key so IVs reveal nothing about traffic-key encryptions, and random
	// because the peer never needs it: it reads the IV from the packet.
	ivBlock cipher.Block
	// states holds *cbcHMACState: hash.Hash and the CBC modes keep state
	// per call, so each worker borrows its own instead of locking one.
	states sync.Pool
}

type cbcHMACState struct {
	mac       hash.Hash
	sum       [sha512.Size]byte
	encrypter ivSettingBlockMode
	decrypter ivSettingBlockMode
}

// newCBCHMAC builds AES-CBC with encKey (16 or 32 bytes) and HMAC over
// newHash with integKey, truncated to icvLen bytes.
func newCBCHMAC(name string, encKey []byte, newHash func() hash.Hash, integKey []byte, icvLen int) (*cbcHMACTransform, error) {
	block, err := aes.NewCipher(encKey)
	if err != nil {
		return nil, fmt.Errorf("crypto: %s: %w", name, err)
	}
	var ivKey [32]byte
	if _, err := rand.Read(ivKey[:]); err != nil {
		return nil, fmt.Errorf("crypto: %s: IV key: %w", name, err)
	}
	ivBlock, err := aes.NewCipher(ivKey[:])
	if err != nil {
		return nil, fmt.Errorf("crypto: %s: IV key: %w", name, err)
	}
	t := &cbcHMACTransform{name: name, icvLen: icvLen, block: block, ivBlock: ivBlock}

	macKey := append([]byte(nil), integKey...)
	newState := func() (*cbcHMACState, error) {
		var zeroIV [cbcIVLen]byte
		encrypter, ok := cipher.NewCBCEncrypter(block, zeroIV[:]).(ivSettingBlockMode)
		if !ok {
			return nil, fmt.Errorf("crypto: %s: CBC encrypter cannot reset its IV", name)
		}
		decrypter, ok := cipher.NewCBCDecrypter(block, zeroIV[:]).(ivSettingBlockMode)
		if !ok {
			return nil, fmt.Errorf("crypto: %s: CBC decrypter cannot reset its IV", name)
		}
		return &cbcHMACState{mac: hmac.New(newHash, macKey), encrypter: encrypter, decrypter: decrypter}, nil
	}
	// Build the first state now so an unusable mode is an error here, not a
	// surprise inside the pool's New on a worker.
	first, err := newState()
	if err != nil {
		return nil, err
	}
	if icvLen > first.mac.Size() {
		return nil, fmt.Errorf("crypto: %s: ICV of %d bytes exceeds the %d-byte HMAC", name, icvLen, first.mac.Size())
	}
	t.states.New = func() any {
		state, err := newState()
		if err != nil {
			panic(err) // unreachable: the first state was built the same way
		}
		return state
	}
	t.states.Put(first)
	return t, nil
}

func (t *cbcHMACTransform) Name() string  { return t.name }
func (t *cbcHMACTransform) AEAD() bool    { return false }
func (t *cbcHMACTransform) IVLen() int    { return cbcIVLen }
func (t *cbcHMACTransform) ICVLen() int   { return t.icvLen }
func (t *cbcHMACTransform) BlockLen() int { return aes.BlockSize }

// MakeIV encrypts the block 0 (8) | counter (8, big-endian) under the
// transform's private IV key; see ivBlock for why.
func (t *cbcHMACTransform) MakeIV(iv []byte, counter uint64) {
	block := iv[:cbcIVLen]
	clear(block[:8])
	binary.BigEndian.PutUint64(block[8:], counter)
	t.ivBlock.Encrypt(block, block)
}

func (t *cbcHMACTransform) Seal(auth, iv, plaintext, trailer []byte) []byte {
	if len(iv) != cbcIVLen {
		panic("crypto: Seal: CBC IV must be 16 bytes")
	}
	if len(plaintext)%aes.BlockSize != 0 {
		panic("crypto: Seal: CBC plaintext must be padded to BlockLen")
	}
	sealed := plaintext[:len(plaintext)+t.icvLen]

	state := t.states.Get().(*cbcHMACState)
	state.encrypter.SetIV(iv)
	state.encrypter.CryptBlocks(plaintext, plaintext)
	// Encrypt-then-MAC (RFC 4303 §3.3.2): the ICV covers the ciphertext.
	icv := state.icv(auth, iv, plaintext, trailer)
	copy(sealed[len(plaintext):], icv[:t.icvLen])
	t.states.Put(state)
	return sealed
}

func (t *cbcHMACTransform) Open(auth, iv, ciphertextICV, trailer []byte) ([]byte, error) {
	if len(iv) != cbcIVLen || len(ciphertextICV) < t.icvLen {
		return nil, ErrMalformed
	}
	n := len(ciphertextICV) - t.icvLen
	ciphertext, receivedICV := ciphertextICV[:n], ciphertextICV[n:]
	if n%aes.BlockSize != 0 {
		return nil, ErrMalformed
	}

	state := t.states.Get().(*cbcHMACState)
	defer t.states.Put(state)
	// Verify before decrypting (RFC 4303 §3.4.4.1), in constant time: a
	// forged packet never reaches the CBC decryptor, which closes padding
	// oracles, and its ciphertext is left untouched.
	if !hmac.Equal(state.icv(auth, iv, ciphertext, trailer)[:t.icvLen], receivedICV) {
		return nil, ErrAuth
	}
	state.decrypter.SetIV(iv)
	state.decrypter.CryptBlocks(ciphertext, ciphertext)
	return ciphertext, nil
}

// icv returns the full HMAC of auth | iv | ciphertext | trailer in the
// state's own buffer; callers truncate it (RFC 4868 §2.3).
func (s *cbcHMACState) icv(auth, iv, ciphertext, trailer []byte) []byte {
	s.mac.Reset()
	s.mac.Write(auth)
	s.mac.Write(iv)
	s.mac.Write(ciphertext)
	s.mac.Write(trailer)
	return s.mac.Sum(s.sum[:0])
}
