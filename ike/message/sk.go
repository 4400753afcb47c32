package message

import (
	"errors"
	"fmt"

	"github.com/espd/espd/crypto"
)

// Encrypted is the Encrypted and Authenticated payload, SK, as it travels
// (RFC 7296 §3.14):
//
//	                     1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	| Next Payload  |C|  RESERVED   |         Payload Length        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                     Initialization Vector                     |
//	|         (length is block size for encryption algorithm)       |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	~                    Encrypted IKE Payloads                     ~
//	+               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|               |             Padding (0-255 octets)            |
//	+-+-+-+-+-+-+-+-+                               +-+-+-+-+-+-+-+-+
//	|                                               |  Pad Length   |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	~                    Integrity Checksum Data                    ~
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// The Next Payload field names the first payload inside (FirstPayload),
// and the payload must be the last of the message. Data is everything
// after the generic header: IV, ciphertext and ICV, whose split only the
// negotiated transform knows; Seal and Open do the protection.
type Encrypted struct {
	FirstPayload PayloadType
	Data         []byte
}

func (*Encrypted) Type() PayloadType                 { return PayloadSK }
func (e *Encrypted) Encode(b []byte) ([]byte, error) { return append(b, e.Data...), nil }
func (e *Encrypted) Decode(body []byte) error        { e.Data = body; return nil }

// Seal encodes msg protected by t, as every message after IKE_SA_INIT
// travels: the header, msg.Cleartext (normally none), then an SK payload
// that holds msg.Payloads encrypted.
//
// The IV comes from t.MakeIV(counter). For an AEAD the IV is the counter
// itself, so a counter must never be used twice under one key: keep one
// per IKE SA and direction and advance it by one for every Seal (and by
// the number of fragments for Fragment), retransmissions included if they
// are sealed again rather than resent from the cache.
//
// The integrity check covers the message from the first octet of the
// header to the end of the ciphertext (RFC 7296 §3.14); for an AEAD the
// associated data is the header, the cleartext payloads and the SK
// header, and the IV is not part of it (RFC 5282 §5.1). The Transform's
// auth argument is exactly that span in both cases.
//
// Padding: RFC 7296 §3.14 lets the padding bytes be anything; Seal writes
// zeros, and pads to the cipher's block size (16 for AES-CBC) or, for an
// AEAD, not at all beyond the Pad Length octet, as strongSwan does: IKE
// has no equivalent of ESP's 4-byte alignment (RFC 5282 §3).
func Seal(msg *Message, t crypto.Transform, counter uint64) ([]byte, error) {
	inner, err := encodeInner(msg.Payloads)
	if err != nil {
		return nil, err
	}
	return seal(msg.Header, msg.Cleartext, nil, firstType(msg.Payloads, PayloadNone), inner, t, counter)
}

// encodeInner encodes the payloads that go inside SK or SKF, which cannot
// themselves be encrypted payloads.
func encodeInner(payloads []Payload) ([]byte, error) {
	for _, p := range payloads {
		if p != nil && isEncrypted(p.Type()) {
			return nil, cannotEncode("%v payload inside an encrypted payload", p.Type())
		}
	}
	return appendChain(nil, payloads, PayloadNone)
}

// fragmentFields are the SKF header's own fields (RFC 7383 §2.5).
type fragmentFields struct{ number, total uint16 }

const fragmentFieldsLen = 4

// seal builds one protected message: an SK payload, or an SKF payload if
// fragment is not nil, holding inner (an encoded payload chain whose first
// payload has type first).
func seal(h Header, cleartext []Payload, fragment *fragmentFields, first PayloadType, inner []byte, t crypto.Transform, counter uint64) ([]byte, error) {
	encType, extra := PayloadSK, 0
	if fragment != nil {
		encType, extra = PayloadSKF, fragmentFieldsLen
	}
	cleartextChain, err := appendChain(nil, cleartext, encType)
	if err != nil {
		return nil, err
	}
	ivLen, icvLen := t.IVLen(), t.ICVLen()
	ciphertextLen := paddedLen(len(inner), t)
	payloadLen := GenericHeaderLen + extra + ivLen + ciphertextLen + icvLen
	if payloadLen > maxPayloadLen {
		return nil, cannotEncode("%v payload of %d bytes exceeds %d", encType, payloadLen, maxPayloadLen)
	}
	total := HeaderLen + len(cleartextChain) + payloadLen

	b := make([]byte, 0, total)
	b = appendHeader(b, h, firstType(cleartext, encType))
	b = append(b, cleartextChain...)
	b = append(b, byte(first), 0, byte(payloadLen>>8), byte(payloadLen))
	if fragment != nil {
		b = append(b, byte(fragment.number>>8), byte(fragment.number), byte(fragment.total>>8), byte(fragment.total))
	}
	authEnd := len(b)
	b = b[:authEnd+ivLen]
	iv := b[authEnd:]
	plaintextStart := len(b)
	b = append(b, inner...)
	padLen := ciphertextLen - len(inner) - 1
	b = append(b, make([]byte, padLen)...)
	b = append(b, byte(padLen))
	HeaderView(b).SetLength(uint32(total))

	t.MakeIV(iv, counter)
	sealed := t.Seal(b[:authEnd], iv, b[plaintextStart:], nil)
	return b[:plaintextStart+len(sealed)], nil
}

// paddedLen is the length of n bytes of payloads plus padding and the Pad
// Length octet.
func paddedLen(n int, t crypto.Transform) int {
	align := padAlignment(t)
	return (n + 1 + align - 1) / align * align
}

// padAlignment is what the ciphertext must be a multiple of: the block
// size of a block cipher, nothing for an AEAD (see Seal).
func padAlignment(t crypto.Transform) int {
	if t.AEAD() || t.BlockLen() < 1 {
		return 1
	}
	return t.BlockLen()
}

// Open parses a protected message, verifies its SK payload with t and
// decrypts it. The returned Message has the decrypted payloads in Payloads
// and any payloads that preceded SK in Cleartext. A message whose ICV does
// not verify is ErrIntegrity and must be dropped as if never received
// (RFC 7296 §2.21). An SKF fragment is ErrNotProtected here: it goes to
// a Reassembler.
//
// datagram is not modified: Open decrypts a private copy.
func Open(datagram []byte, t crypto.Transform) (*Message, error) {
	h, owned, payloads, err := parseProtected(datagram)
	if err != nil {
		return nil, err
	}
	sk, ok := payloads[len(payloads)-1].(*Encrypted)
	if !ok {
		return nil, fmt.Errorf("%w: %v ends with %v", ErrNotProtected, h, payloads[len(payloads)-1].Type())
	}
	// SK is last and ends the datagram, so its header sits right before
	// its data at the end of owned.
	authEnd := len(owned) - len(sk.Data)
	inner, err := decrypt(owned[:authEnd], sk.Data, t)
	if err != nil {
		return nil, err
	}
	innerPayloads, err := decodeChain(inner, sk.FirstPayload, false)
	if err != nil {
		return nil, err
	}
	return &Message{Header: h, Cleartext: payloads[:len(payloads)-1], Payloads: innerPayloads}, nil
}

// parseProtected parses the header and the cleartext payload chain of a
// message that must end with SK or SKF, on a private copy of the datagram
// that decryption may then overwrite.
func parseProtected(datagram []byte) (h Header, owned []byte, payloads []Payload, err error) {
	if h, err = ParseHeader(datagram); err != nil {
		return h, nil, nil, err
	}
	owned = append([]byte(nil), datagram...)
	if payloads, err = decodeChain(owned[HeaderLen:], h.NextPayload, true); err != nil {
		return h, nil, nil, err
	}
	if len(payloads) == 0 {
		return h, nil, nil, fmt.Errorf("%w: %v has no payloads", ErrNotProtected, h)
	}
	return h, owned, payloads, nil
}

// decrypt verifies and decrypts IV | ciphertext | ICV in place and strips
// the padding, returning the encoded inner payloads.
func decrypt(auth, data []byte, t crypto.Transform) ([]byte, error) {
	ivLen, icvLen := t.IVLen(), t.ICVLen()
	if len(data) < ivLen+1+icvLen {
		return nil, truncated("encrypted payload of %d bytes, %s needs %d for IV, Pad Length and ICV", len(data), t.Name(), ivLen+1+icvLen)
	}
	plaintext, err := t.Open(auth, data[:ivLen], data[ivLen:], nil)
	switch {
	case errors.Is(err, crypto.ErrAuth):
		return nil, fmt.Errorf("%w: %w", ErrIntegrity, err)
	case err != nil:
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	case len(plaintext) == 0:
		return nil, truncated("empty plaintext")
	}
	padLen := int(plaintext[len(plaintext)-1])
	if padLen+1 > len(plaintext) {
		return nil, malformed("Pad Length %d in %d bytes of plaintext", padLen, len(plaintext))
	}
	return plaintext[: len(plaintext)-1-padLen : len(plaintext)-1-padLen], nil
}
