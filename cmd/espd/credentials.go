package main

import (
	"crypto"
	"errors"
	"fmt"
	"path/filepath"
	"slices"

	"github.com/espd/espd/ike"
	"github.com/espd/espd/ike/message"
	"github.com/espd/espd/ike/pubkey"
	"github.com/espd/espd/internal/config"
)

// swanctl reads credentials from directories beside swanctl.conf
// (swanctl(8), FILES): certificates from x509, CA certificates from
// x509ca, private keys from private, rsa, ecdsa and pkcs8. espd reads the
// same places, relative to the configuration file, so that one directory
// serves both.
var privateKeyDirs = []string{"private", "rsa", "ecdsa", "pkcs8"}

// credentialPath resolves a file named in the configuration: absolute, or
// relative to the swanctl directory dir of the configuration file.
func credentialPath(confFile, dir, name string) string {
	if filepath.IsAbs(name) {
		return name
	}
	return filepath.Join(filepath.Dir(confFile), dir, name)
}

// localCredentials loads our certificate (the first of local.certs) and
// finds its private key among the key directories, as charon matches keys
// to certificates by their public key. An encrypted key is opened with the
// passphrases the secrets section gives for its file.
func localCredentials(f *config.File, confFile string, round config.AuthRound) (*pubkey.Credentials, error) {
	if len(round.Certs) == 0 {
		if len(round.Pubkeys) > 0 {
			return localRawKey(f, confFile, round.Pubkeys[0])
		}
		return nil, fmt.Errorf("auth = pubkey needs a certificate in certs, or a raw public key in pubkeys")
	}
	certPath := credentialPath(confFile, "x509", round.Certs[0])
	var intermediates []string
	for _, c := range round.Certs[1:] {
		intermediates = append(intermediates, credentialPath(confFile, "x509", c))
	}
	var tried []error
	for _, dir := range privateKeyDirs {
		keys, _ := filepath.Glob(filepath.Join(filepath.Dir(confFile), dir, "*"))
		for _, key := range keys {
			creds, err := pubkey.LoadCredentialsWithPassphrases(certPath, key, passphrasesFor(f, confFile, key), intermediates...)
			if err == nil {
				return creds, nil
			}
			if !errors.Is(err, pubkey.ErrKeyMismatch) {
				tried = append(tried, err)
			}
		}
	}
	if _, err := pubkey.LoadCertificate(certPath); err != nil {
		return nil, err
	}
	return nil, errors.Join(append([]error{fmt.Errorf("no private key for %s in %v beside the configuration", certPath, privateKeyDirs)}, tried...)...)
}

// localRawKey finds the private key of our raw public key (local.pubkeys)
// among the key directories.
func localRawKey(f *config.File, confFile, name string) (*pubkey.Credentials, error) {
	pub, err := pubkey.LoadPublicKey(credentialPath(confFile, "pubkey", name))
	if err != nil {
		return nil, err
	}
	for _, dir := range privateKeyDirs {
		keys, _ := filepath.Glob(filepath.Join(filepath.Dir(confFile), dir, "*"))
		for _, path := range keys {
			key, err := pubkey.LoadEncryptedPrivateKey(path, passphrasesFor(f, confFile, path))
			if err == nil && pubkey.MatchesPublicKey(key, pub) {
				return &pubkey.Credentials{Key: key}, nil
			}
		}
	}
	return nil, fmt.Errorf("no private key for the public key %s in %v beside the configuration", name, privateKeyDirs)
}

// remoteRawKeys loads the peer's raw public keys (remote.pubkeys).
func remoteRawKeys(confFile string, names []string) ([]crypto.PublicKey, error) {
	var keys []crypto.PublicKey
	for _, name := range names {
		key, err := pubkey.LoadPublicKey(credentialPath(confFile, "pubkey", name))
		if err != nil {
			return nil, err
		}
		keys = append(keys, key)
	}
	return keys, nil
}

// passphrasesFor are the passphrases of the secrets section's private,
// rsa and ecdsa entries that name the key file keyPath.
func passphrasesFor(f *config.File, confFile, keyPath string) [][]byte {
	var out [][]byte
	for _, k := range f.Secrets.PrivateKeys {
		if filepath.Clean(credentialPath(confFile, k.Dir, k.File)) != filepath.Clean(keyPath) {
			continue
		}
		for _, p := range k.Passphrases {
			out = append(out, p.Bytes())
		}
	}
	return out
}

// trustAnchors are the CA certificates the peer's certificate must chain
// to: remote.cacerts when given, else every CA charon would load, those of
// the authorities section and the x509ca directory.
func trustAnchors(f *config.File, confFile string, round config.AuthRound) (*pubkey.TrustAnchors, error) {
	var paths []string
	if len(round.CACerts) > 0 {
		for _, c := range round.CACerts {
			paths = append(paths, credentialPath(confFile, "x509ca", c))
		}
	} else {
		for _, a := range f.Authorities {
			if a.File != "" {
				paths = append(paths, a.File)
			} else {
				paths = append(paths, credentialPath(confFile, "x509ca", a.CACert))
			}
		}
		all, _ := filepath.Glob(filepath.Join(filepath.Dir(confFile), "x509ca", "*"))
		paths = append(paths, all...)
	}
	slices.Sort(paths)
	paths = slices.Compact(paths)
	if len(paths) == 0 {
		return nil, fmt.Errorf("remote auth = pubkey, but there is no CA certificate: set remote.cacerts or put one in x509ca beside the configuration")
	}
	return pubkey.LoadTrustAnchors(paths...)
}

func constraints(round config.AuthRound) []pubkey.Constraint {
	var out []pubkey.Constraint
	for _, c := range round.Constraints {
		out = append(out, pubkey.Constraint{IKE: c.IKE, Type: string(c.Type), MinBits: c.MinBits, Hashes: c.Hashes})
	}
	return out
}

// configureAuth fills the engine's authentication from the local and
// remote sections: a PSK from the secrets, or certificates.
func configureAuth(f *config.File, c *config.Connection, out *ike.Config) error {
	if c.Local.Method == config.AuthPubkey {
		creds, err := localCredentials(f, c.Pos.File, c.Local)
		if err != nil {
			key := ".certs"
			if len(c.Local.Certs) == 0 && len(c.Local.Pubkeys) > 0 {
				key = ".pubkeys"
			}
			return &config.Error{Pos: c.Local.Pos, Key: "connections." + c.Name + "." + c.Local.Section + key, Reason: err.Error()}
		}
		out.Credentials = creds
		out.SignOptions = pubkey.SignOptionsFor(constraints(c.Local), creds.Key.Public())
		if c.Local.Auth == "rsa/pss" {
			out.SignOptions.PSS = true
		}
	}
	if c.Remote.Method == config.AuthPubkey && len(c.Remote.Pubkeys) > 0 {
		keys, err := remoteRawKeys(c.Pos.File, c.Remote.Pubkeys)
		if err != nil {
			return &config.Error{Pos: c.Remote.Pos, Key: "connections." + c.Name + "." + c.Remote.Section + ".pubkeys", Reason: err.Error()}
		}
		out.RemoteAuth, out.RemotePublicKeys, out.RemoteConstraints = ike.AuthPubkey, keys, constraints(c.Remote)
	} else if c.Remote.Method == config.AuthPubkey {
		anchors, err := trustAnchors(f, c.Pos.File, c.Remote)
		if err != nil {
			return &config.Error{Pos: c.Remote.Pos, Key: "connections." + c.Name + "." + c.Remote.Section + ".cacerts", Reason: err.Error()}
		}
		out.RemoteAuth, out.TrustAnchors, out.RemoteConstraints = ike.AuthPubkey, anchors, constraints(c.Remote)
	}
	if c.Local.Method == config.AuthPSK || c.Remote.Method == config.AuthPSK {
		psk, ok := findPSK(f.Secrets.IKE, c.Local.ID, c.Remote.ID)
		if !ok {
			return &config.Error{Pos: c.Pos, Key: "connections." + c.Name + ".local.auth",
				Reason: fmt.Sprintf("auth = psk, but no secrets.ike section holds a key for %q and %q", c.Local.ID.Text, c.Remote.ID.Text)}
		}
		out.PSK = psk
	}
	return nil
}

// engineIdentity turns an identity of the file into an ID payload; %any
// is nil (any peer, or our default).
func engineIdentity(id config.Identity) (*message.ID, error) {
	if id.Type == config.IDAny {
		return nil, nil
	}
	if id.Wildcard() && id.Type != config.IDFQDN && id.Type != config.IDEmail {
		return nil, fmt.Errorf("wildcards are supported in FQDN and email identities only, not in %q", id.Text)
	}
	return &message.ID{IDType: message.IDType(id.Type), Data: slices.Clone(id.Data)}, nil
}
