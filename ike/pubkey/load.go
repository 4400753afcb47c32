package pubkey

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"

	"github.com/espd/espd/ike/message"
)

// LoadCertificate reads an X.509 certificate file, PEM or DER, as swanctl
// reads its x509 and x509ca directories. Of a PEM bundle it takes the
// first certificate.
func LoadCertificate(path string) (*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("pubkey: %w", err)
	}
	return parseCertificate(data, path)
}

// ParseCertificate reads an X.509 certificate, PEM or DER.
func ParseCertificate(data []byte) (*x509.Certificate, error) {
	return parseCertificate(data, "certificate")
}

func parseCertificate(data []byte, source string) (*x509.Certificate, error) {
	der := data
	if isPEM(data) {
		der = nil
		for rest := data; der == nil; {
			var block *pem.Block
			if block, rest = pem.Decode(rest); block == nil {
				return nil, malformed("%s: no CERTIFICATE in the PEM data", source)
			}
			if block.Type == "CERTIFICATE" {
				der = block.Bytes
			}
		}
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, malformed("%s: %v", source, err)
	}
	return cert, nil
}

func isPEM(data []byte) bool {
	return bytes.Contains(data, []byte("-----BEGIN "))
}

// LoadPrivateKey reads a private key file, PEM or DER, as swanctl reads its
// private, rsa, ecdsa and pkcs8 directories: PKCS#8 (RSA, ECDSA,
// Ed25519), PKCS#1 RSA or SEC 1 EC. Encrypted keys are ErrEncryptedKey.
func LoadPrivateKey(path string) (crypto.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("pubkey: %w", err)
	}
	return parsePrivateKey(data, path)
}

// LoadPublicKey reads a raw public key file, PEM ("PUBLIC KEY", or an
// RSA "RSA PUBLIC KEY") or DER SubjectPublicKeyInfo, as swanctl reads its
// pubkey directory.
func LoadPublicKey(path string) (crypto.PublicKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("pubkey: %w", err)
	}
	der := data
	if isPEM(data) {
		block, _ := pem.Decode(data)
		if block == nil {
			return nil, malformed("%s: no public key in the PEM data", path)
		}
		if block.Type == "RSA PUBLIC KEY" {
			key, err := x509.ParsePKCS1PublicKey(block.Bytes)
			if err != nil {
				return nil, malformed("%s: %v", path, err)
			}
			return key, nil
		}
		der = block.Bytes
	}
	key, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, malformed("%s: %v", path, err)
	}
	return key, nil
}

// MatchesPublicKey says whether key's public half is pub.
func MatchesPublicKey(key crypto.Signer, pub crypto.PublicKey) bool {
	return samePublicKey(key.Public(), pub)
}

// LoadEncryptedPrivateKey is LoadPrivateKey for a key that may be
// encrypted in the traditional PEM way (Proc-Type: 4,ENCRYPTED, what
// `openssl rsa -aes128 -traditional` and `openssl ec -aes128` write and
// swanctl decrypts with the passphrases of its secrets section): each
// passphrase is tried in turn. An encrypted PKCS#8 key (PBES2) stays
// ErrEncryptedKey: the standard library cannot decrypt it.
func LoadEncryptedPrivateKey(path string, passphrases [][]byte) (crypto.Signer, error) {
	key, err := LoadPrivateKey(path)
	if !errors.Is(err, ErrEncryptedKey) || len(passphrases) == 0 {
		return key, err
	}
	data, rerr := os.ReadFile(path)
	if rerr != nil {
		return nil, fmt.Errorf("pubkey: %w", rerr)
	}
	block, _ := pem.Decode(data)
	if block == nil || !strings.Contains(block.Headers["Proc-Type"], "ENCRYPTED") {
		return nil, err
	}
	for _, pass := range passphrases {
		// DecryptPEMBlock is deprecated because the legacy format has no
		// integrity check, so a wrong passphrase can pass as garbage;
		// parsing the result, and comparing the key with the certificate
		// (LoadCredentials), catches that.
		der, derr := x509.DecryptPEMBlock(block, pass) //nolint:staticcheck // the format swanctl users have
		if derr != nil {
			continue
		}
		if key, perr := parseDERKey(der, block.Type, path); perr == nil {
			return key, nil
		}
	}
	return nil, fmt.Errorf("%w: %s: none of the %d passphrases decrypts it", ErrEncryptedKey, path, len(passphrases))
}

// ParsePrivateKey reads a private key, PEM or DER, as LoadPrivateKey does.
func ParsePrivateKey(data []byte) (crypto.Signer, error) {
	return parsePrivateKey(data, "private key")
}

func parsePrivateKey(data []byte, source string) (crypto.Signer, error) {
	if !isPEM(data) {
		if encryptedPKCS8(data) {
			return nil, fmt.Errorf("%w: %s", ErrEncryptedKey, source)
		}
		return parseDERKey(data, "", source)
	}
	for rest := data; ; {
		var block *pem.Block
		if block, rest = pem.Decode(rest); block == nil {
			return nil, malformed("%s: no private key in the PEM data", source)
		}
		switch {
		case block.Type == "ENCRYPTED PRIVATE KEY", strings.Contains(block.Headers["Proc-Type"], "ENCRYPTED"):
			return nil, fmt.Errorf("%w: %s", ErrEncryptedKey, source)
		case block.Type == "PRIVATE KEY", block.Type == "RSA PRIVATE KEY", block.Type == "EC PRIVATE KEY":
			return parseDERKey(block.Bytes, block.Type, source)
		}
		// "EC PARAMETERS" (openssl ecparam -genkey) and others come before
		// or after the key; they are not it.
	}
}

// parseDERKey parses the format a PEM label names, or, for bare DER, each
// format in turn (keeping PKCS#8's error, the likeliest).
func parseDERKey(der []byte, pemType, source string) (crypto.Signer, error) {
	parsers := map[string]func([]byte) (any, error){
		"PRIVATE KEY":     x509.ParsePKCS8PrivateKey,
		"RSA PRIVATE KEY": func(der []byte) (any, error) { return x509.ParsePKCS1PrivateKey(der) },
		"EC PRIVATE KEY":  func(der []byte) (any, error) { return x509.ParseECPrivateKey(der) },
	}
	var key any
	var err error
	if parse, ok := parsers[pemType]; ok {
		key, err = parse(der)
	} else if key, err = x509.ParsePKCS8PrivateKey(der); err != nil {
		for _, other := range []string{"RSA PRIVATE KEY", "EC PRIVATE KEY"} {
			if k, e := parsers[other](der); e == nil {
				key, err = k, nil
				break
			}
		}
	}
	if err != nil {
		// crypto/x509 has no typed error for a key algorithm it does not
		// know (Ed448, X25519); its message is all there is.
		if strings.Contains(err.Error(), "unknown") || strings.Contains(err.Error(), "unsupported") {
			return nil, unsupported("%s: %v", source, err)
		}
		return nil, malformed("%s: %v", source, err)
	}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		return k, nil
	case *ecdsa.PrivateKey:
		return k, nil
	case ed25519.PrivateKey:
		return k, nil
	}
	return nil, unsupported("%s: %T keys cannot sign IKE AUTH payloads", source, key)
}

// encryptedPKCS8 recognises an EncryptedPrivateKeyInfo (RFC 5958 §3): a
// SEQUENCE that starts with an AlgorithmIdentifier where a PrivateKeyInfo
// starts with its version INTEGER.
func encryptedPKCS8(der []byte) bool {
	input := cryptobyte.String(der)
	var info cryptobyte.String
	return input.ReadASN1(&info, asn1.SEQUENCE) && info.PeekASN1Tag(asn1.SEQUENCE)
}

// Credentials are the local end's certificate, its private key, and the
// intermediate CA certificates sent along with it.
type Credentials struct {
	Cert          *x509.Certificate
	Key           crypto.Signer
	Intermediates []*x509.Certificate
}

// LoadCredentials loads a certificate with its private key (and optional
// intermediate CA certificates) and checks that the key is the
// certificate's.
func LoadCredentials(certPath, keyPath string, intermediatePaths ...string) (*Credentials, error) {
	return LoadCredentialsWithPassphrases(certPath, keyPath, nil, intermediatePaths...)
}

// LoadCredentialsWithPassphrases is LoadCredentials for a key that may be
// encrypted with one of passphrases (see LoadEncryptedPrivateKey).
func LoadCredentialsWithPassphrases(certPath, keyPath string, passphrases [][]byte, intermediatePaths ...string) (*Credentials, error) {
	cert, err := LoadCertificate(certPath)
	if err != nil {
		return nil, err
	}
	key, err := LoadEncryptedPrivateKey(keyPath, passphrases)
	if err != nil {
		return nil, err
	}
	if !samePublicKey(key.Public(), cert.PublicKey) {
		return nil, fmt.Errorf("%w: %s is not the key of %s (%q)", ErrKeyMismatch, keyPath, certPath, cert.Subject.String())
	}
	c := &Credentials{Cert: cert, Key: key}
	for _, path := range intermediatePaths {
		intermediate, err := LoadCertificate(path)
		if err != nil {
			return nil, err
		}
		c.Intermediates = append(c.Intermediates, intermediate)
	}
	return c, nil
}

func samePublicKey(a, b crypto.PublicKey) bool {
	k, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(b)
}

// CertPayloads are the CERT payloads that present the credentials
// (RFC 7296 §3.6): the end-entity certificate first, since it holds the
// key that verifies AUTH, then the intermediates.
func (c *Credentials) CertPayloads() []*message.Cert {
	certs := make([]*message.Cert, 0, 1+len(c.Intermediates))
	certs = append(certs, &message.Cert{Encoding: message.CertX509Signature, Data: c.Cert.Raw})
	for _, intermediate := range c.Intermediates {
		certs = append(certs, &message.Cert{Encoding: message.CertX509Signature, Data: intermediate.Raw})
	}
	return certs
}

// ParseCertPayloads reads a peer's CERT payloads: the first X.509
// certificate is the end-entity one (RFC 7296 §3.6), the others are
// intermediates. Other encodings (hash and URL, CRLs, raw keys) are
// skipped.
func ParseCertPayloads(certs []*message.Cert) (leaf *x509.Certificate, intermediates []*x509.Certificate, err error) {
	for i, c := range certs {
		if c == nil || c.Encoding != message.CertX509Signature {
			continue
		}
		cert, err := parseCertificate(c.Data, fmt.Sprintf("CERT payload %d", i+1))
		if err != nil {
			return nil, nil, err
		}
		if leaf == nil {
			leaf = cert
		} else {
			intermediates = append(intermediates, cert)
		}
	}
	if leaf == nil {
		return nil, nil, unsupported("no X.509 certificate among %d CERT payloads", len(certs))
	}
	return leaf, intermediates, nil
}
