package message

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"github.com/espd/espd/crypto"
)

// Wireshark's IKEv2 dissector is an independent reading of RFC 7296: these
// tests write what this package encodes into a pcap as UDP port 500
// datagrams and check that tshark sees the payloads that were encoded,
// and, with the keys in its decryption table, decrypts SK payloads to
// them.

func needTshark(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark not installed")
	}
	return path
}

// writePcap writes each datagram as a UDP packet from 192.0.2.1:500 to
// 192.0.2.2:500.
func writePcap(t *testing.T, datagrams ...[]byte) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "ike.pcap")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	for i, d := range datagrams {
		eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: net.IP{192, 0, 2, 1}, DstIP: net.IP{192, 0, 2, 2}}
		udp := &layers.UDP{SrcPort: 500, DstPort: 500}
		if err := udp.SetNetworkLayerForChecksum(ip); err != nil {
			t.Fatal(err)
		}
		buf := gopacket.NewSerializeBuffer()
		opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
		if err := gopacket.SerializeLayers(buf, opts, eth, ip, udp, gopacket.Payload(d)); err != nil {
			t.Fatal(err)
		}
		ci := gopacket.CaptureInfo{Timestamp: time.Unix(1700000000+int64(i), 0), CaptureLength: len(buf.Bytes()), Length: len(buf.Bytes())}
		if err := w.WritePacket(ci, buf.Bytes()); err != nil {
			t.Fatal(err)
		}
	}
	return file
}

func runTshark(t *testing.T, tshark string, args ...string) string {
	t.Helper()
	cmd := exec.Command(tshark, args...)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir()) // no user preferences
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark %v: %v\n%s", args, err, stderr.String())
	}
	return string(out)
}

func requireLines(t *testing.T, output string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(output, w) {
			t.Errorf("tshark output lacks %q", w)
		}
	}
	if t.Failed() {
		t.Logf("tshark output:\n%s", output)
	}
}

func TestTsharkDissectsInitRequest(t *testing.T) {
	tshark := needTshark(t)
	m := sampleInitRequest()
	m.Payloads = append(m.Payloads, NewNotify(NotifyCookie, seq(0, 16)))
	pcap := writePcap(t, mustEncode(t, m))
	out := runTshark(t, tshark, "-r", pcap, "-V", "-d", "udp.port==500,isakmp")
	requireLines(t, out,
		"Initiator SPI: 0102030405060708",
		"Responder SPI: 0000000000000000",
		"Version: 2.0",
		"Exchange type: IKE_SA_INIT (34)",
		"Initiator: Initiator",
		"Payload: Security Association (33)",
		"Payload: Proposal (2) # 1",
		"Payload: Proposal (2) # 2",
		"Transform ID (ENCR): ENCR_AES_CBC (12)",
		"Key Length: 256",
		"Transform ID (INTEG): AUTH_HMAC_SHA2_256_128 (12)",
		"Transform ID (PRF): PRF_HMAC_SHA2_256 (5)",
		"Transform ID (D-H): Curve25519 (31)",
		"Transform ID (ENCR): AES-GCM with a 16 octet ICV (20)",
		"Payload: Key Exchange (34)",
		"DH Group #: Curve25519 (31)",
		"Payload: Nonce (40)",
		"Notify Message Type: NAT_DETECTION_SOURCE_IP (16388)",
		"Notify Message Type: NAT_DETECTION_DESTINATION_IP (16389)",
		"Notify Message Type: IKEV2_FRAGMENTATION_SUPPORTED (16430)",
		"Notify Message Type: SIGNATURE_HASH_ALGORITHMS (16431)",
		"Notify Message Type: REDIRECT_SUPPORTED (16406)",
		"Notify Message Type: COOKIE (16390)",
		"Payload: Vendor ID (43)",
	)
	if strings.Contains(out, "Malformed") || strings.Contains(out, "Expert Info (Error") {
		t.Errorf("tshark reports a malformed packet:\n%s", out)
	}
}

// TestTsharkDissectsPlainPayloads shows tshark every other payload type
// unencrypted, so that its dissector checks their layout.
func TestTsharkDissectsPlainPayloads(t *testing.T) {
	tshark := needTshark(t)
	var payloads []Payload
	// RFC 7427 Appendix A.3.1: ecdsa-with-SHA256.
	ecdsaWithSHA256 := unhex(t, "300a06082a8648ce3d040302")
	for _, p := range samplePayloads() {
		switch p := p.(type) {
		case *Unknown:
			continue
		case *Cert: // tshark parses the DER: give it a real certificate
			p.Data = testCertificate(t)
		case *Auth:
			if p.Method == AuthDigitalSignature {
				p.Data = encodeBody(t, must(NewDigitalSignatureAuth(ecdsaWithSHA256, seq(0x90, 64))))[authHeaderLen:]
			}
		}
		payloads = append(payloads, p)
	}
	m := &Message{Header: Header{SPIi: 1, SPIr: 2, Exchange: ExchangeIKEAuth, Flags: FlagInitiator, MessageID: 1}, Payloads: payloads}
	out := runTshark(t, tshark, "-r", writePcap(t, mustEncode(t, m)), "-V", "-d", "udp.port==500,isakmp")
	requireLines(t, out,
		"Payload: Identification - Initiator (35)",
		"ID_FQDN: moon.example.org",
		"Payload: Identification - Responder (36)",
		"ID_IPV4_ADDR: 192.0.2.1",
		"ID_IPV6_ADDR: 2001:db8::1",
		"ID type: ID_RFC822_ADDR (3)",
		"Reserved: 010203",
		"Identification Data:carol@example.org",
		"Payload: Certificate (37)",
		"Payload: Certificate Request (38)",
		"Payload: Authentication (39)",
		"Authentication Method: Shared Key Message Integrity Code (2)",
		"Authentication Method: Digital Signature (14)",
		"ASN.1 Length: 12",
		"OID: 1.2.840.10045.4.3.2 (ecdsa-with-SHA256)",
		"Protocol ID: ESP (3)",
		"Notify Message Type: REKEY_SA (16393)",
		"Payload: Delete (42)",
		"SPI: cafe0001",
		"Delete SPI: c0000002",
		"Certificate Authority Data: 404142434445464748494a4b4c4d4e4f50515253",
		"Payload: Traffic Selector - Initiator (44)",
		"Payload: Traffic Selector - Responder (45)",
		"Traffic Selector Type: TS_IPV4_ADDR_RANGE (7)",
		"Traffic Selector Type: TS_IPV6_ADDR_RANGE (8)",
		"Starting Addr: 198.18.1.0",
		"Ending Addr: 198.18.1.255",
		"Starting Addr: 2001:db8:ffff::",
		"Start Port: 80",
		"End Port: 443",
		"Payload: Configuration (47)",
		"Type: CFG_REQUEST (1)",
		"Type: CFG_REPLY (2)",
		"INTERNAL_IP4_ADDRESS (1)",
		"INTERNAL IP4 ADDRESS: 198.18.0.7",
		"INTERNAL IP6 ADDRESS (PREFIX): 64",
		"Payload: Extensible Authentication (48)",
	)
	if strings.Contains(out, "Malformed") {
		t.Errorf("tshark reports a malformed packet:\n%s", out)
	}
}

// wiresharkKeys describes one transform for tshark's IKEv2 decryption
// table; the keys are those newTransform uses.
type wiresharkKeys struct {
	keyword, encr, integ string
}

func (k wiresharkKeys) option(spii, spir uint64, suite crypto.Suite) string {
	encKey := hex.EncodeToString(seq(0x80, suite.EncKeyLen))
	integKey := hex.EncodeToString(seq(0x40, suite.IntegKeyLen))
	// The initiator sent the messages: SK_ei and SK_ai protect them.
	return fmt.Sprintf(`uat:ikev2_decryption_table:%016x,%016x,%s,%s,"%s",%s,%s,"%s"`,
		spii, spir, encKey, encKey, k.encr, integKey, integKey, k.integ)
}

func TestTsharkDecryptsSK(t *testing.T) {
	tshark := needTshark(t)
	for _, k := range []wiresharkKeys{
		{"aes128gcm16", "AES-GCM-128 with 16 octet ICV [RFC5282]", "NONE [RFC4306]"},
		{"aes256gcm16", "AES-GCM-256 with 16 octet ICV [RFC5282]", "NONE [RFC4306]"},
		{"aes128-sha256", "AES-CBC-128 [RFC3602]", "HMAC_SHA2_256_128 [RFC4868]"},
		{"aes256-sha384", "AES-CBC-256 [RFC3602]", "HMAC_SHA2_384_192 [RFC4868]"},
		{"aes256-sha512", "AES-CBC-256 [RFC3602]", "HMAC_SHA2_512_256 [RFC4868]"},
	} {
		t.Run(k.keyword, func(t *testing.T) {
			suite, err := crypto.ParseESPProposal(k.keyword)
			if err != nil {
				t.Fatal(err)
			}
			tr := newSuiteTransform(t, suite)
			m := sampleAuthRequest()
			sealed, err := Seal(m, tr, 1)
			if err != nil {
				t.Fatal(err)
			}
			big := bigAuthRequest()
			big.Payloads[2] = &Cert{Encoding: CertX509Signature, Data: testCertificate(t)}
			big.Payloads[3] = &Cert{Encoding: CertX509Signature, Data: testCertificate(t)}
			fragments, err := SealFragments(big, tr, 2, 576)
			if err != nil {
				t.Fatal(err)
			}
			pcap := writePcap(t, append([][]byte{sealed}, fragments...)...)
			out := runTshark(t, tshark, "-r", pcap, "-V", "-d", "udp.port==500,isakmp",
				"-o", k.option(m.Header.SPIi, m.Header.SPIr, suite))
			requireLines(t, out,
				"Payload: Encrypted and Authenticated (46)",
				"Payload: Identification - Initiator (35)",
				"ID_FQDN: carol.example.org",
				"Notify Message Type: INITIAL_CONTACT (16384)",
				"Payload: Identification - Responder (36)",
				"Payload: Authentication (39)",
				"Payload: Configuration (47)",
				"Payload: Security Association (33)",
				"Payload: Traffic Selector - Initiator (44)",
				"Payload: Traffic Selector - Responder (45)",
				"Notify Message Type: MOBIKE_SUPPORTED (16396)",
				"Payload: Encrypted and Authenticated Fragment (53)",
				"Reassembled ISAKMP length: ",
				"Payload: Certificate (37)",
				"Certificate Encoding: X.509 Certificate - Signature (4)",
				"Certificate Data (id-at-commonName=espd fragmentation test)",
			)
			datagrams := 1 + len(fragments)
			if n := strings.Count(out, "(16 bytes)[correct]") + strings.Count(out, "<"+k.integ+">[correct]"); n != datagrams {
				t.Errorf("tshark verified %d ICVs of %d datagrams", n, datagrams)
			}
			if strings.Contains(out, "incorrect") || strings.Contains(out, "Malformed") {
				t.Errorf("tshark rejects a message:\n%s", out)
			}
		})
	}
}

// testCertificate returns a self-signed certificate of about 1500 bytes
// (padded with a private extension), so that tshark dissects real DER.
func testCertificate(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	template := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "espd fragmentation test"},
		NotBefore:    time.Unix(1700000000, 0),
		NotAfter:     time.Unix(1800000000, 0),
		ExtraExtensions: []pkix.Extension{{
			Id:    asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 32473, 1}, // RFC 5612 documentation OID
			Value: seq(0, 1100),
		}},
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
