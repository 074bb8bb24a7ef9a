package chain

import (
	"bytes"
	"io"

	"github.com/medshare/medshare/network/block"
)

// InstallSnapshot hands the chain a Raft snapshot as the leader's
// InstallSnapshot would.
func (c *Chain) InstallSnapshot(data []byte) error {
	return (&fsm{c: c}).Restore(io.NopCloser(bytes.NewReader(data)))
}

// TakeSnapshot returns the checkpoint Raft would store now.
func (c *Chain) TakeSnapshot() ([]byte, error) {
	s, err := (&fsm{c: c}).Snapshot()
	if err != nil {
		return nil, err
	}
	return s.(*fsmSnapshot).data, nil
}

// Checkpoint encodes a checkpoint.
func Checkpoint(channel string, height uint64, last block.Hash, state [32]byte) []byte {
	return checkpoint{Channel: channel, Height: height, LastHash: last, StateHash: state}.encode()
}

// DecodeCheckpoint decodes one.
func DecodeCheckpoint(b []byte) (channel string, height uint64, last block.Hash, err error) {
	cp, err := decodeCheckpoint(b)
	return cp.Channel, cp.Height, cp.LastHash, err
}

// RaftState is the state of the chain's Raft member ("Shutdown" once the
// channel halted).
func (c *Chain) RaftState() string {
	if c.group == nil {
		return "none"
	}
	return c.group.Raft.State().String()
}
