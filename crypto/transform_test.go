package crypto

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
)

// unhex decodes hex written across lines and with spaces, as RFCs print it.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

func randomBytes(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// newRandomTransform builds suite's transform with fresh random keys.
func newRandomTransform(t testing.TB, suite Suite) Transform {
	t.Helper()
	tr, err := suite.New(randomBytes(t, suite.EncKeyLen), randomBytes(t, suite.IntegKeyLen))
	if err != nil {
		t.Fatalf("%s: %v", suite.Keyword, err)
	}
	return tr
}

func mustParse(t testing.TB, proposal string) Suite {
	t.Helper()
	suite, err := ParseESPProposal(proposal)
	if err != nil {
		t.Fatal(err)
	}
	return suite
}

// message is one protected message in one buffer, the way the data plane
// keeps an ESP packet: auth | IV | payload | room for the ICV.
type message struct {
	buf                []byte
	auth, iv, payload  []byte
	payloadOff, icvLen int
}

func layOut(auth, iv, payload []byte, icvLen int) *message {
	buf := make([]byte, len(auth)+len(iv)+len(payload)+icvLen)
	a := copy(buf, auth)
	i := copy(buf[a:], iv)
	p := copy(buf[a+i:], payload)
	return &message{
		buf:        buf,
		auth:       buf[:a],
		iv:         buf[a : a+i],
		payload:    buf[a+i : a+i+p],
		payloadOff: a + i,
		icvLen:     icvLen,
	}
}

// sealed is payload | ICV after Seal.
func (m *message) sealed() []byte { return m.buf[m.payloadOff:] }

// checkKAT seals plaintext in place and compares the result with
// wantCiphertext and, unless nil, wantICV; then it opens the expected bytes
// (or, without wantICV, the sealed ones) and compares with plaintext.
func checkKAT(t *testing.T, tr Transform, auth, iv, plaintext, trailer, wantCiphertext, wantICV []byte) {
	t.Helper()
	m := layOut(auth, iv, plaintext, tr.ICVLen())
	sealed := tr.Seal(m.auth, m.iv, m.payload, trailer)
	if &sealed[0] != &m.buf[m.payloadOff] || len(sealed) != len(plaintext)+tr.ICVLen() {
		t.Fatalf("%s: Seal did not seal in place", tr.Name())
	}
	if got := sealed[:len(plaintext)]; !bytes.Equal(got, wantCiphertext) {
		t.Errorf("%s: ciphertext\n got %x\nwant %x", tr.Name(), got, wantCiphertext)
	}
	toOpen := append([]byte(nil), sealed...)
	if wantICV != nil {
		if got := sealed[len(plaintext):]; !bytes.Equal(got, wantICV) {
			t.Errorf("%s: ICV\n got %x\nwant %x", tr.Name(), got, wantICV)
		}
		toOpen = append(append([]byte(nil), wantCiphertext...), wantICV...)
	}
	o := layOut(auth, iv, toOpen, 0)
	opened, err := tr.Open(o.auth, o.iv, o.payload, trailer)
	if err != nil {
		t.Fatalf("%s: Open of the known answer: %v", tr.Name(), err)
	}
	if !bytes.Equal(opened, plaintext) {
		t.Errorf("%s: opened\n got %x\nwant %x", tr.Name(), opened, plaintext)
	}
}

// payloadLengths gives plaintext lengths a suite accepts, from empty to
// larger than a jumbo frame.
func payloadLengths(tr Transform) []int {
	var lengths []int
	for _, n := range []int{0, 1, 3, 4, 15, 16, 17, 31, 32, 33, 64, 255, 1400, 1500, 9000} {
		if n%tr.BlockLen() == 0 || tr.AEAD() {
			lengths = append(lengths, n)
		}
	}
	return lengths
}

// espAuth is SPI | seq-lo, or SPI | seq-hi | seq-lo for an AEAD with ESN
// (RFC 4106 §5, RFC 7634 §3); espTrailer is seq-hi for a non-AEAD with ESN
// (RFC 4303 §3.3.2.1).
func espAuth(tr Transform, spi uint32, seq uint64, esn bool) []byte {
	auth := binary.BigEndian.AppendUint32(nil, spi)
	if esn && tr.AEAD() {
		auth = binary.BigEndian.AppendUint32(auth, uint32(seq>>32))
	}
	return binary.BigEndian.AppendUint32(auth, uint32(seq))
}

func espTrailer(tr Transform, seq uint64, esn bool) []byte {
	if !esn || tr.AEAD() {
		return nil
	}
	return binary.BigEndian.AppendUint32(nil, uint32(seq>>32))
}

func TestRoundTripEverySuite(t *testing.T) {
	for _, suite := range ESPSuites() {
		tr := newRandomTransform(t, suite)
		for _, esn := range []bool{false, true} {
			for _, n := range payloadLengths(tr) {
				seq := uint64(0x1_0000_0000)*uint64(n) + 7
				auth, trailer := espAuth(tr, 0xc0ffee01, seq, esn), espTrailer(tr, seq, esn)
				iv := make([]byte, tr.IVLen())
				tr.MakeIV(iv, seq)
				plaintext := randomBytes(t, n)
				m := layOut(auth, iv, plaintext, tr.ICVLen())

				sealed := tr.Seal(m.auth, m.iv, m.payload, trailer)
				if !bytes.Equal(m.auth, auth) || !bytes.Equal(m.iv, iv) {
					t.Fatalf("%s len %d: Seal changed auth or IV", suite.Keyword, n)
				}
				if n >= 16 && bytes.Equal(sealed[:n], plaintext) {
					t.Fatalf("%s len %d: Seal left the plaintext readable", suite.Keyword, n)
				}
				opened, err := tr.Open(m.auth, m.iv, sealed, trailer)
				if err != nil {
					t.Fatalf("%s len %d esn %v: Open: %v", suite.Keyword, n, esn, err)
				}
				if !bytes.Equal(opened, plaintext) {
					t.Fatalf("%s len %d: round trip lost the plaintext", suite.Keyword, n)
				}
				if n > 0 && &opened[0] != &m.buf[m.payloadOff] {
					t.Fatalf("%s len %d: Open did not decrypt in place", suite.Keyword, n)
				}
			}
		}
	}
}

// TestTamper flips single bits in every authenticated part; each must fail
// the ICV check.
func TestTamper(t *testing.T) {
	for _, suite := range ESPSuites() {
		for _, esn := range []bool{false, true} {
			tr := newRandomTransform(t, suite)
			const seq = 0x0000_0002_0000_0010
			auth, trailer := espAuth(tr, 0x01020304, seq, esn), espTrailer(tr, seq, esn)
			iv := make([]byte, tr.IVLen())
			tr.MakeIV(iv, seq)
			n := 64
			m := layOut(auth, iv, randomBytes(t, n), tr.ICVLen())
			pristine := append([]byte(nil), tr.Seal(m.auth, m.iv, m.payload, trailer)...)

			parts := map[string]int{"auth": len(auth), "iv": len(iv), "ciphertext": n, "icv": tr.ICVLen()}
			if trailer != nil {
				parts["trailer"] = len(trailer)
			}
			for part, size := range parts {
				for _, bit := range []int{0, 7, 8*size - 1, 8 * size / 2} {
					name := fmt.Sprintf("%s/esn=%v/%s/bit%d", suite.Keyword, esn, part, bit)
					a, v := append([]byte(nil), auth...), append([]byte(nil), iv...)
					ct, tr2 := append([]byte(nil), pristine...), append([]byte(nil), trailer...)
					target := map[string][]byte{"auth": a, "iv": v, "ciphertext": ct[:n], "icv": ct[n:], "trailer": tr2}[part]
					target[bit/8] ^= 1 << (bit % 8)
					before := append([]byte(nil), ct...)
					if _, err := tr.Open(a, v, ct, tr2); !errors.Is(err, ErrAuth) {
						t.Errorf("%s: Open = %v, want ErrAuth", name, err)
					}
					if !tr.AEAD() && !bytes.Equal(ct, before) {
						t.Errorf("%s: CBC decrypted before the ICV verified", name)
					}
				}
			}
			// The untouched message still opens: the loop above really tampered.
			if _, err := tr.Open(auth, iv, pristine, trailer); err != nil {
				t.Fatalf("%s: pristine message: %v", suite.Keyword, err)
			}
		}
	}
}

// TestESNHighBits checks that the high sequence bits are authenticated
// where each kind of transform expects them.
func TestESNHighBits(t *testing.T) {
	for _, suite := range ESPSuites() {
		tr := newRandomTransform(t, suite)
		const seq = 0x0000_0005_ffff_fff0
		auth, trailer := espAuth(tr, 0xabcdef01, seq, true), espTrailer(tr, seq, true)
		iv := make([]byte, tr.IVLen())
		tr.MakeIV(iv, seq)
		m := layOut(auth, iv, randomBytes(t, 32), tr.ICVLen())
		pristine := append([]byte(nil), tr.Seal(m.auth, m.iv, m.payload, trailer)...)

		open := func(auth, trailer []byte) error {
			_, err := tr.Open(auth, iv, append([]byte(nil), pristine...), trailer)
			return err
		}
		if err := open(auth, trailer); err != nil {
			t.Fatalf("%s: %v", suite.Keyword, err)
		}
		otherSeq := uint64(seq + 1<<32)
		if err := open(espAuth(tr, 0xabcdef01, otherSeq, true), espTrailer(tr, otherSeq, true)); !errors.Is(err, ErrAuth) {
			t.Errorf("%s: wrong seq-hi accepted: %v", suite.Keyword, err)
		}
		if err := open(espAuth(tr, 0xabcdef01, seq, false), nil); !errors.Is(err, ErrAuth) {
			t.Errorf("%s: ESN-sealed message opened without seq-hi: %v", suite.Keyword, err)
		}
		if tr.AEAD() {
			if err := open(auth, []byte{0, 0, 0, 5}); !errors.Is(err, ErrMalformed) {
				t.Errorf("%s: AEAD Open with a trailer = %v, want ErrMalformed", suite.Keyword, err)
			}
			continue
		}
		// RFC 4303 §3.3.2.1: seq-hi is appended for the ICV but never sent,
		// so a sender may stage it in the ICV's own space.
		m = layOut(espAuth(tr, 0xabcdef01, seq, true), iv, randomBytes(t, 32), tr.ICVLen())
		staged := m.buf[m.payloadOff+32 : m.payloadOff+36]
		copy(staged, trailer)
		sealed := tr.Seal(m.auth, m.iv, m.payload, staged)
		if _, err := tr.Open(m.auth, m.iv, sealed, trailer); err != nil {
			t.Errorf("%s: trailer staged in the ICV space: %v", suite.Keyword, err)
		}
	}
}

// TestOpenMalformed feeds Open messages no sender could have produced.
func TestOpenMalformed(t *testing.T) {
	for _, suite := range ESPSuites() {
		tr := newRandomTransform(t, suite)
		iv := make([]byte, tr.IVLen())
		cases := map[string]struct{ iv, ct []byte }{
			"empty":            {iv, nil},
			"shorter than ICV": {iv, make([]byte, tr.ICVLen()-1)},
			"IV too short":     {iv[:len(iv)-1], make([]byte, 64)},
			"IV too long":      {append(iv, 0), make([]byte, 64)},
			"nil IV":           {nil, make([]byte, 64)},
		}
		if !tr.AEAD() {
			cases["partial block"] = struct{ iv, ct []byte }{iv, make([]byte, 17+tr.ICVLen())}
		}
		for name, c := range cases {
			if _, err := tr.Open(nil, c.iv, c.ct, nil); !errors.Is(err, ErrMalformed) {
				t.Errorf("%s: %s: Open = %v, want ErrMalformed", suite.Keyword, name, err)
			}
		}
		if tr.AEAD() {
			// crypto/cipher would panic on AAD inside its output.
			body := make([]byte, 64)
			if _, err := tr.Open(body[:8], iv, body, nil); !errors.Is(err, ErrMalformed) {
				t.Errorf("%s: auth overlapping the ciphertext: Open = %v, want ErrMalformed", suite.Keyword, err)
			}
		} else if _, err := tr.Open(make([]byte, 8), iv, make([]byte, 32+tr.ICVLen()), []byte{1}); !errors.Is(err, ErrAuth) {
			t.Errorf("%s: Open of garbage = %v, want ErrAuth", suite.Keyword, err)
		}
	}
}

// TestSealRejectsCallerBugs checks Seal refuses loudly what would otherwise
// silently break in-place sealing or authentication.
func TestSealRejectsCallerBugs(t *testing.T) {
	mustPanic := func(name string, f func()) {
		t.Helper()
		defer func() {
			if recover() == nil {
				t.Errorf("%s: no panic", name)
			}
		}()
		f()
	}
	for _, suite := range ESPSuites() {
		tr := newRandomTransform(t, suite)
		iv := make([]byte, tr.IVLen())
		fits := func() []byte { return make([]byte, 32, 32+tr.ICVLen()) }
		mustPanic(suite.Keyword+" no room for ICV", func() { tr.Seal(nil, iv, make([]byte, 32), nil) })
		mustPanic(suite.Keyword+" short IV", func() { tr.Seal(nil, iv[1:], fits(), nil) })
		if tr.AEAD() {
			mustPanic(suite.Keyword+" trailer", func() { tr.Seal(nil, iv, fits(), []byte{1, 2, 3, 4}) })
		} else {
			mustPanic(suite.Keyword+" unpadded", func() { tr.Seal(nil, iv, make([]byte, 31, 64), nil) })
		}
	}
}

func TestTransformProperties(t *testing.T) {
	want := map[string]struct {
		aead                  bool
		ivLen, icvLen, blkLen int
	}{
		"aes128gcm16":      {true, 8, 16, 4},
		"aes256gcm16":      {true, 8, 16, 4},
		"chacha20poly1305": {true, 8, 16, 4},
		"aes128-sha256":    {false, 16, 16, 16},
		"aes256-sha256":    {false, 16, 16, 16},
		"aes128-sha384":    {false, 16, 24, 16},
		"aes256-sha384":    {false, 16, 24, 16},
		"aes128-sha512":    {false, 16, 32, 16},
		"aes256-sha512":    {false, 16, 32, 16},
	}
	suites := ESPSuites()
	if len(suites) != len(want) {
		t.Fatalf("%d suites, want %d", len(suites), len(want))
	}
	for _, suite := range suites {
		tr := newRandomTransform(t, suite)
		w, ok := want[suite.Keyword]
		if !ok {
			t.Fatalf("unexpected suite %q", suite.Keyword)
		}
		if tr.Name() != suite.Keyword || tr.AEAD() != w.aead || tr.IVLen() != w.ivLen ||
			tr.ICVLen() != w.icvLen || tr.BlockLen() != w.blkLen {
			t.Errorf("%s: got name %q aead %v iv %d icv %d block %d, want %+v", suite.Keyword,
				tr.Name(), tr.AEAD(), tr.IVLen(), tr.ICVLen(), tr.BlockLen(), w)
		}
	}
}

func TestConcurrentUse(t *testing.T) {
	for _, suite := range ESPSuites() {
		tr := newRandomTransform(t, suite)
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for worker := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 100 {
					seq := uint64(worker)<<32 | uint64(i)
					auth := espAuth(tr, 7, seq, false)
					iv := make([]byte, tr.IVLen())
					tr.MakeIV(iv, seq)
					plaintext := bytes.Repeat([]byte{byte(worker), byte(i)}, 8*(i%20+1))
					m := layOut(auth, iv, plaintext, tr.ICVLen())
					opened, err := tr.Open(m.auth, m.iv, tr.Seal(m.auth, m.iv, m.payload, nil), nil)
					if err != nil || !bytes.Equal(opened, plaintext) {
						errs <- fmt.Errorf("%s worker %d message %d: %v", suite.Keyword, worker, i, err)
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	}
}

// TestZeroAllocs proves the hot path allocates nothing. The race detector
// makes sync.Pool drop objects on purpose, so it only runs without -race.
func TestZeroAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops objects under the race detector; run without -race")
	}
	for _, suite := range ESPSuites() {
		tr := newRandomTransform(t, suite)
		m := newBenchMessage(t, tr)
		var seq uint64
		allocs := testing.AllocsPerRun(200, func() {
			seq++
			tr.MakeIV(m.iv, seq)
			copy(m.payload, m.plaintext)
			sealed := tr.Seal(m.auth, m.iv, m.payload, m.trailer)
			if _, err := tr.Open(m.auth, m.iv, sealed, m.trailer); err != nil {
				t.Fatal(err)
			}
			// The drop path must not allocate either.
			sealed[0] ^= 1
			if _, err := tr.Open(m.auth, m.iv, sealed, m.trailer); !errors.Is(err, ErrAuth) {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per MakeIV+Seal+Open, want 0", suite.Keyword, allocs)
		}
	}
}

// benchMessage is a 1400-byte payload (padded to the block for CBC) with
// ESN, in one buffer as the data plane holds it.
type benchMessage struct {
	*message
	plaintext, trailer []byte
}

const benchPayloadLen = 1400

func newBenchMessage(t testing.TB, tr Transform) *benchMessage {
	t.Helper()
	n := (benchPayloadLen + tr.BlockLen() - 1) / tr.BlockLen() * tr.BlockLen()
	plaintext := randomBytes(t, n)
	const seq = 1<<32 | 1
	m := layOut(espAuth(tr, 0x1000, seq, true), make([]byte, tr.IVLen()), plaintext, tr.ICVLen())
	tr.MakeIV(m.iv, seq)
	return &benchMessage{message: m, plaintext: plaintext, trailer: espTrailer(tr, seq, true)}
}

func BenchmarkSeal(b *testing.B) {
	for _, suite := range ESPSuites() {
		b.Run(suite.Keyword, func(b *testing.B) {
			tr := newRandomTransform(b, suite)
			m := newBenchMessage(b, tr)
			b.SetBytes(int64(len(m.payload)))
			b.ReportAllocs()
			for b.Loop() {
				tr.Seal(m.auth, m.iv, m.payload, m.trailer)
			}
		})
	}
}

// BenchmarkOpen restores the sealed message before each Open (Open works
// in place); the copy costs tens of nanoseconds of the figure.
func BenchmarkOpen(b *testing.B) {
	for _, suite := range ESPSuites() {
		b.Run(suite.Keyword, func(b *testing.B) {
			tr := newRandomTransform(b, suite)
			m := newBenchMessage(b, tr)
			sealed := append([]byte(nil), tr.Seal(m.auth, m.iv, m.payload, m.trailer)...)
			work := m.sealed()
			b.SetBytes(int64(len(m.payload)))
			b.ReportAllocs()
			for b.Loop() {
				copy(work, sealed)
				if _, err := tr.Open(m.auth, m.iv, work, m.trailer); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkMakeIV(b *testing.B) {
	for _, suite := range ESPSuites() {
		b.Run(suite.Keyword, func(b *testing.B) {
			tr := newRandomTransform(b, suite)
			iv := make([]byte, tr.IVLen())
			b.ReportAllocs()
			var seq uint64
			for b.Loop() {
				seq++
				tr.MakeIV(iv, seq)
			}
		})
	}
}

// FuzzOpen checks Open never panics, whatever the wire brings.
func FuzzOpen(f *testing.F) {
	f.Add(uint8(0), []byte{1, 2, 3, 4, 0, 0, 0, 1}, uint8(8), make([]byte, 48), []byte(nil))
	f.Add(uint8(4), []byte{1, 2, 3, 4, 0, 0, 0, 1}, uint8(16), make([]byte, 64), []byte{0, 0, 0, 1})
	suites := ESPSuites()
	transforms := make([]Transform, len(suites))
	for i, suite := range suites {
		transforms[i] = newRandomTransform(f, suite)
	}
	f.Fuzz(func(t *testing.T, which uint8, auth []byte, ivLen uint8, body, trailer []byte) {
		tr := transforms[int(which)%len(transforms)]
		iv := make([]byte, ivLen)
		if plaintext, err := tr.Open(auth, iv, body, trailer); err == nil && len(plaintext) > len(body) {
			t.Fatalf("%s: plaintext longer than the message", tr.Name())
		}
	})
}
