package pubkey

import (
	"crypto"
	"fmt"
	"slices"
	"strings"
)

// Constraint is one key type of a swanctl.conf public key auth value, as
// internal/config's KeyConstraint holds it ("ike:rsa/pss-3072-sha384" is
// {IKE: true, Type: "rsa/pss", MinBits: 3072, Hashes: ["sha384"]}). It is
// a separate type so that the config loader may use this package without
// an import cycle; the engine copies the fields over.
type Constraint struct {
	// IKE marks an "ike:" constraint, which applies to the IKE_AUTH
	// signature only.
	IKE bool
	// Type is "pubkey" (any key), "rsa", "rsa/pss", "ecdsa" or "ed25519".
	Type string
	// MinBits is the minimum key size; 0 for any.
	MinBits int
	// Hashes are "sha256", "sha384", "sha512" or "identity"; empty for any.
	Hashes []string
}

func (c Constraint) String() string {
	parts := []string{c.Type}
	if c.IKE {
		parts[0] = "ike:" + c.Type
	}
	if c.MinBits > 0 {
		parts = append(parts, fmt.Sprint(c.MinBits))
	}
	return strings.Join(append(parts, c.Hashes...), "-")
}

// admitsKey says whether the constraint's key type covers keyType.
func (c Constraint) admitsKey(keyType KeyType) bool {
	switch c.Type {
	case "pubkey":
		return keyType != KeyUnknown
	case "rsa", "rsa/pss":
		return keyType == KeyRSA
	case "ecdsa":
		return keyType == KeyECDSA
	case "ed25519":
		return keyType == KeyEd25519
	}
	return false
}

// admitsScheme says whether a signature made with s satisfies the
// constraint: "rsa" means PKCS#1 v1.5, "rsa/pss" means PSS, as in
// strongSwan's auth_cfg.
func (c Constraint) admitsScheme(s Scheme) bool {
	if !c.admitsKey(s.Key) {
		return false
	}
	if s.Key == KeyRSA && (c.Type == "rsa" && s.PSS || c.Type == "rsa/pss" && !s.PSS) {
		return false
	}
	return len(c.Hashes) == 0 || slices.Contains(c.Hashes, s.Hash.String())
}

// CheckKey checks a peer's public key (of the end-entity or of any CA
// certificate in its chain) against the constraints' key types and sizes:
// some constraint must name its type with a MinBits it reaches. No
// constraints allow any key.
func CheckKey(pub crypto.PublicKey, constraints []Constraint) error {
	if len(constraints) == 0 {
		return nil
	}
	keyType, bits := keyTypeOf(pub), keyBits(pub)
	for _, c := range constraints {
		if c.admitsKey(keyType) && bits >= c.MinBits {
			return nil
		}
	}
	return fmt.Errorf("%w: a %s key does not satisfy %s", ErrConstraint, describeKey(pub), describeConstraints(constraints))
}

// CheckScheme checks the scheme of a verified AUTH signature against the
// constraints. The "ike:" ones apply if there are any, all of them
// otherwise (strongSwan's signature_authentication_constraints default).
func CheckScheme(s Scheme, constraints []Constraint) error {
	applicable := signatureConstraints(constraints)
	if len(applicable) == 0 {
		return nil
	}
	for _, c := range applicable {
		if c.admitsScheme(s) {
			return nil
		}
	}
	return fmt.Errorf("%w: a %v signature does not satisfy %s", ErrConstraint, s, describeConstraints(applicable))
}

// SignOptionsFor derives the local signing choices from the local auth
// constraints for a key: PSS if the first constraint that covers an RSA
// key is "rsa/pss", and the hashes that constraints of that kind list, in
// their order.
func SignOptionsFor(constraints []Constraint, pub crypto.PublicKey) SignOptions {
	keyType := keyTypeOf(pub)
	var opts SignOptions
	first := true
	for _, c := range signatureConstraints(constraints) {
		if !c.admitsKey(keyType) {
			continue
		}
		if first {
			opts.PSS = keyType == KeyRSA && c.Type == "rsa/pss"
			first = false
		} else if keyType == KeyRSA && c.Type != "pubkey" && (c.Type == "rsa/pss") != opts.PSS {
			continue
		}
		for _, name := range c.Hashes {
			if h, ok := parseHashName(name); ok && !slices.Contains(opts.Hashes, h) {
				opts.Hashes = append(opts.Hashes, h)
			}
		}
	}
	return opts
}

func signatureConstraints(constraints []Constraint) []Constraint {
	var ike []Constraint
	for _, c := range constraints {
		if c.IKE {
			ike = append(ike, c)
		}
	}
	if len(ike) > 0 {
		return ike
	}
	return constraints
}

func describeConstraints(constraints []Constraint) string {
	words := make([]string, len(constraints))
	for i, c := range constraints {
		words[i] = c.String()
	}
	return "auth constraint " + strings.Join(words, " or ")
}
