package chain

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/medshare/medshare/network/channel"
)

// ErrQueueFull is returned when the leader holds more pending transactions
// than it accepts: the client should retry later.
var ErrQueueFull = errors.New("chain: too many pending transactions")

// pendingTx is a transaction waiting to be cut into a block.
type pendingTx struct {
	id      string
	raw     []byte
	arrived time.Time
}

// queue holds the leader's pending transactions, without duplicate IDs, and
// cuts batches from them by count, size and age, as Fabric's block cutter
// does. It is open only while the node leads: drain closes it, and from then
// on it refuses additions and put-backs, so that nothing can be left in it
// after the node stopped leading (a put-back racing with drain used to
// strand a failed block's transactions there).
type queue struct {
	mu       sync.Mutex
	isOpen   bool
	txs      []pendingTx
	ids      map[string]bool
	bytes    int
	maxTxs   int
	maxBytes int
	wake     chan struct{}
}

func newQueue(maxTxs, maxBytes int) *queue {
	return &queue{ids: make(map[string]bool), maxTxs: maxTxs, maxBytes: maxBytes, wake: make(chan struct{}, 1)}
}

// open lets the queue take transactions: this node leads.
func (q *queue) open() {
	q.mu.Lock()
	q.isOpen = true
	q.mu.Unlock()
}

// add queues a transaction; a duplicate of a queued one is dropped silently.
// A closed queue refuses with ErrNotLeader.
func (q *queue) add(id string, raw []byte, now time.Time) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.isOpen {
		return ErrNotLeader
	}
	if q.ids[id] {
		return nil
	}
	if len(q.txs) >= q.maxTxs || q.bytes+len(raw) > q.maxBytes {
		return ErrQueueFull
	}
	q.ids[id] = true
	q.txs = append(q.txs, pendingTx{id: id, raw: raw, arrived: now})
	q.bytes += len(raw)
	select {
	case q.wake <- struct{}{}:
	default:
	}
	return nil
}

// drain closes the queue and removes and returns every queued transaction.
func (q *queue) drain() []pendingTx {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.isOpen = false
	out := q.txs
	q.txs, q.ids, q.bytes = nil, make(map[string]bool), 0
	return out
}

// requeue puts transactions back at the front, in order. A closed queue
// takes none: it returns them, for the caller to hand over.
func (q *queue) requeue(txs []pendingTx) []pendingTx {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.isOpen {
		return txs
	}
	var keep []pendingTx
	for _, t := range txs {
		if !q.ids[t.id] {
			q.ids[t.id] = true
			q.bytes += len(t.raw)
			keep = append(keep, t)
		}
	}
	q.txs = append(keep, q.txs...)
	select {
	case q.wake <- struct{}{}:
	default:
	}
	return nil
}

// next waits for a batch: it returns as soon as MaxMessageCount
// transactions or PreferredMaxBytes bytes are queued, or when the oldest
// queued transaction is Timeout old. It returns nil when ctx ends.
func (q *queue) next(ctx context.Context, b channel.Batch, now func() time.Time) []pendingTx {
	for {
		q.mu.Lock()
		n, size := len(q.txs), q.bytes
		var oldest time.Time
		if n > 0 {
			oldest = q.txs[0].arrived
		}
		if n > 0 && (n >= b.MaxMessageCount || size >= b.PreferredMaxBytes || now().Sub(oldest) >= b.Timeout) {
			batch := q.cut(b)
			q.mu.Unlock()
			return batch
		}
		q.mu.Unlock()
		var timer *time.Timer
		var fire <-chan time.Time
		if n > 0 {
			timer = time.NewTimer(b.Timeout - now().Sub(oldest))
			fire = timer.C
		}
		select {
		case <-ctx.Done():
			fire = nil
		case <-q.wake:
		case <-fire:
		}
		if timer != nil {
			timer.Stop()
		}
		if ctx.Err() != nil {
			return nil
		}
	}
}

// cut removes the batch from the front of the queue. Callers hold q.mu.
func (q *queue) cut(b channel.Batch) []pendingTx {
	n, size := 0, 0
	for n < len(q.txs) && n < b.MaxMessageCount {
		if n > 0 && size+len(q.txs[n].raw) > b.PreferredMaxBytes {
			break
		}
		size += len(q.txs[n].raw)
		n++
	}
	batch := append([]pendingTx(nil), q.txs[:n]...)
	q.txs = q.txs[n:]
	q.bytes -= size
	for _, t := range batch {
		delete(q.ids, t.id)
	}
	return batch
}

// size reports the queued count.
func (q *queue) size() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.txs)
}
