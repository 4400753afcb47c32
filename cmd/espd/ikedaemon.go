package main

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/espd/espd/esp/installer"
	"github.com/espd/espd/ike"
	"github.com/espd/espd/internal/config"
	"github.com/espd/espd/tun"
)

// routingInstaller is the Installer the IKE engine and the manual SAs
// use: the data plane, plus the routes that send the remote selectors of
// each outbound SA into the TUN (what strongSwan's updown and
// kernel-netlink routes do). In tunnel mode a route's source is the TUN
// address inside the local selector; in transport mode the inner packet is
// the host's own, so it is the outer address. Routes are
// reference-counted by the Router, so a rekey's second SA and the first's
// deletion leave the route in place.
type routingInstaller struct {
	installer.Installer
	router   *tun.Router
	tunAddrs []netip.Prefix
	log      *zap.Logger

	mu     sync.Mutex
	routed map[uint32][]netip.Prefix // outbound SPI -> routes added for it
}

func newRoutingInstaller(dp installer.Installer, r *tun.Router, tunAddrs []netip.Prefix, log *zap.Logger) *routingInstaller {
	return &routingInstaller{Installer: dp, router: r, tunAddrs: tunAddrs, log: log, routed: map[uint32][]netip.Prefix{}}
}

func (ri *routingInstaller) Add(p installer.SAParams) error {
	if err := ri.Installer.Add(p); err != nil {
		return err
	}
	if p.Direction != installer.Outbound {
		return nil
	}
	var added []netip.Prefix
	for _, dst := range p.RemoteTS {
		src := p.Local.Addr()
		if p.Mode == installer.Tunnel {
			src = tun.SourceForRoute(ri.tunAddrs, p.LocalTS, dst)
		}
		if err := ri.router.AddRoute(dst, src); err != nil {
			for _, a := range added {
				ri.router.RemoveRoute(a)
			}
			ri.Installer.Delete(p.SPI, p.Direction)
			return fmt.Errorf("route %v into the TUN: %w", dst, err)
		}
		added = append(added, dst)
	}
	ri.mu.Lock()
	ri.routed[p.SPI] = added
	ri.mu.Unlock()
	return nil
}

func (ri *routingInstaller) Delete(spi uint32, dir installer.Direction) error {
	err := ri.Installer.Delete(spi, dir)
	if dir == installer.Outbound {
		ri.mu.Lock()
		routes := ri.routed[spi]
		delete(ri.routed, spi)
		ri.mu.Unlock()
		for _, dst := range routes {
			if rerr := ri.router.RemoveRoute(dst); rerr != nil {
				ri.log.Warn("could not remove a route", zap.Stringer("dst", dst), zap.Error(rerr))
			}
		}
	}
	return err
}

// ikeEvents passes the data plane's events to the IKE Manager once it
// exists; before, and for manual SAs, they are logged.
type ikeEvents struct {
	log     *zap.Logger
	manager atomic.Pointer[ike.Manager]
}

// pass hands an event to IKE off the data plane's goroutine: the events
// must not block, and a rekey takes a key exchange.
func (e *ikeEvents) pass(ev ike.DataplaneEvent) {
	m := e.manager.Load()
	if m == nil {
		return
	}
	go m.HandleEvent(ev)
}

func (e *ikeEvents) SoftExpired(spi uint32, dir installer.Direction) {
	e.log.Info("SA reached its soft lifetime", zap.String("spi", fmt.Sprintf("%08x", spi)), zap.Stringer("dir", dir))
	e.pass(ike.DataplaneEvent{Kind: ike.SoftExpired, SPI: spi, Dir: dir})
}

func (e *ikeEvents) HardExpired(spi uint32, dir installer.Direction) {
	e.log.Warn("SA reached its hard lifetime and stopped", zap.String("spi", fmt.Sprintf("%08x", spi)), zap.Stringer("dir", dir))
	e.pass(ike.DataplaneEvent{Kind: ike.HardExpired, SPI: spi, Dir: dir})
}

func (e *ikeEvents) SeqNearWrap(spi uint32) {
	e.log.Warn("SA sequence number is near its wrap", zap.String("spi", fmt.Sprintf("%08x", spi)))
	e.pass(ike.DataplaneEvent{Kind: ike.SeqNearWrap, SPI: spi, Dir: installer.Outbound})
}

func (e *ikeEvents) UnknownSPI(spi uint32, from netip.AddrPort) {
	e.log.Debug("ESP for an unknown SPI", zap.String("spi", fmt.Sprintf("%08x", spi)), zap.Stringer("from", from))
}

// startActions initiates the children whose start_action includes start,
// each in the background; a failure is logged, as charon does.
func (d *daemon) startActions(f *config.File) {
	for _, c := range f.Connections {
		for _, ch := range c.Children {
			if ch.StartAction&config.ActionStart == 0 {
				continue
			}
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
				defer cancel()
				if err := d.manager.Up(ctx, ch.Name); err != nil {
					d.log.Warn("start_action = start failed", zap.String("child", ch.Name), zap.Error(err))
				}
			}()
		}
	}
}

// closeIKE deletes every IKE SA on shutdown, so that peers do not wait
// for DPD to notice (RFC 7296 §1.4.1).
func (d *daemon) closeIKE() {
	d.manager.CloseAll(5 * time.Second)
}

// up is the control socket's "up NAME".
func (d *daemon) up(name string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return d.manager.Up(ctx, name)
}

// rekey is the control socket's "rekey NAME".
func (d *daemon) rekey(name string) error {
	return d.manager.Rekey(name)
}

// down is the control socket's "down NAME".
func (d *daemon) down(name string) error {
	return d.manager.Down(name)
}

// reload reads the configuration file again and replaces the connections;
// established SAs keep theirs, as with swanctl --load-conns.
func (d *daemon) reload() (warnings []string, err error) {
	f, err := config.Load(d.file)
	if err != nil {
		return nil, err
	}
	conns, err := ikeConnections(f)
	if err != nil {
		return nil, err
	}
	if err := d.manager.SetConnections(conns); err != nil {
		return nil, err
	}
	for _, w := range f.Warnings {
		warnings = append(warnings, w.String())
	}
	d.log.Info("configuration reloaded", zap.String("file", d.file), zap.Int("connections", len(conns)))
	return warnings, nil
}

func (d *daemon) ikeStatus() []ikeStatus {
	if d.manager == nil {
		return nil
	}
	var out []ikeStatus
	for _, sa := range d.manager.SAs() {
		st := sa.Status()
		role := "initiator"
		if !st.Initiator {
			role = "responder"
		}
		s := ikeStatus{
			Connection: d.manager.ConnectionOf(sa), State: st.State.String(), Role: role,
			SPIi: fmt.Sprintf("%016x", st.SPIi), SPIr: fmt.Sprintf("%016x", st.SPIr), Proposal: st.Suite,
			Local: st.Local.String(), Remote: st.Remote.String(), PeerID: st.PeerID, NATHere: st.NATHere, Encap: st.Encap,
			Established: formatTime(st.Established), RekeyAt: formatTime(st.RekeyAt),
		}
		for _, c := range st.Children {
			cs := childStatus{
				Name: c.Name, State: c.State, Mode: c.Mode.String(), Encap: c.Encap, Proposal: c.Suite,
				InboundSPI: fmt.Sprintf("%08x", c.InboundSPI), OutboundSPI: fmt.Sprintf("%08x", c.OutboundSPI),
				Installed: formatTime(c.Installed), RekeyAt: formatTime(c.RekeyAt), ExpireAt: formatTime(c.ExpireAt),
			}
			if in, err := d.dp.Query(c.InboundSPI, installer.Inbound); err == nil {
				cs.BytesIn, cs.PacketsIn, cs.Drops = in.Bytes, in.Packets, in.Drops
			}
			if out, err := d.dp.Query(c.OutboundSPI, installer.Outbound); err == nil {
				cs.BytesOut, cs.PacketsOut = out.Bytes, out.Packets
			}
			for _, p := range c.LocalTS {
				cs.LocalTS = append(cs.LocalTS, p.String())
			}
			for _, p := range c.RemoteTS {
				cs.RemoteTS = append(cs.RemoteTS, p.String())
			}
			s.Children = append(s.Children, cs)
		}
		out = append(out, s)
	}
	return out
}

// formatTime is RFC 3339, or empty for "never".
func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(time.RFC3339)
}
