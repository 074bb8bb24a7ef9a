package chain

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/medshare/medshare/network/block"
)

// A channel's Raft snapshot is a checkpoint, not a copy of the ledger: the
// channel, the height and last block hash the ledger had reached when Raft
// took it, and the state hash after that block. The ledger itself is
// durable (every block is committed with a synced batch), so Raft needs no
// copy of it to compact its log; a follower that receives a checkpoint from
// the leader fetches the blocks it lacks from its peers, checks and
// re-executes each one as it would a block from the log, and checks that
// the last one has the checkpoint's hash. Taking a snapshot costs nothing
// and installing one costs the missing blocks only.
//
// Format 2 (issue 10): "MSNP" ‖ u8 version ‖ be16 len(channel) ‖ channel ‖
// be64 height ‖ last block hash (32) ‖ state hash (32). Format 1, before
// it, was a stream of the whole pebble store starting with a 4-byte key
// length (never "MSNP"); it is refused.

// snapshotMagic and snapshotVersion start every checkpoint.
const (
	snapshotMagic   = "MSNP"
	snapshotVersion = 2
)

// ErrSnapshotFormat means a Raft snapshot is not a checkpoint this node
// understands.
var ErrSnapshotFormat = errors.New("chain: unsupported snapshot format")

// checkpoint is what a Raft snapshot of a channel records.
type checkpoint struct {
	Channel   string
	Height    uint64
	LastHash  block.Hash
	StateHash [32]byte
}

func (cp checkpoint) encode() []byte {
	b := make([]byte, 0, len(snapshotMagic)+1+2+len(cp.Channel)+8+64)
	b = append(b, snapshotMagic...)
	b = append(b, snapshotVersion)
	b = binary.BigEndian.AppendUint16(b, uint16(len(cp.Channel)))
	b = append(b, cp.Channel...)
	b = binary.BigEndian.AppendUint64(b, cp.Height)
	b = append(b, cp.LastHash[:]...)
	return append(b, cp.StateHash[:]...)
}

func decodeCheckpoint(b []byte) (checkpoint, error) {
	var cp checkpoint
	if !bytes.HasPrefix(b, []byte(snapshotMagic)) {
		return cp, fmt.Errorf("%w: not a checkpoint (format 1, a copy of the whole store, is no longer supported)", ErrSnapshotFormat)
	}
	b = b[len(snapshotMagic):]
	if len(b) < 3 || b[0] != snapshotVersion {
		return cp, fmt.Errorf("%w: checkpoint version %v", ErrSnapshotFormat, b[:min(1, len(b))])
	}
	n := int(binary.BigEndian.Uint16(b[1:]))
	b = b[3:]
	if len(b) != n+8+64 {
		return cp, fmt.Errorf("%w: checkpoint of %d bytes", ErrSnapshotFormat, len(b))
	}
	cp.Channel = string(b[:n])
	cp.Height = binary.BigEndian.Uint64(b[n:])
	copy(cp.LastHash[:], b[n+8:])
	copy(cp.StateHash[:], b[n+40:])
	if !block.ValidChannelName(cp.Channel) || cp.Height == 0 {
		return cp, fmt.Errorf("%w: checkpoint of channel %q at height %d", ErrSnapshotFormat, cp.Channel, cp.Height)
	}
	return cp, nil
}
