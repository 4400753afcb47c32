package message

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

var updateSeeds = flag.Bool("update-seeds", false, "rewrite testdata/fuzz seed corpora")

// FuzzParse feeds arbitrary datagrams to Parse, Open and OpenFragment.
// None may panic; whatever Parse accepts must encode, and its encoding
// must parse back to the same encoding (reserved fields are normalised to
// zero on the first round, so only the second is compared).
func FuzzParse(f *testing.F) {
	for _, seed := range parseSeeds(f) {
		f.Add(seed)
	}
	aead := newTransform(f, "aes128gcm16")
	cbc := newTransform(f, "aes128-sha256")
	f.Fuzz(func(t *testing.T, datagram []byte) {
		original := append([]byte(nil), datagram...)
		Open(datagram, aead)
		Open(datagram, cbc)
		OpenFragment(datagram, aead)
		if !bytes.Equal(datagram, original) {
			t.Fatal("the datagram was modified")
		}
		m, err := Parse(datagram)
		if err != nil {
			var uc *UnsupportedCriticalPayloadError
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrInvalidMajorVersion) && !errors.As(err, &uc) {
				t.Fatalf("Parse error outside the documented ones: %v", err)
			}
			return
		}
		_ = m.String()
		first, err := m.Encode()
		if err != nil {
			t.Fatalf("a parsed message does not encode: %v\n%v", err, m)
		}
		again, err := Parse(first)
		if err != nil {
			t.Fatalf("an encoded message does not parse: %v\n%x", err, first)
		}
		second, err := again.Encode()
		if err != nil || !bytes.Equal(first, second) {
			t.Fatalf("encoding is not stable:\n%x\n%x (%v)", first, second, err)
		}
	})
}

// parseSeeds are the messages this package's tests build and strongSwan's
// captured ones.
func parseSeeds(t testing.TB) [][]byte {
	t.Helper()
	seeds := [][]byte{
		mustEncode(t, sampleInitRequest()),
		mustEncode(t, sampleAuthRequest()),
		mustEncode(t, &Message{Header: Header{SPIi: 1, Exchange: ExchangeInformational}, Payloads: samplePayloads()}),
		unhex(t, rfc7634Message),
	}
	aead := newTransform(t, "aes128gcm16")
	sealed, err := Seal(sampleAuthRequest(), aead, 1)
	if err != nil {
		t.Fatal(err)
	}
	fragments, err := SealFragments(bigAuthRequest(), aead, 2, 576)
	if err != nil {
		t.Fatal(err)
	}
	seeds = append(seeds, sealed, fragments[0], fragments[1])
	if tt, ok := t.(*testing.T); ok {
		for _, sa := range loadCapture(tt) {
			seeds = append(seeds, sa.datagrams...)
		}
	}
	return seeds
}

// FuzzReassemble runs a Reassembler through a script of fragments: real
// fragments of two fragmentations of one message (in any order, repeated
// or corrupted), fragments with any numbers that verify, and raw bytes.
// Nothing may panic and the limits must hold after every step.
//
// The script is a sequence of 4-byte operations [op a b c]:
//
//	op%4 == 0  real fragment a of the 576-byte fragmentation
//	op%4 == 1  real fragment a of the 1280-byte fragmentation
//	op%4 == 2  a crafted, verifiable fragment: number a, total b (mod 24),
//	           message ID 1+c%2, c%200 bytes of content
//	op%4 == 3  real fragment a of the 576-byte set with byte b flipped by c
func FuzzReassemble(f *testing.F) {
	for _, seed := range reassembleSeeds() {
		f.Add(seed)
	}
	tr := newTransform(f, "aes128gcm16")
	m := bigAuthRequest()
	small, err := SealFragments(m, tr, 1, 576)
	if err != nil {
		f.Fatal(err)
	}
	large, err := SealFragments(m, tr, 100, 1280)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, script []byte) {
		// Longer scripts add nothing a sequence of shorter ones does not
		// cover, and they make every execution slow.
		script = script[:min(len(script), 4*100)]
		limited := Reassembler{MaxFragments: 12, MaxSize: 3000}
		var unlimited Reassembler
		counter := uint64(1000)
		for ; len(script) >= 4; script = script[4:] {
			op, a, b, c := script[0], script[1], script[2], script[3]
			var datagram []byte
			switch op % 4 {
			case 0:
				datagram = small[int(a)%len(small)]
			case 1:
				datagram = large[int(a)%len(large)]
			case 2:
				h := m.Header
				h.MessageID += uint32(c % 2)
				raw, err := seal(h, nil, &fragmentFields{number: uint16(a % 24), total: uint16(b % 24)}, PayloadCERT, seq(c, int(c)%200), tr, counter)
				if err != nil {
					t.Fatal(err)
				}
				counter++
				datagram = raw
			case 3:
				datagram = append([]byte(nil), small[int(a)%len(small)]...)
				datagram[int(b)%len(datagram)] ^= c
			}
			for _, r := range []*Reassembler{&limited, &unlimited} {
				got, err := r.Add(datagram, tr)
				if got != nil && err != nil {
					t.Fatalf("a message and an error: %v", err)
				}
				if got != nil {
					if _, err := appendChain(nil, got.Payloads, PayloadNone); err != nil {
						t.Fatalf("reassembled payloads do not encode: %v", err)
					}
				}
				checkReassemblerInvariants(t, r)
			}
		}
	})
}

func checkReassemblerInvariants(t *testing.T, r *Reassembler) {
	t.Helper()
	maxSize, maxFragments := r.MaxSize, r.MaxFragments
	if maxSize == 0 {
		maxSize, maxFragments = DefaultMaxReassembledSize, DefaultMaxFragments
	}
	if r.size > maxSize {
		t.Fatalf("%d bytes collected, limit %d", r.size, maxSize)
	}
	if !r.collecting {
		if r.size != 0 || r.received != 0 || r.contents != nil {
			t.Fatalf("idle reassembler holds %d bytes in %d fragments", r.size, r.received)
		}
		return
	}
	if int(r.total) > maxFragments || len(r.contents) != int(r.total) || r.received > int(r.total) || r.received == 0 {
		t.Fatalf("collecting %d of %d in %d slots (limit %d)", r.received, r.total, len(r.contents), maxFragments)
	}
	held, size := 0, 0
	for _, c := range r.contents {
		if c != nil {
			held++
			size += len(c)
		}
	}
	if held != r.received || size != r.size {
		t.Fatalf("%d fragments of %d bytes held, counters say %d of %d", held, size, r.received, r.size)
	}
}

func reassembleSeeds() [][]byte {
	var inOrder, reversed, corrupted, restart, crafted []byte
	for i := range 8 {
		inOrder = append(inOrder, 0, byte(i), 0, 0)
		reversed = append(reversed, 1, byte(7-i), 0, 0)
		corrupted = append(corrupted, 3, byte(i), byte(40+i), 1, 0, byte(i), 0, 0)
	}
	for i := range 3 {
		restart = append(restart, 1, byte(i), 0, 0)
	}
	for i := range 8 {
		restart = append(restart, 0, byte(i), 0, 0)
	}
	crafted = []byte{2, 1, 3, 10, 2, 2, 3, 20, 2, 3, 3, 30, 2, 0, 3, 5, 2, 4, 3, 6, 2, 1, 0, 7, 2, 30, 30, 1}
	return [][]byte{inOrder, reversed, corrupted, restart, crafted}
}

// TestFuzzSeedFiles keeps testdata/fuzz in step with the seeds above;
// run with -update-seeds to rewrite it.
func TestFuzzSeedFiles(t *testing.T) {
	corpora := map[string][][]byte{
		"FuzzParse":      parseSeeds(t),
		"FuzzReassemble": reassembleSeeds(),
	}
	for name, seeds := range corpora {
		dir := filepath.Join("testdata", "fuzz", name)
		for i, seed := range seeds {
			file := filepath.Join(dir, fmt.Sprintf("seed-%02d", i))
			content := "go test fuzz v1\n[]byte(" + strconv.Quote(string(seed)) + ")\n"
			if *updateSeeds {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			got, err := os.ReadFile(file)
			if err != nil || string(got) != content {
				t.Errorf("%s is missing or stale (%v); run go test -run TestFuzzSeedFiles -update-seeds", file, err)
			}
		}
	}
}
