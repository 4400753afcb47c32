// Package installertest provides an in-memory installer.Installer that
// records every call, so IKE tests can run two peers message by message and
// then assert which SAs each side installed, without a TUN or a socket.
package installertest

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sync"

	"github.com/espd/espd/esp/installer"
)

// Call is one recorded call.
type Call struct {
	Op     string // "allocate", "add", "update", "query", "delete"
	SPI    uint32
	Dir    installer.Direction
	Params installer.SAParams // for "add"
	Remote netip.AddrPort     // for "update"
}

type key struct {
	spi uint32
	dir installer.Direction
}

// Recorder implements installer.Installer in memory. Its zero value is
// ready to use. Stats returned by Query come from SetStats.
type Recorder struct {
	mu    sync.Mutex
	calls []Call
	sas   map[key]installer.SAParams
	stats map[key]installer.Stats
	// Rand, if set, draws SPIs (tests set it for determinism).
	Rand *rand.Rand
}

var _ installer.Installer = (*Recorder)(nil)

func (r *Recorder) record(c Call) { r.calls = append(r.calls, c) }

func (r *Recorder) init() {
	if r.sas == nil {
		r.sas = make(map[key]installer.SAParams)
		r.stats = make(map[key]installer.Stats)
	}
}

func (r *Recorder) AllocateSPI() (uint32, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.init()
	for {
		var spi uint32
		if r.Rand != nil {
			spi = r.Rand.Uint32()
		} else {
			spi = rand.Uint32()
		}
		if spi < 256 {
			continue
		}
		if _, used := r.sas[key{spi, installer.Inbound}]; used {
			continue
		}
		r.record(Call{Op: "allocate", SPI: spi, Dir: installer.Inbound})
		return spi, nil
	}
}

func (r *Recorder) Add(p installer.SAParams) error {
	if err := p.Validate(); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.init()
	k := key{p.SPI, p.Direction}
	if _, ok := r.sas[k]; ok {
		return fmt.Errorf("%w: %#x/%v", installer.ErrExists, p.SPI, p.Direction)
	}
	r.sas[k] = p
	r.record(Call{Op: "add", SPI: p.SPI, Dir: p.Direction, Params: p})
	return nil
}

func (r *Recorder) Update(spi uint32, dir installer.Direction, remote netip.AddrPort) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.init()
	k := key{spi, dir}
	p, ok := r.sas[k]
	if !ok {
		return fmt.Errorf("%w: %#x/%v", installer.ErrNotFound, spi, dir)
	}
	p.Remote = remote
	r.sas[k] = p
	r.record(Call{Op: "update", SPI: spi, Dir: dir, Remote: remote})
	return nil
}

func (r *Recorder) Query(spi uint32, dir installer.Direction) (installer.Stats, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.init()
	k := key{spi, dir}
	if _, ok := r.sas[k]; !ok {
		return installer.Stats{}, fmt.Errorf("%w: %#x/%v", installer.ErrNotFound, spi, dir)
	}
	r.record(Call{Op: "query", SPI: spi, Dir: dir})
	return r.stats[k], nil
}

func (r *Recorder) Delete(spi uint32, dir installer.Direction) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.init()
	k := key{spi, dir}
	if _, ok := r.sas[k]; !ok {
		return fmt.Errorf("%w: %#x/%v", installer.ErrNotFound, spi, dir)
	}
	delete(r.sas, k)
	delete(r.stats, k)
	r.record(Call{Op: "delete", SPI: spi, Dir: dir})
	return nil
}

// SetStats sets what Query returns for an SA, so tests can drive IKE's
// byte-based rekeying or DPD's last-use logic.
func (r *Recorder) SetStats(spi uint32, dir installer.Direction, s installer.Stats) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.init()
	r.stats[key{spi, dir}] = s
}

// Calls returns a copy of the recorded calls in order.
func (r *Recorder) Calls() []Call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Call(nil), r.calls...)
}

// Installed returns the SAs currently installed in one direction.
func (r *Recorder) Installed(dir installer.Direction) []installer.SAParams {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []installer.SAParams
	for k, p := range r.sas {
		if k.dir == dir {
			out = append(out, p)
		}
	}
	return out
}

// Lookup returns one installed SA.
func (r *Recorder) Lookup(spi uint32, dir installer.Direction) (installer.SAParams, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p, ok := r.sas[key{spi, dir}]
	return p, ok
}

// EventLog implements installer.Events by recording the events.
type EventLog struct {
	mu     sync.Mutex
	Events []string
}

var _ installer.Events = (*EventLog)(nil)

func (e *EventLog) add(format string, args ...any) {
	e.mu.Lock()
	e.Events = append(e.Events, fmt.Sprintf(format, args...))
	e.mu.Unlock()
}

func (e *EventLog) SoftExpired(spi uint32, dir installer.Direction) {
	e.add("soft %#x/%v", spi, dir)
}
func (e *EventLog) HardExpired(spi uint32, dir installer.Direction) {
	e.add("hard %#x/%v", spi, dir)
}
func (e *EventLog) SeqNearWrap(spi uint32) { e.add("seq-near-wrap %#x", spi) }
func (e *EventLog) UnknownSPI(spi uint32, from netip.AddrPort) {
	e.add("unknown-spi %#x from %v", spi, from)
}

// Snapshot returns a copy of the events so far.
func (e *EventLog) Snapshot() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.Events...)
}
