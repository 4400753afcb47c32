//go:build linux

package nat

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/espd/espd/esp/packet"
	"github.com/espd/espd/esp/packet/packettest"
	"github.com/espd/espd/internal/batchio"
)

var loopbacks = []struct {
	name string
	addr netip.AddrPort
}{
	{"IPv4", netip.MustParseAddrPort("127.0.0.1:0")},
	{"IPv6", netip.MustParseAddrPort("[::1]:0")},
}

// ikeLog records what OnIKE was handed.
type ikeLog struct {
	mu   sync.Mutex
	msgs [][]byte
	from []netip.AddrPort
}

func (l *ikeLog) onIKE(msg []byte, from netip.AddrPort) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.msgs = append(l.msgs, bytes.Clone(msg)) // msg is only valid during the call
	l.from = append(l.from, from)
}

func listen(t testing.TB, cfg Config) *Conn {
	t.Helper()
	c, err := Listen(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestExchangeBatch(t *testing.T) {
	for _, lo := range loopbacks {
		t.Run(lo.name, func(t *testing.T) {
			a, b := listen(t, Config{Addr: lo.addr}), listen(t, Config{Addr: lo.addr})
			const count = 64
			out := packettest.NewBuffers(count)
			for i, buf := range out {
				// Sizes from the ESP minimum up to packet.MaxData.
				p := packettest.ESPPacket(uint32(i), 8+i*(packet.MaxData-8)/(count-1))
				n := copy(buf.Bytes[packet.Headroom:], p)
				buf.SetData(packet.Headroom, n)
				buf.Remote = b.LocalAddr()
			}
			if n, err := a.WriteBatch(out); err != nil || n != count {
				t.Fatalf("WriteBatch = %d, %v", n, err)
			}
			got := packettest.ReadESP(t, b, count)
			for i, buf := range got {
				if want := out[i].Data(); !bytes.Equal(buf.Data(), want) {
					t.Fatalf("packet %d: got %d bytes, want %d (seq %d)", i, buf.Len(), len(want), i)
				}
				if buf.Start != packet.Headroom {
					t.Errorf("packet %d starts at %d, want packet.Headroom", i, buf.Start)
				}
				if buf.Remote != a.LocalAddr() {
					t.Errorf("packet %d from %v, want %v", i, buf.Remote, a.LocalAddr())
				}
			}
			if s := a.Stats(); s.ESPSent != count || s.SendErrors != 0 {
				t.Errorf("sender stats %+v", s)
			}
			if s := b.Stats(); s.ESPReceived != count {
				t.Errorf("receiver stats %+v", s)
			}
		})
	}
}

func TestIKEReachesOnIKE(t *testing.T) {
	for _, lo := range loopbacks {
		t.Run(lo.name, func(t *testing.T) {
			var log ikeLog
			a, b := listen(t, Config{Addr: lo.addr}), listen(t, Config{Addr: lo.addr, OnIKE: log.onIKE})
			msg := []byte("IKE_SA_INIT header and payloads")
			if err := a.SendIKE(msg, b.LocalAddr()); err != nil {
				t.Fatal(err)
			}
			sendESP(t, a, b.LocalAddr(), 1)
			packettest.ReadESP(t, b, 1)
			log.mu.Lock()
			defer log.mu.Unlock()
			if len(log.msgs) != 1 || !bytes.Equal(log.msgs[0], msg) || log.from[0] != a.LocalAddr() {
				t.Fatalf("OnIKE got %q from %v, want %q from %v", log.msgs, log.from, msg, a.LocalAddr())
			}
			if s := b.Stats(); s.IKEReceived != 1 || s.ESPReceived != 1 {
				t.Errorf("receiver stats %+v", s)
			}
			if s := a.Stats(); s.IKESent != 1 {
				t.Errorf("sender stats %+v", s)
			}
		})
	}
}

// sendESP sends one ESP-looking packet from c to to.
func sendESP(t testing.TB, c *Conn, to netip.AddrPort, seq uint32) {
	t.Helper()
	buf := packettest.NewBuffers(1)[0]
	n := copy(buf.Bytes[packet.Headroom:], packettest.ESPPacket(seq, 100))
	buf.SetData(packet.Headroom, n)
	buf.Remote = to
	if n, err := c.WriteBatch([]*packet.Buffer{buf}); err != nil || n != 1 {
		t.Fatalf("WriteBatch = %d, %v", n, err)
	}
}

// Non-ESP datagrams must be counted by kind and never returned; ESP
// packets between them must come back in order.
func TestDemuxCountsAndDrops(t *testing.T) {
	a := listen(t, Config{Addr: loopbacks[0].addr})
	b := listen(t, Config{Addr: loopbacks[0].addr}) // OnIKE nil: IKE is dropped
	to := b.LocalAddr()
	send := func(d []byte) {
		t.Helper()
		if _, err := a.udp.WriteToUDPAddrPort(d, to); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.SendKeepalive(to); err != nil {
		t.Fatal(err)
	}
	send(nil)                                       // empty
	send([]byte{1, 2, 3})                           // short
	send([]byte{0, 0, 0, 0})                        // marker alone
	send([]byte{0, 0, 0, 1, 0, 0, 0})               // 7-byte "ESP"
	send(packettest.ESPPacket(1, 200))              // ESP
	send([]byte{0, 0, 0, 0, 0x21})                  // IKE with no handler
	send(packettest.ESPPacket(2, packet.MaxData+1)) // too long for a buffer
	send([]byte{0xFF, 0xFF})                        // not a keepalive
	send(packettest.ESPPacket(3, packet.MaxData))   // ESP, largest
	got := packettest.ReadESP(t, b, 2)
	for i, seq := range []uint32{1, 3} {
		if binary.BigEndian.Uint32(got[i].Data()[4:8]) != seq {
			t.Errorf("packet %d has sequence %d, want %d", i, binary.BigEndian.Uint32(got[i].Data()[4:8]), seq)
		}
	}
	want := Stats{
		ESPReceived:        2,
		IKEUnhandled:       1,
		KeepalivesReceived: 1,
		InvalidEmpty:       1,
		InvalidShort:       3,
		InvalidMarker:      1,
		Truncated:          1,
	}
	if s := b.Stats(); s != want {
		t.Errorf("stats\n got %+v\nwant %+v", s, want)
	}
	if s := a.Stats(); s.KeepalivesSent != 1 {
		t.Errorf("sender stats %+v", s)
	}
}

func TestWriteBatchSkipsRefused(t *testing.T) {
	a, b := listen(t, Config{Addr: loopbacks[0].addr}), listen(t, Config{Addr: loopbacks[0].addr})
	out := packettest.NewBuffers(3)
	remotes := []netip.AddrPort{b.LocalAddr(), netip.MustParseAddrPort("[2001:db8::1]:4500"), b.LocalAddr()}
	for i, buf := range out {
		n := copy(buf.Bytes[packet.Headroom:], packettest.ESPPacket(uint32(i), 64))
		buf.SetData(packet.Headroom, n)
		buf.Remote = remotes[i]
	}
	if n, err := a.WriteBatch(out); err != nil || n != 2 {
		t.Fatalf("WriteBatch = %d, %v; want 2, nil", n, err)
	}
	if s := a.Stats(); s.ESPSent != 2 || s.SendErrors != 1 {
		t.Errorf("stats %+v", s)
	}
	packettest.ReadESP(t, b, 2)
}

// WriteBatch must accept more buffers than one sendmmsg moves.
func TestWriteBatchLargerThanBatchSize(t *testing.T) {
	a, b := listen(t, Config{Addr: loopbacks[0].addr}), listen(t, Config{Addr: loopbacks[0].addr})
	count := 2*BatchSize + 3
	out := packettest.NewBuffers(count)
	for i, buf := range out {
		n := copy(buf.Bytes[packet.Headroom:], packettest.ESPPacket(uint32(i), 64))
		buf.SetData(packet.Headroom, n)
		buf.Remote = b.LocalAddr()
	}
	if n, err := a.WriteBatch(out); err != nil || n != count {
		t.Fatalf("WriteBatch = %d, %v; want %d, nil", n, err, count)
	}
	got := packettest.ReadESP(t, b, count)
	for i, buf := range got {
		if seq := binary.BigEndian.Uint32(buf.Data()[4:8]); seq != uint32(i) {
			t.Fatalf("packet %d has sequence %d", i, seq)
		}
	}
}

// Each side reads and writes at once on its socket, as the data plane does.
func TestConcurrentReadWrite(t *testing.T) {
	a, b := listen(t, Config{Addr: loopbacks[0].addr}), listen(t, Config{Addr: loopbacks[0].addr})
	const rounds, batch = 20, 32
	watchdog := time.AfterFunc(10*time.Second, func() { a.Close(); b.Close() })
	defer watchdog.Stop()
	var wg sync.WaitGroup
	for _, dir := range []struct{ from, to *Conn }{{a, b}, {b, a}} {
		wg.Add(2)
		go func() {
			defer wg.Done()
			out := packettest.NewBuffers(batch)
			fill(out, dir.to.LocalAddr(), 1000)
			for range rounds {
				if _, err := dir.from.WriteBatch(out); err != nil {
					t.Error(err)
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			in := packettest.NewBuffers(batch)
			for got := 0; got < rounds*batch; {
				for _, buf := range in {
					buf.Reset()
				}
				n, err := dir.to.ReadBatch(in)
				if err != nil {
					t.Error(err)
					return
				}
				got += n
			}
		}()
	}
	wg.Wait()
	if sa, sb := a.Stats(), b.Stats(); sa.ESPReceived != rounds*batch || sb.ESPReceived != rounds*batch {
		t.Errorf("received %d and %d, want %d each", sa.ESPReceived, sb.ESPReceived, rounds*batch)
	}
}

func TestCloseUnblocksRead(t *testing.T) {
	c := listen(t, Config{Addr: loopbacks[0].addr})
	errc := make(chan error, 1)
	go func() {
		_, err := c.ReadBatch(packettest.NewBuffers(4))
		errc <- err
	}()
	time.Sleep(20 * time.Millisecond)
	c.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("ReadBatch after Close: %v, want net.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ReadBatch still blocked after Close")
	}
}

// An IPv4 and an IPv6 socket must share the port, which needs IPV6_V6ONLY.
func TestBothFamiliesSamePort(t *testing.T) {
	v4 := listen(t, Config{Addr: netip.MustParseAddrPort("0.0.0.0:0")})
	v6, err := Listen(Config{Addr: netip.AddrPortFrom(netip.IPv6Unspecified(), v4.LocalAddr().Port())})
	if err != nil {
		t.Fatalf("IPv6 socket on the IPv4 socket's port: %v", err)
	}
	v6.Close()
}

func TestDefaultAddr(t *testing.T) {
	c, err := Listen(Config{})
	if err != nil {
		t.Skipf("port %d busy or not permitted: %v", DefaultPort, err)
	}
	defer c.Close()
	if want := netip.AddrPortFrom(netip.IPv4Unspecified(), DefaultPort); c.LocalAddr() != want {
		t.Errorf("LocalAddr = %v, want %v", c.LocalAddr(), want)
	}
}

func TestMark(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: SO_MARK requires CAP_NET_ADMIN")
	}
	for _, lo := range loopbacks {
		c := listen(t, Config{Addr: lo.addr, Mark: 0x4500})
		mark, err := batchio.Mark(c.SyscallConn())
		if err != nil || mark != 0x4500 {
			t.Errorf("%s: SO_MARK = %#x, %v; want 0x4500", lo.name, mark, err)
		}
	}
}

func TestNoAllocs(t *testing.T) {
	a, b := listen(t, Config{Addr: loopbacks[0].addr}), listen(t, Config{Addr: loopbacks[0].addr})
	out, in := packettest.NewBuffers(64), packettest.NewBuffers(64)
	fill(out, b.LocalAddr(), 1400)
	allocs := testing.AllocsPerRun(50, func() { roundTrip(t, a, b, out, in) })
	if allocs != 0 {
		t.Errorf("%v allocations per WriteBatch+ReadBatch of 64, want 0", allocs)
	}
}

func fill(bufs []*packet.Buffer, to netip.AddrPort, size int) {
	for i, buf := range bufs {
		n := copy(buf.Bytes[packet.Headroom:], packettest.ESPPacket(uint32(i), size))
		buf.SetData(packet.Headroom, n)
		buf.Remote = to
	}
}

// roundTrip sends out from a and reads as many packets on b.
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

// BenchmarkWriteReadBatch moves batches of 64 ESP-in-UDP datagrams of
// 1400 bytes over IPv4 loopback, sendmmsg and recvmmsg in one goroutine.
func BenchmarkWriteReadBatch(b *testing.B) {
	for _, lo := range loopbacks {
		b.Run(lo.name, func(b *testing.B) {
			x, y := listen(b, Config{Addr: lo.addr}), listen(b, Config{Addr: lo.addr})
			out, in := packettest.NewBuffers(64), packettest.NewBuffers(64)
			fill(out, y.LocalAddr(), 1400)
			b.ReportAllocs()
			b.SetBytes(64 * 1400)
			for b.Loop() {
				roundTrip(b, x, y, out, in)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*64), "ns/packet")
		})
	}
}

// FuzzReadDemux sends each input as one datagram over loopback, followed by
// an ESP sentinel, and checks that ReadBatch sorted it as Classify says.
func FuzzReadDemux(f *testing.F) {
	for _, seed := range [][]byte{
		{}, {0xFF}, {1, 2, 3}, {0, 0, 0, 0}, {0, 0, 0, 0, 0x2e}, packettest.ESPPacket(7, 8), packettest.ESPPacket(7, 1400),
	} {
		f.Add(seed)
	}
	var log ikeLog
	a, err := Listen(Config{Addr: loopbacks[0].addr})
	if err != nil {
		f.Fatal(err)
	}
	defer a.Close()
	b, err := Listen(Config{Addr: loopbacks[0].addr, OnIKE: log.onIKE})
	if err != nil {
		f.Fatal(err)
	}
	defer b.Close()
	sentinel := packettest.ESPPacket(0xdeadbeef, 16)
	f.Fuzz(func(t *testing.T, d []byte) {
		if len(d) > 65000 {
			t.Skip("larger than a UDP datagram")
		}
		log.mu.Lock()
		log.msgs, log.from = nil, nil
		log.mu.Unlock()
		before := b.Stats()
		if _, err := a.udp.WriteToUDPAddrPort(d, b.LocalAddr()); err != nil {
			t.Fatal(err)
		}
		if _, err := a.udp.WriteToUDPAddrPort(sentinel, b.LocalAddr()); err != nil {
			t.Fatal(err)
		}
		var got [][]byte
		for len(got) == 0 || !bytes.Equal(got[len(got)-1], sentinel) {
			for _, buf := range packettest.ReadESP(t, b, 1) {
				got = append(got, bytes.Clone(buf.Data()))
			}
		}
		after := b.Stats()
		kind := Classify(d)
		switch {
		case len(d) > packet.MaxData:
			if after.Truncated != before.Truncated+1 || len(got) != 1 {
				t.Fatalf("oversized datagram: stats %+v, %d packets returned", after, len(got))
			}
		case kind == KindESP:
			if len(got) != 2 || !bytes.Equal(got[0], d) {
				t.Fatalf("ESP datagram not returned intact: got %d packets", len(got))
			}
		case kind == KindIKE:
			log.mu.Lock()
			defer log.mu.Unlock()
			if len(got) != 1 || len(log.msgs) != 1 || !bytes.Equal(log.msgs[0], d[4:]) {
				t.Fatalf("IKE datagram: %d packets returned, OnIKE got %q", len(got), log.msgs)
			}
		case kind == KindKeepalive:
			if len(got) != 1 || after.KeepalivesReceived != before.KeepalivesReceived+1 {
				t.Fatalf("keepalive: %d packets returned, stats %+v", len(got), after)
			}
		default:
			dropped := func(s Stats) uint64 { return s.InvalidEmpty + s.InvalidShort + s.InvalidMarker }
			if len(got) != 1 || dropped(after) != dropped(before)+1 {
				t.Fatalf("invalid datagram: %d packets returned, stats %+v", len(got), after)
			}
		}
	})
}
