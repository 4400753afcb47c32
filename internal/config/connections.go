package config

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/espd/espd/crypto"
	"github.com/espd/espd/internal/swanctl"
)

// The swanctl.conf keys espd reads, with their defaults, as strongSwan
// 5.9.8 documents them (swanctl.conf(5);
// https://docs.strongswan.org/docs/latest/swanctl/swanctlConf.html) and
// charon's vici plugin reads them (vici_config.c):
//
//	connections.<conn>
//	    version = 2               0 (either; read as 2, with a warning), 2; 1 is an error
//	    local_addrs = %any        addresses, DNS names, CIDR subnets, ranges a-b, %any/%any4/%any6
//	    remote_addrs = %any       the same; initiating needs an address or DNS name
//	    local_port = 500
//	    remote_port = 500
//	    proposals = default       IKE proposals (crypto.ParseIKEProposal) or default
//	    encap = no
//	    mobike = yes
//	    fragmentation = yes       yes, accept, force (read as yes), no
//	    dpd_delay = 0s
//	    rekey_time = 4h           0 if only reauth_time is set
//	    reauth_time = 0s
//	    over_time                 10% of the longer of rekey_time and reauth_time
//	    local<suffix> { }         required, one; remote<suffix> { } likewise:
//	        auth = pubkey         psk, pubkey, or constraints: rsa/pss, ecdsa-256,
//	                              rsa-2048-sha256, ike:ed25519, pubkey-sha384-sha256 ...
//	        id                    IP address, FQDN, email, DN, "@#hex" key ID (quoted:
//	                              '#' starts a comment), type:value; wildcards in remote
//	        certs, pubkeys, cacerts   file lists, relative to swanctl's directories
//	    children.<child>
//	        local_ts = dynamic    subnets, ranges, dynamic, each with [proto/port]
//	        remote_ts = dynamic
//	        esp_proposals = default   ESP proposals (crypto.ParseESPProposal) or default
//	        mode = tunnel         tunnel, transport
//	        start_action = none   none, trap, start, trap|start
//	        dpd_action = clear    clear, trap, restart
//	        close_action = none   none, trap, start
//	        rekey_time = 1h
//	        life_time             rekey_time + 10%
//	        rekey_bytes = 0       life_bytes: rekey_bytes + 10%
//	        rekey_packets = 0     life_packets: rekey_packets + 10%
//	        replay_window = 32    0 to 65536
//
// strongSwan's other keys are warned about and ignored; unknown keys too
// (which swanctl refuses, so a file with warnings may not load there).

// Connection is one connections.<name> section: an IKE_SA with a peer and
// the CHILD_SAs to set up under it (swanctl.conf(5), connections).
type Connection struct {
	Name string
	Pos  swanctl.Pos
	// Version is the IKE major version. espd speaks IKEv2 only, so it is
	// 2; a file's 0 ("any", strongSwan's default) is read as 2.
	Version int
	// LocalAddrs and RemoteAddrs are where IKE runs. Empty means %any. As
	// initiator, the first Specific entry is used; as responder, the
	// packet's addresses must match one entry.
	LocalAddrs, RemoteAddrs []HostSpec
	// LocalPort and RemotePort are the IKE ports (500); with NAT traversal
	// IKE moves to 4500 from 500 (RFC 7296 §2.23).
	LocalPort, RemotePort uint16
	// Proposals are the IKE proposals in order of preference.
	Proposals []IKEProposal
	// Encap forces UDP encapsulation of ESP by faking the NAT detection
	// payloads (RFC 7296 §2.23), as strongSwan's encap = yes does.
	Encap bool
	// Mobike enables MOBIKE (RFC 4555); it is on unless the file says no.
	Mobike bool
	// NoFragmentation turns IKE fragmentation (RFC 7383) off
	// (fragmentation = no).
	NoFragmentation bool
	// DPDDelay is how long the peer may stay silent before espd checks
	// that it is alive with an empty INFORMATIONAL exchange; 0 disables
	// the check.
	DPDDelay time.Duration
	// RekeyTime is when the IKE_SA is rekeyed (0: never), ReauthTime when
	// it is replaced by a new one, authenticated afresh (0: never), and
	// OverTime how long a failing rekey or reauthentication may go on
	// before the IKE_SA is closed.
	RekeyTime, ReauthTime, OverTime time.Duration
	// Local is how this end authenticates, Remote what it requires of the
	// peer.
	Local, Remote AuthRound
	// Children are the CHILD_SA configurations, in file order.
	Children []Child
}

// IKEProposal is one entry of proposals.
type IKEProposal struct {
	// Default is strongSwan's "default": a set of proposals chosen by the
	// implementation, here espd's own.
	Default bool
	// Suite is the proposal, unless Default.
	Suite crypto.IKESuite
}

func (p IKEProposal) String() string {
	if p.Default {
		return "default"
	}
	return p.Suite.String()
}

// ESPProposal is one entry of esp_proposals.
type ESPProposal struct {
	// Default is strongSwan's "default", espd's own set.
	Default bool
	// Suite is the proposal, unless Default. Its DH group, if any, is used
	// for PFS when the CHILD_SA is rekeyed or created by CREATE_CHILD_SA.
	Suite crypto.Suite
}

func (p ESPProposal) String() string {
	if p.Default {
		return "default"
	}
	return p.Suite.String()
}

// AuthMethod is how one end authenticates.
type AuthMethod uint8

// The methods espd supports (swanctl.conf(5), local auth).
const (
	// AuthPubkey is a signature with a private key whose public key is in
	// a certificate or configured raw (RFC 7296 §2.15, RFC 7427).
	AuthPubkey AuthMethod = iota + 1
	// AuthPSK is a pre-shared key from the secrets section.
	AuthPSK
)

func (m AuthMethod) String() string {
	switch m {
	case AuthPubkey:
		return "pubkey"
	case AuthPSK:
		return "psk"
	}
	return fmt.Sprintf("AuthMethod(%d)", uint8(m))
}

// KeyType is the key type a public key constraint names.
type KeyType string

// The key types of strongSwan's auth constraints that espd supports.
const (
	KeyAny     KeyType = "pubkey"
	KeyRSA     KeyType = "rsa"
	KeyRSAPSS  KeyType = "rsa/pss"
	KeyECDSA   KeyType = "ecdsa"
	KeyEd25519 KeyType = "ed25519"
)

// KeyConstraint is one key type of a public key auth value, such as the
// "rsa-2048-sha256" and "ecdsa-256-sha384" of
// "rsa-2048-sha256-ecdsa-256-sha384".
type KeyConstraint struct {
	// IKE marks an "ike:" constraint, which applies only to the IKE_AUTH
	// signature (RFC 7427); the others apply to the certificate chain and,
	// unless some constraint has the prefix, to the signature as well.
	IKE  bool
	Type KeyType
	// MinBits is the minimum key size ("rsa-2048"); 0 for any.
	MinBits int
	// Hashes are the acceptable signature hashes, in order of preference:
	// sha256, sha384, sha512, and identity for Ed25519 (RFC 8420).
	Hashes []string
}

// AuthRound is a local<suffix> or remote<suffix> section. espd supports
// one round on each side (no RFC 4739 multiple authentication).
type AuthRound struct {
	// Section is the section's name: local, local-1, remote and so on.
	Section string
	Pos     swanctl.Pos
	Method  AuthMethod
	// Auth is the auth value as written, such as "pubkey" or "rsa/pss".
	Auth string
	// Constraints are the key types and hashes the auth value names, in
	// order; empty for psk and a plain pubkey.
	Constraints []KeyConstraint
	// ID is the identity this end uses (local) or requires (remote; it may
	// have wildcards). Its Type is IDAny and its Text empty if the file
	// gives none: then strongSwan uses the certificate's subject or the IP
	// address (local) and accepts any identity (remote).
	ID Identity
	// Certs, Pubkeys and CACerts are certificate and public key files,
	// relative to swanctl's x509, pubkey and x509ca directories (under the
	// configuration file's directory) or absolute, as swanctl reads them,
	// or 0x/0s-prefixed inline data. espd does not read them yet.
	Certs, Pubkeys, CACerts []string
}

// Action is what to do with a CHILD_SA at start-up, on DPD timeout or
// when the peer closes it.
type Action uint8

// The actions, which may be combined as strongSwan's "trap|start".
const (
	// ActionNone does nothing (strongSwan's none, clear).
	ActionNone Action = 0
	// ActionTrap waits for traffic that matches the selectors, then sets
	// the CHILD_SA up (trap, route).
	ActionTrap Action = 1 << 0
	// ActionStart sets the CHILD_SA up at once (start, restart).
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

// Child is one connections.<conn>.children.<name> section: a CHILD_SA
// configuration.
type Child struct {
	Name string
	Pos  swanctl.Pos
	// LocalTS and RemoteTS are the traffic selectors this end proposes; a
	// responder may narrow them (RFC 7296 §2.9). They default to dynamic.
	LocalTS, RemoteTS []TrafficSelector
	ESPProposals      []ESPProposal
	// Mode is ModeTunnel or ModeTransport.
	Mode string
	// StartAction is done when the configuration is loaded, DPDAction when
	// DPD finds the peer gone, CloseAction when the peer closes the
	// CHILD_SA.
	StartAction, DPDAction, CloseAction Action
	// RekeyTime, RekeyBytes and RekeyPackets are the soft limits (start a
	// rekey), LifeTime, LifeBytes and LifePackets the hard ones (delete the
	// SA). Zero is no limit. Unless the file sets them, a hard limit is
	// its soft one plus 10%, as in strongSwan.
	RekeyTime, LifeTime                              time.Duration
	RekeyBytes, LifeBytes, RekeyPackets, LifePackets uint64
	// ReplayWindow is in packets; 0 disables replay protection.
	ReplayWindow uint32
}

// Defaults of the swanctl.conf keys (swanctl.conf(5)).
const (
	DefaultIKEPort           = 500
	DefaultIKERekeyTime      = 4 * time.Hour
	DefaultChildRekeyTime    = time.Hour
	DefaultChildReplayWindow = 32
)

func (sd *sharedDecoder) connections(s *swanctl.Section) []Connection {
	r := sd.reader(s, "connections")
	defer r.done()
	var conns []Connection
	for _, sub := range r.s.Sections {
		r.sub(sub.Name)
		if conn, ok := sd.connection(sub); ok {
			conns = append(conns, conn)
		}
	}
	return conns
}

// connection decodes one connections.<name> section; ok is false if it
// has an error.
func (sd *sharedDecoder) connection(s *swanctl.Section) (c Connection, ok bool) {
	errsBefore := len(sd.errs)
	path := "connections." + s.Name
	r := sd.reader(s, path)
	defer r.done()
	c = Connection{Name: s.Name, Pos: s.Pos, Version: 2, LocalPort: DefaultIKEPort, RemotePort: DefaultIKEPort}

	if n, kv, ok := readValue(r, "version", parseNumber); ok {
		switch n {
		case 0:
			sd.warn(kv.Pos, r.keyPath("version"), r.keyPath("version")+" = 0 (IKEv1 or IKEv2) is read as 2: espd speaks IKEv2 only")
		case 1:
			r.fail(kv, "IKEv1 is not supported yet (want 2)")
		case 2:
		default:
			r.fail(kv, fmt.Sprintf("unknown IKE version %d (want 2; 0 means either and is read as 2)", n))
		}
	}
	c.LocalAddrs = r.hosts("local_addrs")
	c.RemoteAddrs = r.hosts("remote_addrs")
	if n, ok := r.uint("local_port", 1, math.MaxUint16); ok {
		c.LocalPort = uint16(n)
	}
	if n, ok := r.uint("remote_port", 1, math.MaxUint16); ok {
		c.RemotePort = uint16(n)
	}
	c.Proposals = r.ikeProposals("proposals")
	c.Encap = r.boolean("encap", false)
	c.Mobike = r.boolean("mobike", true)
	c.DPDDelay, _, _ = readValue(r, "dpd_delay", parseDuration)
	c.RekeyTime, c.ReauthTime, c.OverTime = ikeLifetimes(r)
	// strongSwan's fragmentation: yes (the default) and accept offer and
	// use IKE fragmentation (RFC 7383); force also fragments IKE_SA_INIT,
	// which espd does not, so it is read as yes with a warning.
	if v, kv, ok := r.keyword("fragmentation", map[string]string{"yes": "yes", "accept": "yes", "force": "force", "no": "no"},
		"yes, accept, force or no"); ok {
		c.NoFragmentation = v == "no"
		if v == "force" {
			sd.warn(kv.Pos, path+".fragmentation", path+".fragmentation = force: espd does not fragment IKE_SA_INIT; read as yes")
		}
	}

	var locals, remotes []*swanctl.Section
	var children *swanctl.Section
	for _, sub := range r.s.Sections {
		// charon matches these names without regard to case
		// (vici_config.c, peer_sn).
		name := strings.ToLower(sub.Name)
		switch {
		case name == "children":
			r.sub(sub.Name)
			children = sub
		case strings.HasPrefix(name, "local"):
			r.sub(sub.Name)
			locals = append(locals, sub)
		case strings.HasPrefix(name, "remote"):
			r.sub(sub.Name)
			remotes = append(remotes, sub)
		}
	}
	c.Local = sd.authRound(r, locals, "local", "how this end authenticates: auth = psk or pubkey, with its id and certs")
	c.Remote = sd.authRound(r, remotes, "remote", "what the peer must authenticate with: auth = psk or pubkey, with its id")

	if children != nil {
		cr := sd.reader(children, path+".children")
		for _, sub := range cr.s.Sections {
			cr.sub(sub.Name)
			if child, ok := sd.child(sub, path+".children."+sub.Name, c); ok {
				c.Children = append(c.Children, child)
			}
		}
		cr.done()
	}

	r.unsupported("vips", "aggressive", "pull", "dscp", "dpd_timeout", "childless",
		"send_certreq", "send_cert", "ppk_id", "ppk_required", "keyingtries", "unique", "rand_time",
		"pools", "if_id_in", "if_id_out", "mediation", "mediated_by", "mediation_peer")
	return c, len(sd.errs) == errsBefore
}

// hosts reads local_addrs or remote_addrs.
func (r *reader) hosts(name string) []HostSpec {
	kv, items := r.list(name)
	var hosts []HostSpec
	for _, item := range items {
		h, err := parseHostSpec(item)
		if err != nil {
			r.fail(kv, err.Error())
			return nil
		}
		hosts = append(hosts, h)
	}
	return hosts
}

// ikeLifetimes applies charon's defaults (vici_config.c, config_sn): IKE
// rekeying every 4 hours unless reauth_time is set, in which case rekeying
// is off unless rekey_time is set too; over_time 10% of the longer of the
// two.
func ikeLifetimes(r *reader) (rekey, reauth, over time.Duration) {
	rekey, rekeyKV, _ := readValue(r, "rekey_time", parseDuration)
	reauth, reauthKV, _ := readValue(r, "reauth_time", parseDuration)
	if rekeyKV == nil && reauthKV == nil {
		rekey = DefaultIKERekeyTime
	}
	over, _, overSet := readValue(r, "over_time", parseDuration)
	if !overSet {
		over = max(rekey, reauth) / 10
	}
	return rekey, reauth, over
}

// ikeProposals reads proposals: strongSwan IKE proposals or "default".
// Empty, it is the default.
func (r *reader) ikeProposals(name string) []IKEProposal {
	kv, items := r.list(name)
	if kv == nil {
		return []IKEProposal{{Default: true}}
	}
	var proposals []IKEProposal
	for _, item := range items {
		if strings.EqualFold(item, "default") {
			proposals = append(proposals, IKEProposal{Default: true})
			continue
		}
		suite, err := crypto.ParseIKEProposal(item)
		if err != nil {
			r.fail(kv, strings.TrimPrefix(err.Error(), "crypto: "))
			return nil
		}
		proposals = append(proposals, IKEProposal{Suite: suite})
	}
	return proposals
}

// espProposals reads esp_proposals.
func (r *reader) espProposals(name string) []ESPProposal {
	kv, items := r.list(name)
	if kv == nil {
		return []ESPProposal{{Default: true}}
	}
	var proposals []ESPProposal
	for _, item := range items {
		if strings.EqualFold(item, "default") {
			proposals = append(proposals, ESPProposal{Default: true})
			continue
		}
		suite, err := crypto.ParseESPProposal(item)
		if err != nil {
			r.fail(kv, strings.TrimPrefix(err.Error(), "crypto: "))
			return nil
		}
		proposals = append(proposals, ESPProposal{Suite: suite})
	}
	return proposals
}

// authRound decodes the one local or remote section of a connection.
func (sd *sharedDecoder) authRound(conn *reader, rounds []*swanctl.Section, side, what string) AuthRound {
	if len(rounds) == 0 {
		sd.fail(conn.s.Pos, conn.keyPath(side), "required section: "+what)
		return AuthRound{}
	}
	for _, extra := range rounds[1:] {
		sd.fail(extra.Pos, conn.keyPath(extra.Name), fmt.Sprintf(
			"espd supports one %s authentication round, here %s (RFC 4739 multiple authentication is not supported)",
			side, rounds[0].Name))
	}
	s := rounds[0]
	r := sd.reader(s, conn.keyPath(s.Name))
	defer r.done()
	a := AuthRound{Section: s.Name, Pos: s.Pos, Method: AuthPubkey, Auth: string(KeyAny)}
	if kv := r.key("auth"); kv != nil {
		method, constraints, err := parseAuth(kv.Value)
		if err != nil {
			r.fail(kv, err.Error())
		} else {
			a.Method, a.Auth, a.Constraints = method, kv.Value, constraints
		}
	}
	if kv := r.key("id"); kv != nil {
		id, err := parseIdentity(kv.Value)
		switch {
		case err != nil:
			r.fail(kv, err.Error())
		case side == "local" && id.Wildcard():
			r.fail(kv, fmt.Sprintf("%q has a wildcard, which only a remote id may have", kv.Value))
		default:
			a.ID = id
		}
	}
	_, a.Certs = r.list("certs")
	_, a.Pubkeys = r.list("pubkeys")
	_, a.CACerts = r.list("cacerts")
	if a.Method == AuthPSK {
		for _, name := range []string{"certs", "pubkeys", "cacerts"} {
			if kv := r.s.Key(name); kv != nil && kv.Value != "" {
				sd.warn(kv.Pos, r.keyPath(name), r.keyPath(name)+" has no use with auth = psk (ignored)")
			}
		}
	}
	r.unsupported("round", "eap_id", "aaa_id", "xauth_id", "groups", "cert_policy", "ca_id", "revocation")
	for _, sub := range r.s.Sections {
		name := strings.ToLower(sub.Name)
		if strings.HasPrefix(name, "cert") || strings.HasPrefix(name, "cacert") {
			r.sub(sub.Name)
			sd.warn(sub.Pos, r.keyPath(sub.Name), r.keyPath(sub.Name)+" (a certificate on a token or by path) is not supported by espd yet (ignored)")
		}
	}
	return a
}

// parseAuth reads an auth value as charon's parse_auth and auth_cfg.c's
// add_pubkey_constraints do, for the methods espd has: psk, and public
// key authentication with optional constraints, such as pubkey, rsa/pss,
// ecdsa-256, rsa-2048-sha256, ike:ed25519 or pubkey-sha384-sha256.
// strongSwan logs and skips a token it does not know; that is an error
// here.
func parseAuth(v string) (AuthMethod, []KeyConstraint, error) {
	lower := strings.ToLower(v)
	switch {
	case lower == "psk":
		return AuthPSK, nil, nil
	case strings.HasPrefix(lower, "eap"), strings.HasPrefix(lower, "xauth"):
		return 0, nil, fmt.Errorf("%q: EAP and XAuth authentication are not supported by espd (want psk or pubkey)", v)
	case strings.HasPrefix(v, "bliss"), strings.HasPrefix(v, "ike:bliss"):
		return 0, nil, fmt.Errorf("%q: BLISS keys are not supported by espd", v)
	case !strings.HasPrefix(v, "ike:") && !strings.HasPrefix(v, "pubkey") &&
		!strings.HasPrefix(v, "rsa") && !strings.HasPrefix(v, "ecdsa"):
		// charon takes exactly these prefixes for public key
		// authentication: "ed25519" on its own fails to load (write
		// pubkey or ike:ed25519).
		return 0, nil, fmt.Errorf("unknown auth method %q (want psk, pubkey, or a key type constraint such as rsa/pss, ecdsa-256 or ike:ed25519)", v)
	}
	if len(v) > 63 {
		return 0, nil, fmt.Errorf("%q is longer than the 63 characters strongSwan reads", v)
	}
	var constraints []KeyConstraint
	var current *KeyConstraint
	expectBits := false
	for _, token := range strings.Split(v, "-") {
		if expectBits {
			expectBits = false
			if bits, err := parseNumber(token); err == nil {
				if bits == 0 || bits > 16384 {
					return 0, nil, fmt.Errorf("%q: key size %s is out of range", v, token)
				}
				current.MinBits = int(bits)
				continue
			}
		}
		ike := strings.HasPrefix(token, "ike:")
		switch t := KeyType(strings.TrimPrefix(token, "ike:")); t {
		case KeyAny, KeyRSA, KeyRSAPSS, KeyECDSA, KeyEd25519:
			constraints = append(constraints, KeyConstraint{IKE: ike, Type: t})
			current = &constraints[len(constraints)-1]
			expectBits = t == KeyRSA || t == KeyRSAPSS || t == KeyECDSA
			continue
		case "ed448":
			return 0, nil, fmt.Errorf("%q: Ed448 keys are not supported by espd", v)
		}
		if current == nil {
			return 0, nil, fmt.Errorf("%q: %q comes before any key type (pubkey, rsa, rsa/pss, ecdsa, ed25519)", v, token)
		}
		switch token {
		case "sha256", "sha384", "sha512":
			if current.Type == KeyEd25519 {
				return 0, nil, fmt.Errorf("%q: Ed25519 signs without a separate hash; use identity, not %s", v, token)
			}
		case "identity":
			if current.Type != KeyEd25519 && current.Type != KeyAny {
				return 0, nil, fmt.Errorf("%q: identity (no hash) applies only to Ed25519 keys, not %s", v, current.Type)
			}
		case "md5", "sha1", "sha224":
			return 0, nil, fmt.Errorf("%q: %s signatures are not supported by espd (want sha256, sha384 or sha512)", v, token)
		default:
			return 0, nil, fmt.Errorf("%q: unknown token %q (want a key type, a key size or sha256, sha384, sha512, identity)", v, token)
		}
		current.Hashes = append(current.Hashes, token)
	}
	// A bare "pubkey" constrains nothing.
	if len(constraints) == 1 && constraints[0].Type == KeyAny && !constraints[0].IKE && len(constraints[0].Hashes) == 0 {
		constraints = nil
	}
	return AuthPubkey, constraints, nil
}

var childModes = map[string]string{
	"tunnel": ModeTunnel, "transport": ModeTransport,
	"transport_proxy": "transport_proxy", "beet": "beet", "pass": "pass", "drop": "drop",
}

// child decodes one CHILD_SA section; ok is false if it has an error.
func (sd *sharedDecoder) child(s *swanctl.Section, path string, conn Connection) (ch Child, ok bool) {
	errsBefore := len(sd.errs)
	r := sd.reader(s, path)
	defer r.done()
	ch = Child{Name: s.Name, Pos: s.Pos, Mode: ModeTunnel, ReplayWindow: DefaultChildReplayWindow}
	ch.LocalTS = r.trafficSelectorList("local_ts")
	ch.RemoteTS = r.trafficSelectorList("remote_ts")
	ch.ESPProposals = r.espProposals("esp_proposals")
	if mode, kv, ok := r.keyword("mode", childModes, "tunnel or transport"); ok {
		switch mode {
		case ModeTunnel, ModeTransport:
			ch.Mode = mode
		case "pass", "drop":
			r.fail(kv, fmt.Sprintf("mode %q (a shunt policy) is not supported by espd (want tunnel or transport)", kv.Value))
		default:
			r.fail(kv, fmt.Sprintf("mode %q is not supported by espd (want tunnel or transport)", kv.Value))
		}
	}
	ch.StartAction = r.action("start_action", "none, trap, start or trap|start")
	ch.DPDAction = r.action("dpd_action", "clear, trap or restart")
	ch.CloseAction = r.action("close_action", "none, trap or start")
	if ch.StartAction != ActionNone {
		initiable := false
		for _, h := range conn.RemoteAddrs {
			initiable = initiable || h.Specific()
		}
		if !initiable {
			kv := r.s.Key("start_action")
			r.fail(kv, fmt.Sprintf("start_action = %s initiates, which needs an address or DNS name in %s.remote_addrs",
				kv.Value, "connections."+conn.Name))
		}
	}

	ch.RekeyTime, ch.LifeTime = childLimits(r, "rekey_time", "life_time", DefaultChildRekeyTime, parseDuration,
		func(d time.Duration) time.Duration {
			// In whole seconds, as charon computes it (check_lifetimes).
			secs := d / time.Second
			if secs > math.MaxInt64/time.Second/2 {
				return d
			}
			return (secs + secs/10) * time.Second
		})
	tenPercentMore := func(n uint64) uint64 {
		if n > math.MaxUint64-n/10 {
			return math.MaxUint64
		}
		return n + n/10
	}
	ch.RekeyBytes, ch.LifeBytes = childLimits(r, "rekey_bytes", "life_bytes", 0, parseBytes, tenPercentMore)
	ch.RekeyPackets, ch.LifePackets = childLimits(r, "rekey_packets", "life_packets", 0, parseNumber, tenPercentMore)
	if n, ok := r.uint("replay_window", 0, 65536); ok {
		ch.ReplayWindow = uint32(n)
	}
	r.unsupported("ah_proposals", "sha256_96", "rand_time", "rand_bytes", "rand_packets", "updown", "hostaccess",
		"policies", "policies_fwd_out", "ipcomp", "inactivity", "reqid", "priority", "interface", "mark_in",
		"mark_in_sa", "mark_out", "set_mark_in", "set_mark_out", "if_id_in", "if_id_out", "label", "label_mode",
		"tfc_padding", "hw_offload", "copy_df", "copy_ecn", "copy_dscp")
	return ch, len(sd.errs) == errsBefore
}

// trafficSelectorList reads local_ts or remote_ts; left out, it is
// dynamic.
func (r *reader) trafficSelectorList(name string) []TrafficSelector {
	kv, items := r.list(name)
	if kv == nil {
		return []TrafficSelector{{Dynamic: true, EndPort: math.MaxUint16}}
	}
	var list []TrafficSelector
	for _, item := range items {
		ts, err := parseTrafficSelector(item)
		if err != nil {
			r.fail(kv, err.Error())
			return nil
		}
		list = append(list, ts)
	}
	return list
}

var actionTokens = map[string]Action{
	"none": ActionNone, "clear": ActionNone,
	"trap": ActionTrap, "route": ActionTrap,
	"start": ActionStart, "restart": ActionStart,
}

// action reads start_action, dpd_action or close_action. charon accepts
// every spelling for each of them, and "trap|start" (vici_config.c,
// parse_action).
func (r *reader) action(name, want string) Action {
	kv := r.key(name)
	if kv == nil {
		return ActionNone
	}
	value := strings.ToLower(kv.Value)
	if a, ok := actionTokens[value]; ok {
		return a
	}
	// A combination takes only the names of the flags (enum_flags_from_string
	// with action_names), not their aliases.
	var a Action
	for _, token := range strings.Split(value, "|") {
		switch token {
		case "none":
		case "trap":
			a |= ActionTrap
		case "start":
			a |= ActionStart
		default:
			r.fail(kv, fmt.Sprintf("unknown action %q (want %s)", kv.Value, want))
			return ActionNone
		}
	}
	return a
}

// childLimits reads a soft limit and its hard limit: the soft one
// defaults to def, the hard one to the soft one plus 10% (vici_config.c,
// check_lifetimes). A hard limit must be above its soft one, unless it is
// 0 (none), or the SA would expire before it is rekeyed.
func childLimits[T uint64 | time.Duration](r *reader, soft, hard string, def T, parse func(string) (T, error), plus10 func(T) T) (T, T) {
	softValue, softKV, softOK := readValue(r, soft, parse)
	if !softOK {
		softValue = def
	}
	hardValue, hardKV, hardOK := readValue(r, hard, parse)
	if !hardOK {
		hardValue = plus10(softValue)
	}
	if softKV != nil && !softOK || hardKV != nil && !hardOK {
		return softValue, hardValue // the error is reported; comparing with a default would mislead
	}
	if softValue == 0 || hardValue == 0 || softValue < hardValue {
		return softValue, hardValue
	}
	switch {
	case softKV != nil && hardKV != nil && softOK && hardOK:
		r.fail(softKV, fmt.Sprintf("%s (%s) must be less than %s (%s): the SA must be rekeyed before it expires",
			soft, softKV.Value, hard, hardKV.Value))
	case hardOK:
		r.fail(hardKV, fmt.Sprintf("%s (%s) must be more than %s (%v, the default): the SA must be rekeyed before it expires",
			hard, hardKV.Value, soft, formatLimit(softValue)))
	case softOK:
		r.fail(softKV, fmt.Sprintf("%s (%s) is too small: %s, its default of %s plus 10%%, comes out the same, so the SA would expire before it is rekeyed",
			soft, softKV.Value, hard, soft))
	}
	return softValue, hardValue
}

func formatLimit[T uint64 | time.Duration](v T) string {
	if d, ok := any(v).(time.Duration); ok {
		return d.String()
	}
	return formatUint(uint64(v))
}
