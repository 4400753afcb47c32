package crypto

import (
	"bytes"
	"crypto/fips140"
	"crypto/hmac"
	"crypto/sha256"
	"testing"
)

// TestPRFVectors checks Compute against RFC 4868 §2.7.1's PRF test cases
// (rfc4868PRFVectors, shared with the truncated-ICV test).
func TestPRFVectors(t *testing.T) {
	for _, v := range rfc4868PRFVectors {
		for _, c := range []struct {
			prf  PRF
			want string
		}{
			{PRFHMACSHA2_256, v.sha256},
			{PRFHMACSHA2_384, v.sha384},
			{PRFHMACSHA2_512, v.sha512},
		} {
			t.Run(v.name+"/"+c.prf.String(), func(t *testing.T) {
				key := unhex(t, v.key)
				if len(key) < fipsMinHMACKeyLen && fips140.Enforced() {
					if c.prf.Compute(key, nil) != nil {
						t.Error("FIPS 140-only mode: a short key gave output instead of nil")
					}
					t.Skip("FIPS 140-only mode refuses HMAC keys under 112 bits")
				}
				got := c.prf.Compute(key, unhex(t, v.data))
				if want := unhex(t, c.want); !bytes.Equal(got, want) {
					t.Errorf("\n got %x\nwant %x", got, want)
				}
			})
		}
	}
}

func TestPRFProperties(t *testing.T) {
	for _, c := range []struct {
		prf                          PRF
		id                           uint16
		keyword                      string
		size, minNonce, maxPlusBytes int
	}{
		{PRFHMACSHA2_256, 5, "prfsha256", 32, 16, 255 * 32},
		{PRFHMACSHA2_384, 6, "prfsha384", 48, 24, 255 * 48},
		{PRFHMACSHA2_512, 7, "prfsha512", 64, 32, 255 * 64},
	} {
		p, ok := LookupPRF(c.id)
		if !ok || p != c.prf || !p.Supported() {
			t.Errorf("LookupPRF(%d) = %v, %v", c.id, p, ok)
		}
		if p.String() != c.keyword || p.Size() != c.size || p.KeyLen() != c.size ||
			p.MinNonceLen() != c.minNonce || p.MaxPlusLen() != c.maxPlusBytes {
			t.Errorf("%d: %q size %d key %d nonce %d plus %d", c.id, p, p.Size(), p.KeyLen(), p.MinNonceLen(), p.MaxPlusLen())
		}
	}
	// PRF_HMAC_MD5, PRF_HMAC_SHA1, PRF_AES128_XCBC, PRF_AES128_CMAC and
	// unassigned values: named, but producing nothing.
	for _, id := range []uint16{0, 1, 2, 4, 8, 9, 0xffff} {
		p, ok := LookupPRF(id)
		if ok || p.Supported() || p.Size() != 0 || p.MaxPlusLen() != 0 {
			t.Errorf("LookupPRF(%d) = %v, %v", id, p, ok)
		}
		if p.Compute([]byte("key material 16b"), []byte("data")) != nil || p.Plus([]byte("key material 16b"), nil, 0) != nil {
			t.Errorf("PRF %d computed something", id)
		}
	}
	if got := PRF(2).String(); got != "prf2" {
		t.Errorf("PRF(2).String() = %q", got)
	}
}

// TestPRFPlus checks prf+ against its definition in RFC 7296 §2.13, built
// here from crypto/hmac one block at a time, for lengths around the block
// boundaries and at the 255-block limit.
func TestPRFPlus(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	seed := []byte("Ni | Nr | SPIi | SPIr")
	reference := func(n int) []byte {
		var out, previous []byte
		for counter := 1; len(out) < n; counter++ {
			mac := hmac.New(sha256.New, key)
			mac.Write(previous)
			mac.Write(seed)
			mac.Write([]byte{byte(counter)})
			previous = mac.Sum(nil)
			out = append(out, previous...)
		}
		return out[:n]
	}
	p := PRFHMACSHA2_256
	for _, n := range []int{0, 1, 31, 32, 33, 64, 132, 255 * 32} {
		got := p.Plus(key, seed, n)
		if got == nil || len(got) != n || cap(got) != n {
			t.Fatalf("Plus(%d): len %d cap %d", n, len(got), cap(got))
		}
		if want := reference(n); !bytes.Equal(got, want) {
			t.Errorf("Plus(%d)\n got %x\nwant %x", n, got, want)
		}
	}
	// The first block is prf(K, S | 0x01) (§2.13).
	if got, want := p.Plus(key, seed, 32), p.Compute(key, append(append([]byte(nil), seed...), 1)); !bytes.Equal(got, want) {
		t.Errorf("T1 = %x, want %x", got, want)
	}
	for _, n := range []int{-1, 255*32 + 1, 1 << 30} {
		if got := p.Plus(key, seed, n); got != nil {
			t.Errorf("Plus(%d) gave %d bytes; want nil", n, len(got))
		}
	}
}

func BenchmarkPRFPlus(b *testing.B) {
	key := make([]byte, 32)
	seed := make([]byte, 80) // two 32-byte nonces and two SPIs
	for _, p := range []PRF{PRFHMACSHA2_256, PRFHMACSHA2_384, PRFHMACSHA2_512} {
		b.Run(p.String(), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				p.Plus(key, seed, 3*p.KeyLen()+2*36)
			}
		})
	}
}
