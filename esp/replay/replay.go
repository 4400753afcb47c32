package replay

import (
	"errors"
	"fmt"
	"math"
)

const (
	// DefaultSize is the window size of a zero Window. RFC 4303 §3.4.3 makes
	// 32 the minimum and recommends 64 as the default; 64 also fits the
	// bitmap into the Window itself.
	DefaultSize = 64
	// MaxSize is the largest window SetSize accepts (a 16 KiB bitmap).
	MaxSize = 65536

	// disabledInferenceSpan is the window used only to infer ESN high bits
	// when replay checks are off: it tolerates reordering of up to 2^31
	// packets in either direction, the most a 32-bit wire value can tell.
	disabledInferenceSpan = 1 << 31

	wordBits = 64
	wordLog  = 6
	// inlineWords bitmap words live inside Window, so the zero value and any
	// size up to DefaultSize need no allocation.
	inlineWords = 2
)

var (
	// ErrInUse is returned by SetSize after the window has been used.
	ErrInUse = errors.New("replay: window size can only be set before first use")
	// ErrTooLarge is returned by SetSize for a size above MaxSize.
	ErrTooLarge = errors.New("replay: window size too large")
)

// Window is the receive-side anti-replay window of one inbound SA (RFC 4303
// §3.4.3). It remembers the highest sequence number committed (the top) and
// which of the size numbers ending at the top have been committed: a sequence
// number is acceptable if it is above the top, or inside
// [top-size+1, top] and not yet committed.
//
// The zero value is ready to use with DefaultSize. A Window is not safe for
// concurrent use (see the package comment) and must not be copied after
// SetSize.
type Window struct {
	top uint64
	// size is meaningful only once configured is set; the zero Window means
	// DefaultSize, and size 0 after SetSize means replay checks are off.
	size       uint32
	configured bool
	used       bool
	// The bitmap is a ring of words indexed by seq/64 (RFC 6479), so sliding
	// the window clears whole words instead of shifting bits. Its length is
	// a power of two with at least one spare word beyond the window, so
	// clearing the word the top moves into never erases a bit still inside
	// the window. ring is nil while inline is in use.
	ring   []uint64
	inline [inlineWords]uint64
}

// SetSize sets the window to n sequence numbers. n = 0 disables the replay
// check, which RFC 4303 §3.4.3 allows the receiver to do: every sequence
// number is then accepted (0 included, as the sender may let its counter
// roll over), and only the top is tracked so ESN high bits can be inferred.
// SetSize must be called before the first Commit; it is the only method that
// allocates.
func (w *Window) SetSize(n uint32) error {
	if w.used {
		return ErrInUse
	}
	if n > MaxSize {
		return fmt.Errorf("%w: %d (maximum %d)", ErrTooLarge, n, MaxSize)
	}
	w.size, w.configured = n, true
	w.inline = [inlineWords]uint64{}
	w.ring = nil
	if words := ringWords(n); words > inlineWords {
		w.ring = make([]uint64, words)
	}
	return nil
}

// ringWords returns the bitmap length for a window of n: enough words to
// cover n bits plus the one spare word, rounded up to a power of two so a
// word index is a mask.
func ringWords(n uint32) int {
	need := (int(n)+wordBits-1)/wordBits + 1
	words := 1
	for words < need {
		words <<= 1
	}
	return words
}

// Size returns the window size; 0 means replay checks are off.
func (w *Window) Size() uint32 {
	if !w.configured {
		return DefaultSize
	}
	return w.size
}

// Top returns the highest committed sequence number, 0 before the first.
func (w *Window) Top() uint64 { return w.top }

// Check pre-checks a packet's sequence number before its ICV is verified.
// seqLow is the 32-bit Sequence Number field from the ESP header (RFC 4303
// §2.2). With esn, the high 32 bits are inferred from the window (RFC 4303
// Appendix A2.2) and seq is the full 64-bit number the ICV must be computed
// with; without esn, seq is seqLow. ok is false for a replay, a packet older
// than the window, sequence number 0 (never sent: the first packet of an SA
// carries 1, RFC 4303 §3.3.3), and an ESN value that cannot be placed (before
// 1, or past 2^64-1). Check never modifies the window, so a packet whose ICV
// then fails leaves no trace.
//
// With ESN a packet older than the window cannot be told from one 2^32 ahead
// of it: RFC 4303 Appendix A2.2 infers the next epoch, Check returns ok, and
// the ICV check rejects the packet.
func (w *Window) Check(seqLow uint32, esn bool) (seq uint64, ok bool) {
	seq = uint64(seqLow)
	if esn {
		if seq, ok = w.inferHigh(seqLow); !ok {
			return 0, false
		}
	}
	return seq, w.acceptable(seq)
}

// inferHigh places seqLow in the 2^32 sequence numbers starting at the bottom
// of the window, following the two cases of RFC 4303 Appendix A2.2 (T is the
// top, W the window size, l and h the low and high 32 bits):
//
//	Case A, Tl >= W-1, the window lies in one epoch:
//	    Seql >= Tl-W+1 -> Seqh = Th, else Seqh = Th+1
//	Case B, Tl < W-1, the window straddles a 2^32 boundary:
//	    Seql >= Tl-W+1 (mod 2^32) -> Seqh = Th-1, else Seqh = Th
//
// Th-1 below epoch 0 would be a sequence number below 1, and Th+1 past the
// last epoch would wrap the 64-bit counter; both are rejected.
func (w *Window) inferHigh(seqLow uint32) (uint64, bool) {
	span := w.Size()
	if span == 0 {
		span = disabledInferenceSpan
	}
	topHigh, topLow := uint32(w.top>>32), uint32(w.top)
	bottomLow := topLow - (span - 1)
	seqHigh := topHigh
	if topLow >= span-1 { // Case A
		if seqLow < bottomLow {
			if topHigh == math.MaxUint32 {
				return 0, false
			}
			seqHigh++
		}
	} else { // Case B
		if seqLow >= bottomLow {
			if topHigh == 0 {
				return 0, false
			}
			seqHigh--
		}
	}
	return uint64(seqHigh)<<32 | uint64(seqLow), true
}

func (w *Window) acceptable(seq uint64) bool {
	size := w.Size()
	switch {
	case size == 0:
		return true
	case seq == 0:
		return false
	case seq > w.top:
		return true
	case w.top-seq >= uint64(size):
		return false
	}
	word, bit := w.locate(seq)
	return *word&bit == 0
}

// Commit marks seq, as returned by Check, as seen once the packet's ICV has
// verified, sliding the window forward if seq is above the top. It returns
// false, changing nothing, if seq is no longer acceptable: a copy of the same
// packet was committed since Check, or newer packets pushed seq out of the
// window.
func (w *Window) Commit(seq uint64) bool {
	w.used = true
	if !w.acceptable(seq) {
		return false
	}
	if w.Size() == 0 {
		w.top = max(w.top, seq)
		return true
	}
	if seq > w.top {
		w.slide(seq)
	}
	word, bit := w.locate(seq)
	*word |= bit
	return true
}

// slide moves the top to newTop, clearing the ring words between the old
// top's word and the new one; a jump of a whole ring or more clears it all.
func (w *Window) slide(newTop uint64) {
	ring := w.bitmap()
	mask := uint64(len(ring) - 1)
	oldWord := w.top >> wordLog
	cleared := min(newTop>>wordLog-oldWord, uint64(len(ring)))
	for i := uint64(1); i <= cleared; i++ {
		ring[(oldWord+i)&mask] = 0
	}
	w.top = newTop
}

func (w *Window) locate(seq uint64) (word *uint64, bit uint64) {
	ring := w.bitmap()
	return &ring[(seq>>wordLog)&uint64(len(ring)-1)], 1 << (seq & (wordBits - 1))
}

func (w *Window) bitmap() []uint64 {
	if w.ring != nil {
		return w.ring
	}
	return w.inline[:]
}
