package main

import (
	"errors"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/espd/espd/esp/installer"
	"github.com/espd/espd/ike"
	"github.com/espd/espd/internal/config"
)

// The shipped examples are the README's promise: espd runs them as they
// are. Those that name certificates need the files beside them, which the
// repository does not ship, and must say which file is missing.
func TestExamplesBecomeIKEConnections(t *testing.T) {
	dir := filepath.Join("..", "..", "internal", "config", "testdata")
	for _, tc := range []struct {
		file, conn, child string
		check             func(t *testing.T, c ike.Config)
		missing           string
	}{
		{file: "site-to-site.conf", conn: "gw1-gw2", child: "net-net", check: func(t *testing.T, c ike.Config) {
			if c.Remote != netip.MustParseAddrPort("192.0.2.2:500") || len(c.Proposals) != 3 || len(c.PSK) == 0 {
				t.Errorf("site-to-site: %+v", c)
			}
			if ch := c.Children[0]; len(ch.RemoteTS) != 2 || len(ch.ESPProposals) != 3 || ch.ReplayWindow != 128 {
				t.Errorf("site-to-site child: %+v", ch)
			}
		}},
		{file: "host-to-host.conf", conn: "host-host", child: "host", check: func(t *testing.T, c ike.Config) {
			ch := c.Children[0]
			if ch.Mode != installer.Transport || ch.LocalTS[0] != netip.MustParsePrefix("192.0.2.1/32") || ch.RemoteTS[0] != netip.MustParsePrefix("192.0.2.2/32") {
				t.Errorf("host-to-host child: %+v", ch)
			}
			if c.RemoteID == nil || c.RemoteID.String() != "192.0.2.2" {
				t.Errorf("host-to-host remote id %v", c.RemoteID)
			}
		}},
		{file: "example.conf", conn: "gw-gw", child: "net-net", check: func(t *testing.T, c ike.Config) {
			// espd.ike's settings reach every connection.
			if c.HalfOpenTimeout != 30*time.Second || c.Retransmit.Timeout != 4*time.Second || c.Retransmit.Tries != 5 {
				t.Errorf("espd.ike settings: half-open %v, retransmit %+v", c.HalfOpenTimeout, c.Retransmit)
			}
		}},
		{file: "road-warrior-gateway.conf", missing: "x509"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			f, err := config.Load(filepath.Join(dir, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			conns, err := ikeConnections(f)
			if tc.missing != "" {
				if err == nil || !strings.Contains(err.Error(), tc.missing) || !errors.Is(err, config.ErrInvalid) {
					t.Fatalf("want an error naming the missing %s file, with file and line: %v", tc.missing, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(conns) != 1 || conns[0].Name != tc.conn || conns[0].Children[0].Name != tc.child {
				t.Fatalf("connections %+v", conns)
			}
			tc.check(t, conns[0])
		})
	}
}

// ikeConnection casts config.Action to ike.Action; the values must agree.
func TestActionValuesAgree(t *testing.T) {
	if ike.ActionNone != ike.Action(config.ActionNone) || ike.ActionTrap != ike.Action(config.ActionTrap) ||
		ike.ActionStart != ike.Action(config.ActionStart) {
		t.Fatal("ike.Action and config.Action disagree; convert them one by one")
	}
}
