package tun

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"golang.org/x/sys/unix"
	wgtun "golang.zx2c4.com/wireguard/tun"
)

const (
	// headroom is the offset espd's data plane uses (packet.Headroom).
	headroom = 64
	// bufferCap is the capacity of one of espd's buffers from the packet
	// offset on (packet.Size), which Write's coalescing may use.
	bufferCap = 64 + 9216 + 320
)

func serialize(t *testing.T, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	return serializeWith(t, gopacket.SerializeOptions{ComputeChecksums: true, FixLengths: true}, ls...)
}

func serializeWith(t *testing.T, opts gopacket.SerializeOptions, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, opts, ls...); err != nil {
		t.Fatal(err)
	}
	return bytes.Clone(buf.Bytes())
}

// ipLayer returns the IP header from src to dst carrying proto.
func ipLayer(src, dst netip.Addr, proto layers.IPProtocol) gopacket.NetworkLayer {
	if src.Is4() {
		return &layers.IPv4{Version: 4, TTL: 64, Protocol: proto, SrcIP: src.AsSlice(), DstIP: dst.AsSlice()}
	}
	return &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: proto, SrcIP: src.AsSlice(), DstIP: dst.AsSlice()}
}

func udpPacket(t *testing.T, src, dst netip.AddrPort, payload []byte) []byte {
	ip := ipLayer(src.Addr(), dst.Addr(), layers.IPProtocolUDP)
	udp := &layers.UDP{SrcPort: layers.UDPPort(src.Port()), DstPort: layers.UDPPort(dst.Port())}
	udp.SetNetworkLayerForChecksum(ip)
	return serialize(t, ip.(gopacket.SerializableLayer), udp, gopacket.Payload(payload))
}

func echoRequest(t *testing.T, src, dst netip.Addr, id, seq uint16) []byte {
	payload := gopacket.Payload("espd echo")
	if src.Is4() {
		return serialize(t, ipLayer(src, dst, layers.IPProtocolICMPv4).(gopacket.SerializableLayer),
			&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoRequest, 0), Id: id, Seq: seq}, payload)
	}
	ip := ipLayer(src, dst, layers.IPProtocolICMPv6)
	icmp := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(layers.ICMPv6TypeEchoRequest, 0)}
	icmp.SetNetworkLayerForChecksum(ip)
	return serialize(t, ip.(gopacket.SerializableLayer), icmp, &layers.ICMPv6Echo{Identifier: id, SeqNumber: seq}, payload)
}

func decode(pkt []byte) gopacket.Packet {
	first := layers.LayerTypeIPv4
	if len(pkt) > 0 && pkt[0]>>4 == 6 {
		first = layers.LayerTypeIPv6
	}
	return gopacket.NewPacket(bytes.Clone(pkt), first, gopacket.Default)
}

func endpoints(p gopacket.Packet) (src, dst netip.Addr) {
	if nl := p.NetworkLayer(); nl != nil {
		src, _ = netip.AddrFromSlice(nl.NetworkFlow().Src().Raw())
		dst, _ = netip.AddrFromSlice(nl.NetworkFlow().Dst().Raw())
	}
	return src, dst
}

// readPackets reads from dev at offset headroom, with buffers sized as the
// contract asks, until it has want packets that match; the kernel sends
// other packets (IPv6 router solicitations, MLD reports) into the TUN too.
// It also returns the largest batch one Read returned.
func readPackets(t *testing.T, dev wgtun.Device, want int, match func(gopacket.Packet) bool) ([]gopacket.Packet, int) {
	t.Helper()
	bufs := make([][]byte, dev.BatchSize())
	for i := range bufs {
		bufs[i] = make([]byte, headroom+testMTU)
	}
	sizes := make([]int, len(bufs))
	if err := dev.File().SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	defer dev.File().SetReadDeadline(time.Time{})
	var got []gopacket.Packet
	largest := 0
	for len(got) < want {
		n, err := dev.Read(bufs, sizes, headroom)
		if err != nil {
			t.Fatalf("Read after %d of %d packets: %v", len(got), want, err)
		}
		largest = max(largest, n)
		for i := range n {
			if p := decode(bufs[i][headroom : headroom+sizes[i]]); match(p) {
				got = append(got, p)
			}
		}
	}
	return got, largest
}

func udpTo(port uint16) func(gopacket.Packet) bool {
	return func(p gopacket.Packet) bool {
		udp, ok := p.TransportLayer().(*layers.UDP)
		return ok && uint16(udp.DstPort) == port
	}
}

func sockaddr(ap netip.AddrPort) unix.Sockaddr {
	if ap.Addr().Is4() {
		return &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}
	}
	return &unix.SockaddrInet6{Port: int(ap.Port()), Addr: ap.Addr().As16()}
}

func socket(t *testing.T, ipv4 bool, typ, proto int) int {
	t.Helper()
	family := unix.AF_INET6
	if ipv4 {
		family = unix.AF_INET
	}
	fd, err := unix.Socket(family, typ|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

// routeRemoteNets routes the remote inner networks into the TUN as espd
// does for a CHILD_SA.
func routeRemoteNets(t *testing.T, dev wgtun.Device) {
	t.Helper()
	name, _ := dev.Name()
	r, err := NewRouter(name, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	for _, dst := range []netip.Prefix{remoteNet4, remoteNet6} {
		if err := r.AddRoute(dst, SourceForRoute([]netip.Prefix{tunAddr4, tunAddr6}, []netip.Prefix{tunAddr4.Masked(), tunAddr6.Masked()}, dst)); err != nil {
			t.Fatal(err)
		}
	}
}

// TestDeviceReadsKernelPackets sends into the TUN from sockets in the
// namespace and reads at offset 64: echo requests, a burst of small
// datagrams, and a UDP GSO super-datagram that arrives as one read.
func TestDeviceReadsKernelPackets(t *testing.T) {
	enterNetns(t)
	dev, _ := newTestTUN(t)
	routeRemoteNets(t, dev)
	t.Logf("BatchSize = %d", dev.BatchSize())

	for _, c := range []struct {
		src, dst netip.Addr
		proto    int
		echo     []byte
	}{
		{tunAddr4.Addr(), remote4, unix.IPPROTO_ICMP, serialize(t, &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoRequest, 0), Id: 0x1234, Seq: 1}, gopacket.Payload("ping"))},
		// The kernel fills in an ICMPv6 raw socket's checksum.
		{tunAddr6.Addr(), remote6, unix.IPPROTO_ICMPV6, serializeWith(t, gopacket.SerializeOptions{}, &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(layers.ICMPv6TypeEchoRequest, 0)}, &layers.ICMPv6Echo{Identifier: 0x1234, SeqNumber: 1}, gopacket.Payload("ping"))},
	} {
		fd := socket(t, c.dst.Is4(), unix.SOCK_RAW, c.proto)
		if err := unix.Sendto(fd, c.echo, 0, sockaddr(netip.AddrPortFrom(c.dst, 0))); err != nil {
			t.Fatalf("send echo to %s: %v", c.dst, err)
		}
		got, _ := readPackets(t, dev, 1, func(p gopacket.Packet) bool {
			_, dst := endpoints(p)
			return dst == c.dst
		})
		src, _ := endpoints(got[0])
		echo4, is4 := got[0].Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
		echo6, is6 := got[0].Layer(layers.LayerTypeICMPv6Echo).(*layers.ICMPv6Echo)
		if src != c.src || !(is4 && echo4.Id == 0x1234 || is6 && echo6.Identifier == 0x1234) || got[0].ErrorLayer() != nil {
			t.Errorf("echo to %s read as %v", c.dst, got[0])
		}
	}

	// A burst of small datagrams, both families.
	const burst = 100
	for _, dst := range []netip.AddrPort{netip.AddrPortFrom(remote4, 7777), netip.AddrPortFrom(remote6, 7777)} {
		fd := socket(t, dst.Addr().Is4(), unix.SOCK_DGRAM, 0)
		for i := range burst {
			if err := unix.Sendto(fd, fmt.Appendf(nil, "small %03d", i), 0, sockaddr(dst)); err != nil {
				t.Fatal(err)
			}
		}
		got, _ := readPackets(t, dev, burst, udpTo(7777))
		for i, p := range got {
			if want := fmt.Sprintf("small %03d", i); string(p.ApplicationLayer().Payload()) != want {
				t.Fatalf("datagram %d to %s = %q, want %q", i, dst, p.ApplicationLayer().Payload(), want)
			}
		}
	}

	// A UDP GSO send: 20 segments of 100 bytes leave the stack as one
	// super packet, which Read splits into one buffer each.
	fd := socket(t, true, unix.SOCK_DGRAM, 0)
	if err := unix.SetsockoptInt(fd, unix.SOL_UDP, unix.UDP_SEGMENT, 100); err != nil {
		t.Fatal(err)
	}
	payload := make([]byte, 2000)
	for i := range payload {
		payload[i] = byte(i)
	}
	if err := unix.Sendto(fd, payload, 0, sockaddr(netip.AddrPortFrom(remote4, 7778))); err != nil {
		t.Fatal(err)
	}
	got, largest := readPackets(t, dev, 20, udpTo(7778))
	var joined []byte
	for _, p := range got {
		if p.ErrorLayer() != nil {
			t.Fatalf("segment does not decode: %v", p)
		}
		joined = append(joined, p.ApplicationLayer().Payload()...)
	}
	if !bytes.Equal(joined, payload) {
		t.Error("UDP GSO segments do not add up to the payload sent")
	}
	t.Logf("UDP GSO: largest batch from one Read = %d", largest)
	if dev.BatchSize() > 1 && largest < 20 {
		t.Errorf("UDP GSO send read in batches of at most %d, want one batch of 20", largest)
	}
}

// TestDeviceWritesToKernel writes batches at offset 64 and sees the kernel
// take them: interleaved small datagrams of two flows to sockets on the TUN
// addresses, and echo requests the kernel answers back into the TUN.
func TestDeviceWritesToKernel(t *testing.T) {
	enterNetns(t)
	dev, _ := newTestTUN(t)
	routeRemoteNets(t, dev)

	var conns []*net.UDPConn
	for _, local := range []netip.Addr{tunAddr4.Addr(), tunAddr6.Addr()} {
		conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(local, 7000)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		conns = append(conns, conn)
	}

	// Buffers as espd lays them out: the packet at offset 64 of a large
	// buffer, with a canary in front of the 10 bytes Write may use. The
	// second round passes full slice expressions, which must keep Write
	// from coalescing.
	const perFlow = 64
	for _, fullSlice := range []bool{false, true} {
		var bufs [][]byte
		for i := range perFlow {
			for _, c := range []struct{ src, dst netip.Addr }{{remote4, tunAddr4.Addr()}, {remote6, tunAddr6.Addr()}} {
				pkt := udpPacket(t, netip.AddrPortFrom(c.src, 5000), netip.AddrPortFrom(c.dst, 7000), fmt.Appendf(nil, "small %03d", i))
				buf := make([]byte, headroom+len(pkt), bufferCap)
				for j := range headroom {
					buf[j] = 0xa5
				}
				copy(buf[headroom:], pkt)
				if fullSlice {
					buf = buf[:len(buf):len(buf)]
				}
				bufs = append(bufs, buf)
			}
		}
		canaries := make([][]byte, len(bufs))
		for i, b := range bufs {
			canaries[i] = b[:headroom-MinWriteOffset]
		}
		firstLen := len(bufs[0])
		if _, err := dev.Write(bufs, headroom); err != nil {
			t.Fatalf("Write: %v", err)
		}
		// With IFF_VNET_HDR each flow is coalesced into its first buffer.
		t.Logf("full slices %v: first buffer grew from %d to %d bytes", fullSlice, firstLen, len(bufs[0]))
		if coalesced := len(bufs[0]) > firstLen; coalesced != (dev.BatchSize() > 1 && !fullSlice) {
			t.Errorf("full slices %v: coalesced = %v", fullSlice, coalesced)
		}
		for i, c := range canaries {
			if !bytes.Equal(c, bytes.Repeat([]byte{0xa5}, len(c))) {
				t.Fatalf("Write touched buffer %d before offset-%d: %x", i, MinWriteOffset, c)
			}
		}
		for _, conn := range conns {
			conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			buf := make([]byte, 2000)
			for i := range perFlow {
				n, from, err := conn.ReadFromUDPAddrPort(buf)
				if err != nil {
					t.Fatalf("%s: datagram %d: %v", conn.LocalAddr(), i, err)
				}
				if want := fmt.Sprintf("small %03d", i); string(buf[:n]) != want || from.Port() != 5000 {
					t.Fatalf("%s: datagram %d = %q from %s, want %q", conn.LocalAddr(), i, buf[:n], from, want)
				}
			}
		}
	}

	// Echo requests from the remote side; the replies are routed back
	// through the TUN by espd's table.
	for _, c := range []struct{ src, dst netip.Addr }{{remote4, tunAddr4.Addr()}, {remote6, tunAddr6.Addr()}} {
		req := echoRequest(t, c.src, c.dst, 77, 1)
		buf := make([]byte, headroom+len(req), bufferCap)
		copy(buf[headroom:], req)
		if _, err := dev.Write([][]byte{buf}, headroom); err != nil {
			t.Fatal(err)
		}
		got, _ := readPackets(t, dev, 1, func(p gopacket.Packet) bool {
			src, dst := endpoints(p)
			if src != c.dst || dst != c.src {
				return false
			}
			if icmp, ok := p.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4); ok {
				return icmp.TypeCode.Type() == layers.ICMPv4TypeEchoReply && icmp.Id == 77
			}
			icmp, ok := p.Layer(layers.LayerTypeICMPv6).(*layers.ICMPv6)
			return ok && icmp.TypeCode.Type() == layers.ICMPv6TypeEchoReply
		})
		if got[0].ErrorLayer() != nil {
			t.Errorf("echo reply does not decode: %v", got[0])
		}
	}
}

func TestDeviceCloseUnblocksRead(t *testing.T) {
	enterNetns(t)
	dev, _ := newTestTUN(t)
	done := make(chan error, 1)
	go func() {
		bufs := [][]byte{make([]byte, headroom+testMTU)}
		for {
			if _, err := dev.Read(bufs, make([]int, 1), headroom); err != nil {
				done <- err
				return
			}
		}
	}()
	time.Sleep(50 * time.Millisecond)
	dev.Close()
	select {
	case err := <-done:
		if !errors.Is(err, os.ErrClosed) {
			t.Errorf("Read after Close = %v, want os.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not unblock Read")
	}
}
