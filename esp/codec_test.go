package esp

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"math"
	"net/netip"
	"testing"
	"time"

	"github.com/espd/espd/crypto"
	"github.com/espd/espd/esp/installer"
	"github.com/espd/espd/esp/packet"
)

var (
	leftOuter  = netip.MustParseAddrPort("192.0.2.1:4500")
	rightOuter = netip.MustParseAddrPort("192.0.2.2:4500")
	leftNet    = netip.MustParsePrefix("198.18.1.0/24")
	rightNet   = netip.MustParsePrefix("198.18.2.0/24")
	leftNet6   = netip.MustParsePrefix("2001:db8:ffff:1::/64")
	rightNet6  = netip.MustParsePrefix("2001:db8:ffff:2::/64")
)

// saPair returns the outbound SA of the left peer and the matching inbound
// SA of the right peer: same SPI and keys, mirrored addresses.
func saPair(t testing.TB, proposal string, mode installer.Mode, window uint32) (out, in *SA) {
	t.Helper()
	suite, err := crypto.ParseESPProposal(proposal)
	if err != nil {
		t.Fatal(err)
	}
	enc := make([]byte, suite.EncKeyLen)
	integ := make([]byte, suite.IntegKeyLen)
	rand.Read(enc)
	rand.Read(integ)
	p := installer.SAParams{
		SPI: 0x1001, Protocol: installer.ESP, Direction: installer.Outbound, Mode: mode,
		Local: leftOuter, Remote: rightOuter, Encap: true, Suite: suite, ESN: suite.ESN,
		EncKey: enc, IntegKey: integ, ReplayWindow: window,
		LocalTS: []netip.Prefix{leftNet, leftNet6}, RemoteTS: []netip.Prefix{rightNet, rightNet6},
	}
	if mode == installer.Transport {
		p.LocalTS = []netip.Prefix{netip.PrefixFrom(leftOuter.Addr(), 32)}
		p.RemoteTS = []netip.Prefix{netip.PrefixFrom(rightOuter.Addr(), 32)}
	}
	out, err = newSA(&p, UDP4, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	p.Direction = installer.Inbound
	p.Local, p.Remote = p.Remote, p.Local
	p.LocalTS, p.RemoteTS = p.RemoteTS, p.LocalTS
	in, err = newSA(&p, UDP4, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return out, in
}

// icmpEcho builds an IPv4 (or IPv6) ICMP echo request of the given total
// size between two inner hosts.
func icmpEcho(src, dst netip.Addr, size int) []byte {
	if src.Is4() {
		pkt := make([]byte, size)
		writeIPv4Header(pkt, src, dst, 1, size)
		pkt[20] = 8 // echo request
		for i := 28; i < size; i++ {
			pkt[i] = byte(i)
		}
		return pkt
	}
	pkt := make([]byte, size)
	writeIPv6Header(pkt, src, dst, 58, size-ipv6HeaderLn)
	pkt[40] = 128
	for i := 48; i < size; i++ {
		pkt[i] = byte(i)
	}
	return pkt
}

func load(b *packet.Buffer, pkt []byte) {
	b.Reset()
	copy(b.Bytes[packet.Headroom:], pkt)
	b.SetData(packet.Headroom, len(pkt))
}

// receive runs the inbound checks on a wire packet the way the pipeline
// does, returning the delivered packet or the drop reason.
func receive(in *SA, wire []byte) ([]byte, DropReason) {
	var b packet.Buffer
	load(&b, wire)
	seq, r := in.precheck(b.Data())
	if r != dropNone {
		return nil, r
	}
	if r = in.decrypt(&b, seq); r != dropNone {
		return nil, r
	}
	if !in.commit(seq) {
		return nil, DropReplay
	}
	if r = in.deliver(&b); r != dropNone {
		return nil, r
	}
	return append([]byte(nil), b.Data()...), dropNone
}

func send(t testing.TB, out *SA, inner []byte) []byte {
	t.Helper()
	var b packet.Buffer
	load(&b, inner)
	seq, ok := out.nextSeq(nil)
	if !ok {
		t.Fatal("sequence exhausted")
	}
	if r := out.encapsulate(&b, seq); r != dropNone {
		t.Fatalf("encapsulate: %v", r)
	}
	return append([]byte(nil), b.Data()...)
}

var proposals = []string{
	"aes128gcm16", "aes256gcm16", "chacha20poly1305",
	"aes128-sha256", "aes256-sha384", "aes256-sha512",
	"aes128gcm16-esn", "chacha20poly1305-esn", "aes128-sha256-esn",
}

func TestRoundTripTunnel(t *testing.T) {
	for _, prop := range proposals {
		t.Run(prop, func(t *testing.T) {
			out, in := saPair(t, prop, installer.Tunnel, 64)
			for _, size := range []int{40, 41, 63, 64, 100, 1400, 8000} {
				for _, v6 := range []bool{false, true} {
					src, dst := netip.MustParseAddr("198.18.1.1"), netip.MustParseAddr("198.18.2.1")
					if v6 {
						src, dst = netip.MustParseAddr("2001:db8:ffff:1::1"), netip.MustParseAddr("2001:db8:ffff:2::1")
					}
					inner := icmpEcho(src, dst, max(size, 48))
					wire := send(t, out, inner)
					checkWire(t, out, wire, len(inner))
					got, r := receive(in, wire)
					if r != dropNone {
						t.Fatalf("size %d v6 %v: dropped: %v", size, v6, r)
					}
					if !bytes.Equal(got, inner) {
						t.Fatalf("size %d v6 %v: inner packet changed", size, v6)
					}
				}
			}
		})
	}
}

// checkWire checks the RFC 4303 §2 framing of a sealed packet.
func checkWire(t *testing.T, sa *SA, wire []byte, payload int) {
	t.Helper()
	xf := sa.xf
	if got := binary.BigEndian.Uint32(wire); got != sa.spi {
		t.Fatalf("SPI on the wire %#x, want %#x", got, sa.spi)
	}
	if got := binary.BigEndian.Uint32(wire[4:]); got != uint32(sa.seq.Load()) {
		t.Fatalf("seq on the wire %d, want %d", got, sa.seq.Load())
	}
	ct := len(wire) - espHeaderLen - xf.IVLen() - xf.ICVLen()
	if ct%xf.BlockLen() != 0 || ct < payload+2 || ct >= payload+2+xf.BlockLen() {
		t.Fatalf("ciphertext %d bytes for %d payload with block %d: padding not minimal and aligned", ct, payload, xf.BlockLen())
	}
}

func TestRoundTripTransport(t *testing.T) {
	for _, prop := range []string{"aes128gcm16", "aes256-sha256"} {
		out, in := saPair(t, prop, installer.Transport, 32)
		inner := icmpEcho(leftOuter.Addr(), rightOuter.Addr(), 84)
		wire := send(t, out, inner)
		// Transport mode carries the ICMP message alone; the outer header
		// is the kernel's.
		if want := 84 - 20; len(wire) < want+8 {
			t.Fatalf("%s: wire %d bytes", prop, len(wire))
		}
		got, r := receive(in, wire)
		if r != dropNone {
			t.Fatalf("%s: dropped %v", prop, r)
		}
		want := append([]byte(nil), inner...)
		// The receiver rebuilds the header: TTL 64, ID 0, fresh checksum.
		writeIPv4Header(want, leftOuter.Addr(), rightOuter.Addr(), 1, len(want))
		if !bytes.Equal(got, want) {
			t.Fatalf("%s: got\n%x\nwant\n%x", prop, got, want)
		}
	}
}

func TestTransportRejectsFragmentsAndExtensionHeaders(t *testing.T) {
	out, _ := saPair(t, "aes128gcm16", installer.Transport, 32)
	frag := icmpEcho(leftOuter.Addr(), rightOuter.Addr(), 84)
	frag[6] = 0x20 // more fragments
	var b packet.Buffer
	load(&b, frag)
	if r := out.encapsulate(&b, 1); r != DropMalformed {
		t.Fatalf("fragment: got %v, want malformed", r)
	}

	out6, _ := saPair(t, "aes128gcm16", installer.Transport, 32)
	withExt := icmpEcho(netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2"), 64)
	withExt[6] = 60 // a destination options header, which transport mode does not walk yet
	load(&b, withExt)
	if r := out6.encapsulate(&b, 1); r != DropMalformed {
		t.Fatalf("IPv6 extension header: got %v, want malformed", r)
	}
}

func TestInboundDrops(t *testing.T) {
	out, in := saPair(t, "aes128gcm16", installer.Tunnel, 32)
	inner := icmpEcho(netip.MustParseAddr("198.18.1.1"), netip.MustParseAddr("198.18.2.1"), 100)
	wire := send(t, out, inner)

	t.Run("replay", func(t *testing.T) {
		if _, r := receive(in, wire); r != dropNone {
			t.Fatalf("first copy dropped: %v", r)
		}
		if _, r := receive(in, wire); r != DropReplay {
			t.Fatalf("second copy: got %v, want replay", r)
		}
	})
	t.Run("icv does not move the window", func(t *testing.T) {
		for range 5 {
			send(t, out, inner) // skip ahead: seq 2..6 never reach the receiver
		}
		good := send(t, out, inner) // seq 7
		bad := append([]byte(nil), good...)
		bad[len(bad)-1] ^= 1
		if _, r := receive(in, bad); r != DropICV {
			t.Fatalf("forged: got %v, want icv", r)
		}
		if top := in.replay.Top(); top != 1 {
			t.Fatalf("window top moved to %d by a forged packet", top)
		}
		if _, r := receive(in, good); r != dropNone {
			t.Fatalf("the genuine packet after a forgery was dropped: %v", r)
		}
	})
	t.Run("short", func(t *testing.T) {
		for n := minESPLen; n < 8+8+16+4; n++ {
			if _, r := receive(in, wire[:n]); r != DropShort {
				t.Fatalf("%d bytes: got %v, want short", n, r)
			}
		}
	})
	t.Run("selector", func(t *testing.T) {
		stray := icmpEcho(netip.MustParseAddr("198.18.9.9"), netip.MustParseAddr("198.18.2.1"), 100)
		// The sender's policy would never pick this SA, so seal it by hand.
		if _, r := receive(in, send(t, out, stray)); r != DropSelector {
			t.Fatalf("got %v, want selector", r)
		}
	})
}

// sealRaw seals an arbitrary plaintext (payload, padding and trailer
// already laid out) so tests can send trailers a correct sender never would.
func sealRaw(t *testing.T, out *SA, plain []byte) []byte {
	t.Helper()
	var b packet.Buffer
	load(&b, plain)
	seq, _ := out.nextSeq(nil)
	hdr := b.Start - espHeaderLen - out.xf.IVLen()
	binary.BigEndian.PutUint32(b.Bytes[hdr:], out.spi)
	binary.BigEndian.PutUint32(b.Bytes[hdr+4:], uint32(seq))
	iv := b.Bytes[hdr+espHeaderLen : b.Start]
	out.xf.MakeIV(iv, seq)
	auth, trailer := out.esnAuth(b.Bytes[:], hdr, seq)
	sealed := out.xf.Seal(auth, iv, b.Bytes[b.Start:b.End], trailer)
	return append([]byte(nil), b.Bytes[hdr:b.Start+len(sealed)]...)
}

func TestTrailerChecks(t *testing.T) {
	out, in := saPair(t, "aes128gcm16", installer.Tunnel, 32)
	inner := icmpEcho(netip.MustParseAddr("198.18.1.1"), netip.MustParseAddr("198.18.2.1"), 30) // 30+2 = 32: no padding needed
	cases := []struct {
		name    string
		trailer []byte
		want    DropReason
	}{
		{"good, padded", []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 28, protoIPv4}, dropNone},
		{"bad pad byte", []byte{1, 2, 9, 4, 4, protoIPv4}, DropPadding},
		{"pad longer than packet", []byte{0, 0, 0, 0, 0xff, protoIPv4}, DropPadding},
		{"dummy", []byte{0, protoNoNext}, DropDummy},
		{"next header says IPv6", []byte{0, protoIPv6}, DropMalformed},
		{"unknown next header", []byte{0, 17}, DropMalformed},
	}
	for _, c := range cases {
		plain := append(append([]byte(nil), inner...), c.trailer...)
		if len(plain)%4 != 0 { // each trailer above keeps ESP's 4-byte alignment
			t.Fatalf("%s: test plaintext %d not 4-aligned", c.name, len(plain))
		}
		if _, r := receive(in, sealRaw(t, out, plain)); r != c.want {
			t.Errorf("%s: got %v, want %v", c.name, r, c.want)
		}
	}
}

func TestSequenceNeverWraps(t *testing.T) {
	for _, esn := range []bool{false, true} {
		prop := "aes128gcm16"
		if esn {
			prop += "-esn"
		}
		out, _ := saPair(t, prop, installer.Tunnel, 32)
		var ev eventRecorder
		out.seq.Store(out.seqWarn - 1)
		if _, ok := out.nextSeq(&ev); !ok || ev.nearWrap != 1 {
			t.Fatalf("esn=%v: at the warning mark: ok=%v, events %d", esn, ok, ev.nearWrap)
		}
		out.seq.Store(out.seqMax - 1)
		if s, ok := out.nextSeq(&ev); !ok || s != out.seqMax {
			t.Fatalf("esn=%v: last sequence number %d refused", esn, s)
		}
		for range 3 {
			if s, ok := out.nextSeq(&ev); ok {
				t.Fatalf("esn=%v: sent %d past the wrap", esn, s)
			}
		}
		if esn && out.seqMax != math.MaxUint64 || !esn && out.seqMax != math.MaxUint32 {
			t.Fatalf("esn=%v: seqMax %d", esn, out.seqMax)
		}
	}
}

func TestESNHighBitsAuthenticated(t *testing.T) {
	for _, prop := range []string{"aes128gcm16-esn", "aes256-sha256-esn"} {
		out, in := saPair(t, prop, installer.Tunnel, 64)
		inner := icmpEcho(netip.MustParseAddr("198.18.1.1"), netip.MustParseAddr("198.18.2.1"), 100)
		// Both sides just past a 2^32 boundary.
		out.seq.Store(1<<32 + 10)
		in.replay.Commit(1<<32 + 10)
		wire := send(t, out, inner)
		if got := binary.BigEndian.Uint32(wire[4:]); got != 11 {
			t.Fatalf("%s: low bits on the wire %d", prop, got)
		}
		if _, r := receive(in, wire); r != dropNone {
			t.Fatalf("%s: dropped %v", prop, r)
		}
		// A packet sealed in another epoch has the same low bits on the
		// wire but must fail the ICV.
		out.seq.Store(2<<32 + 11)
		if _, r := receive(in, send(t, out, inner)); r != DropICV {
			t.Fatalf("%s: wrong epoch: got %v, want icv", prop, r)
		}
	}
}

func TestLifetimes(t *testing.T) {
	out, _ := saPair(t, "aes128gcm16", installer.Tunnel, 32)
	out.lifetime = installer.Lifetime{Soft: installer.Limits{Packets: 3, Time: time.Minute}, Hard: installer.Limits{Packets: 5, Bytes: 1 << 20, Time: 2 * time.Minute}}
	var ev eventRecorder
	for i := 1; i <= 5; i++ {
		if !out.account(100, 0, &ev) {
			t.Fatalf("packet %d refused before the hard limit", i)
		}
	}
	if ev.soft != 1 || ev.hard != 0 {
		t.Fatalf("after 5 packets: soft %d hard %d", ev.soft, ev.hard)
	}
	if out.account(100, 0, &ev) || ev.hard != 1 || !out.dead.Load() {
		t.Fatalf("6th packet: hard limit not enforced (hard events %d)", ev.hard)
	}
	_, in := saPair(t, "aes128gcm16", installer.Tunnel, 32)
	in.lifetime = out.lifetime
	var ev2 eventRecorder
	in.checkTime(in.installed.Add(59*time.Second), &ev2)
	in.checkTime(in.installed.Add(61*time.Second), &ev2)
	in.checkTime(in.installed.Add(62*time.Second), &ev2)
	if ev2.soft != 1 || ev2.hard != 0 {
		t.Fatalf("time: soft %d hard %d", ev2.soft, ev2.hard)
	}
	in.checkTime(in.installed.Add(2*time.Minute), &ev2)
	if ev2.hard != 1 || !in.dead.Load() {
		t.Fatal("time: hard lifetime not enforced")
	}
}

type eventRecorder struct{ soft, hard, nearWrap, unknown int }

func (e *eventRecorder) SoftExpired(uint32, installer.Direction) { e.soft++ }
func (e *eventRecorder) HardExpired(uint32, installer.Direction) { e.hard++ }
func (e *eventRecorder) SeqNearWrap(uint32)                      { e.nearWrap++ }
func (e *eventRecorder) UnknownSPI(uint32, netip.AddrPort)       { e.unknown++ }

// BenchmarkEncapDecap measures one packet's trip through the sender's and
// the receiver's per-packet work: sequence number, encapsulation and seal,
// then length, replay pre-check, ICV and decryption, commit and trailer.
func BenchmarkEncapDecap(b *testing.B) {
	for _, prop := range []string{"aes128gcm16", "aes256gcm16", "chacha20poly1305", "aes128-sha256", "aes256-sha384", "aes256-sha512"} {
		for _, size := range []int{64, 1400} {
			b.Run(fmt.Sprintf("%s/%d", prop, size), func(b *testing.B) {
				out, in := saPair(b, prop, installer.Tunnel, 1024)
				inner := icmpEcho(netip.MustParseAddr("198.18.1.1"), netip.MustParseAddr("198.18.2.1"), size)
				var buf packet.Buffer
				b.SetBytes(int64(size))
				b.ReportAllocs()
				for b.Loop() {
					load(&buf, inner)
					seq, _ := out.nextSeq(nil)
					out.encapsulate(&buf, seq)
					seq, r := in.precheck(buf.Data())
					if r == dropNone {
						r = in.decrypt(&buf, seq)
					}
					if r != dropNone || !in.commit(seq) || in.deliver(&buf) != dropNone {
						b.Fatalf("round trip failed: %v", r)
					}
				}
			})
		}
	}
}
