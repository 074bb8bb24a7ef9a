package consensus

import (
	"errors"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// Gate lets a channel refuse what Raft would otherwise accept from a peer,
// before Raft acts on it: log entries a leader sends, before this member
// stores them (and so before they can count towards a commit), and votes a
// candidate asks for. It is how a follower refuses a block that a correct
// node must not help commit, such as one stamped far ahead of its clock:
// once a majority has stored an entry it is committed, and every node must
// apply it, so the refusal has to come first.
//
// Its methods run on the transport's receiving goroutine: they must be
// quick and must not call into Raft.
type Gate interface {
	// AdmitEntries is called with the entries of an append request from
	// leader (a node ID) before any is stored; leaderCommit is the leader's
	// commit index in the request. An error refuses the whole request:
	// nothing is stored, the leader sees the error and retries.
	AdmitEntries(leader string, entries []*raft.Log, leaderCommit uint64) error
	// AdmitVote is called before this member considers candidate's vote or
	// pre-vote request. An error refuses it without an answer.
	AdmitVote(candidate string) error
}

// gatedTransport passes the RPCs a peer sends through a Gate before Raft
// consumes them. Heartbeats carry no entries and take Raft's fast path
// past it.
type gatedTransport struct {
	*raft.NetworkTransport
	gate     Gate
	out      chan raft.RPC
	stop     chan struct{}
	stopOnce sync.Once
}

func newGatedTransport(t *raft.NetworkTransport, g Gate) *gatedTransport {
	gt := &gatedTransport{NetworkTransport: t, gate: g, out: make(chan raft.RPC), stop: make(chan struct{})}
	go gt.pump()
	return gt
}

// Consumer implements raft.Transport: the RPCs the gate let through.
func (t *gatedTransport) Consumer() <-chan raft.RPC { return t.out }

func (t *gatedTransport) pump() {
	in := t.NetworkTransport.Consumer()
	for {
		select {
		case rpc := <-in:
			if err := t.check(rpc); err != nil {
				rpc.Respond(nil, err)
				continue
			}
			select {
			case t.out <- rpc:
			case <-t.stop:
				return
			}
		case <-t.stop:
			return
		}
	}
}

func (t *gatedTransport) check(rpc raft.RPC) error {
	switch cmd := rpc.Command.(type) {
	case *raft.AppendEntriesRequest:
		if len(cmd.Entries) > 0 {
			return t.gate.AdmitEntries(string(cmd.ID), cmd.Entries, cmd.LeaderCommitIndex)
		}
	case *raft.RequestVoteRequest:
		return t.gate.AdmitVote(string(cmd.ID))
	case *raft.RequestPreVoteRequest:
		return t.gate.AdmitVote(string(cmd.ID))
	}
	return nil
}

// Close implements raft.WithClose.
func (t *gatedTransport) Close() error {
	t.stopOnce.Do(func() { close(t.stop) })
	return t.NetworkTransport.Close()
}

// ErrNotFollower is returned by Campaign on a member that is not a follower.
var ErrNotFollower = errors.New("consensus: only a follower can stand for election")

// Campaign makes this member, a follower, stand for election at once, as
// when a leader hands leadership over (Raft's TimeoutNow): its vote requests
// are answered even by members that still follow the current leader. A
// follower that refuses the current leader's entries calls it, since Raft
// itself would keep following a leader that sends heartbeats. The group
// must have been started with a Gate.
func (g *Group) Campaign() error {
	if g.gated == nil {
		return errors.New("consensus: the group has no gate")
	}
	if g.Raft.State() != raft.Follower {
		return ErrNotFollower
	}
	resp := make(chan raft.RPCResponse, 1)
	rpc := raft.RPC{Command: &raft.TimeoutNowRequest{RPCHeader: raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax}}, RespChan: resp}
	timeout := time.NewTimer(5 * time.Second)
	defer timeout.Stop()
	select {
	case g.gated.out <- rpc:
	case <-g.gated.stop:
		return raft.ErrRaftShutdown
	case <-timeout.C:
		return errors.New("consensus: campaign: Raft did not take the request")
	}
	select {
	case r := <-resp:
		return r.Error
	case <-timeout.C:
		return errors.New("consensus: campaign: no answer")
	}
}
