// Package kvstore opens the pebble databases medshare keeps on disk (each
// channel's ledger and its Raft log) with one set of options, and routes
// pebble's own log lines to slog.
package kvstore

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/sstable"
)

// Tuning shared by every store. Chaincode reads many keys that do not exist
// yet (a proof's nonce, a first rate count), so every level carries a bloom
// filter that answers "absent" without reading the table's index. Pebble
// charges its memtables to the block cache (each memtable reserves its size
// there until flushed), so the cache must be several memtables larger than
// they are or it caches nothing: with pebble's defaults (8 MiB cache, 4 MiB
// memtables) almost every read decoded index blocks from disk. The cache is
// allocated as it fills, so idle channels cost little. Tables are not
// compressed: much of what a ledger stores is signatures, keys and
// ciphertext, which do not compress, and snappy's encoding during
// compactions and decoding on reads cost about 5% of a busy node's CPU
// (docs/ledger.md, "Performance").
const (
	// CacheSize is each store's block cache, in bytes, memtables included.
	CacheSize = 128 << 20
	// MemTableSize is each store's memtable, in bytes.
	MemTableSize    = 16 << 20
	bloomBitsPerKey = 10
	// L0 and base-level shape (pebble's defaults: 4, 12, 64 MiB).
	l0CompactionThreshold = 8
	l0StopWritesThreshold = 32
	lBaseMaxBytes         = 256 << 20
)

// Open opens (creating if needed) the pebble database in dir. With readOnly,
// the database must exist and cannot be written.
func Open(dir string, log *slog.Logger, readOnly bool) (*pebble.DB, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	opts := &pebble.Options{
		Logger:           slogLogger{log},
		ReadOnly:         readOnly,
		ErrorIfNotExists: readOnly,
		CacheSize:        CacheSize,
		MemTableSize:     MemTableSize,
		// A ledger writes blocks, history and state in every batch, so
		// each flushed table spans the whole key space and every L0
		// compaction rewrites the overlapping base level: compacting twice
		// the default number of L0 tables at a time, into a larger base
		// level, halves how often that happens (measured: +10 % Tx_acc/s
		// on 40,000-transaction runs, +20 % Tx_sto/s).
		L0CompactionThreshold: l0CompactionThreshold,
		L0StopWritesThreshold: l0StopWritesThreshold,
		LBaseMaxBytes:         lBaseMaxBytes,
	}
	for i := range opts.Levels {
		opts.Levels[i].FilterPolicy = bloom.FilterPolicy(bloomBitsPerKey)
		opts.Levels[i].Compression = func() *sstable.CompressionProfile { return sstable.NoCompression }
	}
	db, err := pebble.Open(dir, opts)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", dir, err)
	}
	return db, nil
}

// PrefixUpperBound returns the smallest key greater than every key that
// starts with prefix, for iterator bounds; nil if there is none.
func PrefixUpperBound(prefix []byte) []byte {
	end := append([]byte(nil), prefix...)
	for i := len(end) - 1; i >= 0; i-- {
		end[i]++
		if end[i] != 0 {
			return end[:i+1]
		}
	}
	return nil
}

// slogLogger adapts slog to pebble's Logger: pebble's informational lines
// are debug output here.
type slogLogger struct{ log *slog.Logger }

func (l slogLogger) Infof(format string, args ...any) {
	if l.log.Enabled(context.Background(), slog.LevelDebug) {
		l.log.Debug(fmt.Sprintf(format, args...), "component", "pebble")
	}
}

func (l slogLogger) Errorf(format string, args ...any) {
	l.log.Error(fmt.Sprintf(format, args...), "component", "pebble")
}

// Fatalf logs and exits: pebble calls it on unrecoverable corruption and
// does not expect it to return.
func (l slogLogger) Fatalf(format string, args ...any) {
	l.log.Error(fmt.Sprintf(format, args...), "component", "pebble", "fatal", true)
	os.Exit(70)
}
