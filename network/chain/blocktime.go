package chain

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/medshare/medshare/network/consensus"
	"github.com/medshare/medshare/network/pb"
)

// ErrBlockAhead is the refusal a leader receives for a block stamped too
// far ahead of a follower's clock.
var ErrBlockAhead = errors.New("chain: block time is too far ahead of this node's clock")

// Block time has an upper bound as well as a lower one. The lower bound
// (not earlier than the previous block) is checked when a block is applied:
// it depends only on the chain, so every node decides alike. The upper bound
// depends on each node's clock, so it cannot be checked when the block is
// applied — nodes would decide differently — but before: a follower refuses
// to store a block stamped more than the channel's MaxBlockAhead ahead of
// its clock, and an entry that a majority does not store is never
// committed. With a majority of nodes' clocks right, a leader whose clock
// runs ahead therefore commits nothing: it no longer freezes block time in
// the future for every later leader, nor makes transactions BAD_TIMESTAMP
// (which would use up their IDs). A refusing follower that sees the entry
// stay uncommitted stands for election, and for a while refuses its vote to
// the leader it refused, so that leader is replaced.
//
// A follower whose own clock is behind refuses too, but the others commit
// the entry without it; it then accepts it (an entry the leader reports
// committed is accepted whatever its time: every node must apply it), and
// does not stand for election.

// blockTimeGate is the channel's consensus.Gate.
type blockTimeGate struct {
	c     *Chain
	group atomic.Pointer[consensus.Group]

	mu      sync.Mutex
	refusal *refusal             // the entry refused and not yet committed
	banned  map[string]time.Time // node ID → end of the refusal of its votes
}

type refusal struct {
	leader string
	index  uint64
	timer  *time.Timer
}

func newBlockTimeGate(c *Chain) *blockTimeGate {
	return &blockTimeGate{c: c, banned: map[string]time.Time{}}
}

// AdmitEntries implements consensus.Gate.
func (g *blockTimeGate) AdmitEntries(leader string, entries []*raft.Log, leaderCommit uint64) error {
	c := g.c
	now := c.opts.Now()
	bound := c.cfg.MaxBlockAhead()
	g.mu.Lock()
	defer g.mu.Unlock()
	if r := g.refusal; r != nil && (leader != r.leader || leaderCommit >= r.index) {
		// Another leader, or the others committed the entry without us.
		g.clear()
	}
	for _, l := range entries {
		if l.Type != raft.LogCommand || l.Index <= leaderCommit {
			continue
		}
		ts, ok := headerTime(l.Data)
		if !ok {
			continue // not a block: the FSM rejects it, on every node alike
		}
		ahead := time.Unix(0, ts).Sub(now)
		if ahead <= bound {
			continue
		}
		err := fmt.Errorf("%w: the block in Raft entry %d from %s is %s ahead of %s's clock (limit %s)",
			ErrBlockAhead, l.Index, leader, ahead.Round(time.Millisecond), c.opts.Signer.Name(), bound)
		g.refuse(leader, l.Index, err)
		return err
	}
	if r := g.refusal; r != nil && entries[len(entries)-1].Index >= r.index {
		g.clear() // the entry is stored after all
	}
	return nil
}

// AdmitVote implements consensus.Gate.
func (g *blockTimeGate) AdmitVote(candidate string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if until, ok := g.banned[candidate]; ok {
		if time.Now().Before(until) {
			return fmt.Errorf("%w: %s does not vote for %s, whose block it refused", ErrBlockAhead, g.c.opts.Signer.Name(), candidate)
		}
		delete(g.banned, candidate)
	}
	return nil
}

// refuse records a refused entry and, the first time, raises an alert and
// schedules the election. g.mu is held.
func (g *blockTimeGate) refuse(leader string, index uint64, reason error) {
	if g.refusal != nil {
		return
	}
	c := g.c
	c.mu.Lock()
	c.alert = reason.Error()
	c.mu.Unlock()
	c.log.Error("ALERT: refused a block from the leader", "err", reason)
	et := c.opts.Raft.ElectionTimeout
	wait := 2*et + rand.N(et+1)
	g.refusal = &refusal{leader: leader, index: index, timer: time.AfterFunc(wait, g.campaign)}
}

// clear forgets the refusal. g.mu is held.
func (g *blockTimeGate) clear() {
	if g.refusal != nil {
		g.refusal.timer.Stop()
		g.refusal = nil
	}
}

// campaign runs when a refused entry stayed uncommitted for a while: the
// leader is not committing without this node, so this node stands for
// election and, for a while, votes for anyone but it.
func (g *blockTimeGate) campaign() {
	c := g.c
	g.mu.Lock()
	r := g.refusal
	g.refusal = nil
	if r != nil {
		g.banned[r.leader] = time.Now().Add(10 * c.opts.Raft.ElectionTimeout)
	}
	g.mu.Unlock()
	group := g.group.Load()
	if r == nil || group == nil {
		return
	}
	select {
	case <-c.closed:
		return
	default:
	}
	if _, id := group.Raft.LeaderWithID(); string(id) != r.leader {
		return
	}
	if err := group.Campaign(); err != nil {
		c.log.Warn("could not stand for election against a leader whose block was refused", "leader", r.leader, "err", err)
		return
	}
	c.log.Warn("standing for election: the leader's block stays uncommitted, too far ahead of the clocks", "leader", r.leader, "raft_index", r.index)
}

// headerTime reads the header timestamp of a serialised pb.Block without
// decoding its transactions, as proto.Unmarshal would read it (the header
// field's occurrences merged).
func headerTime(data []byte) (int64, bool) {
	var hdr []byte
	for len(data) > 0 {
		num, typ, n := protowire.ConsumeTag(data)
		if n < 0 {
			return 0, false
		}
		data = data[n:]
		if num == 1 && typ == protowire.BytesType {
			v, m := protowire.ConsumeBytes(data)
			if m < 0 {
				return 0, false
			}
			hdr = append(hdr, v...)
			data = data[m:]
			continue
		}
		m := protowire.ConsumeFieldValue(num, typ, data)
		if m < 0 {
			return 0, false
		}
		data = data[m:]
	}
	h := new(pb.BlockHeader)
	if hdr == nil || proto.Unmarshal(hdr, h) != nil {
		return 0, false
	}
	return h.GetTimestamp(), true
}
