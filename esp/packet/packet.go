// Package packet holds the buffer that every stage of the data plane shares
// and the batch interface that the network transports implement.
//
// A Buffer is allocated once, pooled, and carries one packet through TUN read,
// encapsulation, encryption and socket write (or the reverse) without a copy:
// the packet sits at Buffer.Bytes[Start:End], with Headroom bytes free in front
// so the ESP header and IV are written in place, and Tailroom bytes free
// behind so padding, the ESP trailer and the ICV fit without moving the data.
package packet

import (
	"net/netip"
	"sync"
)

const (
	// Headroom is free space in front of a packet read from the TUN. ESP
	// needs 8 (SPI, sequence) + at most 16 (IV) bytes, plus 4 bytes so the
	// AEAD associated data for ESN (SPI || seq-hi || seq-lo, RFC 4106 §5)
	// can be laid out contiguously in place. The outer IP and UDP headers
	// are written by the kernel, so they need no room here.
	Headroom = 64
	// MaxData is the largest packet (inner or outer) a buffer carries.
	MaxData = 9216
	// Tailroom is free space after the packet for ESP padding (at most
	// 255), the pad length and next header bytes, and the ICV.
	Tailroom = 320
	// Size is the length of Buffer.Bytes.
	Size = Headroom + MaxData + Tailroom
)

// Buffer carries one packet. The zero value is not ready: call Reset.
type Buffer struct {
	Bytes [Size]byte
	// Start and End delimit the packet in Bytes.
	Start, End int
	// Remote is the outer peer address: the source of a received datagram
	// or the destination of one to send. Its port is 0 on raw IP sockets.
	Remote netip.AddrPort
}

// Reset empties the buffer and leaves Headroom in front.
func (b *Buffer) Reset() {
	b.Start, b.End = Headroom, Headroom
	b.Remote = netip.AddrPort{}
}

// Data returns the packet.
func (b *Buffer) Data() []byte { return b.Bytes[b.Start:b.End] }

// Len returns the packet length.
func (b *Buffer) Len() int { return b.End - b.Start }

// SetData places the packet at Bytes[start:start+n].
func (b *Buffer) SetData(start, n int) { b.Start, b.End = start, start+n }

// Pool recycles buffers. It never shrinks below what the pipeline has in
// flight, so steady-state traffic allocates nothing.
type Pool struct{ p sync.Pool }

// Get returns a reset buffer.
func (p *Pool) Get() *Buffer {
	b, _ := p.p.Get().(*Buffer)
	if b == nil {
		b = new(Buffer)
	}
	b.Reset()
	return b
}

// Put returns a buffer to the pool.
func (p *Pool) Put(b *Buffer) { p.p.Put(b) }

// Conn is a network transport for ESP packets: ESP-in-UDP (nat) or raw IP
// protocol 50 (esp/rawip). Reads and writes move batches, each call one
// recvmmsg or sendmmsg where the platform allows.
type Conn interface {
	// ReadBatch blocks until at least one ESP packet arrives, then fills
	// bufs[:n] with ESP packets (starting at the SPI, outer headers
	// stripped) and their Remote address. Non-ESP traffic that shares the
	// socket (IKE, NAT keepalives) is handled inside the transport and never
	// returned here. The caller has Reset every buffer.
	ReadBatch(bufs []*Buffer) (n int, err error)
	// WriteBatch sends each bufs[i].Data() to bufs[i].Remote. It returns
	// how many were handed to the kernel; a datagram the kernel refuses
	// (an unreachable peer, say) is skipped, not retried.
	WriteBatch(bufs []*Buffer) (n int, err error)
	// BatchSize is the most buffers one call moves.
	BatchSize() int
	// LocalAddr is the bound address; port 0 for raw IP.
	LocalAddr() netip.AddrPort
	Close() error
}
