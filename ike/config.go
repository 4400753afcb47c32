package ike

import (
	"bytes"
	stdcrypto "crypto"
	"fmt"
	"math"
	"net/netip"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/espd/espd/crypto"
	"github.com/espd/espd/esp/installer"
	"github.com/espd/espd/ike/message"
	"github.com/espd/espd/ike/pubkey"
)

// Config is one connection as the engine needs it. It is deliberately small;
// the swanctl.conf loader will fill it from a connection and its child.
type Config struct {
	// Name is the connection's, for logs and the control socket.
	Name string
	// Local and Remote are the outer addresses and IKE ports.
	Local, Remote netip.AddrPort
	// Proposals are strongSwan IKE proposals, most preferred first, for
	// example "aes128gcm16-prfsha256-x25519".
	Proposals []string
	// NATPort and RemoteNATPort are the ports IKE floats to when a NAT is
	// found; 0 means 4500.
	NATPort, RemoteNATPort uint16
	// ForceEncap makes the CHILD_SAs UDP-encapsulated even without a NAT,
	// as swanctl.conf's encap = yes.
	ForceEncap bool
	// PSK is the pre-shared key both peers authenticate with.
	PSK []byte
	// LocalID is our identity; nil is the certificate's subject with
	// certificate authentication, else the local address. RemoteID is the
	// identity the peer must show; nil accepts any identity that proves
	// the PSK or that the peer's certificate holds. ParseID makes simple
	// ones.
	LocalID, RemoteID *message.ID
	// Credentials, when set, make us authenticate with this certificate
	// and key (RFC 7427 digital signature) instead of the PSK. Without a
	// Cert, the key is a raw public key the peer has configured: no CERT
	// payload is sent (swanctl.conf's local.pubkeys).
	Credentials *pubkey.Credentials
	// SignOptions shape our signature: RSASSA-PSS, allowed hashes.
	SignOptions pubkey.SignOptions
	// RemoteAuth is how the peer must authenticate: AuthPSK (the default)
	// or AuthPubkey, whose certificate must chain to TrustAnchors and
	// whose key and signature must meet RemoteConstraints.
	RemoteAuth        AuthMethod
	TrustAnchors      *pubkey.TrustAnchors
	RemoteConstraints []pubkey.Constraint
	// RemotePublicKeys, when set, are the raw public keys the peer may
	// sign with (remote.pubkeys), instead of a certificate.
	RemotePublicKeys []stdcrypto.PublicKey
	// Children are the CHILD_SA configurations. The initiator sets up the
	// first in IKE_AUTH; a responder picks the one whose selectors fit the
	// peer's.
	Children []ChildConfig

	Installer installer.Installer
	// Send transmits an IKE message from our address and port to the
	// peer's; a sender on port 4500 adds the non-ESP marker (RFC 3948
	// §2.2). It is called without the SA's lock held, and may be called
	// from a timer goroutine.
	Send func(datagram []byte, from, to netip.AddrPort)
	// Clock defaults to RealClock.
	Clock Clock
	// Logger defaults to zap.NewNop.
	Logger *zap.Logger
	// Retransmit defaults to strongSwan's: 4 s, ×1.8, 5 tries.
	Retransmit RetransmitConfig
	// HalfOpenTimeout bounds how long a responder waits for IKE_AUTH after
	// IKE_SA_INIT; 0 means 30 s, strongSwan's charon.half_open_timeout.
	HalfOpenTimeout time.Duration

	// RekeyTime is when the IKE SA is rekeyed (RFC 7296 §2.18), less a
	// jitter of up to 10%; 0 never.
	RekeyTime time.Duration
	// DPDDelay is how long the peer may stay silent (no IKE message, no
	// ESP on our inbound CHILD_SAs) before an empty INFORMATIONAL checks
	// that it is alive (RFC 7296 §2.4); 0 disables the check.
	DPDDelay time.Duration
	// Jitter returns a random duration in [0, max) that is subtracted
	// from rekey times, so that two peers with the same configuration do
	// not rekey at once (strongSwan's rand_time). nil draws it uniformly;
	// tests return 0 to make the timers exact.
	Jitter func(max time.Duration) time.Duration
	// RekeyedInboundDelay keeps the inbound SA of a rekeyed CHILD_SA this
	// long after its Delete, for the peer's packets still in flight
	// (strongSwan's charon.delete_rekeyed_delay); 0 means 5 s, below 0
	// removes it at once.
	RekeyedInboundDelay time.Duration
	// Observer hears about IKE SAs that rekeying makes and about SAs that
	// go; nil ignores them.
	Observer Observer
	// InitialContact makes the initiator send INITIAL_CONTACT in IKE_AUTH
	// (RFC 7296 §2.4): it holds no other IKE SA with this peer, so the
	// peer may delete the ones it still has with our identity.
	InitialContact bool
	// OnInitialContact is called, without the SA's lock, when an
	// authenticated peer sends INITIAL_CONTACT; the owner deletes older IKE
	// SAs with that identity (peerID as message.ID.String renders it).
	OnInitialContact func(peerID string)

	// FragmentSize is the largest IP datagram, IP and UDP headers
	// included, that carries an IKE message once both peers announced IKE
	// fragmentation (RFC 7383); a larger protected message goes as SKF
	// fragments. 0 means 1280, strongSwan's charon.fragment_size; below
	// MinFragmentSize is an error.
	FragmentSize int
	// NoFragmentation neither announces nor uses IKE fragmentation, as
	// swanctl.conf's fragmentation = no.
	NoFragmentation bool
}

// DefaultFragmentSize is strongSwan's charon.fragment_size default.
const DefaultFragmentSize = 1280

// MinFragmentSize leaves room in a fragment for the IPv6, UDP, non-ESP
// marker, IKE and SKF headers, the largest IV and ICV, and some content.
const MinFragmentSize = 256

// AuthMethod is how a peer proves its identity.
type AuthMethod uint8

const (
	// AuthPSK is a pre-shared key (RFC 7296 §2.15).
	AuthPSK AuthMethod = iota
	// AuthPubkey is a signature with a certificate's key (RFC 7427).
	AuthPubkey
)

func (m AuthMethod) String() string {
	if m == AuthPubkey {
		return "pubkey"
	}
	return "psk"
}

// ChildConfig is one CHILD_SA configuration (swanctl.conf's children).
type ChildConfig struct {
	Name string
	// LocalTS and RemoteTS are the traffic selectors we propose; a
	// responder narrows them to its own (RFC 7296 §2.9).
	LocalTS, RemoteTS []netip.Prefix
	// LocalDynamic and RemoteDynamic add the IKE SA's own local or remote
	// address to LocalTS or RemoteTS once it is known (strongSwan's
	// "dynamic"): a road-warrior gateway's remote_ts = dynamic is each
	// client's address.
	LocalDynamic, RemoteDynamic bool
	// ESPProposals are strongSwan ESP proposals, most preferred first.
	ESPProposals []string
	// Mode is tunnel or transport (USE_TRANSPORT_MODE, RFC 7296 §1.3.1).
	Mode installer.Mode
	// ReplayWindow for the inbound SA; 0 means 32, strongSwan's default.
	ReplayWindow uint32

	// RekeyTime starts a rekey (RFC 7296 §1.3.3), less a jitter of up to
	// LifeTime-RekeyTime (10% of RekeyTime if LifeTime is not longer);
	// LifeTime deletes the CHILD_SA (0: RekeyTime + 10%, or never if
	// RekeyTime is 0 too). RekeyBytes/RekeyPackets and
	// LifeBytes/LifePackets are the same limits in traffic, which the data
	// plane counts and reports through IKESA.HandleEvent; 0 is unlimited,
	// and a zero Life limit is the Rekey limit + 10%, as in swanctl.conf.
	RekeyTime, LifeTime                              time.Duration
	RekeyBytes, LifeBytes, RekeyPackets, LifePackets uint64
	// StartAction is for the owner (start the child at load); DPDAction
	// applies when the peer stops answering, CloseAction when the peer
	// deletes the CHILD_SA or the IKE SA: ActionStart sets it up again.
	StartAction, DPDAction, CloseAction Action
}

// Action is what to do with a CHILD_SA at start-up, when the peer is found
// dead or when the peer closes it (swanctl.conf's start_action, dpd_action,
// close_action), with the values of internal/config.Action.
type Action uint8

const (
	// ActionNone does nothing (none, clear).
	ActionNone Action = 0
	// ActionTrap waits for matching traffic (trap); the engine treats it
	// as ActionNone.
	ActionTrap Action = 1 << 0
	// ActionStart sets the CHILD_SA up again (start, restart).
	ActionStart Action = 1 << 1
)

func (a Action) String() string {
	switch a {
	case ActionNone:
		return "none"
	case ActionTrap:
		return "trap"
	case ActionStart:
		return "start"
	case ActionTrap | ActionStart:
		return "trap|start"
	}
	return fmt.Sprintf("Action(%d)", uint8(a))
}

// RetransmitConfig is strongSwan's charon.retransmit_* settings: a request is
// resent after Timeout·Base^n for n = 0..Tries-1, and the SA is given up
// Timeout·Base^Tries after the last retransmission.
type RetransmitConfig struct {
	Timeout time.Duration
	Base    float64
	Tries   int
}

// total is how long a request is tried in all: every timeout, the last
// try's included.
func (rc RetransmitConfig) total() time.Duration {
	var sum float64
	for n := 0; n <= rc.Tries; n++ {
		sum += float64(rc.Timeout) * math.Pow(rc.Base, float64(n))
	}
	return time.Duration(sum)
}

// DefaultRetransmit is strongSwan's default (retransmit_timeout 4.0,
// retransmit_base 1.8, retransmit_tries 5).
var DefaultRetransmit = RetransmitConfig{Timeout: 4 * time.Second, Base: 1.8, Tries: 5}

// connection is a checked Config with its proposals parsed.
type connection struct {
	Config
	ikeSuites []crypto.IKESuite
	children  []*childConfig
	localID   *message.ID
	// newNonce makes the nonces of CREATE_CHILD_SA exchanges; tests
	// replace it to order the nonces of colliding rekeys (§2.8.1).
	newNonce func() ([]byte, error)
}

// childConfig is a checked ChildConfig with its proposals parsed.
type childConfig struct {
	ChildConfig
	espSuites []crypto.Suite
}

func newChildConfig(cfg ChildConfig) (*childConfig, error) {
	c := &childConfig{ChildConfig: cfg}
	if len(cfg.ESPProposals) == 0 {
		return nil, fmt.Errorf("%w: child %q: ESP proposals are required", ErrConfig, cfg.Name)
	}
	for _, p := range cfg.ESPProposals {
		s, err := crypto.ParseESPProposal(p)
		if err != nil {
			return nil, fmt.Errorf("%w: child %q: %w", ErrConfig, cfg.Name, err)
		}
		c.espSuites = append(c.espSuites, s)
	}
	if (len(cfg.LocalTS) == 0 && !cfg.LocalDynamic) || (len(cfg.RemoteTS) == 0 && !cfg.RemoteDynamic) {
		return nil, fmt.Errorf("%w: child %q: local and remote traffic selectors are required", ErrConfig, cfg.Name)
	}
	if cfg.LifeTime > 0 && cfg.RekeyTime > cfg.LifeTime {
		return nil, fmt.Errorf("%w: child %q: rekey_time %v is beyond life_time %v", ErrConfig, cfg.Name, cfg.RekeyTime, cfg.LifeTime)
	}
	// swanctl.conf's defaults: the hard limit is the soft one + 10%.
	if c.LifeTime == 0 {
		c.LifeTime = c.RekeyTime + c.RekeyTime/10
	}
	if c.LifeBytes == 0 {
		c.LifeBytes = c.RekeyBytes + c.RekeyBytes/10
	}
	if c.LifePackets == 0 {
		c.LifePackets = c.RekeyPackets + c.RekeyPackets/10
	}
	return c, nil
}

// lifetime is what the data plane enforces on the CHILD_SA's traffic; time
// stays with the engine's own timers (lifetimes.go).
func (c *childConfig) lifetime() installer.Lifetime {
	return installer.Lifetime{
		Soft: installer.Limits{Bytes: c.RekeyBytes, Packets: c.RekeyPackets},
		Hard: installer.Limits{Bytes: c.LifeBytes, Packets: c.LifePackets},
	}
}

// rekeyJitterMax is strongSwan's rand_time default: the gap between the
// soft and the hard lifetime, or 10% of the rekey time.
func (c *childConfig) rekeyJitterMax() time.Duration {
	if c.LifeTime > c.RekeyTime {
		return c.LifeTime - c.RekeyTime
	}
	return c.RekeyTime / 10
}

// child finds a CHILD_SA configuration by name.
func (c *connection) child(name string) (*childConfig, bool) {
	for _, ch := range c.children {
		if ch.Name == name {
			return ch, true
		}
	}
	return nil, false
}

func newConnection(cfg Config) (*connection, error) {
	c := &connection{Config: cfg}
	if len(cfg.Proposals) == 0 {
		return nil, fmt.Errorf("%w: IKE proposals are required", ErrConfig)
	}
	for _, p := range cfg.Proposals {
		s, err := crypto.ParseIKEProposal(p)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrConfig, err)
		}
		c.ikeSuites = append(c.ikeSuites, s)
	}
	if len(cfg.Children) == 0 {
		return nil, fmt.Errorf("%w: at least one child is required", ErrConfig)
	}
	for _, ch := range cfg.Children {
		cc, err := newChildConfig(ch)
		if err != nil {
			return nil, err
		}
		c.children = append(c.children, cc)
	}
	if cfg.Credentials == nil && len(cfg.PSK) == 0 {
		return nil, fmt.Errorf("%w: a PSK or a certificate with its key is required", ErrConfig)
	}
	if cfg.RemoteAuth == AuthPSK && len(cfg.PSK) == 0 {
		return nil, fmt.Errorf("%w: the peer authenticates with a PSK, but none is configured", ErrConfig)
	}
	if cfg.RemoteAuth == AuthPubkey && len(cfg.RemotePublicKeys) == 0 &&
		(cfg.TrustAnchors == nil || len(cfg.TrustAnchors.Certificates()) == 0) {
		return nil, fmt.Errorf("%w: the peer authenticates with a public key, but no CA certificate or raw public key is configured to trust", ErrConfig)
	}
	if cfg.Credentials != nil && cfg.Credentials.Key == nil {
		return nil, fmt.Errorf("%w: credentials without a private key", ErrConfig)
	}
	if !cfg.Local.IsValid() || !cfg.Remote.IsValid() {
		return nil, fmt.Errorf("%w: local and remote addresses are required", ErrConfig)
	}
	if cfg.Installer == nil || cfg.Send == nil {
		return nil, fmt.Errorf("%w: Installer and Send are required", ErrConfig)
	}
	if c.Clock == nil {
		c.Clock = RealClock{}
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	if c.Retransmit == (RetransmitConfig{}) {
		c.Retransmit = DefaultRetransmit
	}
	if c.HalfOpenTimeout == 0 {
		c.HalfOpenTimeout = 30 * time.Second
	}
	if c.RekeyedInboundDelay == 0 {
		c.RekeyedInboundDelay = 5 * time.Second
	}
	if c.NATPort == 0 {
		c.NATPort = 4500
	}
	switch {
	case c.FragmentSize == 0:
		c.FragmentSize = DefaultFragmentSize
	case c.FragmentSize < MinFragmentSize:
		return nil, fmt.Errorf("%w: fragment size %d is below %d bytes", ErrConfig, c.FragmentSize, MinFragmentSize)
	}
	if c.Jitter == nil {
		c.Jitter = randomJitter
	}
	c.newNonce = randomNonce
	if c.RemoteNATPort == 0 {
		c.RemoteNATPort = 4500
	}
	switch {
	case cfg.LocalID != nil:
		c.localID = cfg.LocalID
	case cfg.Credentials != nil && cfg.Credentials.Cert != nil:
		c.localID = pubkey.IdentityFromCert(cfg.Credentials.Cert)
	default:
		c.localID = message.NewAddrID(false, cfg.Local.Addr())
	}
	return c, nil
}

// ParseID makes an ID payload of an address literal (ID_IPV4_ADDR,
// ID_IPV6_ADDR) or, for anything else, an FQDN.
func ParseID(s string) *message.ID {
	if a, err := netip.ParseAddr(s); err == nil {
		return message.NewAddrID(false, a)
	}
	return &message.ID{IDType: message.IDFQDN, Data: []byte(s)}
}

// matchesIdentity reports whether the peer's ID is the configured one:
// the same type and data (RFC 7296 §3.5 compares them as octets), where a
// '*' in a configured FQDN or email address stands for any run of
// characters, as strongSwan's "*@example.org" does.
func matchesIdentity(want, got *message.ID) bool {
	if want == nil {
		return true
	}
	if want.IDType != got.IDType {
		return false
	}
	if want.IDType == message.IDDERASN1DN {
		// The same DN may come in other string types: one typed in the
		// configuration is UTF8String, a certificate's often
		// PrintableString.
		return pubkey.DNEqual(want.Data, got.Data)
	}
	if (want.IDType == message.IDFQDN || want.IDType == message.IDRFC822Addr) && bytes.IndexByte(want.Data, '*') >= 0 {
		return globMatch(string(want.Data), string(got.Data))
	}
	return bytes.Equal(want.Data, got.Data)
}

// globMatch matches s against pattern, where '*' is any run of characters
// (none included) and everything else matches itself, case-insensitively
// as DNS names and email domains compare.
func globMatch(pattern, s string) bool {
	pattern, s = strings.ToLower(pattern), strings.ToLower(s)
	parts := strings.Split(pattern, "*")
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for i, part := range parts[1:] {
		if i == len(parts)-2 {
			return strings.HasSuffix(s, part)
		}
		k := strings.Index(s, part)
		if k < 0 {
			return false
		}
		s = s[k+len(part):]
	}
	return s == ""
}
