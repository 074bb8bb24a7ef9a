package chain

import (
	"sync"

	"github.com/medshare/medshare/network/ledger"
	"github.com/medshare/medshare/network/pb"
)

// Committed is a transaction's outcome on this node. Result always has the
// code, message and payload; its writes and events may be absent (a recent
// commit is answered from memory), so read those from the block.
type Committed struct {
	Block  uint64
	Result *pb.TxResult
}

// recentResults is how many of the latest committed transactions the
// notifier remembers, so that a commit-status request arriving just after
// the commit is answered without reading the block back from the store.
const recentResults = 1 << 12

// notifier wakes those waiting for transactions to commit and for the
// chain to grow.
type notifier struct {
	mu      sync.Mutex
	waiters map[string][]chan Committed
	grown   chan struct{} // closed and replaced on every commit
	// recent holds the outcomes of the last recentResults transactions
	// committed under their ID; order is their ring, oldest at next.
	recent map[string]Committed
	order  []string
	next   int
}

func newNotifier() *notifier {
	return &notifier{waiters: make(map[string][]chan Committed), grown: make(chan struct{}),
		recent: make(map[string]Committed, recentResults), order: make([]string, recentResults)}
}

// lookup returns the outcome of txID if it is among the recent commits.
func (n *notifier) lookup(txID string) (Committed, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	r, ok := n.recent[txID]
	return r, ok
}

// remember records an outcome, evicting the oldest; the first outcome
// recorded under an ID stays, as the store's transaction index keeps it.
func (n *notifier) remember(txID string, r Committed) {
	if _, ok := n.recent[txID]; ok {
		return
	}
	if old := n.order[n.next]; old != "" {
		delete(n.recent, old)
	}
	n.order[n.next] = txID
	n.next = (n.next + 1) % len(n.order)
	n.recent[txID] = r
}

// register returns a channel that receives the commit of txID.
func (n *notifier) register(txID string) chan Committed {
	ch := make(chan Committed, 1)
	n.mu.Lock()
	n.waiters[txID] = append(n.waiters[txID], ch)
	n.mu.Unlock()
	return ch
}

func (n *notifier) unregister(txID string, ch chan Committed) {
	n.mu.Lock()
	defer n.mu.Unlock()
	list := n.waiters[txID]
	for i, c := range list {
		if c == ch {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(n.waiters, txID)
	} else {
		n.waiters[txID] = list
	}
}

// committed reports a committed block. Only results that claim their ID
// answer waiters, so a forged copy cannot answer for the real transaction.
func (n *notifier) committed(b *pb.Block) {
	n.mu.Lock()
	for _, r := range b.GetResults() {
		if !ledger.Indexed(r.GetCode()) {
			continue
		}
		c := Committed{Block: b.GetHeader().GetNumber(), Result: r}
		// Remember only what a status answer needs, not the writes and
		// events: the block's results would otherwise stay in memory.
		n.remember(r.GetTxId(), Committed{Block: c.Block, Result: &pb.TxResult{
			TxId: r.GetTxId(), Code: r.GetCode(), Message: r.GetMessage(), Payload: r.GetPayload()}})
		for _, ch := range n.waiters[r.GetTxId()] {
			ch <- c
		}
		delete(n.waiters, r.GetTxId())
	}
	close(n.grown)
	n.grown = make(chan struct{})
	n.mu.Unlock()
}

// grownCh returns a channel closed at the next commit.
func (n *notifier) grownCh() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.grown
}
