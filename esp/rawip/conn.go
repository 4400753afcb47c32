//go:build linux

// Package rawip carries ESP directly over IP (protocol 50, RFC 4303) on raw
// sockets, for peers that need no NAT traversal. No kernel ESP handler claims
// protocol 50 here, so the raw socket sees every ESP packet the host
// receives (on its bound address); the SA lookup by SPI sorts them out.
package rawip

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/cpu"

	"github.com/espd/espd/esp/packet"
	"github.com/espd/espd/internal/batchio"
)

// BatchSize is the most packets one ReadBatch or sendmmsg call moves.
const BatchSize = 128

// espHeaderLen is the SPI and sequence number every ESP packet starts with
// (RFC 4303 §2).
const espHeaderLen = 8

// ErrNoAddress is returned by Listen for the zero netip.Addr.
var ErrNoAddress = errors.New("rawip: no local address")

// Conn is a raw IP socket for ESP. It implements packet.Conn; Remote ports
// are always 0. The kernel writes the outer IP header on send (no
// IP_HDRINCL).
//
// ReadBatch and WriteBatch may run concurrently; concurrent calls of the same
// one are serialized.
type Conn struct {
	ip    *net.IPConn
	raw   syscall.RawConn
	local netip.AddrPort
	// ipv4 sockets deliver the IP header with the payload; IPv6 ones
	// deliver the payload only (RFC 3542 §3).
	ipv4 bool

	readMu  sync.Mutex
	rx      *batchio.Batch
	writeMu sync.Mutex
	tx      *batchio.Batch

	counters counters
}

var _ packet.Conn = (*Conn)(nil)

// Listen opens a raw ESP socket bound to local, whose family picks the
// socket's; an unspecified address (0.0.0.0 or ::) receives ESP for every
// local address of that family. A non-zero mark is set as SO_MARK. Raw
// sockets need CAP_NET_RAW.
func Listen(local netip.Addr, mark uint32) (*Conn, error) {
	if !local.IsValid() {
		return nil, ErrNoAddress
	}
	local = local.Unmap()
	network := "ip4:50"
	if local.Is6() {
		network = "ip6:50"
	}
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		return batchio.Tune(rc, mark)
	}}
	pc, err := lc.ListenPacket(context.Background(), network, local.String())
	if err != nil {
		return nil, fmt.Errorf("rawip: listen on %v: %w", local, err)
	}
	ip := pc.(*net.IPConn)
	raw, err := ip.SyscallConn()
	if err != nil {
		ip.Close()
		return nil, fmt.Errorf("rawip: listen on %v: %w", local, err)
	}
	return &Conn{
		ip:    ip,
		raw:   raw,
		local: netip.AddrPortFrom(local, 0),
		ipv4:  local.Is4(),
		rx:    batchio.NewBatch(BatchSize),
		tx:    batchio.NewBatch(BatchSize),
	}, nil
}

// ReadBatch blocks until at least one ESP packet arrives and returns the ESP
// packets of one recvmmsg in bufs[:n]. Each is read in place at
// packet.Headroom; for IPv4 the IP header is skipped by moving Start past it,
// so the ESP header starts at packet.Headroom plus the header length. Packets
// with a bad IPv4 header, shorter than an ESP header or longer than
// packet.MaxData are counted and dropped. To keep the returned packets in
// front without copying, it may reorder the buffer pointers within bufs.
func (c *Conn) ReadBatch(bufs []*packet.Buffer) (int, error) {
	bufs = bufs[:min(len(bufs), c.rx.Size())]
	if len(bufs) == 0 {
		return 0, nil
	}
	// An IPv4 packet carrying packet.MaxData of ESP is longer by its header;
	// Tailroom leaves space for it.
	span := packet.MaxData
	if c.ipv4 {
		span += maxIPv4HeaderLen
	}
	c.readMu.Lock()
	defer c.readMu.Unlock()
	for {
		for i, b := range bufs {
			c.rx.Msgs[i].Buf = b.Bytes[packet.Headroom : packet.Headroom+span]
		}
		n, err := c.rx.Recv(c.raw, len(bufs))
		if err != nil {
			return 0, fmt.Errorf("rawip: read: %w", err)
		}
		if kept := c.filter(bufs[:n]); kept > 0 {
			return kept, nil
		}
	}
}

// filter sets up the ESP packets just received into bufs, keeps them in
// bufs[:kept] and counts the rest.
func (c *Conn) filter(bufs []*packet.Buffer) (kept int) {
	var badHeader, short, truncated uint64
	for i, b := range bufs {
		m := &c.rx.Msgs[i]
		if m.Truncated {
			truncated++
			continue
		}
		start, end, remote := 0, m.N, m.Addr
		if c.ipv4 {
			var src netip.Addr
			var ok bool
			start, end, src, ok = stripIPv4(m.Buf[:m.N])
			if !ok {
				badHeader++
				continue
			}
			remote = netip.AddrPortFrom(src, 0)
		}
		switch n := end - start; {
		case n < espHeaderLen:
			short++
		case n > packet.MaxData:
			truncated++
		default:
			b.SetData(packet.Headroom+start, n)
			b.Remote = remote
			// bufs[kept:i] hold only dropped packets, so the swap
			// moves nothing unprocessed.
			bufs[kept], bufs[i] = b, bufs[kept]
			kept++
		}
	}
	s := &c.counters
	s.received.Add(uint64(kept))
	if badHeader|short|truncated != 0 {
		s.badHeader.Add(badHeader)
		s.short.Add(short)
		s.truncated.Add(truncated)
	}
	return kept
}

// WriteBatch sends each bufs[i].Data() as the payload of an IP packet to
// bufs[i].Remote.Addr(), BatchSize packets per sendmmsg. A packet the kernel
// refuses is skipped and counted in Stats.SendErrors; the error return is for
// a broken or closed socket only.
func (c *Conn) WriteBatch(bufs []*packet.Buffer) (int, error) {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	total := 0
	for len(bufs) > 0 {
		chunk := bufs[:min(len(bufs), c.tx.Size())]
		for i, b := range chunk {
			c.tx.Msgs[i].Buf = b.Data()
			// A raw IPv6 socket refuses a port other than 0 or its
			// protocol (raw(7), ipv6(7)); IPv4 ignores it.
			c.tx.Msgs[i].Addr = netip.AddrPortFrom(b.Remote.Addr(), 0)
		}
		sent, refused, err := c.tx.Send(c.raw, len(chunk))
		total += sent
		c.counters.sent.Add(uint64(sent))
		if refused > 0 {
			c.counters.sendErrors.Add(uint64(refused))
		}
		if err != nil {
			return total, fmt.Errorf("rawip: write: %w", err)
		}
		bufs = bufs[len(chunk):]
	}
	return total, nil
}

// BatchSize is the most buffers one ReadBatch returns.
func (c *Conn) BatchSize() int { return BatchSize }

// LocalAddr is the bound address with port 0.
func (c *Conn) LocalAddr() netip.AddrPort { return c.local }

// SyscallConn exposes the socket for options this package does not set.
func (c *Conn) SyscallConn() syscall.RawConn { return c.raw }

// Close closes the socket; blocked ReadBatch and WriteBatch calls return an
// error matching net.ErrClosed.
func (c *Conn) Close() error {
	if err := c.ip.Close(); err != nil {
		return fmt.Errorf("rawip: close: %w", err)
	}
	return nil
}

// Stats are the socket's counters since Listen.
type Stats struct {
	Received   uint64 // ESP packets returned by ReadBatch
	BadHeader  uint64 // IPv4 header failed validation
	Short      uint64 // shorter than an ESP header
	Truncated  uint64 // longer than packet.MaxData
	Sent       uint64
	SendErrors uint64 // packets the kernel refused
}

// counters keeps the reader's and the writers' counters on separate cache
// lines so the two sides do not slow each other down.
type counters struct {
	_          cpu.CacheLinePad
	received   atomic.Uint64
	badHeader  atomic.Uint64
	short      atomic.Uint64
	truncated  atomic.Uint64
	_          cpu.CacheLinePad
	sent       atomic.Uint64
	sendErrors atomic.Uint64
	_          cpu.CacheLinePad
}

// Stats returns a snapshot of the counters.
func (c *Conn) Stats() Stats {
	s := &c.counters
	return Stats{
		Received:   s.received.Load(),
		BadHeader:  s.badHeader.Load(),
		Short:      s.short.Load(),
		Truncated:  s.truncated.Load(),
		Sent:       s.sent.Load(),
		SendErrors: s.sendErrors.Load(),
	}
}
