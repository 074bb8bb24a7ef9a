package consensus

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/hashicorp/raft"

	"github.com/medshare/medshare/internal/kvstore"
)

// LogStore keeps a Raft group's log and its stable state (term, vote) in a
// pebble database. Log appends are synced before they return, as Raft
// requires. It implements raft.LogStore and raft.StableStore.
type LogStore struct {
	db *pebble.DB

	mu          sync.Mutex
	first, last uint64
	closed      bool
}

var (
	_ raft.LogStore    = (*LogStore)(nil)
	_ raft.StableStore = (*LogStore)(nil)
)

const (
	prefixLog    = 'l' // l + be64(index) → encoded raft.Log
	prefixStable = 'k' // k + key        → value
)

// OpenLogStore opens (creating if needed) the log store in dir.
func OpenLogStore(dir string, log *slog.Logger) (*LogStore, error) {
	db, err := kvstore.Open(dir, log, false)
	if err != nil {
		return nil, fmt.Errorf("consensus: log store: %w", err)
	}
	s := &LogStore{db: db}
	if err := s.loadBounds(); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

func logKey(i uint64) []byte { return binary.BigEndian.AppendUint64([]byte{prefixLog}, i) }

func (s *LogStore) loadBounds() error {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixLog}, UpperBound: []byte{prefixLog + 1}})
	if err != nil {
		return fmt.Errorf("consensus: log store: %w", err)
	}
	defer it.Close()
	if it.First() {
		s.first = binary.BigEndian.Uint64(it.Key()[1:])
	}
	if it.Last() {
		s.last = binary.BigEndian.Uint64(it.Key()[1:])
	}
	return it.Error()
}

// Close closes the store. Closing twice does nothing.
func (s *LogStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	return s.db.Close()
}

// FirstIndex implements raft.LogStore.
func (s *LogStore) FirstIndex() (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.first, nil
}

// LastIndex implements raft.LogStore.
func (s *LogStore) LastIndex() (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last, nil
}

// GetLog implements raft.LogStore.
func (s *LogStore) GetLog(index uint64, l *raft.Log) error {
	v, closer, err := s.db.Get(logKey(index))
	if errors.Is(err, pebble.ErrNotFound) {
		return raft.ErrLogNotFound
	}
	if err != nil {
		return fmt.Errorf("consensus: get log %d: %w", index, err)
	}
	defer closer.Close()
	return decodeLog(v, l)
}

// StoreLog implements raft.LogStore.
func (s *LogStore) StoreLog(l *raft.Log) error { return s.StoreLogs([]*raft.Log{l}) }

// StoreLogs implements raft.LogStore: one synced batch for all entries.
func (s *LogStore) StoreLogs(logs []*raft.Log) error {
	if len(logs) == 0 {
		return nil
	}
	b := s.db.NewBatch()
	defer b.Close()
	for _, l := range logs {
		if err := b.Set(logKey(l.Index), encodeLog(l), nil); err != nil {
			return fmt.Errorf("consensus: store log %d: %w", l.Index, err)
		}
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("consensus: store logs: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range logs {
		if s.first == 0 || l.Index < s.first {
			s.first = l.Index
		}
		if l.Index > s.last {
			s.last = l.Index
		}
	}
	return nil
}

// DeleteRange implements raft.LogStore: it deletes entries min..max
// inclusive.
func (s *LogStore) DeleteRange(min, max uint64) error {
	if err := s.db.DeleteRange(logKey(min), logKey(max+1), pebble.Sync); err != nil {
		return fmt.Errorf("consensus: delete logs %d..%d: %w", min, max, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.first, s.last = 0, 0
	return s.loadBounds()
}

// Set implements raft.StableStore.
func (s *LogStore) Set(key, val []byte) error {
	if err := s.db.Set(append([]byte{prefixStable}, key...), val, pebble.Sync); err != nil {
		return fmt.Errorf("consensus: stable set: %w", err)
	}
	return nil
}

// Get implements raft.StableStore; a missing key yields an empty value.
func (s *LogStore) Get(key []byte) ([]byte, error) {
	v, closer, err := s.db.Get(append([]byte{prefixStable}, key...))
	if errors.Is(err, pebble.ErrNotFound) {
		return []byte{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("consensus: stable get: %w", err)
	}
	defer closer.Close()
	return bytes.Clone(v), nil
}

// SetUint64 implements raft.StableStore.
func (s *LogStore) SetUint64(key []byte, val uint64) error {
	return s.Set(key, binary.BigEndian.AppendUint64(nil, val))
}

// GetUint64 implements raft.StableStore; a missing key yields 0.
func (s *LogStore) GetUint64(key []byte) (uint64, error) {
	v, err := s.Get(key)
	if err != nil || len(v) == 0 {
		return 0, err
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("consensus: stable value for %q is not a uint64", key)
	}
	return binary.BigEndian.Uint64(v), nil
}

// Log entry encoding: be64 index, be64 term, u8 type, be64 appended-at
// (Unix nanoseconds), be32 len data, data, be32 len extensions, extensions.
func encodeLog(l *raft.Log) []byte {
	b := make([]byte, 0, 33+len(l.Data)+len(l.Extensions))
	b = binary.BigEndian.AppendUint64(b, l.Index)
	b = binary.BigEndian.AppendUint64(b, l.Term)
	b = append(b, byte(l.Type))
	var at int64
	if !l.AppendedAt.IsZero() {
		at = l.AppendedAt.UnixNano()
	}
	b = binary.BigEndian.AppendUint64(b, uint64(at))
	b = binary.BigEndian.AppendUint32(b, uint32(len(l.Data)))
	b = append(b, l.Data...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(l.Extensions)))
	return append(b, l.Extensions...)
}

func decodeLog(v []byte, l *raft.Log) error {
	bad := fmt.Errorf("consensus: corrupt log entry")
	if len(v) < 29 {
		return bad
	}
	l.Index = binary.BigEndian.Uint64(v)
	l.Term = binary.BigEndian.Uint64(v[8:])
	l.Type = raft.LogType(v[16])
	if at := int64(binary.BigEndian.Uint64(v[17:])); at != 0 {
		l.AppendedAt = time.Unix(0, at)
	} else {
		l.AppendedAt = time.Time{}
	}
	n := int(binary.BigEndian.Uint32(v[25:]))
	rest := v[29:]
	if len(rest) < n+4 {
		return bad
	}
	l.Data = bytes.Clone(rest[:n])
	rest = rest[n:]
	m := int(binary.BigEndian.Uint32(rest))
	rest = rest[4:]
	if len(rest) != m {
		return bad
	}
	l.Extensions = nil
	if m > 0 {
		l.Extensions = bytes.Clone(rest)
	}
	return nil
}
