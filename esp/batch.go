package esp

import (
	"sync/atomic"

	"github.com/espd/espd/esp/packet"
)

// maxBatch is the most packets one batch carries: wireguard-go's
// conn.IdealBatchSize, which is also what its TUN hands over per read with
// GSO.
const maxBatch = 128

// tunWriteOffset is the headroom the TUN's Write needs in front of each
// packet for its virtio-net header when offloads are on.
const tunWriteOffset = 16

// batch is the unit of work: one TUN read or one recvmmsg worth of packets,
// carried through every stage together. A reader fills it, hands it both to
// the crypto workers and, in order, to its sequential stage, which waits on
// done before touching it.
type batch struct {
	n        int
	inbound  bool
	bufs     [maxBatch]*packet.Buffer
	meta     [maxBatch]packetMeta
	views    [maxBatch][]byte // TUN Read/Write take [][]byte
	sizes    [maxBatch]int
	perConn  [NumTransports][]*packet.Buffer
	done     chan struct{}
	received int // inbound: which transport
}

// packetMeta is what the stages learn about one packet.
type packetMeta struct {
	sa   *SA
	seq  uint64
	drop DropReason
}

func newBatch() *batch {
	b := &batch{done: make(chan struct{}, 1)}
	for i := range b.bufs {
		b.bufs[i] = new(packet.Buffer)
		b.bufs[i].Reset()
	}
	for i := range b.perConn {
		b.perConn[i] = make([]*packet.Buffer, 0, maxBatch)
	}
	return b
}

// batchPool bounds the batches in flight, so a slow stage pushes back on the
// readers instead of growing memory without limit. Each batch keeps its
// buffers for life: steady traffic allocates nothing.
type batchPool struct {
	free    chan *batch
	made    atomic.Int32
	maxMade int32
}

func (p *batchPool) init(n int) {
	p.free = make(chan *batch, n)
	p.maxMade = int32(n)
}

func (p *batchPool) get() *batch {
	select {
	case b := <-p.free:
		return b
	default:
	}
	for {
		made := p.made.Load()
		if made >= p.maxMade {
			return <-p.free
		}
		if p.made.CompareAndSwap(made, made+1) {
			return newBatch()
		}
	}
}

func (p *batchPool) put(b *batch) {
	for i := range b.bufs {
		b.bufs[i].Reset()
		b.meta[i] = packetMeta{}
	}
	b.n = 0
	p.free <- b
}

// cryptoWorker seals or opens whole batches; one runs per core. Batches
// from every reader share the workers, and each batch's sequential stage
// restores order.
func (d *Dataplane) cryptoWorker() {
	defer d.workers.Done()
	for b := range d.work {
		for i := 0; i < b.n; i++ {
			m := &b.meta[i]
			if m.drop != dropNone {
				continue
			}
			if b.inbound {
				m.drop = m.sa.decrypt(b.bufs[i], m.seq)
			} else {
				m.drop = m.sa.encapsulate(b.bufs[i], m.seq)
			}
			if m.drop != dropNone {
				d.drop(m.drop, m.sa, m.sa.spi, b.bufs[i])
			}
		}
		b.done <- struct{}{}
	}
}

// drop counts a dropped packet globally and on its SA.
func (d *Dataplane) drop(r DropReason, sa *SA, spi uint32, b *packet.Buffer) {
	d.drops.add(r)
	if sa != nil {
		sa.drops.add(r)
	}
	d.dropLog.drop(r, spi, b.Remote)
}
