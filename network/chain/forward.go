package chain

import (
	"context"
	"fmt"
	"time"

	"github.com/medshare/medshare/network/pb"
)

// fwdReq is a transaction a follower hands to the leader.
type fwdReq struct {
	env  *pb.Envelope
	done chan error
}

// maxForwardBatch bounds how many transactions one forward call carries.
const maxForwardBatch = 512

// forwardLoop sends follower submissions to the leader in batches: it takes
// one request, adds whatever else is waiting, and forwards them in one call.
func (c *Chain) forwardLoop() {
	defer c.wg.Done()
	for {
		var batch []fwdReq
		select {
		case r := <-c.fwd:
			batch = append(batch, r)
		case <-c.closed:
			return
		}
	more:
		for len(batch) < maxForwardBatch {
			select {
			case r := <-c.fwd:
				batch = append(batch, r)
			default:
				break more
			}
		}
		c.forward(batch)
	}
}

func (c *Chain) forward(batch []fwdReq) {
	finish := func(err error) {
		for _, r := range batch {
			r.done <- err
		}
	}
	leaderID := c.awaitLeader()
	if leaderID == "" {
		finish(ErrNoLeader)
		return
	}
	if leaderID == c.opts.Signer.Name() {
		// This node became leader meanwhile: queue locally.
		envs := make([]*pb.Envelope, len(batch))
		for i, r := range batch {
			envs[i] = r.env
		}
		for i, err := range c.Enqueue(envs) {
			batch[i].done <- err
		}
		return
	}
	leader, ok := c.cfg.Node(leaderID)
	if !ok || c.opts.Forwarder == nil {
		finish(ErrNoLeader)
		return
	}
	envs := make([]*pb.Envelope, len(batch))
	for i, r := range batch {
		envs[i] = r.env
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	errs, err := c.opts.Forwarder.Forward(ctx, leader, c.name, envs)
	if err != nil {
		finish(fmt.Errorf("%w: %s: %v", ErrLeaderUnreachable, leader.GetId(), err))
		return
	}
	for i, r := range batch {
		if i < len(errs) {
			r.done <- errs[i]
		} else {
			r.done <- ErrNoLeader
		}
	}
}

// awaitLeader returns the channel's leader, waiting up to two election
// timeouts while none is known (an election is running), or "".
func (c *Chain) awaitLeader() string {
	deadline := time.Now().Add(2 * c.opts.Raft.ElectionTimeout)
	for {
		if id := c.Leader(); id != "" || c.halted.Load() || time.Now().After(deadline) {
			return id
		}
		select {
		case <-c.closed:
			return ""
		case <-time.After(20 * time.Millisecond):
		}
	}
}
