package esp

import (
	"errors"
	"os"
	"time"

	"go.uber.org/zap"
	wgtun "golang.zx2c4.com/wireguard/tun"

	"github.com/espd/espd/esp/packet"
)

// The outbound path, TUN to network:
//
//  1. readTUN (one goroutine) reads a batch of inner packets into buffers at
//     packet.Headroom, finds each packet's SA by traffic selector, assigns
//     sequence numbers in order and counts lifetimes. It queues the batch on
//     outOrder and then on the crypto workers.
//  2. cryptoWorker (one per core) encapsulates and seals each packet in
//     place.
//  3. writeTransports (one goroutine) takes batches from outOrder in the
//     order they were read, waits for each to be sealed, and sends its
//     packets with one sendmmsg per transport, so every SA's packets leave
//     in sequence order.

func (d *Dataplane) readTUN() {
	defer d.readers.Done()
	tun := d.cfg.TUN
	size := min(max(tun.BatchSize(), 1), maxBatch)
	for {
		b := d.batches.get()
		for i := 0; i < size; i++ {
			b.views[i] = b.bufs[i].Bytes[:packet.Headroom+packet.MaxData]
		}
		n, err := tun.Read(b.views[:size], b.sizes[:size], packet.Headroom)
		if err != nil && !errors.Is(err, wgtun.ErrTooManySegments) {
			d.batches.put(b)
			if d.closing.Load() || errors.Is(err, os.ErrClosed) {
				return
			}
			d.log.Warn("TUN read failed", zap.Error(err))
			time.Sleep(10 * time.Millisecond) // don't spin on a persistent error
			continue
		}
		b.n, b.inbound = n, false
		now := d.now().UnixNano()
		for i := 0; i < n; i++ {
			buf := b.bufs[i]
			buf.SetData(packet.Headroom, b.sizes[i])
			d.classifyOutbound(&b.meta[i], buf, now)
		}
		d.outOrder <- b
		d.work <- b
	}
}

// classifyOutbound picks the SA for an inner packet and reserves its
// sequence number.
func (d *Dataplane) classifyOutbound(m *packetMeta, buf *packet.Buffer, now int64) {
	src, dst, ok := innerAddrs(buf.Data())
	if !ok {
		m.drop = DropMalformed
		d.drop(DropMalformed, nil, 0, buf)
		return
	}
	sa := d.sad.lookupOutbound(src, dst)
	if sa == nil {
		m.drop = DropNoPolicy
		d.drop(DropNoPolicy, nil, 0, buf)
		return
	}
	m.sa = sa
	if sa.dead.Load() {
		m.drop = DropExpired
		d.drop(DropExpired, sa, sa.spi, buf)
		return
	}
	seq, ok := sa.nextSeq(d.events)
	if !ok || !sa.account(buf.Len(), now, d.events) {
		m.drop = DropExpired
		d.drop(DropExpired, sa, sa.spi, buf)
		return
	}
	m.seq = seq
}

func (d *Dataplane) writeTransports() {
	defer d.stages.Done()
	for b := range d.outOrder {
		<-b.done
		for i := 0; i < b.n; i++ {
			m := &b.meta[i]
			buf := b.bufs[i]
			if m.drop != dropNone {
				continue // counted where it was found
			}
			buf.Remote = m.sa.Remote()
			b.perConn[m.sa.conn] = append(b.perConn[m.sa.conn], buf)
		}
		for slot, list := range b.perConn {
			if len(list) > 0 {
				d.send(slot, list)
			}
			b.perConn[slot] = list[:0]
		}
		d.batches.put(b)
	}
}

// send writes packets to one transport, skipping any that the kernel
// refuses so one unreachable peer does not hold up the rest.
func (d *Dataplane) send(slot int, list []*packet.Buffer) {
	conn := d.cfg.Transports[slot]
	for sent := 0; sent < len(list); {
		n, err := conn.WriteBatch(list[sent:])
		sent += n
		if err != nil {
			if d.closing.Load() {
				return
			}
			if sent < len(list) {
				d.drop(DropSend, nil, 0, list[sent])
				sent++
			}
		}
	}
}
