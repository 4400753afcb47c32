package message

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/espd/espd/crypto"
)

// rfc7634Message is the example of RFC 7634 Appendix B: an INFORMATIONAL
// request with a SET_WINDOW_SIZE notification, protected with
// ChaCha20-Poly1305 under key 80..9f, salt a0a1a2a3, IV 1011121314151617.
// strongSwan's test_message_chapoly.c checks its encoder against the same
// bytes.
const rfc7634Message = `
	c0c1c2c3c4c5c6c7 d0d1d2d3d4d5d6d7 2e202500 00000009 00000045
	29000029 1011121314151617
	610394701f8d017f7c12924889
	6b71bfe25236efd7cdc670669063 15b2`

func rfc7634Plain() *Message {
	return &Message{
		Header:   Header{SPIi: 0xc0c1c2c3c4c5c6c7, SPIr: 0xd0d1d2d3d4d5d6d7, Exchange: ExchangeInformational, MessageID: 9},
		Payloads: []Payload{NewNotify(NotifySetWindowSize, []byte{0, 0, 0, 10})},
	}
}

func TestSealRFC7634(t *testing.T) {
	tr := newTransform(t, "chacha20poly1305") // key 80..9f, salt a0..a3
	got, err := Seal(rfc7634Plain(), tr, 0x1011121314151617)
	if err != nil {
		t.Fatal(err)
	}
	if want := unhex(t, rfc7634Message); !bytes.Equal(got, want) {
		t.Fatalf("sealed\n got %x\nwant %x", got, want)
	}
}

func TestOpenRFC7634(t *testing.T) {
	tr := newTransform(t, "chacha20poly1305")
	m, err := Open(unhex(t, rfc7634Message), tr)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Payloads) != 1 {
		t.Fatalf("payloads %v", m)
	}
	if w, err := m.Notify(NotifySetWindowSize).WindowSize(); err != nil || w != 10 {
		t.Fatalf("SET_WINDOW_SIZE %d, %v", w, err)
	}
	if m.Header.MessageID != 9 || m.Header.Exchange != ExchangeInformational || m.Header.NextPayload != PayloadSK {
		t.Fatalf("header %+v", m.Header)
	}
}

// TestSealOpenAllSuites seals the sample IKE_AUTH request with every
// transform the crypto package builds and opens it again.
func TestSealOpenAllSuites(t *testing.T) {
	for _, suite := range crypto.ESPSuites() {
		t.Run(suite.Keyword, func(t *testing.T) {
			tr := newSuiteTransform(t, suite)
			for _, cleartext := range [][]Payload{nil, {&VendorID{Data: []byte("unencrypted")}}} {
				m := sampleAuthRequest()
				m.Cleartext = cleartext
				raw, err := Seal(m, tr, 7)
				if err != nil {
					t.Fatal(err)
				}
				checkSKLayout(t, raw, tr, len(cleartext) > 0)
				original := append([]byte(nil), raw...)
				opened, err := Open(raw, tr)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(raw, original) {
					t.Fatal("Open modified the datagram")
				}
				equalEncodings(t, opened.Payloads, m.Payloads)
				equalEncodings(t, opened.Cleartext, cleartext)
				if opened.Header.MessageID != 1 || opened.Header.Length != uint32(len(raw)) {
					t.Fatalf("header %+v", opened.Header)
				}
				// Parse without keys sees the SK payload as it travels.
				parsed, err := Parse(raw)
				if err != nil {
					t.Fatal(err)
				}
				sk, ok := parsed.Payloads[len(parsed.Payloads)-1].(*Encrypted)
				if !ok || sk.FirstPayload != PayloadIDi {
					t.Fatalf("parsed %v", parsed)
				}
				if again := mustEncode(t, parsed); !bytes.Equal(again, raw) {
					t.Fatal("re-encoding a parsed protected message changed it")
				}
			}
		})
	}
}

// checkSKLayout checks the SK payload's lengths: it ends the datagram,
// its ciphertext is block-aligned for CBC, and for an AEAD it carries
// only the Pad Length octet beyond the payloads.
func checkSKLayout(t *testing.T, raw []byte, tr crypto.Transform, hasCleartext bool) {
	t.Helper()
	skStart := HeaderLen
	if hasCleartext {
		skStart += int(GenericHeaderView(raw[HeaderLen:]).Length())
	}
	skLen := int(GenericHeaderView(raw[skStart:]).Length())
	if skStart+skLen != len(raw) {
		t.Fatalf("SK payload %d+%d does not end the %d-byte datagram", skStart, skLen, len(raw))
	}
	ciphertext := skLen - GenericHeaderLen - tr.IVLen() - tr.ICVLen()
	if !tr.AEAD() && ciphertext%tr.BlockLen() != 0 {
		t.Fatalf("CBC ciphertext of %d bytes", ciphertext)
	}
}

func TestOpenRejectsTampering(t *testing.T) {
	for _, keyword := range []string{"aes128gcm16", "aes128-sha256"} {
		tr := newTransform(t, keyword)
		raw, err := Seal(sampleAuthRequest(), tr, 1)
		if err != nil {
			t.Fatal(err)
		}
		for i := range raw {
			for _, bit := range []byte{0x01, 0x80} {
				tampered := append([]byte(nil), raw...)
				tampered[i] ^= bit
				m, err := Open(tampered, tr)
				if err == nil {
					t.Fatalf("%s: flipping bit %#x of byte %d went unnoticed: %v", keyword, bit, i, m)
				}
				// Flags, message ID, SPIs and ciphertext are covered by the
				// ICV; only bytes that break the layout fail earlier.
				if !errors.Is(err, ErrIntegrity) && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrInvalidMajorVersion) &&
					!errors.Is(err, ErrNotProtected) && !errors.Is(err, ErrUnsupportedCriticalPayload) {
					t.Fatalf("%s: byte %d: unexpected error %v", keyword, i, err)
				}
			}
		}
	}
}

func TestOpenWrongKey(t *testing.T) {
	for _, suite := range crypto.ESPSuites() {
		sender := newSuiteTransform(t, suite)
		receiver, err := suite.New(seq(0x81, suite.EncKeyLen), seq(0x41, suite.IntegKeyLen))
		if err != nil {
			t.Fatal(err)
		}
		raw, err := Seal(sampleAuthRequest(), sender, 1)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Open(raw, receiver); !errors.Is(err, ErrIntegrity) || !errors.Is(err, crypto.ErrAuth) {
			t.Fatalf("%s: error %v, want ErrIntegrity wrapping crypto.ErrAuth", suite.Keyword, err)
		}
	}
}

// TestOpenTruncatedPrefix cuts a sealed message at every length, with the
// header's Length patched, and then also the SK payload's length, so that
// the cut reaches the SK payload's own checks.
func TestOpenTruncatedPrefix(t *testing.T) {
	for _, keyword := range []string{"aes256gcm16", "aes256-sha512"} {
		tr := newTransform(t, keyword)
		raw, err := Seal(sampleAuthRequest(), tr, 3)
		if err != nil {
			t.Fatal(err)
		}
		for n := range len(raw) {
			prefix := append([]byte(nil), raw[:n]...)
			if n >= HeaderLen {
				HeaderView(prefix).SetLength(uint32(n))
			}
			if _, err := Open(prefix, tr); err == nil {
				t.Fatalf("%s: prefix %d opened", keyword, n)
			}
			if n >= HeaderLen+GenericHeaderLen {
				binary.BigEndian.PutUint16(prefix[HeaderLen+2:], uint16(n-HeaderLen))
				if _, err := Open(prefix, tr); !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrIntegrity) {
					t.Fatalf("%s: prefix %d with SK length patched: %v", keyword, n, err)
				}
			}
		}
	}
}

// sealPlaintext protects arbitrary plaintext (payloads, padding and Pad
// Length already in place) in an SK payload, to build messages that Seal
// would never produce.
func sealPlaintext(t *testing.T, tr crypto.Transform, first PayloadType, plaintext []byte) []byte {
	t.Helper()
	payloadLen := GenericHeaderLen + tr.IVLen() + len(plaintext) + tr.ICVLen()
	b := appendHeader(nil, Header{SPIi: 1, SPIr: 2, Exchange: ExchangeInformational, MessageID: 5}, PayloadSK)
	b = append(b, byte(first), 0, byte(payloadLen>>8), byte(payloadLen))
	authEnd := len(b)
	b = append(b, make([]byte, tr.IVLen())...)
	b = append(b, plaintext...)
	HeaderView(b).SetLength(uint32(len(b) + tr.ICVLen()))
	buf := make([]byte, len(b), len(b)+tr.ICVLen())
	copy(buf, b)
	iv := buf[authEnd : authEnd+tr.IVLen()]
	tr.MakeIV(iv, 99)
	sealed := tr.Seal(buf[:authEnd], iv, buf[authEnd+tr.IVLen():], nil)
	return buf[:authEnd+tr.IVLen()+len(sealed)]
}

func TestOpenMalformedPlaintext(t *testing.T) {
	tr := newTransform(t, "aes128gcm16")
	nonce := cat([]byte{0, 0, 0, 20}, seq(0, 16))
	tests := []struct {
		name      string
		first     PayloadType
		plaintext []byte
		want      error
	}{
		{"valid", PayloadNonce, cat(nonce, []byte{0}), nil},
		{"valid with padding", PayloadNonce, cat(nonce, []byte{9, 9, 9, 3}), nil},
		{"empty message", PayloadNone, []byte{0}, nil},
		{"Pad Length beyond the plaintext", PayloadNonce, cat(nonce, []byte{30}), ErrMalformed},
		{"Pad Length eats the payload", PayloadNonce, cat(nonce, []byte{3}), ErrMalformed},
		{"no Pad Length", PayloadNone, nil, ErrMalformed},
		{"SK inside SK", PayloadSK, cat([]byte{0, 0, 0, 8}, seq(0, 4), []byte{0}), ErrMalformed},
		{"SKF inside SK", PayloadSKF, cat([]byte{0, 0, 0, 8, 0, 1, 0, 1}, []byte{0}), ErrMalformed},
		{"unknown critical inside", 222, cat([]byte{0, criticalBit, 0, 4}, []byte{0}), ErrUnsupportedCriticalPayload},
		{"payload length beyond the plaintext", PayloadNonce, cat([]byte{0, 0, 0, 40}, seq(0, 16), []byte{0}), ErrTruncated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := sealPlaintext(t, tr, tt.first, tt.plaintext)
			_, err := Open(raw, tr)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("Open error %v, want %v", err, tt.want)
			}
		})
	}
}

func TestOpenCBCBadLengths(t *testing.T) {
	tr := newTransform(t, "aes128-sha256")
	raw, err := Seal(sampleAuthRequest(), tr, 1)
	if err != nil {
		t.Fatal(err)
	}
	// Drop 8 bytes of ciphertext: still long enough, no longer whole blocks.
	cut := append(append([]byte(nil), raw[:len(raw)-tr.ICVLen()-8]...), raw[len(raw)-tr.ICVLen():]...)
	HeaderView(cut).SetLength(uint32(len(cut)))
	binary.BigEndian.PutUint16(cut[HeaderLen+2:], uint16(len(cut)-HeaderLen))
	if _, err := Open(cut, tr); !errors.Is(err, ErrMalformed) {
		t.Fatalf("error %v, want ErrMalformed", err)
	}
}

func TestOpenNotProtected(t *testing.T) {
	tr := newTransform(t, "aes128gcm16")
	for _, m := range []*Message{sampleInitRequest(), {Header: Header{SPIi: 1}}} {
		if _, err := Open(mustEncode(t, m), tr); !errors.Is(err, ErrNotProtected) {
			t.Fatalf("Open of %v: %v, want ErrNotProtected", m, err)
		}
	}
	fragments, err := SealFragments(sampleAuthRequest(), tr, 1, 1280)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(fragments[0], tr); !errors.Is(err, ErrNotProtected) {
		t.Fatalf("Open of a fragment: %v, want ErrNotProtected", err)
	}
}

func TestSealEncodingErrors(t *testing.T) {
	tr := newTransform(t, "aes128gcm16")
	m := sampleAuthRequest()
	m.Payloads = append(m.Payloads, &Nonce{Data: seq(0, 3)})
	if _, err := Seal(m, tr, 1); !errors.Is(err, ErrEncoding) {
		t.Fatalf("error %v, want ErrEncoding", err)
	}
	m = sampleAuthRequest()
	m.Payloads = append(m.Payloads, &Encrypted{FirstPayload: PayloadNonce, Data: seq(0, 40)})
	if _, err := Seal(m, tr, 1); !errors.Is(err, ErrEncoding) {
		t.Fatalf("SK inside SK: error %v, want ErrEncoding", err)
	}
	if _, err := SealFragments(m, tr, 1, 1280); !errors.Is(err, ErrEncoding) {
		t.Fatalf("SK inside SKF: error %v, want ErrEncoding", err)
	}
	m = sampleAuthRequest()
	m.Payloads = []Payload{&VendorID{Data: make([]byte, 0xfff0)}, &VendorID{Data: make([]byte, 0x100)}}
	if _, err := Seal(m, tr, 1); !errors.Is(err, ErrEncoding) {
		t.Fatalf("oversized SK: error %v, want ErrEncoding", err)
	}
}
