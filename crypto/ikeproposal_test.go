package crypto

import (
	"errors"
	"strings"
	"testing"
)

func TestParseIKEProposal(t *testing.T) {
	gcm128 := IKESuite{EncrID: 20, EncrKeyBits: 128, PRF: PRFHMACSHA2_256, DHGroup: 31, EncKeyLen: 20}
	with := func(s IKESuite, prf PRF, dh uint16) IKESuite { s.PRF, s.DHGroup = prf, dh; return s }
	gcm256 := IKESuite{EncrID: 20, EncrKeyBits: 256, EncKeyLen: 36}
	chacha := IKESuite{EncrID: 28, EncKeyLen: 36}
	cbc := func(bits int, integID uint16, encLen, integLen int, prf PRF, dh uint16) IKESuite {
		return IKESuite{EncrID: 12, EncrKeyBits: bits, IntegID: integID, PRF: prf, DHGroup: dh,
			EncKeyLen: encLen, IntegKeyLen: integLen}
	}

	for proposal, want := range map[string]IKESuite{
		// The four proposals of the interop matrix (issue 3, item 8).
		"aes128gcm16-prfsha256-x25519":        gcm128,
		"aes256gcm16-prfsha384-ecp384":        with(gcm256, PRFHMACSHA2_384, 20),
		"chacha20poly1305-prfsha256-modp2048": with(chacha, PRFHMACSHA2_256, 14),
		"aes256-sha256-modp2048":              cbc(256, 12, 32, 32, PRFHMACSHA2_256, 14),

		"aes128gcm16-prfsha256-curve25519":  gcm128,
		"x25519-prfsha256-aes128gcm16":      gcm128,
		"aes128gcm-prfsha256-x25519":        gcm128,
		"aes256gcm128-prfsha512-modp3072":   with(gcm256, PRFHMACSHA2_512, 15),
		"chacha20poly1305-prfsha384-ecp256": with(chacha, PRFHMACSHA2_384, 19),
		// strongSwan takes the PRF from an integrity keyword when there is
		// no prf keyword, and then drops integrity from an AEAD proposal.
		"aes256gcm16-sha384-ecp384": with(gcm256, PRFHMACSHA2_384, 20),
		"aes128gcm16-sha256-x25519": gcm128,
		// An explicit PRF wins over the one the integrity keyword implies.
		"aes256gcm16-sha512-prfsha256-ecp384": with(gcm256, PRFHMACSHA2_256, 20),
		"aes128-sha512-prfsha256-ecp384":      cbc(128, 14, 16, 64, PRFHMACSHA2_256, 20),
		"aes128-sha256-ecp256":                cbc(128, 12, 16, 32, PRFHMACSHA2_256, 19),
		"aes-sha2_256-modp2048":               cbc(128, 12, 16, 32, PRFHMACSHA2_256, 14),
		"aes256-sha384-modp3072":              cbc(256, 13, 32, 48, PRFHMACSHA2_384, 15),
		"aes256-sha512-curve25519":            cbc(256, 14, 32, 64, PRFHMACSHA2_512, 31),
	} {
		got, err := ParseIKEProposal(proposal)
		if err != nil {
			t.Errorf("%q: %v", proposal, err)
			continue
		}
		if got != want {
			t.Errorf("%q:\n got %+v\nwant %+v", proposal, got, want)
		}
		if got.AEAD() != (want.IntegID == AuthNone) {
			t.Errorf("%q: AEAD() = %v", proposal, got.AEAD())
		}
	}
}

func TestParseIKEProposalErrors(t *testing.T) {
	// Each error must name what is wrong so a user can fix the line.
	for proposal, token := range map[string]string{
		"":                                                    "empty",
		"aes128gcm16-prfsha256-x25519-":                       "empty",
		"aes128gcm16-prfsha256":                               "no DH group",
		"aes256-sha256":                                       "no DH group",
		"aes128gcm16-x25519":                                  "needs a PRF",
		"aes256-modp2048":                                     "needs an integrity algorithm",
		"aes256-prfsha256-modp2048":                           "needs an integrity algorithm",
		"prfsha256-x25519":                                    "no cipher",
		"aes128gcm16-prfsha256-prfsha384-x25519":              `"prfsha384"`,
		"aes128gcm16-prfsha256-x25519-ecp256":                 `"ecp256"`,
		"aes128-aes256-sha256-modp2048":                       `"aes256"`,
		"aes128-sha256-sha384-modp2048":                       `"sha384"`,
		"aes128gcm16-prfsha256-x25519-esn":                    "ESP proposals",
		"aes128gcm16-prfsha256-x25519-noesn":                  "ESP proposals",
		"aes128gcm16-prfsha1-x25519":                          `"prfsha1"`,
		"aes128gcm16-prfsha256-modp1024":                      `"modp1024"`,
		"aes128gcm16-prfsha256-ecp521":                        `"ecp521"`,
		"aes192gcm16-prfsha256-x25519":                        `"aes192gcm16"`,
		"AES128GCM16-PRFSHA256-X25519":                        `"AES128GCM16"`,
		"aes128-sha1-modp2048":                                `"sha1"`,
		"default":                                             `"default"`,
		"aes128gcm16-prfsha256-x25519,aes256-sha256-modp2048": `"x25519,aes256"`,
	} {
		_, err := ParseIKEProposal(proposal)
		if !errors.Is(err, ErrIKEProposal) {
			t.Errorf("%q: error %v, want ErrIKEProposal", proposal, err)
			continue
		}
		if !strings.Contains(err.Error(), token) {
			t.Errorf("%q: error %q does not mention %s", proposal, err, token)
		}
	}
}

// TestIKESuiteStringRoundTrip renders every suite this package can run and
// parses it back.
func TestIKESuiteStringRoundTrip(t *testing.T) {
	n := 0
	for _, cipher := range ESPSuites() {
		for _, prf := range []PRF{PRFHMACSHA2_256, PRFHMACSHA2_384, PRFHMACSHA2_512} {
			for _, group := range []uint16{14, 15, 19, 20, 31} {
				s, ok := LookupIKE(cipher.EncrID, cipher.EncrKeyBits, cipher.IntegID, uint16(prf), group)
				if !ok {
					t.Fatalf("LookupIKE(%s, %s, %d) failed", cipher.Keyword, prf, group)
				}
				got, err := ParseIKEProposal(s.String())
				if err != nil || got != s {
					t.Errorf("%+v: String %q parses to %+v, %v", s, s.String(), got, err)
				}
				n++
			}
		}
	}
	if n != 9*3*5 {
		t.Errorf("%d suites", n)
	}
	if got := (IKESuite{EncrID: 3, IntegID: 2, PRF: 2, DHGroup: 2}).String(); got != "encr3_0-integ2-prf2-dh2" {
		t.Errorf("unknown suite renders as %q", got)
	}
}

func TestLookupIKE(t *testing.T) {
	if s, ok := LookupIKE(EncrChaCha20Poly1305, 256, AuthNone, 5, 31); !ok || s.EncrKeyBits != 0 {
		t.Errorf("ChaCha20-Poly1305 with a 256-bit attribute: %+v, %v", s, ok)
	}
	for _, c := range []struct {
		encrID  uint16
		bits    int
		integID uint16
		prf, dh uint16
	}{
		{EncrAESGCM16, 128, AuthNone, 5, 0},              // no DH group
		{EncrAESGCM16, 128, AuthNone, 5, 2},              // MODP-1024
		{EncrAESGCM16, 128, AuthNone, 2, 31},             // PRF_HMAC_SHA1
		{EncrAESGCM16, 128, AuthNone, 0, 31},             // no PRF
		{EncrAESGCM16, 128, AuthHMACSHA2_256_128, 5, 31}, // AEAD with integrity
		{EncrAESCBC, 128, AuthNone, 5, 31},               // CBC without integrity
		{EncrAESCBC, 192, AuthHMACSHA2_256_128, 5, 14},   // AES-192
		{3, 0, 2, 2, 2}, // 3DES-SHA1-MODP1024
	} {
		if s, ok := LookupIKE(c.encrID, c.bits, c.integID, c.prf, c.dh); ok {
			t.Errorf("LookupIKE(%d, %d, %d, %d, %d) = %+v", c.encrID, c.bits, c.integID, c.prf, c.dh, s)
		}
	}
}

// TestESPAndIKEGroupsAgree: the DH keyword of an ESP proposal (PFS in
// CREATE_CHILD_SA) and of an IKE proposal must select the same transform
// ID, and every group either can name must be one NewKeyExchange runs.
func TestESPAndIKEGroupsAgree(t *testing.T) {
	for token, group := range dhGroupTokens {
		esp, err := ParseESPProposal("aes128gcm16-" + token)
		if err != nil {
			t.Fatal(err)
		}
		ike, err := ParseIKEProposal("aes128gcm16-prfsha256-" + token)
		if err != nil {
			t.Fatal(err)
		}
		if esp.DHGroup != group || ike.DHGroup != group || !SupportsGroup(group) {
			t.Errorf("%q: ESP group %d, IKE group %d, supported %v", token, esp.DHGroup, ike.DHGroup, SupportsGroup(group))
		}
	}
}

// TestIKESuiteTransform: the SK payload transform is the ESP one, so RFC
// 7634 Appendix B (an IKEv2 IKE_AUTH SK payload) holds through an
// IKESuite too.
func TestIKESuiteTransform(t *testing.T) {
	suite, err := ParseIKEProposal("chacha20poly1305-prfsha256-x25519")
	if err != nil {
		t.Fatal(err)
	}
	tr, err := suite.NewTransform(unhex(t, `808182838485868788898a8b8c8d8e8f 909192939495969798999a9b9c9d9e9f
	                                       a0a1a2a3`), nil)
	if err != nil {
		t.Fatal(err)
	}
	checkKAT(t, tr,
		unhex(t, "c0c1c2c3c4c5c6c7 d0d1d2d3d4d5d6d7 2e202500 00000009 00000045 29000029"),
		unhex(t, "1011121314151617"),
		unhex(t, "0000000c000040010000000a00"), nil,
		unhex(t, "610394701f8d017f7c12924889"),
		unhex(t, "6b71bfe25236efd7cdc67066906315b2"))

	if _, err := suite.NewTransform(make([]byte, 32), nil); !errors.Is(err, ErrKeyLength) {
		t.Errorf("ChaCha20 key without salt: %v", err)
	}
	cbc, err := ParseIKEProposal("aes256-sha256-modp2048")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cbc.NewTransform(make([]byte, 32), make([]byte, 16)); !errors.Is(err, ErrKeyLength) {
		t.Errorf("short HMAC key: %v", err)
	}
	if _, err := (IKESuite{EncrID: 3, IntegID: 2}).NewTransform(make([]byte, 24), make([]byte, 20)); !errors.Is(err, ErrUnsupported) {
		t.Errorf("3DES-SHA1: %v", err)
	}
}
