// Package indexcache keeps a gateway's copy of the index entries on main,
// kept fresh by the index chaincode's Record events, so that reading a
// record's metadata — the commonest request a gateway answers — costs no
// evaluation on the node.
//
// # Freshness
//
// An entry read from the cache is the entry as of the last main block whose
// events the cache has applied; the node sends a block's events once the
// block is committed and readable, so the cache trails the gateway's node by
// the time an event takes to travel (milliseconds). Entries are filled on a
// miss from the node (Get's load) and replaced by every Record event. A fill
// never overwrites what an event wrote after the fill's read began (see
// Cache.Get), so an older read cannot hide a newer event. A record that is
// not indexed is not cached: it is looked up on the node each time.
//
// The cache serves only while it follows the event stream: until the stream
// is up, after it fails and while it reconnects, Get loads every entry from
// the node and the cache is emptied, so no entry is served that missed an
// event. A gateway that writes an entry itself (an upload, an update)
// calls Invalidate after the commit, so its next read sees its own write
// even before the event arrives.
package indexcache

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/medshare/medshare/chaincode/index"
	"github.com/medshare/medshare/network/client"
)

// Source is main's index chaincode as the cache follows it (a gateway's
// node).
type Source interface {
	// Height returns how many blocks main has on the node.
	Height(ctx context.Context) (uint64, error)
	// Events delivers the index chaincode's events of valid transactions
	// from block start on, in commit order, until ctx ends or the stream
	// fails; then the channel closes.
	Events(ctx context.Context, start uint64) (<-chan *client.ChaincodeEvent, error)
}

// Config configures a Cache.
type Config struct {
	// MaxEntries bounds the entries held; when full, one entry is dropped
	// for each one added.
	MaxEntries int
	// RetryInterval is the wait before following the stream again after it
	// failed.
	RetryInterval time.Duration
	Logger        *slog.Logger
}

// DefaultConfig holds up to 100,000 entries (a few tens of MB) and
// reconnects after a second.
func DefaultConfig() Config {
	return Config{MaxEntries: 100_000, RetryInterval: time.Second, Logger: slog.New(slog.DiscardHandler)}
}

// ValidateConfig checks a configuration.
func ValidateConfig(c Config) error {
	if c.MaxEntries < 1 {
		return errors.New("indexcache: MaxEntries must be at least 1")
	}
	if c.RetryInterval <= 0 {
		return errors.New("indexcache: RetryInterval must be positive")
	}
	if c.Logger == nil {
		return errors.New("indexcache: Logger is required")
	}
	return nil
}

type slot struct {
	e   *index.RecordEntry
	seq uint64 // the mutation that stored it
}

// Cache is a gateway's copy of main's index entries. It is safe for
// concurrent use; Run follows the events.
type Cache struct {
	src Source
	cfg Config

	mu   sync.Mutex
	live bool // following the stream: entries may be served
	// seq counts mutations (fills, events, drops); drop is the seq of the
	// last removal of any entry (invalidation, eviction, reset).
	seq, drop uint64
	m         map[string]slot

	hits, misses, events uint64
}

// New returns a cache over src; it serves nothing until Run follows the
// stream.
func New(src Source, cfg Config) (*Cache, error) {
	if src == nil {
		return nil, errors.New("indexcache: a Source is required")
	}
	if err := ValidateConfig(cfg); err != nil {
		return nil, err
	}
	return &Cache{src: src, cfg: cfg, m: make(map[string]slot)}, nil
}

// Get returns recordID's entry: from the cache while it follows the
// stream, else from load (the node), filling the cache. load's errors are
// returned as they are and nothing is cached for them.
//
// A fill is kept only if no entry was removed and no event or other fill
// stored recordID since Get began: an event applied after the load began
// may be newer than what load read, and wins.
func (c *Cache) Get(ctx context.Context, recordID string, load func(context.Context) (*index.RecordEntry, error)) (*index.RecordEntry, error) {
	c.mu.Lock()
	if c.live {
		if s, ok := c.m[recordID]; ok {
			c.hits++
			c.mu.Unlock()
			return clone(s.e), nil
		}
	}
	c.misses++
	start, live := c.seq, c.live
	c.mu.Unlock()

	e, err := load(ctx)
	if err != nil || !live || e == nil || e.RecordID != recordID {
		return e, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[recordID]; c.live && c.drop <= start && !ok {
		c.store(recordID, clone(e))
	}
	return e, nil
}

// Invalidate drops recordID's entry: the gateway wrote it and its next read
// must see the write.
func (c *Cache) Invalidate(recordID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, recordID)
	c.seq++
	c.drop = c.seq
}

// Stats are the cache's counters.
type Stats struct {
	Live                 bool
	Entries              int
	Hits, Misses, Events uint64
}

// Stats returns the cache's counters.
func (c *Cache) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return Stats{Live: c.live, Entries: len(c.m), Hits: c.hits, Misses: c.misses, Events: c.events}
}

// store adds an entry under c.mu, dropping another when full.
func (c *Cache) store(id string, e *index.RecordEntry) {
	if _, ok := c.m[id]; !ok && len(c.m) >= c.cfg.MaxEntries {
		for k := range c.m {
			delete(c.m, k)
			break
		}
		c.seq++
		c.drop = c.seq
	}
	c.seq++
	c.m[id] = slot{e: e, seq: c.seq}
}

// reset empties the cache and sets whether it serves.
func (c *Cache) reset(live bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.m)
	c.seq++
	c.drop = c.seq
	c.live = live
}

// Run follows main's index events until ctx ends, reconnecting after
// failures; it returns nil when ctx ends.
func (c *Cache) Run(ctx context.Context) error {
	defer c.reset(false)
	for {
		served, err := c.follow(ctx)
		c.reset(false)
		if ctx.Err() != nil {
			return nil
		}
		if served {
			// Once per outage, not once per retry.
			c.cfg.Logger.Warn("index cache: the event stream ended; reading from the node until it is back", "err", err)
		}
		t := time.NewTimer(c.cfg.RetryInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// follow subscribes from the node's current height and applies events
// until the stream ends. The cache serves from the moment the stream is
// open: every block from that height on reaches it, and every fill reads
// state at or after the block before it.
// It reports whether the cache served (the stream opened).
func (c *Cache) follow(ctx context.Context) (bool, error) {
	h, err := c.src.Height(ctx)
	if err != nil {
		return false, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	evs, err := c.src.Events(ctx, h)
	if err != nil {
		return false, err
	}
	c.reset(true)
	for {
		var ev *client.ChaincodeEvent
		var ok bool
		select {
		case <-ctx.Done():
			return true, ctx.Err()
		case ev, ok = <-evs:
		}
		if !ok {
			return true, errors.New("indexcache: event stream closed")
		}
		if ev.EventName != index.EventRecord {
			continue
		}
		var e index.RecordEntry
		if err := json.Unmarshal(ev.Payload, &e); err != nil || e.RecordID == "" {
			// An entry the cache cannot read must not stay stale: stop
			// serving and start again.
			return true, errors.New("indexcache: unreadable record event in transaction " + ev.TransactionID)
		}
		c.mu.Lock()
		c.events++
		c.store(e.RecordID, &e)
		c.mu.Unlock()
	}
}

// clone copies an entry so that callers cannot change the cached one.
func clone(e *index.RecordEntry) *index.RecordEntry {
	if e == nil {
		return nil
	}
	cp := *e
	cp.Levels = append([]index.LevelRef(nil), e.Levels...)
	return &cp
}
