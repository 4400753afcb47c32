package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/espd/espd/esp"
	"github.com/espd/espd/esp/installer"
	"github.com/espd/espd/internal/config"
	"github.com/espd/espd/tun/chantun"
)

// TestStatusOverControlSocket runs the control socket against a data plane
// holding the example's manual SAs and reads them back the way
// `espd status` does.
func TestStatusOverControlSocket(t *testing.T) {
	cfg, err := config.Load("../../internal/config/testdata/example.conf")
	if err != nil {
		t.Fatal(err)
	}
	dp, err := esp.New(esp.Config{TUN: chantun.New(1400)})
	if err != nil {
		t.Fatal(err)
	}
	defer dp.Close()
	site := &cfg.Espd.Manual[0]
	// Inbound SAs need no socket, so install only those here.
	if err := installManual(inboundOnly{dp}, site, cfg.Espd.PortNATT); err != nil {
		t.Fatal(err)
	}
	socket := filepath.Join(t.TempDir(), "espd.sock")
	ctl, err := listenControl(socket, &daemon{dp: dp}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	defer ctl.Close()
	r, err := fetchStatus(socket)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.SAs) != 1 || r.SAs[0].SPI != "00001001" || r.SAs[0].Direction != "in" || r.SAs[0].Proposal != "aes128gcm16-esn" {
		t.Fatalf("status %+v", r.SAs)
	}
	var out bytes.Buffer
	printStatus(&out, r)
	for _, want := range []string{"00001001", "198.18.1.0/24 === 198.18.2.0/24", "data plane drops: none"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("status output lacks %q:\n%s", want, out.String())
		}
	}
}

// inboundOnly passes inbound SAs to the data plane and skips outbound
// ones, which would need a transport socket.
type inboundOnly struct{ *esp.Dataplane }

func (d inboundOnly) Add(p installer.SAParams) error {
	if p.Direction == installer.Outbound {
		return nil
	}
	return d.Dataplane.Add(p)
}
