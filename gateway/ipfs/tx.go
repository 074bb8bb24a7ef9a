package ipfs

import (
	"context"
	"fmt"
	"sync"
	"time"

	gocid "github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
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
// AddTx costs two calls (pin ls, then add and pin) for an object of up to
// ChunkSize bytes, whose CID it computes locally, and three (add, pin ls,
// pin) for a larger one, where Add costs one; use Add where nothing can fail
// after it.
func (c *Client) AddTx(ctx context.Context, data []byte) (cid string, commit func(), undo func(context.Context) error, err error) {
	if int64(len(data)) > c.maxSize {
		return "", nil, nil, fmt.Errorf("%w: %d bytes, the maximum is %d", ErrTooLarge, len(data), c.maxSize)
	}
	cid, known := RawCID(data)
	if !known {
		// Larger than one chunk: kubo computes the address.
		if cid, err = c.AddNoPin(ctx, data); err != nil {
			return "", nil, nil, err
		}
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
		e.ours, e.err = c.pinIfNew(ctx, cid, data, known)
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
// pinned it. A small object (known) is added and pinned in one call; a
// larger one was added already and is pinned now.
func (c *Client) pinIfNew(ctx context.Context, cid string, data []byte, known bool) (bool, error) {
	pinned, err := c.Pinned(ctx, cid)
	if err != nil || pinned {
		return false, err
	}
	if !known {
		if err := c.Pin(ctx, cid); err != nil {
			c.cleanUp(ctx, cid)
			return false, err
		}
		return true, nil
	}
	got, err := c.Add(ctx, data)
	if err != nil {
		c.cleanUp(ctx, cid)
		return false, err
	}
	if got != cid {
		// kubo chunked differently than it was asked to: do not keep a pin
		// nobody will undo.
		c.Unpin(ctx, got)
		return false, fmt.Errorf("ipfs: add: kubo gave %s for an object whose raw CID is %s", got, cid)
	}
	return true, nil
}

// cleanUp unpins cid after a pin or add that failed without a definite
// answer (the deadline ended it while kubo was working: kubo may still pin).
// The object was not pinned before (pinIfNew asked), so the pin, if any, is
// the transaction's. It is best effort: with kubo down there is nothing to
// undo.
func (c *Client) cleanUp(ctx context.Context, cid string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	c.Unpin(ctx, cid)
}

// ChunkSize is the chunk size objects are added with: an object of at most
// ChunkSize bytes is one raw block.
const ChunkSize = 256 << 10

// MaxBlockBytes bounds what one block fetched from a peer can hold: bitswap
// sends a block in one libp2p message, and libp2p refuses messages above
// 4 MiB (its network.MessageSizeMax).
const MaxBlockBytes = 4 << 20

// SingleBlock reports whether cid is a raw-codec CID: one block with no
// links, so whatever kubo fetches for it is at most MaxBlockBytes. It is
// false for anything that is not a CID.
func SingleBlock(cid string) bool {
	c, err := gocid.Decode(cid)
	return err == nil && c.Type() == gocid.Raw
}

// RawCID returns the CID Add gives data of at most ChunkSize bytes (CIDv1,
// raw codec, sha2-256, base32), computed locally, and true; for larger data
// it returns "" and false (the address of a chunked object depends on its
// UnixFS layout).
func RawCID(data []byte) (string, bool) {
	if len(data) > ChunkSize {
		return "", false
	}
	h, err := mh.Sum(data, mh.SHA2_256, -1)
	if err != nil {
		return "", false
	}
	return gocid.NewCidV1(gocid.Raw, h).String(), true
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
