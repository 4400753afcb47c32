package nat

import (
	"net/netip"
	"slices"
	"testing"
	"time"
)

// fakeClock hands out one ticker whose ticks the test sends by hand.
type fakeClock struct {
	interval chan time.Duration
	ticks    chan time.Time
	stopped  chan struct{}
}

func newFakeClock() *fakeClock {
	return &fakeClock{
		interval: make(chan time.Duration, 1),
		ticks:    make(chan time.Time),
		stopped:  make(chan struct{}),
	}
}

func (c *fakeClock) NewTicker(d time.Duration) Ticker {
	c.interval <- d
	return fakeTicker{c}
}

type fakeTicker struct{ c *fakeClock }

func (t fakeTicker) C() <-chan time.Time { return t.c.ticks }
func (t fakeTicker) Stop()               { close(t.c.stopped) }

// tick fires the ticker and collects the keepalives sent in response.
func tick(t *testing.T, clock *fakeClock, sent chan netip.AddrPort, want int) []netip.AddrPort {
	t.Helper()
	clock.ticks <- time.Time{}
	var got []netip.AddrPort
	for range want {
		select {
		case p := <-sent:
			got = append(got, p)
		case <-time.After(5 * time.Second):
			t.Fatalf("got keepalives to %v, want %d", got, want)
		}
	}
	select {
	case p := <-sent:
		t.Fatalf("unexpected keepalive to %v", p)
	case <-time.After(10 * time.Millisecond):
	}
	slices.SortFunc(got, netip.AddrPort.Compare)
	return got
}

func TestKeepalive(t *testing.T) {
	clock := newFakeClock()
	sent := make(chan netip.AddrPort, 16)
	k := StartKeepalive(func(to netip.AddrPort) error { sent <- to; return nil }, 0, clock)
	if d := <-clock.interval; d != DefaultKeepaliveInterval {
		t.Errorf("interval %v, want %v", d, DefaultKeepaliveInterval)
	}

	if got := tick(t, clock, sent, 0); len(got) != 0 {
		t.Errorf("keepalives with no peers: %v", got)
	}

	p1 := netip.MustParseAddrPort("192.0.2.1:4500")
	p2 := netip.MustParseAddrPort("[2001:db8::2]:4500")
	k.Add(p1)
	k.Add(p2)
	k.Add(p1) // adding twice must not double the keepalives
	if got := tick(t, clock, sent, 2); !slices.Equal(got, []netip.AddrPort{p1, p2}) {
		t.Errorf("first interval sent to %v", got)
	}

	k.Remove(p1)
	if got := tick(t, clock, sent, 1); !slices.Equal(got, []netip.AddrPort{p2}) {
		t.Errorf("after Remove sent to %v", got)
	}

	k.Stop()
	k.Stop() // idempotent
	select {
	case <-clock.stopped:
	default:
		t.Error("ticker not stopped")
	}
}

func TestKeepaliveInterval(t *testing.T) {
	clock := newFakeClock()
	k := StartKeepalive(func(netip.AddrPort) error { return nil }, 5*time.Second, clock)
	defer k.Stop()
	if d := <-clock.interval; d != 5*time.Second {
		t.Errorf("interval %v, want 5s", d)
	}
}

// With the real clock, a short interval must produce real keepalives.
func TestKeepaliveSystemClock(t *testing.T) {
	sent := make(chan netip.AddrPort, 16)
	k := StartKeepalive(func(to netip.AddrPort) error {
		select {
		case sent <- to:
		default:
		}
		return nil
	}, time.Millisecond, nil)
	defer k.Stop()
	peer := netip.MustParseAddrPort("198.51.100.9:4500")
	k.Add(peer)
	select {
	case got := <-sent:
		if got != peer {
			t.Errorf("keepalive to %v, want %v", got, peer)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no keepalive")
	}
}
