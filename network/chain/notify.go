package chain

import (
	"sync"

	"github.com/medshare/medshare/network/ledger"
	"github.com/medshare/medshare/network/pb"
)

// Committed is a transaction's outcome on this node.
type Committed struct {
	Block  uint64
	Result *pb.TxResult
}

// notifier wakes those waiting for transactions to commit and for the
// chain to grow.
type notifier struct {
	mu      sync.Mutex
	waiters map[string][]chan Committed
	grown   chan struct{} // closed and replaced on every commit
}

func newNotifier() *notifier {
	return &notifier{waiters: make(map[string][]chan Committed), grown: make(chan struct{})}
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
	if len(n.waiters) > 0 {
		for _, r := range b.GetResults() {
			if !ledger.Indexed(r.GetCode()) {
				continue
			}
			for _, ch := range n.waiters[r.GetTxId()] {
				ch <- Committed{Block: b.GetHeader().GetNumber(), Result: r}
			}
			delete(n.waiters, r.GetTxId())
		}
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
