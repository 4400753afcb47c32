package ike

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	mathrand "math/rand/v2"
	"net/netip"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/espd/espd/crypto"
	"github.com/espd/espd/esp/installer"
	"github.com/espd/espd/ike/pubkey"
)

// IKESA is one IKE SA, initiator or responder, and the CHILD_SAs it made.
// It takes datagrams through HandleDatagram and hands the ones it produces
// to Config.Send; it owns no socket. All methods are safe for concurrent
// use: the retransmission timer fires on the Clock's goroutine.
type IKESA struct {
	mu        sync.Mutex
	conn      *connection
	log       *zap.Logger
	initiator bool
	state     State
	err       error

	spiI, spiR uint64
	suite      crypto.IKESuite
	keys       crypto.IKESAKeys
	// sendT protects what we send, recvT what the peer sends; sendCounter
	// is sendT's IV counter, never reused (an AEAD nonce).
	sendT, recvT crypto.Transform
	sendCounter  uint64
	ni, nr       []byte
	// initRequest and initResponse are the IKE_SA_INIT messages as they
	// travelled, which the AUTH payloads sign (RFC 7296 §2.15).
	initRequest, initResponse []byte

	// peerHashes are the signature hashes the peer announced (RFC 7427).
	peerHashes []pubkey.Hash
	// fragmentation: both peers announced IKE fragmentation in
	// IKE_SA_INIT (RFC 7383 §2.3), so large messages go as SKF
	// fragments and the peer's fragments are reassembled.
	fragmentation bool
	// local and remote are the IKE endpoints in use: the configured ones
	// at first, port 4500 once NAT detection asks for encapsulation, and
	// the peer's newest address after a NAT rebinding (RFC 7296 §2.23).
	local, remote netip.AddrPort
	nat           natState

	children []*childSA
	// lingering are the inbound SAs of rekeyed CHILD_SAs that stay a
	// while for packets in flight (Config.RekeyedInboundDelay).
	lingering map[uint32]Timer
	// childErrors says why a child the peer refused is missing.
	childErrors map[string]error
	created     time.Time
	tm          taskManager
	halfOpen    Timer
	outbox      []outgoing
	// deferred are calls to make once the lock is released (the Observer,
	// OnInitialContact), before the outbox goes; afterSend the sends of
	// SAs a rekey made, after it.
	deferred, afterSend []func()

	// established is when IKE_AUTH, or the rekey that made this SA,
	// completed; lastRecv when the peer last sent an authentic message.
	established, lastRecv time.Time
	// peerID is the peer's authenticated identity (inherited on rekey).
	peerID string
	// rekeyAt is when RekeyTime rekeys the SA; the timers are the IKE
	// rekey's, DPD's and the wait for the peer's Delete of a replaced SA.
	rekeyAt                          time.Time
	rekeyTimer, dpdTimer, deathTimer Timer
	// closing: we are deleting the SA on purpose, so nothing restarts;
	// peerClosed: the peer deleted it, so CloseAction applies.
	closing, peerClosed bool
	// restart names the children to set up again, fixed when destroyed.
	restart []string
}

// outgoing is a datagram waiting to be sent once the SA's lock is released.
type outgoing struct {
	data     []byte
	from, to netip.AddrPort
}

// ChildSA is an installed CHILD_SA pair.
type ChildSA struct {
	// Name is the child configuration's.
	Name        string
	Suite       crypto.Suite
	Mode        installer.Mode
	Encap       bool
	InboundSPI  uint32
	OutboundSPI uint32
	LocalTS     []netip.Prefix
	RemoteTS    []netip.Prefix
	Installed   time.Time
}

// NewInitiator returns an IKE SA that will initiate the connection when
// Initiate is called.
func NewInitiator(cfg Config) (*IKESA, error) {
	return newIKESA(cfg, true)
}

// NewResponder returns an IKE SA that waits for an IKE_SA_INIT request.
func NewResponder(cfg Config) (*IKESA, error) {
	return newIKESA(cfg, false)
}

func newIKESA(cfg Config, initiator bool) (*IKESA, error) {
	conn, err := newConnection(cfg)
	if err != nil {
		return nil, err
	}
	sa := &IKESA{conn: conn, initiator: initiator, state: StateCreated, local: conn.Local, remote: conn.Remote,
		created: conn.Clock.Now()}
	spi, err := randomSPI()
	if err != nil {
		return nil, err
	}
	if initiator {
		sa.spiI = spi
	} else {
		sa.spiR = spi
	}
	role := "responder"
	if initiator {
		role = "initiator"
	}
	sa.log = conn.Logger.With(zap.String("role", role), zap.Stringer("remote", conn.Remote))
	sa.tm.sa = sa
	return sa, nil
}

// unlock releases the SA's lock, then makes the deferred calls and sends
// what the SA queued: nothing leaves the SA while it holds its lock. The
// Observer hears of a new SA before anything goes, so the owner routes its
// SPIs before the peer can use them; the new SA's own messages follow the
// response that made it.
func (sa *IKESA) unlock() {
	out := sa.takeOutbox()
	calls, after := sa.deferred, sa.afterSend
	sa.deferred, sa.afterSend = nil, nil
	sa.mu.Unlock()
	for _, f := range calls {
		f()
	}
	sa.send(out)
	for _, f := range after {
		f()
	}
}

// later defers f until the lock is released.
func (sa *IKESA) later(f func()) { sa.deferred = append(sa.deferred, f) }

// flush sends what another goroutine's work left queued on sa (an SA that
// a rekey made while its parent's lock was held).
func (sa *IKESA) flush() {
	sa.mu.Lock()
	sa.unlock()
}

// Initiate starts IKE_SA_INIT, then IKE_AUTH with the first CHILD_SA.
func (sa *IKESA) Initiate() error {
	sa.mu.Lock()
	defer sa.unlock()
	return sa.initiate()
}

func (sa *IKESA) initiate() error {
	if !sa.initiator {
		return fmt.Errorf("%w: a responder SA cannot initiate", ErrInvalidState)
	}
	if err := sa.transition(StateCreated, StateConnecting); err != nil {
		return err
	}
	group := sa.conn.ikeSuites[0].DHGroup
	sa.tm.queue(&ikeInit{sa: sa, initiator: true, group: group})
	sa.tm.queue(&natDetection{sa: sa, initiator: true})
	sa.tm.queue(&fragmentationSupport{sa: sa, initiator: true})
	sa.tm.queue(&signatureHashes{sa: sa, initiator: true})
	sa.tm.queue(&ikeAuth{sa: sa, initiator: true})
	sa.tm.queue(&childCreate{sa: sa, initiator: true, auth: true, config: sa.conn.children[0]})
	return sa.tm.initiate()
}

// HandleDatagram processes one IKE message from the peer (after any non-ESP
// marker) that arrived from the address from at our address to. A message that is malformed, fails its integrity check or does
// not fit the exchange is dropped without changing the SA, and the error
// says why; a request that is answered with an error notification (say
// NO_PROPOSAL_CHOSEN) returns that failure too. Errors are for logging: the
// SA has already done what the protocol requires.
func (sa *IKESA) HandleDatagram(datagram []byte, from, to netip.AddrPort) error {
	sa.mu.Lock()
	defer sa.unlock()
	return sa.tm.handle(datagram, from, to)
}

// State returns the SA's state.
func (sa *IKESA) State() State {
	sa.mu.Lock()
	defer sa.mu.Unlock()
	return sa.state
}

// Err returns why the SA was destroyed, or nil.
func (sa *IKESA) Err() error {
	sa.mu.Lock()
	defer sa.mu.Unlock()
	return sa.err
}

// SPIs returns the initiator's and the responder's IKE SPIs.
func (sa *IKESA) SPIs() (spiI, spiR uint64) {
	sa.mu.Lock()
	defer sa.mu.Unlock()
	return sa.spiI, sa.spiR
}

// Children returns the installed CHILD_SAs, including those being rekeyed
// or deleted.
func (sa *IKESA) Children() []ChildSA {
	sa.mu.Lock()
	defer sa.mu.Unlock()
	out := make([]ChildSA, len(sa.children))
	for i, c := range sa.children {
		out[i] = c.ChildSA
	}
	return out
}

// Name is the connection's name (Config.Name).
func (sa *IKESA) Name() string { return sa.conn.Name }

// Initiator reports whether we are the SA's original initiator: the
// initiator of IKE_SA_INIT, or of the rekey that made it (RFC 7296 §2.18).
// It never changes, so it needs no lock.
func (sa *IKESA) Initiator() bool { return sa.initiator }

// LocalSPI is the SPI we chose, which the owner routes by: the initiator's
// if we are the initiator, else the responder's.
func (sa *IKESA) LocalSPI() uint64 {
	sa.mu.Lock()
	defer sa.mu.Unlock()
	if sa.initiator {
		return sa.spiI
	}
	return sa.spiR
}

// RestartChildren names the children the owner should set up again after
// the SA was destroyed: those with DPDAction start when the peer stopped
// answering (Err is ErrTimeout), those with CloseAction start when the peer
// deleted the SA. It is empty while the SA lives, after Close and after a
// rekey moved the children on.
func (sa *IKESA) RestartChildren() []string {
	sa.mu.Lock()
	defer sa.mu.Unlock()
	return slices.Clone(sa.restart)
}

// ChildError says why the named child was not set up on this IKE SA: the
// peer's notification (NO_PROPOSAL_CHOSEN, TS_UNACCEPTABLE) or our refusal
// of its answer; nil if it was not refused.
func (sa *IKESA) ChildError(name string) error {
	sa.mu.Lock()
	defer sa.mu.Unlock()
	return sa.childErrors[name]
}

func (sa *IKESA) setChildError(name string, err error) {
	if sa.childErrors == nil {
		sa.childErrors = map[string]error{}
	}
	sa.childErrors[name] = err
}

func (sa *IKESA) transition(from, to State) error {
	if sa.state != from {
		return fmt.Errorf("%w: in %v, expected %v to move to %v", ErrInvalidState, sa.state, from, to)
	}
	if err := checkTransition(from, to); err != nil {
		return err
	}
	sa.log.Debug("IKE SA state change", zap.Stringer("from", from), zap.Stringer("to", to))
	sa.state = to
	return nil
}

// fail destroys the SA because of err.
func (sa *IKESA) fail(err error) {
	if sa.state == StateDestroyed {
		return
	}
	sa.log.Warn("IKE SA failed", zap.Error(err))
	sa.destroy(err)
}

// destroy ends the SA: timers stop, installed CHILD_SAs are removed, and
// the Observer hears of it once the lock is released. err is nil for a
// clean delete.
func (sa *IKESA) destroy(err error) {
	if sa.state == StateDestroyed {
		return
	}
	_ = sa.transition(sa.state, StateDestroyed)
	sa.err = err
	sa.tm.stop()
	for _, t := range []Timer{sa.halfOpen, sa.rekeyTimer, sa.dpdTimer, sa.deathTimer} {
		stopTimer(t)
	}
	sa.restart = sa.childrenToRestart(err)
	sa.removeLingering()
	for len(sa.children) > 0 {
		c := sa.children[0]
		c.successor = nil
		sa.removeChild(c)
	}
	if len(sa.restart) > 0 {
		sa.log.Info("children to restart", zap.Strings("children", sa.restart))
	}
	if obs := sa.conn.Observer; obs != nil {
		sa.later(func() { obs.Destroyed(sa) })
	}
}

// childrenToRestart applies the children's actions (swanctl.conf's
// dpd_action and close_action): a peer that stopped answering restarts the
// DPDAction start children, a peer that closed the SA the CloseAction
// start ones. Our own Close restarts nothing.
func (sa *IKESA) childrenToRestart(err error) []string {
	var names []string
	for _, c := range sa.children {
		var action Action
		switch {
		case sa.closing:
		case errors.Is(err, ErrTimeout):
			action = c.config.DPDAction
		case sa.peerClosed:
			action = c.config.CloseAction
		}
		if action&ActionStart != 0 && !slices.Contains(names, c.Name) {
			names = append(names, c.Name)
		}
	}
	return names
}

// armHalfOpen makes a responder give up an IKE SA whose IKE_AUTH never
// comes, so half-open SAs cannot pile up.
func (sa *IKESA) armHalfOpen() {
	sa.halfOpen = sa.conn.Clock.AfterFunc(sa.conn.HalfOpenTimeout, func() {
		sa.mu.Lock()
		defer sa.unlock()
		if sa.state == StateConnecting {
			sa.fail(fmt.Errorf("%w: no IKE_AUTH within %v (half-open)", ErrTimeout, sa.conn.HalfOpenTimeout))
		}
	})
}

// deriveKeys computes SKEYSEED and the IKE SA's keys (RFC 7296 §2.14) and
// builds the SK transforms of both directions.
func (sa *IKESA) deriveKeys(suite crypto.IKESuite, sharedSecret []byte) error {
	skeyseed, err := crypto.SKEYSEED(suite.PRF, sa.ni, sa.nr, sharedSecret)
	if err != nil {
		return err
	}
	return sa.keysFromSKEYSEED(suite, skeyseed)
}

// keysFromSKEYSEED derives {SK_d | SK_ai | ... | SK_pr} from SKEYSEED with
// the SA's nonces and SPIs (RFC 7296 §2.14) and builds the transforms.
func (sa *IKESA) keysFromSKEYSEED(suite crypto.IKESuite, skeyseed []byte) error {
	keys, err := suite.DeriveKeys(skeyseed, sa.ni, sa.nr, sa.spiI, sa.spiR)
	if err != nil {
		return err
	}
	tI, err := suite.NewTransform(keys.EI, keys.AI)
	if err != nil {
		return err
	}
	tR, err := suite.NewTransform(keys.ER, keys.AR)
	if err != nil {
		return err
	}
	sa.suite, sa.keys = suite, keys
	if sa.initiator {
		sa.sendT, sa.recvT = tI, tR
	} else {
		sa.sendT, sa.recvT = tR, tI
	}
	sa.log.Info("IKE SA keys derived", zap.Stringer("suite", suite))
	return nil
}

// queueSend sends datagrams (one message, or its fragments in order)
// between the SA's current endpoints once the lock is released.
func (sa *IKESA) queueSend(datagrams ...[]byte) {
	for _, b := range datagrams {
		sa.outbox = append(sa.outbox, outgoing{data: b, from: sa.local, to: sa.remote})
	}
}

func (sa *IKESA) takeOutbox() []outgoing {
	out := sa.outbox
	sa.outbox = nil
	return out
}

// send hands datagrams to Config.Send outside the lock, each a private copy,
// so the receiver may keep it while the SA keeps its cached original.
func (sa *IKESA) send(out []outgoing) {
	for _, o := range out {
		sa.conn.Send(bytes.Clone(o.data), o.from, o.to)
	}
}

// Endpoints returns the IKE SA's current local and remote address and port.
func (sa *IKESA) Endpoints() (local, remote netip.AddrPort) {
	sa.mu.Lock()
	defer sa.mu.Unlock()
	return sa.local, sa.remote
}

// NAT reports what NAT detection found: whether our address is translated
// (we must send keepalives) and whether ESP is UDP-encapsulated.
func (sa *IKESA) NAT() (behindNAT, encap bool) {
	sa.mu.Lock()
	defer sa.mu.Unlock()
	return sa.nat.here, sa.nat.encap()
}

// floatToNATPort moves IKE to port 4500 after IKE_SA_INIT found a NAT (RFC
// 7296 §2.23), so that IKE and ESP share one NAT mapping.
func (sa *IKESA) floatToNATPort() {
	if !sa.nat.encap() || sa.local.Port() == sa.conn.NATPort {
		return
	}
	sa.local = netip.AddrPortFrom(sa.local.Addr(), sa.conn.NATPort)
	if sa.remote.Port() == sa.conn.Remote.Port() {
		sa.remote = netip.AddrPortFrom(sa.remote.Addr(), sa.conn.RemoteNATPort)
	}
	sa.log.Debug("IKE moves to the NAT-T port", zap.Stringer("local", sa.local), zap.Stringer("remote", sa.remote))
}

// followPeer takes the address of an authenticated message from the peer as
// its new address when a NAT may have changed it (RFC 7296 §2.23: only a
// host that is not itself behind the NAT does so), and moves the CHILD_SAs
// with it.
func (sa *IKESA) followPeer(from, to netip.AddrPort) {
	if !sa.initiator && sa.state == StateConnecting {
		// The responder answers IKE_AUTH where it came from, the port
		// 4500 the initiator floated to.
		sa.local, sa.remote = to, from
		return
	}
	if from == sa.remote || sa.nat.here || !sa.nat.encap() {
		return
	}
	sa.log.Info("peer's address changed (NAT mapping)", zap.Stringer("from", sa.remote), zap.Stringer("to", from))
	sa.remote = from
	for _, c := range sa.children {
		if err := sa.conn.Installer.Update(c.InboundSPI, installer.Inbound, from); err != nil {
			sa.log.Warn("cannot move CHILD_SA to the peer's new address", zap.Error(err))
		}
		c.outbound.Remote = from
		if !c.outInstalled || c.outRemoved {
			continue
		}
		if err := sa.conn.Installer.Update(c.OutboundSPI, installer.Outbound, from); err != nil {
			sa.log.Warn("cannot move CHILD_SA to the peer's new address", zap.Error(err))
		}
	}
}

func randomSPI() (uint64, error) {
	var b [8]byte
	for {
		if _, err := rand.Read(b[:]); err != nil {
			return 0, fmt.Errorf("ike: random SPI: %w", err)
		}
		if spi := binary.BigEndian.Uint64(b[:]); spi != 0 {
			return spi, nil
		}
	}
}

func randomNonce() ([]byte, error) {
	// 32 bytes suffice for every PRF's MinNonceLen up to HMAC-SHA2-512.
	n := make([]byte, 32)
	if _, err := rand.Read(n); err != nil {
		return nil, fmt.Errorf("ike: random nonce: %w", err)
	}
	return n, nil
}

// randomJitter draws the rekey jitter uniformly from [0, max).
func randomJitter(max time.Duration) time.Duration {
	if max <= 0 {
		return 0
	}
	return time.Duration(mathrand.Int64N(int64(max)))
}
