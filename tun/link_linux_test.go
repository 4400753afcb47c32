package tun

import (
	"errors"
	"net"
	"net/netip"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

func TestConfigure(t *testing.T) {
	enterNetns(t)
	dev, link := newTestTUN(t)

	if link.Attrs().MTU != testMTU {
		t.Errorf("link MTU = %d, want %d", link.Attrs().MTU, testMTU)
	}
	if mtu, err := dev.MTU(); err != nil || mtu != testMTU {
		t.Errorf("device MTU = %d, %v", mtu, err)
	}
	if link.Attrs().Flags&net.FlagUp == 0 {
		t.Errorf("link flags = %v, want up", link.Attrs().Flags)
	}
	addrs, err := netlink.AddrList(link, netlink.FAMILY_ALL)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []netip.Prefix{tunAddr4, tunAddr6} {
		found := false
		for _, a := range addrs {
			ip, _ := netip.AddrFromSlice(a.IP)
			ones, _ := a.Mask.Size()
			if netip.PrefixFrom(ip.Unmap(), ones) != want {
				continue
			}
			found = true
			if want.Addr().Is6() && (a.Flags&unix.IFA_F_NODAD == 0 || a.Flags&unix.IFA_F_TENTATIVE != 0) {
				t.Errorf("%s flags = %#x, want NODAD and not tentative", want, a.Flags)
			}
		}
		if !found {
			t.Errorf("address %s missing; have %v", want, addrs)
		}
	}

	// A daemon restart configures the same link again.
	if err := Configure(link.Attrs().Name, testMTU, []netip.Prefix{tunAddr4, tunAddr6}); err != nil {
		t.Errorf("second Configure: %v", err)
	}
	if err := Configure("espt-missing", testMTU, nil); err == nil {
		t.Error("Configure of a missing link succeeded")
	}
}

func TestConfigureRejects(t *testing.T) {
	// Validation happens before any system call, so no root is needed.
	if err := Configure("x", 0, nil); !errors.Is(err, ErrInvalidMTU) {
		t.Errorf("MTU 0: %v", err)
	}
	for _, p := range []netip.Prefix{{}, netip.MustParsePrefix("::ffff:198.18.1.1/120")} {
		if err := Configure("x", 1400, []netip.Prefix{p}); !errors.Is(err, ErrInvalidPrefix) {
			t.Errorf("prefix %v: %v", p, err)
		}
	}
	if _, err := Create("x", MaxMTU+1); !errors.Is(err, ErrInvalidMTU) {
		t.Errorf("Create MTU %d: %v", MaxMTU+1, err)
	}
}
