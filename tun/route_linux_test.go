package tun

import (
	"errors"
	"net"
	"net/netip"
	"os/exec"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// newTestRouter returns a Router on link with the default table and mark,
// closed when the test ends.
func newTestRouter(t *testing.T, link netlink.Link) *Router {
	t.Helper()
	r, err := NewRouter(link.Attrs().Name, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return r
}

func tableRules(t *testing.T, family, table int) []netlink.Rule {
	t.Helper()
	rules, err := netlink.RuleListFiltered(family, &netlink.Rule{Table: table}, netlink.RT_FILTER_TABLE)
	if err != nil {
		t.Fatal(err)
	}
	return rules
}

func tableRoutes(t *testing.T, table int) []netlink.Route {
	t.Helper()
	routes, err := netlink.RouteListFiltered(netlink.FAMILY_ALL, &netlink.Route{Table: table}, netlink.RT_FILTER_TABLE)
	if err != nil {
		t.Fatal(err)
	}
	return routes
}

func allRules(t *testing.T) []netlink.Rule {
	t.Helper()
	rules, err := netlink.RuleList(netlink.FAMILY_ALL)
	if err != nil {
		t.Fatal(err)
	}
	return rules
}

// routeGet asks the kernel which route an output packet to dst with the
// given fwmark takes.
func routeGet(t *testing.T, dst netip.Addr, mark uint32) (netlink.Route, error) {
	t.Helper()
	routes, err := netlink.RouteGetWithOptions(dst.AsSlice(), &netlink.RouteGetOptions{Mark: mark})
	if err != nil {
		return netlink.Route{}, err
	}
	if len(routes) != 1 {
		t.Fatalf("route get %s: %d routes", dst, len(routes))
	}
	return routes[0], nil
}

func addrOf(ip net.IP) netip.Addr {
	a, _ := netip.AddrFromSlice(ip)
	return a.Unmap()
}

func TestRouterRulesAndRoutes(t *testing.T) {
	enterNetns(t)
	_, link := newTestTUN(t)
	before := allRules(t)
	r := newTestRouter(t, link)

	if err := r.AddRoute(remoteNet4, tunAddr4.Addr()); err != nil {
		t.Fatal(err)
	}
	if err := r.AddRoute(netip.MustParsePrefix("::/0"), tunAddr6.Addr()); err != nil {
		t.Fatal(err)
	}

	// Exactly one rule per family, and no suppress_prefixlength rule.
	if got := len(allRules(t)) - len(before); got != 2 {
		t.Errorf("AddRoute added %d rules, want 2", got)
	}
	for _, family := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		rules := tableRules(t, family, DefaultTable)
		if len(rules) != 1 {
			t.Fatalf("family %d: %d rules for table %d, want 1", family, len(rules), DefaultTable)
		}
		rule := rules[0]
		if !rule.Invert || rule.Mark != DefaultMark || rule.Mask == nil || *rule.Mask != ^uint32(0) ||
			rule.Priority != RulePriority || rule.SuppressPrefixlen != -1 {
			t.Errorf("family %d: rule = %+v, want \"%d: not fwmark %#x lookup %d\"", family, rule, RulePriority, DefaultMark, DefaultTable)
		}
	}
	routes := tableRoutes(t, DefaultTable)
	if len(routes) != 2 {
		t.Fatalf("table %d has %d routes, want 2: %v", DefaultTable, len(routes), routes)
	}
	for _, route := range routes {
		if route.LinkIndex != link.Attrs().Index {
			t.Errorf("route %v via link %d, want %d", route.Dst, route.LinkIndex, link.Attrs().Index)
		}
		want := tunAddr4.Addr()
		if route.Family == netlink.FAMILY_V6 {
			want = tunAddr6.Addr()
		}
		if addrOf(route.Src) != want {
			t.Errorf("route %v src %v, want %v", route.Dst, route.Src, want)
		}
	}

	// Unmarked traffic goes into the TUN with the inner source; espd's own,
	// marked, traffic finds no route in main (this namespace has none).
	for _, c := range []struct{ dst, src netip.Addr }{{remote4, tunAddr4.Addr()}, {remote6, tunAddr6.Addr()}} {
		route, err := routeGet(t, c.dst, 0)
		if err != nil {
			t.Fatalf("route get %s: %v", c.dst, err)
		}
		if route.LinkIndex != link.Attrs().Index || addrOf(route.Src) != c.src || route.Table != DefaultTable {
			t.Errorf("route get %s = dev %d src %v table %d; want dev %d src %v table %d",
				c.dst, route.LinkIndex, route.Src, route.Table, link.Attrs().Index, c.src, DefaultTable)
		}
		if route, err := routeGet(t, c.dst, DefaultMark); !errors.Is(err, unix.ENETUNREACH) {
			t.Errorf("marked route get %s = %+v, %v; want ENETUNREACH", c.dst, route, err)
		}
		// The same through a socket carrying SO_MARK, as espd's are.
		if err := sendMarkedUDP(c.dst, DefaultMark); !errors.Is(err, unix.ENETUNREACH) {
			t.Errorf("marked send to %s: %v; want ENETUNREACH", c.dst, err)
		}
	}

	// iproute2 agrees.
	out, err := exec.Command("ip", "route", "get", remote4.String()).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "dev espt0 table 3677 src 198.18.1.1") {
		t.Errorf("ip route get %s: %v\n%s", remote4, err, out)
	}
	if out, err := exec.Command("ip", "route", "get", remote4.String(), "mark", "0xe5d").CombinedOutput(); err == nil {
		t.Errorf("ip route get %s mark 0xe5d found a route:\n%s", remote4, out)
	}

	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if after := allRules(t); len(after) != len(before) {
		t.Errorf("after Close %d rules, want %d: %v", len(after), len(before), after)
	}
	if routes := tableRoutes(t, DefaultTable); len(routes) != 0 {
		t.Errorf("after Close table %d holds %v", DefaultTable, routes)
	}
	if err := r.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := r.AddRoute(remoteNet4, netip.Addr{}); !errors.Is(err, ErrRouterClosed) {
		t.Errorf("AddRoute after Close: %v; want ErrRouterClosed", err)
	}
}

// sendMarkedUDP sends a datagram to dst:9 from a socket with SO_MARK mark.
func sendMarkedUDP(dst netip.Addr, mark uint32) error {
	family, sa := unix.AF_INET6, unix.Sockaddr(&unix.SockaddrInet6{Port: 9, Addr: dst.As16()})
	if dst.Is4() {
		family, sa = unix.AF_INET, &unix.SockaddrInet4{Port: 9, Addr: dst.As4()}
	}
	fd, err := unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_MARK, int(mark)); err != nil {
		return err
	}
	return unix.Sendto(fd, []byte("espd"), 0, sa)
}

// TestDefaultRouteSparesMarkedTraffic has an outer link with a default
// route in main, as a real host does, and remote selectors 0.0.0.0/0 and
// ::/0: everything unmarked, even to the outer link's own subnet, goes into
// the TUN, while marked traffic keeps following main.
func TestDefaultRouteSparesMarkedTraffic(t *testing.T) {
	enterNetns(t)
	_, tunLink := newTestTUN(t)
	outer := addOuterLink(t)
	r := newTestRouter(t, tunLink)
	if err := r.AddRoute(netip.MustParsePrefix("0.0.0.0/0"), tunAddr4.Addr()); err != nil {
		t.Fatal(err)
	}
	if err := r.AddRoute(netip.MustParsePrefix("::/0"), tunAddr6.Addr()); err != nil {
		t.Fatal(err)
	}
	lo, err := netlink.LinkByName("lo")
	if err != nil {
		t.Fatal(err)
	}

	for _, dst := range []string{"203.0.113.7", "192.0.2.9", "2001:db8:2::7", "2001:db8:1::9"} {
		dst := netip.MustParseAddr(dst)
		route, err := routeGet(t, dst, 0)
		if err != nil || route.LinkIndex != tunLink.Attrs().Index {
			t.Errorf("unmarked %s: dev %d, %v; want the TUN (%d)", dst, route.LinkIndex, err, tunLink.Attrs().Index)
		}
		route, err = routeGet(t, dst, DefaultMark)
		if err != nil || route.LinkIndex != outer.Attrs().Index {
			t.Errorf("marked %s: dev %d, %v; want the outer link (%d)", dst, route.LinkIndex, err, outer.Attrs().Index)
		}
		// A mark with extra bits is not espd's.
		route, err = routeGet(t, dst, DefaultMark|0x10000)
		if err != nil || route.LinkIndex != tunLink.Attrs().Index {
			t.Errorf("mark %#x %s: dev %d, %v; want the TUN", DefaultMark|0x10000, dst, route.LinkIndex, err)
		}
	}
	// The local table still comes first.
	for _, dst := range []netip.Addr{tunAddr4.Addr(), netip.MustParseAddr("192.0.2.1")} {
		if route, err := routeGet(t, dst, 0); err != nil || route.LinkIndex != lo.Attrs().Index {
			t.Errorf("local %s: dev %d, %v; want lo", dst, route.LinkIndex, err)
		}
	}
}

// addOuterLink adds a veth pair standing for the host's uplink, with
// 192.0.2.1/24 and 2001:db8:1::1/64 and default routes in main.
func addOuterLink(t *testing.T) netlink.Link {
	t.Helper()
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "espo0"}, PeerName: "espo1"}
	if err := netlink.LinkAdd(veth); err != nil {
		t.Fatal(err)
	}
	outer, err := netlink.LinkByName("espo0")
	if err != nil {
		t.Fatal(err)
	}
	peer, err := netlink.LinkByName("espo1")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"192.0.2.1/24", "2001:db8:1::1/64"} {
		addr, _ := netlink.ParseAddr(p)
		addr.Flags = unix.IFA_F_NODAD
		if err := netlink.AddrAdd(outer, addr); err != nil {
			t.Fatal(err)
		}
	}
	for _, l := range []netlink.Link{outer, peer} {
		if err := netlink.LinkSetUp(l); err != nil {
			t.Fatal(err)
		}
	}
	for _, gw := range []string{"192.0.2.254", "2001:db8:1::fe"} {
		gw := netip.MustParseAddr(gw)
		dst := netip.PrefixFrom(netip.IPv4Unspecified(), 0)
		if gw.Is6() {
			dst = netip.PrefixFrom(netip.IPv6Unspecified(), 0)
		}
		if err := netlink.RouteAdd(&netlink.Route{LinkIndex: outer.Attrs().Index, Dst: ipNet(dst), Gw: gw.AsSlice()}); err != nil {
			t.Fatalf("default route via %s: %v", gw, err)
		}
	}
	return outer
}

func TestRouterCountsReferences(t *testing.T) {
	enterNetns(t)
	_, link := newTestTUN(t)
	r := newTestRouter(t, link)
	// Host bits are ignored, so these name one destination.
	if err := r.AddRoute(netip.MustParsePrefix("198.18.2.0/24"), netip.Addr{}); err != nil {
		t.Fatal(err)
	}
	if err := r.AddRoute(netip.MustParsePrefix("198.18.2.77/24"), tunAddr4.Addr()); err != nil {
		t.Fatal(err)
	}
	routes := tableRoutes(t, DefaultTable)
	if len(routes) != 1 || addrOf(routes[0].Src) != tunAddr4.Addr() {
		t.Fatalf("routes = %v, want one with the newer source", routes)
	}
	if err := r.RemoveRoute(remoteNet4); err != nil {
		t.Fatal(err)
	}
	if routes := tableRoutes(t, DefaultTable); len(routes) != 1 {
		t.Fatalf("after one RemoveRoute of two: %v", routes)
	}
	if err := r.RemoveRoute(remoteNet4); err != nil {
		t.Fatal(err)
	}
	if routes := tableRoutes(t, DefaultTable); len(routes) != 0 {
		t.Fatalf("after the last RemoveRoute: %v", routes)
	}
	if err := r.RemoveRoute(remoteNet4); err != nil {
		t.Errorf("RemoveRoute of a removed route: %v", err)
	}
	if err := r.AddRoute(remoteNet6, tunAddr4.Addr()); !errors.Is(err, ErrFamilyMismatch) {
		t.Errorf("IPv6 route with IPv4 source: %v; want ErrFamilyMismatch", err)
	}
}

// TestRoutesGoneWithLink: closing the device deletes the link and its
// routes; Close must still remove the rules and report no error.
func TestRoutesGoneWithLink(t *testing.T) {
	enterNetns(t)
	dev, link := newTestTUN(t)
	before := allRules(t)
	r := newTestRouter(t, link)
	if err := r.AddRoute(remoteNet4, tunAddr4.Addr()); err != nil {
		t.Fatal(err)
	}
	dev.Close()
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if after := allRules(t); len(after) != len(before) {
		t.Errorf("after Close %d rules, want %d", len(after), len(before))
	}
}

func TestCleanup(t *testing.T) {
	enterNetns(t)
	_, link := newTestTUN(t)
	// A run that crashed: its router is never closed.
	crashed, err := NewRouter(link.Attrs().Name, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, dst := range []netip.Prefix{remoteNet4, remoteNet6} {
		if err := crashed.AddRoute(dst, netip.Addr{}); err != nil {
			t.Fatal(err)
		}
	}
	// Someone else's table, rule and route must survive.
	const otherTable = 100
	other := netlink.NewRule()
	other.Table, other.Priority, other.Family = otherTable, 1000, netlink.FAMILY_V4
	if err := netlink.RuleAdd(other); err != nil {
		t.Fatal(err)
	}
	otherRoute := &netlink.Route{LinkIndex: link.Attrs().Index, Dst: ipNet(netip.MustParsePrefix("198.18.3.0/24")), Table: otherTable}
	if err := netlink.RouteAdd(otherRoute); err != nil {
		t.Fatal(err)
	}

	if err := Cleanup(0); err != nil {
		t.Fatal(err)
	}
	for _, family := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		if rules := tableRules(t, family, DefaultTable); len(rules) != 0 {
			t.Errorf("stale rules left: %v", rules)
		}
	}
	if routes := tableRoutes(t, DefaultTable); len(routes) != 0 {
		t.Errorf("stale routes left: %v", routes)
	}
	if len(tableRules(t, netlink.FAMILY_V4, otherTable)) != 1 || len(tableRoutes(t, otherTable)) != 1 {
		t.Error("Cleanup touched another table")
	}

	// The restarted daemon installs its routes again.
	r := newTestRouter(t, link)
	if err := r.AddRoute(remoteNet4, tunAddr4.Addr()); err != nil {
		t.Fatal(err)
	}
	if len(tableRules(t, netlink.FAMILY_V4, DefaultTable)) != 1 || len(tableRoutes(t, DefaultTable)) != 1 {
		t.Error("restart did not install its rule and route")
	}
}

// TestRouterAdoptsSurvivingRule: without Cleanup, a rule left by a crash
// is adopted rather than refused, and removed by Close.
func TestRouterAdoptsSurvivingRule(t *testing.T) {
	enterNetns(t)
	_, link := newTestTUN(t)
	before := allRules(t)
	crashed, _ := NewRouter(link.Attrs().Name, 0, 0)
	if err := crashed.AddRoute(remoteNet4, tunAddr4.Addr()); err != nil {
		t.Fatal(err)
	}
	r := newTestRouter(t, link)
	if err := r.AddRoute(remoteNet4, tunAddr4.Addr()); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if after := allRules(t); len(after) != len(before) {
		t.Errorf("after Close %d rules, want %d", len(after), len(before))
	}
}

func TestRouterValidation(t *testing.T) {
	for _, table := range []int{-1, 252, 253, 254, 255, 1 << 33} {
		if _, err := NewRouter("espt0", table, 0); !errors.Is(err, ErrInvalidTable) {
			t.Errorf("NewRouter table %d: %v; want ErrInvalidTable", table, err)
		}
		if err := Cleanup(table); !errors.Is(err, ErrInvalidTable) {
			t.Errorf("Cleanup table %d: %v; want ErrInvalidTable", table, err)
		}
	}
	r, err := NewRouter("espt0", 0, 0)
	if err != nil || r.Table() != DefaultTable || r.Mark() != DefaultMark {
		t.Fatalf("NewRouter defaults: %v, %v", r, err)
	}
	if _, err := NewRouter("", 0, 0); err == nil {
		t.Error("NewRouter without a link succeeded")
	}
	if err := r.AddRoute(netip.Prefix{}, netip.Addr{}); !errors.Is(err, ErrInvalidPrefix) {
		t.Errorf("AddRoute of the zero prefix: %v", err)
	}
}
