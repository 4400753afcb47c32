package ike

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/espd/espd/esp/installer"
	"github.com/espd/espd/esp/installer/installertest"
	"github.com/espd/espd/ike/message"
)

// fakeNet carries datagrams between Managers on goroutines, as sockets
// would, and records every one for the assertions.
type fakeNet struct {
	mu       sync.Mutex
	managers map[netip.Addr]*Manager
	sent     []sentDatagram
	wg       sync.WaitGroup
}

type sentDatagram struct {
	data     []byte
	from, to netip.AddrPort
}

func (n *fakeNet) send(b []byte, from, to netip.AddrPort) {
	n.mu.Lock()
	n.sent = append(n.sent, sentDatagram{b, from, to})
	dst := n.managers[to.Addr()]
	n.mu.Unlock()
	if dst == nil {
		return
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		_ = dst.HandleDatagram(b, from, to)
	}()
}

// notifies returns the notify types of every IKE_SA_INIT response sent.
func (n *fakeNet) initResponseNotifies() []message.NotifyType {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []message.NotifyType
	for _, d := range n.sent {
		msg, err := message.Parse(d.data)
		if err != nil || msg.Header.Exchange != message.ExchangeIKESAInit || !msg.Header.Flags.Response() {
			continue
		}
		for _, nt := range msg.Notifies() {
			out = append(out, nt.NotifyType)
		}
	}
	return out
}

func managerConn(name, local, remote, localTS, remoteTS, psk string) Config {
	c := Config{
		Name:      name,
		Proposals: []string{"aes128gcm16-prfsha256-x25519"},
		PSK:       []byte(psk),
		Children: []ChildConfig{{
			Name:         name + "-net",
			ESPProposals: []string{"aes128gcm16"},
			LocalTS:      []netip.Prefix{netip.MustParsePrefix(localTS)},
			RemoteTS:     []netip.Prefix{netip.MustParsePrefix(remoteTS)},
		}},
	}
	if local != "" {
		c.Local = netip.MustParseAddrPort(local)
	}
	if remote != "" {
		c.Remote = netip.MustParseAddrPort(remote)
	}
	return c
}

type managedPeer struct {
	m        *Manager
	recorder *installertest.Recorder
}

func newManagedPair(t *testing.T, mutate func(gw, client *ManagerConfig)) (gw, client managedPeer, net *fakeNet) {
	t.Helper()
	net = &fakeNet{managers: map[netip.Addr]*Manager{}}
	gw.recorder, client.recorder = &installertest.Recorder{}, &installertest.Recorder{}
	gwCfg := ManagerConfig{
		// The gateway answers anyone: remote_addrs = %any.
		Connections: []Config{managerConn("rw", "198.51.100.1:500", "", "198.18.2.0/24", "198.18.1.0/24", "gateway secret")},
		Installer:   gw.recorder, Send: net.send,
	}
	clientCfg := ManagerConfig{
		Connections: []Config{managerConn("home", "192.0.2.1:500", "198.51.100.1:500", "198.18.1.0/24", "198.18.2.0/24", "gateway secret")},
		Installer:   client.recorder, Send: net.send,
	}
	if mutate != nil {
		mutate(&gwCfg, &clientCfg)
	}
	var err error
	if gw.m, err = NewManager(gwCfg); err != nil {
		t.Fatal(err)
	}
	if client.m, err = NewManager(clientCfg); err != nil {
		t.Fatal(err)
	}
	net.managers[netip.MustParseAddr("198.51.100.1")] = gw.m
	net.managers[netip.MustParseAddr("192.0.2.1")] = client.m
	t.Cleanup(net.wg.Wait)
	return gw, client, net
}

func upCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestManagerUpByConnectionAndChildName(t *testing.T) {
	for _, name := range []string{"home", "home-net"} {
		t.Run(name, func(t *testing.T) {
			gw, client, _ := newManagedPair(t, nil)
			if err := client.m.Up(upCtx(t), name); err != nil {
				t.Fatalf("Up(%s): %v", name, err)
			}
			if err := client.m.Up(upCtx(t), name); err != nil {
				t.Fatalf("Up(%s) again, when it is up: %v", name, err)
			}
			for _, p := range []managedPeer{gw, client} {
				sas := p.m.SAs()
				if len(sas) != 1 || sas[0].State() != StateEstablished {
					t.Fatalf("%d SAs, want 1 established", len(sas))
				}
				if len(p.recorder.Installed(installer.Inbound)) != 1 || len(p.recorder.Installed(installer.Outbound)) != 1 {
					t.Errorf("CHILD_SA not installed in both directions: %v", p.recorder.Calls())
				}
			}
			if got := gw.m.ConnectionOf(gw.m.SAs()[0]); got != "rw" {
				t.Errorf("gateway SA made from connection %q, want rw", got)
			}
			if _, remote := gw.m.SAs()[0].Endpoints(); remote != netip.MustParseAddrPort("192.0.2.1:500") {
				t.Errorf("gateway's peer %v, want the client's address", remote)
			}
		})
	}
}

func TestManagerUpReportsWrongPSK(t *testing.T) {
	_, client, _ := newManagedPair(t, func(_, c *ManagerConfig) { c.Connections[0].PSK = []byte("not the secret") })
	err := client.m.Up(upCtx(t), "home")
	if !errors.Is(err, ErrAuthenticationFailed) || !strings.Contains(err.Error(), "AUTHENTICATION_FAILED") {
		t.Fatalf("Up with a wrong PSK: %v, want the peer's AUTHENTICATION_FAILED", err)
	}
	if n := len(client.recorder.Installed(installer.Outbound)); n != 0 {
		t.Errorf("%d SAs installed after a failed authentication", n)
	}
}

func TestManagerUpUnknownName(t *testing.T) {
	_, client, _ := newManagedPair(t, nil)
	if err := client.m.Up(upCtx(t), "nope"); !errors.Is(err, ErrNoConnection) {
		t.Fatalf("Up(nope): %v, want ErrNoConnection", err)
	}
}

func TestManagerDemandsCookieUnderLoad(t *testing.T) {
	gw, client, net := newManagedPair(t, func(g, c *ManagerConfig) {
		g.CookieThreshold = 1
		g.Logger = zaptest.NewLogger(t)
		c.Logger = zaptest.NewLogger(t)
	})
	// A half-open SA: an IKE_SA_INIT from a peer that never sends
	// IKE_AUTH. Its response goes nowhere.
	stray := managerConn("stray", "203.0.113.7:500", "198.51.100.1:500", "198.18.1.0/24", "198.18.2.0/24", "x")
	stray.Installer, stray.Send = &installertest.Recorder{}, net.send
	sa, err := NewInitiator(stray)
	if err != nil {
		t.Fatal(err)
	}
	// Its retransmission timer runs on the real clock: stop it before the
	// test's loggers go.
	t.Cleanup(sa.Destroy)
	if err := sa.Initiate(); err != nil {
		t.Fatal(err)
	}
	net.wg.Wait()
	if n := len(gw.m.SAs()); n != 1 {
		t.Fatalf("gateway holds %d SAs, want the 1 half-open", n)
	}

	if err := client.m.Up(upCtx(t), "home"); err != nil {
		t.Fatalf("Up past the COOKIE: %v", err)
	}
	cookies := 0
	for _, nt := range net.initResponseNotifies() {
		if nt == message.NotifyCookie {
			cookies++
		}
	}
	if cookies != 1 {
		t.Errorf("gateway sent %d COOKIE responses, want 1", cookies)
	}
}

func TestManagerDropsWhatFitsNoSA(t *testing.T) {
	gw, _, _ := newManagedPair(t, nil)
	from, to := netip.MustParseAddrPort("192.0.2.9:500"), netip.MustParseAddrPort("198.51.100.1:500")
	stray := &message.Message{Header: message.Header{SPIi: 1, SPIr: 2, Exchange: message.ExchangeInformational, Flags: message.FlagInitiator}}
	b, err := stray.Encode()
	if err != nil {
		t.Fatal(err)
	}
	for name, d := range map[string][]byte{"short": {1, 2, 3}, "unknown SPI": b} {
		if err := gw.m.HandleDatagram(d, from, to); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if n := len(gw.m.SAs()); n != 0 {
		t.Errorf("%d SAs after junk, want 0", n)
	}
}

// waitFor polls cond for up to 5 s; the Managers run on goroutines.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// After an IKE SA rekey the Manager routes the new SPIs to the new SA, so
// a child rekey and a delete over the new SA still reach the peer.
func TestManagerRekeyAndDown(t *testing.T) {
	gw, client, _ := newManagedPair(t, nil)
	if err := client.m.Up(upCtx(t), "home"); err != nil {
		t.Fatal(err)
	}
	oldI, oldR := client.m.SAs()[0].SPIs()

	if err := client.m.Rekey("home"); err != nil {
		t.Fatalf("Rekey(home): %v", err)
	}
	waitFor(t, "the IKE SA rekey on both sides", func() bool {
		c, g := client.m.SAs(), gw.m.SAs()
		if len(c) != 1 || len(g) != 1 {
			return false
		}
		i, r := c[0].SPIs()
		return i != oldI && r != oldR && c[0].State() == StateEstablished && g[0].State() == StateEstablished
	})
	if n := len(client.m.SAs()[0].Children()); n != 1 {
		t.Fatalf("the new IKE SA carries %d CHILD_SAs, want 1", n)
	}
	oldChild := client.m.SAs()[0].Children()[0].InboundSPI

	if err := gw.m.Rekey("rw-net"); err != nil {
		t.Fatalf("Rekey(rw-net) from the gateway, over the new IKE SA: %v", err)
	}
	waitFor(t, "the CHILD_SA rekey", func() bool {
		ch := client.m.SAs()[0].Children()
		return len(ch) == 1 && ch[0].InboundSPI != oldChild
	})

	if err := gw.m.Down("rw"); err != nil {
		t.Fatalf("Down(rw): %v", err)
	}
	waitFor(t, "both sides to forget the SA", func() bool {
		client.m.Sweep()
		gw.m.Sweep()
		return len(client.m.SAs()) == 0 && len(gw.m.SAs()) == 0
	})
	for _, p := range []managedPeer{gw, client} {
		if n := len(p.recorder.Installed(installer.Inbound)) + len(p.recorder.Installed(installer.Outbound)); n != 0 {
			t.Errorf("%d SAs still installed after the delete", n)
		}
	}
	if err := client.m.Down("home"); err == nil {
		t.Error("Down of a connection that is not up succeeded")
	}
}
