package esp

import (
	"testing"
	"time"
)

// TestBatchPoolIsBounded checks that the pool never makes more batches than
// its bound, however often it runs dry, and that a reader waiting for a
// batch gets the next one returned.
func TestBatchPoolIsBounded(t *testing.T) {
	var p batchPool
	p.init(3)
	var held []*batch
	for range 3 {
		held = append(held, p.get())
	}
	got := make(chan *batch)
	go func() { got <- p.get() }()
	select {
	case <-got:
		t.Fatal("a fourth batch was made past the bound")
	case <-time.After(50 * time.Millisecond):
	}
	p.put(held[0])
	if b := <-got; b != held[0] {
		t.Fatal("the waiting reader did not get the returned batch")
	}
	if n := p.made.Load(); n != 3 {
		t.Fatalf("made %d batches, bound 3", n)
	}
}
