package ike

// The Manager owns every IKE SA of a daemon, as charon's ike_sa_manager
// does: it routes each datagram to its SA by our own SPI, creates a
// responder for each new IKE_SA_INIT whose addresses match a connection,
// answers with a COOKIE when too many SAs are half-open (RFC 7296 §2.6),
// and starts, stops and lists SAs for the control socket.

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/espd/espd/esp/installer"
	"github.com/espd/espd/ike/message"
)

// ErrNoConnection: no configured connection or child has that name, or
// none matches a peer's addresses.
var ErrNoConnection = errors.New("ike: no such connection")

// ManagerConfig is what a daemon hands the Manager.
type ManagerConfig struct {
	// Connections are the configured connections. Their Installer, Send,
	// Clock and Logger are the Manager's. A zero Local or Remote address
	// is %any: the Manager fills it from each datagram.
	Connections []Config
	Installer   installer.Installer
	// Send transmits an IKE message; from's port says which socket (500,
	// or 4500 with the non-ESP marker).
	Send func(datagram []byte, from, to netip.AddrPort)
	// LocalAddr is the address we send to remote from, for a connection
	// whose local address is %any; nil leaves such connections to
	// respond only.
	LocalAddr func(remote netip.Addr) (netip.Addr, error)
	Clock     Clock
	Logger    *zap.Logger
	// CookieThreshold is how many half-open IKE SAs make the responder
	// demand a COOKIE (strongSwan's charon.cookie_threshold, 30); below
	// zero, never.
	CookieThreshold int
}

// Manager routes datagrams to IKE SAs and runs them. Its methods are safe
// for concurrent use.
type Manager struct {
	cfg ManagerConfig
	log *zap.Logger

	mu    sync.Mutex
	conns []Config
	// bySPI finds an SA by the SPI we chose: the initiator's SPI of the
	// SAs we initiated, the responder's of the others. Both are random, so
	// they do not collide in practice; a collision is refused.
	bySPI map[uint64]*IKESA
	// halfOpen finds a responder SA by the peer's SPI and address until
	// the peer knows ours, so that a retransmitted IKE_SA_INIT reaches it.
	halfOpen map[halfOpenKey]*IKESA
	// connOf is the connection each SA was made from.
	connOf map[*IKESA]string
	cookie cookieSecret
}

type halfOpenKey struct {
	spiI uint64
	from netip.AddrPort
}

// NewManager checks every connection and returns a Manager with no SAs.
func NewManager(cfg ManagerConfig) (*Manager, error) {
	if cfg.Installer == nil || cfg.Send == nil {
		return nil, fmt.Errorf("%w: the Manager needs an Installer and Send", ErrConfig)
	}
	if cfg.Clock == nil {
		cfg.Clock = RealClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.CookieThreshold == 0 {
		cfg.CookieThreshold = 30
	}
	m := &Manager{
		cfg: cfg, log: cfg.Logger,
		bySPI: map[uint64]*IKESA{}, halfOpen: map[halfOpenKey]*IKESA{}, connOf: map[*IKESA]string{},
	}
	if err := m.cookie.rotate(); err != nil {
		return nil, err
	}
	if err := m.SetConnections(cfg.Connections); err != nil {
		return nil, err
	}
	return m, nil
}

// SetConnections replaces the configured connections (espd reload). SAs
// that exist keep running with the configuration they were made from.
func (m *Manager) SetConnections(conns []Config) error {
	checked := make([]Config, len(conns))
	for i, c := range conns {
		c = m.fill(c)
		probe := c
		if !probe.Local.IsValid() {
			probe.Local = netip.AddrPortFrom(netip.IPv4Unspecified(), 500)
		}
		if !probe.Remote.IsValid() {
			probe.Remote = netip.AddrPortFrom(netip.IPv4Unspecified(), 500)
		}
		if _, err := newConnection(probe); err != nil {
			return fmt.Errorf("connection %s: %w", c.Name, err)
		}
		checked[i] = c
	}
	m.mu.Lock()
	m.conns = checked
	m.mu.Unlock()
	return nil
}

func (m *Manager) fill(c Config) Config {
	c.Installer, c.Send, c.Clock = m.cfg.Installer, m.cfg.Send, m.cfg.Clock
	c.Logger = m.log.With(zap.String("conn", c.Name))
	c.Observer = m
	// strongSwan's uniqueids = yes: a peer that says INITIAL_CONTACT has
	// lost its state, so its older SAs with us are stale.
	c.InitialContact = true
	c.OnInitialContact = m.initialContact
	return c
}

// Rekeyed routes the SPIs of an IKE SA's successor to it (Observer).
func (m *Manager) Rekeyed(old, next *IKESA) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.bySPI[next.LocalSPI()] = next
	m.connOf[next] = m.connOf[old]
}

// Destroyed forgets a gone SA and sets up again the children its
// dpd_action or close_action says to restart (Observer).
func (m *Manager) Destroyed(sa *IKESA) {
	m.mu.Lock()
	m.forget(sa)
	m.mu.Unlock()
	for _, child := range sa.RestartChildren() {
		m.log.Info("restarting a child", zap.String("child", child), zap.NamedError("after", sa.Err()))
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			if err := m.Up(ctx, child); err != nil {
				m.log.Warn("restarting a child failed", zap.String("child", child), zap.Error(err))
			}
		}()
	}
}

// initialContact destroys, without telling the peer, every older IKE SA
// with the identity peerID: the peer that sent INITIAL_CONTACT (RFC 7296
// §2.4) no longer has them.
func (m *Manager) initialContact(peerID string) {
	var newest *IKESA
	var stale []*IKESA
	for _, sa := range m.SAs() {
		st := sa.Status()
		if st.PeerID != peerID || st.State != StateEstablished {
			continue
		}
		if newest == nil || st.Established.After(newest.Status().Established) {
			if newest != nil {
				stale = append(stale, newest)
			}
			newest = sa
		} else {
			stale = append(stale, sa)
		}
	}
	for _, sa := range stale {
		m.log.Info("INITIAL_CONTACT: deleting the peer's older IKE SA", zap.String("peer", peerID))
		sa.Destroy()
	}
}

// HandleEvent passes a data plane event to the IKE SA that owns the SPI.
func (m *Manager) HandleEvent(ev DataplaneEvent) {
	for _, sa := range m.SAs() {
		if sa.HandleEvent(ev) {
			return
		}
	}
}

// Rekey rekeys the named connection's IKE SAs, or the named child's
// CHILD_SAs, as swanctl --rekey does.
func (m *Manager) Rekey(name string) error {
	return m.forNamed(name, func(s State) bool { return s == StateEstablished },
		(*IKESA).RekeyIKE, (*IKESA).RekeyChild)
}

// forNamed applies onConn to each IKE SA of the connection called name, or
// onChild to each IKE SA that has the child called name, among the SAs in
// a state usable accepts; it fails if there is none.
func (m *Manager) forNamed(name string, usable func(State) bool, onConn func(*IKESA) error, onChild func(*IKESA, string) error) error {
	cfg, child, err := m.lookup(name)
	if err != nil {
		return err
	}
	var errs []error
	found := false
	for _, sa := range m.SAs() {
		if m.ConnectionOf(sa) != cfg.Name || !usable(sa.State()) {
			continue
		}
		if name == cfg.Name {
			found = true
			errs = append(errs, onConn(sa))
		} else if hasChild(sa, child) {
			found = true
			errs = append(errs, onChild(sa, child))
		}
	}
	if !found {
		return fmt.Errorf("ike: %s is not up", name)
	}
	return errors.Join(errs...)
}

// Connections returns the configured connections' names and their
// children's.
func (m *Manager) Connections() map[string][]string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string][]string{}
	for _, c := range m.conns {
		for _, ch := range c.Children {
			out[c.Name] = append(out[c.Name], ch.Name)
		}
	}
	return out
}

// HandleDatagram routes one IKE message (non-ESP marker removed) that came
// from from to our address to. Anything that fits no SA and starts none is
// dropped; the error says why, for a debug log.
func (m *Manager) HandleDatagram(datagram []byte, from, to netip.AddrPort) error {
	hdr, err := message.ParseHeader(datagram)
	if err != nil {
		return fmt.Errorf("ike: dropped from %v: %w", from, err)
	}
	sa, err := m.route(hdr, datagram, from, to)
	if sa == nil {
		return err
	}
	err = sa.HandleDatagram(datagram, from, to)
	m.afterHandle(sa, hdr, from)
	return err
}

func (m *Manager) route(hdr message.Header, datagram []byte, from, to netip.AddrPort) (*IKESA, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !hdr.Flags.Initiator() {
		// The peer is the responder of an SA we initiated.
		if sa := m.bySPI[hdr.SPIi]; sa != nil && sa.initiator {
			return sa, nil
		}
		return nil, fmt.Errorf("%w: no SA with initiator SPI %#x", ErrUnexpected, hdr.SPIi)
	}
	if hdr.SPIr != 0 {
		if sa := m.bySPI[hdr.SPIr]; sa != nil && !sa.initiator {
			return sa, nil
		}
		return nil, fmt.Errorf("%w: no SA with responder SPI %#x", ErrUnexpected, hdr.SPIr)
	}
	if sa := m.halfOpen[halfOpenKey{hdr.SPIi, from}]; sa != nil {
		return sa, nil
	}
	if hdr.Exchange != message.ExchangeIKESAInit || hdr.Flags.Response() || hdr.MessageID != 0 {
		return nil, fmt.Errorf("%w: %v without responder SPI", ErrUnexpected, hdr.Exchange)
	}
	return m.newResponder(hdr, datagram, from, to)
}

// newResponder makes an SA for a fresh IKE_SA_INIT request, unless it must
// first prove its address with a COOKIE.
func (m *Manager) newResponder(hdr message.Header, datagram []byte, from, to netip.AddrPort) (*IKESA, error) {
	if m.cfg.CookieThreshold > 0 && m.halfOpenCount() >= m.cfg.CookieThreshold {
		msg, err := message.Parse(datagram)
		if err != nil {
			return nil, fmt.Errorf("ike: dropped from %v: %w", from, err)
		}
		if !m.cookie.valid(msg, from) {
			m.sendCookie(hdr, msg, from, to)
			return nil, fmt.Errorf("ike: %d half-open SAs: asked %v for a COOKIE", m.halfOpenCount(), from)
		}
	}
	cfg, ok := m.matchConnection(from, to)
	if !ok {
		m.log.Info("IKE_SA_INIT matches no connection", zap.Stringer("from", from), zap.Stringer("to", to))
		return nil, fmt.Errorf("%w: for %v -> %v", ErrNoConnection, from, to)
	}
	cfg.Local, cfg.Remote = to, from
	sa, err := NewResponder(cfg)
	if err != nil {
		return nil, err
	}
	if m.bySPI[sa.spiR] != nil {
		return nil, fmt.Errorf("ike: responder SPI collision")
	}
	m.bySPI[sa.spiR] = sa
	m.halfOpen[halfOpenKey{hdr.SPIi, from}] = sa
	m.connOf[sa] = cfg.Name
	return sa, nil
}

// afterHandle drops an SA that refused its IKE_SA_INIT (a responder keeps
// no state then, RFC 7296 §2.6), ends the half-open phase once IKE_AUTH is
// done, and forgets destroyed SAs.
func (m *Manager) afterHandle(sa *IKESA, hdr message.Header, from netip.AddrPort) {
	state := sa.State()
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case !sa.initiator && state == StateCreated, state == StateDestroyed:
		m.forget(sa)
	case state == StateEstablished:
		// Only this SA's entry: a replayed IKE_SA_INIT with the same SPI
		// may have made another half-open SA under the same key.
		if key := (halfOpenKey{hdr.SPIi, from}); m.halfOpen[key] == sa {
			delete(m.halfOpen, key)
		}
	}
}

func (m *Manager) forget(sa *IKESA) {
	for spi, s := range m.bySPI {
		if s == sa {
			delete(m.bySPI, spi)
		}
	}
	for k, s := range m.halfOpen {
		if s == sa {
			delete(m.halfOpen, k)
		}
	}
	delete(m.connOf, sa)
}

func (m *Manager) halfOpenCount() int {
	n := 0
	for _, sa := range m.halfOpen {
		if sa.State() == StateConnecting {
			n++
		}
	}
	return n
}

// matchConnection finds the first connection whose addresses admit the
// peer's: an exact address, or %any. Identities are not yet considered.
func (m *Manager) matchConnection(from, to netip.AddrPort) (Config, bool) {
	for _, c := range m.conns {
		if addrMatches(c.Local.Addr(), to.Addr()) && addrMatches(c.Remote.Addr(), from.Addr()) {
			return c, true
		}
	}
	return Config{}, false
}

func addrMatches(configured, got netip.Addr) bool {
	return !configured.IsValid() || configured.IsUnspecified() || configured == got.Unmap()
}

// Up starts the named connection, or the named child, and waits until its
// CHILD_SA is installed. The error says in words why it was not: the
// peer's notification or our own failure. A child of an established IKE
// SA is started with CREATE_CHILD_SA instead.
func (m *Manager) Up(ctx context.Context, name string) error {
	cfg, child, err := m.lookup(name)
	if err != nil {
		return err
	}
	if sa := m.established(cfg.Name); sa != nil {
		if hasChild(sa, child) {
			return nil
		}
		if err := sa.StartChild(child); err != nil {
			return err
		}
		return m.await(ctx, sa, child)
	}
	// The requested child goes first, into IKE_AUTH.
	slices.SortStableFunc(cfg.Children, func(a, b ChildConfig) int {
		switch {
		case a.Name == child:
			return -1
		case b.Name == child:
			return 1
		}
		return 0
	})
	if !cfg.Remote.Addr().IsValid() || cfg.Remote.Addr().IsUnspecified() {
		return fmt.Errorf("%w: %s has no remote address to initiate to (remote_addrs is %%any)", ErrConfig, cfg.Name)
	}
	if !cfg.Local.Addr().IsValid() || cfg.Local.Addr().IsUnspecified() {
		if m.cfg.LocalAddr == nil {
			return fmt.Errorf("%w: %s has no local address", ErrConfig, cfg.Name)
		}
		local, err := m.cfg.LocalAddr(cfg.Remote.Addr())
		if err != nil {
			return fmt.Errorf("ike: %s: no route to %v: %w", cfg.Name, cfg.Remote.Addr(), err)
		}
		cfg.Local = netip.AddrPortFrom(local, cfg.Local.Port())
	}
	sa, err := NewInitiator(cfg)
	if err != nil {
		return err
	}
	m.mu.Lock()
	if m.bySPI[sa.spiI] != nil {
		m.mu.Unlock()
		return fmt.Errorf("ike: initiator SPI collision, try again")
	}
	m.bySPI[sa.spiI] = sa
	m.connOf[sa] = cfg.Name
	m.mu.Unlock()
	m.log.Info("initiating", zap.String("conn", cfg.Name), zap.String("child", child),
		zap.Stringer("local", cfg.Local), zap.Stringer("remote", cfg.Remote))
	if err := sa.Initiate(); err != nil {
		return err
	}
	return m.await(ctx, sa, child)
}

// lookup finds the connection called name, or the connection of the child
// called name, and the child to bring up (the first, for a connection).
func (m *Manager) lookup(name string) (Config, string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, c := range m.conns {
		if c.Name == name {
			c.Children = slices.Clone(c.Children)
			return c, c.Children[0].Name, nil
		}
	}
	for _, c := range m.conns {
		for _, ch := range c.Children {
			if ch.Name == name {
				c.Children = slices.Clone(c.Children)
				return c, ch.Name, nil
			}
		}
	}
	return Config{}, "", fmt.Errorf("%w: %q is neither a connection nor a child", ErrNoConnection, name)
}

// established returns an established IKE SA of the connection, if any.
func (m *Manager) established(conn string) *IKESA {
	m.mu.Lock()
	defer m.mu.Unlock()
	for sa, c := range m.connOf {
		if c == conn && sa.State() == StateEstablished {
			return sa
		}
	}
	return nil
}

func hasChild(sa *IKESA, name string) bool {
	for _, c := range sa.Children() {
		if c.Name == name {
			return true
		}
	}
	return false
}

// await polls until the child is installed, the SA fails or ctx ends. A
// CHILD_SA the peer refused leaves the IKE SA up without the child; the
// SA's log said why, and so does the error.
func (m *Manager) await(ctx context.Context, sa *IKESA, child string) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if hasChild(sa, child) {
			return nil
		}
		switch sa.State() {
		case StateDestroyed:
			if err := sa.Err(); err != nil {
				return err
			}
			return fmt.Errorf("ike: IKE SA closed before %s was installed", child)
		case StateEstablished:
			if err := sa.ChildError(child); err != nil {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("ike: %s not up: %w (state %v)", child, ctx.Err(), sa.State())
		case <-tick.C:
		}
	}
}

// SAs returns every IKE SA the Manager runs.
func (m *Manager) SAs() []*IKESA {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]*IKESA, 0, len(m.connOf))
	for sa := range m.connOf {
		out = append(out, sa)
	}
	slices.SortFunc(out, func(a, b *IKESA) int { return a.created.Compare(b.created) })
	return out
}

// ConnectionOf names the connection an SA was made from.
func (m *Manager) ConnectionOf(sa *IKESA) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.connOf[sa]
}

// Sweep forgets destroyed SAs and returns the established ones behind a
// NAT, which need keepalives (RFC 3948 §4).
func (m *Manager) Sweep() (behindNAT []*IKESA) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for sa := range m.connOf {
		switch sa.State() {
		case StateDestroyed:
			m.forget(sa)
		case StateEstablished:
			if here, _ := sa.NAT(); here {
				behindNAT = append(behindNAT, sa)
			}
		}
	}
	return behindNAT
}

// cookieSecret makes and checks COOKIEs as RFC 7296 §2.6 suggests:
// Cookie = <VersionIDofSecret> | Hash(Ni | IPi | SPIi | <secret>), so the
// responder keeps no state for the request it answers with one.
type cookieSecret struct {
	version uint32
	secret  [32]byte
}

func (c *cookieSecret) rotate() error {
	c.version++
	if _, err := rand.Read(c.secret[:]); err != nil {
		return fmt.Errorf("ike: cookie secret: %w", err)
	}
	return nil
}

func (c *cookieSecret) make(nonce []byte, from netip.AddrPort, spiI uint64) []byte {
	mac := hmac.New(sha256.New, c.secret[:])
	mac.Write(nonce)
	mac.Write(from.Addr().Unmap().AsSlice())
	var spi [8]byte
	binary.BigEndian.PutUint64(spi[:], spiI)
	mac.Write(spi[:])
	out := binary.BigEndian.AppendUint32(nil, c.version)
	return mac.Sum(out)
}

// valid reports whether the request's first payload is the COOKIE we would
// give it (RFC 7296 §2.6: the COOKIE notify comes first).
func (c *cookieSecret) valid(msg *message.Message, from netip.AddrPort) bool {
	if len(msg.Payloads) == 0 {
		return false
	}
	n, ok := msg.Payloads[0].(*message.Notify)
	nonce, _ := msg.Find(message.PayloadNonce).(*message.Nonce)
	if !ok || n.NotifyType != message.NotifyCookie || nonce == nil {
		return false
	}
	return hmac.Equal(n.Data, c.make(nonce.Data, from, msg.Header.SPIi))
}

func (m *Manager) sendCookie(hdr message.Header, req *message.Message, from, to netip.AddrPort) {
	nonce, _ := req.Find(message.PayloadNonce).(*message.Nonce)
	if nonce == nil {
		return
	}
	resp := &message.Message{
		Header: message.Header{SPIi: hdr.SPIi, Exchange: message.ExchangeIKESAInit, Flags: message.FlagResponse},
		Payloads: []message.Payload{
			message.NewNotify(message.NotifyCookie, m.cookie.make(nonce.Data, from, hdr.SPIi)),
		},
	}
	b, err := resp.Encode()
	if err != nil {
		return
	}
	m.cfg.Send(b, to, from)
}

// Down deletes the named connection's IKE SAs (with their CHILD_SAs), or
// the named child's CHILD_SAs.
func (m *Manager) Down(name string) error {
	return m.forNamed(name, func(s State) bool { return s != StateDestroyed }, (*IKESA).Close, (*IKESA).CloseChild)
}

// CloseAll deletes every IKE SA and waits up to timeout for the peers to
// answer, for a clean shutdown.
func (m *Manager) CloseAll(timeout time.Duration) {
	sas := m.SAs()
	for _, sa := range sas {
		if sa.State() != StateDestroyed {
			_ = sa.Close()
		}
	}
	deadline := time.Now().Add(timeout)
	for _, sa := range sas {
		for sa.State() != StateDestroyed && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
	}
}
