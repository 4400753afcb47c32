package esp

import (
	"maps"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
)

// sad is the SA database. Packets read it without locks: the inbound SPI
// map and the outbound policy list are immutable snapshots swapped whole by
// the control plane (copy on write), and each policy points at its current
// outbound SA through an atomic pointer, so a rekey switches traffic to the
// new SA between two packets (wireguard-go's device/keypair.go does the same
// with its current/next keypairs).
type sad struct {
	mu       sync.Mutex // serialises writers
	inbound  atomic.Pointer[map[uint32]*SA]
	policies atomic.Pointer[[]*policy]
	outbound map[uint32]*SA      // by SPI, for Query/Update/Delete; under mu
	reserved map[uint32]struct{} // SPIs allocated but not yet added; under mu
}

// policy routes outbound packets between two sets of traffic selectors to
// the SA that currently protects them.
type policy struct {
	localTS, remoteTS []netip.Prefix
	current           atomic.Pointer[SA]
}

func newSAD() *sad {
	s := &sad{outbound: make(map[uint32]*SA), reserved: make(map[uint32]struct{})}
	s.inbound.Store(&map[uint32]*SA{})
	s.policies.Store(&[]*policy{})
	return s
}

func (s *sad) lookupInbound(spi uint32) *SA { return (*s.inbound.Load())[spi] }

// lookupOutbound finds the SA for an inner packet. Policies are kept most
// specific first, so a narrower selector wins over 0.0.0.0/0.
func (s *sad) lookupOutbound(src, dst netip.Addr) *SA {
	for _, p := range *s.policies.Load() {
		if containsAddr(p.remoteTS, dst) && containsAddr(p.localTS, src) {
			return p.current.Load()
		}
	}
	return nil
}

// addInbound installs an inbound SA; false if its SPI is taken.
func (s *sad) addInbound(sa *SA) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := *s.inbound.Load()
	if _, taken := old[sa.spi]; taken {
		return false
	}
	m := maps.Clone(old)
	m[sa.spi] = sa
	s.inbound.Store(&m)
	delete(s.reserved, sa.spi)
	return true
}

// addOutbound installs an outbound SA and points its policy at it,
// creating the policy if these selectors have none yet.
func (s *sad) addOutbound(sa *SA) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, taken := s.outbound[sa.spi]; taken {
		return false
	}
	s.outbound[sa.spi] = sa
	for _, p := range *s.policies.Load() {
		if slices.Equal(p.localTS, sa.localTS) && slices.Equal(p.remoteTS, sa.remoteTS) {
			p.current.Store(sa)
			return true
		}
	}
	p := &policy{localTS: sa.localTS, remoteTS: sa.remoteTS}
	p.current.Store(sa)
	list := append(slices.Clone(*s.policies.Load()), p)
	slices.SortStableFunc(list, func(a, b *policy) int { return specificity(b) - specificity(a) })
	s.policies.Store(&list)
	return true
}

// specificity ranks a policy by its narrowest remote selector.
func specificity(p *policy) int {
	best := 0
	for _, ts := range p.remoteTS {
		bits := ts.Bits()
		if ts.Addr().Is4() {
			bits += 96 // compare IPv4 and IPv6 prefixes on one scale
		}
		best = max(best, bits)
	}
	return best
}

func (s *sad) removeInbound(spi uint32) *SA {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := *s.inbound.Load()
	sa, ok := old[spi]
	if !ok {
		return nil
	}
	m := maps.Clone(old)
	delete(m, spi)
	s.inbound.Store(&m)
	return sa
}

// removeOutbound deletes an outbound SA. Its policy goes too unless a newer
// SA already took it over.
func (s *sad) removeOutbound(spi uint32) *SA {
	s.mu.Lock()
	defer s.mu.Unlock()
	sa, ok := s.outbound[spi]
	if !ok {
		return nil
	}
	delete(s.outbound, spi)
	list := slices.DeleteFunc(slices.Clone(*s.policies.Load()), func(p *policy) bool {
		return p.current.CompareAndSwap(sa, nil)
	})
	s.policies.Store(&list)
	return sa
}

// all returns every installed SA, inbound first.
func (s *sad) all() []*SA {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*SA
	for _, sa := range *s.inbound.Load() {
		out = append(out, sa)
	}
	for _, sa := range s.outbound {
		out = append(out, sa)
	}
	slices.SortFunc(out, func(a, b *SA) int {
		if a.dir != b.dir {
			return int(a.dir) - int(b.dir)
		}
		return int(int64(a.spi) - int64(b.spi))
	})
	return out
}
