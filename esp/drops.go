package esp

import (
	"net/netip"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// DropReason says why the data plane discarded a packet. The hot path never
// returns errors upward; it counts the reason and moves on.
type DropReason uint8

const (
	dropNone DropReason = iota // the packet goes on
	// Inbound, in the order the checks run (RFC 4303 §3.4).
	DropShort      // shorter than SPI, seq, IV and ICV, or not block-aligned
	DropUnknownSPI // no inbound SA with this SPI
	DropReplay     // replayed or older than the window
	DropICV        // integrity check failed
	DropPadding    // pad length or pad bytes wrong (RFC 4303 §2.4)
	DropSelector   // inner packet outside the SA's traffic selectors
	DropDummy      // Next Header 59, a dummy packet (RFC 4303 §2.6)
	DropMalformed  // inner packet is not a valid IP packet for the SA
	// Outbound.
	DropNoPolicy // no SA covers the packet's addresses
	DropExpired  // the SA reached a hard lifetime or its sequence wrap
	DropTooBig   // the packet does not fit a buffer once encapsulated
	DropSend     // the transport refused the datagram
	DropTUNWrite // the TUN device refused the packet
	numDropReasons
)

var dropNames = [numDropReasons]string{
	dropNone:       "none",
	DropShort:      "short",
	DropUnknownSPI: "unknown-spi",
	DropReplay:     "replay",
	DropICV:        "icv",
	DropPadding:    "padding",
	DropSelector:   "selector",
	DropDummy:      "dummy",
	DropMalformed:  "malformed",
	DropNoPolicy:   "no-policy",
	DropExpired:    "expired",
	DropTooBig:     "too-big",
	DropSend:       "send",
	DropTUNWrite:   "tun-write",
}

func (r DropReason) String() string {
	if r < numDropReasons {
		return dropNames[r]
	}
	return "unknown"
}

// DropCounters counts drops by reason; the zero value is ready.
type DropCounters [numDropReasons]atomic.Uint64

func (d *DropCounters) add(r DropReason) { d[r].Add(1) }

// Map returns the non-zero counters by reason name.
func (d *DropCounters) Map() map[string]uint64 {
	m := make(map[string]uint64)
	for i := range d {
		if n := d[i].Load(); n > 0 {
			m[DropReason(i).String()] = n
		}
	}
	return m
}

// Get returns one counter.
func (d *DropCounters) Get(r DropReason) uint64 { return d[r].Load() }

// rateLimit lets an event through at most once per interval, lock-free, so
// a flood of garbage cannot turn logging or IKE notification into the
// bottleneck.
type rateLimit struct {
	interval int64 // nanoseconds
	next     atomic.Int64
	skipped  atomic.Uint64
}

func newRateLimit(perSecond int) *rateLimit {
	return &rateLimit{interval: int64(time.Second) / int64(perSecond)}
}

// allow reports whether the event may go through, and how many were held
// back since the last one that did.
func (l *rateLimit) allow() (bool, uint64) {
	now := time.Now().UnixNano()
	next := l.next.Load()
	if now < next || !l.next.CompareAndSwap(next, now+l.interval) {
		l.skipped.Add(1)
		return false, 0
	}
	return true, l.skipped.Swap(0)
}

// dropLog writes a rate-limited debug line for a dropped packet.
type dropLog struct {
	log   *zap.Logger
	limit *rateLimit
}

func (l *dropLog) drop(r DropReason, spi uint32, from netip.AddrPort) {
	if !l.log.Core().Enabled(zap.DebugLevel) {
		return
	}
	if ok, skipped := l.limit.allow(); ok {
		l.log.Debug("packet dropped", zap.Stringer("reason", r), zap.Uint32("spi", spi),
			zap.Stringer("peer", from), zap.Uint64("unlogged_since_last", skipped))
	}
}
