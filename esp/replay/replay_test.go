package replay

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"testing"
)

const epoch = uint64(1) << 32

// receive runs one packet through the pipeline's two steps: the sender put
// sent into the ICV, but only its low 32 bits on the wire. The ICV verifies
// only if Check inferred exactly sent (for ESN; without it sent < 2^32 and
// the ICV never disagrees).
func receive(w *Window, sent uint64, esn bool) bool {
	seq, ok := w.Check(uint32(sent), esn)
	if !ok || seq != sent {
		return false
	}
	return w.Commit(seq)
}

func newWindow(t testing.TB, size uint32) *Window {
	t.Helper()
	var w Window
	if err := w.SetSize(size); err != nil {
		t.Fatalf("SetSize(%d): %v", size, err)
	}
	return &w
}

// TestTable follows the shape of the kernel's replay test (as ported in
// wireguard-go's replay_test.go), renumbered for ESP: sequence numbers start
// at 1, 0 is never valid, the window of size W covers [top-W+1, top] and the
// largest 32-bit value is legal.
func TestTable(t *testing.T) {
	for _, size := range []uint32{32, 64, 100, 1024} {
		w := newWindow(t, size)
		step := 0
		T := func(seq uint64, want bool) {
			t.Helper()
			step++
			if got := receive(w, seq, false); got != want {
				t.Fatalf("size %d step %d: seq %d accepted=%v, want %v", size, step, seq, got, want)
			}
		}
		W := uint64(size)
		T(1, true)              /*  1 */
		T(2, true)              /*  2 */
		T(2, false)             /*  3 */
		T(10, true)             /*  4 */
		T(9, true)              /*  5 */
		T(8, true)              /*  6 */
		T(8, false)             /*  7 */
		T(W+1, true)            /*  8: window is now [2, W+1] */
		T(W, true)              /*  9 */
		T(W, false)             /* 10 */
		T(W-1, true)            /* 11 */
		T(3, true)              /* 12 */
		T(3, false)             /* 13 */
		T(W+17, true)           /* 14: window is now [18, W+17] */
		T(4, false)             /* 15 */
		T(W+17, false)          /* 16 */
		T(4*W, true)            /* 17 */
		T(3*W+1, true)          /* 18: the bottom edge */
		T(11, false)            /* 19 */
		T(3*W, false)           /* 20: just below the edge */
		T(3*W-1, false)         /* 21 */
		T(3*W+2, true)          /* 22 */
		T(3*W+1, false)         /* 23 */
		T(0, false)             /* 24: never sent */
		T(0xffffffff, true)     /* 25: the last 32-bit value */
		T(0xfffffffe, true)     /* 26 */
		T(0xffffffff, false)    /* 27 */
		T(0xfffffffe, false)    /* 28 */
		T(0xfffffffd, true)     /* 29 */
		T(0xffffffff-W, false)  /* 30 */
		T(0xffffffff-W+1, true) /* 31 */
		T(0, false)             /* 32 */

		bulk := func(name string, seqs []uint64, want bool) {
			t.Helper()
			for _, seq := range seqs {
				if got := receive(w, seq, false); got != want {
					t.Fatalf("size %d %s: seq %d accepted=%v, want %v", size, name, seq, got, want)
				}
			}
		}
		ascending := func(from, to uint64) (s []uint64) {
			for i := from; i <= to; i++ {
				s = append(s, i)
			}
			return s
		}
		descending := func(from, to uint64) (s []uint64) {
			for i := from; i >= to; i-- {
				s = append(s, i)
			}
			return s
		}

		w = newWindow(t, size)
		bulk("bulk 1", ascending(1, W), true)
		bulk("bulk 1 replay", ascending(1, W), false)

		w = newWindow(t, size)
		bulk("bulk 2", descending(W, 1), true)
		bulk("bulk 2 replay", []uint64{1, W}, false)

		w = newWindow(t, size)
		bulk("bulk 3", descending(W+1, 2), true)
		bulk("bulk 3 too old", []uint64{1}, false)

		w = newWindow(t, size)
		bulk("bulk 4", descending(W, 1), true)
		bulk("bulk 4 slide", []uint64{W + 1}, true)
		bulk("bulk 4 too old", []uint64{1}, false)
	}
}

// TestVPPWalkthrough mirrors the steps and numbers of VPP's anti-replay test,
// verify_tra_anti_replay in FDio/vpp test/template_ipsec.py, run with and
// without ESN on a window of 64. A "bogus" packet there is one whose ICV
// fails; here that is a Check without a Commit.
func TestVPPWalkthrough(t *testing.T) {
	for _, esn := range []bool{false, true} {
		var w Window // the zero value: window 64
		expect := func(step string, sent uint64, want bool) {
			t.Helper()
			if got := receive(&w, sent, esn); got != want {
				t.Fatalf("esn=%v %s: seq %#x accepted=%v, want %v (top %d)", esn, step, sent, got, want, w.Top())
			}
		}

		// Packets 1 to 33 are accepted, then replays of all are dropped.
		for seq := uint64(1); seq <= 33; seq++ {
			expect("first batch", seq, true)
		}
		for seq := uint64(1); seq <= 33; seq++ {
			expect("replayed batch", seq, false)
		}

		// Eight copies of 35 in one batch: the pipeline checks the whole
		// batch first, all pass, and only the first commit wins.
		var checked []uint64
		for range 8 {
			seq, ok := w.Check(35, esn)
			if !ok || seq != 35 {
				t.Fatalf("esn=%v: Check(35) = %d, %v", esn, seq, ok)
			}
			checked = append(checked, seq)
		}
		committed := 0
		for _, seq := range checked {
			if w.Commit(seq) {
				committed++
			}
		}
		if committed != 1 {
			t.Fatalf("esn=%v: %d of 8 copies of 35 committed, want 1", esn, committed)
		}

		// Move the window to 257; three replays of it are dropped.
		expect("jump", 257, true)
		for range 3 {
			expect("replayed 257", 257, false)
		}

		// 200 is inside the window (257-64 < 200); a second copy is not.
		expect("in window", 200, true)
		expect("replayed 200", 200, false)

		// 17 packets numbered 350 with a bad ICV do not move the window...
		for range 17 {
			if _, ok := w.Check(350, esn); !ok {
				t.Fatalf("esn=%v: Check(350) rejected before the ICV", esn)
			}
		}
		if w.Top() != 257 {
			t.Fatalf("esn=%v: top %d after ICV failures, want 257", esn, w.Top())
		}
		// ...which shows because 234 (< 350-64) is still accepted.
		expect("still in window", 234, true)

		// 17 and 192 are below the window [194, 257]. Without ESN Check
		// drops them as too old; with ESN they are inferred to be 2^32
		// later (RFC 4303 Appendix A2.2 Case A) and the ICV fails.
		for _, old := range []uint64{17, 192, 193} {
			seq, ok := w.Check(uint32(old), esn)
			if esn && (!ok || seq != epoch+old) {
				t.Fatalf("esn: Check(%d) = %#x, %v, want %#x, true", old, seq, ok, epoch+old)
			}
			if !esn && ok {
				t.Fatalf("Check(%d) accepted below the window", old)
			}
			expect("below window", old, false)
		}
		expect("edge of window", 194, true)

		// A valid packet moves the window to 258.
		expect("slide", 258, true)
		if !esn {
			continue
		}

		// The sender's counter crosses 2^32.
		for seq := uint64(259); seq < 280; seq++ {
			expect("before the wrap", seq, true)
		}
		expect("across the wrap", 0x100000005, true)
		// Between 2^32-64 and 2^32+5: the window straddles the boundary
		// (Case B) and 0xfffffffd is inferred in the old epoch.
		expect("old epoch inside window", 0xfffffffd, true)
		// The sender jumps a second epoch: in Case B the low bits are
		// placed in the current epoch, so the ICV fails.
		if seq, _ := w.Check(0x999, true); seq != 0x100000999 {
			t.Fatalf("Check(0x999) inferred %#x, want 0x100000999", seq)
		}
		expect("second wrap in case B", 0x200000999, false)
		// Once the window lies in one epoch again (Case A), it can wrap.
		expect("back to case A", 0x100000555, true)
		expect("second wrap in case A", 0x200000444, true)
	}
}

// TestCheckDoesNotModify: packets with a bad ICV must not move the window,
// so a Check without a Commit leaves no trace.
func TestCheckDoesNotModify(t *testing.T) {
	for _, esn := range []bool{false, true} {
		var w Window
		if seq, ok := w.Check(1000, esn); !ok || seq != 1000 {
			t.Fatalf("esn=%v: Check(1000) = %d, %v", esn, seq, ok)
		}
		if seq, ok := w.Check(5, esn); !ok || seq != 5 {
			t.Fatalf("esn=%v: Check(5) after an uncommitted 1000 = %d, %v", esn, seq, ok)
		}
		if w.Top() != 0 {
			t.Fatalf("esn=%v: top %d after Checks only", esn, w.Top())
		}
		if !w.Commit(100) {
			t.Fatal("Commit(100)")
		}
		for range 3 {
			if _, ok := w.Check(100, esn); ok {
				t.Fatalf("esn=%v: committed 100 passes Check", esn)
			}
			if _, ok := w.Check(500, esn); !ok {
				t.Fatalf("esn=%v: Check(500)", esn)
			}
		}
		if seq, ok := w.Check(40, esn); !ok || seq != 40 || w.Top() != 100 {
			t.Fatalf("esn=%v: Check(40) = %d, %v with top %d", esn, seq, ok, w.Top())
		}
		// The window can still be resized: Check is not a use.
		var fresh Window
		fresh.Check(7, esn)
		if err := fresh.SetSize(128); err != nil {
			t.Fatalf("SetSize after Check only: %v", err)
		}
	}
}

func TestESNWrap(t *testing.T) {
	t.Run("top just below 2^32", func(t *testing.T) {
		var w Window
		if !w.Commit(epoch - 10) {
			t.Fatal("Commit(2^32-10)")
		}
		// Case A: low 5 is below the window bottom, so it is the next epoch.
		if seq, ok := w.Check(5, true); !ok || seq != epoch+5 {
			t.Fatalf("Check(5) = %#x, %v, want 2^32+5", seq, ok)
		}
		mustReceive(t, &w, epoch+5, true)
		// Now Case B: the window [2^32-58, 2^32+5] straddles the boundary.
		if seq, ok := w.Check(uint32(epoch-20), true); !ok || seq != epoch-20 {
			t.Fatalf("Check(low of 2^32-20) = %#x, %v, want the old epoch", seq, ok)
		}
		mustReceive(t, &w, epoch-20, true)
		mustReceive(t, &w, epoch-20, false)
		mustReceive(t, &w, epoch-10, false)
		mustReceive(t, &w, epoch+5, false)
	})

	t.Run("window straddling 2^32", func(t *testing.T) {
		var w Window
		top := epoch + 20
		w.Commit(top)
		mustReceive(t, &w, top-63, true) // the bottom edge, old epoch
		mustReceive(t, &w, top-63, false)
		mustReceive(t, &w, epoch, true) // low bits 0 are valid with ESN
		mustReceive(t, &w, epoch, false)
		mustReceive(t, &w, epoch-1, true)
		mustReceive(t, &w, epoch+1, true)
		mustReceive(t, &w, top+1, true)
		if w.Top() != top+1 {
			t.Fatalf("top %#x, want %#x", w.Top(), top+1)
		}
	})

	t.Run("very old", func(t *testing.T) {
		var w Window
		w.Commit(epoch + 20)
		// One below the bottom edge: its low bits are placed 2^32 ahead.
		old := epoch + 20 - 64
		if seq, ok := w.Check(uint32(old), true); !ok || seq != old+epoch {
			t.Fatalf("Check(low of %#x) = %#x, %v", old, seq, ok)
		}
		mustReceive(t, &w, old, false)
		mustReceive(t, &w, 1000, false)
		mustReceive(t, &w, epoch-1000, false)
		if w.Top() != epoch+20 {
			t.Fatalf("top moved to %#x", w.Top())
		}
	})

	t.Run("before sequence number 1", func(t *testing.T) {
		var w Window
		w.Commit(10)
		// Case B in epoch 0: low bits from the bottom of the window,
		// 10-63 mod 2^32 = 0xffffffcb, up would belong to epoch -1.
		for _, low := range []uint32{0xffffffff, 0xfffffff0, 0xffffffcb} {
			if seq, ok := w.Check(low, true); ok {
				t.Fatalf("Check(%#x) = %#x accepted before sequence number 1", low, seq)
			}
		}
		if seq, ok := w.Check(0xffffffca, true); !ok || seq != 0xffffffca {
			t.Fatalf("Check(0xffffffca) = %#x, %v: a forward jump in epoch 0", seq, ok)
		}
		if _, ok := w.Check(0, true); ok {
			t.Fatal("full sequence number 0 accepted")
		}
	})

	t.Run("several epochs", func(t *testing.T) {
		var w Window
		sent := uint64(1)
		for i := range 20 {
			mustReceive(t, &w, sent, true)
			if sent > 100 {
				mustReceive(t, &w, sent-10, true)
				mustReceive(t, &w, sent-10, false)
				mustReceive(t, &w, sent-100, false)
			}
			if w.Top() != sent {
				t.Fatalf("step %d: top %#x, want %#x", i, w.Top(), sent)
			}
			sent += 0x60000000 + uint64(i)
		}
		if w.Top()>>32 < 7 {
			t.Fatalf("top %#x crossed fewer epochs than planned", w.Top())
		}
	})

	t.Run("end of the 64-bit space", func(t *testing.T) {
		for _, size := range []uint32{DefaultSize, 0} {
			w := newWindow(t, size)
			w.Commit(1<<64 - 10)
			// Even without replay checks the counter must not wrap.
			if seq, ok := w.Check(5, true); ok {
				t.Fatalf("size %d: Check(5) = %#x accepted past 2^64-1", size, seq)
			}
			mustReceive(t, w, 1<<64-1, true)
			mustReceive(t, w, 1<<64-20, true)
		}
	})
}

func mustReceive(t *testing.T, w *Window, sent uint64, want bool) {
	t.Helper()
	if got := receive(w, sent, true); got != want {
		t.Fatalf("seq %#x accepted=%v, want %v (top %#x)", sent, got, want, w.Top())
	}
}

func TestSizes(t *testing.T) {
	for _, size := range []uint32{0, 1, 32, 64, 100, 1024, 4096, MaxSize} {
		for _, esn := range []bool{false, true} {
			w := newWindow(t, size)
			if w.Size() != size {
				t.Fatalf("Size() = %d, want %d", w.Size(), size)
			}
			top := uint64(10*size + 7)
			if esn {
				top += 3 * epoch
			}
			// Arrive at top through a few earlier packets.
			for _, seq := range []uint64{top - 5, top - 2, top} {
				if !w.Commit(seq) {
					t.Fatalf("size %d esn=%v: Commit(%d)", size, esn, seq)
				}
			}
			if w.Top() != top {
				t.Fatalf("size %d esn=%v: top %d, want %d", size, esn, w.Top(), top)
			}
			check := func(seq uint64, want bool) {
				t.Helper()
				got, ok := w.Check(uint32(seq), esn)
				if ok != want || (ok && got != seq) {
					t.Fatalf("size %d esn=%v top %d: Check(%d) = %d, %v, want %v", size, esn, top, seq, got, ok, want)
				}
			}
			check(top+1, true)
			if size == 0 {
				check(top, true)
				check(top-5, true)
				if !esn {
					check(0, true)
				}
				continue
			}
			check(top, false)
			bottom := top - uint64(size) + 1
			if bottom != top { // a window of 1 holds only the committed top
				check(bottom, true)
			}
			if !esn {
				check(top-uint64(size), false)
			} else if seq, ok := w.Check(uint32(top-uint64(size)), true); !ok || seq != top-uint64(size)+epoch {
				t.Fatalf("size %d: Check(top-size) = %d, %v, want the next epoch", size, seq, ok)
			}
			if w.Commit(bottom) != (bottom != top) {
				t.Fatalf("size %d esn=%v: Commit of the bottom edge", size, esn)
			}
			if w.Commit(bottom - 1) {
				t.Fatalf("size %d esn=%v: Commit below the window", size, esn)
			}
			check(bottom, false)
		}
	}
}

func TestZeroValue(t *testing.T) {
	var w Window
	if w.Size() != DefaultSize {
		t.Fatalf("Size() = %d, want %d", w.Size(), DefaultSize)
	}
	w.Commit(1000)
	if _, ok := w.Check(1000-DefaultSize+1, false); !ok {
		t.Fatal("bottom edge rejected")
	}
	if _, ok := w.Check(1000-DefaultSize, false); ok {
		t.Fatal("below the window accepted")
	}
}

func TestSetSizeErrors(t *testing.T) {
	var w Window
	if err := w.SetSize(MaxSize + 1); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("SetSize(MaxSize+1) = %v, want ErrTooLarge", err)
	}
	if err := w.SetSize(128); err != nil {
		t.Fatal(err)
	}
	if err := w.SetSize(4096); err != nil {
		t.Fatalf("second SetSize before use: %v", err)
	}
	w.Commit(1)
	if err := w.SetSize(64); !errors.Is(err, ErrInUse) {
		t.Fatalf("SetSize after Commit = %v, want ErrInUse", err)
	}
	if w.Size() != 4096 {
		t.Fatalf("failed SetSize changed the size to %d", w.Size())
	}
}

func TestNoAllocs(t *testing.T) {
	for _, size := range []uint32{DefaultSize, 4096} {
		w := newWindow(t, size)
		seq := uint32(0)
		allocs := testing.AllocsPerRun(1000, func() {
			seq++
			if full, ok := w.Check(seq, true); ok {
				w.Commit(full)
			}
		})
		if allocs != 0 {
			t.Fatalf("size %d: %v allocs per Check+Commit", size, allocs)
		}
	}
}

// reference is a deliberately naive model: a set of committed numbers, and
// ESN inference stated as "the one value with these low bits among the 2^32
// starting at the window bottom", computed with signed arithmetic so the
// bottom may lie before 0. It is valid while the top stays below 2^62.
type reference struct {
	size uint32
	top  uint64
	seen map[uint64]bool
}

func newReference(size uint32) *reference {
	return &reference{size: size, seen: map[uint64]bool{}}
}

func (r *reference) check(low uint32, esn bool) (uint64, bool) {
	seq := uint64(low)
	if esn {
		span := int64(r.size)
		if span == 0 {
			span = 1 << 31
		}
		bottom := int64(r.top) - span + 1
		full := bottom + int64(low-uint32(bottom))
		if full < 0 || (full == 0 && r.size != 0) {
			return 0, false
		}
		seq = uint64(full)
	}
	return seq, r.acceptable(seq)
}

func (r *reference) acceptable(seq uint64) bool {
	if r.size == 0 {
		return true
	}
	if seq == 0 || r.seen[seq] {
		return false
	}
	return seq > r.top || r.top-seq < uint64(r.size)
}

func (r *reference) commit(seq uint64) bool {
	if !r.acceptable(seq) {
		return false
	}
	r.seen[seq] = true
	r.top = max(r.top, seq)
	return true
}

// model drives a Window and the reference with the same packets and reports
// the first disagreement.
type model struct {
	w   Window
	ref *reference
	esn bool
}

func newModel(t testing.TB, size uint32, esn bool) *model {
	m := &model{ref: newReference(size), esn: esn}
	if err := m.w.SetSize(size); err != nil {
		t.Fatal(err)
	}
	return m
}

// batch checks all packets first, then commits those whose ICV verifies,
// as the pipeline does. badICV[i] makes packet i fail its ICV regardless.
func (m *model) batch(t testing.TB, sent []uint64, badICV []bool) {
	t.Helper()
	seqs := make([]uint64, len(sent))
	oks := make([]bool, len(sent))
	top := m.w.Top()
	for i, s := range sent {
		seqs[i], oks[i] = m.w.Check(uint32(s), m.esn)
		again, againOK := m.w.Check(uint32(s), m.esn)
		refSeq, refOK := m.ref.check(uint32(s), m.esn)
		if oks[i] != refOK || (refOK && seqs[i] != refSeq) {
			t.Fatalf("size %d esn=%v top %#x: Check(%#x) = %#x, %v; reference %#x, %v",
				m.ref.size, m.esn, top, uint32(s), seqs[i], oks[i], refSeq, refOK)
		}
		if again != seqs[i] || againOK != oks[i] || m.w.Top() != top {
			t.Fatalf("Check(%#x) changed the window", uint32(s))
		}
	}
	for i, s := range sent {
		if !oks[i] || badICV[i] || seqs[i] != s {
			continue
		}
		got, want := m.w.Commit(seqs[i]), m.ref.commit(seqs[i])
		if got != want {
			t.Fatalf("size %d esn=%v: Commit(%#x) = %v, reference %v", m.ref.size, m.esn, seqs[i], got, want)
		}
	}
	if m.w.Top() != m.ref.top {
		t.Fatalf("size %d esn=%v: top %#x, reference %#x", m.ref.size, m.esn, m.w.Top(), m.ref.top)
	}
}

// next picks a packet relative to the top from a few random bits: mostly
// near it (reordering, duplicates, the window edges), sometimes far ahead or
// behind, or, with ESN, a whole epoch off.
func (m *model) next(kind byte, delta uint32) uint64 {
	top := m.ref.top
	edge := uint64(max(m.ref.size, 1))
	var s uint64
	switch kind % 8 {
	case 0, 1, 2:
		s = top + uint64(delta%8) + 1
	case 3:
		s = top - min(top, uint64(delta)%(edge+2))
	case 4:
		s = top - min(top, edge) + uint64(delta%3)
	case 5:
		s = top + uint64(delta%(4*uint32(edge)+1))
	case 6:
		s = top + uint64(delta)
	case 7:
		if m.esn {
			s = top + epoch - uint64(delta%(2*uint32(edge)))
		} else {
			s = uint64(delta)
		}
	}
	if !m.esn {
		s &= 0xffffffff
	}
	return s
}

func TestDifferential(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, size := range []uint32{0, 1, 2, 32, 63, 64, 65, 100, 1024, 4096} {
		for _, esn := range []bool{false, true} {
			m := newModel(t, size, esn)
			for range 3000 {
				n := 1 + rng.IntN(6)
				sent := make([]uint64, n)
				bad := make([]bool, n)
				for i := range sent {
					sent[i] = m.next(byte(rng.Uint32()), rng.Uint32())
					if i > 0 && rng.IntN(4) == 0 {
						sent[i] = sent[i-1] // a duplicate in the same batch
					}
					bad[i] = rng.IntN(10) == 0
				}
				m.batch(t, sent, bad)
			}
		}
	}
}

var fuzzSizes = []uint32{0, 1, 2, 7, 32, 64, 65, 100, 128, 1024, 4096}

// FuzzWindow reads a size selector, then 6-byte packets (kind, flags, a
// 32-bit delta) and compares the Window with the reference model. Bit 0 of
// flags ends the batch after the packet, bit 1 fails its ICV.
func FuzzWindow(f *testing.F) {
	f.Add([]byte{3, 0, 1, 0, 0, 0, 0, 3, 1, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 1 {
			return
		}
		size := fuzzSizes[int(data[0]>>1)%len(fuzzSizes)]
		m := newModel(t, size, data[0]&1 == 1)
		var sent []uint64
		var bad []bool
		for data = data[1:]; len(data) >= 6; data = data[6:] {
			sent = append(sent, m.next(data[0], binary.LittleEndian.Uint32(data[2:])))
			bad = append(bad, data[1]&2 != 0)
			if data[1]&1 != 0 || len(sent) == 16 {
				m.batch(t, sent, bad)
				sent, bad = sent[:0], bad[:0]
			}
			if m.ref.top > 1<<60 {
				return // the reference's signed arithmetic ends here
			}
		}
		m.batch(t, sent, bad)
	})
}

func BenchmarkCheckCommit(b *testing.B) {
	for _, bc := range []struct {
		name string
		size uint32
		esn  bool
	}{
		{"size64", 64, false},
		{"size64-esn", 64, true},
		{"size4096-esn", 4096, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			w := newWindow(b, bc.size)
			b.ReportAllocs()
			seq := uint32(0)
			for b.Loop() {
				seq++
				// A little reordering, as after parallel decryption.
				low := seq ^ 1
				if full, ok := w.Check(low, bc.esn); ok {
					w.Commit(full)
				}
			}
		})
	}
}
