// Package chantun is an in-memory TUN device for tests: a
// golang.zx2c4.com/wireguard/tun.Device whose "kernel" side is two channels,
// so a test plays the operating system while the data plane under test
// reads and writes packets as it would on a real TUN.
package chantun

import (
	"errors"
	"fmt"
	"os"
	"sync"

	wgtun "golang.zx2c4.com/wireguard/tun"

	"github.com/espd/espd/tun"
)

const (
	// QueueLen is the capacity of Outbound and Inbound.
	QueueLen = 1024
	// BatchSize is what BatchSize reports: the Linux TUN's batch size, so
	// the data plane's batching is exercised.
	BatchSize = 128
	// Name is what Name reports.
	Name = "chantun"
)

var (
	// ErrShortBuffer reports a queued packet that does not fit the
	// buffer Read offered; the packet is dropped, as a real TUN does.
	ErrShortBuffer = errors.New("chantun: packet larger than the read buffer")
	// ErrOffset reports a Write offset below tun.MinWriteOffset or beyond
	// a buffer, which the Linux device rejects too.
	ErrOffset = errors.New("chantun: invalid offset")
)

// Device is a channel-backed TUN. Its exported channels are the kernel's
// side; they are never closed, so a test may keep sending without racing
// Close.
type Device struct {
	// Outbound carries packets the kernel sends into the TUN: what Read
	// returns. A test sends to it.
	Outbound chan []byte
	// Inbound carries packets Write delivered to the kernel, each a copy
	// that the test owns. A test receives from it.
	Inbound chan []byte

	mtu       int
	events    chan wgtun.Event
	closed    chan struct{}
	closeOnce sync.Once
}

var _ wgtun.Device = (*Device)(nil)

// New returns an open device reporting mtu, with EventUp queued.
func New(mtu int) *Device {
	d := &Device{
		Outbound: make(chan []byte, QueueLen),
		Inbound:  make(chan []byte, QueueLen),
		mtu:      mtu,
		events:   make(chan wgtun.Event, 1),
		closed:   make(chan struct{}),
	}
	d.events <- wgtun.EventUp
	return d
}

// File returns nil: there is no file descriptor.
func (d *Device) File() *os.File { return nil }

// Read blocks until a packet is queued on Outbound, then returns it and
// every packet queued behind it, up to len(bufs), each copied to
// bufs[i][offset:] with its length in sizes[i]. After Close it returns an
// error matching os.ErrClosed.
func (d *Device) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	if len(bufs) == 0 {
		return 0, nil
	}
	if offset < 0 || len(sizes) < len(bufs) {
		return 0, fmt.Errorf("%w: offset %d, %d sizes for %d buffers", ErrOffset, offset, len(sizes), len(bufs))
	}
	// Checked first so that a closed device reports it even while packets
	// are still queued; select alone picks at random.
	select {
	case <-d.closed:
		return 0, os.ErrClosed
	default:
	}
	var pkt []byte
	select {
	case <-d.closed:
		return 0, os.ErrClosed
	case pkt = <-d.Outbound:
	}
	n := 0
	for {
		if len(pkt) > len(bufs[n])-offset {
			return n, fmt.Errorf("%w: %d bytes, room for %d", ErrShortBuffer, len(pkt), max(len(bufs[n])-offset, 0))
		}
		sizes[n] = copy(bufs[n][offset:], pkt)
		n++
		if n == len(bufs) {
			return n, nil
		}
		select {
		case pkt = <-d.Outbound:
		default:
			return n, nil
		}
	}
}

// Write copies each packet bufs[i][offset:] onto Inbound, blocking while
// Inbound is full, and returns how many it delivered. Like the Linux device
// it needs offset >= tun.MinWriteOffset and clobbers the bytes in front of
// each packet, where the real device puts its virtio-net header, so a data
// plane that keeps something there fails here too.
func (d *Device) Write(bufs [][]byte, offset int) (int, error) {
	if offset < tun.MinWriteOffset {
		return 0, fmt.Errorf("%w: %d < %d", ErrOffset, offset, tun.MinWriteOffset)
	}
	select {
	case <-d.closed:
		return 0, os.ErrClosed
	default:
	}
	for i, b := range bufs {
		if offset > len(b) {
			return i, fmt.Errorf("%w: %d beyond a %d-byte buffer", ErrOffset, offset, len(b))
		}
		pkt := make([]byte, len(b)-offset)
		copy(pkt, b[offset:])
		clear(b[offset-tun.MinWriteOffset : offset])
		select {
		case <-d.closed:
			return i, os.ErrClosed
		case d.Inbound <- pkt:
		}
	}
	return len(bufs), nil
}

// MTU returns the MTU given to New.
func (d *Device) MTU() (int, error) { return d.mtu, nil }

// Name returns Name.
func (d *Device) Name() (string, error) { return Name, nil }

// Events returns the event channel: EventUp, then closed by Close.
func (d *Device) Events() <-chan wgtun.Event { return d.events }

// Close unblocks Read and Write and closes the event channel. Calling it
// again does nothing.
func (d *Device) Close() error {
	d.closeOnce.Do(func() {
		close(d.closed)
		close(d.events)
	})
	return nil
}

// BatchSize returns BatchSize.
func (d *Device) BatchSize() int { return BatchSize }
