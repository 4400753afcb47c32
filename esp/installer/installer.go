// Package installer is the seam between IKE and the data plane, modelled on
// strongSwan's kernel_ipsec_t: IKE allocates SPIs and adds, updates, queries
// and deletes SAs through Installer, and hears about lifetimes, sequence
// number exhaustion and unknown SPIs through Events. IKE imports this package
// only, never the pipeline behind it.
package installer

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/espd/espd/crypto"
)

var (
	// ErrNotFound: no SA with that SPI.
	ErrNotFound = errors.New("installer: no such SA")
	// ErrExists: an SA with that SPI is already installed.
	ErrExists = errors.New("installer: SA already installed")
	// ErrInvalid: the parameters cannot describe a working SA.
	ErrInvalid = errors.New("installer: invalid SA parameters")
)

// Protocol is the IPsec protocol number (RFC 4303, RFC 4302).
type Protocol uint8

const (
	ESP Protocol = 50
	AH  Protocol = 51
)

func (p Protocol) String() string {
	switch p {
	case ESP:
		return "ESP"
	case AH:
		return "AH"
	}
	return fmt.Sprintf("proto(%d)", uint8(p))
}

// Mode is the IPsec mode (RFC 4301 §4.1).
type Mode uint8

const (
	Tunnel Mode = iota
	Transport
)

func (m Mode) String() string {
	if m == Transport {
		return "transport"
	}
	return "tunnel"
}

// Direction says whether the SA protects traffic we receive or send.
type Direction uint8

const (
	Inbound Direction = iota
	Outbound
)

func (d Direction) String() string {
	if d == Outbound {
		return "out"
	}
	return "in"
}

// Limits is one set of lifetime limits; zero means unlimited.
type Limits struct {
	Bytes   uint64
	Packets uint64
	Time    time.Duration
}

// Lifetime holds the soft limit (time to rekey) and the hard limit (the SA
// stops carrying traffic), as in RFC 4301 §4.4.2.1.
type Lifetime struct {
	Soft, Hard Limits
}

// SAParams describes one unidirectional SA.
type SAParams struct {
	SPI       uint32
	Protocol  Protocol
	Direction Direction
	Mode      Mode
	// Local and Remote are the outer addresses. Ports matter only with
	// Encap (RFC 3948 ESP-in-UDP); without it the SA uses raw IP.
	Local, Remote netip.AddrPort
	Encap         bool
	Suite         crypto.Suite
	EncKey        []byte
	IntegKey      []byte
	// ReplayWindow in packets, 0 disables the check (inbound only).
	ReplayWindow uint32
	ESN          bool
	Lifetime     Lifetime
	// LocalTS and RemoteTS are the traffic selectors: the inner source and
	// destination (outbound) or destination and source (inbound) ranges.
	LocalTS, RemoteTS []netip.Prefix
}

// Validate reports what makes the parameters unusable.
func (p *SAParams) Validate() error {
	switch {
	case p.SPI < 256:
		// RFC 4303 §2.1: 1..255 are reserved, 0 is never sent.
		return fmt.Errorf("%w: SPI %#x is reserved", ErrInvalid, p.SPI)
	case p.Protocol != ESP:
		return fmt.Errorf("%w: protocol %v is not supported", ErrInvalid, p.Protocol)
	case !p.Local.Addr().IsValid() || !p.Remote.Addr().IsValid():
		return fmt.Errorf("%w: SA %#x needs local and remote addresses", ErrInvalid, p.SPI)
	case p.Local.Addr().Is4() != p.Remote.Addr().Is4():
		return fmt.Errorf("%w: SA %#x mixes IPv4 and IPv6 outer addresses", ErrInvalid, p.SPI)
	case p.Encap && (p.Local.Port() == 0 || p.Remote.Port() == 0):
		return fmt.Errorf("%w: UDP-encapsulated SA %#x needs both ports", ErrInvalid, p.SPI)
	case len(p.LocalTS) == 0 || len(p.RemoteTS) == 0:
		return fmt.Errorf("%w: SA %#x has no traffic selectors", ErrInvalid, p.SPI)
	case p.ESN != p.Suite.ESN:
		return fmt.Errorf("%w: SA %#x ESN flag disagrees with its proposal %s", ErrInvalid, p.SPI, p.Suite.Keyword)
	}
	if p.Mode == Transport {
		for _, ts := range append(p.LocalTS[:len(p.LocalTS):len(p.LocalTS)], p.RemoteTS...) {
			if ts.Addr().Is4() != p.Local.Addr().Is4() {
				return fmt.Errorf("%w: transport-mode SA %#x has a selector %v of the other address family", ErrInvalid, p.SPI, ts)
			}
		}
	}
	return nil
}

// Stats is what Query reports about an SA.
type Stats struct {
	Bytes, Packets uint64
	// LastUse is when the SA last carried a packet; zero if never.
	LastUse time.Time
	// Drops counts packets dropped on this SA, by reason name.
	Drops map[string]uint64
	// Seq is the last sequence number sent (outbound) or the top of the
	// replay window (inbound).
	Seq uint64
}

// Installer is what IKE calls to program the data plane.
type Installer interface {
	// AllocateSPI reserves a fresh random inbound SPI that no installed
	// SA uses.
	AllocateSPI() (uint32, error)
	// Add installs an SA. An outbound SA with the same traffic selectors
	// as an installed one replaces it for new packets at once
	// (make-before-break); the old one keeps its SPI until deleted.
	Add(p SAParams) error
	// Update moves an SA to a new peer address or port (NAT rebinding,
	// MOBIKE).
	Update(spi uint32, dir Direction, remote netip.AddrPort) error
	// Query reports an SA's counters.
	Query(spi uint32, dir Direction) (Stats, error)
	// Delete removes an SA.
	Delete(spi uint32, dir Direction) error
}

// Events is how the data plane tells IKE what it should act on. Calls come
// from data plane goroutines and must not block.
type Events interface {
	// SoftExpired: a soft lifetime was reached; IKE should rekey.
	SoftExpired(spi uint32, dir Direction)
	// HardExpired: a hard lifetime was reached; the SA carries no more
	// traffic and IKE should delete it.
	HardExpired(spi uint32, dir Direction)
	// SeqNearWrap: the outbound sequence number will soon wrap; IKE must
	// rekey before it does (RFC 4303 §3.3.3).
	SeqNearWrap(spi uint32)
	// UnknownSPI: an ESP packet arrived for an SPI we do not have
	// (rate-limited; RFC 4303 §3.4.2 suggests INVALID_SPI notifies).
	UnknownSPI(spi uint32, from netip.AddrPort)
}
