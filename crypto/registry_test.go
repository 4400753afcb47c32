package crypto

import (
	"errors"
	"strings"
	"testing"
)

func TestParseESPProposal(t *testing.T) {
	gcm128 := Suite{Keyword: "aes128gcm16", EncrID: 20, EncrKeyBits: 128, EncKeyLen: 20}
	gcm256 := Suite{Keyword: "aes256gcm16", EncrID: 20, EncrKeyBits: 256, EncKeyLen: 36}
	chacha := Suite{Keyword: "chacha20poly1305", EncrID: 28, EncKeyLen: 36}
	with := func(s Suite, esn bool, dh uint16) Suite { s.ESN, s.DHGroup = esn, dh; return s }
	cbc := func(keyword string, bits int, integID uint16, encLen, integLen int) Suite {
		return Suite{Keyword: keyword, EncrID: 12, EncrKeyBits: bits, IntegID: integID,
			EncKeyLen: encLen, IntegKeyLen: integLen}
	}

	for proposal, want := range map[string]Suite{
		"aes128gcm16":                 gcm128,
		"aes128gcm128":                gcm128,
		"aes128gcm":                   gcm128,
		"aes128gcm16-esn":             with(gcm128, true, 0),
		"aes128gcm16-noesn":           gcm128,
		"aes256gcm16":                 gcm256,
		"aes256gcm128-ecp384":         with(gcm256, false, 20),
		"aes256gcm16-ecp256-esn":      with(gcm256, true, 19),
		"chacha20poly1305":            chacha,
		"chacha20poly1305-x25519":     with(chacha, false, 31),
		"chacha20poly1305-curve25519": with(chacha, false, 31),
		"aes128-sha256":               cbc("aes128-sha256", 128, 12, 16, 32),
		"aes128-sha2_256":             cbc("aes128-sha256", 128, 12, 16, 32),
		"aes-sha256":                  cbc("aes128-sha256", 128, 12, 16, 32),
		"sha256-aes128":               cbc("aes128-sha256", 128, 12, 16, 32),
		"aes256-sha256":               cbc("aes256-sha256", 256, 12, 32, 32),
		"aes128-sha384":               cbc("aes128-sha384", 128, 13, 16, 48),
		"aes256-sha384-noesn":         cbc("aes256-sha384", 256, 13, 32, 48),
		"aes256-sha2_384":             cbc("aes256-sha384", 256, 13, 32, 48),
		"aes128-sha512":               cbc("aes128-sha512", 128, 14, 16, 64),
		"aes256-sha2_512":             cbc("aes256-sha512", 256, 14, 32, 64),
		"aes128-sha256-modp2048-esn":  with(cbc("aes128-sha256", 128, 12, 16, 32), true, 14),
		"aes256-sha512-modp3072":      with(cbc("aes256-sha512", 256, 14, 32, 64), false, 15),
	} {
		got, err := ParseESPProposal(proposal)
		if err != nil {
			t.Errorf("%q: %v", proposal, err)
			continue
		}
		if got != want {
			t.Errorf("%q:\n got %+v\nwant %+v", proposal, got, want)
		}
	}
}

func TestParseESPProposalErrors(t *testing.T) {
	// Each error must name the offending token so a user can fix the line.
	for proposal, token := range map[string]string{
		"":                             "empty",
		"aes128gcm16-":                 "empty",
		"aes128-sha1":                  `"sha1"`,
		"3des-sha256":                  `"3des"`,
		"aes192gcm16":                  `"aes192gcm16"`,
		"aes128gcm16-prfsha256":        `"prfsha256"`,
		"AES128GCM16":                  `"AES128GCM16"`,
		"aes128-aes256-sha256":         `"aes256"`,
		"aes128gcm16-chacha20poly1305": `"chacha20poly1305"`,
		"aes128-sha256-sha384":         `"sha384"`,
		"aes128gcm16-sha256":           `"sha256"`,
		"aes128gcm16-esn-noesn":        `"noesn"`,
		"aes128gcm16-modp2048-ecp256":  `"ecp256"`,
		"aes128":                       `"aes128"`,
		"sha256":                       "no cipher",
		"esn":                          "no cipher",
	} {
		_, err := ParseESPProposal(proposal)
		if !errors.Is(err, ErrProposal) {
			t.Errorf("%q: error %v, want ErrProposal", proposal, err)
			continue
		}
		if !strings.Contains(err.Error(), token) {
			t.Errorf("%q: error %q does not mention %s", proposal, err, token)
		}
	}
}

func TestSuiteStringRoundTrip(t *testing.T) {
	for _, base := range ESPSuites() {
		for _, dh := range []uint16{0, 14, 15, 19, 20, 31} {
			for _, esn := range []bool{false, true} {
				s := base
				s.DHGroup, s.ESN = dh, esn
				got, err := ParseESPProposal(s.String())
				if err != nil || got != s {
					t.Errorf("%+v: String %q parses to %+v, %v", s, s.String(), got, err)
				}
			}
		}
	}
}

func TestLookupESP(t *testing.T) {
	for _, c := range []struct {
		encrID  uint16
		bits    int
		integID uint16
		want    string // "" when not found
	}{
		{EncrAESGCM16, 128, AuthNone, "aes128gcm16"},
		{EncrAESGCM16, 256, AuthNone, "aes256gcm16"},
		{EncrChaCha20Poly1305, 0, AuthNone, "chacha20poly1305"},
		{EncrChaCha20Poly1305, 256, AuthNone, "chacha20poly1305"},
		{EncrAESCBC, 128, AuthHMACSHA2_256_128, "aes128-sha256"},
		{EncrAESCBC, 256, AuthHMACSHA2_256_128, "aes256-sha256"},
		{EncrAESCBC, 128, AuthHMACSHA2_384_192, "aes128-sha384"},
		{EncrAESCBC, 256, AuthHMACSHA2_384_192, "aes256-sha384"},
		{EncrAESCBC, 128, AuthHMACSHA2_512_256, "aes128-sha512"},
		{EncrAESCBC, 256, AuthHMACSHA2_512_256, "aes256-sha512"},
		{EncrAESGCM16, 192, AuthNone, ""},
		{EncrAESGCM16, 0, AuthNone, ""},
		{EncrAESGCM16, 128, AuthHMACSHA2_256_128, ""},
		{EncrChaCha20Poly1305, 128, AuthNone, ""},
		{EncrAESCBC, 128, AuthNone, ""},
		{EncrAESCBC, 192, AuthHMACSHA2_256_128, ""},
		{EncrAESCBC, 128, 2, ""}, // AUTH_HMAC_SHA1_96
		{3, 0, 2, ""},            // ENCR_3DES
	} {
		got, ok := LookupESP(c.encrID, c.bits, c.integID)
		if ok != (c.want != "") || got.Keyword != c.want {
			t.Errorf("LookupESP(%d, %d, %d) = %q, %v; want %q", c.encrID, c.bits, c.integID, got.Keyword, ok, c.want)
		}
		if ok && (got.ESN || got.DHGroup != 0) {
			t.Errorf("LookupESP(%d, %d, %d) set ESN or DH: %+v", c.encrID, c.bits, c.integID, got)
		}
	}
}

func TestSuiteNewKeyLengths(t *testing.T) {
	gcm := mustParse(t, "aes128gcm16")
	_, err := gcm.New(make([]byte, 16), nil)
	if !errors.Is(err, ErrKeyLength) || !strings.Contains(err.Error(), "is 16 bytes, want 20") {
		t.Errorf("GCM key without salt: %v", err)
	}
	_, err = gcm.New(make([]byte, 20), make([]byte, 32))
	if !errors.Is(err, ErrKeyLength) || !strings.Contains(err.Error(), "integrity key is 32 bytes, want 0") {
		t.Errorf("AEAD with an integrity key: %v", err)
	}
	cbc := mustParse(t, "aes256-sha384")
	_, err = cbc.New(make([]byte, 32), make([]byte, 32))
	if !errors.Is(err, ErrKeyLength) || !strings.Contains(err.Error(), "aes256-sha384 integrity key is 32 bytes, want 48") {
		t.Errorf("short HMAC key: %v", err)
	}
	_, err = cbc.New(make([]byte, 16), make([]byte, 48))
	if !errors.Is(err, ErrKeyLength) || !strings.Contains(err.Error(), "encryption key is 16 bytes, want 32") {
		t.Errorf("AES-128 key for AES-256: %v", err)
	}
	_, err = Suite{EncrID: EncrAESCBC, EncrKeyBits: 192, IntegID: AuthHMACSHA2_256_128}.New(make([]byte, 24), make([]byte, 32))
	if !errors.Is(err, ErrUnsupported) {
		t.Errorf("AES-192: %v, want ErrUnsupported", err)
	}
	// A hand-built Suite is checked against the registry, not trusted.
	_, err = Suite{EncrID: EncrAESGCM16, EncrKeyBits: 256, EncKeyLen: 20}.New(make([]byte, 20), nil)
	if !errors.Is(err, ErrKeyLength) {
		t.Errorf("hand-built suite with a wrong EncKeyLen: %v", err)
	}
}
