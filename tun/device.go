package tun

import (
	"errors"
	"fmt"

	wgtun "golang.zx2c4.com/wireguard/tun"
)

// MinWriteOffset is the smallest offset Device.Write accepts on Linux: the
// device writes a virtio_net_hdr (struct virtio_net_hdr in
// include/uapi/linux/virtio_net.h, 10 bytes) in front of each packet.
const MinWriteOffset = 10

// MTU bounds. The kernel's TUN accepts 68 to 65535; below 1280 the kernel
// disables IPv6 on the link (RFC 8200 §5).
const (
	MinMTU = 68
	MaxMTU = 65535
)

var (
	// ErrInvalidMTU reports an MTU outside MinMTU..MaxMTU.
	ErrInvalidMTU = errors.New("tun: invalid MTU")
	// ErrInvalidPrefix reports a prefix that is not a valid IPv4 or IPv6
	// prefix (IPv4-mapped IPv6 prefixes included, as their family is
	// ambiguous to the kernel).
	ErrInvalidPrefix = errors.New("tun: invalid prefix")
	// ErrAddressNotReady reports an IPv6 address the kernel did not make
	// usable in time.
	ErrAddressNotReady = errors.New("tun: address not ready")
)

// Create creates the TUN device name (the kernel picks tunN when name is "")
// with the given MTU. The returned device follows the contract in the
// package documentation; the caller owns it and closes it.
func Create(name string, mtu int) (wgtun.Device, error) {
	// Checked here because wireguard's CreateTUN leaks the open device when
	// setting the MTU fails.
	if mtu < MinMTU || mtu > MaxMTU {
		return nil, fmt.Errorf("%w: %d", ErrInvalidMTU, mtu)
	}
	dev, err := wgtun.CreateTUN(name, mtu)
	if err != nil {
		return nil, fmt.Errorf("tun: create %q: %w", name, err)
	}
	return dev, nil
}
