package chain

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/medshare/medshare/network/block"
	"github.com/medshare/medshare/network/pb"
)

// ErrCatchingUp means this node's copy of the channel is behind the
// leader's: it is fetching or applying blocks it missed, and serves no reads
// until it has them.
var ErrCatchingUp = errors.New("chain: this node is catching up with the channel")

// Peers reaches the API of the channel's other nodes, as Fabric peers reach
// each other to pull blocks: a node that missed blocks fetches them from
// its peers, and a follower asks the leader how far the channel is.
type Peers interface {
	// ChainInfo returns a node's view of the channel.
	ChainInfo(ctx context.Context, node *pb.NodeInfo, channel string) (*pb.ChainInfo, error)
	// Blocks fetches blocks from..to-1 (fewer if the node holds fewer)
	// from a node and calls fn with each, in order; it stops at fn's first
	// error and returns it.
	Blocks(ctx context.Context, node *pb.NodeInfo, channel string, from, to uint64, fn func(*pb.Block) error) error
	// ReadIndex asks the leader for its read index (Chain.ReadIndex).
	ReadIndex(ctx context.Context, leader *pb.NodeInfo, channel string) (uint64, error)
}

// pullTo fetches and commits the blocks this node lacks up to height
// target, from the leader first and then the other nodes. Each block is
// checked and re-executed exactly as one from the Raft log, so a peer can
// only hand over blocks that extend this node's chain, are signed by a
// channel node and reproduce their header's tx root and state hash. When
// want is set, the block at target-1 must have that hash (the checkpoint's),
// which ties the pulled chain to what Raft committed. Blocks are committed
// one by one, each with a synced batch: a crash leaves a longer verified
// chain, never a partial one. The caller holds applyMu.
func (c *Chain) pullTo(ctx context.Context, target uint64, want *block.Hash) error {
	if c.opts.Peers == nil {
		return errors.New("chain: no peers to fetch blocks from")
	}
	backoff := 100 * time.Millisecond
	for c.store.Height() < target {
		if c.halted.Load() {
			return ErrHalted
		}
		progressed := false
		for _, node := range c.sources() {
			from := c.store.Height()
			if from >= target {
				break
			}
			pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			err := c.opts.Peers.Blocks(pctx, node, c.name, from, target, func(b *pb.Block) error {
				return c.applyPulled(b, node.GetId())
			})
			cancel()
			if got := c.store.Height(); got > from {
				progressed = true
				c.log.Info("fetched missing blocks from a peer", "peer", node.GetId(), "from", from, "to", got-1, "target", target)
			}
			if err != nil {
				if errors.Is(err, ErrHalted) {
					return err
				}
				c.log.Debug("fetching blocks from a peer failed", "peer", node.GetId(), "err", err)
			}
		}
		if progressed {
			backoff = 100 * time.Millisecond
			continue
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: at height %d of %d: %v", ErrCatchingUp, c.store.Height(), target, ctx.Err())
		case <-c.closed:
			return ErrClosed
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
	if want != nil && target > 0 {
		b, err := c.store.Block(target - 1)
		if err != nil {
			return err
		}
		if got := block.HeaderHash(b.GetHeader()); got != *want {
			c.halt(fmt.Sprintf("the blocks fetched from peers lead to block %d with hash %x, the leader's checkpoint says %x", target-1, got[:8], want[:8]))
			return ErrHalted
		}
	}
	return nil
}

// sources lists the nodes to fetch blocks from: the leader first.
func (c *Chain) sources() []*pb.NodeInfo {
	leader := c.Leader()
	var first, rest []*pb.NodeInfo
	for _, n := range c.cfg.Nodes() {
		switch n.GetId() {
		case c.opts.Signer.Name():
		case leader:
			first = append(first, n)
		default:
			rest = append(rest, n)
		}
	}
	return append(first, rest...)
}

// applyPulled checks, re-executes and commits a block fetched from a peer.
// Its stored results are dropped: this node computes its own. A block whose
// header does not check out is the peer's problem (the next peer is tried);
// one whose results this node cannot reproduce makes it halt if the leader
// served it, as a block from the log would, and is refused otherwise.
func (c *Chain) applyPulled(b *pb.Block, from string) error {
	b.Results = nil
	err := c.applyBlock(b, c.store.RaftIndex())
	var rej *rejectedError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &rej):
		return fmt.Errorf("block from %s refused: %w", from, err)
	case errors.Is(err, errMismatch) && from == c.Leader():
		c.halt(err.Error())
		return ErrHalted
	case errors.Is(err, errMismatch):
		c.raiseAlert(fmt.Sprintf("peer %s served a block this node computes differently: %v", from, err))
		return err
	default:
		c.halt(fmt.Sprintf("cannot commit a fetched block: %v", err))
		return ErrHalted
	}
}

// installCheckpoint brings the ledger to a checkpoint received from the
// leader (or found on disk at start): nothing to do if it already holds that
// block, else it fetches the missing blocks. The caller holds applyMu and
// has set catchingUp.
func (c *Chain) installCheckpoint(ctx context.Context, cp checkpoint) error {
	if cp.Channel != c.name {
		return fmt.Errorf("%w: checkpoint of channel %q", ErrSnapshotFormat, cp.Channel)
	}
	if h := c.store.Height(); cp.Height <= h {
		b, err := c.store.Block(cp.Height - 1)
		if err != nil {
			return err
		}
		if got := block.HeaderHash(b.GetHeader()); got != cp.LastHash {
			c.halt(fmt.Sprintf("the leader's checkpoint names block %d with hash %x, this node holds %x", cp.Height-1, cp.LastHash[:8], got[:8]))
			return ErrHalted
		}
		return nil
	}
	c.log.Info("installing a checkpoint: fetching the missing blocks from peers", "height", c.store.Height(), "target", cp.Height)
	if err := c.pullTo(ctx, cp.Height, &cp.LastHash); err != nil {
		return err
	}
	c.log.Info("checkpoint installed: caught up from peers", "height", c.store.Height())
	return nil
}

// catchUpAtStart runs when the ledger is behind the newest Raft snapshot on
// disk: a crash while a checkpoint was being installed (Raft had stored the
// checkpoint; the ledger had not reached it), or a store an operator
// recovered to an earlier block. Raft resumes after the snapshot, so the
// blocks up to it come from the peers; entries after it wait (applyMu).
// The caller set catchingUp.
func (c *Chain) catchUpAtStart(cp checkpoint) {
	defer c.wg.Done()
	defer c.catchingUp.Store(false)
	c.applyMu.Lock()
	defer c.applyMu.Unlock()
	ctx, cancel := c.untilClosed(0)
	defer cancel()
	for ctx.Err() == nil {
		err := c.installCheckpoint(ctx, cp)
		if err == nil || errors.Is(err, ErrHalted) {
			return
		}
		c.log.Warn("catching up with the newest snapshot failed; retrying", "err", err)
	}
}

// untilClosed returns a context that ends when the chain closes, or after
// timeout if it is positive.
func (c *Chain) untilClosed(timeout time.Duration) (context.Context, context.CancelFunc) {
	var ctx context.Context
	var cancel context.CancelFunc
	if timeout > 0 {
		ctx, cancel = context.WithTimeout(context.Background(), timeout)
	} else {
		ctx, cancel = context.WithCancel(context.Background())
	}
	go func() {
		select {
		case <-c.closed:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}
