package installertest

import (
	"errors"
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/espd/espd/crypto"
	"github.com/espd/espd/esp/installer"
)

func params(t *testing.T, spi uint32, dir installer.Direction) installer.SAParams {
	t.Helper()
	suite, err := crypto.ParseESPProposal("aes128gcm16")
	if err != nil {
		t.Fatal(err)
	}
	return installer.SAParams{SPI: spi, Protocol: installer.ESP, Direction: dir,
		Local: netip.MustParseAddrPort("192.0.2.1:4500"), Remote: netip.MustParseAddrPort("192.0.2.2:4500"), Encap: true,
		Suite: suite, EncKey: make([]byte, suite.EncKeyLen),
		LocalTS: []netip.Prefix{netip.MustParsePrefix("198.18.1.0/24")}, RemoteTS: []netip.Prefix{netip.MustParsePrefix("198.18.2.0/24")}}
}

func TestRecorderLifecycle(t *testing.T) {
	r := &Recorder{Rand: rand.New(rand.NewPCG(1, 2))}
	spi, err := r.AllocateSPI()
	if err != nil || spi < 256 {
		t.Fatalf("AllocateSPI = %#x, %v", spi, err)
	}
	if err := r.Add(params(t, spi, installer.Inbound)); err != nil {
		t.Fatal(err)
	}
	if err := r.Add(params(t, spi, installer.Inbound)); !errors.Is(err, installer.ErrExists) {
		t.Fatalf("second Add: %v, want ErrExists", err)
	}
	if err := r.Add(params(t, 7, installer.Outbound)); !errors.Is(err, installer.ErrInvalid) {
		t.Fatalf("reserved SPI: %v, want ErrInvalid", err)
	}
	moved := netip.MustParseAddrPort("203.0.113.9:61000")
	if err := r.Update(spi, installer.Inbound, moved); err != nil {
		t.Fatal(err)
	}
	if p, _ := r.Lookup(spi, installer.Inbound); p.Remote != moved {
		t.Fatalf("Update did not move the SA: %v", p.Remote)
	}
	r.SetStats(spi, installer.Inbound, installer.Stats{Bytes: 42})
	if st, err := r.Query(spi, installer.Inbound); err != nil || st.Bytes != 42 {
		t.Fatalf("Query = %+v, %v", st, err)
	}
	if err := r.Delete(spi, installer.Inbound); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Query(spi, installer.Inbound); !errors.Is(err, installer.ErrNotFound) {
		t.Fatalf("Query after Delete: %v", err)
	}
	var ops []string
	for _, c := range r.Calls() {
		ops = append(ops, c.Op)
	}
	if got, want := len(ops), 5; got != want || ops[0] != "allocate" || ops[4] != "delete" { // refused calls are not recorded
		t.Fatalf("calls %v", ops)
	}
	if len(r.Installed(installer.Inbound)) != 0 {
		t.Fatal("SA still installed after Delete")
	}
}
