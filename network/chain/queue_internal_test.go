package chain

import (
	"errors"
	"testing"
	"time"

	"github.com/medshare/medshare/network/channel"
	"github.com/medshare/medshare/network/pb"
)

// TestQueueClosedAfterDrain (issue 10, hole 10): once a former leader
// drained its queue, a transaction arriving late and a failed block's
// transactions put back are refused, so none is stranded in a queue that no
// cutter reads; the caller hands them over instead.
func TestQueueClosedAfterDrain(t *testing.T) {
	q := newQueue(10, 1<<20)
	now := time.Now()
	if err := q.add("a", []byte("a"), now); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("add to a queue never opened: %v", err)
	}
	q.open()
	for _, id := range []string{"a", "b"} {
		if err := q.add(id, []byte(id), now); err != nil {
			t.Fatal(err)
		}
	}
	q.mu.Lock()
	batch := q.cut(channel.Batch{MaxMessageCount: 10, PreferredMaxBytes: 1 << 20})
	q.mu.Unlock()
	if got := q.drain(); len(got) != 0 || len(batch) != 2 {
		t.Fatalf("drain %d, batch %d", len(got), len(batch))
	}
	if back := q.requeue(batch); len(back) != 2 {
		t.Fatalf("requeue after drain kept %d transactions in a closed queue", 2-len(back))
	}
	if err := q.add("c", []byte("c"), now); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("add after drain: %v", err)
	}
	if q.size() != 0 {
		t.Fatalf("%d transactions stranded", q.size())
	}
	q.open()
	if back := q.requeue(batch); back != nil || q.size() != 2 {
		t.Fatalf("requeue into an open queue: returned %d, holds %d", len(back), q.size())
	}
}

// TestAcceptedSet: a node remembers what it accepted until it commits, is
// bounded, and hands out what is due to be sent again.
func TestAcceptedSet(t *testing.T) {
	a := newAcceptedSet(2)
	t0 := time.Now()
	for _, id := range []string{"a", "b"} {
		if added, err := a.reserve(id, &acceptedTx{sent: t0}); !added || err != nil {
			t.Fatalf("reserve %s: %v %v", id, added, err)
		}
	}
	if added, err := a.reserve("a", &acceptedTx{sent: t0}); added || err != nil {
		t.Fatalf("reserve again: %v %v", added, err)
	}
	if _, err := a.reserve("c", &acceptedTx{sent: t0}); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("reserve beyond the bound: %v", err)
	}
	if due := a.due(t0.Add(time.Second), false); len(due) != 0 {
		t.Fatalf("%d due before resendAfter", len(due))
	}
	if due := a.due(t0.Add(time.Second), true); len(due) != 2 {
		t.Fatalf("%d due after a leader change, want 2", len(due))
	}
	if due := a.due(t0.Add(time.Second+resendAfter), false); len(due) != 2 {
		t.Fatalf("%d due after resendAfter, want 2", len(due))
	}
	a.committed(&pb.Block{Results: []*pb.TxResult{
		{TxId: "a", Code: pb.ValidationCode_VALID},
		{TxId: "b", Code: pb.ValidationCode_BAD_SIGNATURE}, // a forged copy claims nothing
	}})
	if a.len() != 1 {
		t.Fatalf("%d left after a commit, want 1", a.len())
	}
	a.forget("b")
	if a.len() != 0 {
		t.Fatal("forget")
	}
}
