//go:build linux

package rawip

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/espd/espd/esp/packet"
	"github.com/espd/espd/esp/packet/packettest"
	"github.com/espd/espd/internal/batchio"
)

// inNetns runs open on an OS thread moved into a new, unnamed network
// namespace with lo up, so raw ESP sockets see only the test's packets.
// Sockets opened there stay in that namespace, which the kernel removes when
// the last of them is closed; the thread is never unlocked, so the runtime
// discards it rather than reusing it in the wrong namespace.
func inNetns(t *testing.T, open func() error) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: raw sockets and network namespaces")
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		ns, err := netns.New()
		if err != nil {
			errc <- err
			return
		}
		defer ns.Close()
		lo, err := netlink.LinkByName("lo")
		if err == nil {
			err = netlink.LinkSetUp(lo)
		}
		if err != nil {
			errc <- err
			return
		}
		errc <- open()
	}()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// pair opens a sender bound to loopback and a receiver bound to the
// unspecified address of the same family, in a fresh namespace.
func pair(t *testing.T, loopback netip.Addr) (sender, receiver *Conn) {
	t.Helper()
	any := netip.IPv4Unspecified()
	if loopback.Is6() {
		any = netip.IPv6Unspecified()
	}
	inNetns(t, func() (err error) {
		if sender, err = Listen(loopback, 0); err != nil {
			return err
		}
		receiver, err = Listen(any, 0)
		return err
	})
	t.Cleanup(func() {
		sender.Close()
		receiver.Close()
	})
	return sender, receiver
}

var loopbacks = []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::1")}

func familyName(a netip.Addr) string {
	if a.Is4() {
		return "IPv4"
	}
	return "IPv6"
}

func fill(bufs []*packet.Buffer, to netip.Addr, size func(i int) int) {
	for i, buf := range bufs {
		n := copy(buf.Bytes[packet.Headroom:], packettest.ESPPacket(uint32(i), size(i)))
		buf.SetData(packet.Headroom, n)
		// The port must be ignored.
		buf.Remote = netip.AddrPortFrom(to, 4500)
	}
}

func TestExchangeBatch(t *testing.T) {
	for _, lo := range loopbacks {
		t.Run(familyName(lo), func(t *testing.T) {
			a, b := pair(t, lo)
			const count = 64
			out := packettest.NewBuffers(count)
			fill(out, lo, func(i int) int { return 8 + i*(packet.MaxData-8)/(count-1) })
			if n, err := a.WriteBatch(out); err != nil || n != count {
				t.Fatalf("WriteBatch = %d, %v", n, err)
			}
			headerLen := 0
			if lo.Is4() {
				headerLen = 20
			}
			for i, buf := range packettest.ReadESP(t, b, count) {
				if want := out[i].Data(); !bytes.Equal(buf.Data(), want) {
					t.Fatalf("packet %d: got %d bytes, want %d", i, buf.Len(), len(want))
				}
				if buf.Start != packet.Headroom+headerLen {
					t.Errorf("packet %d starts at %d, want %d", i, buf.Start, packet.Headroom+headerLen)
				}
				if want := netip.AddrPortFrom(lo, 0); buf.Remote != want {
					t.Errorf("packet %d from %v, want %v", i, buf.Remote, want)
				}
			}
			if s := a.Stats(); s.Sent != count || s.SendErrors != 0 {
				t.Errorf("sender stats %+v", s)
			}
			if s := b.Stats(); s.Received != count {
				t.Errorf("receiver stats %+v", s)
			}
		})
	}
}

// Packets the data plane cannot use are counted and never returned.
func TestDropsShortAndOversized(t *testing.T) {
	for _, lo := range loopbacks {
		t.Run(familyName(lo), func(t *testing.T) {
			a, b := pair(t, lo)
			sizes := []int{4, 100, 0, packet.MaxData + 1, 7, packet.MaxData}
			out := packettest.NewBuffers(len(sizes))
			fill(out, lo, func(i int) int { return sizes[i] })
			if n, err := a.WriteBatch(out); err != nil || n != len(sizes) {
				t.Fatalf("WriteBatch = %d, %v", n, err)
			}
			got := packettest.ReadESP(t, b, 2)
			if got[0].Len() != 100 || got[1].Len() != packet.MaxData {
				t.Errorf("returned %d and %d bytes, want 100 and %d", got[0].Len(), got[1].Len(), packet.MaxData)
			}
			want := Stats{Received: 2, Short: 3, Truncated: 1}
			if s := b.Stats(); s != want {
				t.Errorf("stats\n got %+v\nwant %+v", s, want)
			}
		})
	}
}

func TestWriteBatchSkipsRefused(t *testing.T) {
	a, b := pair(t, loopbacks[0])
	out := packettest.NewBuffers(3)
	fill(out, loopbacks[0], func(int) int { return 64 })
	out[1].Remote = netip.MustParseAddrPort("[2001:db8::1]:0")
	if n, err := a.WriteBatch(out); err != nil || n != 2 {
		t.Fatalf("WriteBatch = %d, %v; want 2, nil", n, err)
	}
	if s := a.Stats(); s.Sent != 2 || s.SendErrors != 1 {
		t.Errorf("stats %+v", s)
	}
	packettest.ReadESP(t, b, 2)
}

func TestMark(t *testing.T) {
	for _, lo := range loopbacks {
		var c *Conn
		inNetns(t, func() (err error) {
			c, err = Listen(lo, 0x50)
			return err
		})
		mark, err := batchio.Mark(c.SyscallConn())
		if err != nil || mark != 0x50 {
			t.Errorf("%s: SO_MARK = %#x, %v; want 0x50", familyName(lo), mark, err)
		}
		if want := netip.AddrPortFrom(lo, 0); c.LocalAddr() != want {
			t.Errorf("LocalAddr = %v, want %v", c.LocalAddr(), want)
		}
		c.Close()
	}
}

func TestListenNoAddress(t *testing.T) {
	if _, err := Listen(netip.Addr{}, 0); !errors.Is(err, ErrNoAddress) {
		t.Errorf("Listen(zero) = %v, want ErrNoAddress", err)
	}
}

func TestCloseUnblocksRead(t *testing.T) {
	_, b := pair(t, loopbacks[0])
	errc := make(chan error, 1)
	go func() {
		_, err := b.ReadBatch(packettest.NewBuffers(4))
		errc <- err
	}()
	time.Sleep(20 * time.Millisecond)
	b.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("ReadBatch after Close: %v, want net.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ReadBatch still blocked after Close")
	}
}

func TestNoAllocs(t *testing.T) {
	for _, lo := range loopbacks {
		t.Run(familyName(lo), func(t *testing.T) {
			a, b := pair(t, lo)
			out, in := packettest.NewBuffers(64), packettest.NewBuffers(64)
			fill(out, lo, func(int) int { return 1400 })
			allocs := testing.AllocsPerRun(50, func() { roundTrip(t, a, b, out, in) })
			if allocs != 0 {
				t.Errorf("%v allocations per WriteBatch+ReadBatch of 64, want 0", allocs)
			}
		})
	}
}

func roundTrip(t testing.TB, a, b *Conn, out, in []*packet.Buffer) {
	if _, err := a.WriteBatch(out); err != nil {
		t.Fatal(err)
	}
	for got := 0; got < len(out); {
		rest := in[:len(out)-got]
		for _, buf := range rest {
			buf.Reset()
		}
		n, err := b.ReadBatch(rest)
		if err != nil {
			t.Fatal(err)
		}
		got += n
	}
}
