package message

import (
	"crypto/sha1"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"net/netip"
	"testing"
)

func TestIDHelpers(t *testing.T) {
	for _, s := range []string{"192.0.2.7", "2001:db8::7", "::ffff:192.0.2.8"} {
		addr := netip.MustParseAddr(s)
		id := NewAddrID(true, addr)
		got, ok := id.Addr()
		if !ok || got != addr.Unmap() || id.Type() != PayloadIDr {
			t.Fatalf("NewAddrID(%v) = %v (%v, %v)", addr, id, got, ok)
		}
		if id.String() != addr.Unmap().String() {
			t.Fatalf("String() = %q", id.String())
		}
	}
	dn, err := asn1.Marshal(pkix.Name{CommonName: "moon.example.org", Organization: []string{"espd"}}.ToRDNSequence())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		id   *ID
		want string
	}{
		{&ID{IDType: IDDERASN1DN, Data: dn}, "CN=moon.example.org,O=espd"},
		{&ID{IDType: IDFQDN, Data: []byte("moon.example.org")}, "moon.example.org"},
		{&ID{IDType: IDFQDN, Data: []byte("bad\nname")}, `"bad\nname"`},
		{&ID{IDType: IDKeyID, Data: []byte{0xde, 0xad}}, "ID_KEY_ID:dead"},
		{&ID{IDType: IDNull}, "%null"},
		{&ID{IDType: IDDERASN1DN, Data: []byte{0x30, 0x05}}, "ID_DER_ASN1_DN:3005"},
	}
	for _, tt := range tests {
		if got := tt.id.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
	if _, ok := (&ID{IDType: IDFQDN, Data: []byte("x")}).Addr(); ok {
		t.Error("an FQDN has no address")
	}
}

func TestTSHelpers(t *testing.T) {
	tests := []struct {
		prefix     string
		start, end string
	}{
		{"198.18.1.0/24", "198.18.1.0", "198.18.1.255"},
		{"198.18.1.77/24", "198.18.1.0", "198.18.1.255"},
		{"0.0.0.0/0", "0.0.0.0", "255.255.255.255"},
		{"192.0.2.1/32", "192.0.2.1", "192.0.2.1"},
		{"2001:db8:ffff::/48", "2001:db8:ffff::", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"},
		{"::/0", "::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},
		{"198.18.0.0/15", "198.18.0.0", "198.19.255.255"},
	}
	for _, tt := range tests {
		ts := TSFromPrefix(netip.MustParsePrefix(tt.prefix))
		if ts.StartAddr.String() != tt.start || ts.EndAddr.String() != tt.end || ts.StartPort != 0 || ts.EndPort != 0xffff || ts.IPProtocol != 0 {
			t.Errorf("TSFromPrefix(%s) = %v", tt.prefix, ts)
		}
		if !ts.Contains(netip.MustParseAddr(tt.start)) || !ts.Contains(netip.MustParseAddr(tt.end)) {
			t.Errorf("%v does not contain its ends", ts)
		}
	}
	ts := TSFromPrefix(netip.MustParsePrefix("198.18.1.0/24"))
	if ts.Contains(netip.MustParseAddr("198.18.2.0")) || ts.Contains(netip.MustParseAddr("2001:db8::1")) {
		t.Error("Contains is too generous")
	}
	if got := ts.String(); got != "198.18.1.0..198.18.1.255" {
		t.Errorf("String() = %q", got)
	}
	ts.IPProtocol, ts.StartPort, ts.EndPort = 6, 443, 443
	if got := ts.String(); got != "198.18.1.0..198.18.1.255[6/443-443]" {
		t.Errorf("String() = %q", got)
	}
}

func TestSAHelpers(t *testing.T) {
	sa := samplePayloads()[0].(*SA)
	if got := sa.Proposals[0].String(); got != "IKE:AES_CBC_256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/CURVE_25519" {
		t.Errorf("String() = %q", got)
	}
	if got := sa.Proposals[1].String(); got != "IKE:AES_GCM_16_128/PRF_HMAC_SHA2_256/ECP_256/MODP_2048" {
		t.Errorf("String() = %q", got)
	}
	p := Proposal{Protocol: ProtocolESP, SPI: []byte{1, 2, 3, 4}, Transforms: []Transform{{Type: 20, ID: 7}, {Type: TransformAddKE1 + 3, ID: 36}, {Type: TransformEncr, ID: 999}}}
	if got := p.String(); got != "ESP:ENCR_999/TRANSFORM(20)_7/ADDKE4_ML_KEM_768" {
		t.Errorf("String() = %q", got)
	}
	if spi, ok := p.SPI32(); !ok || spi != 0x01020304 {
		t.Errorf("SPI32() = %x, %v", spi, ok)
	}
	if _, ok := p.SPI64(); ok {
		t.Error("SPI64 of a 4-byte SPI")
	}
	if bits, ok := sa.Proposals[0].Transforms[0].KeyLength(); !ok || bits != 256 {
		t.Errorf("KeyLength() = %d, %v", bits, ok)
	}
	if _, ok := sa.Proposals[0].Transforms[1].KeyLength(); ok {
		t.Error("KeyLength of an integrity transform")
	}
}

func TestAuthAndCertReqHelpers(t *testing.T) {
	auth, err := NewDigitalSignatureAuth([]byte{0x30, 0x0a, 6, 8, 0x2a, 0x86, 0x48, 0xce, 0x3d, 4, 3, 2}, []byte("signature"))
	if err != nil {
		t.Fatal(err)
	}
	decoded := new(Auth)
	if err := decoded.Decode(encodeBody(t, auth)); err != nil {
		t.Fatal(err)
	}
	algorithm, signature, err := decoded.SignatureData()
	if err != nil || len(algorithm) != 12 || string(signature) != "signature" {
		t.Fatalf("SignatureData() = %x, %q, %v", algorithm, signature, err)
	}
	for _, data := range [][]byte{nil, {0}, {5, 1, 2}} {
		if _, _, err := (&Auth{Method: AuthDigitalSignature, Data: data}).SignatureData(); !errors.Is(err, ErrMalformed) {
			t.Errorf("SignatureData of %x: %v", data, err)
		}
	}
	if _, _, err := (&Auth{Method: AuthSharedKeyMIC}).SignatureData(); !errors.Is(err, ErrMalformed) {
		t.Errorf("SignatureData of a PSK AUTH: %v", err)
	}
	if _, err := NewDigitalSignatureAuth(make([]byte, 256), nil); !errors.Is(err, ErrEncoding) {
		t.Errorf("256-byte AlgorithmIdentifier: %v", err)
	}

	a, b := [sha1.Size]byte(seq(1, 20)), [sha1.Size]byte(seq(2, 20))
	hashes := NewCertReq(a, b).CAHashes()
	if len(hashes) != 2 || hashes[0] != a || hashes[1] != b {
		t.Fatalf("CAHashes() = %x", hashes)
	}
	if (&CertReq{Encoding: CertPGP, Data: seq(0, 40)}).CAHashes() != nil {
		t.Fatal("CAHashes of a PGP request")
	}
}

func TestSealFragmentsRefusesIKESAInit(t *testing.T) {
	tr := newTransform(t, "aes128gcm16")
	if _, err := SealFragments(sampleInitRequest(), tr, 1, 1280); !errors.Is(err, ErrEncoding) {
		t.Fatalf("error %v, want ErrEncoding", err)
	}
}

func TestEnumStrings(t *testing.T) {
	tests := []struct{ got, want string }{
		{AuthDigitalSignature.String(), "DIGITAL_SIGNATURE"},
		{AuthMethod(99).String(), "AUTH_METHOD(99)"},
		{CertX509Signature.String(), "X509_SIGNATURE"},
		{CertEncoding(99).String(), "CERT_ENCODING(99)"},
		{CFGRequest.String(), "CFG_REQUEST"},
		{CFGAck.String(), "CFG_ACK"},
		{CFGType(9).String(), "CFG_TYPE(9)"},
		{InternalIP6DNS.String(), "INTERNAL_IP6_DNS"},
		{CPAttributeType(999).String(), "CP_ATTRIBUTE(999)"},
		{IDRFC822Addr.String(), "ID_RFC822_ADDR"},
		{IDType(99).String(), "ID_TYPE(99)"},
		{ProtocolESP.String(), "ESP"},
		{ProtocolID(9).String(), "PROTO(9)"},
		{TransformESN.String(), "ESN"},
		{TransformType(99).String(), "TRANSFORM(99)"},
		{TSIPv6AddrRange.String(), "TS_IPV6_ADDR_RANGE"},
		{TSType(99).String(), "TS_TYPE(99)"},
		{NotifyIKEv2FragmentationSupported.String(), "IKEV2_FRAGMENTATION_SUPPORTED"},
		{(&UnsupportedCriticalPayloadError{Type: 200}).Error(), "message: unsupported critical payload type 200"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}
