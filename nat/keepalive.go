package nat

import (
	"net/netip"
	"sync"
	"time"
)

// DefaultKeepaliveInterval is how often a peer behind a NAT refreshes its
// mapping, strongSwan's charon.keep_alive default (RFC 3948 §4 leaves the
// interval to the implementation; 20 s outlives common UDP NAT timeouts).
const DefaultKeepaliveInterval = 20 * time.Second

// Clock starts tickers; tests inject a fake one so they need not sleep.
type Clock interface {
	NewTicker(d time.Duration) Ticker
}

// Ticker delivers ticks until stopped, like *time.Ticker.
type Ticker interface {
	C() <-chan time.Time
	Stop()
}

// SystemClock is the real clock.
var SystemClock Clock = systemClock{}

type systemClock struct{}

func (systemClock) NewTicker(d time.Duration) Ticker { return systemTicker{time.NewTicker(d)} }

type systemTicker struct{ t *time.Ticker }

func (t systemTicker) C() <-chan time.Time { return t.t.C }
func (t systemTicker) Stop()               { t.t.Stop() }

// Keepalive sends a NAT-keepalive (RFC 3948 §2.3) to every registered peer
// once per interval, so the NAT in front of this host keeps the UDP mappings
// those peers send to. It sends regardless of other traffic to the peer; the
// cost is one byte per peer and interval.
type Keepalive struct {
	send func(to netip.AddrPort) error

	mu    sync.Mutex
	peers map[netip.AddrPort]struct{}

	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
}

// StartKeepalive starts sending keepalives through send, usually a Conn's
// SendKeepalive, every interval (DefaultKeepaliveInterval if zero) as told by
// clock (SystemClock if nil). Send errors are ignored here; the Conn counts
// them.
func StartKeepalive(send func(to netip.AddrPort) error, interval time.Duration, clock Clock) *Keepalive {
	if interval <= 0 {
		interval = DefaultKeepaliveInterval
	}
	if clock == nil {
		clock = SystemClock
	}
	k := &Keepalive{
		send:  send,
		peers: make(map[netip.AddrPort]struct{}),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	go k.run(clock.NewTicker(interval))
	return k
}

// Add registers a peer to keep the mapping towards.
func (k *Keepalive) Add(peer netip.AddrPort) {
	k.mu.Lock()
	k.peers[peer] = struct{}{}
	k.mu.Unlock()
}

// Remove forgets a peer.
func (k *Keepalive) Remove(peer netip.AddrPort) {
	k.mu.Lock()
	delete(k.peers, peer)
	k.mu.Unlock()
}

// Stop ends the sending and waits until no send is in progress.
func (k *Keepalive) Stop() {
	k.stopOnce.Do(func() { close(k.stop) })
	<-k.done
}

func (k *Keepalive) run(t Ticker) {
	defer close(k.done)
	defer t.Stop()
	var due []netip.AddrPort
	for {
		select {
		case <-k.stop:
			return
		case <-t.C():
		}
		// Send outside the lock: a slow send must not block Add/Remove.
		due = due[:0]
		k.mu.Lock()
		for p := range k.peers {
			due = append(due, p)
		}
		k.mu.Unlock()
		for _, p := range due {
			_ = k.send(p)
		}
	}
}
