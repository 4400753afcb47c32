package ike

import (
	"fmt"
	"net/netip"
	"time"

	"go.uber.org/zap"

	"github.com/espd/espd/crypto"
	"github.com/espd/espd/esp/installer"
	"github.com/espd/espd/ike/message"
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
	// LocalID and RemoteID are identities: an IP address literal or an
	// FQDN. An empty LocalID uses the local address; an empty RemoteID
	// accepts any identity that proves the PSK.
	LocalID, RemoteID string
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
}

// ChildConfig is one CHILD_SA configuration (swanctl.conf's children).
type ChildConfig struct {
	Name string
	// LocalTS and RemoteTS are the traffic selectors we propose; a
	// responder narrows them to its own (RFC 7296 §2.9).
	LocalTS, RemoteTS []netip.Prefix
	// ESPProposals are strongSwan ESP proposals, most preferred first.
	ESPProposals []string
	// Mode is tunnel or transport (USE_TRANSPORT_MODE, RFC 7296 §1.3.1).
	Mode installer.Mode
	// ReplayWindow for the inbound SA; 0 means 32, strongSwan's default.
	ReplayWindow uint32
}

// RetransmitConfig is strongSwan's charon.retransmit_* settings: a request is
// resent after Timeout·Base^n for n = 0..Tries-1, and the SA is given up
// Timeout·Base^Tries after the last retransmission.
type RetransmitConfig struct {
	Timeout time.Duration
	Base    float64
	Tries   int
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
	if len(cfg.LocalTS) == 0 || len(cfg.RemoteTS) == 0 {
		return nil, fmt.Errorf("%w: child %q: local and remote traffic selectors are required", ErrConfig, cfg.Name)
	}
	return c, nil
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
	if len(cfg.PSK) == 0 {
		return nil, fmt.Errorf("%w: a PSK is required", ErrConfig)
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
	if c.NATPort == 0 {
		c.NATPort = 4500
	}
	if c.RemoteNATPort == 0 {
		c.RemoteNATPort = 4500
	}
	id := cfg.LocalID
	if id == "" {
		id = cfg.Local.Addr().String()
	}
	c.localID = identity(false, id)
	return c, nil
}

// identity turns a configured identity into an ID payload: an address
// literal is ID_IPV4_ADDR/ID_IPV6_ADDR, anything else ID_FQDN.
func identity(responder bool, s string) *message.ID {
	if a, err := netip.ParseAddr(s); err == nil {
		return message.NewAddrID(responder, a)
	}
	return &message.ID{Responder: responder, IDType: message.IDFQDN, Data: []byte(s)}
}

// matchesIdentity reports whether the peer's ID is the configured one.
func matchesIdentity(want string, got *message.ID) bool {
	if want == "" {
		return true
	}
	if a, err := netip.ParseAddr(want); err == nil {
		ga, ok := got.Addr()
		return ok && ga == a
	}
	return got.IDType == message.IDFQDN && string(got.Data) == want
}
