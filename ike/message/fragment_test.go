package message

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/espd/espd/crypto"
)

// bigAuthRequest is an IKE_AUTH request large enough to need fragments: a
// certificate chain of two 1500-byte certificates.
func bigAuthRequest() *Message {
	m := sampleAuthRequest()
	m.Payloads = append(m.Payloads[:2:2],
		&Cert{Encoding: CertX509Signature, Data: seq(1, 1500)},
		&Cert{Encoding: CertX509Signature, Data: seq(2, 1500)},
	)
	m.Payloads = append(m.Payloads, sampleAuthRequest().Payloads[2:]...)
	return m
}

func reassemble(t *testing.T, r *Reassembler, tr crypto.Transform, fragments [][]byte) *Message {
	t.Helper()
	var done *Message
	for i, f := range fragments {
		m, err := r.Add(f, tr)
		if err != nil {
			t.Fatalf("fragment %d: %v", i, err)
		}
		if m != nil {
			if done != nil {
				t.Fatalf("fragment %d completed the message a second time", i)
			}
			done = m
		}
	}
	return done
}

func TestFragmentRoundTrip(t *testing.T) {
	for _, keyword := range []string{"aes128gcm16", "chacha20poly1305", "aes128-sha256", "aes256-sha512"} {
		tr := newTransform(t, keyword)
		for _, maxDatagram := range []int{200, 576, 1280, 8000} {
			m := bigAuthRequest()
			fragments, err := SealFragments(m, tr, 100, maxDatagram)
			if err != nil {
				t.Fatalf("%s/%d: %v", keyword, maxDatagram, err)
			}
			for i, f := range fragments {
				if len(f) > maxDatagram {
					t.Fatalf("%s/%d: fragment %d has %d bytes", keyword, maxDatagram, i+1, len(f))
				}
				// All but the last are full: exactly for an AEAD, to
				// within a cipher block for CBC.
				if i < len(fragments)-1 {
					if (tr.AEAD() && len(f) != maxDatagram) || (!tr.AEAD() && len(f) <= maxDatagram-tr.BlockLen()) {
						t.Fatalf("%s/%d: fragment %d has only %d bytes", keyword, maxDatagram, i+1, len(f))
					}
				}
				p, err := Parse(f)
				if err != nil {
					t.Fatal(err)
				}
				skf := p.Payloads[0].(*EncryptedFragment)
				if int(skf.Number) != i+1 || int(skf.Total) != len(fragments) {
					t.Fatalf("fragment %d says %d of %d", i+1, skf.Number, skf.Total)
				}
				if want := PayloadNone; i == 0 {
					if skf.FirstPayload != PayloadIDi {
						t.Fatalf("fragment 1 Next Payload %v", skf.FirstPayload)
					}
				} else if skf.FirstPayload != want {
					t.Fatalf("fragment %d Next Payload %v", i+1, skf.FirstPayload)
				}
				if tr.AEAD() {
					iv := skf.Data[:8]
					if got := binary.BigEndian.Uint64(iv); got != 100+uint64(i) {
						t.Fatalf("fragment %d IV counter %d", i+1, got)
					}
				}
			}
			if maxDatagram <= 1280 && len(fragments) < 3 {
				t.Fatalf("%s/%d: only %d fragments", keyword, maxDatagram, len(fragments))
			}

			orders := map[string][][]byte{"in order": fragments, "reversed": reverse(fragments), "shuffled with duplicates": shuffleWithDuplicates(fragments)}
			for name, order := range orders {
				var r Reassembler
				got := reassemble(t, &r, tr, order)
				if got == nil {
					t.Fatalf("%s/%d %s: not reassembled", keyword, maxDatagram, name)
				}
				equalEncodings(t, got.Payloads, m.Payloads)
				if got.Header.MessageID != m.Header.MessageID || got.Header.Exchange != ExchangeIKEAuth {
					t.Fatalf("header %+v", got.Header)
				}
				if _, ok := r.Collecting(); ok {
					t.Fatal("still collecting after completion")
				}
			}
		}
	}
}

func reverse(in [][]byte) [][]byte {
	out := make([][]byte, len(in))
	for i := range in {
		out[len(in)-1-i] = in[i]
	}
	return out
}

// shuffleWithDuplicates returns the fragments in a random order with some
// repeated, never repeating one after the set is complete.
func shuffleWithDuplicates(in [][]byte) [][]byte {
	rng := rand.New(rand.NewPCG(1, 2))
	order := rng.Perm(len(in))
	var out [][]byte
	for i, j := range order {
		out = append(out, in[j])
		if i < len(order)-1 && rng.IntN(2) == 0 {
			out = append(out, in[order[rng.IntN(i+1)]])
		}
	}
	return out
}

func TestFragmentCleartextInFirstFragment(t *testing.T) {
	tr := newTransform(t, "aes256gcm16")
	m := bigAuthRequest()
	m.Cleartext = []Payload{&VendorID{Data: []byte("in the clear")}}
	fragments, err := SealFragments(m, tr, 1, 576)
	if err != nil {
		t.Fatal(err)
	}
	first, err := Parse(fragments[0])
	if err != nil || len(first.Payloads) != 2 || first.Payloads[0].Type() != PayloadVendorID {
		t.Fatalf("first fragment %v, %v", first, err)
	}
	var r Reassembler
	got := reassemble(t, &r, tr, reverse(fragments))
	equalEncodings(t, got.Cleartext, m.Cleartext)
	equalEncodings(t, got.Payloads, m.Payloads)
}

func TestFragmentEmptyMessage(t *testing.T) {
	tr := newTransform(t, "aes128-sha384")
	m := &Message{Header: Header{SPIi: 1, SPIr: 2, Exchange: ExchangeInformational, MessageID: 4}}
	fragments, err := SealFragments(m, tr, 1, 1280)
	if err != nil || len(fragments) != 1 {
		t.Fatalf("%d fragments, %v", len(fragments), err)
	}
	var r Reassembler
	got := reassemble(t, &r, tr, fragments)
	if got == nil || len(got.Payloads) != 0 {
		t.Fatalf("reassembled %v", got)
	}
}

func TestSealFragmentsErrors(t *testing.T) {
	tr := newTransform(t, "aes128-sha256")
	if _, err := SealFragments(bigAuthRequest(), tr, 1, HeaderLen+8+16+16+15); !errors.Is(err, ErrEncoding) {
		t.Fatalf("tiny datagrams: %v, want ErrEncoding", err)
	}
	huge := &Message{Header: Header{SPIi: 1, SPIr: 2, Exchange: ExchangeIKEAuth, MessageID: 1},
		Payloads: []Payload{&Cert{Encoding: CertX509Signature, Data: make([]byte, 60000)}}}
	if _, err := SealFragments(huge, tr, 1, 200); !errors.Is(err, ErrEncoding) {
		t.Fatalf("more than 255 fragments: %v, want ErrEncoding", err)
	}
	bad := bigAuthRequest()
	bad.Payloads = append(bad.Payloads, &Nonce{})
	if _, err := SealFragments(bad, tr, 1, 1280); !errors.Is(err, ErrEncoding) {
		t.Fatalf("bad payload: %v, want ErrEncoding", err)
	}
}

// craftFragment seals a fragment with any numbers, including ones
// SealFragments never writes.
func craftFragment(t *testing.T, tr crypto.Transform, h Header, number, total uint16, first PayloadType, content []byte, counter uint64) []byte {
	t.Helper()
	raw, err := seal(h, nil, &fragmentFields{number: number, total: total}, first, content, tr, counter)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// TestReassemblerBadFragments checks that every rejected fragment leaves
// the fragments already collected intact: after each one, the message
// still completes with its real fragments.
func TestReassemblerBadFragments(t *testing.T) {
	tr := newTransform(t, "aes128gcm16")
	m := bigAuthRequest()
	fragments, err := SealFragments(m, tr, 1, 1280)
	if err != nil {
		t.Fatal(err)
	}
	total := uint16(len(fragments))
	h := m.Header
	corrupt := func(i int) []byte {
		b := append([]byte(nil), fragments[i]...)
		b[len(b)-20] ^= 1
		return b
	}
	withHeader := func(change func(*Header)) []byte {
		hh := h
		change(&hh)
		return craftFragment(t, tr, hh, 2, total, PayloadNone, seq(0, 50), 900)
	}
	tests := []struct {
		name string
		raw  []byte
		want error
	}{
		{"bad ICV", corrupt(1), ErrIntegrity},
		{"bad ICV on the last", corrupt(len(fragments) - 1), ErrIntegrity},
		{"fragment number 0", craftFragment(t, tr, h, 0, total, PayloadNone, seq(0, 10), 901), ErrMalformed},
		{"total 0", craftFragment(t, tr, h, 1, 0, PayloadNone, seq(0, 10), 902), ErrMalformed},
		{"number above total", craftFragment(t, tr, h, total+1, total, PayloadNone, seq(0, 10), 903), ErrMalformed},
		{"256 fragments", craftFragment(t, tr, h, 1, 256, PayloadIDi, seq(0, 10), 904), ErrReassemblyLimit},
		{"65535 fragments", craftFragment(t, tr, h, 65535, 65535, PayloadNone, seq(0, 10), 905), ErrReassemblyLimit},
		{"smaller total", craftFragment(t, tr, h, 1, total-1, PayloadIDi, seq(0, 10), 906), ErrFragment},
		{"other message ID", withHeader(func(h *Header) { h.MessageID++ }), ErrFragment},
		{"other exchange", withHeader(func(h *Header) { h.Exchange = ExchangeInformational }), ErrFragment},
		{"response instead of request", withHeader(func(h *Header) { h.Flags |= FlagResponse }), ErrFragment},
		{"other IKE SA", withHeader(func(h *Header) { h.SPIr++ }), ErrFragment},
		{"not a fragment", mustEncode(t, &Message{Header: h, Payloads: []Payload{&Nonce{Data: seq(0, 16)}}}), ErrNotProtected},
		{"another message that is not a fragment", mustEncode(t, sampleInitRequest()), ErrFragment},
		{"an SK message", mustSeal(t, sampleAuthRequest(), tr), ErrNotProtected},
		{"header length mismatch", fragments[1][:len(fragments[1])-1], ErrLengthMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r Reassembler
			if _, err := r.Add(fragments[0], tr); err != nil {
				t.Fatal(err)
			}
			got, err := r.Add(tt.raw, tr)
			if got != nil || !errors.Is(err, tt.want) {
				t.Fatalf("Add: %v, %v; want error %v", got, err, tt.want)
			}
			if id, ok := r.Collecting(); !ok || id != h.MessageID {
				t.Fatalf("Collecting() = %d, %v after a rejected fragment", id, ok)
			}
			done := reassemble(t, &r, tr, fragments[1:])
			if done == nil {
				t.Fatal("a rejected fragment spoilt the reassembly")
			}
			equalEncodings(t, done.Payloads, m.Payloads)
		})
	}
}

func mustSeal(t *testing.T, m *Message, tr crypto.Transform) []byte {
	t.Helper()
	raw, err := Seal(m, tr, 77)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// TestReassemblerBadICVThenGood is the case: an IKE_AUTH fragment
// with a bad ICV, then the good one; the first is ignored and the
// message completes.
func TestReassemblerBadICVThenGood(t *testing.T) {
	tr := newTransform(t, "aes256-sha256")
	fragments, err := SealFragments(bigAuthRequest(), tr, 1, 576)
	if err != nil {
		t.Fatal(err)
	}
	var r Reassembler
	for i, f := range fragments {
		bad := append([]byte(nil), f...)
		bad[HeaderLen+GenericHeaderLen+fragmentFieldsLen+3] ^= 0xff // in the IV
		if m, err := r.Add(bad, tr); m != nil || !errors.Is(err, ErrIntegrity) {
			t.Fatalf("fragment %d with a bad ICV: %v, %v", i+1, m, err)
		}
		m, err := r.Add(f, tr)
		if err != nil {
			t.Fatalf("fragment %d: %v", i+1, err)
		}
		if (m != nil) != (i == len(fragments)-1) {
			t.Fatalf("fragment %d: message %v", i+1, m)
		}
	}
}

// TestReassemblerTotalChanges follows RFC 7383 §2.6: a larger Total
// Fragments restarts collection, a smaller one is dropped.
func TestReassemblerTotalChanges(t *testing.T) {
	tr := newTransform(t, "chacha20poly1305")
	m := bigAuthRequest()
	large, err := SealFragments(m, tr, 1, 1280)
	if err != nil {
		t.Fatal(err)
	}
	small, err := SealFragments(m, tr, 100, 576)
	if err != nil {
		t.Fatal(err)
	}
	if len(small) <= len(large) {
		t.Fatalf("%d small fragments, %d large", len(small), len(large))
	}
	var r Reassembler
	for _, f := range large[:len(large)-1] {
		if got, err := r.Add(f, tr); got != nil || err != nil {
			t.Fatalf("large fragment: %v, %v", got, err)
		}
	}
	// The sender re-fragmented smaller: start over.
	if got, err := r.Add(small[0], tr); got != nil || err != nil {
		t.Fatalf("first small fragment: %v, %v", got, err)
	}
	// The last large fragment now belongs to an older fragmentation.
	if got, err := r.Add(large[len(large)-1], tr); got != nil || !errors.Is(err, ErrFragment) {
		t.Fatalf("late large fragment: %v, %v; want ErrFragment", got, err)
	}
	got := reassemble(t, &r, tr, small[1:])
	if got == nil {
		t.Fatal("small fragments did not complete the message")
	}
	equalEncodings(t, got.Payloads, m.Payloads)
}

func TestReassemblerLimits(t *testing.T) {
	tr := newTransform(t, "aes128gcm16")
	m := bigAuthRequest()
	fragments, err := SealFragments(m, tr, 1, 576)
	if err != nil {
		t.Fatal(err)
	}

	r := Reassembler{MaxFragments: len(fragments) - 1}
	if _, err := r.Add(fragments[0], tr); !errors.Is(err, ErrReassemblyLimit) {
		t.Fatalf("MaxFragments: %v, want ErrReassemblyLimit", err)
	}

	r = Reassembler{MaxSize: 1000}
	var limitErr error
	for _, f := range fragments {
		if _, err := r.Add(f, tr); err != nil {
			limitErr = err
			break
		}
	}
	if !errors.Is(limitErr, ErrReassemblyLimit) {
		t.Fatalf("MaxSize: %v, want ErrReassemblyLimit", limitErr)
	}
	if _, ok := r.Collecting(); ok {
		t.Fatal("a message over MaxSize must be discarded")
	}
	if r.size != 0 || r.contents != nil || r.MaxSize != 1000 {
		t.Fatalf("reset kept state: size %d, %d contents, MaxSize %d", r.size, len(r.contents), r.MaxSize)
	}

	// The default cap: 64 KiB of content, even in 255 valid fragments.
	var d Reassembler
	h := m.Header
	var err2 error
	for n := uint16(1); n <= 255 && err2 == nil; n++ {
		_, err2 = d.Add(craftFragment(t, tr, h, n, 255, PayloadVendorID, make([]byte, 400), uint64(n)), tr)
	}
	if !errors.Is(err2, ErrReassemblyLimit) || d.size > DefaultMaxReassembledSize {
		t.Fatalf("default size limit: %v with %d bytes", err2, d.size)
	}
}

func TestReassemblerDuplicate(t *testing.T) {
	tr := newTransform(t, "aes128gcm16")
	fragments, err := SealFragments(bigAuthRequest(), tr, 1, 1280)
	if err != nil {
		t.Fatal(err)
	}
	var r Reassembler
	for range 3 {
		if got, err := r.Add(fragments[1], tr); got != nil || err != nil {
			t.Fatalf("duplicate: %v, %v", got, err)
		}
	}
	if r.received != 1 {
		t.Fatalf("%d fragments counted", r.received)
	}
}

func TestOpenFragment(t *testing.T) {
	tr := newTransform(t, "aes128-sha256")
	m := bigAuthRequest()
	fragments, err := SealFragments(m, tr, 1, 1280)
	if err != nil {
		t.Fatal(err)
	}
	f, err := OpenFragment(fragments[0], tr)
	if err != nil {
		t.Fatal(err)
	}
	inner, _ := appendChain(nil, m.Payloads, PayloadNone)
	if f.Number != 1 || int(f.Total) != len(fragments) || f.FirstPayload != PayloadIDi || !bytes.HasPrefix(inner, f.Content) {
		t.Fatalf("fragment %d/%d first %v, content %d bytes", f.Number, f.Total, f.FirstPayload, len(f.Content))
	}
	// Truncated fragments never open.
	for n := range len(fragments[1]) {
		prefix := append([]byte(nil), fragments[1][:n]...)
		if n >= HeaderLen {
			HeaderView(prefix).SetLength(uint32(n))
		}
		if n >= HeaderLen+GenericHeaderLen {
			binary.BigEndian.PutUint16(prefix[HeaderLen+2:], uint16(n-HeaderLen))
		}
		if _, err := OpenFragment(prefix, tr); err == nil {
			t.Fatalf("prefix %d opened", n)
		}
	}
}
