package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"syscall"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"github.com/espd/espd/ike"
	"github.com/espd/espd/nat"
	"github.com/espd/espd/tun"
)

// ikeDatagram is one IKE message on its way from a socket to the Manager.
type ikeDatagram struct {
	data []byte
	from netip.AddrPort
	// port is the local port it arrived on: 500, or the NAT-T port.
	port uint16
}

// ikeSockets carries IKE between the network and the Manager: UDP port 500
// sockets of its own, and port 4500 through the data plane's ESP-in-UDP
// sockets, whose reader hands IKE over (nat.Config.OnIKE). Both are bound
// to the wildcard address and carry the fwmark, so that IKE bypasses the
// tunnel's routes (tun.Router's rule).
type ikeSockets struct {
	log     *zap.Logger
	mark    uint32
	natPort uint16
	port500 map[bool]*net.UDPConn // by "is IPv4"
	natt    map[bool]*nat.Conn
	// inboxes feed one worker each. A datagram goes to the inbox its
	// initiator SPI picks, so one IKE SA's messages keep their order while
	// the key exchanges of different SAs run on every core.
	inboxes []chan ikeDatagram

	// sources caches the local address each peer is reached from, which
	// is what a datagram from it was sent to (the NAT-D hashes and the
	// connection match need it; a wildcard socket does not tell).
	mu      sync.Mutex
	sources map[netip.Addr]netip.Addr
}

func newIKESockets(log *zap.Logger, mark uint32, natPort uint16) *ikeSockets {
	s := &ikeSockets{
		log: log, mark: mark, natPort: natPort,
		port500: map[bool]*net.UDPConn{}, natt: map[bool]*nat.Conn{},
		inboxes: make([]chan ikeDatagram, runtime.GOMAXPROCS(0)),
		sources: map[netip.Addr]netip.Addr{},
	}
	for i := range s.inboxes {
		// A burst of IKE_SA_INITs beyond this is dropped, as a kernel
		// socket buffer would; retransmissions recover.
		s.inboxes[i] = make(chan ikeDatagram, 256)
	}
	return s
}

// listen500 opens UDP port 500 for one family.
func (s *ikeSockets) listen500(ipv4 bool, port uint16) error {
	network, addr := "udp4", netip.AddrPortFrom(netip.IPv4Unspecified(), port)
	if !ipv4 {
		network, addr = "udp6", netip.AddrPortFrom(netip.IPv6Unspecified(), port)
	}
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			if s.mark != 0 {
				serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_MARK, int(s.mark))
			}
			if serr == nil && !ipv4 {
				serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 1)
			}
		})
		return errors.Join(err, serr)
	}}
	pc, err := lc.ListenPacket(context.Background(), network, addr.String())
	if err != nil {
		return fmt.Errorf("IKE socket %v: %w", addr, err)
	}
	conn := pc.(*net.UDPConn)
	s.port500[ipv4] = conn
	go s.read500(conn, port)
	return nil
}

func (s *ikeSockets) read500(conn *net.UDPConn, port uint16) {
	buf := make([]byte, 65536)
	for {
		n, from, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				s.log.Warn("IKE socket read failed", zap.Error(err))
			}
			return
		}
		s.enqueue(buf[:n], from, port)
	}
}

// fromNATT is the nat.Conn's OnIKE: it runs inside the data plane's read,
// so it only copies and queues.
func (s *ikeSockets) fromNATT(msg []byte, from netip.AddrPort) {
	s.enqueue(msg, from, s.natPort)
}

func (s *ikeSockets) enqueue(b []byte, from netip.AddrPort, port uint16) {
	if len(b) < 8 {
		return // not even an initiator SPI; the Manager would drop it too
	}
	d := ikeDatagram{data: append([]byte(nil), b...), from: netip.AddrPortFrom(from.Addr().Unmap(), from.Port()), port: port}
	select {
	case s.inboxes[binary.BigEndian.Uint64(b[:8])%uint64(len(s.inboxes))] <- d:
	default:
		s.log.Debug("IKE inbox full, dropping a datagram", zap.Stringer("from", from))
	}
}

// serve hands queued datagrams to the Manager, one worker per inbox.
func (s *ikeSockets) serve(m *ike.Manager) {
	for _, inbox := range s.inboxes[1:] {
		go s.work(m, inbox)
	}
	s.work(m, s.inboxes[0])
}

func (s *ikeSockets) work(m *ike.Manager, inbox <-chan ikeDatagram) {
	for d := range inbox {
		local, err := s.localAddr(d.from.Addr())
		if err != nil {
			s.log.Debug("no route back to an IKE peer", zap.Stringer("from", d.from), zap.Error(err))
			continue
		}
		if err := m.HandleDatagram(d.data, d.from, netip.AddrPortFrom(local, d.port)); err != nil {
			s.log.Debug("IKE datagram", zap.Stringer("from", d.from), zap.Error(err))
		}
	}
}

// localAddr is our address towards peer (cached: routes rarely change, and
// a stale entry costs one failed exchange that a restart fixes).
func (s *ikeSockets) localAddr(peer netip.Addr) (netip.Addr, error) {
	s.mu.Lock()
	a, ok := s.sources[peer]
	s.mu.Unlock()
	if ok {
		return a, nil
	}
	a, err := tun.SourceAddr(peer, s.mark)
	if err != nil {
		return netip.Addr{}, err
	}
	s.mu.Lock()
	s.sources[peer] = a
	s.mu.Unlock()
	return a, nil
}

// send is the Manager's Send: port 500 in the clear, the NAT-T port behind
// the non-ESP marker.
func (s *ikeSockets) send(b []byte, from, to netip.AddrPort) {
	ipv4 := to.Addr().Unmap().Is4()
	var err error
	if from.Port() == s.natPort {
		c := s.natt[ipv4]
		if c == nil {
			s.log.Warn("no NAT-T socket for the peer's address family", zap.Stringer("to", to))
			return
		}
		err = c.SendIKE(b, to)
	} else {
		c := s.port500[ipv4]
		if c == nil {
			s.log.Warn("no IKE socket for the peer's address family", zap.Stringer("to", to))
			return
		}
		_, err = c.WriteToUDPAddrPort(b, to)
	}
	if err != nil {
		s.log.Info("IKE send failed", zap.Stringer("to", to), zap.Error(err))
	}
}

// keepalives sends a NAT-keepalive every interval to each peer of an IKE
// SA behind a NAT (RFC 3948 §4; strongSwan's keep_alive, 20 s), and
// forgets destroyed SAs, until stop is closed.
func (s *ikeSockets) keepalives(m *ike.Manager, interval time.Duration, stop <-chan struct{}) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		for _, sa := range m.Sweep() {
			_, remote := sa.Endpoints()
			if c := s.natt[remote.Addr().Unmap().Is4()]; c != nil {
				if err := c.SendKeepalive(remote); err != nil {
					s.log.Debug("keepalive", zap.Error(err))
				}
			}
		}
	}
}

func (s *ikeSockets) close() {
	for _, c := range s.port500 {
		c.Close()
	}
}
