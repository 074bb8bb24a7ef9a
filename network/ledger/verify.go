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
	prevVer  uint32
	// How many transaction-index and history entries the blocks imply.
	// Each one is looked up while its block is checked; if the store holds
	// more, the extra ones are found by checking every stored entry
	// against its block (see compareKeyspaces).
	wantTxs, wantHistory uint64
	// blocks caches decoded blocks for compareKeyspaces' second pass.
	blocks map[uint64]*pb.Block
}

func (v *verifier) fail(n uint64, tx int, format string, args ...any) {
	if len(v.r.Problems) < maxProblems {
		v.r.Problems = append(v.r.Problems, Problem{Block: n, Tx: tx, What: fmt.Sprintf(format, args...)})
	}
}

// Verify recomputes, from a consistent snapshot of the store, every block
// hash and link, every cutter and creator signature, every Merkle root, the
// state hash after every block (by replaying the blocks' writes), and
// compares with what is stored everything the node serves from its own
// keyspaces: the world state, every key's history, the transaction index,
// the block-hash index, the blocks themselves (none beyond the chain) and
// the metadata. Each index or history entry must be exactly the one the
// blocks imply, and no other may exist. It returns an error only if the
// store cannot be read.
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
	if err := v.compareKeyspaces(); err != nil {
		return nil, err
	}
	if err := v.compareMeta(); err != nil {
		return nil, err
	}
	// Problems found after the replay belong to earlier blocks; keep block
	// order.
	sort.SliceStable(v.r.Problems, func(i, j int) bool { return v.r.Problems[i].Block < v.r.Problems[j].Block })
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
		if h.GetVersion() < v.prevVer || h.GetVersion() > channel.BlockVersion {
			v.fail(n, -1, "block version %d after version %d (this code knows %d..%d)", h.GetVersion(), v.prevVer, channel.MinBlockVersion, channel.BlockVersion)
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
	v.checkIndexes(n, b)
	v.replay(n, b)
	if sum := v.lt.Sum(); !bytes.Equal(sum[:], h.GetStateHash()) {
		v.fail(n, -1, "state hash after replaying the block's writes does not match the header")
	}
	if idx, err := snapGet(v.snap, append([]byte{prefixHash}, hash[:]...)); err != nil || idx == nil || binary.BigEndian.Uint64(idx) != n {
		v.fail(n, -1, "block hash index does not point at this block")
	}
	v.prevHash = hash
	v.prevTime = h.GetTimestamp()
	v.prevVer = h.GetVersion()
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
// block's results count as authentic.
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
	}
}

// expectedTxEntry is the transaction-index entry a result implies, or nil.
func expectedTxEntry(n uint64, i int, r *pb.TxResult) []byte {
	if !Indexed(r.GetCode()) {
		return nil
	}
	loc := binary.BigEndian.AppendUint64(nil, n)
	loc = binary.BigEndian.AppendUint32(loc, uint32(i))
	return binary.BigEndian.AppendUint32(loc, uint32(r.GetCode()))
}

// expectedHistory calls f with the key and value of every history entry a
// block implies: one per write of each valid transaction.
func expectedHistory(n uint64, b *pb.Block, f func(i int, key, value []byte)) {
	for i, r := range b.GetResults() {
		if r.GetCode() != pb.ValidationCode_VALID || i >= len(b.GetTransactions()) {
			continue
		}
		ts := txTimestamp(b.GetTransactions()[i])
		for _, w := range r.GetWrites() {
			k := historyPrefix(w.GetNamespace(), w.GetKey())
			k = binary.BigEndian.AppendUint64(k, n)
			k = binary.BigEndian.AppendUint32(k, uint32(i))
			f(i, k, encodeHistory(r.GetTxId(), ts, w))
		}
	}
}

// checkIndexes looks up every transaction-index and history entry block n
// implies and checks that it is stored exactly.
func (v *verifier) checkIndexes(n uint64, b *pb.Block) {
	for i, r := range b.GetResults() {
		want := expectedTxEntry(n, i, r)
		if want == nil {
			continue
		}
		v.wantTxs++
		got, err := snapGet(v.snap, txKey(r.GetTxId()))
		switch {
		case err != nil || got == nil:
			v.fail(n, i, "transaction %s is missing from the index", r.GetTxId())
		case !bytes.Equal(got, want):
			v.fail(n, i, "index entry of transaction %s says %s, the block says block %d, transaction %d, %s",
				r.GetTxId(), describeTxEntry(got), n, i, r.GetCode())
		}
	}
	expectedHistory(n, b, func(i int, key, value []byte) {
		v.wantHistory++
		got, err := snapGet(v.snap, key)
		switch {
		case err != nil || got == nil:
			v.fail(n, i, "history entry of %s is missing", printableHistoryKey(key))
		case !bytes.Equal(got, value):
			v.fail(n, i, "history entry of %s differs from what the transaction wrote", printableHistoryKey(key))
		}
	})
}

func describeTxEntry(v []byte) string {
	if len(v) != 16 {
		return fmt.Sprintf("a malformed entry of %d bytes", len(v))
	}
	return fmt.Sprintf("block %d, transaction %d, %s", binary.BigEndian.Uint64(v), binary.BigEndian.Uint32(v[8:]),
		pb.ValidationCode(binary.BigEndian.Uint32(v[12:])))
}

// printableHistoryKey names the state key of a history entry's key.
func printableHistoryKey(k []byte) string {
	ns, key, ok := splitHistoryKey(k)
	if !ok {
		return "an unparseable key 0x" + hex.EncodeToString(k)
	}
	return printable(ns + "\x00" + key)
}

// splitHistoryKey parses y ns 0x00 be32(len) key be64(block) be32(tx).
func splitHistoryKey(k []byte) (ns, key string, ok bool) {
	if len(k) < 1 || k[0] != prefixHistory {
		return "", "", false
	}
	nsb, rest, found := bytes.Cut(k[1:], []byte{0})
	if !found || len(rest) < 4 {
		return "", "", false
	}
	l := int(binary.BigEndian.Uint32(rest))
	if len(rest) != 4+l+12 {
		return "", "", false
	}
	return string(nsb), string(rest[4 : 4+l]), true
}

// compareKeyspaces counts what the store holds in each keyspace besides the
// state (compareState's) and the metadata (compareMeta's): blocks, the
// block-hash index, the transaction index and the history. Every entry the
// blocks imply was found while they were checked, so a count above theirs
// means entries no block implies — forged index entries that would claim a
// client's transaction ID or point a lookup at another transaction, history
// that would answer GetHistoryForKey with values nobody wrote, blocks beyond
// the chain. Those are then found by checking every stored entry against
// the block it names.
func (v *verifier) compareKeyspaces() error {
	spaces := []struct {
		prefix byte
		want   uint64
		check  func(key, value []byte) (block uint64, ok bool, what string)
	}{
		{prefixBlock, v.r.Blocks, v.storedBlock},
		{prefixHash, v.r.Blocks, v.storedHashEntry},
		{prefixTx, v.wantTxs, v.storedTxEntry},
		{prefixHistory, v.wantHistory, v.storedHistoryEntry},
	}
	for _, sp := range spaces {
		n, err := v.count(sp.prefix)
		if err != nil {
			return err
		}
		if n == sp.want {
			continue
		}
		found := 0
		err = v.each(sp.prefix, func(key, value []byte) {
			if b, ok, what := sp.check(key, value); !ok {
				found++
				v.fail(b, -1, "%s", what)
			}
		})
		if err != nil {
			return err
		}
		if found == 0 {
			v.fail(v.r.Blocks-1, -1, "keyspace %q holds %d entries, the blocks imply %d", sp.prefix, n, sp.want)
		}
	}
	return nil
}

func (v *verifier) count(prefix byte) (uint64, error) {
	var n uint64
	err := v.each(prefix, func([]byte, []byte) { n++ })
	return n, err
}

func (v *verifier) each(prefix byte, f func(key, value []byte)) error {
	it, err := v.snap.NewIter(&pebble.IterOptions{LowerBound: []byte{prefix}, UpperBound: []byte{prefix + 1}})
	if err != nil {
		return fmt.Errorf("ledger: verify: %w", err)
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		val, err := it.ValueAndErr()
		if err != nil {
			return fmt.Errorf("ledger: verify: %w", err)
		}
		f(it.Key(), val)
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("ledger: verify: %w", err)
	}
	return nil
}

// storedBlock: a stored block must be one of the chain's.
func (v *verifier) storedBlock(key, _ []byte) (uint64, bool, string) {
	if len(key) != 9 {
		return v.r.Blocks - 1, false, "malformed block key 0x" + hex.EncodeToString(key)
	}
	n := binary.BigEndian.Uint64(key[1:])
	if n < v.r.Blocks {
		return n, true, ""
	}
	return v.r.Blocks - 1, false, fmt.Sprintf("block %d is stored beyond the chain's last block", n)
}

// storedHashEntry: a hash-index entry must name a block with that hash.
func (v *verifier) storedHashEntry(key, value []byte) (uint64, bool, string) {
	if len(key) == 33 && len(value) == 8 {
		n := binary.BigEndian.Uint64(value)
		if b := v.loadBlock(n); b != nil {
			if h := block.HeaderHash(b.GetHeader()); bytes.Equal(h[:], key[1:]) {
				return n, true, ""
			}
		}
	}
	return v.r.Blocks - 1, false, "block-hash index entry 0x" + hex.EncodeToString(key[1:]) + " names no block with that hash"
}

// storedTxEntry: an index entry must be exactly what the result of the
// transaction it names implies.
func (v *verifier) storedTxEntry(key, value []byte) (uint64, bool, string) {
	id := string(key[1:])
	if len(value) == 16 {
		n, i := binary.BigEndian.Uint64(value), int(binary.BigEndian.Uint32(value[8:]))
		if b := v.loadBlock(n); b != nil && i < len(b.GetResults()) {
			r := b.GetResults()[i]
			if r.GetTxId() == id && bytes.Equal(expectedTxEntry(n, i, r), value) {
				return n, true, ""
			}
			return n, false, fmt.Sprintf("index entry for transaction %s points at block %d, transaction %d, which is not it", printable(id), n, i)
		}
	}
	return v.r.Blocks - 1, false, fmt.Sprintf("index entry for transaction %s (%s) names no committed transaction", printable(id), describeTxEntry(value))
}

// storedHistoryEntry: a history entry must be what the write of the valid
// transaction it names implies.
func (v *verifier) storedHistoryEntry(key, value []byte) (uint64, bool, string) {
	if _, _, ok := splitHistoryKey(key); ok {
		n := binary.BigEndian.Uint64(key[len(key)-12:])
		i := int(binary.BigEndian.Uint32(key[len(key)-4:]))
		if b := v.loadBlock(n); b != nil {
			found := false
			expectedHistory(n, b, func(j int, k, val []byte) {
				if j == i && bytes.Equal(k, key) && bytes.Equal(val, value) {
					found = true
				}
			})
			if found {
				return n, true, ""
			}
			return n, false, fmt.Sprintf("history entry of %s at transaction %d was written by no transaction", printableHistoryKey(key), i)
		}
	}
	return v.r.Blocks - 1, false, fmt.Sprintf("history entry of %s names no block of the chain", printableHistoryKey(key))
}

// loadBlock reads a block of the verified chain, or returns nil.
func (v *verifier) loadBlock(n uint64) *pb.Block {
	if n >= v.r.Blocks {
		return nil
	}
	if b, ok := v.blocks[n]; ok {
		return b
	}
	raw, err := snapGet(v.snap, blockKey(n))
	if err != nil || raw == nil {
		return nil
	}
	b := new(pb.Block)
	if proto.Unmarshal(raw, b) != nil {
		return nil
	}
	if v.blocks == nil || len(v.blocks) >= 256 {
		v.blocks = map[uint64]*pb.Block{}
	}
	v.blocks[n] = b
	return b
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
