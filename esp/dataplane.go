// Package esp is espd's userspace ESP data plane: the SA database and the
// batch pipeline that moves packets between a TUN device and the ESP
// transports (ESP-in-UDP from package nat, raw IP from esp/rawip). IKE
// programs it through the installer.Installer seam that Dataplane
// implements.
package esp

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	wgtun "golang.zx2c4.com/wireguard/tun"

	"github.com/espd/espd/esp/installer"
	"github.com/espd/espd/esp/packet"
)

// Transport slots: an SA uses the one for its address family and
// encapsulation.
const (
	UDP4 = iota // ESP-in-UDP over IPv4 (RFC 3948)
	UDP6        // ESP-in-UDP over IPv6
	Raw4        // IP protocol 50 over IPv4
	Raw6        // IP protocol 50 over IPv6
	NumTransports
)

// Config wires a Dataplane to its devices.
type Config struct {
	// TUN carries inner packets. The data plane owns it from New on and
	// closes it in Close.
	TUN wgtun.Device
	// Transports, indexed by UDP4, UDP6, Raw4, Raw6; nil where unused.
	// Owned and closed like TUN.
	Transports [NumTransports]packet.Conn
	// Events hears lifetime and unknown-SPI events; may be nil.
	Events installer.Events
	Log    *zap.Logger
	// Workers is the number of crypto goroutines; 0 means one per CPU.
	Workers int
	// Now is the clock for lifetimes; nil means time.Now.
	Now func() time.Time
}

// Dataplane is a running ESP data plane.
type Dataplane struct {
	cfg     Config
	log     *zap.Logger
	events  installer.Events
	now     func() time.Time
	sad     *sad
	drops   DropCounters
	dropLog dropLog
	unknown *rateLimit // UnknownSPI events

	work     chan *batch // to the crypto workers
	outOrder chan *batch // outbound batches in TUN order
	batches  batchPool

	closing  atomic.Bool
	closed   chan struct{}
	readers  sync.WaitGroup
	stages   sync.WaitGroup
	workers  sync.WaitGroup
	closeErr error
	once     sync.Once
}

var _ installer.Installer = (*Dataplane)(nil)

// New builds a data plane; Start sets packets moving.
func New(cfg Config) (*Dataplane, error) {
	if cfg.TUN == nil {
		return nil, errors.New("esp: no TUN device")
	}
	if cfg.Log == nil {
		cfg.Log = zap.NewNop()
	}
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.NumCPU()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	depth := 2*cfg.Workers + 2
	d := &Dataplane{
		cfg:      cfg,
		log:      cfg.Log,
		events:   cfg.Events,
		now:      cfg.Now,
		sad:      newSAD(),
		dropLog:  dropLog{log: cfg.Log, limit: newRateLimit(10)},
		unknown:  newRateLimit(10),
		work:     make(chan *batch, 4*depth),
		outOrder: make(chan *batch, depth),
		closed:   make(chan struct{}),
	}
	d.batches.init(depth * (1 + NumTransports))
	return d, nil
}

// Start launches the pipeline goroutines: one TUN reader, one reader and one
// inbound stage per transport, the outbound stage, the crypto workers and
// the lifetime clock.
func (d *Dataplane) Start() {
	for range d.cfg.Workers {
		d.workers.Add(1)
		go d.cryptoWorker()
	}
	d.readers.Add(1)
	go d.readTUN()
	d.stages.Add(1)
	go d.writeTransports()
	for i, c := range d.cfg.Transports {
		if c == nil {
			continue
		}
		order := make(chan *batch, cap(d.outOrder))
		d.readers.Add(1)
		go d.readTransport(i, c, order)
		d.stages.Add(1)
		go d.writeTUN(order)
	}
	go d.lifetimeClock()
	go func() {
		// The TUN's monitor goroutines block until their events are read.
		for range d.cfg.TUN.Events() {
		}
	}()
}

// Close stops the pipeline, closes the TUN and the transports and waits for
// every goroutine. Packets in flight are finished first.
func (d *Dataplane) Close() error {
	d.once.Do(func() {
		d.closing.Store(true)
		close(d.closed)
		errs := []error{d.cfg.TUN.Close()}
		for _, c := range d.cfg.Transports {
			if c != nil {
				errs = append(errs, c.Close())
			}
		}
		d.readers.Wait()
		close(d.outOrder) // the inbound order queues are closed by their readers
		d.stages.Wait()
		close(d.work)
		d.workers.Wait()
		d.closeErr = errors.Join(errs...)
	})
	return d.closeErr
}

// lifetimeClock fires time-based lifetime events once a second.
func (d *Dataplane) lifetimeClock() {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-d.closed:
			return
		case <-t.C:
			d.CheckLifetimes()
		}
	}
}

// CheckLifetimes fires the time-based soft and hard lifetime events that
// are due now. The data plane calls it every second; tests call it after
// moving their clock.
func (d *Dataplane) CheckLifetimes() {
	now := d.now()
	for _, sa := range d.sad.all() {
		sa.checkTime(now, d.events)
	}
}

// Drops returns the data plane's drop counters by reason.
func (d *Dataplane) Drops() map[string]uint64 { return d.drops.Map() }

// DropCount returns one drop counter.
func (d *Dataplane) DropCount(r DropReason) uint64 { return d.drops.Get(r) }

// SAs returns a snapshot of every installed SA.
func (d *Dataplane) SAs() []Info {
	all := d.sad.all()
	out := make([]Info, len(all))
	for i, sa := range all {
		out[i] = sa.info()
	}
	return out
}

// TransportSlot is the Config.Transports slot an SA with this
// encapsulation and outer peer address sends on.
func TransportSlot(encap bool, outer netip.Addr) int {
	v4 := outer.Unmap().Is4()
	switch {
	case encap && v4:
		return UDP4
	case encap:
		return UDP6
	case v4:
		return Raw4
	}
	return Raw6
}

// AllocateSPI implements installer.Installer.
func (d *Dataplane) AllocateSPI() (uint32, error) {
	var b [4]byte
	for range 1000 {
		if _, err := rand.Read(b[:]); err != nil {
			return 0, fmt.Errorf("esp: allocate SPI: %w", err)
		}
		spi := binary.BigEndian.Uint32(b[:])
		if spi < 256 {
			continue
		}
		d.sad.mu.Lock()
		_, reserved := d.sad.reserved[spi]
		_, used := (*d.sad.inbound.Load())[spi]
		if !reserved && !used {
			d.sad.reserved[spi] = struct{}{}
			d.sad.mu.Unlock()
			return spi, nil
		}
		d.sad.mu.Unlock()
	}
	return 0, errors.New("esp: allocate SPI: no free SPI found")
}

// Add implements installer.Installer.
func (d *Dataplane) Add(p installer.SAParams) error {
	slot := TransportSlot(p.Encap, p.Remote.Addr())
	if p.Direction == installer.Outbound && d.cfg.Transports[slot] == nil {
		return fmt.Errorf("%w: SA %#x needs a transport espd has not opened (%s)", installer.ErrInvalid, p.SPI, transportNames[slot])
	}
	sa, err := newSA(&p, slot, d.now())
	if err != nil {
		return err
	}
	added := false
	if p.Direction == installer.Inbound {
		added = d.sad.addInbound(sa)
	} else {
		added = d.sad.addOutbound(sa)
	}
	if !added {
		return fmt.Errorf("%w: %#x/%v", installer.ErrExists, p.SPI, p.Direction)
	}
	d.log.Info("SA installed", zap.Stringer("dir", p.Direction), zap.String("spi", fmt.Sprintf("%#08x", p.SPI)),
		zap.Stringer("mode", p.Mode), zap.Bool("encap", p.Encap), zap.Stringer("proposal", p.Suite),
		zap.Stringer("local", p.Local), zap.Stringer("remote", p.Remote),
		zap.Any("local_ts", p.LocalTS), zap.Any("remote_ts", p.RemoteTS))
	return nil
}

var transportNames = [NumTransports]string{"ESP-in-UDP over IPv4", "ESP-in-UDP over IPv6", "raw ESP over IPv4", "raw ESP over IPv6"}

func (d *Dataplane) find(spi uint32, dir installer.Direction) *SA {
	if dir == installer.Inbound {
		return d.sad.lookupInbound(spi)
	}
	d.sad.mu.Lock()
	defer d.sad.mu.Unlock()
	return d.sad.outbound[spi]
}

// Update implements installer.Installer.
func (d *Dataplane) Update(spi uint32, dir installer.Direction, remote netip.AddrPort) error {
	sa := d.find(spi, dir)
	if sa == nil {
		return fmt.Errorf("%w: %#x/%v", installer.ErrNotFound, spi, dir)
	}
	if remote.Addr().Is4() != sa.local.Addr().Is4() {
		return fmt.Errorf("%w: SA %#x cannot move to %v across address families", installer.ErrInvalid, spi, remote)
	}
	sa.remote.Store(&remote)
	return nil
}

// Query implements installer.Installer.
func (d *Dataplane) Query(spi uint32, dir installer.Direction) (installer.Stats, error) {
	sa := d.find(spi, dir)
	if sa == nil {
		return installer.Stats{}, fmt.Errorf("%w: %#x/%v", installer.ErrNotFound, spi, dir)
	}
	return sa.stats(), nil
}

// Delete implements installer.Installer.
func (d *Dataplane) Delete(spi uint32, dir installer.Direction) error {
	var sa *SA
	if dir == installer.Inbound {
		sa = d.sad.removeInbound(spi)
	} else {
		sa = d.sad.removeOutbound(spi)
	}
	if sa == nil {
		return fmt.Errorf("%w: %#x/%v", installer.ErrNotFound, spi, dir)
	}
	sa.dead.Store(true) // packets already holding it stop at the next check
	d.log.Info("SA deleted", zap.Stringer("dir", dir), zap.String("spi", fmt.Sprintf("%#08x", spi)))
	return nil
}
