package rawip

import (
	"encoding/binary"
	"net/netip"
	"testing"
)

// ipv4Packet builds an IPv4 packet: a header of headerLen bytes (options
// zero) from src carrying payload over ESP.
func ipv4Packet(headerLen int, src netip.Addr, payload []byte) []byte {
	p := make([]byte, headerLen+len(payload))
	p[0] = 4<<4 | byte(headerLen/4)
	binary.BigEndian.PutUint16(p[2:4], uint16(len(p)))
	binary.BigEndian.PutUint16(p[6:8], 0x4000) // DF
	p[8] = 64
	p[9] = protocolESP
	s := src.As4()
	copy(p[12:16], s[:])
	copy(p[16:20], []byte{192, 0, 2, 2})
	copy(p[headerLen:], payload)
	return p
}

func TestStripIPv4(t *testing.T) {
	src := netip.MustParseAddr("192.0.2.1")
	esp := []byte{0xc0, 0xff, 0xee, 0, 0, 0, 0, 1, 0xaa, 0xbb}
	mutate := func(p []byte, f func(p []byte)) []byte { f(p); return p }
	for _, tc := range []struct {
		name       string
		in         []byte
		start, end int
		ok         bool
	}{
		{"plain header", ipv4Packet(20, src, esp), 20, 30, true},
		{"header with options", ipv4Packet(24, src, esp), 24, 34, true},
		{"largest header", ipv4Packet(60, src, esp), 60, 70, true},
		{"no payload", ipv4Packet(20, src, nil), 20, 20, true},
		{"bytes after total length ignored", append(ipv4Packet(20, src, esp), 0xde, 0xad), 20, 30, true},
		{"nil", nil, 0, 0, false},
		{"19 bytes", ipv4Packet(20, src, esp)[:19], 0, 0, false},
		{"version 6", mutate(ipv4Packet(20, src, esp), func(p []byte) { p[0] = 6<<4 | 5 }), 0, 0, false},
		{"IHL 4", mutate(ipv4Packet(20, src, esp), func(p []byte) { p[0] = 4<<4 | 4 }), 0, 0, false},
		{"IHL 0", mutate(ipv4Packet(20, src, esp), func(p []byte) { p[0] = 4 << 4 }), 0, 0, false},
		{"IHL past the data", mutate(ipv4Packet(20, src, esp), func(p []byte) { p[0] = 4<<4 | 15 }), 0, 0, false},
		{"total length below header", mutate(ipv4Packet(24, src, esp), func(p []byte) {
			binary.BigEndian.PutUint16(p[2:4], 20)
		}), 0, 0, false},
		{"total length past the data", mutate(ipv4Packet(20, src, esp), func(p []byte) {
			binary.BigEndian.PutUint16(p[2:4], 31)
		}), 0, 0, false},
		{"total length zero", mutate(ipv4Packet(20, src, esp), func(p []byte) {
			binary.BigEndian.PutUint16(p[2:4], 0)
		}), 0, 0, false},
		{"protocol UDP", mutate(ipv4Packet(20, src, esp), func(p []byte) { p[9] = 17 }), 0, 0, false},
		{"first fragment", mutate(ipv4Packet(20, src, esp), func(p []byte) { p[6] = 0x20 }), 0, 0, false},
		{"later fragment", mutate(ipv4Packet(20, src, esp), func(p []byte) { p[7] = 1 }), 0, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start, end, gotSrc, ok := stripIPv4(tc.in)
			if ok != tc.ok || start != tc.start || end != tc.end {
				t.Fatalf("stripIPv4 = %d, %d, %v, %v; want %d, %d, _, %v", start, end, gotSrc, ok, tc.start, tc.end, tc.ok)
			}
			if ok && gotSrc != src {
				t.Errorf("source %v, want %v", gotSrc, src)
			}
		})
	}
}

func FuzzStripIPv4(f *testing.F) {
	src := netip.MustParseAddr("198.51.100.7")
	f.Add(ipv4Packet(20, src, []byte{1, 2, 3, 4, 5, 6, 7, 8}))
	f.Add(ipv4Packet(60, src, nil))
	f.Add([]byte{0x45})
	f.Add([]byte{})
	f.Add(make([]byte, 20))
	f.Fuzz(func(t *testing.T, b []byte) {
		start, end, gotSrc, ok := stripIPv4(b)
		if !ok {
			if start != 0 || end != 0 || gotSrc.IsValid() {
				t.Fatalf("rejected packet with %d, %d, %v", start, end, gotSrc)
			}
			return
		}
		if start < minIPv4HeaderLen || start > maxIPv4HeaderLen || start > end || end > len(b) {
			t.Fatalf("payload bounds %d:%d of %d bytes", start, end, len(b))
		}
		if b[0]>>4 != 4 || int(b[0]&0xf)*4 != start || int(binary.BigEndian.Uint16(b[2:4])) != end || b[9] != protocolESP {
			t.Fatalf("accepted header % x", b[:start])
		}
		if gotSrc != netip.AddrFrom4([4]byte(b[12:16])) {
			t.Fatalf("source %v from header % x", gotSrc, b[:start])
		}
	})
}
