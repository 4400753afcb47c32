//go:build linux

package batchio

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"syscall"
	"testing"

	"golang.org/x/net/ipv4"
)

// udpPair opens two UDP sockets on the loopback address of network.
func udpPair(t testing.TB, network, loopback string) (a, b *net.UDPConn) {
	t.Helper()
	open := func() *net.UDPConn {
		c, err := net.ListenPacket(network, net.JoinHostPort(loopback, "0"))
		if err != nil {
			t.Skipf("no %s loopback: %v", network, err)
		}
		t.Cleanup(func() { c.Close() })
		u := c.(*net.UDPConn)
		rc, err := u.SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		if err := Tune(rc, 0); err != nil {
			t.Fatal(err)
		}
		return u
	}
	return open(), open()
}

func rawConn(t testing.TB, c syscall.Conn) syscall.RawConn {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	return rc
}

func addrPort(c net.PacketConn) netip.AddrPort {
	return c.LocalAddr().(*net.UDPAddr).AddrPort()
}

func TestRoundTrip(t *testing.T) {
	for _, tc := range []struct{ network, loopback string }{
		{"udp4", "127.0.0.1"},
		{"udp6", "::1"},
	} {
		t.Run(tc.network, func(t *testing.T) {
			a, b := udpPair(t, tc.network, tc.loopback)
			const count = 64
			tx := NewBatch(count)
			for i := range count {
				payload := bytes.Repeat([]byte{byte(i)}, 1+i*23)
				tx.Msgs[i] = Message{Buf: payload, Addr: addrPort(b)}
			}
			sent, refused, err := tx.Send(rawConn(t, a), count)
			if err != nil || sent != count || refused != 0 {
				t.Fatalf("Send = %d, %d, %v; want %d, 0, nil", sent, refused, err, count)
			}

			rx := NewBatch(count)
			storage := make([][2000]byte, count)
			got := 0
			for got < count {
				for i := range count {
					rx.Msgs[i].Buf = storage[i][:]
				}
				n, err := rx.Recv(rawConn(t, b), count-got)
				if err != nil {
					t.Fatal(err)
				}
				for i := range n {
					m := rx.Msgs[i]
					want := tx.Msgs[got+i].Buf
					if !bytes.Equal(m.Buf[:m.N], want) || m.Truncated {
						t.Fatalf("datagram %d: got %d bytes (truncated %v), want %d", got+i, m.N, m.Truncated, len(want))
					}
					if m.Addr != addrPort(a) {
						t.Fatalf("datagram %d from %v, want %v", got+i, m.Addr, addrPort(a))
					}
				}
				got += n
			}
		})
	}
}

func TestTruncated(t *testing.T) {
	a, b := udpPair(t, "udp4", "127.0.0.1")
	tx := NewBatch(1)
	tx.Msgs[0] = Message{Buf: make([]byte, 100), Addr: addrPort(b)}
	if _, _, err := tx.Send(rawConn(t, a), 1); err != nil {
		t.Fatal(err)
	}
	rx := NewBatch(1)
	rx.Msgs[0].Buf = make([]byte, 10)
	n, err := rx.Recv(rawConn(t, b), 1)
	if err != nil || n != 1 {
		t.Fatalf("Recv = %d, %v", n, err)
	}
	if !rx.Msgs[0].Truncated || rx.Msgs[0].N != 10 {
		t.Fatalf("got N=%d truncated=%v, want N=10 truncated", rx.Msgs[0].N, rx.Msgs[0].Truncated)
	}
}

// A datagram the kernel refuses must not stop the rest of the batch.
func TestSendSkipsRefused(t *testing.T) {
	a, b := udpPair(t, "udp4", "127.0.0.1")
	tx := NewBatch(4)
	tx.Msgs[0] = Message{Buf: []byte("first"), Addr: addrPort(b)}
	tx.Msgs[1] = Message{Buf: []byte("v6 on a v4 socket"), Addr: netip.MustParseAddrPort("[2001:db8::1]:4500")}
	tx.Msgs[2] = Message{Buf: []byte("no address")}
	tx.Msgs[3] = Message{Buf: []byte("last"), Addr: addrPort(b)}
	sent, refused, err := tx.Send(rawConn(t, a), 4)
	if err != nil || sent != 2 || refused != 2 {
		t.Fatalf("Send = %d, %d, %v; want 2, 2, nil", sent, refused, err)
	}
	if tx.LastRefusal == 0 {
		t.Error("LastRefusal not recorded")
	}
	rx := NewBatch(4)
	for i := range rx.Msgs {
		rx.Msgs[i].Buf = make([]byte, 64)
	}
	var got []string
	for len(got) < 2 {
		n, err := rx.Recv(rawConn(t, b), 4)
		if err != nil {
			t.Fatal(err)
		}
		for i := range n {
			got = append(got, string(rx.Msgs[i].Buf[:rx.Msgs[i].N]))
		}
	}
	if got[0] != "first" || got[1] != "last" {
		t.Fatalf("received %q", got)
	}
}

func TestClosed(t *testing.T) {
	a, _ := udpPair(t, "udp4", "127.0.0.1")
	rc := rawConn(t, a)
	a.Close()
	rx := NewBatch(1)
	rx.Msgs[0].Buf = make([]byte, 10)
	if _, err := rx.Recv(rc, 1); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Recv after Close: %v, want net.ErrClosed", err)
	}
	rx.Msgs[0].Addr = netip.MustParseAddrPort("127.0.0.1:9")
	if _, _, err := rx.Send(rc, 1); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Send after Close: %v, want net.ErrClosed", err)
	}
}

func TestSockaddrRoundTrip(t *testing.T) {
	for _, s := range []string{"192.0.2.1:4500", "[2001:db8::1]:65535", "0.0.0.0:0", "[::]:1"} {
		ap := netip.MustParseAddrPort(s)
		var sa sockaddr
		n := encodeSockaddr(&sa, ap)
		if got := decodeSockaddr(&sa, n); got != ap {
			t.Errorf("%v: round trip gave %v", ap, got)
		}
	}
	var sa sockaddr
	mapped := netip.MustParseAddrPort("[::ffff:192.0.2.7]:500")
	if got := decodeSockaddr(&sa, encodeSockaddr(&sa, mapped)); got != netip.MustParseAddrPort("192.0.2.7:500") {
		t.Errorf("mapped address sent as %v, want IPv4", got)
	}
	if n := encodeSockaddr(&sa, netip.AddrPort{}); n != 0 {
		t.Errorf("invalid address encoded with length %d", n)
	}
	if got := decodeSockaddr(&sockaddr{}, 0); got.IsValid() {
		t.Errorf("empty sockaddr decoded as %v", got)
	}
}

func TestNoAllocs(t *testing.T) {
	a, b := udpPair(t, "udp4", "127.0.0.1")
	const count = 32
	tx, rx := NewBatch(count), NewBatch(count)
	payload := make([]byte, 1400)
	storage := make([][2000]byte, count)
	ra, rb := rawConn(t, a), rawConn(t, b)
	dst := addrPort(b)
	allocs := testing.AllocsPerRun(50, func() {
		for i := range count {
			tx.Msgs[i] = Message{Buf: payload, Addr: dst}
		}
		if _, _, err := tx.Send(ra, count); err != nil {
			t.Fatal(err)
		}
		for got := 0; got < count; {
			for i := range count {
				rx.Msgs[i].Buf = storage[i][:]
			}
			n, err := rx.Recv(rb, count-got)
			if err != nil {
				t.Fatal(err)
			}
			got += n
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per batch round trip, want 0", allocs)
	}
}

const benchBatch = 64

// BenchmarkRecvSend moves batches of 64 1400-byte datagrams over loopback
// with this package.
func BenchmarkRecvSend(b *testing.B) {
	a, c := udpPair(b, "udp4", "127.0.0.1")
	tx, rx := NewBatch(benchBatch), NewBatch(benchBatch)
	payload := make([]byte, 1400)
	storage := make([][2000]byte, benchBatch)
	dst := addrPort(c)
	for i := range benchBatch {
		tx.Msgs[i] = Message{Buf: payload, Addr: dst}
	}
	ra, rc := rawConn(b, a), rawConn(b, c)
	b.ReportAllocs()
	b.SetBytes(benchBatch * 1400)
	for b.Loop() {
		if _, _, err := tx.Send(ra, benchBatch); err != nil {
			b.Fatal(err)
		}
		for got := 0; got < benchBatch; {
			for i := range benchBatch {
				rx.Msgs[i].Buf = storage[i][:]
			}
			n, err := rx.Recv(rc, benchBatch-got)
			if err != nil {
				b.Fatal(err)
			}
			got += n
		}
	}
}

// BenchmarkXNetReadBatch is the same round trip through x/net's
// ipv4.PacketConn, kept to show why this package exists: its ReadBatch
// allocates the source address of every datagram.
func BenchmarkXNetReadBatch(b *testing.B) {
	a, c := udpPair(b, "udp4", "127.0.0.1")
	pa, pc := ipv4.NewPacketConn(a), ipv4.NewPacketConn(c)
	payload := make([]byte, 1400)
	dst := net.UDPAddrFromAddrPort(addrPort(c))
	out := make([]ipv4.Message, benchBatch)
	in := make([]ipv4.Message, benchBatch)
	for i := range benchBatch {
		out[i] = ipv4.Message{Buffers: [][]byte{payload}, Addr: dst}
		in[i] = ipv4.Message{Buffers: [][]byte{make([]byte, 2000)}}
	}
	b.ReportAllocs()
	b.SetBytes(benchBatch * 1400)
	for b.Loop() {
		for sent := 0; sent < benchBatch; {
			n, err := pa.WriteBatch(out[sent:], 0)
			if err != nil {
				b.Fatal(err)
			}
			sent += n
		}
		for got := 0; got < benchBatch; {
			n, err := pc.ReadBatch(in[:benchBatch-got], 0)
			if err != nil {
				b.Fatal(err)
			}
			for i := range n {
				_ = in[i].Addr.(*net.UDPAddr).AddrPort()
			}
			got += n
		}
	}
}
