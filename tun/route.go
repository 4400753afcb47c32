//go:build linux

package tun

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"sync"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

const (
	// DefaultTable is the routing table holding espd's routes (0xe5d).
	// strongSwan uses 220 and wg-quick 51820, so they can run beside espd.
	DefaultTable = 0xe5d
	// DefaultMark is the fwmark espd's own IKE and ESP sockets carry
	// (SO_MARK). Packets with exactly this mark skip DefaultTable.
	DefaultMark uint32 = 0xe5d
	// RulePriority is the priority of the "not fwmark lookup table" rule:
	// after the local table (priority 0), so local addresses stay local,
	// and before main (32766), so espd's routes beat the main table.
	RulePriority = 0xe5d
)

var (
	// ErrInvalidTable reports a table that is reserved (main, local,
	// default, compat, unspec) and must never be flushed by Cleanup.
	ErrInvalidTable = errors.New("tun: invalid routing table")
	// ErrFamilyMismatch reports a route source of the other IP family than
	// the destination.
	ErrFamilyMismatch = errors.New("tun: source and destination address families differ")
	// ErrRouterClosed reports a route change after Router.Close.
	ErrRouterClosed = errors.New("tun: router closed")
)

// Router installs routes into the TUN in a table of its own, and the policy
// rule that consults that table, and removes exactly those again.
//
// The rules, per address family, modelled on wg-quick's:
//
//	<RulePriority>: not from all fwmark <mark> lookup <table>
//
// Every packet without espd's mark consults the table before main, so a
// route for a remote traffic selector wins over any route in main, however
// specific: an IPsec policy beats normal routing, as XFRM policies do in the
// kernel. Packets espd itself sends to the peer (IKE and ESP) carry the mark,
// skip the table and follow main, even when a selector (0.0.0.0/0, ::/0, or
// the peer's /32 in transport mode) covers the peer. A destination with no
// route in the table falls through to the next rule, so the table holds
// nothing but the selectors' routes.
//
// wg-quick also adds "lookup main suppress_prefixlength 0" in front of its
// rule, which lets every non-default route in main beat the VPN's default
// route. espd does not: that rule would let a connected LAN route or any
// more specific route in main take traffic that a selector covers past the
// tunnel, which is exactly what an IPsec policy must prevent. Traffic that
// should bypass the tunnel is the configuration's business (a narrower
// remote selector or a passthrough policy), not the routing's. Only the
// local table stays ahead of espd's rule.
//
// One caveat follows from putting the peer's address behind an unmarked
// rule: with strict reverse path filtering (rp_filter=1; the kernel uses
// the larger of net.ipv4.conf.all and the outer interface's value), a
// selector that covers the peer makes the kernel drop the peer's incoming
// IPv4 packets and ARP requests, because the reverse lookup, made without a
// mark, points into the TUN. Loose mode (2) or off (0, the kernel default)
// works; both were checked with two namespaces.
//
// AddRoute and RemoveRoute are counted per destination, so two CHILD_SAs
// with the same remote selector (a make-before-break rekey) share a route
// that lives until both are gone. A Router is safe for concurrent use.
type Router struct {
	link  string
	table int
	mark  uint32

	mu     sync.Mutex
	closed bool
	routes map[netip.Prefix]*installedRoute
	rules  []netlink.Rule // at most one per family
}

type installedRoute struct {
	route netlink.Route
	refs  int
}

// NewRouter returns a Router for routes through link in table, bypassed by
// packets marked mark. Zero table and mark select DefaultTable and
// DefaultMark. Nothing is installed until the first AddRoute.
func NewRouter(link string, table int, mark uint32) (*Router, error) {
	table, err := checkTable(table)
	if err != nil {
		return nil, err
	}
	if link == "" {
		return nil, errors.New("tun: router needs a link name")
	}
	if mark == 0 {
		mark = DefaultMark
	}
	return &Router{link: link, table: table, mark: mark, routes: make(map[netip.Prefix]*installedRoute)}, nil
}

// Table returns the routing table the Router uses.
func (r *Router) Table() int { return r.table }

// Mark returns the fwmark that bypasses the Router's table.
func (r *Router) Mark() uint32 { return r.mark }

// AddRoute routes dst through the Router's link, in its table, with src as
// the preferred source address when src is valid (see SourceFor). Host bits
// in dst are ignored. The first route of a family installs that family's
// rule. Adding a destination again replaces the route (a new src wins) and
// counts one more reference.
func (r *Router) AddRoute(dst netip.Prefix, src netip.Addr) error {
	if err := checkPrefix(dst); err != nil {
		return err
	}
	dst = dst.Masked()
	if src.IsValid() && (src.Is4() != dst.Addr().Is4() || src.Is4In6()) {
		return fmt.Errorf("%w: route %s, source %s", ErrFamilyMismatch, dst, src)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return ErrRouterClosed
	}
	link, err := netlink.LinkByName(r.link)
	if err != nil {
		return fmt.Errorf("tun: route %s: link %q: %w", dst, r.link, err)
	}
	if err := r.ensureRule(familyOf(dst.Addr())); err != nil {
		return err
	}
	route := netlink.Route{
		LinkIndex: link.Attrs().Index,
		Dst:       ipNet(dst),
		Table:     r.table,
		Family:    familyOf(dst.Addr()),
	}
	if dst.Addr().Is4() {
		// What "ip route add ... dev tun" picks for a route without a
		// gateway; IPv6 routes have no scope.
		route.Scope = netlink.SCOPE_LINK
	}
	if src.IsValid() {
		route.Src = src.AsSlice()
	}
	// Replace rather than add: it overwrites a stale route of the same
	// destination left behind by a crashed run.
	if err := netlink.RouteReplace(&route); err != nil {
		return fmt.Errorf("tun: add route %s via %q table %d: %w", dst, r.link, r.table, err)
	}
	if installed := r.routes[dst]; installed != nil {
		installed.route = route
		installed.refs++
	} else {
		r.routes[dst] = &installedRoute{route: route, refs: 1}
	}
	return nil
}

// RemoveRoute drops one reference to the route for dst and removes the
// route with the last one. Removing a destination that has no route is not
// an error. The family's rule stays until Close; without routes it matches
// nothing.
func (r *Router) RemoveRoute(dst netip.Prefix) error {
	if err := checkPrefix(dst); err != nil {
		return err
	}
	dst = dst.Masked()
	r.mu.Lock()
	defer r.mu.Unlock()
	installed := r.routes[dst]
	if installed == nil {
		return nil
	}
	if installed.refs--; installed.refs > 0 {
		return nil
	}
	delete(r.routes, dst)
	if err := netlink.RouteDel(&installed.route); err != nil && !isGone(err) {
		return fmt.Errorf("tun: remove route %s table %d: %w", dst, r.table, err)
	}
	return nil
}

// Close removes every route and rule the Router installed, and nothing
// else. Routes the kernel already removed (with the link) are skipped.
// Calling Close again does nothing.
func (r *Router) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	var errs []error
	for dst, installed := range r.routes {
		if err := netlink.RouteDel(&installed.route); err != nil && !isGone(err) {
			errs = append(errs, fmt.Errorf("tun: remove route %s table %d: %w", dst, r.table, err))
		}
	}
	clear(r.routes)
	for i := range r.rules {
		if err := netlink.RuleDel(&r.rules[i]); err != nil && !isGone(err) {
			errs = append(errs, fmt.Errorf("tun: remove rule for table %d: %w", r.table, err))
		}
	}
	r.rules = nil
	return errors.Join(errs...)
}

// ensureRule installs family's rule once.
func (r *Router) ensureRule(family int) error {
	for _, rule := range r.rules {
		if rule.Family == family {
			return nil
		}
	}
	rule := netlink.NewRule()
	rule.Family = family
	rule.Priority = RulePriority
	rule.Table = r.table
	rule.Invert = true
	rule.Mark = r.mark
	// An exact match: a packet whose mark some other software changed is
	// not espd's and must not bypass the tunnel.
	mask := ^uint32(0)
	rule.Mask = &mask
	// EEXIST means a crashed run's rule survived; it is identical, so it is
	// adopted and removed by Close like a new one.
	if err := netlink.RuleAdd(rule); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("tun: add rule \"not fwmark %#x lookup %d\": %w", r.mark, r.table, err)
	}
	r.rules = append(r.rules, *rule)
	return nil
}

// Cleanup removes every rule that looks up table and every route in table,
// for both families: what a crashed run left behind. Call it at startup,
// before the first AddRoute of a Router using the same table. Zero selects
// DefaultTable.
func Cleanup(table int) error {
	table, err := checkTable(table)
	if err != nil {
		return err
	}
	var errs []error
	for _, family := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		rules, err := netlink.RuleListFiltered(family, &netlink.Rule{Table: table}, netlink.RT_FILTER_TABLE)
		if err != nil {
			errs = append(errs, fmt.Errorf("tun: list rules: %w", err))
			continue
		}
		for i := range rules {
			if err := netlink.RuleDel(&rules[i]); err != nil && !isGone(err) {
				errs = append(errs, fmt.Errorf("tun: remove stale rule for table %d: %w", table, err))
			}
		}
	}
	routes, err := netlink.RouteListFiltered(netlink.FAMILY_ALL, &netlink.Route{Table: table}, netlink.RT_FILTER_TABLE)
	if err != nil {
		errs = append(errs, fmt.Errorf("tun: list routes in table %d: %w", table, err))
	}
	for i := range routes {
		if err := netlink.RouteDel(&routes[i]); err != nil && !isGone(err) {
			errs = append(errs, fmt.Errorf("tun: remove stale route %v table %d: %w", routes[i].Dst, table, err))
		}
	}
	return errors.Join(errs...)
}

// checkTable maps 0 to DefaultTable and refuses the kernel's reserved
// tables, which Cleanup would otherwise flush.
func checkTable(table int) (int, error) {
	if table == 0 {
		return DefaultTable, nil
	}
	if table < 0 || int64(table) > math.MaxUint32 || (table >= unix.RT_TABLE_COMPAT && table <= unix.RT_TABLE_LOCAL) {
		return 0, fmt.Errorf("%w: %d", ErrInvalidTable, table)
	}
	return table, nil
}

func familyOf(a netip.Addr) int {
	if a.Is4() {
		return netlink.FAMILY_V4
	}
	return netlink.FAMILY_V6
}

// isGone reports the errors of deleting something already deleted: the
// kernel drops routes with their link, and an operator may have flushed.
func isGone(err error) bool {
	return errors.Is(err, unix.ESRCH) || errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENODEV)
}

// SourceAddr is the address the kernel sends to dst from, looked up as a
// socket marked with mark would be routed: past espd's own table, so the
// answer is the outer interface's address even when a tunnel covers dst.
func SourceAddr(dst netip.Addr, mark uint32) (netip.Addr, error) {
	routes, err := netlink.RouteGetWithOptions(dst.AsSlice(), &netlink.RouteGetOptions{Mark: mark})
	if err != nil {
		return netip.Addr{}, fmt.Errorf("tun: route to %v: %w", dst, err)
	}
	for _, r := range routes {
		if src, ok := netip.AddrFromSlice(r.Src); ok {
			return src.Unmap(), nil
		}
	}
	return netip.Addr{}, fmt.Errorf("tun: route to %v has no source address", dst)
}
