package message

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"net/netip"
	"strings"
	"testing"

	"github.com/espd/espd/crypto"
)

// seq returns n bytes counting up from start, so that encodings are easy
// to read in a failure.
func seq(start byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = start + byte(i)
	}
	return b
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	s = strings.Join(strings.Fields(s), "")
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex: %v", err)
	}
	return b
}

// samplePayloads returns several payloads of every type this package
// decodes, covering the optional parts of each layout.
func samplePayloads() []Payload {
	ikeProposal := Proposal{Number: 1, Protocol: ProtocolIKE, Transforms: []Transform{
		{Type: TransformEncr, ID: EncrAESCBC, Attributes: []Attribute{KeyLength(256)}},
		{Type: TransformInteg, ID: IntegHMACSHA2_256_128},
		{Type: TransformPRF, ID: PRFHMACSHA2_256},
		{Type: TransformDH, ID: DHCurve25519},
	}}
	gcmProposal := Proposal{Number: 2, Protocol: ProtocolIKE, Transforms: []Transform{
		{Type: TransformEncr, ID: EncrAESGCM16, Attributes: []Attribute{KeyLength(128)}},
		{Type: TransformPRF, ID: PRFHMACSHA2_256},
		{Type: TransformDH, ID: DHECP256},
		{Type: TransformDH, ID: DHMODP2048},
	}}
	espProposal := Proposal{Number: 1, Protocol: ProtocolESP, SPI: []byte{0xc0, 0x01, 0xd0, 0x0d}, Transforms: []Transform{
		{Type: TransformEncr, ID: EncrAESGCM16, Attributes: []Attribute{KeyLength(256)}},
		{Type: TransformESN, ID: ESNNo},
	}}
	rekeyProposal := Proposal{Number: 1, Protocol: ProtocolIKE, SPI: seq(0x80, 8), Transforms: []Transform{
		{Type: TransformEncr, ID: EncrChaCha20Poly1305},
		{Type: TransformPRF, ID: PRFHMACSHA2_512},
		{Type: TransformDH, ID: DHECP384, Attributes: []Attribute{{Type: 0x1234, Data: []byte("tlv")}}},
	}}
	caHash := [sha1.Size]byte(seq(0x40, sha1.Size))
	sig, _ := NewDigitalSignatureAuth(seq(0x30, 13), seq(0x90, 64))

	return []Payload{
		&SA{Proposals: []Proposal{ikeProposal, gcmProposal}},
		&SA{Proposals: []Proposal{espProposal}},
		&SA{Proposals: []Proposal{rekeyProposal}},
		&KE{Group: DHCurve25519, Data: seq(1, 32)},
		&KE{Group: DHMODP2048, Data: seq(7, 256)},
		&ID{IDType: IDFQDN, Data: []byte("moon.example.org")},
		&ID{Responder: true, IDType: IDIPv4Addr, Data: []byte{192, 0, 2, 1}},
		&ID{Responder: true, IDType: IDIPv6Addr, Data: netip.MustParseAddr("2001:db8::1").AsSlice()},
		&ID{IDType: IDRFC822Addr, Reserved: [3]byte{1, 2, 3}, Data: []byte("carol@example.org")},
		&ID{IDType: IDKeyID, Data: seq(0xa0, 5)},
		&Cert{Encoding: CertX509Signature, Data: seq(0x30, 300)},
		&CertReq{Encoding: CertX509Signature, Data: NewCertReq(caHash, caHash).Data},
		&CertReq{Encoding: CertX509Signature},
		&Auth{Method: AuthSharedKeyMIC, Data: seq(0x11, 32)},
		sig,
		&Nonce{Data: seq(0x22, 32)},
		&Nonce{Data: seq(0x22, MinNonceLen)},
		&Nonce{Data: seq(0x22, MaxNonceLen)},
		NewNotify(NotifyNATDetectionSourceIP, seq(0x33, sha1.Size)),
		NewNotify(NotifyIKEv2FragmentationSupported, nil),
		NewNotify(NotifySignatureHashAlgorithms, []byte{0, 2, 0, 3, 0, 4, 0, 5}),
		NewChildSANotify(NotifyRekeySA, ProtocolESP, 0xcafe0001, nil),
		&Delete{Protocol: ProtocolIKE},
		&Delete{Protocol: ProtocolESP, SPIs: []uint32{0xc0000001, 0xc0000002}},
		&VendorID{Data: seq(0x88, 16)},
		&TS{Selectors: []TrafficSelector{
			TSFromPrefix(netip.MustParsePrefix("198.18.1.0/24")),
			{TSType: TSIPv4AddrRange, IPProtocol: 6, StartPort: 80, EndPort: 443,
				StartAddr: netip.MustParseAddr("198.18.0.1"), EndAddr: netip.MustParseAddr("198.18.0.1")},
		}},
		&TS{Responder: true, Selectors: []TrafficSelector{
			TSFromPrefix(netip.MustParsePrefix("2001:db8:ffff::/48")),
			{TSType: TSIPv4AddrRange, IPProtocol: 17, StartPort: OpaqueStartPort, EndPort: OpaqueEndPort,
				StartAddr: netip.MustParseAddr("0.0.0.0"), EndAddr: netip.MustParseAddr("255.255.255.255")},
			{TSType: TSSecLabel, Data: []byte("system_u:object_r:ipsec_spd_t:s0")},
		}},
		&CP{CFGType: CFGRequest, Attributes: []CPAttribute{{Type: InternalIP4Address}, {Type: InternalIP4DNS}, {Type: InternalIP6Address}}},
		&CP{CFGType: CFGReply, Attributes: []CPAttribute{
			{Type: InternalIP4Address, Value: []byte{198, 18, 0, 7}},
			{Type: InternalIP6Address, Value: append(netip.MustParseAddr("2001:db8:ffff::7").AsSlice(), 64)},
			{Type: ApplicationVersion, Value: []byte("espd")},
		}},
		&EAP{Message: []byte{1, 7, 0, 9, 1, 'c', 'a', 'r', 'o'}},
		&Unknown{PayloadType: 99, Body: seq(0, 7)},
		&Unknown{PayloadType: 5, Body: seq(0, 3)}, // an IKEv1 ID payload
	}
}

// sampleInitRequest is an IKE_SA_INIT request shaped like strongSwan's.
func sampleInitRequest() *Message {
	sa := samplePayloads()[0]
	return &Message{
		Header: Header{SPIi: 0x0102030405060708, Exchange: ExchangeIKESAInit, Flags: FlagInitiator},
		Payloads: []Payload{
			sa,
			&KE{Group: DHCurve25519, Data: seq(1, 32)},
			&Nonce{Data: seq(0x50, 32)},
			NewNotify(NotifyNATDetectionSourceIP, seq(0x60, 20)),
			NewNotify(NotifyNATDetectionDestinationIP, seq(0x70, 20)),
			NewNotify(NotifyIKEv2FragmentationSupported, nil),
			NewNotify(NotifySignatureHashAlgorithms, []byte{0, 2, 0, 3, 0, 4}),
			NewNotify(NotifyRedirectSupported, nil),
			&VendorID{Data: seq(0x88, 16)},
		},
	}
}

// sampleAuthRequest is an IKE_AUTH request's inner payloads.
func sampleAuthRequest() *Message {
	return &Message{
		Header: Header{SPIi: 0x0102030405060708, SPIr: 0x1112131415161718, Exchange: ExchangeIKEAuth, Flags: FlagInitiator, MessageID: 1},
		Payloads: []Payload{
			&ID{IDType: IDFQDN, Data: []byte("carol.example.org")},
			NewNotify(NotifyInitialContact, nil),
			&ID{Responder: true, IDType: IDFQDN, Data: []byte("moon.example.org")},
			&Auth{Method: AuthSharedKeyMIC, Data: seq(0x11, 32)},
			&CP{CFGType: CFGRequest, Attributes: []CPAttribute{{Type: InternalIP4Address}}},
			samplePayloads()[1],
			samplePayloads()[25],
			samplePayloads()[26],
			NewNotify(NotifyMOBIKESupported, nil),
		},
	}
}

// newTransform builds a transform of the named ESP suite with fixed keys,
// so that sealed output is reproducible for AEADs.
func newTransform(t testing.TB, keyword string) crypto.Transform {
	t.Helper()
	suite, err := crypto.ParseESPProposal(keyword)
	if err != nil {
		t.Fatal(err)
	}
	return newSuiteTransform(t, suite)
}

func newSuiteTransform(t testing.TB, suite crypto.Suite) crypto.Transform {
	t.Helper()
	tr, err := suite.New(seq(0x80, suite.EncKeyLen), seq(0x40, suite.IntegKeyLen))
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// encodeBody encodes one payload's body or fails the test.
func encodeBody(t testing.TB, p Payload) []byte {
	t.Helper()
	b, err := p.Encode(nil)
	if err != nil {
		t.Fatalf("%v: Encode: %v", p.Type(), err)
	}
	return b
}

func mustEncode(t testing.TB, m *Message) []byte {
	t.Helper()
	b, err := m.Encode()
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	return b
}

// equalEncodings compares two payload lists by their encodings.
func equalEncodings(t testing.TB, got, want []Payload) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d payloads, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i].Type() != want[i].Type() {
			t.Fatalf("payload %d: type %v, want %v", i, got[i].Type(), want[i].Type())
		}
		g, w := encodeBody(t, got[i]), encodeBody(t, want[i])
		if !bytes.Equal(g, w) {
			t.Fatalf("payload %d (%v):\n got %x\nwant %x", i, got[i].Type(), g, w)
		}
	}
}

func netipAddr(s string) netip.Addr { return netip.MustParseAddr(s) }
