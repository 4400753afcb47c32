package pubkey

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"

	"github.com/espd/espd/ike/message"
)

func requireOpenSSL(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed: the interop checks need it (apt-get install openssl)")
	}
}

// openssl runs the openssl command in dir and returns its output.
func openssl(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("openssl", args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// opensslKeys makes an RSA-2048, an EC P-384 and an Ed25519 key with
// self-signed certificates, the way an administrator would.
func opensslKeys(t *testing.T, dir string) {
	for name, opts := range map[string][]string{
		"rsa":     {"-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"},
		"ec":      {"-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"},
		"ed25519": {"-algorithm", "ED25519"},
	} {
		openssl(t, dir, append([]string{"genpkey", "-quiet", "-out", name + ".key"}, opts...)...)
		openssl(t, dir, "pkey", "-in", name+".key", "-pubout", "-out", name+".pub")
		openssl(t, dir, "req", "-x509", "-new", "-key", name+".key", "-subj", "/CN="+name+".interop.test",
			"-days", "2", "-out", name+".crt")
	}
}

// TestOpenSSLSignsWeVerify: signatures openssl makes over the octets, put
// in RFC 7427 AUTH payloads, verify with the public key of openssl's
// certificate.
func TestOpenSSLSignsWeVerify(t *testing.T) {
	requireOpenSSL(t)
	dir := t.TempDir()
	opensslKeys(t, dir)
	octets := testOctets(500)
	writeFile(t, dir, "octets", octets)

	pss := []string{"-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:digest"}
	for _, tc := range []struct {
		name   string
		key    string
		scheme Scheme
		args   []string
	}{
		{"rsa-sha256", "rsa", Scheme{Key: KeyRSA, Hash: HashSHA256}, []string{"dgst", "-sha256"}},
		{"rsa-sha384", "rsa", Scheme{Key: KeyRSA, Hash: HashSHA384}, []string{"dgst", "-sha384"}},
		{"rsa-sha512", "rsa", Scheme{Key: KeyRSA, Hash: HashSHA512}, []string{"dgst", "-sha512"}},
		{"rsa/pss-sha256", "rsa", Scheme{Key: KeyRSA, Hash: HashSHA256, PSS: true, SaltLength: 32}, append([]string{"dgst", "-sha256"}, pss...)},
		{"rsa/pss-sha512", "rsa", Scheme{Key: KeyRSA, Hash: HashSHA512, PSS: true, SaltLength: 64}, append([]string{"dgst", "-sha512"}, pss...)},
		{"ecdsa-sha384", "ec", Scheme{Key: KeyECDSA, Hash: HashSHA384}, []string{"dgst", "-sha384"}},
		{"ecdsa-sha256", "ec", Scheme{Key: KeyECDSA, Hash: HashSHA256}, []string{"dgst", "-sha256"}},
		{"ed25519", "ed25519", Scheme{Key: KeyEd25519, Hash: HashIdentity}, []string{"pkeyutl", "-rawin", "-in", "octets"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sigFile := strings.ReplaceAll(tc.name, "/", "_") + ".sig"
			args := append(append([]string(nil), tc.args...), "-sign", tc.key+".key", "-out", sigFile)
			if tc.args[0] == "pkeyutl" {
				args = append(append([]string(nil), tc.args...), "-sign", "-inkey", tc.key+".key", "-out", sigFile)
			} else {
				args = append(args, "octets")
			}
			openssl(t, dir, args...)
			sig, err := os.ReadFile(filepath.Join(dir, sigFile))
			if err != nil {
				t.Fatal(err)
			}
			tc.scheme.Method = message.AuthDigitalSignature
			aid, err := algorithmIdentifier(tc.scheme)
			if err != nil {
				t.Fatal(err)
			}
			auth, err := message.NewDigitalSignatureAuth(aid, sig)
			if err != nil {
				t.Fatal(err)
			}
			cert, err := LoadCertificate(filepath.Join(dir, tc.key+".crt"))
			if err != nil {
				t.Fatal(err)
			}
			got, err := Verify(auth, octets, cert.PublicKey)
			if err != nil {
				t.Fatalf("openssl's signature does not verify: %v", err)
			}
			if got != tc.scheme {
				t.Fatalf("scheme %+v", got)
			}
			octets[0] ^= 1
			_, err = Verify(auth, octets, cert.PublicKey)
			octets[0] ^= 1
			wantErr(t, err, ErrVerify)
		})
	}
}

// TestWeSignOpenSSLVerifies: keys openssl generated load, and the
// signatures made with them verify in openssl.
func TestWeSignOpenSSLVerifies(t *testing.T) {
	requireOpenSSL(t)
	dir := t.TempDir()
	opensslKeys(t, dir)
	octets := testOctets(333)
	writeFile(t, dir, "octets", octets)

	pss := []string{"-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:digest"}
	for _, tc := range []struct {
		name string
		key  string
		peer []Hash
		opts SignOptions
	}{
		{"rsa-sha256", "rsa", nil, SignOptions{}},
		{"rsa-sha512", "rsa", []Hash{HashSHA512}, SignOptions{}},
		{"rsa/pss-sha256", "rsa", nil, SignOptions{PSS: true}},
		{"rsa/pss-sha384", "rsa", []Hash{HashSHA384}, SignOptions{PSS: true}},
		{"ecdsa-sha384", "ec", nil, SignOptions{}},
		{"ecdsa-sha512", "ec", []Hash{HashSHA512}, SignOptions{}},
		{"ed25519", "ed25519", SupportedHashes(), SignOptions{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key, err := LoadPrivateKey(filepath.Join(dir, tc.key+".key"))
			if err != nil {
				t.Fatal(err)
			}
			auth, err := Sign(key, octets, tc.peer, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			scheme, sig, err := SchemeOf(auth)
			if err != nil {
				t.Fatal(err)
			}
			if scheme.String() != tc.name {
				t.Fatalf("signed with %v", scheme)
			}
			sigFile := strings.ReplaceAll(tc.name, "/", "_") + ".sig"
			writeFile(t, dir, sigFile, sig)
			var out string
			if scheme.Key == KeyEd25519 {
				out = openssl(t, dir, "pkeyutl", "-verify", "-pubin", "-inkey", tc.key+".pub", "-rawin",
					"-in", "octets", "-sigfile", sigFile)
			} else {
				args := []string{"dgst", "-" + scheme.Hash.String(), "-verify", tc.key + ".pub", "-signature", sigFile}
				if scheme.PSS {
					args = append(args, pss...)
				}
				out = openssl(t, dir, append(args, "octets")...)
			}
			if !strings.Contains(out, "Verified OK") && !strings.Contains(out, "Signature Verified Successfully") {
				t.Fatalf("openssl says: %s", out)
			}
		})
	}
}

// TestOpenSSLPSSAlgorithmIdentifier: the RSASSA-PSS AlgorithmIdentifier
// openssl writes into a certificate parses as the scheme it names, and is
// byte for byte the one Sign sends.
func TestOpenSSLPSSAlgorithmIdentifier(t *testing.T) {
	requireOpenSSL(t)
	dir := t.TempDir()
	openssl(t, dir, "genpkey", "-quiet", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "k.pem")
	for _, tc := range []struct {
		digest string
		want   Scheme
	}{
		{"sha256", Scheme{Method: message.AuthDigitalSignature, Key: KeyRSA, Hash: HashSHA256, PSS: true, SaltLength: 32}},
		{"sha384", Scheme{Method: message.AuthDigitalSignature, Key: KeyRSA, Hash: HashSHA384, PSS: true, SaltLength: 48}},
	} {
		openssl(t, dir, "req", "-x509", "-new", "-key", "k.pem", "-subj", "/CN=pss", "-days", "1",
			"-"+tc.digest, "-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:digest", "-out", tc.digest+".crt")
		cert, err := LoadCertificate(filepath.Join(dir, tc.digest+".crt"))
		if err != nil {
			t.Fatal(err)
		}
		// Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue }
		input := cryptobyte.String(cert.Raw)
		var certificate, aid cryptobyte.String
		if !input.ReadASN1(&certificate, asn1.SEQUENCE) || !certificate.SkipASN1(asn1.SEQUENCE) ||
			!certificate.ReadASN1Element(&aid, asn1.SEQUENCE) {
			t.Fatal("cannot take the certificate apart")
		}
		got, err := parseAlgorithmIdentifier(aid)
		if err != nil {
			t.Fatalf("openssl's %s PSS AlgorithmIdentifier %x: %v", tc.digest, []byte(aid), err)
		}
		if got != tc.want {
			t.Fatalf("parsed %+v, want %+v", got, tc.want)
		}
		// OpenSSL writes the RFC 7427 Appendix A.4.3 form too: NULL hash
		// parameters, no trailerField.
		ours, _ := algorithmIdentifier(tc.want)
		if !bytes.Equal(ours, aid) {
			t.Fatalf("openssl encodes %v as %x, espd as %x", tc.want, []byte(aid), ours)
		}
	}
}

// TestOpenSSLKeyFormats: the key files openssl writes in its other
// formats load, and the encrypted ones are refused as such.
func TestOpenSSLKeyFormats(t *testing.T) {
	requireOpenSSL(t)
	dir := t.TempDir()
	openssl(t, dir, "genrsa", "-traditional", "-out", "pkcs1.pem", "2048")
	openssl(t, dir, "ecparam", "-name", "prime256v1", "-genkey", "-out", "sec1.pem")
	openssl(t, dir, "pkey", "-in", "sec1.pem", "-outform", "DER", "-out", "pkcs8.der")
	openssl(t, dir, "rsa", "-in", "pkcs1.pem", "-outform", "DER", "-traditional", "-out", "pkcs1.der")
	openssl(t, dir, "pkey", "-in", "pkcs1.pem", "-aes256", "-passout", "pass:secret", "-out", "encrypted.pem")
	openssl(t, dir, "pkcs8", "-topk8", "-in", "sec1.pem", "-outform", "DER", "-passout", "pass:secret", "-out", "encrypted.der")
	openssl(t, dir, "rsa", "-in", "pkcs1.pem", "-aes128", "-traditional", "-passout", "pass:secret", "-out", "legacy.pem")
	for file, want := range map[string]string{"pkcs1.pem": "rsa", "sec1.pem": "ecdsa", "pkcs8.der": "ecdsa", "pkcs1.der": "rsa"} {
		key, err := LoadPrivateKey(filepath.Join(dir, file))
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if got := keyTypeOf(key.Public()).String(); got != want {
			t.Fatalf("%s: %s key", file, got)
		}
	}
	for _, file := range []string{"encrypted.pem", "encrypted.der", "legacy.pem"} {
		_, err := LoadPrivateKey(filepath.Join(dir, file))
		wantErr(t, err, ErrEncryptedKey)
		if !strings.Contains(err.Error(), file) {
			t.Fatalf("the error does not name the file: %v", err)
		}
	}
}

// TestPKIScript runs scripts/lib/pki.sh's pki_make and loads what it made
// the way the engine will: credentials, the CA as trust anchor, the chain,
// the identities, and AUTH between moon and sun.
func TestPKIScript(t *testing.T) {
	requireOpenSSL(t)
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash not installed")
	}
	script, err := filepath.Abs(filepath.Join("..", "..", "scripts", "lib", "pki.sh"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	out, err := exec.Command("bash", "-c", `source "$1" && pki_make "$2"`, "bash", script, dir).CombinedOutput()
	if err != nil {
		t.Fatalf("pki_make: %v\n%s", err, out)
	}

	anchors, err := LoadTrustAnchors(filepath.Join(dir, "x509ca", "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	ca := anchors.Certificates()[0]
	if caKey, ok := ca.PublicKey.(*ecdsa.PublicKey); !ok || caKey.Curve.Params().Name != "P-384" {
		t.Fatalf("CA key %s, want ECDSA P-384", describeKey(ca.PublicKey))
	}
	if !ca.IsCA || !ca.BasicConstraintsValid || ca.KeyUsage&x509.KeyUsageCertSign == 0 {
		t.Fatalf("CA: IsCA %v, key usage %b", ca.IsCA, ca.KeyUsage)
	}
	if entries, _ := os.ReadDir(filepath.Join(dir, "private")); len(entries) != 6 {
		t.Fatalf("%d keys in private/, want 6", len(entries))
	}

	octets := testOctets(256)
	now := time.Now()
	for _, host := range []string{"moon", "sun"} {
		for _, typ := range []string{"rsa", "ecdsa", "ed25519"} {
			name := host + "-" + typ
			t.Run(name, func(t *testing.T) {
				keyPath := filepath.Join(dir, "private", name+".pem")
				pemData, err := os.ReadFile(keyPath)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.HasPrefix(pemData, []byte("-----BEGIN PRIVATE KEY-----")) {
					t.Fatalf("%s is not an unencrypted PKCS#8 PEM key", keyPath)
				}
				if info, err := os.Stat(keyPath); err != nil || info.Mode().Perm()&0o077 != 0 {
					t.Fatalf("%s: mode %v, %v", keyPath, info.Mode(), err)
				}
				creds, err := LoadCredentials(filepath.Join(dir, "x509", name+".pem"), keyPath)
				if err != nil {
					t.Fatal(err)
				}
				switch k := creds.Cert.PublicKey.(type) {
				case *rsa.PublicKey:
					if typ != "rsa" || k.N.BitLen() != 3072 {
						t.Fatalf("%s key", describeKey(k))
					}
				case *ecdsa.PublicKey:
					if typ != "ecdsa" || k.Curve.Params().Name != "P-256" {
						t.Fatalf("%s key", describeKey(k))
					}
				case ed25519.PublicKey:
					if typ != "ed25519" {
						t.Fatal("ed25519 key")
					}
				}
				if creds.Cert.KeyUsage&x509.KeyUsageDigitalSignature == 0 || creds.Cert.IsCA {
					t.Fatalf("leaf key usage %b, CA %v", creds.Cert.KeyUsage, creds.Cert.IsCA)
				}
				chain, err := VerifyChain(creds.Cert, nil, anchors, now)
				if err != nil {
					t.Fatal(err)
				}
				if len(chain) != 2 || !chain[1].Equal(ca) {
					t.Fatalf("chain of %d", len(chain))
				}
				fqdn := host + ".espd.test"
				if !MatchIdentity(&message.ID{IDType: message.IDFQDN, Data: []byte(fqdn)}, creds.Cert) {
					t.Fatalf("%s is not in the certificate", fqdn)
				}
				if got := IdentityFromCert(creds.Cert).String(); got != "CN="+fqdn+",O=espd,C=CH" {
					t.Fatalf("subject %q", got)
				}
				auth, err := Sign(creds.Key, octets, SupportedHashes(), SignOptions{})
				if err != nil {
					t.Fatal(err)
				}
				// The peer checks it with the certificate from the CERT payload.
				leaf, _, err := ParseCertPayloads(creds.CertPayloads())
				if err != nil {
					t.Fatal(err)
				}
				if _, err := Verify(auth, octets, leaf.PublicKey); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}
