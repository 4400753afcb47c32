package main

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/espd/espd/esp/installer"
	"github.com/espd/espd/esp/installer/installertest"
	"github.com/espd/espd/internal/config"
)

// TestInstallManual checks that the manual SAs of the documented example
// reach the data plane as the config describes them: the inbound SA with the
// inbound keys and the peer as its source, both with the selectors, the
// ports only with encapsulation, and the lifetimes as soft and hard limits.
func TestInstallManual(t *testing.T) {
	cfg, err := config.Load("../../internal/config/testdata/example.conf")
	if err != nil {
		t.Fatal(err)
	}
	rec := &installertest.Recorder{}
	for i := range cfg.Espd.Manual {
		if err := installManual(rec, &cfg.Espd.Manual[i], cfg.Espd.PortNATT); err != nil {
			t.Fatalf("%s: %v", cfg.Espd.Manual[i].Name, err)
		}
	}
	site := cfg.Espd.Manual[0]
	in, ok := rec.Lookup(site.Inbound.SPI, installer.Inbound)
	if !ok {
		t.Fatalf("inbound SA %#x not installed: %v", site.Inbound.SPI, rec.Calls())
	}
	if !bytes.Equal(in.EncKey, site.Inbound.EncKey) || in.Remote != netip.AddrPortFrom(site.Remote, site.RemotePort) ||
		in.Local != netip.AddrPortFrom(site.Local, cfg.Espd.PortNATT) || !in.Encap || in.Mode != installer.Tunnel {
		t.Fatalf("inbound SA %+v does not match the config", in)
	}
	out, ok := rec.Lookup(site.Outbound.SPI, installer.Outbound)
	if !ok || !bytes.Equal(out.EncKey, site.Outbound.EncKey) || out.LocalTS[0] != site.LocalTS[0] || out.RemoteTS[0] != site.RemoteTS[0] {
		t.Fatalf("outbound SA %+v does not match the config", out)
	}

	host6 := cfg.Espd.Manual[1]
	tr, ok := rec.Lookup(host6.Outbound.SPI, installer.Outbound)
	if !ok || tr.Mode != installer.Transport || tr.Encap || tr.Remote.Port() != 0 || !bytes.Equal(tr.IntegKey, host6.Outbound.IntegKey) {
		t.Fatalf("transport SA %+v does not match the config", tr)
	}
	if tr.Lifetime.Soft.Time != host6.RekeyTime || tr.Lifetime.Hard.Bytes != host6.LifeBytes || tr.Lifetime.Soft.Bytes != host6.RekeyBytes {
		t.Fatalf("lifetimes %+v, config rekey %v/%d life %d", tr.Lifetime, host6.RekeyTime, host6.RekeyBytes, host6.LifeBytes)
	}
}
