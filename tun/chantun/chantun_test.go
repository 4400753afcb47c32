package chantun

import (
	"bytes"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	wgtun "golang.zx2c4.com/wireguard/tun"
)

const offset = 64 // espd's packet.Headroom

func newBufs(n, size int) ([][]byte, []int) {
	bufs := make([][]byte, n)
	for i := range bufs {
		bufs[i] = make([]byte, size)
	}
	return bufs, make([]int, n)
}

func TestReadReturnsEverythingQueued(t *testing.T) {
	d := New(1400)
	defer d.Close()
	for i := range 3 {
		d.Outbound <- []byte{byte(i), 0xaa}
	}
	bufs, sizes := newBufs(8, offset+1400)
	n, err := d.Read(bufs, sizes, offset)
	if err != nil || n != 3 {
		t.Fatalf("Read = %d, %v; want 3 packets", n, err)
	}
	for i := range n {
		if got := bufs[i][offset : offset+sizes[i]]; !bytes.Equal(got, []byte{byte(i), 0xaa}) {
			t.Errorf("packet %d = %x", i, got)
		}
	}
}

func TestReadStopsAtLenBufs(t *testing.T) {
	d := New(1400)
	defer d.Close()
	for i := range 5 {
		d.Outbound <- []byte{byte(i)}
	}
	bufs, sizes := newBufs(2, offset+1400)
	for _, want := range []int{2, 2, 1} {
		n, err := d.Read(bufs, sizes, offset)
		if err != nil || n != want {
			t.Fatalf("Read = %d, %v; want %d", n, err, want)
		}
	}
}

func TestReadBlocksForTheFirstPacket(t *testing.T) {
	d := New(1400)
	defer d.Close()
	done := make(chan int)
	go func() {
		bufs, sizes := newBufs(4, offset+1400)
		n, _ := d.Read(bufs, sizes, offset)
		done <- n
	}()
	select {
	case n := <-done:
		t.Fatalf("Read returned %d packets from an empty queue", n)
	case <-time.After(20 * time.Millisecond):
	}
	d.Outbound <- []byte{1}
	if n := <-done; n != 1 {
		t.Fatalf("Read = %d, want 1", n)
	}
}

func TestReadShortBuffer(t *testing.T) {
	d := New(1400)
	defer d.Close()
	d.Outbound <- []byte{1}
	d.Outbound <- make([]byte, 100)
	bufs, sizes := newBufs(4, offset+10)
	n, err := d.Read(bufs, sizes, offset)
	if n != 1 || !errors.Is(err, ErrShortBuffer) {
		t.Fatalf("Read = %d, %v; want 1, ErrShortBuffer", n, err)
	}
	// An offset beyond the buffer is a short buffer, not a panic.
	d.Outbound <- []byte{1}
	if _, err := d.Read(bufs, sizes, 1000); !errors.Is(err, ErrShortBuffer) {
		t.Fatalf("Read at offset 1000 = %v; want ErrShortBuffer", err)
	}
	if _, err := d.Read(bufs, sizes[:1], offset); !errors.Is(err, ErrOffset) {
		t.Fatalf("Read with too few sizes = %v; want ErrOffset", err)
	}
}

func TestWriteCopiesAndClobbersHeadroom(t *testing.T) {
	d := New(1400)
	defer d.Close()
	bufs, _ := newBufs(3, offset+4)
	for i, b := range bufs {
		for j := range b {
			b[j] = 0xee
		}
		copy(b[offset:], []byte{byte(i), 1, 2, 3})
	}
	n, err := d.Write(bufs, offset)
	if err != nil || n != 3 {
		t.Fatalf("Write = %d, %v", n, err)
	}
	for i, b := range bufs {
		b[offset] = 0xff // the copy must not see this
		got := <-d.Inbound
		if !bytes.Equal(got, []byte{byte(i), 1, 2, 3}) {
			t.Errorf("packet %d = %x", i, got)
		}
		if !bytes.Equal(b[offset-10:offset], make([]byte, 10)) || b[offset-11] != 0xee {
			t.Errorf("buffer %d headroom = %x; want only the 10 bytes before the packet cleared", i, b[:offset])
		}
	}
}

func TestWriteOffset(t *testing.T) {
	d := New(1400)
	defer d.Close()
	if _, err := d.Write([][]byte{make([]byte, 40)}, 9); !errors.Is(err, ErrOffset) {
		t.Errorf("Write at offset 9 = %v; want ErrOffset", err)
	}
	if n, err := d.Write([][]byte{make([]byte, 80), make([]byte, 20)}, offset); n != 1 || !errors.Is(err, ErrOffset) {
		t.Errorf("Write past a short buffer = %d, %v; want 1, ErrOffset", n, err)
	}
}

func TestCloseUnblocksAndCloses(t *testing.T) {
	d := New(1400)
	errs := make(chan error, 2)
	go func() {
		bufs, sizes := newBufs(4, offset+1400)
		_, err := d.Read(bufs, sizes, offset)
		errs <- err
	}()
	// A writer blocked on a full Inbound must be released too.
	for range QueueLen {
		d.Inbound <- nil
	}
	go func() {
		_, err := d.Write([][]byte{make([]byte, offset+20)}, offset)
		errs <- err
	}()
	time.Sleep(20 * time.Millisecond)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := <-errs; !errors.Is(err, os.ErrClosed) {
			t.Errorf("blocked call returned %v; want os.ErrClosed", err)
		}
	}
	d.Outbound <- []byte{1}
	bufs, sizes := newBufs(1, offset+1400)
	if _, err := d.Read(bufs, sizes, offset); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Read after Close = %v; want os.ErrClosed", err)
	}
	if ev, ok := <-d.Events(); !ok || ev != wgtun.EventUp {
		t.Errorf("first event = %v, %v; want EventUp", ev, ok)
	}
	if _, ok := <-d.Events(); ok {
		t.Error("Events not closed")
	}
	if err := d.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

func TestAccessors(t *testing.T) {
	d := New(1280)
	defer d.Close()
	if mtu, err := d.MTU(); mtu != 1280 || err != nil {
		t.Errorf("MTU = %d, %v", mtu, err)
	}
	if name, err := d.Name(); name != Name || err != nil {
		t.Errorf("Name = %q, %v", name, err)
	}
	if d.BatchSize() != BatchSize || d.File() != nil {
		t.Errorf("BatchSize = %d, File = %v", d.BatchSize(), d.File())
	}
}

// TestConcurrent runs producers against a batch reader under -race.
func TestConcurrent(t *testing.T) {
	d := New(1400)
	defer d.Close()
	const producers, each = 4, 500
	var wg sync.WaitGroup
	for p := range producers {
		wg.Go(func() {
			for i := range each {
				d.Outbound <- []byte{byte(p), byte(i)}
			}
		})
	}
	bufs, sizes := newBufs(BatchSize, offset+1400)
	got := 0
	for got < producers*each {
		n, err := d.Read(bufs, sizes, offset)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.Write(bufs[:n], offset); err != nil {
			t.Fatal(err)
		}
		for range n {
			<-d.Inbound
		}
		got += n
	}
	wg.Wait()
}
