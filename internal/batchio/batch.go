//go:build linux

// Package batchio moves batches of datagrams with one recvmmsg(2) or
// sendmmsg(2) call, for the ESP transports (nat and esp/rawip).
//
// It exists because golang.org/x/net's ipv4/ipv6 PacketConn.ReadBatch returns
// the source of every datagram as a freshly allocated *net.UDPAddr (two heap
// allocations per packet, see BenchmarkXNetReadBatch). Here the kernel's
// sockaddr is decoded straight into a netip.AddrPort, and the mmsghdr, iovec
// and sockaddr arrays the kernel needs are allocated once per Batch, so the
// steady state allocates nothing in either direction.
package batchio

import (
	"encoding/binary"
	"net/netip"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Message is one datagram of a batch.
type Message struct {
	// Buf is where a received datagram lands, or the datagram to send.
	Buf []byte
	// Addr is the source of a received datagram or the destination of one
	// to send. Raw IP sockets report port 0 and must be given port 0.
	// Zones (IPv6 scope IDs) are neither reported nor sent.
	Addr netip.AddrPort
	// N is the length of a received datagram, at most len(Buf).
	N int
	// Truncated reports a received datagram longer than Buf; its tail was
	// discarded by the kernel (MSG_TRUNC).
	Truncated bool
	// Segments, when it holds two or more datagrams, replaces Buf on Send:
	// they go to Addr in one UDP generic segmentation offload send
	// (UDP_SEGMENT, udp(7)), which crosses the kernel's stack once for all
	// of them and still leaves as one datagram each. Every segment but the
	// last must be as long as the first; the last may be shorter.
	Segments [][]byte
}

// segments is how many datagrams m stands for on Send.
func (m *Message) segments() int { return max(len(m.Segments), 1) }

// sockaddr has room for a sockaddr_in or a sockaddr_in6.
type sockaddr [unix.SizeofSockaddrInet6]byte

// Batch is the scratch space for batched calls on one socket. It is not safe
// for concurrent use: give the reading and the writing side a Batch each.
type Batch struct {
	// Msgs are the messages of the next call; Recv and Send use Msgs[:n].
	Msgs []Message
	// LastRefusal is the error of the most recent datagram the kernel
	// refused in Send, for a rate-limited log.
	LastRefusal syscall.Errno

	// GSOFailed is set when the kernel refused a segmented send with EIO,
	// as it does on a route whose device cannot offload the checksum; the
	// caller should stop segmenting.
	GSOFailed bool

	hdrs  []unix.Mmsghdr
	iovs  []unix.Iovec // one per datagram: Send packs each message's segments side by side
	names []sockaddr
	ctrl  [][gsoControlLen]byte

	// The call in progress. It lives here, not in a closure, so the
	// callbacks handed to syscall.RawConn are method values bound once in
	// NewBatch and a call allocates nothing.
	count   int // messages in this call
	done    int // messages received, or sent or refused, so far
	sentDG  int // datagrams sent so far
	refused int // datagrams refused so far
	errno   syscall.Errno
	recvFn  func(fd uintptr) bool
	sendFn  func(fd uintptr) bool
}

// NewBatch returns a Batch for calls of up to size messages.
func NewBatch(size int) *Batch {
	size = max(size, 1)
	b := &Batch{
		Msgs:  make([]Message, size),
		hdrs:  make([]unix.Mmsghdr, size),
		iovs:  make([]unix.Iovec, size),
		names: make([]sockaddr, size),
		ctrl:  make([][gsoControlLen]byte, size),
	}
	for i := range b.hdrs {
		h := &b.hdrs[i].Hdr
		h.Iov = &b.iovs[i]
		h.SetIovlen(1)
		h.Name = &b.names[i][0]
	}
	b.recvFn = b.recvmmsg
	b.sendFn = b.sendmmsg
	return b
}

// Size is the most messages one call moves.
func (b *Batch) Size() int { return len(b.Msgs) }

// Recv blocks until at least one datagram is available, then receives up to
// n (at most Size) into Msgs[i].Buf, each of which must be non-empty, and sets
// N, Addr and Truncated. It returns how many arrived.
func (b *Batch) Recv(rc syscall.RawConn, n int) (int, error) {
	n = min(n, len(b.Msgs))
	if n <= 0 {
		return 0, nil
	}
	for i := range n {
		buf := b.Msgs[i].Buf
		b.iovs[i].Base = unsafe.SliceData(buf)
		b.iovs[i].SetLen(len(buf))
		h := &b.hdrs[i].Hdr
		h.Iov = &b.iovs[i]
		h.SetIovlen(1)
		h.Control = nil
		h.SetControllen(0)
		h.Name = &b.names[i][0]
		h.Namelen = uint32(len(b.names[i]))
		h.Flags = 0
		b.hdrs[i].Len = 0
	}
	b.count, b.done, b.errno = n, 0, 0
	if err := rc.Read(b.recvFn); err != nil {
		return 0, err
	}
	if b.errno != 0 {
		return 0, os.NewSyscallError("recvmmsg", b.errno)
	}
	for i := range b.done {
		m, h := &b.Msgs[i], &b.hdrs[i]
		m.N = int(h.Len)
		m.Truncated = h.Hdr.Flags&unix.MSG_TRUNC != 0
		m.Addr = decodeSockaddr(&b.names[i], h.Hdr.Namelen)
	}
	return b.done, nil
}

func (b *Batch) recvmmsg(fd uintptr) bool {
	for {
		r, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd,
			uintptr(unsafe.Pointer(&b.hdrs[0])), uintptr(b.count), 0, 0, 0)
		switch e {
		case 0:
			b.done = int(r)
			return true
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false // let the poller wait for readability
		default:
			b.errno = e
			return true
		}
	}
}

// Send hands Msgs[:n] (n at most Size) to the kernel, each Buf (or its
// Segments) to its Addr, blocking while the socket buffer is full. The
// messages of one call may hold at most Size datagrams in all; Send sends
// fewer messages rather than more. A datagram the kernel refuses
// (unreachable, wrong address family, too big) is skipped and counted in
// refused; err reports only a failure of the socket itself, such as being
// closed, after which the rest of the batch is not sent. sent and refused
// count datagrams, not messages.
func (b *Batch) Send(rc syscall.RawConn, n int) (sent, refused int, err error) {
	n = min(n, len(b.Msgs))
	iov := 0
	for i := range n {
		m := &b.Msgs[i]
		k := m.segments()
		if iov+k > len(b.iovs) {
			n = i
			break
		}
		h := &b.hdrs[i].Hdr
		h.Iov = &b.iovs[iov]
		if len(m.Segments) > 1 {
			for j, seg := range m.Segments {
				b.iovs[iov+j].Base = unsafe.SliceData(seg)
				b.iovs[iov+j].SetLen(len(seg))
			}
			putGSOSize(&b.ctrl[i], len(m.Segments[0]))
			h.Control = &b.ctrl[i][0]
			h.SetControllen(unix.CmsgSpace(2))
		} else {
			buf := m.Buf
			if len(m.Segments) == 1 {
				buf = m.Segments[0]
			}
			b.iovs[iov].Base = unsafe.SliceData(buf)
			b.iovs[iov].SetLen(len(buf))
			h.Control = nil
			h.SetControllen(0)
		}
		h.SetIovlen(k)
		iov += k
		h.Namelen = encodeSockaddr(&b.names[i], m.Addr)
		if h.Namelen == 0 {
			h.Name = nil // no destination: the kernel refuses just this one
		} else {
			h.Name = &b.names[i][0]
		}
		h.Flags = 0
		b.hdrs[i].Len = 0
	}
	if n <= 0 {
		return 0, 0, nil
	}
	b.count, b.done, b.sentDG, b.refused = n, 0, 0, 0
	err = rc.Write(b.sendFn)
	return b.sentDG, b.refused, err
}

func (b *Batch) sendmmsg(fd uintptr) bool {
	for b.done < b.count {
		r, _, e := unix.Syscall6(unix.SYS_SENDMMSG, fd,
			uintptr(unsafe.Pointer(&b.hdrs[b.done])), uintptr(b.count-b.done), 0, 0, 0)
		switch e {
		case 0:
			for _, m := range b.Msgs[b.done : b.done+int(r)] {
				b.sentDG += m.segments()
			}
			b.done += int(r)
		case unix.EINTR:
		case unix.EAGAIN:
			return false // let the poller wait for writability, then resume
		default:
			// sendmmsg reports an error only when the first datagram of
			// the call failed, so the error belongs to hdrs[done].
			m := &b.Msgs[b.done]
			if e == unix.EIO && len(m.Segments) > 1 {
				b.GSOFailed = true
			}
			b.LastRefusal = e
			b.refused += m.segments()
			b.done++
		}
	}
	return true
}

// decodeSockaddr reads a sockaddr_in or sockaddr_in6 (ip(7), ipv6(7)); the
// family is in host order, the port in network order.
func decodeSockaddr(sa *sockaddr, n uint32) netip.AddrPort {
	port := binary.BigEndian.Uint16(sa[2:4])
	switch binary.NativeEndian.Uint16(sa[0:2]) {
	case unix.AF_INET:
		if n >= unix.SizeofSockaddrInet4 {
			return netip.AddrPortFrom(netip.AddrFrom4([4]byte(sa[4:8])), port)
		}
	case unix.AF_INET6:
		if n >= unix.SizeofSockaddrInet6 {
			return netip.AddrPortFrom(netip.AddrFrom16([16]byte(sa[8:24])), port)
		}
	}
	return netip.AddrPort{}
}

// encodeSockaddr writes ap as a sockaddr and returns its length, or 0 for an
// invalid address. IPv4-mapped IPv6 addresses are sent as IPv4: the transports'
// IPv6 sockets are IPv6-only, so a mapped address can only mean an IPv4 peer.
func encodeSockaddr(sa *sockaddr, ap netip.AddrPort) uint32 {
	a := ap.Addr().Unmap()
	switch {
	case a.Is4():
		binary.NativeEndian.PutUint16(sa[0:2], unix.AF_INET)
		binary.BigEndian.PutUint16(sa[2:4], ap.Port())
		ip := a.As4()
		copy(sa[4:8], ip[:])
		clear(sa[8:unix.SizeofSockaddrInet4])
		return unix.SizeofSockaddrInet4
	case a.Is6():
		binary.NativeEndian.PutUint16(sa[0:2], unix.AF_INET6)
		binary.BigEndian.PutUint16(sa[2:4], ap.Port())
		clear(sa[4:8]) // flow info
		ip := a.As16()
		copy(sa[8:24], ip[:])
		clear(sa[24:28]) // scope ID
		return unix.SizeofSockaddrInet6
	}
	return 0
}
