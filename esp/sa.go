package esp

import (
	"fmt"
	"math"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/espd/espd/crypto"
	"github.com/espd/espd/esp/installer"
	"github.com/espd/espd/esp/replay"
)

// seqWarnMargin is how many sequence numbers before the wrap the SA raises
// SeqNearWrap: at 10 Mpps, 2^24 packets leave IKE well over a second to
// finish a rekey before the SA must stop sending (RFC 4303 §3.3.3).
const seqWarnMargin = 1 << 24

// SA is one installed unidirectional security association. Everything the
// hot path reads is immutable after install or atomic, so packets never take
// a lock except the inbound replay window's.
type SA struct {
	spi       uint32
	dir       installer.Direction
	mode      installer.Mode
	encap     bool
	local     netip.AddrPort
	remote    atomic.Pointer[netip.AddrPort] // moved by Update on a NAT rebinding
	xf        crypto.Transform
	suite     crypto.Suite
	esn       bool
	localTS   []netip.Prefix
	remoteTS  []netip.Prefix
	lifetime  installer.Lifetime
	installed time.Time
	conn      int // index into the data plane's transports, outbound only

	// Outbound: the last sequence number handed out; the first packet
	// carries 1 (RFC 4303 §3.3.3).
	seq     atomic.Uint64
	seqMax  uint64
	seqWarn uint64

	// Inbound: pre-checked by the socket reader, committed by the
	// sequential stage, so it is the one lock on the path.
	replayMu sync.Mutex
	replay   replay.Window

	bytes    atomic.Uint64
	packets  atomic.Uint64
	lastUse  atomic.Int64 // unix nanoseconds
	drops    DropCounters
	softSent atomic.Bool
	hardSent atomic.Bool
	dead     atomic.Bool // hard-expired or deleted: carries nothing more
}

func newSA(p *installer.SAParams, conn int, now time.Time) (*SA, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	xf, err := p.Suite.New(p.EncKey, p.IntegKey)
	if err != nil {
		return nil, fmt.Errorf("%w: SA %#x: %v", installer.ErrInvalid, p.SPI, err)
	}
	sa := &SA{
		spi:       p.SPI,
		dir:       p.Direction,
		mode:      p.Mode,
		encap:     p.Encap,
		local:     p.Local,
		xf:        xf,
		suite:     p.Suite,
		esn:       p.ESN,
		localTS:   append([]netip.Prefix(nil), p.LocalTS...),
		remoteTS:  append([]netip.Prefix(nil), p.RemoteTS...),
		lifetime:  p.Lifetime,
		installed: now,
		conn:      conn,
		seqMax:    math.MaxUint32,
	}
	if p.ESN {
		sa.seqMax = math.MaxUint64
	}
	sa.seqWarn = sa.seqMax - seqWarnMargin
	remote := p.Remote
	sa.remote.Store(&remote)
	if p.Direction == installer.Inbound {
		if err := sa.replay.SetSize(p.ReplayWindow); err != nil {
			return nil, fmt.Errorf("%w: SA %#x: %v", installer.ErrInvalid, p.SPI, err)
		}
	}
	return sa, nil
}

// SPI returns the SA's SPI.
func (sa *SA) SPI() uint32 { return sa.spi }

// Remote returns the peer's current outer address.
func (sa *SA) Remote() netip.AddrPort { return *sa.remote.Load() }

// nextSeq hands out the next outbound sequence number. It refuses once the
// counter would wrap, because a wrapped counter reuses an AEAD nonce.
func (sa *SA) nextSeq(ev installer.Events) (uint64, bool) {
	s := sa.seq.Add(1)
	if s > sa.seqMax || s == 0 {
		sa.seq.Store(sa.seqMax) // keep it pinned so it never wraps round
		return 0, false
	}
	if s == sa.seqWarn && ev != nil {
		ev.SeqNearWrap(sa.spi)
	}
	return s, true
}

// account adds one packet to the SA's counters and fires the soft and hard
// lifetime events the first time a byte or packet limit is crossed. It
// returns false when the hard limit is reached.
func (sa *SA) account(n int, now int64, ev installer.Events) bool {
	bytes := sa.bytes.Add(uint64(n))
	packets := sa.packets.Add(1)
	sa.lastUse.Store(now)
	soft, hard := sa.lifetime.Soft, sa.lifetime.Hard
	if (soft.Bytes != 0 && bytes >= soft.Bytes) || (soft.Packets != 0 && packets >= soft.Packets) {
		sa.fireSoft(ev)
	}
	if (hard.Bytes != 0 && bytes > hard.Bytes) || (hard.Packets != 0 && packets > hard.Packets) {
		sa.fireHard(ev)
		return false
	}
	return true
}

// checkTime fires the time-based lifetime events.
func (sa *SA) checkTime(now time.Time, ev installer.Events) {
	age := now.Sub(sa.installed)
	if t := sa.lifetime.Soft.Time; t != 0 && age >= t {
		sa.fireSoft(ev)
	}
	if t := sa.lifetime.Hard.Time; t != 0 && age >= t {
		sa.fireHard(ev)
	}
}

func (sa *SA) fireSoft(ev installer.Events) {
	if !sa.softSent.Swap(true) && ev != nil {
		ev.SoftExpired(sa.spi, sa.dir)
	}
}

func (sa *SA) fireHard(ev installer.Events) {
	sa.dead.Store(true)
	if !sa.hardSent.Swap(true) && ev != nil {
		ev.HardExpired(sa.spi, sa.dir)
	}
}

// stats reports the SA's counters for installer.Query.
func (sa *SA) stats() installer.Stats {
	st := installer.Stats{
		Bytes:   sa.bytes.Load(),
		Packets: sa.packets.Load(),
		Drops:   sa.drops.Map(),
	}
	if t := sa.lastUse.Load(); t != 0 {
		st.LastUse = time.Unix(0, t)
	}
	if sa.dir == installer.Outbound {
		st.Seq = sa.seq.Load()
	} else {
		sa.replayMu.Lock()
		st.Seq = sa.replay.Top()
		sa.replayMu.Unlock()
	}
	return st
}

// Info is a snapshot of an SA for status displays.
type Info struct {
	SPI           uint32
	Direction     installer.Direction
	Mode          installer.Mode
	Encap         bool
	Local, Remote netip.AddrPort
	Proposal      string
	LocalTS       []netip.Prefix
	RemoteTS      []netip.Prefix
	Installed     time.Time
	Stats         installer.Stats
}

func (sa *SA) info() Info {
	return Info{
		SPI: sa.spi, Direction: sa.dir, Mode: sa.mode, Encap: sa.encap,
		Local: sa.local, Remote: sa.Remote(), Proposal: sa.suite.String(),
		LocalTS: sa.localTS, RemoteTS: sa.remoteTS, Installed: sa.installed,
		Stats: sa.stats(),
	}
}

// matches reports whether an inner packet from src to dst falls inside
// the SA's selectors, seen from the SA's direction.
func (sa *SA) matches(src, dst netip.Addr) bool {
	if sa.dir == installer.Outbound {
		return containsAddr(sa.localTS, src) && containsAddr(sa.remoteTS, dst)
	}
	return containsAddr(sa.remoteTS, src) && containsAddr(sa.localTS, dst)
}

func containsAddr(set []netip.Prefix, a netip.Addr) bool {
	for _, p := range set {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
