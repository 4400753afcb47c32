package ike

import (
	"bytes"
	"crypto/rand"
	"net/netip"
	"slices"
	"testing"

	"github.com/espd/espd/esp/installer"
	"github.com/espd/espd/ike/message"
)

// datagram is one message held back, to be delivered later or never.
type datagram struct {
	b        []byte
	from, to netip.AddrPort
}

// hold takes the one datagram p has sent, with its endpoints.
func hold(t testing.TB, p *peer) datagram {
	t.Helper()
	b := p.take(t)
	p.mu.Lock()
	defer p.mu.Unlock()
	return datagram{b: b, from: p.lastFrom, to: p.lastTo}
}

// holdAll takes every datagram p has sent, in order (all between the same
// endpoints).
func holdAll(t testing.TB, p *peer) []datagram {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []datagram
	for _, b := range p.sent {
		out = append(out, datagram{b: b, from: p.lastFrom, to: p.lastTo})
	}
	p.sent = nil
	return out
}

// deliverTo hands a held datagram to p and returns it decrypted, so the
// test can look at what travelled.
func (d datagram) deliverTo(t testing.TB, p *peer) *message.Message {
	t.Helper()
	m := open(t, p, d.b)
	if err := p.route(t, d.b).HandleDatagram(d.b, d.from, d.to); err != nil {
		t.Logf("%s: %v", p.name, err)
	}
	return m
}

// step carries the one datagram from has sent to to and returns it
// decrypted.
func step(t testing.TB, from, to *peer) *message.Message {
	t.Helper()
	return hold(t, from).deliverTo(t, to)
}

// open decrypts a datagram with the keys of the SA it is for.
func open(t testing.TB, to *peer, b []byte) *message.Message {
	t.Helper()
	sa := to.route(t, b)
	sa.mu.Lock()
	defer sa.mu.Unlock()
	m, err := message.Open(b, sa.recvT)
	if err != nil {
		t.Fatalf("%s cannot open the datagram: %v", to.name, err)
	}
	return m
}

// spis lists the SPIs p has installed in one direction, sorted.
func spis(p *peer, dir installer.Direction) []uint32 {
	var out []uint32
	for _, sa := range p.recorder.Installed(dir) {
		out = append(out, sa.SPI)
	}
	slices.Sort(out)
	return out
}

func sorted(s ...uint32) []uint32 {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// assertSAs checks which SAs p has installed in each direction.
func assertSAs(t testing.TB, p *peer, in, out []uint32) {
	t.Helper()
	if got := spis(p, installer.Inbound); !slices.Equal(got, sorted(in...)) {
		t.Errorf("%s inbound SAs %08x, want %08x", p.name, got, sorted(in...))
	}
	if got := spis(p, installer.Outbound); !slices.Equal(got, sorted(out...)) {
		t.Errorf("%s outbound SAs %08x, want %08x", p.name, got, sorted(out...))
	}
}

// assertPairs checks that every outbound SA of one peer is an inbound SA of
// the other with the same keys, and that each side has n of each.
func assertPairs(t testing.TB, i, r *peer, n int) {
	t.Helper()
	for _, pair := range [][2]*peer{{i, r}, {r, i}} {
		from, to := pair[0], pair[1]
		outs := from.recorder.Installed(installer.Outbound)
		if len(outs) != n || len(to.recorder.Installed(installer.Inbound)) != n {
			t.Fatalf("%s has %d outbound SAs, %s %d inbound, want %d", from.name, len(outs), to.name,
				len(to.recorder.Installed(installer.Inbound)), n)
		}
		for _, out := range outs {
			in, ok := to.recorder.Lookup(out.SPI, installer.Inbound)
			if !ok {
				t.Fatalf("%s sends on %08x, which %s does not receive on", from.name, out.SPI, to.name)
			}
			if !bytes.Equal(out.EncKey, in.EncKey) || !bytes.Equal(out.IntegKey, in.IntegKey) || out.Suite != in.Suite {
				t.Errorf("SA %08x: keys or suite differ between the peers", out.SPI)
			}
		}
	}
}

// proposalSPI is the ESP SPI of a message's first proposal: the sender's
// inbound SPI.
func proposalSPI(t testing.TB, m *message.Message) uint32 {
	t.Helper()
	p, ok := m.Find(message.PayloadSA).(*message.SA)
	if !ok || len(p.Proposals) == 0 {
		t.Fatalf("%v has no SA payload", m)
	}
	spi, ok := p.Proposals[0].SPI32()
	if !ok {
		t.Fatalf("%v: proposal SPI %x", m, p.Proposals[0].SPI)
	}
	return spi
}

// deleted lists the SPIs of a message's ESP Delete payloads.
func deleted(m *message.Message) []uint32 {
	var out []uint32
	for _, p := range m.FindAll(message.PayloadDelete) {
		if d := p.(*message.Delete); d.Protocol == message.ProtocolESP {
			out = append(out, d.SPIs...)
		}
	}
	return out
}

// assertPayloads checks a message's exchange, direction and payload types
// (notifies by type).
func assertPayloads(t testing.TB, m *message.Message, ex message.ExchangeType, response bool, want ...any) {
	t.Helper()
	if m.Header.Exchange != ex || m.Header.Flags.Response() != response {
		t.Fatalf("got %v, want %v response=%v", m, ex, response)
	}
	var got []any
	for _, p := range m.Payloads {
		if n, ok := p.(*message.Notify); ok {
			got = append(got, n.NotifyType)
			continue
		}
		got = append(got, p.Type())
	}
	if !slices.Equal(got, want) {
		t.Fatalf("%v: payloads %v, want %v", m, got, want)
	}
}

// setNonce makes p's next CREATE_CHILD_SA nonces start with first, as
// strongSwan's exchange_test_helper->nonce_first_byte does.
func setNonce(p *peer, first byte) {
	p.sa.conn.newNonce = func() ([]byte, error) {
		n := make([]byte, 32)
		if _, err := rand.Read(n); err != nil {
			return nil, err
		}
		n[0] = first
		return n, nil
	}
}

// established returns a pair that has run IKE_SA_INIT and IKE_AUTH.
func established(t testing.TB, mutate func(i, r *Config)) (*peer, *peer, *FakeClock) {
	t.Helper()
	i, r, clock := newPair(t, mutate)
	establish(t, i, r)
	assertPairs(t, i, r, 1)
	return i, r, clock
}

// child returns p's CHILD_SAs as the current SA sees them.
func children(p *peer) []ChildSA { return p.sa.Children() }

func pfs(group string) func(i, r *Config) {
	return func(i, r *Config) {
		i.Children[0].ESPProposals = []string{"aes128gcm16" + group}
		r.Children[0].ESPProposals = []string{"aes128gcm16" + group}
	}
}

// collisionNonces are the first bytes of the four nonces of two crossing
// rekeys (a's Ni, b's Ni, b's Nr, a's Nr), as in strongSwan's
// test_collision: the lowest is in each position once, so a's exchange
// has it, and a's SA goes, for even indexes.
var collisionNonces = [][4]byte{
	{0x00, 0xff, 0xff, 0xff},
	{0xff, 0x00, 0xff, 0xff},
	{0xff, 0xff, 0x00, 0xff},
	{0xff, 0xff, 0xff, 0x00},
}
