package pubkey

import (
	"crypto"
	"crypto/rsa"
	"math/big"
	"slices"
	"testing"

	"github.com/espd/espd/ike/message"
)

func TestCheckKey(t *testing.T) {
	rsa2048 := testKey(t, "rsa2048").Public()
	rsa4096 := &rsa.PublicKey{N: new(big.Int).Lsh(big.NewInt(1), 4095), E: 65537}
	p256, p384, ed := testKey(t, "p256").Public(), testKey(t, "p384").Public(), testKey(t, "ed25519").Public()
	for _, tc := range []struct {
		name        string
		pub         crypto.PublicKey
		constraints []Constraint
		ok          bool
	}{
		{"no constraints", rsa2048, nil, true},
		{"pubkey", ed, []Constraint{{Type: "pubkey"}}, true},
		{"rsa", rsa2048, []Constraint{{Type: "rsa"}}, true},
		{"rsa-3072 with 2048", rsa2048, []Constraint{{Type: "rsa", MinBits: 3072}}, false},
		{"rsa-3072 with 4096", rsa4096, []Constraint{{Type: "rsa", MinBits: 3072}}, true},
		{"rsa/pss covers rsa keys", rsa2048, []Constraint{{Type: "rsa/pss", MinBits: 2048}}, true},
		{"ecdsa-384 with p256", p256, []Constraint{{Type: "ecdsa", MinBits: 384}}, false},
		{"ecdsa-384 with p384", p384, []Constraint{{Type: "ecdsa", MinBits: 384}}, true},
		{"ecdsa with rsa", rsa2048, []Constraint{{Type: "ecdsa"}}, false},
		{"ed25519", ed, []Constraint{{Type: "ed25519"}}, true},
		{"either", p256, []Constraint{{Type: "rsa", MinBits: 3072}, {Type: "ecdsa", MinBits: 256}}, true},
		{"ike: sizes count too", p256, []Constraint{{IKE: true, Type: "ecdsa", MinBits: 384}}, false},
		{"unknown type", p256, []Constraint{{Type: "bliss"}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckKey(tc.pub, tc.constraints)
			if tc.ok && err != nil {
				t.Fatal(err)
			}
			if !tc.ok {
				wantErr(t, err, ErrConstraint)
			}
		})
	}
}

func TestCheckScheme(t *testing.T) {
	ds := message.AuthDigitalSignature
	pkcs256 := Scheme{Method: ds, Key: KeyRSA, Hash: HashSHA256}
	pss384 := Scheme{Method: ds, Key: KeyRSA, Hash: HashSHA384, PSS: true, SaltLength: 48}
	ec384 := Scheme{Method: ds, Key: KeyECDSA, Hash: HashSHA384}
	ed := Scheme{Method: ds, Key: KeyEd25519, Hash: HashIdentity}
	rsaSHA1 := Scheme{Method: message.AuthRSASignature, Key: KeyRSA, Hash: HashSHA1}
	for _, tc := range []struct {
		name        string
		s           Scheme
		constraints []Constraint
		ok          bool
	}{
		{"none", rsaSHA1, nil, true},
		{"pubkey any", rsaSHA1, []Constraint{{Type: "pubkey"}}, true},
		{"pubkey-sha256 refuses sha1", rsaSHA1, []Constraint{{Type: "pubkey", Hashes: []string{"sha256"}}}, false},
		{"rsa-sha256", pkcs256, []Constraint{{Type: "rsa", Hashes: []string{"sha256"}}}, true},
		{"rsa is not pss", pss384, []Constraint{{Type: "rsa"}}, false},
		{"rsa/pss is not pkcs1", pkcs256, []Constraint{{Type: "rsa/pss"}}, false},
		{"rsa/pss-sha384", pss384, []Constraint{{Type: "rsa/pss", Hashes: []string{"sha256", "sha384"}}}, true},
		{"ecdsa-sha256 refuses sha384", ec384, []Constraint{{Type: "ecdsa", Hashes: []string{"sha256"}}}, false},
		{"ecdsa-384-sha384", ec384, []Constraint{{Type: "ecdsa", MinBits: 384, Hashes: []string{"sha384"}}}, true},
		{"ed25519-identity", ed, []Constraint{{Type: "ed25519", Hashes: []string{"identity"}}}, true},
		{"ed25519 vs ecdsa", ed, []Constraint{{Type: "ecdsa"}}, false},
		// With an ike: constraint only those apply to the signature.
		{"ike: wins", ec384, []Constraint{{Type: "ecdsa"}, {IKE: true, Type: "rsa/pss"}}, false},
		{"ike: allows", pss384, []Constraint{{Type: "ecdsa"}, {IKE: true, Type: "rsa/pss"}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckScheme(tc.s, tc.constraints)
			if tc.ok && err != nil {
				t.Fatal(err)
			}
			if !tc.ok {
				wantErr(t, err, ErrConstraint)
			}
		})
	}
	err := CheckScheme(ec384, []Constraint{{Type: "rsa", MinBits: 2048, Hashes: []string{"sha256"}}, {IKE: false, Type: "ed25519"}})
	if err == nil || err.Error() != "pubkey: auth constraint not met: a ecdsa-sha384 signature does not satisfy auth constraint rsa-2048-sha256 or ed25519" {
		t.Fatalf("message: %v", err)
	}
}

func TestSignOptionsFor(t *testing.T) {
	rsaPub, ecPub := testKey(t, "rsa2048").Public(), testKey(t, "p384").Public()
	for _, tc := range []struct {
		name        string
		pub         crypto.PublicKey
		constraints []Constraint
		want        SignOptions
	}{
		{"none", rsaPub, nil, SignOptions{}},
		{"rsa/pss", rsaPub, []Constraint{{Type: "rsa/pss"}}, SignOptions{PSS: true}},
		{"rsa/pss-sha384-sha256", rsaPub, []Constraint{{Type: "rsa/pss", Hashes: []string{"sha384", "sha256"}}},
			SignOptions{PSS: true, Hashes: []Hash{HashSHA384, HashSHA256}}},
		{"pkcs1 first", rsaPub, []Constraint{{Type: "rsa", Hashes: []string{"sha512"}}, {Type: "rsa/pss", Hashes: []string{"sha256"}}},
			SignOptions{Hashes: []Hash{HashSHA512}}},
		{"ecdsa picks its own", ecPub, []Constraint{{Type: "rsa", Hashes: []string{"sha256"}}, {Type: "ecdsa", Hashes: []string{"sha512", "sha384"}}},
			SignOptions{Hashes: []Hash{HashSHA512, HashSHA384}}},
		{"ike: only", ecPub, []Constraint{{Type: "ecdsa", Hashes: []string{"sha256"}}, {IKE: true, Type: "ecdsa", Hashes: []string{"sha384"}}},
			SignOptions{Hashes: []Hash{HashSHA384}}},
		{"pubkey hashes", ecPub, []Constraint{{Type: "pubkey", Hashes: []string{"sha384", "bogus"}}},
			SignOptions{Hashes: []Hash{HashSHA384}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := SignOptionsFor(tc.constraints, tc.pub)
			if got.PSS != tc.want.PSS || !slices.Equal(got.Hashes, tc.want.Hashes) {
				t.Fatalf("%+v, want %+v", got, tc.want)
			}
		})
	}
	// And the options sign.
	opts := SignOptionsFor([]Constraint{{Type: "rsa/pss", Hashes: []string{"sha512"}}}, rsaPub)
	auth, err := Sign(testKey(t, "rsa2048"), testOctets(10), nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Verify(auth, testOctets(10), rsaPub)
	if err != nil || !s.PSS || s.Hash != HashSHA512 {
		t.Fatalf("%v %v", s, err)
	}
}
