package chain

import (
	"sync"
	"time"

	"github.com/medshare/medshare/network/ledger"
	"github.com/medshare/medshare/network/pb"
)

// A transaction a node accepted from a client (Submit returned its ID) is
// the node's to see through: the node remembers it until it commits, and
// sends it to the leader again when the leader changes or when it has not
// committed after resendAfter (while the node is caught up, so that it
// knows). Otherwise a leader that fails, or steps down
// with transactions still queued or in a block that did not commit, loses
// them while their clients wait. A copy that reaches a block after the
// first one is invalid there as a duplicate and changes nothing. The node
// stops when the transaction can no longer commit as valid: the chain's
// time passed its timestamp by more than maxClockSkew.

// resendAfter is how long an accepted transaction may stay uncommitted
// before its node sends it to the leader again; a leader change sends it
// again at once.
const resendAfter = 3 * time.Second

// resendTick is how often a node looks for accepted transactions to send
// again.
const resendTick = 500 * time.Millisecond

// acceptedTx is a transaction accepted by this node and not yet committed.
type acceptedTx struct {
	env  *pb.Envelope
	raw  []byte
	ts   int64 // the proposal's timestamp (Unix nanoseconds)
	sent time.Time
}

// acceptedSet holds the transactions this node accepted and that have not
// committed, by ID. It is bounded: when full, the node refuses new
// submissions as it does when the leader's queue is full.
type acceptedSet struct {
	mu  sync.Mutex
	txs map[string]*acceptedTx
	max int
}

func newAcceptedSet(max int) *acceptedSet {
	return &acceptedSet{txs: make(map[string]*acceptedTx), max: max}
}

// reserve records a transaction about to be ordered; it fails when the set
// is full. A transaction already present keeps its entry (added false).
func (a *acceptedSet) reserve(id string, t *acceptedTx) (added bool, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.txs[id]; ok {
		return false, nil
	}
	if len(a.txs) >= a.max {
		return false, ErrQueueFull
	}
	a.txs[id] = t
	return true, nil
}

// forget drops a transaction (ordering failed: the client was told so, or
// it committed, or it can no longer commit).
func (a *acceptedSet) forget(id string) {
	a.mu.Lock()
	delete(a.txs, id)
	a.mu.Unlock()
}

// committed drops the transactions a block committed.
func (a *acceptedSet) committed(b *pb.Block) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.txs) == 0 {
		return
	}
	for _, r := range b.GetResults() {
		if ledger.Indexed(r.GetCode()) {
			delete(a.txs, r.GetTxId())
		}
	}
}

// due returns the transactions to send again — all of them when the leader
// changed, else those sent more than resendAfter ago — and marks them sent.
func (a *acceptedSet) due(now time.Time, all bool) map[string]*acceptedTx {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make(map[string]*acceptedTx)
	for id, t := range a.txs {
		if all || now.Sub(t.sent) >= resendAfter {
			t.sent = now
			out[id] = t
		}
	}
	return out
}

func (a *acceptedSet) len() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.txs)
}

// resendLoop sends accepted transactions that have not committed to the
// leader again (see acceptedSet).
func (c *Chain) resendLoop() {
	defer c.wg.Done()
	t := time.NewTicker(resendTick)
	defer t.Stop()
	lastLeader := ""
	changed := false // a leader change not yet acted on
	for {
		select {
		case <-c.closed:
			return
		case <-c.haltCh:
			return
		case <-t.C:
		}
		leader := c.Leader()
		if leader != "" && lastLeader != "" && leader != lastLeader {
			changed = true
		}
		if leader != "" {
			lastLeader = leader
		}
		if leader == "" || !c.fresh.Load() {
			// Nobody to send to, or this node is behind and cannot tell
			// what committed: try again later.
			continue
		}
		due := c.accepted.due(c.opts.Now(), changed)
		wasChange := changed
		changed = false
		if len(due) == 0 {
			continue
		}
		c.mu.Lock()
		chainTime := c.lastTs
		c.mu.Unlock()
		skew := c.cfg.MaxClockSkew().Nanoseconds()
		sent := 0
		for id, tx := range due {
			if done, err := c.store.HasTx(id); err == nil && done {
				c.accepted.forget(id)
				continue
			}
			if chainTime-tx.ts > skew {
				// Every later block is too late for it: it cannot commit
				// as valid any more; its client's wait ends with an
				// unknown outcome, which a lookup settles.
				c.accepted.forget(id)
				continue
			}
			if c.resend(id, tx) {
				sent++
			}
		}
		if sent > 0 {
			c.log.Info("sent accepted transactions to the leader again", "txs", sent, "leader", leader, "leader_changed", wasChange)
		}
	}
}

// resend hands one accepted transaction to the leader without waiting.
func (c *Chain) resend(id string, tx *acceptedTx) bool {
	if c.IsLeader() {
		return c.queue.add(id, tx.raw, c.opts.Now()) == nil
	}
	select {
	case c.fwd <- fwdReq{env: tx.env, done: make(chan error, 1)}:
		return true
	default:
		return false // the forwarders are busy; next tick
	}
}
