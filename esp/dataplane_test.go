package esp_test

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/espd/espd/crypto"
	"github.com/espd/espd/esp"
	"github.com/espd/espd/esp/installer"
	"github.com/espd/espd/esp/installer/installertest"
	"github.com/espd/espd/nat"
	"github.com/espd/espd/tun/chantun"
)

// endpoint is one espd data plane over a channel TUN and a real loopback
// UDP socket.
type endpoint struct {
	dp   *esp.Dataplane
	tun  *chantun.Device
	addr netip.AddrPort
	ev   *installertest.EventLog
	udp  *nat.Conn
}

func newEndpoint(t testing.TB) *endpoint {
	t.Helper()
	conn, err := nat.Listen(nat.Config{Addr: netip.MustParseAddrPort("127.0.0.1:0")})
	if err != nil {
		t.Fatal(err)
	}
	ep := &endpoint{tun: chantun.New(1400), addr: conn.LocalAddr(), ev: &installertest.EventLog{}, udp: conn}
	cfg := esp.Config{TUN: ep.tun, Events: ep.ev, Workers: 2}
	cfg.Transports[esp.UDP4] = conn
	ep.dp, err = esp.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ep.dp.Start()
	t.Cleanup(func() { ep.dp.Close() })
	return ep
}

// connect installs a pair of SAs between two endpoints with fresh keys.
func connect(t testing.TB, a, b *endpoint, proposal string, spiAB, spiBA uint32, aNet, bNet netip.Prefix) {
	t.Helper()
	suite, err := crypto.ParseESPProposal(proposal)
	if err != nil {
		t.Fatal(err)
	}
	install := func(from, to *endpoint, spi uint32, fromNet, toNet netip.Prefix) {
		enc, integ := make([]byte, suite.EncKeyLen), make([]byte, suite.IntegKeyLen)
		rand.Read(enc)
		rand.Read(integ)
		p := installer.SAParams{SPI: spi, Protocol: installer.ESP, Direction: installer.Outbound,
			Local: from.addr, Remote: to.addr, Encap: true, Suite: suite, ESN: suite.ESN,
			EncKey: enc, IntegKey: integ, ReplayWindow: 1024,
			LocalTS: []netip.Prefix{fromNet}, RemoteTS: []netip.Prefix{toNet}}
		if err := from.dp.Add(p); err != nil {
			t.Fatal(err)
		}
		p.Direction = installer.Inbound
		p.Local, p.Remote = p.Remote, p.Local
		p.LocalTS, p.RemoteTS = p.RemoteTS, p.LocalTS
		if err := to.dp.Add(p); err != nil {
			t.Fatal(err)
		}
	}
	install(a, b, spiAB, aNet, bNet)
	install(b, a, spiBA, bNet, aNet)
}

func udpPacket(src, dst netip.Addr, seq uint32, size int) []byte {
	pkt := make([]byte, size)
	pkt[0] = 0x45
	binary.BigEndian.PutUint16(pkt[2:], uint16(size))
	pkt[8] = 64
	pkt[9] = 17
	s, d := src.As4(), dst.As4()
	copy(pkt[12:], s[:])
	copy(pkt[16:], d[:])
	binary.BigEndian.PutUint32(pkt[28:], seq)
	return pkt
}

func expectPackets(t *testing.T, dev *chantun.Device, want [][]byte) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for i, w := range want {
		select {
		case got := <-dev.Inbound:
			if !bytes.Equal(got, w) {
				t.Fatalf("packet %d: got seq %d, want seq %d (or contents differ)", i, binary.BigEndian.Uint32(got[28:]), binary.BigEndian.Uint32(w[28:]))
			}
		case <-deadline:
			t.Fatalf("only %d of %d packets arrived", i, len(want))
		}
	}
}

func TestTwoEndpointsOverLoopback(t *testing.T) {
	for _, prop := range []string{"aes128gcm16", "chacha20poly1305", "aes256-sha384-esn"} {
		t.Run(prop, func(t *testing.T) {
			left, right := newEndpoint(t), newEndpoint(t)
			leftNet, rightNet := netip.MustParsePrefix("198.18.1.0/24"), netip.MustParsePrefix("198.18.2.0/24")
			connect(t, left, right, prop, 0x1001, 0x2001, leftNet, rightNet)
			l, r := netip.MustParseAddr("198.18.1.1"), netip.MustParseAddr("198.18.2.1")

			// Enough packets to need many batches and several workers;
			// each SA's packets must come out in order. The TUN queue is
			// 1024 deep, so stay below it: the reader stops when it is
			// full, as a kernel would drop.
			const n = 1000
			var toRight, toLeft [][]byte
			for i := range n {
				toRight = append(toRight, udpPacket(l, r, uint32(i), 60+i%1300))
				toLeft = append(toLeft, udpPacket(r, l, uint32(i), 1400-i%1300))
			}
			go func() {
				for i := range n {
					left.tun.Outbound <- toRight[i]
					right.tun.Outbound <- toLeft[i]
				}
			}()
			expectPackets(t, right.tun, toRight)
			expectPackets(t, left.tun, toLeft)

			st, err := left.dp.Query(0x1001, installer.Outbound)
			if err != nil || st.Packets != n || st.Seq != n {
				t.Fatalf("left outbound stats %+v, %v", st, err)
			}
			st, err = right.dp.Query(0x1001, installer.Inbound)
			if err != nil || st.Packets != n {
				t.Fatalf("right inbound stats %+v, %v", st, err)
			}
		})
	}
}

func TestHostileDatagramsDoNotDisturbTraffic(t *testing.T) {
	left, right := newEndpoint(t), newEndpoint(t)
	leftNet, rightNet := netip.MustParsePrefix("198.18.1.0/24"), netip.MustParsePrefix("198.18.2.0/24")
	connect(t, left, right, "aes128gcm16", 0x1001, 0x2001, leftNet, rightNet)
	l, r := netip.MustParseAddr("198.18.1.1"), netip.MustParseAddr("198.18.2.1")

	attacker, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(right.addr))
	if err != nil {
		t.Fatal(err)
	}
	defer attacker.Close()
	forged := make([]byte, 100)
	binary.BigEndian.PutUint32(forged, 0x1001) // a real SPI, garbage after it
	binary.BigEndian.PutUint32(forged[4:], 7)
	unknown := make([]byte, 100)
	binary.BigEndian.PutUint32(unknown, 0xdead)
	binary.BigEndian.PutUint32(unknown[4:], 1)
	hostile := [][]byte{{1, 2, 3, 4, 5}, forged, unknown, forged[:20]}

	var want [][]byte
	for i := range 50 {
		for _, h := range hostile {
			if _, err := attacker.Write(h); err != nil {
				t.Fatal(err)
			}
		}
		pkt := udpPacket(l, r, uint32(i), 200)
		want = append(want, pkt)
		left.tun.Outbound <- pkt
	}
	expectPackets(t, right.tun, want)

	// The hostile datagrams race the real ones, so wait for their counts.
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if right.dp.DropCount(esp.DropICV) == 50 && right.dp.DropCount(esp.DropUnknownSPI) == 50 && right.dp.DropCount(esp.DropShort) == 50 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Five bytes cannot be ESP: the UDP demux drops them (RFC 3948 §2.2)
	// before the data plane sees them. Twenty bytes with a known SPI are
	// too short for that SA's IV and ICV.
	if got := right.dp.Drops(); got["icv"] != 50 || got["unknown-spi"] != 50 || got["short"] != 50 {
		t.Fatalf("drops %v, want 50 icv, 50 unknown-spi, 50 short", got)
	}
	if st := right.udp.Stats(); st.InvalidShort != 50 {
		t.Fatalf("UDP demux stats %+v, want 50 short", st)
	}
	if ev := right.ev.Snapshot(); len(ev) == 0 || ev[0] != "unknown-spi 0xdead from "+attacker.LocalAddr().String() {
		t.Fatalf("events %v, want an unknown-spi event for 0xdead", ev)
	}
	st, _ := right.dp.Query(0x1001, installer.Inbound)
	if st.Packets != 50 || st.Drops["icv"] != 50 {
		t.Fatalf("SA stats %+v", st)
	}
}

func TestMakeBeforeBreak(t *testing.T) {
	left, right := newEndpoint(t), newEndpoint(t)
	leftNet, rightNet := netip.MustParsePrefix("198.18.1.0/24"), netip.MustParsePrefix("198.18.2.0/24")
	connect(t, left, right, "aes128gcm16", 0x1001, 0x2001, leftNet, rightNet)
	l, r := netip.MustParseAddr("198.18.1.1"), netip.MustParseAddr("198.18.2.1")
	first := udpPacket(l, r, 1, 100)
	left.tun.Outbound <- first
	expectPackets(t, right.tun, [][]byte{first})

	// Rekey: the new SAs go in beside the old ones; the new outbound SA
	// takes over the policy at once, the old inbound SA still receives
	// until it is deleted.
	connect(t, left, right, "aes256gcm16", 0x1002, 0x2002, leftNet, rightNet)
	second := udpPacket(l, r, 2, 100)
	left.tun.Outbound <- second
	expectPackets(t, right.tun, [][]byte{second})
	if st, _ := right.dp.Query(0x1002, installer.Inbound); st.Packets != 1 {
		t.Fatalf("new SA carried %d packets, want 1", st.Packets)
	}
	if err := left.dp.Delete(0x1001, installer.Outbound); err != nil {
		t.Fatal(err)
	}
	third := udpPacket(l, r, 3, 100)
	left.tun.Outbound <- third
	expectPackets(t, right.tun, [][]byte{third})
	if err := left.dp.Delete(0x1002, installer.Outbound); err != nil {
		t.Fatal(err)
	}
	left.tun.Outbound <- udpPacket(l, r, 4, 100)
	deadline := time.Now().Add(5 * time.Second)
	for left.dp.DropCount(esp.DropNoPolicy) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if left.dp.DropCount(esp.DropNoPolicy) != 1 {
		t.Fatalf("with every outbound SA deleted, drops %v", left.dp.Drops())
	}
}

// BenchmarkPipeline pushes 1400-byte packets from one endpoint's TUN
// through its pipeline, loopback UDP and the other endpoint's pipeline to
// its TUN: every stage of both paths, in one process. A window of packets in
// flight stands in for TCP's flow control, since loopback UDP drops what
// overflows the socket. The one allocation per packet is chantun handing
// the test a copy of each packet; the pipeline allocates nothing.
func BenchmarkPipeline(b *testing.B) {
	const window = 512
	for _, prop := range []string{"aes128gcm16", "aes256gcm16", "chacha20poly1305", "aes128-sha256"} {
		b.Run(prop, func(b *testing.B) {
			left, right := newEndpoint(b), newEndpoint(b)
			connect(b, left, right, prop, 0x1001, 0x2001, netip.MustParsePrefix("198.18.1.0/24"), netip.MustParsePrefix("198.18.2.0/24"))
			pkt := udpPacket(netip.MustParseAddr("198.18.1.1"), netip.MustParseAddr("198.18.2.1"), 0, 1400)
			credits := make(chan struct{}, window)
			for range window {
				credits <- struct{}{}
			}
			received := make(chan int)
			go func() {
				got := 0
				idle := time.NewTimer(time.Second)
				for {
					select {
					case <-right.tun.Inbound:
						got++
						credits <- struct{}{}
						idle.Reset(time.Second)
					case <-idle.C:
						received <- got
						return
					}
				}
			}()
			b.SetBytes(int64(len(pkt)))
			b.ReportAllocs()
			sent := 0
			stalled := time.NewTimer(time.Second)
			for b.Loop() {
				stalled.Reset(time.Second)
				select {
				case <-credits:
				case <-stalled.C: // a lost packet's credit never returns
				}
				left.tun.Outbound <- pkt
				sent++
			}
			if got := <-received; got < sent*99/100 {
				b.Fatalf("only %d of %d packets arrived", got, sent)
			}
		})
	}
}
