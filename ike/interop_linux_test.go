//go:build linux

package ike

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netns"

	"github.com/espd/espd/esp/installer"
)

// The interop test runs the engine as initiator against strongSwan's charon
// as responder: two namespaces joined by a veth, charon in one (as
// scripts/integration/swanctl_load.sh runs it: a private /run, its own
// strongswan.conf and vici socket), the engine's UDP socket in the other.
const (
	interopEspdAddr   = "192.0.2.1"
	interopCharonAddr = "192.0.2.2"
	interopPSK        = "espd interop test pre-shared key"
	// The plugin list of TESTBED.md: kernel-libipsec gives charon a
	// userspace place to install the CHILD_SA, as this kernel has no ESP.
	interopCharonPlugins = "random nonce openssl aesni aes sha1 sha2 hmac gcm chapoly pem pkcs1 x509 pubkey curve25519 gmp kdf kernel-libipsec kernel-netlink socket-default vici updown attr"
)

func TestInteropStrongSwanInitiator(t *testing.T) {
	env := startInteropEnv(t, "eit")
	// IKE starts on port 500 and floats to 4500 once charon's (faked) NAT
	// detection asks for encapsulation; there each IKE message carries the
	// non-ESP marker (RFC 3948 §2.2). The CHILD_SA is made in the same
	// step that establishes the IKE SA.
	sa := env.initiate(t)
	recorder, swanctl := env.recorder, env.swanctl
	var err error

	// What charon says about the same SAs: our inbound SPI is its outbound
	// one and vice versa.
	var listing string
	for range 20 { // charon may list the SA a moment after its last message
		listing, err = swanctl("--list-sas")
		if err == nil && strings.Contains(listing, "ESTABLISHED") {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("swanctl --list-sas: %v\n%s", err, listing)
	}
	t.Logf("swanctl --list-sas:\n%s", listing)
	spiI, spiR := sa.SPIs()
	ikeLine := regexp.MustCompile(`(?m)^espd: #\d+, ESTABLISHED, IKEv2, ([0-9a-f]{16})_i ([0-9a-f]{16})_r`).FindStringSubmatch(listing)
	if ikeLine == nil {
		t.Fatalf("charon shows no ESTABLISHED IKE SA")
	}
	if want := fmt.Sprintf("%016x", spiI); ikeLine[1] != want {
		t.Errorf("charon's initiator SPI %s, ours %s", ikeLine[1], want)
	}
	if want := fmt.Sprintf("%016x", spiR); ikeLine[2] != want {
		t.Errorf("charon's responder SPI %s, ours %s", ikeLine[2], want)
	}
	if n := len(sa.Children()); n != 1 {
		t.Fatalf("IKE SA established, but %d CHILD_SAs", n)
	}
	if _, encap := sa.NAT(); !encap {
		t.Errorf("charon fakes NAT detection, but the engine did not turn on UDP encapsulation")
	}
	if local, remote := sa.Endpoints(); local.Port() != 4500 || remote.Port() != 4500 {
		t.Errorf("IKE endpoints %v -> %v, want both on port 4500 after NAT detection", local, remote)
	}

	child := sa.Children()[0]
	in, okIn := recorder.Lookup(child.InboundSPI, installer.Inbound)
	out, okOut := recorder.Lookup(child.OutboundSPI, installer.Outbound)
	if !okIn || !okOut {
		t.Fatalf("CHILD_SA %#x/%#x not both installed: %v", child.InboundSPI, child.OutboundSPI, recorder.Calls())
	}
	if !in.Encap || !out.Encap || out.Remote.Port() != 4500 || out.Local.Port() != 4500 {
		t.Errorf("CHILD_SA not UDP-encapsulated between ports 4500: in %+v out %+v", in, out)
	}
	if in.Suite.Keyword != "aes128gcm16" || out.Suite.Keyword != "aes128gcm16" {
		t.Errorf("installed suites %q/%q, want aes128gcm16", in.Suite.Keyword, out.Suite.Keyword)
	}

	if !regexp.MustCompile(`(?m)^\s+net: #\d+, reqid \d+, INSTALLED, TUNNEL.*ESP:AES_GCM_16-128`).MatchString(listing) {
		t.Errorf("charon shows no INSTALLED AES_GCM_16-128 tunnel CHILD_SA")
	}
	charonIn := regexp.MustCompile(`(?m)^\s+in\s+([0-9a-f]{8})`).FindStringSubmatch(listing)
	charonOut := regexp.MustCompile(`(?m)^\s+out\s+([0-9a-f]{8})`).FindStringSubmatch(listing)
	if charonIn == nil || charonOut == nil {
		t.Fatalf("charon lists no CHILD_SA SPIs")
	}
	if want := fmt.Sprintf("%08x", child.InboundSPI); charonOut[1] != want {
		t.Errorf("charon's outbound SPI %s, our inbound %s", charonOut[1], want)
	}
	if want := fmt.Sprintf("%08x", child.OutboundSPI); charonIn[1] != want {
		t.Errorf("charon's inbound SPI %s, our outbound %s", charonIn[1], want)
	}
	if !regexp.MustCompile(`(?m)^\s+local\s+198\.18\.2\.0/24\s*$`).MatchString(listing) ||
		!regexp.MustCompile(`(?m)^\s+remote\s+198\.18\.1\.0/24\s*$`).MatchString(listing) {
		t.Errorf("charon's traffic selectors are not 198.18.2.0/24 === 198.18.1.0/24")
	}
}

func findCharon() string {
	for _, p := range []string{"/usr/lib/ipsec/charon", "/usr/libexec/ipsec/charon", "/usr/sbin/charon-systemd"} {
		if fi, err := os.Stat(p); err == nil && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

func runInterop(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// setupInteropNamespaces makes the two namespaces and the veth between
// them; cleanup deletes them (which deletes the veth too).
func setupInteropNamespaces(t *testing.T, prefix, nsEspd, nsCharon string) {
	for _, ns := range []string{nsEspd, nsCharon} {
		exec.Command("ip", "netns", "del", ns).Run() // a leftover of a killed run
		runInterop(t, "ip", "netns", "add", ns)
		t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	}
	vethE, vethC := prefix+"ve", prefix+"vc"
	runInterop(t, "ip", "link", "add", vethE, "netns", nsEspd, "type", "veth", "peer", "name", vethC, "netns", nsCharon)
	for _, c := range []struct{ ns, dev, addr string }{
		{nsEspd, vethE, interopEspdAddr}, {nsCharon, vethC, interopCharonAddr},
	} {
		runInterop(t, "ip", "-n", c.ns, "link", "set", "lo", "up")
		runInterop(t, "ip", "-n", c.ns, "addr", "add", c.addr+"/24", "dev", c.dev)
		runInterop(t, "ip", "-n", c.ns, "link", "set", c.dev, "up")
	}
	// charon routes the remote selector from an address inside its local
	// one, and refuses the CHILD_SA when it has none.
	runInterop(t, "ip", "-n", nsCharon, "addr", "add", "198.18.2.1/32", "dev", "lo")
}

// startInteropCharon runs charon in ns with a private /run and returns its
// vici socket; cleanup stops it (SIGTERM, then SIGKILL).
func startInteropCharon(t *testing.T, dir, charon, ns string) string {
	vici := filepath.Join(dir, "charon.vici")
	conf := filepath.Join(dir, "strongswan.conf")
	strongswanConf := fmt.Sprintf(`charon {
	load = %s
	filelog {
		log {
			path = %s
			flush_line = yes
			default = 1
			ike = 2
			cfg = 2
			enc = 1
			knl = 1
		}
	}
	plugins {
		vici {
			socket = unix://%s
		}
	}
}
`, interopCharonPlugins, filepath.Join(dir, "charon.log"), vici)
	if err := os.WriteFile(conf, []byte(strongswanConf), 0o600); err != nil {
		t.Fatal(err)
	}
	outFile, err := os.Create(filepath.Join(dir, "charon.out"))
	if err != nil {
		t.Fatal(err)
	}
	// ip netns exec, unshare and sh all exec, so the process is charon.
	cmd := exec.Command("ip", "netns", "exec", ns, "unshare", "-m", "--propagation", "private",
		"sh", "-c", `mount -t tmpfs tmpfs /run && STRONGSWAN_CONF="$1" exec "$2"`, "sh", conf, charon)
	cmd.Stdout, cmd.Stderr = outFile, outFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		outFile.Close()
		t.Fatalf("starting charon: %v", err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		outFile.Close()
		close(exited)
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		if fi, err := os.Stat(vici); err == nil && fi.Mode()&os.ModeSocket != 0 {
			return vici
		}
		select {
		case <-exited:
			b, _ := os.ReadFile(filepath.Join(dir, "charon.out"))
			t.Fatalf("charon exited before opening its vici socket:\n%s", b)
		case <-ctx.Done():
			t.Fatalf("charon opened no vici socket in 10 s")
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func writeInteropSwanctlConf(t *testing.T, dir string) {
	conf := fmt.Sprintf(`connections {
	espd {
		version = 2
		local_addrs = %[1]s
		remote_addrs = %[2]s
		proposals = aes128gcm16-prfsha256-x25519
		local {
			auth = psk
			id = %[1]s
		}
		remote {
			auth = psk
			id = %[2]s
		}
		children {
			net {
				local_ts = 198.18.2.0/24
				remote_ts = 198.18.1.0/24
				esp_proposals = aes128gcm16
			}
			pfs {
				local_ts = 198.18.2.0/24
				remote_ts = 198.18.3.0/24
				esp_proposals = aes128gcm16-x25519
			}
		}
	}
}
secrets {
	ike-espd {
		id-charon = %[1]s
		id-espd = %[2]s
		secret = "%[3]s"
	}
}
`, interopCharonAddr, interopEspdAddr, interopPSK)
	if err := os.WriteFile(filepath.Join(dir, "swanctl.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
}

// listenUDPInNamespace opens a UDP socket inside ns: a socket belongs to
// the namespace of the thread that creates it, so a locked thread enters
// ns for the call and leaves again.
func listenUDPInNamespace(t *testing.T, ns string, addr netip.AddrPort) *net.UDPConn {
	type result struct {
		conn *net.UDPConn
		err  error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		origin, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			done <- result{err: err}
			return
		}
		defer origin.Close()
		target, err := netns.GetFromName(ns)
		if err != nil {
			runtime.UnlockOSThread()
			done <- result{err: err}
			return
		}
		defer target.Close()
		if err := netns.Set(target); err != nil {
			runtime.UnlockOSThread()
			done <- result{err: err}
			return
		}
		conn, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(addr))
		if err := netns.Set(origin); err != nil {
			// The thread stays locked and dies with this goroutine
			// rather than serve others in the wrong namespace.
			if conn != nil {
				conn.Close()
			}
			done <- result{err: errors.Join(errors.New("returning to the test's namespace"), err)}
			return
		}
		runtime.UnlockOSThread()
		done <- result{conn, err}
	}()
	r := <-done
	if r.err != nil {
		t.Fatalf("UDP socket in %s: %v", ns, r.err)
	}
	t.Cleanup(func() { r.conn.Close() })
	return r.conn
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
