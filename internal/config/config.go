package config

import (
	"cmp"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/espd/espd/crypto"
	"github.com/espd/espd/internal/swanctl"
)

// File is a configuration file as espd understands it today.
type File struct {
	Espd Espd
	// Connections, Secrets and Authorities are the swanctl.conf sections
	// of those names (connections.go, secrets.go, authorities.go).
	Connections []Connection
	Secrets     Secrets
	Authorities []Authority
	// Warnings are settings espd ignores, such as unknown keys; they do not
	// stop espd, but a user should see them.
	Warnings []Warning
	// Raw is the whole parsed file, secrets included (hence no JSON). The
	// pools section is kept only here, not validated yet.
	Raw *swanctl.Section `json:"-"`
}

// Espd is the top-level espd section: what only espd has.
type Espd struct {
	// PortNATT is the UDP port for ESP-in-UDP, as charon.port_nat_t;
	// 0 lets the kernel pick one.
	PortNATT uint16
	// FwMark is set with SO_MARK on espd's own sockets so that policy
	// routing keeps them out of the tunnel; 0 sets no mark.
	FwMark uint32
	// RouteTable is the routing table for the routes into the TUN device.
	RouteTable int
	// LogLevel is one of "debug", "info", "warn", "error".
	LogLevel string
	Tun      Tun
	// Manual are the static SAs, in file order.
	Manual []ManualSA
	// IKE holds the daemon-wide IKE settings.
	IKE IKESettings
}

// IKESettings is the espd.ike section: strongSwan's charon.* settings
// that espd has.
type IKESettings struct {
	// CookieThreshold is how many half-open IKE SAs make a responder
	// demand a COOKIE; 0 never.
	CookieThreshold int
	// HalfOpenTimeout is how long a responder keeps a half-open IKE SA.
	HalfOpenTimeout time.Duration
	// RetransmitTimeout and RetransmitTries are the first retransmission's
	// delay and how many are sent (the base, 1.8, is fixed).
	RetransmitTimeout time.Duration
	RetransmitTries   int
}

// Tun is the TUN device.
type Tun struct {
	Name string
	MTU  int
	// Addrs keep their host bits: 198.18.1.1/24 is the address 198.18.1.1
	// on the network 198.18.1.0/24.
	Addrs []netip.Prefix
}

// The modes a manual SA may have.
const (
	ModeTunnel    = "tunnel"
	ModeTransport = "transport"
)

// ManualSA is a static pair of SAs, one each way, with fixed keys: what
// `ip xfrm state` sets up, for testing and benchmarks.
type ManualSA struct {
	Name string
	Pos  swanctl.Pos
	// Local and Remote are the outer addresses, of the same family.
	Local, Remote netip.Addr
	// Encap selects ESP-in-UDP (RFC 3948) to RemotePort rather than IP
	// protocol 50.
	Encap      bool
	RemotePort uint16
	Mode       string
	// LocalTS and RemoteTS are the inner traffic selectors; in transport
	// mode they are the outer addresses' host prefixes.
	LocalTS, RemoteTS []netip.Prefix
	Proposal          crypto.Suite
	// ReplayWindow is in packets; 0 disables replay protection.
	ReplayWindow uint32
	// The rekey_* limits are soft (report that the SA wants replacing),
	// the life_* ones hard (stop using it). Zero means no limit.
	RekeyTime, LifeTime                              time.Duration
	RekeyBytes, LifeBytes, RekeyPackets, LifePackets uint64
	// Inbound is the SA we receive on, Outbound the one we send with.
	Inbound, Outbound Keys
}

// Keys are one direction's SPI and key material.
type Keys struct {
	SPI uint32
	// EncKey includes the 4-byte salt of an AEAD (RFC 4106 §8.1,
	// RFC 7634 §4); IntegKey is empty for an AEAD.
	EncKey, IntegKey []byte
}

// Defaults, chosen to match strongSwan where it has the setting.
const (
	DefaultPortNATT     = 4500
	DefaultFwMark       = 0xe5d
	DefaultRouteTable   = 3677
	DefaultLogLevel     = "info"
	DefaultTunName      = "espd0"
	DefaultMTU          = 1400
	DefaultReplayWindow = 32
	DefaultRemotePort   = 4500
	// strongSwan's charon.cookie_threshold, half_open_timeout,
	// retransmit_timeout and retransmit_tries.
	DefaultCookieThreshold   = 30
	DefaultHalfOpenTimeout   = 30 * time.Second
	DefaultRetransmitTimeout = 4 * time.Second
	DefaultRetransmitTries   = 5
)

// ErrInvalid matches every *Error with errors.Is.
var ErrInvalid = errors.New("config: invalid configuration")

// Error is an invalid value: where it is, which key, and why.
type Error struct {
	Pos swanctl.Pos
	// Key is the dotted path, such as espd.manual.site.inbound.spi.
	Key    string
	Reason string
}

func (e *Error) Error() string { return e.Pos.String() + ": " + e.Key + ": " + e.Reason }

func (e *Error) Is(target error) bool { return target == ErrInvalid }

// Warning is a setting espd ignores.
type Warning struct {
	Pos swanctl.Pos
	Key string
	// Msg reads as a sentence, such as "unknown key espd.tun.foo (ignored)".
	Msg string
}

func (w Warning) String() string { return w.Pos.String() + ": " + w.Msg }

// Load reads and checks the configuration file at path and the files it
// includes.
//
// A syntax error is a *swanctl.SyntaxError. Invalid values are reported
// all at once: the error is an errors.Join of one *Error per problem. When
// the syntax was valid, the returned File is non-nil even with an error,
// so that its Warnings (an unknown key is often a misspelt one) can be
// shown next to the errors; its settings must not be used then.
func Load(path string) (*File, error) {
	root, err := swanctl.ParseFile(path)
	if err != nil {
		return nil, err
	}
	return decode(root)
}

// Parse is Load for data that was read already; name is used in messages
// and to resolve include statements.
func Parse(name string, data []byte) (*File, error) {
	root, err := swanctl.Parse(name, data)
	if err != nil {
		return nil, err
	}
	return decode(root)
}

// sharedSections are swanctl.conf's own top-level sections; all but pools
// are decoded.
var sharedSections = map[string]bool{
	"connections": true,
	"secrets":     true,
	"pools":       true,
	"authorities": true,
}

func decode(root *swanctl.Section) (*File, error) {
	d := &decoder{}
	f := &File{Raw: root}
	for _, kv := range root.Keys {
		d.warn(kv.Pos, kv.Key, "unknown key "+kv.Key+" (ignored)")
	}
	espd := &swanctl.Section{Pos: root.Pos}
	shared := newSharedDecoder(d, root)
	for _, s := range root.Sections {
		switch {
		case s.Name == "espd":
			espd = s
		case s.Name == "connections":
			f.Connections = shared.connections(s)
		case s.Name == "secrets":
			f.Secrets = shared.secrets(s)
		case s.Name == "authorities":
			f.Authorities = shared.authorities(s)
		case !sharedSections[s.Name]:
			d.warn(s.Pos, s.Name, "unknown section "+s.Name+" (ignored)")
		}
	}
	f.Espd = d.espd(espd)
	sortByPos(d.errs, func(err error) swanctl.Pos { return err.(*Error).Pos })
	sortByPos(d.warnings, func(w Warning) swanctl.Pos { return w.Pos })
	f.Warnings = d.warnings
	return f, errors.Join(d.errs...)
}

// sortByPos puts messages in the order a reader meets them: by line within
// a file, files in the order they first appear (an included file's
// messages stay together).
func sortByPos[T any](list []T, pos func(T) swanctl.Pos) {
	fileRank := map[string]int{}
	for _, item := range list {
		if _, ok := fileRank[pos(item).File]; !ok {
			fileRank[pos(item).File] = len(fileRank)
		}
	}
	slices.SortStableFunc(list, func(a, b T) int {
		pa, pb := pos(a), pos(b)
		if c := cmp.Compare(fileRank[pa.File], fileRank[pb.File]); c != 0 {
			return c
		}
		return cmp.Compare(pa.Line, pb.Line)
	})
}

// decoder collects every error and warning of one file, so that a user
// fixes them in one round.
type decoder struct {
	errs     []error
	warnings []Warning
}

func (d *decoder) fail(pos swanctl.Pos, key, reason string) {
	d.errs = append(d.errs, &Error{Pos: pos, Key: key, Reason: reason})
}

func (d *decoder) warn(pos swanctl.Pos, key, msg string) {
	d.warnings = append(d.warnings, Warning{Pos: pos, Key: key, Msg: msg})
}

// reader walks one section, remembering which keys and subsections it
// asked for, so that done can warn about the rest.
type reader struct {
	d    *decoder
	s    *swanctl.Section
	path string
	used map[string]bool
}

func (d *decoder) reader(s *swanctl.Section, path string) *reader {
	if len(s.References) > 0 {
		d.fail(s.Pos, path, "section references (\""+s.Name+" : "+strings.Join(s.References, ", ")+
			"\") are not supported in the espd section; write the settings out")
	}
	return &reader{d: d, s: s, path: path, used: map[string]bool{}}
}

func (r *reader) keyPath(name string) string { return r.path + "." + name }

// key returns the assignment of name, or nil if it is absent or empty (an
// empty assignment selects the default, as in strongSwan).
func (r *reader) key(name string) *swanctl.KeyValue {
	r.used["key "+name] = true
	kv := r.s.Key(name)
	if kv == nil || kv.Value == "" {
		return nil
	}
	return kv
}

func (r *reader) sub(name string) *swanctl.Section {
	r.used["section "+name] = true
	return r.s.Sub(name)
}

func (r *reader) fail(kv *swanctl.KeyValue, reason string) {
	r.d.fail(kv.Pos, r.keyPath(kv.Key), reason)
}

// failMissing reports a required key or section that is absent, at the
// section that should have it.
func (r *reader) failMissing(name, reason string) {
	pos := r.s.Pos
	if kv := r.s.Key(name); kv != nil {
		pos = kv.Pos // assigned, but empty
	}
	r.d.fail(pos, r.keyPath(name), reason)
}

func (r *reader) done() {
	for _, kv := range r.s.Keys {
		if !r.used["key "+kv.Key] {
			r.d.warn(kv.Pos, r.keyPath(kv.Key), "unknown key "+r.keyPath(kv.Key)+" (ignored)")
		}
	}
	for _, s := range r.s.Sections {
		if !r.used["section "+s.Name] {
			r.d.warn(s.Pos, r.keyPath(s.Name), "unknown section "+r.keyPath(s.Name)+" (ignored)")
		}
	}
}

// number reads an integer key within [min, max].
func (r *reader) number(name string, min, max uint64) (uint64, bool) {
	kv := r.key(name)
	if kv == nil {
		return 0, false
	}
	n, err := parseNumber(kv.Value)
	if err != nil {
		r.fail(kv, err.Error())
		return 0, false
	}
	if n < min || n > max {
		r.fail(kv, rangeReason(n, min, max))
		return 0, false
	}
	return n, true
}

func rangeReason(n, min, max uint64) string {
	return "must be between " + formatUint(min) + " and " + formatUint(max) + ", not " + formatUint(n)
}
