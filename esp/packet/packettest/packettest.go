// Package packettest holds what the transports' tests (nat, esp/rawip)
// share: fresh buffers, recognisable ESP-looking packets, and a bounded read
// of a number of them.
package packettest

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/espd/espd/esp/packet"
)

// NewBuffers returns n reset buffers.
func NewBuffers(n int) []*packet.Buffer {
	bufs := make([]*packet.Buffer, n)
	for i := range bufs {
		bufs[i] = new(packet.Buffer)
		bufs[i].Reset()
	}
	return bufs
}

// ESPPacket builds an ESP-looking datagram: a non-zero SPI, sequence seq and
// a filler that makes every packet distinct, cut to size (which may be
// shorter than an ESP header).
func ESPPacket(seq uint32, size int) []byte {
	p := make([]byte, max(size, 8))
	binary.BigEndian.PutUint32(p[0:4], 0xc0ffee00)
	binary.BigEndian.PutUint32(p[4:8], seq)
	for i := 8; i < size; i++ {
		p[i] = byte(seq) ^ byte(i)
	}
	return p[:size]
}

// ReadESP reads until want ESP packets arrived, failing the test if that
// takes more than 5 s (the connection is closed to unblock the read).
func ReadESP(t testing.TB, c packet.Conn, want int) []*packet.Buffer {
	t.Helper()
	timer := time.AfterFunc(5*time.Second, func() { c.Close() })
	defer timer.Stop()
	var got []*packet.Buffer
	for len(got) < want {
		bufs := NewBuffers(want - len(got))
		n, err := c.ReadBatch(bufs)
		if err != nil {
			t.Fatalf("ReadBatch after %d of %d packets: %v", len(got), want, err)
		}
		got = append(got, bufs[:n]...)
	}
	return got
}
