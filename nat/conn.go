//go:build linux

package nat

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/cpu"
	"golang.org/x/sys/unix"

	"github.com/espd/espd/esp/packet"
	"github.com/espd/espd/internal/batchio"
)

// DefaultPort is the IKE/ESP-in-UDP port once NAT is detected (RFC 3948
// §2.1, RFC 7296 §2.23).
const DefaultPort = 4500

// BatchSize is the most datagrams one ReadBatch or sendmmsg call moves.
const BatchSize = 128

// Config describes one ESP-in-UDP socket.
type Config struct {
	// Addr is the address to bind, such as 0.0.0.0:4500 or [::]:4500; its
	// family picks the socket's. The zero value means 0.0.0.0:4500, port 0
	// an ephemeral port.
	Addr netip.AddrPort
	// Mark is set as SO_MARK on the socket when non-zero.
	Mark uint32
	// OnIKE receives each IKE message with the non-ESP marker stripped. It
	// runs synchronously inside ReadBatch, so it must be quick and must not
	// call ReadBatch; msg is only valid during the call. Nil drops IKE.
	OnIKE func(msg []byte, from netip.AddrPort)
	// DisableGSO sends every datagram on its own even where the kernel
	// could segment (for tests and for comparing the two).
	DisableGSO bool
}

// Conn is an ESP-in-UDP socket. It implements packet.Conn; IKE and keepalive
// datagrams arriving on it are demultiplexed inside ReadBatch. It does not
// set UDP_ENCAP_ESPINUDP, which would hand the socket to the kernel's XFRM.
//
// ReadBatch and WriteBatch may run concurrently; concurrent calls of the same
// one are serialized. SendIKE and SendKeepalive may be called at any time.
type Conn struct {
	udp   *net.UDPConn
	raw   syscall.RawConn
	local netip.AddrPort
	onIKE func(msg []byte, from netip.AddrPort)

	readMu  sync.Mutex
	rx      *batchio.Batch
	writeMu sync.Mutex
	tx      *batchio.Batch
	// gso: send runs of equal-size datagrams to one peer as one UDP GSO
	// send. Cleared for good if the kernel refuses one.
	gso      bool
	segments [][]byte // backing store for tx.Msgs[i].Segments

	counters counters
}

var _ packet.Conn = (*Conn)(nil)

// Listen opens the socket described by cfg.
func Listen(cfg Config) (*Conn, error) {
	addr := cfg.Addr
	if !addr.IsValid() {
		addr = netip.AddrPortFrom(netip.IPv4Unspecified(), DefaultPort)
	}
	addr = unmap(addr)
	network := "udp4"
	if addr.Addr().Is6() {
		network = "udp6"
	}
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		return configureSocket(rc, network == "udp6", cfg.Mark)
	}}
	pc, err := lc.ListenPacket(context.Background(), network, addr.String())
	if err != nil {
		return nil, fmt.Errorf("nat: listen on %v: %w", addr, err)
	}
	udp := pc.(*net.UDPConn)
	raw, err := udp.SyscallConn()
	if err != nil {
		udp.Close()
		return nil, fmt.Errorf("nat: listen on %v: %w", addr, err)
	}
	local := udp.LocalAddr().(*net.UDPAddr).AddrPort()
	if network == "udp4" {
		local = unmap(local)
	}
	return &Conn{
		udp:      udp,
		raw:      raw,
		local:    local,
		onIKE:    cfg.OnIKE,
		rx:       batchio.NewBatch(BatchSize),
		tx:       batchio.NewBatch(BatchSize),
		gso:      !cfg.DisableGSO && batchio.SupportsGSO(raw),
		segments: make([][]byte, BatchSize),
	}, nil
}

// configureSocket runs before bind, so that an IPv6 socket is IPv6-only and
// an IPv4 socket can bind the same port beside it.
func configureSocket(rc syscall.RawConn, v6 bool, mark uint32) error {
	if v6 {
		var v6Err error
		if err := rc.Control(func(fd uintptr) {
			v6Err = unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 1)
		}); err != nil {
			return err
		}
		if v6Err != nil {
			return fmt.Errorf("IPV6_V6ONLY: %w", v6Err)
		}
	}
	return batchio.Tune(rc, mark)
}

// ReadBatch blocks until at least one ESP packet arrives and returns the ESP
// packets of one recvmmsg in bufs[:n], each read in place at packet.Headroom.
// IKE messages go to Config.OnIKE; keepalives and invalid datagrams are
// counted and dropped. To keep the ESP packets in front without copying, it
// may reorder the buffer pointers within bufs; buffers it does not return are
// left as the caller reset them.
func (c *Conn) ReadBatch(bufs []*packet.Buffer) (int, error) {
	bufs = bufs[:min(len(bufs), c.rx.Size())]
	if len(bufs) == 0 {
		return 0, nil
	}
	c.readMu.Lock()
	defer c.readMu.Unlock()
	for {
		for i, b := range bufs {
			c.rx.Msgs[i].Buf = b.Bytes[packet.Headroom : packet.Headroom+packet.MaxData]
		}
		n, err := c.rx.Recv(c.raw, len(bufs))
		if err != nil {
			return 0, fmt.Errorf("nat: read: %w", err)
		}
		if kept := c.demux(bufs[:n]); kept > 0 {
			return kept, nil
		}
	}
}

// demux classifies the datagrams just received into bufs, keeps the ESP
// packets in bufs[:kept] and handles the rest.
func (c *Conn) demux(bufs []*packet.Buffer) (kept int) {
	var ike, ikeUnhandled, keepalives, empty, short, marker, truncated uint64
	for i, b := range bufs {
		m := &c.rx.Msgs[i]
		if m.Truncated {
			truncated++
			continue
		}
		data := b.Bytes[packet.Headroom : packet.Headroom+m.N]
		kind, reason := classify(data)
		switch kind {
		case KindESP:
			b.SetData(packet.Headroom, m.N)
			b.Remote = m.Addr
			// Everything in bufs[kept:i] is already handled non-ESP,
			// so swapping moves no unprocessed datagram.
			bufs[kept], bufs[i] = b, bufs[kept]
			kept++
		case KindIKE:
			if c.onIKE == nil {
				ikeUnhandled++
				continue
			}
			ike++
			c.onIKE(data[nonESPMarkerLen:], m.Addr)
		case KindKeepalive:
			keepalives++
		default:
			switch reason {
			case invalidEmpty:
				empty++
			case invalidMarker:
				marker++
			default:
				short++
			}
		}
	}
	// One atomic add per counter and batch, not per packet.
	s := &c.counters
	add := func(ctr *atomic.Uint64, v uint64) {
		if v != 0 {
			ctr.Add(v)
		}
	}
	add(&s.espReceived, uint64(kept))
	add(&s.ikeReceived, ike)
	add(&s.ikeUnhandled, ikeUnhandled)
	add(&s.keepalivesReceived, keepalives)
	add(&s.invalidEmpty, empty)
	add(&s.invalidShort, short)
	add(&s.invalidMarker, marker)
	add(&s.truncated, truncated)
	return kept
}

// maxGSOSegments is how many datagrams one UDP GSO send carries at most:
// the kernel's UDP_MAX_SEGMENTS was 64 before Linux 6.10.
const maxGSOSegments = 64

// maxGSOBytes keeps a segmented send inside one IP datagram's 64 KiB.
const maxGSOBytes = 65535 - 8 - 40

// WriteBatch sends each bufs[i].Data() to bufs[i].Remote, BatchSize
// datagrams per sendmmsg. Runs of consecutive datagrams to one peer of equal
// length (the segments of one TCP burst that the TUN handed over together,
// after encryption) go as one UDP GSO send. A datagram the kernel refuses is
// skipped and counted in Stats.SendErrors; the error return is for a broken
// or closed socket only.
func (c *Conn) WriteBatch(bufs []*packet.Buffer) (int, error) {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	total := 0
	for len(bufs) > 0 {
		used, msgs := c.fillMessages(bufs)
		sent, refused, err := c.tx.Send(c.raw, msgs)
		total += sent
		c.counters.espSent.Add(uint64(sent))
		if refused > 0 {
			c.counters.sendErrors.Add(uint64(refused))
		}
		if c.tx.GSOFailed {
			c.gso = false // the refused run is lost once; TCP and IKE resend
		}
		if err != nil {
			return total, fmt.Errorf("nat: write: %w", err)
		}
		bufs = bufs[used:]
	}
	return total, nil
}

// fillMessages lays out the next sendmmsg: up to BatchSize datagrams, each
// run that can be segmented in one message. It returns how many buffers
// and messages it used.
func (c *Conn) fillMessages(bufs []*packet.Buffer) (used, msgs int) {
	for used < len(bufs) && used < c.tx.Size() {
		first := bufs[used]
		m := &c.tx.Msgs[msgs]
		m.Addr = first.Remote
		m.Buf = first.Data()
		m.Segments = nil
		run := 1
		if c.gso {
			size, bytes := first.Len(), first.Len()
			for used+run < len(bufs) && used+run < c.tx.Size() && run < maxGSOSegments {
				next := bufs[used+run]
				if next.Remote != first.Remote || next.Len() > size || bytes+next.Len() > maxGSOBytes {
					break
				}
				bytes += next.Len()
				run++
				if next.Len() < size {
					break // a shorter datagram ends the run (udp(7))
				}
			}
		}
		if run > 1 {
			segs := c.segments[used : used+run]
			for i := range segs {
				segs[i] = bufs[used+i].Data()
			}
			m.Segments = segs
		}
		used += run
		msgs++
	}
	return used, msgs
}

// keepalivePayload is the whole NAT-keepalive datagram (RFC 3948 §2.3).
var keepalivePayload = []byte{keepaliveByte}

// SendKeepalive sends one NAT-keepalive to refresh the NAT mapping towards
// to (RFC 3948 §2.3, §4).
func (c *Conn) SendKeepalive(to netip.AddrPort) error {
	to = unmap(to)
	if _, err := c.udp.WriteToUDPAddrPort(keepalivePayload, to); err != nil {
		c.counters.sendErrors.Add(1)
		return fmt.Errorf("nat: keepalive to %v: %w", to, err)
	}
	c.counters.keepalivesSent.Add(1)
	return nil
}

// SendIKE sends an IKE message behind the non-ESP marker (RFC 3948 §2.2,
// RFC 7296 §2.23):
//
//	00 00 00 00 | IKE header | payloads
func (c *Conn) SendIKE(msg []byte, to netip.AddrPort) error {
	// IKE is rare enough that a copy is cheaper than the complexity of a
	// two-element iovec.
	datagram := make([]byte, nonESPMarkerLen+len(msg))
	copy(datagram[nonESPMarkerLen:], msg)
	to = unmap(to)
	if _, err := c.udp.WriteToUDPAddrPort(datagram, to); err != nil {
		c.counters.sendErrors.Add(1)
		return fmt.Errorf("nat: IKE to %v: %w", to, err)
	}
	c.counters.ikeSent.Add(1)
	return nil
}

// unmap turns an IPv4-mapped IPv6 peer into the IPv4 address an IPv4 socket
// can send to; an IPv6 socket here is IPv6-only and could not use it anyway.
func unmap(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// BatchSize is the most buffers one ReadBatch returns.
func (c *Conn) BatchSize() int { return BatchSize }

// LocalAddr is the bound address, with the port the kernel chose if 0 was
// asked for.
func (c *Conn) LocalAddr() netip.AddrPort { return c.local }

// SyscallConn exposes the socket for options this package does not set.
func (c *Conn) SyscallConn() syscall.RawConn { return c.raw }

// Close closes the socket; blocked ReadBatch and WriteBatch calls return an
// error matching net.ErrClosed.
func (c *Conn) Close() error {
	if err := c.udp.Close(); err != nil {
		return fmt.Errorf("nat: close: %w", err)
	}
	return nil
}

// Stats are the socket's counters since Listen.
type Stats struct {
	ESPReceived        uint64
	IKEReceived        uint64 // handed to Config.OnIKE
	IKEUnhandled       uint64 // dropped because Config.OnIKE is nil
	KeepalivesReceived uint64
	InvalidEmpty       uint64 // zero-length datagrams
	InvalidShort       uint64 // shorter than an ESP header, not a keepalive
	InvalidMarker      uint64 // a non-ESP marker with nothing after it
	Truncated          uint64 // longer than packet.MaxData
	ESPSent            uint64
	IKESent            uint64
	KeepalivesSent     uint64
	SendErrors         uint64 // datagrams the kernel refused
}

// counters keeps the reader's and the writers' counters on separate cache
// lines so the two sides do not slow each other down.
type counters struct {
	_                  cpu.CacheLinePad
	espReceived        atomic.Uint64
	ikeReceived        atomic.Uint64
	ikeUnhandled       atomic.Uint64
	keepalivesReceived atomic.Uint64
	invalidEmpty       atomic.Uint64
	invalidShort       atomic.Uint64
	invalidMarker      atomic.Uint64
	truncated          atomic.Uint64
	_                  cpu.CacheLinePad
	espSent            atomic.Uint64
	ikeSent            atomic.Uint64
	keepalivesSent     atomic.Uint64
	sendErrors         atomic.Uint64
	_                  cpu.CacheLinePad
}

// Stats returns a snapshot of the counters.
func (c *Conn) Stats() Stats {
	s := &c.counters
	return Stats{
		ESPReceived:        s.espReceived.Load(),
		IKEReceived:        s.ikeReceived.Load(),
		IKEUnhandled:       s.ikeUnhandled.Load(),
		KeepalivesReceived: s.keepalivesReceived.Load(),
		InvalidEmpty:       s.invalidEmpty.Load(),
		InvalidShort:       s.invalidShort.Load(),
		InvalidMarker:      s.invalidMarker.Load(),
		Truncated:          s.truncated.Load(),
		ESPSent:            s.espSent.Load(),
		IKESent:            s.ikeSent.Load(),
		KeepalivesSent:     s.keepalivesSent.Load(),
		SendErrors:         s.sendErrors.Load(),
	}
}
