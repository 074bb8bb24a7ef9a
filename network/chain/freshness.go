package chain

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/raft"
)

// Read freshness. Evaluate answers from this node's committed state, which
// lags the leader's: by a few milliseconds normally, by much more after a
// restart, a checkpoint installation or a loss of contact — a restarted
// follower knows nothing of the blocks it missed until the leader's
// replication reaches it, which can take seconds after the leader backed
// off from it. So a node serves reads of a channel only while it is
// "fresh":
//
//   - the leader is fresh once it has applied every entry of earlier terms
//     (the barrier it runs before cutting its first block);
//   - a follower becomes fresh when it hears from a leader and reaches the
//     height that leader reports when asked; it stays fresh while it hears
//     from a leader, and for at most three election timeouts after it last
//     did (an election after a leader failure), then it must catch up
//     again;
//   - a halted node, or one fetching missed blocks, is not fresh.
//
// A read may also name a minimum height (read-your-writes: the height a
// submission committed at; monotonic reads: the height a previous read was
// served at); the node waits until it holds that many blocks. Neither makes
// a read linearizable: a fresh follower may still miss the last blocks.

// freshTick is how often a node re-assesses its freshness.
const freshTick = 50 * time.Millisecond

// freshnessLoop keeps c.fresh up to date.
func (c *Chain) freshnessLoop() {
	defer c.wg.Done()
	t := time.NewTicker(freshTick)
	defer t.Stop()
	var target uint64 // the leader's height when last asked; 0: not asked
	var contact time.Time
	for {
		select {
		case <-c.closed:
			c.fresh.Store(false)
			return
		case <-t.C:
		}
		fresh := c.assessFreshness(&target, &contact)
		if was := c.fresh.Swap(fresh); was != fresh {
			c.log.Debug("read freshness changed", "fresh", fresh, "height", c.store.Height())
		}
	}
}

// assessFreshness decides whether the node is fresh now. target is the
// leader's height a follower waits for, contact when a fresh follower last
// heard from a leader.
func (c *Chain) assessFreshness(target *uint64, contact *time.Time) bool {
	r := c.raftNode()
	if c.halted.Load() || c.catchingUp.Load() || r == nil {
		*target = 0
		return false
	}
	if r.State() == raft.Leader {
		*target, *contact = 0, time.Now()
		return c.leaderReady.Load()
	}
	_, id := r.LeaderWithID()
	if id == "" || time.Since(r.LastContact()) > 2*c.opts.Raft.HeartbeatTimeout {
		// No leader in sight: a fresh node stays so for a bounded time.
		*target = 0
		return c.fresh.Load() && time.Since(*contact) < 3*c.opts.Raft.ElectionTimeout
	}
	if c.fresh.Load() {
		*contact = time.Now()
		return true
	}
	if *target == 0 {
		leader, ok := c.cfg.Node(string(id))
		if !ok || c.opts.Peers == nil {
			return false
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		info, err := c.opts.Peers.ChainInfo(ctx, leader, c.name)
		cancel()
		if err != nil || info.GetHalted() {
			return false
		}
		*target = max(info.GetHeight(), 1)
	}
	if c.store.Height() >= *target {
		*target, *contact = 0, time.Now()
		return true
	}
	return false
}

// Fresh reports whether the node serves reads of the channel now.
func (c *Chain) Fresh() bool { return c.fresh.Load() }

// WaitServing waits until the node may serve a read of the channel: it is
// fresh and holds at least minHeight blocks. It gives up a little before
// ctx's deadline with ErrCatchingUp (or ErrHalted), so the caller can still
// answer.
func (c *Chain) WaitServing(ctx context.Context, minHeight uint64) error {
	if deadline, ok := ctx.Deadline(); ok {
		margin := min(200*time.Millisecond, time.Until(deadline)/5)
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline.Add(-margin))
		defer cancel()
	}
	for {
		if c.halted.Load() {
			return ErrHalted
		}
		height := c.store.Height()
		if c.fresh.Load() && height >= minHeight {
			return nil
		}
		grown := c.notify.grownCh()
		select {
		case <-grown:
		case <-time.After(freshTick):
		case <-c.haltCh:
		case <-c.closed:
			return ErrClosed
		case <-ctx.Done():
			if minHeight > height {
				return fmt.Errorf("%w: it holds %d blocks, the read asks for %d", ErrCatchingUp, height, minHeight)
			}
			return fmt.Errorf("%w: it holds %d blocks and has not confirmed it has the leader's", ErrCatchingUp, height)
		}
	}
}

// ReadIndex is the leader's part of a linearizable read, as in etcd: it
// returns a height that includes every block committed before the call.
// It notes the block in flight, confirms with a heartbeat round to a
// majority that this node still leads (so no other leader can have
// committed anything it lacks), and waits until that block is applied. A
// new leader answers only after applying every entry of earlier terms.
func (c *Chain) ReadIndex(ctx context.Context) (uint64, error) {
	r := c.raftNode()
	if r == nil || r.State() != raft.Leader {
		return 0, ErrNotLeader
	}
	for !c.leaderReady.Load() {
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("%w: %v", ErrCatchingUp, ctx.Err())
		case <-c.closed:
			return 0, ErrClosed
		case <-time.After(10 * time.Millisecond):
		}
		if r.State() != raft.Leader {
			return 0, ErrNotLeader
		}
	}
	inFlight := c.proposing.Load()
	if err := r.VerifyLeader().Error(); err != nil {
		return 0, fmt.Errorf("%w: %v", ErrNotLeader, err)
	}
	for {
		grown := c.notify.grownCh()
		if h := c.store.Height(); h >= inFlight || c.proposing.Load() != inFlight {
			return h, nil
		}
		select {
		case <-grown:
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-c.closed:
			return 0, ErrClosed
		}
	}
}

// readIndex returns the height a linearizable read must see: the leader's
// read index, asked of the leader when this node follows.
func (c *Chain) readIndex(ctx context.Context) (uint64, error) {
	if c.halted.Load() {
		return 0, ErrHalted
	}
	if c.IsLeader() {
		if h, err := c.ReadIndex(ctx); !errors.Is(err, ErrNotLeader) {
			return h, err
		}
	}
	id := c.awaitLeader()
	if id == "" || c.opts.Peers == nil {
		return 0, fmt.Errorf("%w: no leader to confirm the channel's height with", ErrCatchingUp)
	}
	if id == c.opts.Signer.Name() {
		return c.ReadIndex(ctx)
	}
	leader, ok := c.cfg.Node(id)
	if !ok {
		return 0, fmt.Errorf("%w: unknown leader %s", ErrCatchingUp, id)
	}
	h, err := c.opts.Peers.ReadIndex(ctx, leader, c.name)
	if err != nil {
		return 0, fmt.Errorf("%w: the leader %s did not confirm the channel's height: %v", ErrCatchingUp, id, err)
	}
	return h, nil
}
