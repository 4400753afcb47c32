package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/espd/espd/esp/installer"
	"github.com/espd/espd/ike"
	"github.com/espd/espd/internal/config"
)

// The shipped examples are the README's promise: espd runs them as they
// are. Those that name certificates need the files beside them, which the
// repository does not ship, and must say which file is missing.
func TestExamplesBecomeIKEConnections(t *testing.T) {
	dir := filepath.Join("..", "..", "internal", "config", "testdata")
	for _, tc := range []struct {
		file, conn, child string
		check             func(t *testing.T, c ike.Config)
		missing           string
	}{
		{file: "site-to-site.conf", conn: "gw1-gw2", child: "net-net", check: func(t *testing.T, c ike.Config) {
			if c.Remote != netip.MustParseAddrPort("192.0.2.2:500") || len(c.Proposals) != 3 || len(c.PSK) == 0 {
				t.Errorf("site-to-site: %+v", c)
			}
			if ch := c.Children[0]; len(ch.RemoteTS) != 2 || len(ch.ESPProposals) != 3 || ch.ReplayWindow != 128 {
				t.Errorf("site-to-site child: %+v", ch)
			}
		}},
		{file: "host-to-host.conf", conn: "host-host", child: "host", check: func(t *testing.T, c ike.Config) {
			ch := c.Children[0]
			if ch.Mode != installer.Transport || !ch.LocalDynamic || !ch.RemoteDynamic || len(ch.LocalTS)+len(ch.RemoteTS) != 0 {
				t.Errorf("host-to-host child: %+v", ch)
			}
			if c.RemoteID == nil || c.RemoteID.String() != "192.0.2.2" {
				t.Errorf("host-to-host remote id %v", c.RemoteID)
			}
		}},
		{file: "example.conf", conn: "gw-gw", child: "net-net", check: func(t *testing.T, c ike.Config) {
			// espd.ike's settings reach every connection.
			if c.HalfOpenTimeout != 30*time.Second || c.Retransmit.Timeout != 4*time.Second || c.Retransmit.Tries != 5 {
				t.Errorf("espd.ike settings: half-open %v, retransmit %+v", c.HalfOpenTimeout, c.Retransmit)
			}
		}},
		{file: "road-warrior-gateway.conf", missing: "x509"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			f, err := config.Load(filepath.Join(dir, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			conns, err := ikeConnections(f)
			if tc.missing != "" {
				if err == nil || !strings.Contains(err.Error(), tc.missing) || !errors.Is(err, config.ErrInvalid) {
					t.Fatalf("want an error naming the missing %s file, with file and line: %v", tc.missing, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(conns) != 1 || conns[0].Name != tc.conn || conns[0].Children[0].Name != tc.child {
				t.Fatalf("connections %+v", conns)
			}
			tc.check(t, conns[0])
		})
	}
}

// ikeConnection casts config.Action to ike.Action; the values must agree.
func TestActionValuesAgree(t *testing.T) {
	if ike.ActionNone != ike.Action(config.ActionNone) || ike.ActionTrap != ike.Action(config.ActionTrap) ||
		ike.ActionStart != ike.Action(config.ActionStart) {
		t.Fatal("ike.Action and config.Action disagree; convert them one by one")
	}
}

// A certificate's key encrypted in the traditional PEM way is opened with
// the passphrase of the secrets section that names its file, as swanctl
// does; a wrong passphrase is an error that says so.
func TestEncryptedKeyFromSecrets(t *testing.T) {
	dir := t.TempDir()
	caKey, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "espd test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, _ := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	gwKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	gwTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "gw.example.org"},
		DNSNames: []string{"gw.example.org"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature}
	caCert, _ := x509.ParseCertificate(caDER)
	gwDER, _ := x509.CreateCertificate(rand.Reader, gwTmpl, caCert, gwKey.Public(), caKey)
	keyDER, _ := x509.MarshalECPrivateKey(gwKey)
	encrypted, err := x509.EncryptPEMBlock(rand.Reader, "EC PRIVATE KEY", keyDER, []byte("gateway key passphrase"), x509.PEMCipherAES128) //nolint:staticcheck // the format swanctl reads
	if err != nil {
		t.Fatal(err)
	}
	for sub, data := range map[string][]byte{
		"x509ca/ca.pem":   pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		"x509/gw.pem":     pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: gwDER}),
		"ecdsa/gwKey.pem": pem.EncodeToMemory(encrypted),
	} {
		os.MkdirAll(filepath.Join(dir, filepath.Dir(sub)), 0o700)
		if err := os.WriteFile(filepath.Join(dir, sub), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	conf := func(passphrase string) string {
		return `connections {
    gw {
        local_addrs = 192.0.2.1
        remote_addrs = 192.0.2.2
        local {
            auth = pubkey
            certs = gw.pem
            id = gw.example.org
        }
        remote {
            auth = pubkey
        }
        children {
            net {
                local_ts = 198.18.1.0/24
                remote_ts = 198.18.2.0/24
            }
        }
    }
}
secrets {
    ecdsa-gw {
        file = gwKey.pem
        secret = "` + passphrase + `"
    }
}
`
	}
	path := filepath.Join(dir, "swanctl.conf")
	for _, tc := range []struct {
		passphrase string
		ok         bool
	}{{"gateway key passphrase", true}, {"not it", false}} {
		if err := os.WriteFile(path, []byte(conf(tc.passphrase)), 0o600); err != nil {
			t.Fatal(err)
		}
		f, err := config.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		conns, err := ikeConnections(f)
		if !tc.ok {
			if err == nil || !strings.Contains(err.Error(), "passphrase") {
				t.Errorf("a wrong passphrase: %v, want an error about it", err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if c := conns[0]; c.Credentials == nil || !gwKey.Public().(*ecdsa.PublicKey).Equal(c.Credentials.Key.Public()) ||
			c.RemoteAuth != ike.AuthPubkey || len(c.TrustAnchors.Certificates()) != 1 {
			t.Errorf("credentials %+v, remote auth %v", c.Credentials, c.RemoteAuth)
		}
	}
}
