// Package state defines the world state that chaincode reads and writes: a
// sorted key-value space per namespace (one namespace per chaincode), the
// history of each key, and the overlays that buffer a transaction's or a
// block's writes until they commit.
//
// The ledger's pebble store and the in-memory store used by chaincode unit
// tests both implement Reader and HistoryReader, so chaincode runs against the
// same stub code in tests and in the network.
package state

import (
	"errors"
	"time"
)

// KV is a key and its value.
type KV struct {
	Key   string
	Value []byte
}

// Write is one change to the world state: a new value for a key, or its
// deletion.
type Write struct {
	Namespace string
	Key       string
	Value     []byte
	Delete    bool
}

// KeyModification is one committed change to a key, as history returns it.
type KeyModification struct {
	TxID      string
	Value     []byte
	Timestamp time.Time
	IsDelete  bool
}

// Iterator walks key-value pairs in ascending key order. Next must be called
// before the first KV; Close releases resources and is safe to call twice.
type Iterator interface {
	Next() bool
	KV() KV
	Err() error
	Close() error
}

// Reader reads the world state. Get returns (nil, nil) for a missing key.
// Range returns the keys k with start <= k < end, in ascending order; an empty
// end means no upper bound.
type Reader interface {
	Get(namespace, key string) ([]byte, error)
	Range(namespace, start, end string) (Iterator, error)
}

// HistoryReader returns the committed modifications of a key, newest first.
type HistoryReader interface {
	History(namespace, key string) ([]KeyModification, error)
}

// ErrClosed is returned by readers used after they were closed.
var ErrClosed = errors.New("state: closed")

// sliceIterator iterates over an in-memory slice of KVs.
type sliceIterator struct {
	kvs []KV
	i   int
}

// NewSliceIterator returns an Iterator over kvs, which must be sorted.
func NewSliceIterator(kvs []KV) Iterator { return &sliceIterator{kvs: kvs, i: -1} }

func (it *sliceIterator) Next() bool {
	if it.i+1 >= len(it.kvs) {
		it.i = len(it.kvs)
		return false
	}
	it.i++
	return true
}
func (it *sliceIterator) KV() KV       { return it.kvs[it.i] }
func (it *sliceIterator) Err() error   { return nil }
func (it *sliceIterator) Close() error { return nil }
