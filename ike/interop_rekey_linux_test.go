//go:build linux

package ike

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/espd/espd/esp/installer/installertest"
)

// TestInteropStrongSwanRekey runs CREATE_CHILD_SA and INFORMATIONAL against
// charon as responder: a second CHILD_SA with PFS, CHILD_SA rekeys started
// by either side, IKE SA rekeys started by either side, then deletes. After
// each step the SPIs charon lists must be ours.
func TestInteropStrongSwanRekey(t *testing.T) {
	env := startInteropEnv(t, "eir")
	sa := env.initiate(t)
	env.expect(t, "established")

	if err := sa.StartChild("pfs"); err != nil {
		t.Fatal(err)
	}
	env.waitFor(t, "the PFS CHILD_SA", func() bool { return len(env.current().Children()) == 2 })
	env.expect(t, "CREATE_CHILD_SA")

	for _, child := range []string{"net", "pfs"} {
		before := env.childSPI(child)
		if err := env.current().RekeyChild(child); err != nil {
			t.Fatal(err)
		}
		env.waitFor(t, "our rekey of "+child, func() bool { return env.rekeyedChild(child, before) })
		env.expect(t, "our rekey of "+child)

		before = env.childSPI(child)
		if out, err := env.swanctl("--rekey", "--child", child); err != nil {
			t.Fatalf("swanctl --rekey --child %s: %v\n%s", child, err, out)
		}
		env.waitFor(t, "charon's rekey of "+child, func() bool { return env.rekeyedChild(child, before) })
		env.expect(t, "charon's rekey of "+child)
	}

	old := env.current()
	if err := old.RekeyIKE(); err != nil {
		t.Fatal(err)
	}
	env.waitFor(t, "our IKE SA rekey", func() bool { return env.current() != old && old.State() == StateDestroyed })
	env.expect(t, "our IKE SA rekey")
	if old.Err() != nil {
		t.Errorf("the old IKE SA ended with %v", old.Err())
	}

	old = env.current()
	if out, err := env.swanctl("--rekey", "--ike", "espd"); err != nil {
		t.Fatalf("swanctl --rekey --ike: %v\n%s", err, out)
	}
	env.waitFor(t, "charon's IKE SA rekey", func() bool { return env.current() != old && old.State() == StateDestroyed })
	env.expect(t, "charon's IKE SA rekey")

	// A CHILD_SA rekey on the new IKE SA, whose message IDs start at 0.
	before := env.childSPI("net")
	if err := env.current().RekeyChild("net"); err != nil {
		t.Fatal(err)
	}
	env.waitFor(t, "a rekey on the new IKE SA", func() bool { return env.rekeyedChild("net", before) })
	env.expect(t, "a rekey on the new IKE SA")

	if err := env.current().CloseChild("pfs"); err != nil {
		t.Fatal(err)
	}
	env.waitFor(t, "the PFS CHILD_SA deleted", func() bool { return len(env.current().Children()) == 1 })
	env.expect(t, "CloseChild")

	last := env.current()
	if err := last.Close(); err != nil {
		t.Fatal(err)
	}
	env.waitFor(t, "the IKE SA deleted", func() bool { return last.State() == StateDestroyed })
	if last.Err() != nil {
		t.Errorf("Close: %v", last.Err())
	}
	env.waitFor(t, "charon to forget the IKE SA", func() bool {
		out, err := env.swanctl("--list-sas")
		return err == nil && !strings.Contains(out, "ESTABLISHED")
	})
	if n := len(env.recorder.Installed(0)) + len(env.recorder.Installed(1)); n != 0 {
		t.Errorf("%d SAs left installed", n)
	}
}

// interopEnv is charon in one namespace and the engine's sockets in
// another, with an owner that routes datagrams to IKE SAs by SPI.
type interopEnv struct {
	swanctl  func(args ...string) (string, error)
	recorder *installertest.Recorder
	cfg      Config

	mu  sync.Mutex
	sas []*IKESA
	cur *IKESA
}

func (e *interopEnv) Rekeyed(old, next *IKESA) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.sas = append(e.sas, next)
	if next.State() == StateEstablished {
		e.cur = next
	}
}

func (e *interopEnv) Destroyed(*IKESA) {}

func (e *interopEnv) current() *IKESA {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.cur
}

// route finds the SA of a message by its SPIs, as the Manager does.
func (e *interopEnv) route(msg []byte) *IKESA {
	if len(msg) < 16 {
		return nil
	}
	spiI, spiR := be64(msg[:8]), be64(msg[8:16])
	e.mu.Lock()
	defer e.mu.Unlock()
	for k := len(e.sas) - 1; k >= 0; k-- {
		if i, r := e.sas[k].SPIs(); i == spiI && (r == spiR || r == 0) {
			return e.sas[k]
		}
	}
	return nil
}

func be64(b []byte) uint64 {
	var v uint64
	for _, c := range b {
		v = v<<8 | uint64(c)
	}
	return v
}

func startInteropEnv(t *testing.T, prefixBase string) *interopEnv {
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates network namespaces and runs strongSwan's charon")
	}
	charon := findCharon()
	if charon == "" {
		t.Skip("needs strongSwan: no charon binary (charon-systemd or charon)")
	}
	for _, tool := range []string{"swanctl", "ip", "unshare"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s: %v", tool, err)
		}
	}
	dir := t.TempDir()
	prefix := fmt.Sprintf("%s%d", prefixBase, os.Getpid()%100000)
	nsEspd, nsCharon := prefix+"e", prefix+"c"
	setupInteropNamespaces(t, prefix, nsEspd, nsCharon)
	vici := startInteropCharon(t, dir, charon, nsCharon)
	env := &interopEnv{recorder: &installertest.Recorder{}}
	env.swanctl = func(args ...string) (string, error) {
		args = append([]string{"netns", "exec", nsCharon, "swanctl"}, args...)
		args = append(args, "--uri", "unix://"+vici)
		cmd := exec.Command("ip", args...)
		cmd.Env = append(os.Environ(), "STRONGSWAN_CONF="+filepath.Join(dir, "strongswan.conf"))
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	writeInteropSwanctlConf(t, dir)
	if out, err := env.swanctl("--load-all", "--noprompt", "--file", filepath.Join(dir, "swanctl.conf")); err != nil {
		t.Fatalf("swanctl --load-all: %v\n%s", err, out)
	}
	conns := map[uint16]*net.UDPConn{
		500:  listenUDPInNamespace(t, nsEspd, netip.MustParseAddrPort(interopEspdAddr+":500")),
		4500: listenUDPInNamespace(t, nsEspd, netip.MustParseAddrPort(interopEspdAddr+":4500")),
	}
	var logBuf lockedBuffer
	logger := zap.New(zapcore.NewCore(zapcore.NewConsoleEncoder(zap.NewDevelopmentEncoderConfig()),
		zapcore.AddSync(&logBuf), zap.DebugLevel))
	t.Cleanup(func() {
		if t.Failed() || os.Getenv("ESPD_INTEROP_LOG") != "" {
			t.Logf("engine log:\n%s", logBuf.String())
			if b, err := os.ReadFile(filepath.Join(dir, "charon.log")); err == nil {
				t.Logf("charon log:\n%s", b)
			}
		}
	})
	env.cfg = Config{
		Name:      "espd",
		Local:     netip.MustParseAddrPort(interopEspdAddr + ":500"),
		Remote:    netip.MustParseAddrPort(interopCharonAddr + ":500"),
		Proposals: []string{"aes128gcm16-prfsha256-x25519"},
		PSK:       []byte(interopPSK),
		RemoteID:  ParseID(interopCharonAddr),
		Children: []ChildConfig{{
			Name:         "net",
			ESPProposals: []string{"aes128gcm16"},
			LocalTS:      []netip.Prefix{netip.MustParsePrefix("198.18.1.0/24")},
			RemoteTS:     []netip.Prefix{netip.MustParsePrefix("198.18.2.0/24")},
		}, {
			Name:         "pfs",
			ESPProposals: []string{"aes128gcm16-x25519"},
			LocalTS:      []netip.Prefix{netip.MustParsePrefix("198.18.3.0/24")},
			RemoteTS:     []netip.Prefix{netip.MustParsePrefix("198.18.2.0/24")},
		}},
		Installer: env.recorder,
		Send: func(b []byte, from, to netip.AddrPort) {
			if from.Port() == 4500 {
				b = append([]byte{0, 0, 0, 0}, b...)
			}
			if _, err := conns[from.Port()].WriteToUDPAddrPort(b, to); err != nil {
				logger.Warn("send", zap.Error(err))
			}
		},
		Logger:         logger,
		Observer:       env,
		InitialContact: true,
	}
	var readers sync.WaitGroup
	for port, conn := range conns {
		readers.Add(1)
		go func() {
			defer readers.Done()
			local := netip.AddrPortFrom(netip.MustParseAddr(interopEspdAddr), port)
			buf := make([]byte, 65536)
			for {
				n, from, err := conn.ReadFromUDPAddrPort(buf)
				if err != nil {
					return // closed at the end of the test
				}
				msg := buf[:n]
				if port == 4500 {
					if n < 4 || !bytes.Equal(msg[:4], []byte{0, 0, 0, 0}) {
						continue // ESP or a keepalive, not IKE
					}
					msg = msg[4:]
				}
				sa := env.route(msg)
				if sa == nil {
					logger.Info("no SA for a datagram")
					continue
				}
				if err := sa.HandleDatagram(bytes.Clone(msg), from, local); err != nil {
					logger.Info("HandleDatagram", zap.Error(err))
				}
			}
		}()
	}
	t.Cleanup(func() {
		for _, conn := range conns {
			conn.Close()
		}
		readers.Wait()
		if sa := env.current(); sa != nil {
			sa.Destroy()
		}
	})
	return env
}

// initiate starts the IKE SA and waits until it is established.
func (e *interopEnv) initiate(t *testing.T) *IKESA {
	sa, err := NewInitiator(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.mu.Lock()
	e.sas, e.cur = []*IKESA{sa}, sa
	e.mu.Unlock()
	if err := sa.Initiate(); err != nil {
		t.Fatal(err)
	}
	e.waitFor(t, "the IKE SA", func() bool { return sa.State() == StateEstablished && len(sa.Children()) == 1 })
	return sa
}

func (e *interopEnv) waitFor(t *testing.T, what string, done func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if done() {
			return
		}
		if sa := e.current(); sa != nil && sa.State() == StateDestroyed && sa.Err() != nil {
			t.Fatalf("waiting for %s: the IKE SA failed: %v", what, sa.Err())
		}
	}
	t.Fatalf("no %s after 10 s", what)
}

func (e *interopEnv) childSPI(name string) uint32 {
	for _, c := range e.current().Children() {
		if c.Name == name {
			return c.InboundSPI
		}
	}
	return 0
}

// rekeyedChild: exactly one CHILD_SA of name is left, with another SPI.
func (e *interopEnv) rekeyedChild(name string, before uint32) bool {
	n, spi := 0, uint32(0)
	for _, c := range e.current().Children() {
		if c.Name == name {
			n++
			spi = c.InboundSPI
		}
	}
	return n == 1 && spi != before
}

var (
	interopIKELine   = regexp.MustCompile(`(?m)^espd: #\d+, (\w+), IKEv2, ([0-9a-f]{16})_i\*? ([0-9a-f]{16})_r\*?`)
	interopChildLine = regexp.MustCompile(`(?m)^\s+(\w+): #\d+, reqid \d+, (\w+), [^\n]*\n(?:[^\n]*\n)*?\s+in\s+([0-9a-f]{8}),[^\n]*\n\s+out\s+([0-9a-f]{8})`)
)

// expect polls swanctl --list-sas until charon shows exactly our IKE SA
// and CHILD_SAs, with our SPIs mirrored.
func (e *interopEnv) expect(t *testing.T, step string) {
	t.Helper()
	var listing, want, got string
	for range 100 {
		sa := e.current()
		spiI, spiR := sa.SPIs()
		var wants []string
		wants = append(wants, fmt.Sprintf("IKE ESTABLISHED %016x %016x", spiI, spiR))
		for _, c := range sa.Children() {
			wants = append(wants, fmt.Sprintf("%s INSTALLED in %08x out %08x", c.Name, c.OutboundSPI, c.InboundSPI))
		}
		var err error
		listing, err = e.swanctl("--list-sas")
		if err != nil {
			t.Fatalf("swanctl --list-sas: %v\n%s", err, listing)
		}
		var gots []string
		for _, m := range interopIKELine.FindAllStringSubmatch(listing, -1) {
			gots = append(gots, fmt.Sprintf("IKE %s %s %s", m[1], m[2], m[3]))
		}
		for _, m := range interopChildLine.FindAllStringSubmatch(listing, -1) {
			if m[2] == "DELETED" {
				// charon keeps the inbound SA of a rekeyed CHILD_SA a few
				// seconds for late packets (charon.delete_rekeyed_delay).
				continue
			}
			gots = append(gots, fmt.Sprintf("%s %s in %s out %s", m[1], m[2], m[3], m[4]))
		}
		slices.Sort(wants)
		slices.Sort(gots)
		want, got = strings.Join(wants, "\n"), strings.Join(gots, "\n")
		if want == got {
			t.Logf("%s: charon agrees", step)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("after %s charon shows\n%s\nwant\n%s\nlisting:\n%s", step, got, want, listing)
}
