package ipfs

import (
	"context"
	"sync"
)

// txEntry is the state of one object among the client's AddTx transactions
// that are neither committed nor undone.
type txEntry struct {
	ready     chan struct{} // closed once the first transaction has pinned
	err       error         // the first transaction's pin error
	live      int           // transactions not yet committed or undone
	ours      bool          // a transaction of this group created the pin
	committed bool          // a transaction of this group committed
}

// AddTx adds and pins data for an upload that may still fail, and returns
// its CID with commit and undo functions: call commit once the upload is
// recorded (Tx_sto committed, indexed), undo when it fails (ledger down,
// transaction refused), so that a failed upload leaves nothing pinned.
// Exactly one of them should be called; later calls of either do nothing.
//
// kubo's pins are a set, not a count, so undo does not unpin an object that
// was pinned before the transaction (an earlier upload of the same bytes, a
// replication follower's pin) or that another of this client's transactions
// committed or still holds: a hostile re-upload of another record's
// ciphertext that fails on purpose cannot unpin that record. undo returns
// kubo's error when the unpin fails (kubo down): the caller should log the
// CID as an orphan pin.
//
// AddTx costs three calls (add without pin, pin ls, pin add) where Add costs
// one; use Add where nothing can fail after it.
func (c *Client) AddTx(ctx context.Context, data []byte) (cid string, commit func(), undo func(context.Context) error, err error) {
	cid, err = c.AddNoPin(ctx, data)
	if err != nil {
		return "", nil, nil, err
	}
	c.mu.Lock()
	e, joined := c.txs[cid]
	if !joined {
		e = &txEntry{ready: make(chan struct{})}
		c.txs[cid] = e
	}
	e.live++
	c.mu.Unlock()

	if !joined {
		e.ours, e.err = c.pinIfNew(ctx, cid)
		close(e.ready)
	} else {
		<-e.ready
	}
	if e.err != nil {
		c.release(cid, e, false)
		return "", nil, nil, e.err
	}
	var once sync.Once
	commit = func() { once.Do(func() { c.release(cid, e, true) }) }
	undo = func(ctx context.Context) error {
		var err error
		once.Do(func() {
			if c.release(cid, e, false) {
				err = c.Unpin(ctx, cid)
			}
		})
		return err
	}
	return cid, commit, undo, nil
}

// pinIfNew pins cid unless it is pinned already, and says whether it
// pinned it.
func (c *Client) pinIfNew(ctx context.Context, cid string) (bool, error) {
	pinned, err := c.Pinned(ctx, cid)
	if err != nil || pinned {
		return false, err
	}
	return true, c.Pin(ctx, cid)
}

// release ends one transaction on e and reports whether the object must be
// unpinned: the last transaction ended, none committed, and the group's
// first transaction created the pin.
func (c *Client) release(cid string, e *txEntry, committed bool) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	e.live--
	e.committed = e.committed || committed
	if e.live > 0 {
		return false
	}
	if c.txs[cid] == e {
		delete(c.txs, cid)
	}
	return e.ours && !e.committed && e.err == nil
}
