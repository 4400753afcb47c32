package esp

import (
	"errors"
	"net"
	"os"
	"time"

	"go.uber.org/zap"

	"github.com/espd/espd/esp/packet"
)

// The inbound path, network to TUN, one instance per transport:
//
//  1. readTransport reads a batch of ESP packets (recvmmsg), checks each
//     one's length, finds its SA by SPI and pre-checks the replay window.
//     It queues the batch on its order queue and then on the crypto
//     workers.
//  2. cryptoWorker verifies the ICV and decrypts in place.
//  3. writeTUN takes batches in order, commits each packet's sequence
//     number to the replay window, checks padding and traffic selectors,
//     and writes the inner packets to the TUN in one call.

func (d *Dataplane) readTransport(slot int, conn packet.Conn, order chan *batch) {
	defer d.readers.Done()
	defer close(order)
	size := min(max(conn.BatchSize(), 1), maxBatch)
	for {
		b := d.batches.get()
		n, err := conn.ReadBatch(b.bufs[:size])
		if err != nil {
			d.batches.put(b)
			if d.closing.Load() || errors.Is(err, net.ErrClosed) || errors.Is(err, os.ErrClosed) {
				return
			}
			d.log.Warn("transport read failed", zap.String("transport", transportNames[slot]), zap.Error(err))
			time.Sleep(10 * time.Millisecond)
			continue
		}
		b.n, b.inbound, b.received = n, true, slot
		for i := 0; i < n; i++ {
			d.classifyInbound(&b.meta[i], b.bufs[i])
		}
		order <- b
		d.work <- b
	}
}

// classifyInbound runs checks 1 to 3: length, SPI, replay pre-check.
func (d *Dataplane) classifyInbound(m *packetMeta, buf *packet.Buffer) {
	pkt := buf.Data()
	if len(pkt) < minESPLen {
		m.drop = DropShort
		d.drop(DropShort, nil, 0, buf)
		return
	}
	spi := spiOf(pkt)
	sa := d.sad.lookupInbound(spi)
	if sa == nil {
		m.drop = DropUnknownSPI
		d.drop(DropUnknownSPI, nil, spi, buf)
		if d.events != nil {
			if ok, _ := d.unknown.allow(); ok {
				d.events.UnknownSPI(spi, buf.Remote)
			}
		}
		return
	}
	m.sa = sa
	if sa.dead.Load() {
		m.drop = DropExpired
		d.drop(DropExpired, sa, spi, buf)
		return
	}
	m.seq, m.drop = sa.precheck(pkt)
	if m.drop != dropNone {
		d.drop(m.drop, sa, spi, buf)
	}
}

func (d *Dataplane) writeTUN(order chan *batch) {
	defer d.stages.Done()
	for b := range order {
		<-b.done
		views := b.views[:0]
		now := d.now().UnixNano()
		for i := 0; i < b.n; i++ {
			m := &b.meta[i]
			buf := b.bufs[i]
			if m.drop != dropNone {
				continue // counted where it was found
			}
			sa := m.sa
			r := dropNone
			switch {
			case !sa.commit(m.seq):
				r = DropReplay
			default:
				r = sa.deliver(buf)
			}
			if r == dropNone && !sa.account(buf.Len(), now, d.events) {
				r = DropExpired
			}
			if r != dropNone {
				d.drop(r, sa, sa.spi, buf)
				continue
			}
			views = append(views, buf.Bytes[buf.Start-tunWriteOffset:buf.End])
		}
		if len(views) > 0 {
			if _, err := d.cfg.TUN.Write(views, tunWriteOffset); err != nil && !d.closing.Load() {
				d.drops.add(DropTUNWrite)
				d.log.Debug("TUN write failed", zap.Error(err))
			}
		}
		d.batches.put(b)
	}
}
