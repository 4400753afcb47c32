package nat

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/espd/espd/esp/packet"
	"github.com/espd/espd/esp/packet/packettest"
)

// TestSegmentedRuns sends the shapes that fillMessages must cut into runs:
// equal sizes, a shorter datagram that ends a run, a change of peer, and a
// run longer than one GSO send may be. Every datagram must still arrive on
// its own, intact and in order, with GSO and without.
func TestSegmentedRuns(t *testing.T) {
	for _, disable := range []bool{false, true} {
		t.Run(fmt.Sprintf("DisableGSO=%v", disable), func(t *testing.T) {
			lo := loopbacks[0].addr
			a := listen(t, Config{Addr: lo, DisableGSO: disable})
			b, c := listen(t, Config{Addr: lo}), listen(t, Config{Addr: lo})
			if !disable && !a.gso {
				t.Skip("the kernel has no UDP_SEGMENT")
			}
			type span struct {
				n, size int
				to      *Conn
			}
			spans := []span{{10, 1400, b}, {1, 900, b}, {5, 1400, b}, {3, 1400, c}, {70, 1000, b}, {2, 200, b}, {1, 300, b}}
			var out []*packet.Buffer
			var wantB, wantC [][]byte
			for _, s := range spans {
				for range s.n {
					p := packettest.ESPPacket(uint32(len(out)), s.size)
					buf := packettest.NewBuffers(1)[0]
					buf.SetData(packet.Headroom, copy(buf.Bytes[packet.Headroom:], p))
					buf.Remote = s.to.LocalAddr()
					out = append(out, buf)
					if s.to == b {
						wantB = append(wantB, p)
					} else {
						wantC = append(wantC, p)
					}
				}
			}
			if n, err := a.WriteBatch(out); err != nil || n != len(out) {
				t.Fatalf("WriteBatch = %d of %d, %v", n, len(out), err)
			}
			for _, r := range []struct {
				conn *Conn
				want [][]byte
			}{{b, wantB}, {c, wantC}} {
				got := packettest.ReadESP(t, r.conn, len(r.want))
				for i, buf := range got {
					if !bytes.Equal(buf.Data(), r.want[i]) {
						t.Fatalf("datagram %d: %d bytes, want %d", i, buf.Len(), len(r.want[i]))
					}
				}
			}
			if s := a.Stats(); s.ESPSent != uint64(len(out)) || s.SendErrors != 0 {
				t.Fatalf("sender stats %+v", s)
			}
		})
	}
}

// BenchmarkWriteReadBatchGSO compares one batch of 64 equal datagrams sent
// segmented with the same batch sent one datagram per message.
func BenchmarkWriteReadBatchGSO(b *testing.B) {
	for _, disable := range []bool{false, true} {
		b.Run(fmt.Sprintf("DisableGSO=%v", disable), func(b *testing.B) {
			lo := loopbacks[0].addr
			x, y := listen(b, Config{Addr: lo, DisableGSO: disable}), listen(b, Config{Addr: lo})
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
