package main

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/espd/espd/esp/installer"
)

// discardInstaller is the data plane of a load generator that never sends
// ESP: it hands out random SPIs and forgets every SA it is given, so the
// generator keeps no state per established SA.
type discardInstaller struct{}

var _ installer.Installer = discardInstaller{}

func (discardInstaller) AllocateSPI() (uint32, error) {
	var b [4]byte
	for {
		if _, err := rand.Read(b[:]); err != nil {
			return 0, fmt.Errorf("ikerate: SPI: %w", err)
		}
		// RFC 4303 §2.1: 1..255 are reserved, 0 is never sent. Two SAs
		// drawing the same SPI would only matter to a data plane.
		if spi := binary.BigEndian.Uint32(b[:]); spi >= 256 {
			return spi, nil
		}
	}
}

func (discardInstaller) Add(installer.SAParams) error { return nil }

func (discardInstaller) Update(uint32, installer.Direction, netip.AddrPort) error { return nil }

func (discardInstaller) Query(spi uint32, dir installer.Direction) (installer.Stats, error) {
	return installer.Stats{}, fmt.Errorf("%w: %#x/%v (the load generator keeps no SAs)", installer.ErrNotFound, spi, dir)
}

func (discardInstaller) Delete(uint32, installer.Direction) error { return nil }
