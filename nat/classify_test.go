package nat

import (
	"bytes"
	"testing"
)

func TestClassify(t *testing.T) {
	ikeHeader := append([]byte{0, 0, 0, 0}, make([]byte, 28)...)
	ikeHeader[4] = 0x11 // initiator SPI, so the message is not all zeros
	for _, tc := range []struct {
		name   string
		in     []byte
		want   Kind
		reason invalidReason
	}{
		{"nil", nil, KindInvalid, invalidEmpty},
		{"empty", []byte{}, KindInvalid, invalidEmpty},
		{"keepalive (RFC 3948 §2.3)", []byte{0xFF}, KindKeepalive, notInvalid},
		{"one byte not 0xFF", []byte{0x00}, KindInvalid, invalidShort},
		{"one byte 0xFE", []byte{0xFE}, KindInvalid, invalidShort},
		{"two 0xFF", []byte{0xFF, 0xFF}, KindInvalid, invalidShort},
		{"three bytes", []byte{1, 2, 3}, KindInvalid, invalidShort},
		{"marker alone (RFC 3948 §2.2)", []byte{0, 0, 0, 0}, KindInvalid, invalidMarker},
		{"marker and one byte", []byte{0, 0, 0, 0, 0x2e}, KindIKE, notInvalid},
		{"marker and zero byte", []byte{0, 0, 0, 0, 0}, KindIKE, notInvalid},
		{"marker and IKE header", ikeHeader, KindIKE, notInvalid},
		{"SPI only", []byte{0, 0, 0x10, 0x01}, KindInvalid, invalidShort},
		{"SPI and 3 bytes of sequence", []byte{0, 0, 0x10, 0x01, 0, 0, 0}, KindInvalid, invalidShort},
		{"minimal ESP (RFC 4303 §2)", []byte{0, 0, 0x10, 0x01, 0, 0, 0, 1}, KindESP, notInvalid},
		{"ESP SPI 1 in the last byte", []byte{0, 0, 0, 1, 0, 0, 0, 0}, KindESP, notInvalid},
		{"ESP SPI in the first byte", []byte{1, 0, 0, 0, 0, 0, 0, 0}, KindESP, notInvalid},
		{"ESP starting 0xFF", []byte{0xFF, 0, 0, 0, 0, 0, 0, 0, 9}, KindESP, notInvalid},
		{"ESP 1400 bytes", append([]byte{0xc0, 1, 2, 3}, make([]byte, 1396)...), KindESP, notInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kind, reason := classify(tc.in)
			if kind != tc.want || reason != tc.reason {
				t.Errorf("classify(% x) = %v, %d; want %v, %d", tc.in, kind, reason, tc.want, tc.reason)
			}
			if got := Classify(tc.in); got != tc.want {
				t.Errorf("Classify(% x) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}

func TestKindString(t *testing.T) {
	for k, want := range map[Kind]string{
		KindInvalid: "invalid", KindESP: "ESP", KindIKE: "IKE", KindKeepalive: "keepalive", Kind(9): "Kind(9)",
	} {
		if got := k.String(); got != want {
			t.Errorf("Kind(%d).String() = %q, want %q", uint8(k), got, want)
		}
	}
}

// referenceKind restates RFC 3948 §2.2 and §2.3 as plainly as possible, to
// check classify against.
func referenceKind(d []byte) Kind {
	marker := []byte{0, 0, 0, 0}
	switch {
	case bytes.Equal(d, []byte{0xFF}):
		return KindKeepalive
	case len(d) > 4 && bytes.Equal(d[:4], marker):
		return KindIKE
	case len(d) >= 8 && !bytes.Equal(d[:4], marker):
		return KindESP
	}
	return KindInvalid
}

func FuzzClassify(f *testing.F) {
	// Seeds live in testdata/fuzz/FuzzClassify.
	f.Fuzz(func(t *testing.T, d []byte) {
		kind, reason := classify(d)
		if want := referenceKind(d); kind != want {
			t.Fatalf("classify(% x) = %v, want %v", d, kind, want)
		}
		if (kind == KindInvalid) != (reason != notInvalid) {
			t.Fatalf("classify(% x) = %v with reason %d", d, kind, reason)
		}
	})
}
