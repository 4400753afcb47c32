package message

import (
	"crypto/sha1"
	"fmt"
)

// CertEncoding says what a CERT or CERTREQ payload carries (RFC 7296
// §3.6, the IANA "IKEv2 Certificate Encodings" registry).
type CertEncoding uint8

const (
	CertPKCS7X509         CertEncoding = 1
	CertPGP               CertEncoding = 2
	CertDNSSignedKey      CertEncoding = 3
	CertX509Signature     CertEncoding = 4 // a DER X.509 certificate; in CERTREQ, SHA-1 hashes of CA keys
	CertKerberosToken     CertEncoding = 6
	CertCRL               CertEncoding = 7
	CertARL               CertEncoding = 8
	CertSPKI              CertEncoding = 9
	CertX509Attribute     CertEncoding = 10
	CertRawRSAKey         CertEncoding = 11 // deprecated by RFC 7296
	CertHashURLX509       CertEncoding = 12
	CertHashURLX509Bundle CertEncoding = 13
	CertOCSPContent       CertEncoding = 14 // RFC 4806
	CertRawPublicKey      CertEncoding = 15 // RFC 7670
)

var certEncodingNames = map[CertEncoding]string{
	CertPKCS7X509: "PKCS7_WRAPPED_X509", CertPGP: "PGP", CertDNSSignedKey: "DNS_SIGNED_KEY",
	CertX509Signature: "X509_SIGNATURE", CertKerberosToken: "KERBEROS_TOKEN", CertCRL: "CRL",
	CertARL: "ARL", CertSPKI: "SPKI", CertX509Attribute: "X509_ATTRIBUTE",
	CertRawRSAKey: "RAW_RSA_KEY", CertHashURLX509: "HASH_URL_X509",
	CertHashURLX509Bundle: "HASH_URL_X509_BUNDLE", CertOCSPContent: "OCSP_CONTENT",
	CertRawPublicKey: "RAW_PUBLIC_KEY",
}

func (e CertEncoding) String() string {
	if name, ok := certEncodingNames[e]; ok {
		return name
	}
	return fmt.Sprintf("CERT_ENCODING(%d)", uint8(e))
}

// Cert is the Certificate payload (RFC 7296 §3.6):
//
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	| Cert Encoding |                                               |
//	+-+-+-+-+-+-+-+-+                                               |
//	~                       Certificate Data                        ~
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
type Cert struct {
	Encoding CertEncoding
	Data     []byte
}

func (*Cert) Type() PayloadType { return PayloadCERT }

func (c *Cert) Encode(b []byte) ([]byte, error) {
	return append(append(b, byte(c.Encoding)), c.Data...), nil
}

func (c *Cert) Decode(body []byte) error {
	if len(body) < 1 {
		return truncated("CERT payload without Cert Encoding")
	}
	c.Encoding, c.Data = CertEncoding(body[0]), body[1:]
	return nil
}

// CertReq is the Certificate Request payload (RFC 7296 §3.7), laid out as
// Cert. For X509_SIGNATURE (and OCSP_CONTENT, RFC 4806 §3.1) the
// Certification Authority field is a concatenation of SHA-1 hashes of
// trusted CAs' SubjectPublicKeyInfo, so Decode requires a multiple of 20
// bytes, as strongSwan does; an empty list asks for any certificate.
type CertReq struct {
	Encoding CertEncoding
	Data     []byte
}

func (*CertReq) Type() PayloadType { return PayloadCERTREQ }

func (c *CertReq) Encode(b []byte) ([]byte, error) {
	if err := checkCAHashes(c.Encoding, c.Data); err != nil {
		return nil, cannotEncode("%v", err)
	}
	return append(append(b, byte(c.Encoding)), c.Data...), nil
}

func (c *CertReq) Decode(body []byte) error {
	if len(body) < 1 {
		return truncated("CERTREQ payload without Cert Encoding")
	}
	c.Encoding, c.Data = CertEncoding(body[0]), body[1:]
	return checkCAHashes(c.Encoding, c.Data)
}

func checkCAHashes(e CertEncoding, data []byte) error {
	if (e == CertX509Signature || e == CertOCSPContent) && len(data)%sha1.Size != 0 {
		return malformed("%v CERTREQ of %d bytes is not a list of SHA-1 hashes", e, len(data))
	}
	return nil
}

// CAHashes splits an X509_SIGNATURE request into its CA key hashes.
func (c *CertReq) CAHashes() [][sha1.Size]byte {
	if c.Encoding != CertX509Signature && c.Encoding != CertOCSPContent {
		return nil
	}
	hashes := make([][sha1.Size]byte, 0, len(c.Data)/sha1.Size)
	for data := c.Data; len(data) >= sha1.Size; data = data[sha1.Size:] {
		hashes = append(hashes, [sha1.Size]byte(data))
	}
	return hashes
}

// NewCertReq returns an X509_SIGNATURE request for the given CA key hashes.
func NewCertReq(hashes ...[sha1.Size]byte) *CertReq {
	data := make([]byte, 0, len(hashes)*sha1.Size)
	for _, h := range hashes {
		data = append(data, h[:]...)
	}
	return &CertReq{Encoding: CertX509Signature, Data: data}
}
