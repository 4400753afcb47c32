package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/espd/espd/internal/swanctl"
)

func TestSecretsDecoding(t *testing.T) {
	conf := `secrets {
	ike-text {
		secret = "This is a strong password"
	}
	ike-hex {
		secret = 0xDEADbeef
		id = 192.0.2.1
		id-2 = "@#0102"
		identity = alice@example.org
	}
	ike-b64 {
		secret = 0sQW5kaSdzIGhvbWU=
	}
	private-1 {
		file = a.pem
		secret = one
		secret-2 = "two words"
	}
	ecdsa {
		file = b.pem
		secret = 0xnot-decoded
	}
}
`
	f, err := Parse("s.conf", []byte(conf))
	if err != nil || len(f.Warnings) != 0 {
		t.Fatalf("%v %v", err, f.Warnings)
	}
	ike := f.Secrets.IKE
	if len(ike) != 3 {
		t.Fatalf("ike %+v", ike)
	}
	for i, want := range []string{"This is a strong password", "\xde\xad\xbe\xef", "Andi's home"} {
		if got := string(ike[i].Secret.Bytes()); got != want || ike[i].Secret.Len() != len(want) {
			t.Errorf("%s: %q, want %q", ike[i].Name, got, want)
		}
	}
	var ids []string
	for _, id := range ike[1].IDs {
		ids = append(ids, id.Type.String()+" "+id.Text)
	}
	if want := []string{"IPv4 address 192.0.2.1", "key ID @#0102", "email address alice@example.org"}; !reflect.DeepEqual(ids, want) {
		t.Errorf("owners %q, want %q", ids, want)
	}
	keys := f.Secrets.PrivateKeys
	if len(keys) != 2 || keys[0].Dir != KeyDirPrivate || keys[0].File != "a.pem" || keys[1].Dir != KeyDirECDSA ||
		len(keys[0].Passphrases) != 2 || string(keys[0].Passphrases[1].Bytes()) != "two words" ||
		string(keys[1].Passphrases[0].Bytes()) != "0xnot-decoded" {
		t.Errorf("private keys %+v", keys)
	}
	if got := ike[1].String(); got != "ike-hex: 4-byte pre-shared key for 192.0.2.1, @#0102, alice@example.org" {
		t.Errorf("String() = %q", got)
	}
	if got := ike[0].String(); got != "ike-text: 25-byte pre-shared key for any identity" {
		t.Errorf("String() = %q", got)
	}
	if got := keys[1].String(); got != "ecdsa: passphrase for ecdsa/b.pem" {
		t.Errorf("String() = %q", got)
	}
}

// TestSecretsNeverPrinted prints a loaded file in every way a log line,
// an error or a status reply might, and looks for the secrets.
func TestSecretsNeverPrinted(t *testing.T) {
	const (
		psk        = "correct horse battery staple"
		passphrase = "open sesame 1234"
	)
	conf := `secrets {
	ike-1 {
		secret = "` + psk + `"
		id = gw.example.org
	}
	rsa-1 {
		file = k.pem
		secret = "` + passphrase + `"
	}
}
`
	f, err := Parse("s.conf", []byte(conf))
	if err != nil {
		t.Fatal(err)
	}
	values := []any{f, *f, f.Secrets, f.Secrets.IKE, f.Secrets.IKE[0], &f.Secrets.IKE[0], f.Secrets.PrivateKeys,
		f.Secrets.PrivateKeys[0], f.Secrets.IKE[0].Secret, &f.Secrets.IKE[0].Secret}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T"} {
		for _, v := range values {
			out := fmt.Sprintf(verb, v)
			checkNoSecret(t, verb+" of "+fmt.Sprintf("%T", v), out, psk, passphrase)
		}
	}
	for _, v := range values {
		out, err := json.Marshal(v)
		if err != nil && !strings.Contains(err.Error(), "unsupported") {
			t.Errorf("json: %v", err)
		}
		checkNoSecret(t, fmt.Sprintf("json of %T", v), string(out), psk, passphrase)
	}
	if s := f.Secrets.IKE[0].Secret; s.String() != "<secret>" || s.GoString() != "<secret>" {
		t.Errorf("String %q GoString %q", s.String(), s.GoString())
	}
	if !bytes.Equal(f.Secrets.IKE[0].Secret.Bytes(), []byte(psk)) {
		t.Error("Bytes() lost the secret")
	}

	// Errors about a secret do not quote it.
	for _, bad := range []string{"0xc0ffee-is-not-hex", "0s!!not-base64!!", "0x"} {
		_, err := Parse("s.conf", []byte("secrets {\n\tike-1 {\n\t\tsecret = "+bad+"\n\t}\n}\n"))
		if err == nil {
			t.Fatalf("%q: no error", bad)
		}
		checkNoSecret(t, "error", err.Error(), bad[2:])
		var e *Error
		if !errors.As(err, &e) || e.Key != "secrets.ike-1.secret" {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func checkNoSecret(t *testing.T, what, out string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if s == "" {
			continue
		}
		if strings.Contains(out, s) || strings.Contains(out, fmt.Sprintf("%x", s)) {
			t.Errorf("%s shows the secret %q: %s", what, s, out)
		}
	}
}

// FuzzShared runs arbitrary files through the shared sections' decoders:
// nothing may panic, every error is a *Error with a position and key, no
// error names a secret's value, and whatever loads keeps the invariants
// the IKE daemon relies on.
func FuzzShared(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join("testdata", "*.conf"))
	rejects, _ := filepath.Glob(filepath.Join("testdata", "strongswan-rejects", "*.conf"))
	for _, path := range append(paths, rejects...) {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(sharedBase))
	f.Add([]byte("connections {\n\tb { remote_addrs = 192.0.2.2\n\t\tlocal { auth = psk }\n\t\tremote { }\n\t}\n\ta : connections.b {\n\t\tchildren { c : connections.b { } }\n\t}\n}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		root, err := swanctl.ParseFS(fstest.MapFS{"s.conf": {Data: data}}, "s.conf")
		if err != nil {
			return
		}
		file, err := decode(root)
		if file == nil {
			t.Fatal("no File")
		}
		if err != nil {
			for _, e := range allErrors(t, err) {
				if e.Pos.File == "" || e.Key == "" || e.Reason == "" {
					t.Fatalf("incomplete error %#v", e)
				}
				if strings.HasSuffix(e.Key, ".secret") {
					if kv := lookupKey(root, e.Key); kv != nil && len(kv.Value) >= 6 && strings.Contains(e.Reason, kv.Value) {
						t.Fatalf("error shows a secret: %s", e)
					}
				}
			}
			return
		}
		checkSharedInvariants(t, file)
	})
}

func lookupKey(root *swanctl.Section, dotted string) *swanctl.KeyValue {
	parts := strings.Split(dotted, ".")
	s := root
	for _, part := range parts[:len(parts)-1] {
		if s = s.Sub(part); s == nil {
			return nil
		}
	}
	return s.Key(parts[len(parts)-1])
}

func checkSharedInvariants(t *testing.T, f *File) {
	t.Helper()
	for _, c := range f.Connections {
		if c.Version != 2 || c.LocalPort == 0 || c.RemotePort == 0 || len(c.Proposals) == 0 {
			t.Fatalf("%s: %+v", c.Name, c)
		}
		if c.Local.Method == 0 || c.Remote.Method == 0 || c.Local.ID.Wildcard() {
			t.Fatalf("%s: auth %+v %+v", c.Name, c.Local, c.Remote)
		}
		for _, ch := range c.Children {
			if ch.Mode != ModeTunnel && ch.Mode != ModeTransport || len(ch.ESPProposals) == 0 ||
				len(ch.LocalTS) == 0 || len(ch.RemoteTS) == 0 || ch.ReplayWindow > 65536 {
				t.Fatalf("%s.%s: %+v", c.Name, ch.Name, ch)
			}
			for _, ts := range append(append([]TrafficSelector(nil), ch.LocalTS...), ch.RemoteTS...) {
				if !ts.Dynamic && (!ts.Start.IsValid() || ts.Start.Is4() != ts.End.Is4() || ts.End.Less(ts.Start)) {
					t.Fatalf("%s.%s: selector %+v", c.Name, ch.Name, ts)
				}
			}
			if ch.RekeyTime != 0 && ch.LifeTime != 0 && ch.RekeyTime >= ch.LifeTime {
				t.Fatalf("%s.%s: lifetimes %v %v", c.Name, ch.Name, ch.RekeyTime, ch.LifeTime)
			}
			if ch.StartAction != ActionNone {
				initiable := false
				for _, h := range c.RemoteAddrs {
					initiable = initiable || h.Specific()
				}
				if !initiable {
					t.Fatalf("%s.%s: start_action without a remote address", c.Name, ch.Name)
				}
			}
		}
	}
	for _, k := range f.Secrets.IKE {
		if k.Secret.Len() == 0 {
			t.Fatalf("%s: empty secret", k.Name)
		}
	}
	for _, k := range f.Secrets.PrivateKeys {
		if k.File == "" || len(k.Passphrases) == 0 {
			t.Fatalf("%s: %+v", k.Name, k)
		}
	}
	for _, a := range f.Authorities {
		if (a.CACert == "") == (a.File == "") {
			t.Fatalf("%s: %+v", a.Name, a)
		}
	}
}
