package main

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/espd/espd/ike"
	"github.com/espd/espd/ike/message"
)

// options is what one run of the generator needs; main fills it from flags.
type options struct {
	Target                    netip.Addr
	TargetPort, TargetNATPort uint16
	Local                     netip.Addr
	// Port and NATPort are the local ports the generator binds: its own
	// "500" and "4500". The engine's NAT detection hashes Config.Local, so
	// binding the real ports keeps a responder without a NAT on port 500.
	Port, NATPort uint16
	// Total SAs to attempt; 0 means until Duration has passed.
	Total       int
	Duration    time.Duration
	Concurrency int
	// Timeout gives an attempt up; the engine's own retransmissions run
	// for minutes (strongSwan's 4 s × 1.8ⁿ, 5 tries).
	Timeout  time.Duration
	Proposal string
	ESP      string
	PSK      string
	LocalID  string // "%d" becomes the attempt's index
	RemoteID string
	LocalTS  netip.Prefix
	PerSATS  bool // each SA takes its own host address from LocalTS
	RemoteTS netip.Prefix
	Workers  int
	Progress time.Duration
}

// generator keeps Concurrency initiators in flight against one responder.
// Datagrams are routed to their SA by the initiator's SPI, which is ours,
// on a fixed worker per SPI so that one SA's messages stay in order.
type generator struct {
	opt   options
	conns map[uint16]*net.UDPConn // by local port

	mu       sync.Mutex
	inflight map[uint64]*attempt // by our (the initiator's) SPI

	queues []chan datagram

	// Wire counters: requests we sent by exchange, and the responses that
	// made the engine repeat IKE_SA_INIT.
	initRequests, authRequests, otherRequests atomic.Uint64
	cookieReplies, invalidKEReplies           atomic.Uint64
	// unrouted counts datagrams for SAs that are no longer in flight
	// (late retransmissions, the responder's later messages).
	unrouted, sendErrors atomic.Uint64

	res results
}

type attempt struct {
	sa   *ike.IKESA
	done chan struct{}
}

type datagram struct {
	data []byte
	from netip.AddrPort
	port uint16
}

// results are the outcomes of finished attempts.
type results struct {
	mu          sync.Mutex
	latencies   []time.Duration
	doneAt      []time.Time // when each established SA finished
	established int
	failed      map[string]int // by reason
	firstStart  time.Time
	lastDone    time.Time
}

// nonESPMarker precedes IKE on the NAT-T port (RFC 3948 §2.2).
var nonESPMarker = []byte{0, 0, 0, 0}

func newGenerator(opt options) (*generator, error) {
	g := &generator{opt: opt, conns: map[uint16]*net.UDPConn{}, inflight: map[uint64]*attempt{}}
	g.res.failed = map[string]int{}
	// Port 0 takes an ephemeral port (tests); the SAs then use the port
	// the kernel picked.
	for _, port := range []*uint16{&g.opt.Port, &g.opt.NATPort} {
		conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(opt.Local, *port)))
		if err != nil {
			g.close()
			return nil, fmt.Errorf("ikerate: listen on %v port %d: %w", opt.Local, *port, err)
		}
		// Bursts of replies from a fast responder must not overflow the
		// default buffer: a dropped reply costs a 4 s retransmission.
		_ = conn.SetReadBuffer(4 << 20)
		*port = conn.LocalAddr().(*net.UDPAddr).AddrPort().Port()
		g.conns[*port] = conn
	}
	return g, nil
}

func (g *generator) close() {
	for _, c := range g.conns {
		c.Close()
	}
}

// run attempts the configured SAs and returns when all have finished.
func (g *generator) run() {
	var workers sync.WaitGroup
	g.queues = make([]chan datagram, g.opt.Workers)
	for i := range g.queues {
		g.queues[i] = make(chan datagram, 1024)
		workers.Add(1)
		go func() {
			defer workers.Done()
			g.work(g.queues[i])
		}()
	}
	var readers sync.WaitGroup
	for port, conn := range g.conns {
		readers.Add(1)
		go func() {
			defer readers.Done()
			g.read(conn, port)
		}()
	}

	stopProgress := make(chan struct{})
	if g.opt.Progress > 0 {
		go g.progress(stopProgress)
	}

	start := time.Now()
	g.res.firstStart = start
	deadline := start.Add(g.opt.Duration)
	var next atomic.Int64
	var slots sync.WaitGroup
	for range g.opt.Concurrency {
		slots.Add(1)
		go func() {
			defer slots.Done()
			for {
				i := next.Add(1) - 1
				if g.opt.Total > 0 && i >= int64(g.opt.Total) {
					return
				}
				if g.opt.Total == 0 && !time.Now().Before(deadline) {
					return
				}
				g.attempt(int(i))
			}
		}()
	}
	slots.Wait()
	close(stopProgress)

	g.close()
	readers.Wait()
	for _, q := range g.queues {
		close(q)
	}
	workers.Wait()
}

// attempt sets up one IKE SA with its first CHILD_SA and records how it
// ended. An established SA is forgotten, not deleted: the responder keeps
// it, as it would a client that is still connected.
func (g *generator) attempt(i int) {
	cfg := g.config(i)
	sa, err := ike.NewInitiator(cfg)
	if err != nil {
		g.res.fail("config: " + err.Error())
		return
	}
	spiI, _ := sa.SPIs()
	a := &attempt{sa: sa, done: make(chan struct{})}
	g.mu.Lock()
	g.inflight[spiI] = a
	g.mu.Unlock()

	start := time.Now()
	if err := sa.Initiate(); err != nil {
		g.finish(spiI, a)
		g.res.fail("initiate: " + err.Error())
		return
	}
	timer := time.NewTimer(g.opt.Timeout)
	select {
	case <-a.done:
		timer.Stop()
	case <-timer.C:
		g.finish(spiI, a)
		_ = sa.Close() // stops its retransmissions
		g.res.fail(fmt.Sprintf("timeout: not established within %v", g.opt.Timeout))
		return
	}
	took := time.Since(start)
	switch {
	case sa.State() != ike.StateEstablished:
		g.res.fail(reason(sa.Err()))
	case len(sa.Children()) == 0:
		g.res.fail(fmt.Sprintf("no CHILD_SA: %v", sa.ChildError(cfg.Children[0].Name)))
	default:
		g.res.succeed(took)
	}
}

func (g *generator) config(i int) ike.Config {
	localTS := g.opt.LocalTS
	if g.opt.PerSATS {
		localTS = netip.PrefixFrom(nthAddr(g.opt.LocalTS, i), g.opt.LocalTS.Addr().BitLen())
	}
	localID := g.opt.LocalID
	if strings.Contains(localID, "%d") {
		localID = fmt.Sprintf(localID, i)
	}
	var remoteID *message.ID
	if g.opt.RemoteID != "" {
		remoteID = ike.ParseID(g.opt.RemoteID)
	}
	return ike.Config{
		Name:          fmt.Sprintf("ikerate-%d", i),
		Local:         netip.AddrPortFrom(g.opt.Local, g.opt.Port),
		Remote:        netip.AddrPortFrom(g.opt.Target, g.opt.TargetPort),
		NATPort:       g.opt.NATPort,
		RemoteNATPort: g.opt.TargetNATPort,
		Proposals:     []string{g.opt.Proposal},
		PSK:           []byte(g.opt.PSK),
		LocalID:       ike.ParseID(localID),
		RemoteID:      remoteID,
		Children: []ike.ChildConfig{{
			Name:         "ikerate",
			LocalTS:      []netip.Prefix{localTS},
			RemoteTS:     []netip.Prefix{g.opt.RemoteTS},
			ESPProposals: []string{g.opt.ESP},
		}},
		Installer: discardInstaller{},
		Send:      g.send,
	}
}

// nthAddr is the i-th address of p, wrapping around inside it.
func nthAddr(p netip.Prefix, i int) netip.Addr {
	p = p.Masked()
	b := p.Addr().As16()
	hostBits := p.Addr().BitLen() - p.Bits()
	offset := uint64(i)
	if hostBits < 64 {
		offset %= uint64(1) << hostBits
	}
	// Add the offset to the low 64 bits; a prefix of /64 or shorter
	// never wraps with an int index.
	for k := 15; k >= 8 && offset > 0; k-- {
		sum := uint64(b[k]) + offset&0xff
		b[k] = byte(sum)
		offset = offset>>8 + sum>>8
	}
	a := netip.AddrFrom16(b)
	if p.Addr().Is4() {
		a = a.Unmap()
	}
	return a
}

func (g *generator) finish(spiI uint64, a *attempt) {
	g.mu.Lock()
	if g.inflight[spiI] == a {
		delete(g.inflight, spiI)
		close(a.done)
	}
	g.mu.Unlock()
}

// send is every SA's Config.Send: from's port picks the socket.
func (g *generator) send(b []byte, from, to netip.AddrPort) {
	if len(b) >= message.HeaderLen {
		h := message.HeaderView(b)
		if !h.Flags().Response() {
			switch h.Exchange() {
			case message.ExchangeIKESAInit:
				g.initRequests.Add(1)
			case message.ExchangeIKEAuth:
				g.authRequests.Add(1)
			default:
				g.otherRequests.Add(1)
			}
		}
	}
	conn := g.conns[from.Port()]
	if conn == nil {
		g.sendErrors.Add(1)
		return
	}
	if from.Port() == g.opt.NATPort {
		b = append(append(make([]byte, 0, len(nonESPMarker)+len(b)), nonESPMarker...), b...)
	}
	if _, err := conn.WriteToUDPAddrPort(b, to); err != nil {
		g.sendErrors.Add(1)
	}
}

func (g *generator) read(conn *net.UDPConn, port uint16) {
	buf := make([]byte, 65536)
	for {
		n, from, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return // closed at the end of the run
		}
		b := buf[:n]
		if port == g.opt.NATPort {
			if !bytes.HasPrefix(b, nonESPMarker) {
				continue // ESP or a NAT keepalive, not IKE
			}
			b = b[len(nonESPMarker):]
		}
		if len(b) < message.HeaderLen {
			continue
		}
		spiI := message.HeaderView(b).SPIi()
		d := datagram{data: bytes.Clone(b), from: netip.AddrPortFrom(from.Addr().Unmap(), from.Port()), port: port}
		g.queues[spiI%uint64(len(g.queues))] <- d
	}
}

func (g *generator) work(q <-chan datagram) {
	for d := range q {
		h := message.HeaderView(d.data)
		spiI := h.SPIi()
		g.mu.Lock()
		a := g.inflight[spiI]
		g.mu.Unlock()
		if a == nil {
			g.unrouted.Add(1)
			continue
		}
		if h.Exchange() == message.ExchangeIKESAInit && h.Flags().Response() && h.SPIr() == 0 {
			g.countRetryReply(d.data)
		}
		_ = a.sa.HandleDatagram(d.data, d.from, netip.AddrPortFrom(g.opt.Local, d.port))
		if s := a.sa.State(); s == ike.StateEstablished || s == ike.StateDestroyed {
			g.finish(spiI, a)
		}
	}
}

// countRetryReply counts an IKE_SA_INIT response without a responder SPI:
// a COOKIE demand (RFC 7296 §2.6) or INVALID_KE_PAYLOAD (§1.3), after
// which the engine sends IKE_SA_INIT again.
func (g *generator) countRetryReply(b []byte) {
	msg, err := message.Parse(b)
	if err != nil {
		return
	}
	switch {
	case msg.Notify(message.NotifyCookie) != nil:
		g.cookieReplies.Add(1)
	case msg.Notify(message.NotifyInvalidKEPayload) != nil:
		g.invalidKEReplies.Add(1)
	}
}

func (g *generator) progress(stop <-chan struct{}) {
	t := time.NewTicker(g.opt.Progress)
	defer t.Stop()
	last, lastAt := 0, time.Now()
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			g.res.mu.Lock()
			est, failed := g.res.established, 0
			for _, n := range g.res.failed {
				failed += n
			}
			g.res.mu.Unlock()
			g.mu.Lock()
			inflight := len(g.inflight)
			g.mu.Unlock()
			fmt.Fprintf(progressOut, "ikerate: %5.1fs established %d failed %d in flight %d, %.0f/s over the last %v\n",
				now.Sub(g.res.firstStart).Seconds(), est, failed, inflight,
				float64(est-last)/now.Sub(lastAt).Seconds(), g.opt.Progress)
			last, lastAt = est, now
		}
	}
}

func (r *results) succeed(took time.Duration) {
	r.mu.Lock()
	r.established++
	r.latencies = append(r.latencies, took)
	r.lastDone = time.Now()
	r.doneAt = append(r.doneAt, r.lastDone)
	r.mu.Unlock()
}

func (r *results) fail(why string) {
	r.mu.Lock()
	r.failed[why]++
	r.lastDone = time.Now()
	r.mu.Unlock()
}

// reason names a failure without the SPIs and message IDs that would make
// every one distinct.
func reason(err error) string {
	switch {
	case err == nil:
		return "destroyed without an error"
	case errors.Is(err, ike.ErrTimeout):
		return "engine timeout (retransmissions exhausted)"
	}
	s := err.Error()
	if len(s) > 160 {
		s = s[:160] + "..."
	}
	return s
}

// percentile of sorted durations, nearest rank.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(p/100*float64(len(sorted)) + 0.5)
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// quarterRates splits the established SAs, in the order they finished, into
// four equal parts and gives each part's rate: a responder that slows down
// as its SA table fills shows falling figures.
func quarterRates(start time.Time, doneAt []time.Time) []float64 {
	n := len(doneAt)
	if n < 4 {
		return nil
	}
	rates := make([]float64, 4)
	from := start
	for q := range 4 {
		first, last := q*n/4, (q+1)*n/4-1
		if secs := doneAt[last].Sub(from).Seconds(); secs > 0 {
			rates[q] = float64(last-first+1) / secs
		}
		from = doneAt[last]
	}
	return rates
}

func sortedCopy(d []time.Duration) []time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s
}
