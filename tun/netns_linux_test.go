package tun

import (
	"net/netip"
	"os"
	"runtime"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	wgtun "golang.zx2c4.com/wireguard/tun"
)

// enterNetns moves the test's goroutine, locked to its OS thread, into a new
// network namespace for the rest of the test, with lo up. The namespace
// disappears with its last handle when the test ends, taking the TUN, veth
// links, routes and rules with it, whatever the outcome. Subtests run on
// other goroutines and so must enter their own namespace.
func enterNetns(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates a network namespace, a TUN device, routes and rules")
	}
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		t.Fatalf("get network namespace: %v", err)
	}
	ns, err := netns.New()
	if err != nil {
		orig.Close()
		runtime.UnlockOSThread()
		t.Fatalf("new network namespace: %v", err)
	}
	// Cleanups run on the test's goroutine, so on this thread.
	t.Cleanup(func() {
		if err := netns.Set(orig); err != nil {
			// The thread stays locked and Go discards it when the
			// goroutine exits, so no later test runs in this namespace.
			t.Errorf("restore network namespace: %v", err)
		} else {
			runtime.UnlockOSThread()
		}
		ns.Close()
		orig.Close()
	})
	if cur, err := netns.Get(); err != nil || cur.Equal(orig) {
		t.Fatalf("not in a new network namespace (%v); refusing to touch the host's routing", err)
	} else {
		cur.Close()
	}
	lo, err := netlink.LinkByName("lo")
	if err != nil {
		t.Fatal(err)
	}
	if err := netlink.LinkSetUp(lo); err != nil {
		t.Fatal(err)
	}
}

// Inner addresses of the test TUN and of the "remote" network behind it.
var (
	tunAddr4   = netip.MustParsePrefix("198.18.1.1/24")
	tunAddr6   = netip.MustParsePrefix("2001:db8:ffff:1::1/64")
	remoteNet4 = netip.MustParsePrefix("198.18.2.0/24")
	remoteNet6 = netip.MustParsePrefix("2001:db8:ffff:2::/64")
	remote4    = netip.MustParseAddr("198.18.2.5")
	remote6    = netip.MustParseAddr("2001:db8:ffff:2::5")
)

const testMTU = 1420

// newTestTUN creates and configures a TUN in the current namespace, closed
// when the test ends. Its events are drained, as the contract requires.
func newTestTUN(t *testing.T) (wgtun.Device, netlink.Link) {
	t.Helper()
	dev, err := Create("espt0", testMTU)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dev.Close() })
	go func() {
		for range dev.Events() {
		}
	}()
	name, err := dev.Name()
	if err != nil {
		t.Fatal(err)
	}
	if err := Configure(name, testMTU, []netip.Prefix{tunAddr4, tunAddr6}); err != nil {
		t.Fatal(err)
	}
	link, err := netlink.LinkByName(name)
	if err != nil {
		t.Fatal(err)
	}
	return dev, link
}
