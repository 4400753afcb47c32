//go:build linux

package tun

import (
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// addressWait bounds how long Configure waits for the kernel to make IPv6
// addresses usable.
const addressWait = 2 * time.Second

// Configure sets the MTU of link name, sets it up and adds addrs to it.
// Addresses are replaced when present, so configuring twice is harmless.
// IPv6 addresses skip duplicate address detection (IFA_F_NODAD): the TUN is
// a point-to-point link nobody else answers on, and a tentative address
// could neither be bound nor used as a route's source for about a second.
// Configure returns when every address receives packets.
func Configure(name string, mtu int, addrs []netip.Prefix) error {
	if mtu < MinMTU || mtu > MaxMTU {
		return fmt.Errorf("%w: %d", ErrInvalidMTU, mtu)
	}
	for _, p := range addrs {
		if err := checkPrefix(p); err != nil {
			return err
		}
	}
	link, err := netlink.LinkByName(name)
	if err != nil {
		return fmt.Errorf("tun: configure %q: %w", name, err)
	}
	// The MTU goes first: below 1280 the kernel refuses IPv6 addresses, and
	// failing on the MTU explains that better. The link goes up before the
	// addresses get added, so the kernel brings each address up once.
	if err := netlink.LinkSetMTU(link, mtu); err != nil {
		return fmt.Errorf("tun: set MTU %d on %q: %w", mtu, name, err)
	}
	// No IPv6 link-local address: the tunnel has no neighbours to solicit,
	// and router solicitations and MLD reports from one would only show up
	// as packets no SA covers. Best effort: with IPv6 disabled on the host
	// the attribute is refused, and then there is no chatter either.
	_ = netlink.LinkSetIP6AddrGenMode(link, nl.IN6_ADDR_GEN_MODE_NONE)
	if err := netlink.LinkSetUp(link); err != nil {
		return fmt.Errorf("tun: set %q up: %w", name, err)
	}
	for _, p := range addrs {
		addr := &netlink.Addr{IPNet: ipNet(p)}
		if p.Addr().Is6() {
			addr.Flags = unix.IFA_F_NODAD
		}
		if err := netlink.AddrReplace(link, addr); err != nil {
			return fmt.Errorf("tun: add address %s to %q: %w", p, name, err)
		}
	}
	return waitLocal(addrs)
}

// waitLocal waits until each IPv6 address in addrs has its local route.
// Even without duplicate address detection the kernel inserts that route
// from a work queue after the address is added, and until then packets to
// the address are not delivered (about half the time in the tests, a
// packet written right after Configure was lost). IPv4 local routes are
// inserted before the netlink request returns.
func waitLocal(addrs []netip.Prefix) error {
	deadline := time.Now().Add(addressWait)
	for _, p := range addrs {
		if !p.Addr().Is6() {
			continue
		}
		for delay := 100 * time.Microsecond; ; delay = min(2*delay, 20*time.Millisecond) {
			routes, err := netlink.RouteGet(p.Addr().AsSlice())
			if err == nil && len(routes) > 0 && routes[0].Type == unix.RTN_LOCAL {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%w: %s not local after %v", ErrAddressNotReady, p.Addr(), addressWait)
			}
			time.Sleep(delay)
		}
	}
	return nil
}

// checkPrefix accepts plain IPv4 and IPv6 prefixes only.
func checkPrefix(p netip.Prefix) error {
	if !p.IsValid() || p.Addr().Is4In6() || p.Addr().Zone() != "" {
		return fmt.Errorf("%w: %v", ErrInvalidPrefix, p)
	}
	return nil
}

// ipNet converts p, keeping its host bits (an address with its prefix length
// such as 198.18.1.1/24, as netlink expects for an interface address).
func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{
		IP:   net.IP(p.Addr().AsSlice()),
		Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen()),
	}
}
