package main

import (
	"fmt"
	"net/netip"

	"github.com/espd/espd/esp/installer"
	"github.com/espd/espd/ike"
	"github.com/espd/espd/internal/config"
	"github.com/espd/espd/internal/swanctl"
)

// espd's "default" proposals: AEADs and elliptic curves first, then what an
// older strongSwan peer is sure to have (its own default starts with
// aes128-sha256-modp3072; modp2048 is the common ground).
var (
	defaultIKEProposals = []string{
		"aes128gcm16-prfsha256-x25519", "aes256gcm16-prfsha384-ecp384",
		"chacha20poly1305-prfsha256-x25519", "aes256-sha256-modp2048", "aes128-sha256-modp2048",
	}
	defaultESPProposals = []string{"aes128gcm16", "aes256gcm16", "chacha20poly1305", "aes256-sha256", "aes128-sha256"}
)

// ikeConnections turns the file's connections into the IKE engine's. A
// connection espd cannot run yet (say, certificate authentication) is an
// error that names its place in the file.
func ikeConnections(f *config.File) ([]ike.Config, error) {
	var out []ike.Config
	for i := range f.Connections {
		c, err := ikeConnection(f, &f.Connections[i])
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

func ikeConnection(f *config.File, c *config.Connection) (ike.Config, error) {
	fail := func(pos swanctl.Pos, key, format string, args ...any) (ike.Config, error) {
		return ike.Config{}, &config.Error{Pos: pos, Key: "connections." + c.Name + "." + key, Reason: fmt.Sprintf(format, args...)}
	}
	out := ike.Config{
		Name:            c.Name,
		ForceEncap:      c.Encap,
		NATPort:         f.Espd.PortNATT,
		RekeyTime:       c.RekeyTime,
		DPDDelay:        c.DPDDelay,
		NoFragmentation: c.NoFragmentation,
		// The daemon-wide settings of espd.ike, which strongSwan keeps in
		// strongswan.conf.
		HalfOpenTimeout: f.Espd.IKE.HalfOpenTimeout,
		Retransmit: ike.RetransmitConfig{
			Timeout: f.Espd.IKE.RetransmitTimeout,
			Base:    ike.DefaultRetransmit.Base,
			Tries:   f.Espd.IKE.RetransmitTries,
		},
	}
	out.Local = netip.AddrPortFrom(firstAddr(c.LocalAddrs), c.LocalPort)
	out.Remote = netip.AddrPortFrom(firstAddr(c.RemoteAddrs), c.RemotePort)
	for _, p := range c.Proposals {
		if p.Default {
			out.Proposals = append(out.Proposals, defaultIKEProposals...)
		} else {
			out.Proposals = append(out.Proposals, p.Suite.String())
		}
	}
	var err error
	if out.LocalID, err = engineIdentity(c.Local.ID); err != nil {
		return fail(c.Local.Pos, c.Local.Section+".id", "%v", err)
	}
	if out.RemoteID, err = engineIdentity(c.Remote.ID); err != nil {
		return fail(c.Remote.Pos, c.Remote.Section+".id", "%v", err)
	}
	if err := configureAuth(f, c, &out); err != nil {
		return ike.Config{}, err
	}
	for _, ch := range c.Children {
		child := ike.ChildConfig{
			Name: ch.Name, ReplayWindow: ch.ReplayWindow,
			RekeyTime: ch.RekeyTime, LifeTime: ch.LifeTime,
			RekeyBytes: ch.RekeyBytes, LifeBytes: ch.LifeBytes, RekeyPackets: ch.RekeyPackets, LifePackets: ch.LifePackets,
			// The two Action types share their values, strongSwan's.
			StartAction: ike.Action(ch.StartAction), DPDAction: ike.Action(ch.DPDAction), CloseAction: ike.Action(ch.CloseAction),
		}
		if ch.ReplayWindow == 0 {
			// replay_window = 0 disables the check; the engine's 0 means
			// the default, so ask for the smallest window instead.
			child.ReplayWindow = 1
		}
		if ch.Mode == config.ModeTransport {
			child.Mode = installer.Transport
		}
		for _, p := range ch.ESPProposals {
			if p.Default {
				child.ESPProposals = append(child.ESPProposals, defaultESPProposals...)
			} else {
				child.ESPProposals = append(child.ESPProposals, p.Suite.String())
			}
		}
		if child.LocalTS, child.LocalDynamic, err = enginePrefixes(ch.LocalTS); err != nil {
			return fail(ch.Pos, "children."+ch.Name+".local_ts", "%v", err)
		}
		if child.RemoteTS, child.RemoteDynamic, err = enginePrefixes(ch.RemoteTS); err != nil {
			return fail(ch.Pos, "children."+ch.Name+".remote_ts", "%v", err)
		}
		out.Children = append(out.Children, child)
	}
	if len(out.Children) == 0 {
		return fail(c.Pos, "children", "a connection needs at least one child for espd to carry traffic")
	}
	return out, nil
}

// firstAddr is the address to initiate to or from: the first literal
// address; %any, subnets and ranges give none (respond only).
func firstAddr(hosts []config.HostSpec) netip.Addr {
	for _, h := range hosts {
		if h.Kind == config.HostAddr {
			return h.Addr
		}
	}
	return netip.Addr{}
}

// findPSK picks the secret strongSwan would: one whose owners include both
// identities beats one that names either, which beats one without owners.
func findPSK(keys []config.SharedKey, local, remote config.Identity) ([]byte, bool) {
	best, bestScore := []byte(nil), -1
	for _, k := range keys {
		score := 0
		if len(k.IDs) > 0 {
			for _, id := range k.IDs {
				if id.Text == local.Text && local.Text != "" {
					score += 2
				}
				if id.Text == remote.Text && remote.Text != "" {
					score += 2
				}
			}
			if score == 0 {
				continue
			}
		}
		if score > bestScore {
			best, bestScore = k.Secret.Bytes(), score
		}
	}
	return best, bestScore >= 0
}

// enginePrefixes turns traffic selectors into prefixes, and says whether
// "dynamic" (this end's or the peer's IKE address, resolved per SA) is
// among them. Port and protocol selectors and ranges that are no prefix
// are not supported by the data plane yet.
func enginePrefixes(ts []config.TrafficSelector) (out []netip.Prefix, dynamic bool, err error) {
	for _, t := range ts {
		if t.Protocol != 0 || t.StartPort != 0 || t.EndPort != 65535 {
			return nil, false, fmt.Errorf("%v: protocol and port selectors are not supported yet", t)
		}
		if t.Dynamic {
			dynamic = true
			continue
		}
		p, ok := t.Prefix()
		if !ok {
			return nil, false, fmt.Errorf("%v: address ranges that are not a subnet are not supported yet", t)
		}
		out = append(out, p)
	}
	return out, dynamic, nil
}
