package main

import (
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/espd/espd/esp"
	"github.com/espd/espd/esp/installer"
	"github.com/espd/espd/esp/packet"
	"github.com/espd/espd/esp/rawip"
	"github.com/espd/espd/ike"
	"github.com/espd/espd/internal/config"
	"github.com/espd/espd/nat"
	"github.com/espd/espd/tun"
)

// run is `espd run -c FILE`: bring up the TUN, the transports, the SAs and
// the routes, then carry traffic until SIGINT or SIGTERM.
func run(args []string) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	file := fs.String("c", "/etc/swanctl/swanctl.conf", "configuration file (swanctl.conf syntax)")
	socket := fs.String("socket", defaultSocket, "control socket path")
	logLevel := fs.String("log-level", "", "debug, info, warn or error (overrides espd.log_level)")
	logFormat := fs.String("log-format", "console", "console or json")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile to this file until exit (for bench/)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	cfg, err := config.Load(*file)
	if err != nil {
		return err
	}
	level := cfg.Espd.LogLevel
	if *logLevel != "" {
		level = *logLevel
	}
	log, err := newLogger(level, *logFormat)
	if err != nil {
		return err
	}
	defer log.Sync()
	for _, w := range cfg.Warnings {
		log.Warn(w.String())
	}

	d, err := startDaemon(cfg, log)
	if err != nil {
		return err
	}
	d.file = *file
	ctl, err := listenControl(*socket, d, log)
	if err != nil {
		d.close()
		return err
	}
	log.Info("espd running", zap.String("config", *file), zap.String("tun", cfg.Espd.Tun.Name),
		zap.Int("manual_sas", len(cfg.Espd.Manual)), zap.String("socket", *socket))

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	s := <-sig
	log.Info("shutting down", zap.Stringer("signal", s))
	ctl.Close()
	return d.close()
}

// daemon holds what run brought up, so it can be taken down in reverse.
type daemon struct {
	log     *zap.Logger
	dp      *esp.Dataplane
	router  *tun.Router
	ike     *ikeSockets
	manager *ike.Manager
	routes  *routingInstaller
	stop    chan struct{}
	file    string
}

func (d *daemon) close() error {
	var errs []error
	if d.manager != nil {
		d.closeIKE()
	}
	if d.stop != nil {
		close(d.stop)
	}
	if d.ike != nil {
		d.ike.close()
	}
	if d.router != nil {
		errs = append(errs, d.router.Close())
	}
	if d.dp != nil {
		errs = append(errs, d.dp.Close())
	}
	return errors.Join(errs...)
}

func startDaemon(cfg *config.File, log *zap.Logger) (d *daemon, err error) {
	e := cfg.Espd
	d = &daemon{log: log, stop: make(chan struct{})}
	defer func() {
		if err != nil {
			d.close()
		}
	}()
	conns, err := ikeConnections(cfg)
	if err != nil {
		return nil, err
	}
	d.ike = newIKESockets(log, e.FwMark, e.PortNATT)
	families := ikeFamilies(cfg.Connections)
	transports, err := openTransports(e, families, d.ike)
	if err != nil {
		return nil, err
	}
	for ipv4 := range families {
		if err := d.ike.listen500(ipv4, ikePort(cfg.Connections)); err != nil {
			for _, c := range transports {
				if c != nil {
					c.Close()
				}
			}
			return nil, err
		}
	}
	closeTransports := func() {
		for _, c := range transports {
			if c != nil {
				c.Close()
			}
		}
	}

	if err := tun.Cleanup(e.RouteTable); err != nil {
		log.Warn("could not clear routes left by an earlier run", zap.Error(err))
	}
	dev, err := tun.Create(e.Tun.Name, e.Tun.MTU)
	if err != nil {
		closeTransports()
		return nil, fmt.Errorf("create TUN %s: %w", e.Tun.Name, err)
	}
	if err := tun.Configure(e.Tun.Name, e.Tun.MTU, e.Tun.Addrs); err != nil {
		dev.Close()
		closeTransports()
		return nil, fmt.Errorf("configure TUN %s: %w", e.Tun.Name, err)
	}
	events := &ikeEvents{log: log}
	d.dp, err = esp.New(esp.Config{TUN: dev, Transports: transports, Events: events, Log: log})
	if err != nil {
		dev.Close()
		closeTransports()
		return nil, err
	}
	d.router, err = tun.NewRouter(e.Tun.Name, e.RouteTable, e.FwMark)
	if err != nil {
		return nil, err
	}
	// Manual SAs and IKE's go through the same installer, which routes
	// each outbound SA's remote selectors into the TUN.
	d.routes = newRoutingInstaller(d.dp, d.router, e.Tun.Addrs, log)
	for i := range e.Manual {
		if err := installManual(d.routes, &e.Manual[i], e.PortNATT); err != nil {
			return nil, fmt.Errorf("%s: manual SA %s: %w", e.Manual[i].Pos, e.Manual[i].Name, err)
		}
	}
	cookies := e.IKE.CookieThreshold
	if cookies == 0 {
		cookies = -1 // the file's 0 is "never"; the Manager's is its default
	}
	d.manager, err = ike.NewManager(ike.ManagerConfig{
		CookieThreshold: cookies,
		Connections:     conns,
		Installer:       d.routes,
		Send:            d.ike.send,
		LocalAddr:       func(remote netip.Addr) (netip.Addr, error) { return tun.SourceAddr(remote, e.FwMark) },
		Logger:          log.Named("ike"),
	})
	if err != nil {
		return nil, err
	}
	events.manager.Store(d.manager)
	go d.ike.serve(d.manager)
	go d.ike.keepalives(d.manager, 20*time.Second, d.stop)
	d.dp.Start()
	d.startActions(cfg)
	return d, nil
}

// openTransports opens the sockets the manual SAs and the IKE connections
// need: ESP-in-UDP and raw ESP, per outer address family (IKE may pick
// either, so a connection's family gets both). All carry the fwmark so
// that the policy routing rule lets them bypass the TUN.
func openTransports(e config.Espd, ikeFamilies map[bool]bool, ikeSock *ikeSockets) (t [esp.NumTransports]packet.Conn, err error) {
	defer func() {
		if err != nil {
			for _, c := range t {
				if c != nil {
					c.Close()
				}
			}
		}
	}()
	open := func(encap bool, remote netip.Addr) error {
		slot := esp.TransportSlot(encap, remote)
		if t[slot] != nil {
			return nil
		}
		any := netip.IPv4Unspecified()
		if !remote.Is4() {
			any = netip.IPv6Unspecified()
		}
		if encap {
			c, err := nat.Listen(nat.Config{Addr: netip.AddrPortFrom(any, e.PortNATT), Mark: e.FwMark, OnIKE: ikeSock.fromNATT})
			if err != nil {
				return err
			}
			ikeSock.natt[remote.Is4()] = c
			t[slot] = c
			return nil
		}
		t[slot], err = rawip.Listen(any, e.FwMark)
		return err
	}
	for _, m := range e.Manual {
		if err := open(m.Encap, m.Remote); err != nil {
			return t, err
		}
	}
	for ipv4 := range ikeFamilies {
		any := netip.IPv4Unspecified()
		if !ipv4 {
			any = netip.IPv6Unspecified()
		}
		for _, encap := range []bool{true, false} {
			if err := open(encap, any); err != nil {
				return t, err
			}
		}
	}
	return t, nil
}

// ikeFamilies are the outer address families the connections may use:
// those of their addresses, and IPv4 for %any.
func ikeFamilies(conns []config.Connection) map[bool]bool {
	fam := map[bool]bool{}
	for _, c := range conns {
		for _, h := range append(append([]config.HostSpec(nil), c.LocalAddrs...), c.RemoteAddrs...) {
			switch {
			case h.Kind == config.HostAddr:
				fam[h.Addr.Is4()] = true
			case h.Kind == config.HostAny && h.Addr.IsValid():
				fam[h.Addr.Is4()] = true
			default:
				fam[true] = true
			}
		}
		if len(c.LocalAddrs) == 0 || len(c.RemoteAddrs) == 0 {
			fam[true] = true
		}
	}
	return fam
}

// ikePort is the local IKE port: the connections' local_port (500 unless
// set; espd listens on one).
func ikePort(conns []config.Connection) uint16 {
	for _, c := range conns {
		if c.LocalPort != 0 {
			return c.LocalPort
		}
	}
	return config.DefaultIKEPort
}

// installManual adds the two SAs of a manual SA pair.
func installManual(dp installer.Installer, m *config.ManualSA, natPort uint16) error {
	mode := installer.Tunnel
	if m.Mode == "transport" {
		mode = installer.Transport
	}
	var localPort, remotePort uint16
	if m.Encap {
		localPort, remotePort = natPort, m.RemotePort
	}
	life := installer.Lifetime{
		Soft: installer.Limits{Bytes: m.RekeyBytes, Packets: m.RekeyPackets, Time: m.RekeyTime},
		Hard: installer.Limits{Bytes: m.LifeBytes, Packets: m.LifePackets, Time: m.LifeTime},
	}
	p := installer.SAParams{
		Protocol: installer.ESP, Mode: mode, Encap: m.Encap,
		Local:  netip.AddrPortFrom(m.Local, localPort),
		Remote: netip.AddrPortFrom(m.Remote, remotePort),
		Suite:  m.Proposal, ESN: m.Proposal.ESN, ReplayWindow: m.ReplayWindow, Lifetime: life,
	}
	in, out := p, p
	in.Direction, in.SPI = installer.Inbound, m.Inbound.SPI
	in.EncKey, in.IntegKey = m.Inbound.EncKey, m.Inbound.IntegKey
	in.LocalTS, in.RemoteTS = m.LocalTS, m.RemoteTS
	out.Direction, out.SPI = installer.Outbound, m.Outbound.SPI
	out.EncKey, out.IntegKey = m.Outbound.EncKey, m.Outbound.IntegKey
	out.LocalTS, out.RemoteTS = m.LocalTS, m.RemoteTS
	if err := dp.Add(in); err != nil {
		return err
	}
	return dp.Add(out)
}
