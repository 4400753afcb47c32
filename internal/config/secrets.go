package config

import (
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/espd/espd/internal/swanctl"
)

// Secret is key material or a passphrase from the secrets section. It
// never shows its value: printing it with any fmt verb, or marshalling it
// as text or JSON, gives "<secret>", so that no log line, error or status
// output can leak it by accident. Bytes is the one way to the value.
type Secret struct {
	value []byte
}

const redacted = "<secret>"

// NewSecret wraps b (not copied).
func NewSecret(b []byte) Secret { return Secret{value: b} }

// Bytes returns the secret itself; the caller must not print it.
func (s Secret) Bytes() []byte { return s.value }

// Len is the secret's length in bytes, which may be shown.
func (s Secret) Len() int { return len(s.value) }

func (s Secret) String() string   { return redacted }
func (s Secret) GoString() string { return redacted }

// Format makes every fmt verb, %x and %d included, print the placeholder.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redacted)) }

// MarshalText keeps the value out of JSON and other text encodings.
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// Secrets is the secrets section: what swanctl --load-creds takes from
// swanctl.conf (swanctl.conf(5), secrets).
type Secrets struct {
	// IKE are the pre-shared keys (ike<suffix> sections), in file order.
	IKE []SharedKey
	// PrivateKeys are the passphrases of encrypted private keys
	// (private<suffix>, rsa<suffix> and ecdsa<suffix> sections).
	PrivateKeys []KeyPassphrase
}

// SharedKey is one secrets.ike<suffix> section: an IKE pre-shared key and
// the identities it belongs to.
type SharedKey struct {
	Name string
	Pos  swanctl.Pos
	// Secret is the key: text, or decoded from 0x (hex) or 0s (Base64).
	Secret Secret
	// IDs are the owners (id<suffix> keys); a key without owners is used
	// for any pair of identities.
	IDs []Identity
}

func (k SharedKey) String() string {
	owners := "any identity"
	if len(k.IDs) > 0 {
		var ids []string
		for _, id := range k.IDs {
			ids = append(ids, id.Text)
		}
		owners = strings.Join(ids, ", ")
	}
	return fmt.Sprintf("%s: %d-byte pre-shared key for %s", k.Name, k.Secret.Len(), owners)
}

// The directories of swanctl's configuration directory (/etc/swanctl)
// that a KeyPassphrase's File is in.
const (
	KeyDirPrivate = "private"
	KeyDirRSA     = "rsa"
	KeyDirECDSA   = "ecdsa"
)

// KeyPassphrase is one secrets.private<suffix>, rsa<suffix> or
// ecdsa<suffix> section: the passphrase of an encrypted private key file.
type KeyPassphrase struct {
	Name string
	Pos  swanctl.Pos
	// Dir is KeyDirPrivate, KeyDirRSA or KeyDirECDSA: the section's prefix,
	// which is also the directory (under swanctl's configuration
	// directory) that File is in.
	Dir  string
	File string
	// Passphrases are tried in turn: the secret key and any secret<suffix>
	// keys, in file order (swanctl's load_creds.c takes every key that
	// starts with "secret"). Passphrases are used as written, without
	// 0x/0s decoding.
	Passphrases []Secret
}

func (k KeyPassphrase) String() string {
	return fmt.Sprintf("%s: passphrase for %s/%s", k.Name, k.Dir, k.File)
}

// secretKinds are the section prefixes of swanctl's load_creds.c, in the
// order it tries them.
var secretKinds = []string{"eap", "xauth", "ntlm", "ike", "ppk", "private", "rsa", "ecdsa", "bliss", "pkcs8", "pkcs12", "token"}

func (sd *sharedDecoder) secrets(s *swanctl.Section) Secrets {
	r := sd.reader(s, "secrets")
	defer r.done()
	var secrets Secrets
	for _, sub := range r.s.Sections {
		r.sub(sub.Name)
		kind := ""
		for _, k := range secretKinds {
			// Case-sensitive, as swanctl's strpfx.
			if strings.HasPrefix(sub.Name, k) {
				kind = k
				break
			}
		}
		path := "secrets." + sub.Name
		switch kind {
		case "ike":
			if key, ok := sd.sharedKey(sub, path); ok {
				secrets.IKE = append(secrets.IKE, key)
			}
		case KeyDirPrivate, KeyDirRSA, KeyDirECDSA:
			if key, ok := sd.keyPassphrase(sub, path, kind); ok {
				secrets.PrivateKeys = append(secrets.PrivateKeys, key)
			}
		case "":
			sd.warn(sub.Pos, path, "unknown section "+path+" (ignored; secret sections start with ike, private, rsa or ecdsa)")
		default:
			sd.warn(sub.Pos, path, fmt.Sprintf("%s secrets are not supported by espd (%s ignored)", kind, path))
		}
	}
	return secrets
}

func (sd *sharedDecoder) sharedKey(s *swanctl.Section, path string) (SharedKey, bool) {
	errsBefore := len(sd.errs)
	r := sd.reader(s, path)
	defer r.done()
	key := SharedKey{Name: s.Name, Pos: s.Pos}
	if kv := r.required("secret", "required: the pre-shared key (text, 0x followed by hex, or 0s followed by Base64)"); kv == nil {
		// Reported.
	} else if value, reason := decodeSharedSecret(kv.Value); reason != "" {
		r.fail(kv, reason)
	} else {
		key.Secret = NewSecret(value)
	}
	for _, kv := range r.s.Keys {
		// swanctl takes every key that starts with "id" as an owner.
		if !strings.HasPrefix(kv.Key, "id") {
			continue
		}
		if kv = r.key(kv.Key); kv == nil {
			continue
		}
		id, err := parseIdentity(kv.Value)
		if err != nil {
			r.fail(kv, err.Error())
			continue
		}
		key.IDs = append(key.IDs, id)
	}
	return key, len(sd.errs) == errsBefore
}

// decodeSharedSecret decodes a PSK as swanctl's load_secret does. Its
// reasons never quote the value: the value is the secret.
func decodeSharedSecret(v string) ([]byte, string) {
	var (
		value []byte
		err   error
	)
	switch {
	case strings.HasPrefix(v, "0x") || strings.HasPrefix(v, "0X"):
		if value, err = parseHexKey(v); err != nil {
			return nil, "the 0x-prefixed secret is not valid hex (value not shown)"
		}
	case strings.HasPrefix(v, "0s") || strings.HasPrefix(v, "0S"):
		if value, err = base64.StdEncoding.DecodeString(v[2:]); err != nil {
			return nil, "the 0s-prefixed secret is not valid Base64 (value not shown)"
		}
	default:
		value = []byte(v)
	}
	if len(value) == 0 {
		return nil, "the secret decodes to nothing"
	}
	return value, ""
}

func (sd *sharedDecoder) keyPassphrase(s *swanctl.Section, path, dir string) (KeyPassphrase, bool) {
	errsBefore := len(sd.errs)
	r := sd.reader(s, path)
	defer r.done()
	key := KeyPassphrase{Name: s.Name, Pos: s.Pos, Dir: dir}
	if kv := r.required("file", "required: the name of the encrypted key file in swanctl's "+dir+" directory"); kv == nil {
		// Reported.
	} else if strings.Contains(kv.Value, "/") {
		// swanctl compares the name with the files it finds in the
		// directory, so a path never matches.
		r.fail(kv, fmt.Sprintf("%q is a path; give the file's name in swanctl's %s directory", kv.Value, dir))
	} else {
		key.File = kv.Value
	}
	for _, kv := range r.s.Keys {
		if !strings.HasPrefix(kv.Key, "secret") {
			continue
		}
		if kv = r.key(kv.Key); kv != nil {
			key.Passphrases = append(key.Passphrases, NewSecret([]byte(kv.Value)))
		}
	}
	if len(key.Passphrases) == 0 {
		r.failMissing("secret", "required: the passphrase of "+dir+"/"+key.File)
	}
	return key, len(sd.errs) == errsBefore
}
