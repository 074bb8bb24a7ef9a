// Package ledger is a channel's storage on one node: the hash-chained blocks
// with their transactions and results, the world state, the history of every
// key, and the transaction index, in one pebble database. Each block is
// committed with a single synced batch, so a crash leaves the store at a
// block boundary, never in between.
//
// The store also keeps the LtHash of the world state (see package lthash),
// updated with each block's writes, whose SHA-256 every block header
// carries; Verify recomputes it, and every hash and signature, from scratch.
package ledger

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"google.golang.org/protobuf/proto"

	"github.com/medshare/medshare/internal/kvstore"
	"github.com/medshare/medshare/network/block"
	"github.com/medshare/medshare/network/channel"
	"github.com/medshare/medshare/network/lthash"
	"github.com/medshare/medshare/network/pb"
	"github.com/medshare/medshare/network/state"
)

// Key prefixes of the store's key space.
const (
	prefixBlock   = 'b' // b + be64(number)            → Block (with results)
	prefixHash    = 'h' // h + hash                     → be64(number)
	prefixTx      = 't' // t + txID                     → be64(block) be32(index) be32(code)
	prefixState   = 's' // s + ns 0x00 key              → value
	prefixHistory = 'y' // y + ns 0x00 be32(len) key be64(block) be32(tx) → history entry
	prefixMeta    = 'm' // m + name                     → metadata
)

var (
	metaHeight    = []byte("mheight")
	metaLastHash  = []byte("mlasthash")
	metaLtHash    = []byte("mlthash")
	metaRaftIndex = []byte("mraftindex")
)

// Errors returned by the store.
var (
	// ErrNotFound is returned for blocks and transactions the store does not hold.
	ErrNotFound = errors.New("ledger: not found")
	// ErrOutOfOrder is returned when a block does not extend the chain.
	ErrOutOfOrder = errors.New("ledger: block does not extend the chain")
)

// Store is one channel's ledger on one node. Reads are safe concurrently with
// each other and with Commit; Commit calls must not overlap.
type Store struct {
	db    *pebble.DB
	log   *slog.Logger
	cache *stateCache

	mu        sync.RWMutex
	height    uint64
	lastHash  block.Hash
	lt        lthash.Hash
	raftIndex uint64
	closed    bool
}

// Open opens the store in dir, creating it if needed.
func Open(dir string, log *slog.Logger) (*Store, error) {
	return open(dir, log, false)
}

// OpenReadOnly opens an existing store without writing to it, for
// verification while its node is stopped.
func OpenReadOnly(dir string, log *slog.Logger) (*Store, error) {
	return open(dir, log, true)
}

func open(dir string, log *slog.Logger, readOnly bool) (*Store, error) {
	db, err := kvstore.Open(dir, log, readOnly)
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	cache, err := newStateCache()
	if err != nil {
		db.Close()
		return nil, err
	}
	s := &Store{db: db, log: log, cache: cache}
	if err := s.loadMeta(); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) loadMeta() error {
	// Each record is absent in a new store; present, it must decode.
	for _, m := range []struct {
		key  []byte
		load func(v []byte) bool
	}{
		{metaHeight, func(v []byte) bool { return loadUint64(v, &s.height) }},
		{metaLastHash, func(v []byte) bool { return len(v) == 32 && copy(s.lastHash[:], v) == 32 }},
		{metaLtHash, func(v []byte) bool { return s.lt.UnmarshalBinary(v) == nil }},
		{metaRaftIndex, func(v []byte) bool { return loadUint64(v, &s.raftIndex) }},
	} {
		v, err := s.get(m.key)
		if err != nil {
			return err
		}
		if v != nil && !m.load(v) {
			return fmt.Errorf("ledger: corrupt %s record", m.key[1:])
		}
	}
	return nil
}

func loadUint64(v []byte, dst *uint64) bool {
	if len(v) != 8 {
		return false
	}
	*dst = binary.BigEndian.Uint64(v)
	return true
}

// Close closes the store. Closing a closed store does nothing.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	return s.db.Close()
}

func (s *Store) get(key []byte) ([]byte, error) { return read(s.db, key) }

// read returns a copy of the value of key in r (a database or a snapshot),
// or nil if it is absent.
func read(r pebble.Reader, key []byte) ([]byte, error) {
	v, closer, err := r.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("ledger: get: %w", err)
	}
	out := bytes.Clone(v)
	closer.Close()
	return out, nil
}

// Height is the number of committed blocks (the next block's number).
func (s *Store) Height() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.height
}

// LastHash is the hash of the last committed block.
func (s *Store) LastHash() block.Hash {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.lastHash
}

// StateHash is the LtHash of the committed world state.
func (s *Store) StateHash() lthash.Hash {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.lt
}

// RaftIndex is the index of the last Raft log entry applied to the store.
func (s *Store) RaftIndex() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.raftIndex
}

// Tip returns height, last hash and state hash consistently.
func (s *Store) Tip() (uint64, block.Hash, lthash.Hash) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.height, s.lastHash, s.lt
}

func blockKey(n uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{prefixBlock}, n)
}

func stateKey(ns, key string) []byte {
	b := make([]byte, 0, 2+len(ns)+len(key))
	b = append(b, prefixState)
	b = append(b, ns...)
	b = append(b, 0)
	return append(b, key...)
}

func historyPrefix(ns, key string) []byte {
	b := make([]byte, 0, 6+len(ns)+len(key))
	b = append(b, prefixHistory)
	b = append(b, ns...)
	b = append(b, 0)
	b = binary.BigEndian.AppendUint32(b, uint32(len(key)))
	return append(b, key...)
}

func txKey(txID string) []byte { return append([]byte{prefixTx}, txID...) }

// Block returns the committed block with the given number.
func (s *Store) Block(n uint64) (*pb.Block, error) {
	v, err := s.get(blockKey(n))
	if err != nil {
		return nil, err
	}
	if v == nil {
		return nil, fmt.Errorf("%w: block %d", ErrNotFound, n)
	}
	b := new(pb.Block)
	if err := proto.Unmarshal(v, b); err != nil {
		return nil, fmt.Errorf("ledger: block %d: %w", n, err)
	}
	return b, nil
}

// TxLocation is where a transaction ID was first committed.
type TxLocation struct {
	Block uint64
	Index uint32
	Code  pb.ValidationCode
}

// FindTx returns where a transaction ID was committed.
func (s *Store) FindTx(txID string) (TxLocation, error) {
	v, err := s.get(txKey(txID))
	if err != nil {
		return TxLocation{}, err
	}
	if v == nil {
		return TxLocation{}, fmt.Errorf("%w: transaction %s", ErrNotFound, txID)
	}
	if len(v) != 16 {
		return TxLocation{}, fmt.Errorf("ledger: corrupt index entry for %s", txID)
	}
	return TxLocation{
		Block: binary.BigEndian.Uint64(v),
		Index: binary.BigEndian.Uint32(v[8:]),
		Code:  pb.ValidationCode(binary.BigEndian.Uint32(v[12:])),
	}, nil
}

// HasTx reports whether a transaction ID is committed.
func (s *Store) HasTx(txID string) (bool, error) {
	v, err := s.get(txKey(txID))
	return v != nil, err
}

// Get implements state.Reader on the committed world state.
func (s *Store) Get(ns, key string) ([]byte, error) {
	k := stateKey(ns, key)
	v, ok, gen := s.cache.get(k)
	if ok {
		return v, nil
	}
	v, err := s.get(k)
	if err != nil {
		return nil, err
	}
	s.cache.fill(k, v, gen)
	return v, nil
}

// Range implements state.Reader on the committed world state.
func (s *Store) Range(ns, start, end string) (state.Iterator, error) {
	lower := stateKey(ns, start)
	var upper []byte
	if end == "" {
		upper = kvstore.PrefixUpperBound(stateKey(ns, ""))
	} else {
		upper = stateKey(ns, end)
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return nil, fmt.Errorf("ledger: range: %w", err)
	}
	return &stateIterator{it: it, prefixLen: len(stateKey(ns, ""))}, nil
}

type stateIterator struct {
	it        *pebble.Iterator
	prefixLen int
	started   bool
	closed    bool
	err       error
}

func (i *stateIterator) Next() bool {
	if i.closed {
		return false
	}
	if !i.started {
		i.started = true
		return i.it.First()
	}
	return i.it.Next()
}

func (i *stateIterator) KV() state.KV {
	v, err := i.it.ValueAndErr()
	if err != nil {
		i.err = err
	}
	return state.KV{Key: string(i.it.Key()[i.prefixLen:]), Value: bytes.Clone(v)}
}

func (i *stateIterator) Err() error {
	if i.err != nil {
		return i.err
	}
	if i.closed {
		return nil
	}
	return i.it.Error()
}

func (i *stateIterator) Close() error {
	if i.closed {
		return nil
	}
	i.closed = true
	return i.it.Close()
}

// History implements state.HistoryReader: the committed modifications of a
// key, newest first.
func (s *Store) History(ns, key string) ([]state.KeyModification, error) {
	prefix := historyPrefix(ns, key)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: kvstore.PrefixUpperBound(prefix)})
	if err != nil {
		return nil, fmt.Errorf("ledger: history: %w", err)
	}
	defer it.Close()
	var out []state.KeyModification
	for ok := it.Last(); ok; ok = it.Prev() {
		// The key is prefix + be64(block) + be32(tx); anything longer belongs
		// to another key that merely shares this prefix.
		if len(it.Key()) != len(prefix)+12 {
			continue
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return nil, fmt.Errorf("ledger: history: %w", err)
		}
		m, err := decodeHistory(v)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, it.Error()
}

// history entry: be32(len txID) txID be64(unix nanos) u8(delete) value
func encodeHistory(txID string, ts int64, w *pb.KVWrite) []byte {
	b := make([]byte, 0, 17+len(txID)+len(w.GetValue()))
	b = binary.BigEndian.AppendUint32(b, uint32(len(txID)))
	b = append(b, txID...)
	b = binary.BigEndian.AppendUint64(b, uint64(ts))
	if w.GetDelete() {
		return append(b, 1)
	}
	b = append(b, 0)
	return append(b, w.GetValue()...)
}

func decodeHistory(v []byte) (state.KeyModification, error) {
	if len(v) < 4 {
		return state.KeyModification{}, fmt.Errorf("ledger: corrupt history entry")
	}
	n := int(binary.BigEndian.Uint32(v))
	if len(v) < 4+n+9 {
		return state.KeyModification{}, fmt.Errorf("ledger: corrupt history entry")
	}
	m := state.KeyModification{
		TxID:      string(v[4 : 4+n]),
		Timestamp: time.Unix(0, int64(binary.BigEndian.Uint64(v[4+n:]))).UTC(),
		IsDelete:  v[4+n+8] == 1,
	}
	switch {
	case v[4+n+8] > 1:
		return state.KeyModification{}, fmt.Errorf("ledger: corrupt history entry")
	case m.IsDelete && len(v) != 4+n+9:
		return state.KeyModification{}, fmt.Errorf("ledger: corrupt history entry")
	case !m.IsDelete:
		m.Value = bytes.Clone(v[4+n+9:])
	}
	return m, nil
}

// Indexed reports whether a transaction with this code claims its ID:
// it was signed by a member, so its ID can no longer be reused. Envelopes
// that fail decoding or authentication never claim an ID, so nobody can
// burn another client's transaction ID with a forged copy.
func Indexed(code pb.ValidationCode) bool {
	switch code {
	case pb.ValidationCode_VALID, pb.ValidationCode_CHAINCODE_ERROR, pb.ValidationCode_ACCESS_DENIED,
		pb.ValidationCode_UNKNOWN_CHAINCODE, pb.ValidationCode_BAD_TIMESTAMP:
		return true
	}
	return false
}

// Commit stores a block with its results, the block's net writes to the
// world state, and the state hash after them, in one synced batch. The block
// must extend the chain. raftIndex records which Raft entry carried it, so
// that entries replayed after a restart are not applied twice.
func (s *Store) Commit(b *pb.Block, writes []state.Write, after lthash.Hash, raftIndex uint64) error {
	h := b.GetHeader()
	s.mu.RLock()
	height, last := s.height, s.lastHash
	s.mu.RUnlock()
	if h.GetNumber() != height {
		return fmt.Errorf("%w: block %d at height %d", ErrOutOfOrder, h.GetNumber(), height)
	}
	if height > 0 && !bytes.Equal(h.GetPreviousHash(), last[:]) {
		return fmt.Errorf("%w: block %d does not point at block %d", ErrOutOfOrder, h.GetNumber(), height-1)
	}
	raw, err := proto.MarshalOptions{Deterministic: true}.Marshal(b)
	if err != nil {
		return fmt.Errorf("ledger: marshal block %d: %w", h.GetNumber(), err)
	}
	hash := block.HeaderHash(h)
	batch := s.db.NewBatchWithSize(len(raw) + 4096)
	defer batch.Close()
	num := binary.BigEndian.AppendUint64(nil, h.GetNumber())
	set := func(k, v []byte) {
		if err == nil {
			err = batch.Set(k, v, nil)
		}
	}
	set(blockKey(h.GetNumber()), raw)
	set(append([]byte{prefixHash}, hash[:]...), num)
	seen := make(map[string]bool)
	for i, r := range b.GetResults() {
		if Indexed(r.GetCode()) && !seen[r.GetTxId()] {
			seen[r.GetTxId()] = true
			loc := binary.BigEndian.AppendUint64(nil, h.GetNumber())
			loc = binary.BigEndian.AppendUint32(loc, uint32(i))
			loc = binary.BigEndian.AppendUint32(loc, uint32(r.GetCode()))
			set(txKey(r.GetTxId()), loc)
		}
		if r.GetCode() != pb.ValidationCode_VALID {
			continue
		}
		ts := txTimestamp(b.GetTransactions()[i])
		for _, w := range r.GetWrites() {
			k := historyPrefix(w.GetNamespace(), w.GetKey())
			k = binary.BigEndian.AppendUint64(k, h.GetNumber())
			k = binary.BigEndian.AppendUint32(k, uint32(i))
			set(k, encodeHistory(r.GetTxId(), ts, w))
		}
	}
	for _, w := range writes {
		if err != nil {
			break
		}
		if w.Delete {
			err = batch.Delete(stateKey(w.Namespace, w.Key), nil)
		} else {
			set(stateKey(w.Namespace, w.Key), w.Value)
		}
	}
	set(metaHeight, binary.BigEndian.AppendUint64(nil, h.GetNumber()+1))
	set(metaLastHash, hash[:])
	set(metaLtHash, after.MarshalBinary())
	set(metaRaftIndex, binary.BigEndian.AppendUint64(nil, raftIndex))
	if err != nil {
		return fmt.Errorf("ledger: batch for block %d: %w", h.GetNumber(), err)
	}
	if err := batch.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("ledger: commit block %d: %w", h.GetNumber(), err)
	}
	s.cache.committed(writes)
	s.mu.Lock()
	s.height = h.GetNumber() + 1
	s.lastHash = hash
	s.lt = after
	s.raftIndex = raftIndex
	s.mu.Unlock()
	return nil
}

// SetRaftIndex records that a Raft entry was applied without a block being
// committed (an entry every node rejects), so it is not applied again.
func (s *Store) SetRaftIndex(index uint64) error {
	if err := s.db.Set(metaRaftIndex, binary.BigEndian.AppendUint64(nil, index), pebble.Sync); err != nil {
		return fmt.Errorf("ledger: set raft index: %w", err)
	}
	s.mu.Lock()
	s.raftIndex = index
	s.mu.Unlock()
	return nil
}

// NoteRaftIndex records, without syncing, that a Raft entry was applied
// without a block being committed (it carried a block the store already
// held). Losing the record in a crash only means the entry is looked at
// again.
func (s *Store) NoteRaftIndex(index uint64) error {
	if err := s.db.Set(metaRaftIndex, binary.BigEndian.AppendUint64(nil, index), pebble.NoSync); err != nil {
		return fmt.Errorf("ledger: set raft index: %w", err)
	}
	s.mu.Lock()
	s.raftIndex = index
	s.mu.Unlock()
	return nil
}

func txTimestamp(raw []byte) int64 {
	tx, err := block.ParseTx(raw, 0)
	if err != nil {
		return 0
	}
	return tx.Proposal.GetTimestamp()
}

// CommitGenesis verifies a channel's genesis block and commits it as block 0
// of an empty store, returning the channel configuration.
func (s *Store) CommitGenesis(b *pb.Block) (*channel.Config, error) {
	cfg, err := channel.VerifyGenesis(b)
	if err != nil {
		return nil, err
	}
	var ws []state.Write
	var lt lthash.Hash
	for _, w := range b.GetResults()[0].GetWrites() {
		ws = append(ws, state.Write{Namespace: w.GetNamespace(), Key: w.GetKey(), Value: w.GetValue()})
		lt.Add(lthash.Element(w.GetNamespace(), w.GetKey(), w.GetValue()))
	}
	if err := s.Commit(b, ws, lt, 0); err != nil {
		return nil, err
	}
	return cfg, nil
}

// Config reads the channel configuration from the committed state.
func (s *Store) Config() (*channel.Config, error) {
	raw, err := s.Get(channel.ConfigNamespace, channel.ConfigKey)
	if err != nil {
		return nil, err
	}
	if raw == nil {
		return nil, fmt.Errorf("ledger: the store holds no channel configuration")
	}
	return channel.ConfigFromState(raw)
}
