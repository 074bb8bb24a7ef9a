package state

import (
	"bytes"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// MemStore is an in-memory world state with history: the committed state of
// the in-memory chaincode stub that unit tests use. It is safe for concurrent
// use.
type MemStore struct {
	mu      sync.RWMutex
	data    map[string]map[string][]byte
	history map[string][]KeyModification
}

// NewMemStore returns an empty store.
func NewMemStore() *MemStore {
	return &MemStore{data: make(map[string]map[string][]byte), history: make(map[string][]KeyModification)}
}

// Get implements Reader.
func (m *MemStore) Get(ns, key string) ([]byte, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return bytes.Clone(m.data[ns][key]), nil
}

// Range implements Reader. It copies the matching pairs, so the iterator is
// not affected by later commits.
func (m *MemStore) Range(ns, start, end string) (Iterator, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var kvs []KV
	for k, v := range m.data[ns] {
		if k >= start && (end == "" || k < end) {
			kvs = append(kvs, KV{Key: k, Value: bytes.Clone(v)})
		}
	}
	sort.Slice(kvs, func(i, j int) bool { return kvs[i].Key < kvs[j].Key })
	return NewSliceIterator(kvs), nil
}

// History implements HistoryReader.
func (m *MemStore) History(ns, key string) ([]KeyModification, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	h := m.history[ns+"\x00"+key]
	out := make([]KeyModification, len(h))
	for i := range h {
		out[len(h)-1-i] = h[i]
	}
	return out, nil
}

// Commit applies a transaction's writes and records them in the history.
func (m *MemStore) Commit(txID string, ts time.Time, ws []Write) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, w := range ws {
		space := m.data[w.Namespace]
		if space == nil {
			space = make(map[string][]byte)
			m.data[w.Namespace] = space
		}
		if w.Delete {
			delete(space, w.Key)
		} else {
			space[w.Key] = bytes.Clone(w.Value)
		}
		hk := w.Namespace + "\x00" + w.Key
		m.history[hk] = append(m.history[hk], KeyModification{TxID: txID, Value: bytes.Clone(w.Value), Timestamp: ts, IsDelete: w.Delete})
	}
}

// Keys returns the sorted keys of a namespace that start with prefix.
func (m *MemStore) Keys(ns, prefix string) []string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var keys []string
	for k := range m.data[ns] {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// Set writes a value directly, outside any transaction; tests use it to
// corrupt or seed state.
func (m *MemStore) Set(ns, key string, value []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	space := m.data[ns]
	if space == nil {
		space = make(map[string][]byte)
		m.data[ns] = space
	}
	space[key] = bytes.Clone(value)
}
