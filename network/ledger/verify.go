package ledger

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"sort"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"google.golang.org/protobuf/proto"

	"github.com/medshare/medshare/internal/kvstore"
	"github.com/medshare/medshare/network/block"
	"github.com/medshare/medshare/network/channel"
	"github.com/medshare/medshare/network/identity"
	"github.com/medshare/medshare/network/lthash"
	"github.com/medshare/medshare/network/pb"
)

// Problem is one inconsistency found by Verify. Block is the block where it
// occurs; Tx is the transaction's index in it, or -1.
type Problem struct {
	Block uint64
	Tx    int
	What  string
}

func (p Problem) String() string {
	if p.Tx >= 0 {
		return fmt.Sprintf("block %d, transaction %d: %s", p.Block, p.Tx, p.What)
	}
	return fmt.Sprintf("block %d: %s", p.Block, p.What)
}

// Report is the result of Verify.
type Report struct {
	Channel      string
	Blocks       uint64
	Transactions uint64
	StateKeys    int
	// LastHash and StateHash are the recomputed hashes of the last block and
	// of the world state after it.
	LastHash  block.Hash
	StateHash [32]byte
	// Problems lists what failed, in block order. The first names the first
	// block that fails.
	Problems []Problem
}

// OK reports whether verification found nothing wrong.
func (r *Report) OK() bool { return len(r.Problems) == 0 }

// maxProblems bounds how many problems Verify collects after the first.
const maxProblems = 100

type verifier struct {
	r        *Report
	cfg      *channel.Config
	snap     *pebble.Snapshot
	state    map[string][]byte // ns 0x00 key → value
	writer   map[string]uint64 // ns 0x00 key → last block that wrote it
	lt       lthash.Hash
	prevHash block.Hash
	prevTime int64
}

func (v *verifier) fail(n uint64, tx int, format string, args ...any) {
	if len(v.r.Problems) < maxProblems {
		v.r.Problems = append(v.r.Problems, Problem{Block: n, Tx: tx, What: fmt.Sprintf(format, args...)})
	}
}

// Verify recomputes, from a consistent snapshot of the store, every block
// hash and link, every cutter and creator signature, every Merkle root, the
// state hash after every block (by replaying the blocks' writes), and finally
// compares the replayed world state, transaction index and metadata with
// what is stored. It returns an error only if the store cannot be read.
func (s *Store) Verify(ctx context.Context) (*Report, error) {
	snap := s.db.NewSnapshot()
	defer snap.Close()
	v := &verifier{r: &Report{}, snap: snap, state: map[string][]byte{}, writer: map[string]uint64{}}
	for n := uint64(0); ; n++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		raw, err := snapGet(snap, blockKey(n))
		if err != nil {
			return nil, err
		}
		if raw == nil {
			break
		}
		if !v.block(n, raw) {
			// The chain is broken here; later blocks cannot be checked
			// against it.
			return v.r, nil
		}
		v.r.Blocks = n + 1
	}
	if v.r.Blocks == 0 {
		v.fail(0, -1, "the store holds no blocks")
		return v.r, nil
	}
	v.r.LastHash = v.prevHash
	v.r.StateHash = v.lt.Sum()
	v.r.StateKeys = len(v.state)
	if err := v.compareState(); err != nil {
		return nil, err
	}
	if err := v.compareMeta(); err != nil {
		return nil, err
	}
	return v.r, nil
}

func snapGet(snap *pebble.Snapshot, key []byte) ([]byte, error) { return read(snap, key) }

// block checks one block and replays its writes. It returns false when the
// chain cannot be followed past it.
func (v *verifier) block(n uint64, raw []byte) bool {
	b := new(pb.Block)
	if err := proto.Unmarshal(raw, b); err != nil {
		v.fail(n, -1, "stored block cannot be decoded: %v", err)
		return false
	}
	h := b.GetHeader()
	if h == nil {
		v.fail(n, -1, "block has no header")
		return false
	}
	if h.GetNumber() != n {
		v.fail(n, -1, "header says block %d", h.GetNumber())
		return false
	}
	hash := block.HeaderHash(h)
	if n == 0 {
		cfg, err := channel.VerifyGenesis(b)
		if err != nil {
			v.fail(0, -1, "genesis: %v", err)
			return false
		}
		v.cfg = cfg
		v.r.Channel = cfg.Name()
	} else {
		if !bytes.Equal(h.GetPreviousHash(), v.prevHash[:]) {
			v.fail(n, -1, "previous hash %x does not match block %d's hash %x", h.GetPreviousHash(), n-1, v.prevHash)
			return false
		}
		if h.GetChannel() != v.cfg.Name() {
			v.fail(n, -1, "block of channel %q in the store of %q", h.GetChannel(), v.cfg.Name())
		}
		if h.GetTimestamp() < v.prevTime {
			v.fail(n, -1, "timestamp goes back in time")
		}
		v.checkCutter(n, b, hash)
		root := block.TxRoot(b.GetTransactions(), b.GetResults())
		if len(b.GetResults()) != len(b.GetTransactions()) {
			v.fail(n, -1, "%d results for %d transactions", len(b.GetResults()), len(b.GetTransactions()))
		} else if !bytes.Equal(root[:], h.GetTxRoot()) {
			v.fail(n, -1, "Merkle root of transactions and results does not match the header (a transaction or result was altered)")
		}
		v.checkTransactions(n, b)
	}
	v.replay(n, b)
	if sum := v.lt.Sum(); !bytes.Equal(sum[:], h.GetStateHash()) {
		v.fail(n, -1, "state hash after replaying the block's writes does not match the header")
	}
	if idx, err := snapGet(v.snap, append([]byte{prefixHash}, hash[:]...)); err != nil || idx == nil || binary.BigEndian.Uint64(idx) != n {
		v.fail(n, -1, "block hash index does not point at this block")
	}
	v.prevHash = hash
	v.prevTime = h.GetTimestamp()
	v.r.Transactions += uint64(len(b.GetTransactions()))
	return true
}

func (v *verifier) checkCutter(n uint64, b *pb.Block, hash block.Hash) {
	at := time.Unix(0, b.GetHeader().GetTimestamp())
	id, err := v.cfg.Membership().Validate(b.GetCutterMsp(), b.GetCutterCert(), at)
	if err != nil {
		v.fail(n, -1, "cutter certificate: %v", err)
		return
	}
	if !v.cfg.IsNode(id) || id.Name() != b.GetHeader().GetCutter() {
		v.fail(n, -1, "cut by %s, which is not the channel node %q", id, b.GetHeader().GetCutter())
		return
	}
	if err := identity.VerifyDigest(id.PublicKey(), hash[:], b.GetSignature()); err != nil {
		v.fail(n, -1, "cutter signature over the header: %v", err)
	}
}

// checkTransactions verifies the creator signature of every transaction the
// block's results count as authentic, and the transaction index.
func (v *verifier) checkTransactions(n uint64, b *pb.Block) {
	at := time.Unix(0, b.GetHeader().GetTimestamp())
	for i, raw := range b.GetTransactions() {
		if i >= len(b.GetResults()) {
			return
		}
		r := b.GetResults()[i]
		if !Indexed(r.GetCode()) {
			continue
		}
		tx, err := block.ParseTx(raw, 0)
		if err != nil {
			v.fail(n, i, "result says %s but the transaction does not decode: %v", r.GetCode(), err)
			continue
		}
		if tx.TxID != r.GetTxId() {
			v.fail(n, i, "result is for transaction %s, not %s", r.GetTxId(), tx.TxID)
		}
		creator, err := v.cfg.Membership().Validate(tx.Proposal.GetMspId(), tx.Proposal.GetCreator(), at)
		if err != nil {
			v.fail(n, i, "creator: %v", err)
			continue
		}
		if err := creator.Verify(tx.Envelope.GetProposal(), tx.Envelope.GetSignature()); err != nil {
			v.fail(n, i, "creator signature: %v", err)
		}
		loc, err := snapGet(v.snap, txKey(tx.TxID))
		if err != nil || len(loc) != 16 {
			v.fail(n, i, "transaction %s is missing from the index", tx.TxID)
			continue
		}
		if ib, ii := binary.BigEndian.Uint64(loc), binary.BigEndian.Uint32(loc[8:]); ib > n || (ib == n && int(ii) > i) {
			v.fail(n, i, "index places transaction %s at block %d, transaction %d", tx.TxID, ib, ii)
		}
	}
}

func (v *verifier) replay(n uint64, b *pb.Block) {
	for _, r := range b.GetResults() {
		if r.GetCode() != pb.ValidationCode_VALID {
			continue
		}
		for _, w := range r.GetWrites() {
			k := w.GetNamespace() + "\x00" + w.GetKey()
			if old, ok := v.state[k]; ok {
				v.lt.Remove(lthash.Element(w.GetNamespace(), w.GetKey(), old))
			}
			if w.GetDelete() {
				delete(v.state, k)
			} else {
				v.state[k] = w.GetValue()
				v.lt.Add(lthash.Element(w.GetNamespace(), w.GetKey(), w.GetValue()))
			}
			v.writer[k] = n
		}
	}
}

// compareState compares the replayed world state with the stored one.
func (v *verifier) compareState() error {
	it, err := v.snap.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixState}, UpperBound: kvstore.PrefixUpperBound([]byte{prefixState})})
	if err != nil {
		return fmt.Errorf("ledger: verify: %w", err)
	}
	defer it.Close()
	stored := map[string]bool{}
	for ok := it.First(); ok; ok = it.Next() {
		k := string(it.Key()[1:])
		stored[k] = true
		val, err := it.ValueAndErr()
		if err != nil {
			return fmt.Errorf("ledger: verify: %w", err)
		}
		want, ok := v.state[k]
		if !ok {
			v.fail(v.r.Blocks-1, -1, "stored state key %s was written by no block", printable(k))
			continue
		}
		if !bytes.Equal(val, want) {
			v.fail(v.writer[k], -1, "stored value of state key %s differs from what this block wrote", printable(k))
		}
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("ledger: verify: %w", err)
	}
	var missing []string
	for k := range v.state {
		if !stored[k] {
			missing = append(missing, k)
		}
	}
	sort.Strings(missing)
	for _, k := range missing {
		v.fail(v.writer[k], -1, "state key %s that this block wrote is missing from the stored state", printable(k))
	}
	// Problems found here belong to earlier blocks; keep block order.
	sort.SliceStable(v.r.Problems, func(i, j int) bool { return v.r.Problems[i].Block < v.r.Problems[j].Block })
	return nil
}

func (v *verifier) compareMeta() error {
	last := v.r.Blocks - 1
	if raw, err := snapGet(v.snap, metaHeight); err != nil {
		return err
	} else if len(raw) != 8 || binary.BigEndian.Uint64(raw) != v.r.Blocks {
		v.fail(last, -1, "stored height does not match the %d blocks", v.r.Blocks)
	}
	if raw, err := snapGet(v.snap, metaLastHash); err != nil {
		return err
	} else if !bytes.Equal(raw, v.prevHash[:]) {
		v.fail(last, -1, "stored last-block hash does not match the chain")
	}
	if raw, err := snapGet(v.snap, metaLtHash); err != nil {
		return err
	} else {
		var lt lthash.Hash
		if lt.UnmarshalBinary(raw) != nil || !lt.Equal(&v.lt) {
			v.fail(last, -1, "stored state hash does not match the replayed state")
		}
	}
	return nil
}

func printable(k string) string {
	ns, key, _ := bytes.Cut([]byte(k), []byte{0})
	for _, c := range key {
		if c < 0x20 || c > 0x7e {
			return string(ns) + "/0x" + hex.EncodeToString(key)
		}
	}
	return string(ns) + "/" + string(key)
}
