package ledger

import (
	"bytes"
	"fmt"
	"sync"

	"github.com/hashicorp/golang-lru/v2/simplelru"

	"github.com/medshare/medshare/network/state"
)

// Bounds of the world-state cache.
const (
	// stateCacheEntries is how many keys the cache remembers.
	stateCacheEntries = 1 << 16
	// stateCacheMaxValue is the largest value the cache holds; larger
	// values are read from pebble every time.
	stateCacheMaxValue = 16 << 10
)

// stateCache remembers committed world-state values, present or absent, by
// their store key. Chaincode reads the same keys on every transaction (its
// configuration, a record, its policy, the lifecycle's definition), and
// every node executes every transaction, so these reads dominate a busy
// channel.
//
// The cache must never hold a value older than the committed state. Commit
// updates the entries of every key a block writes, and a read-through fill
// only lands if no commit or restore happened since its pebble read began:
// each such change bumps the generation, and fill compares it. One mutex
// guards the generation and the LRU together.
type stateCache struct {
	mu  sync.Mutex
	gen uint64
	lru *simplelru.LRU[string, cachedValue]
}

// cachedValue is a committed value; nil means the key is absent.
type cachedValue struct{ v []byte }

func newStateCache() (*stateCache, error) {
	l, err := simplelru.NewLRU[string, cachedValue](stateCacheEntries, nil)
	if err != nil {
		return nil, fmt.Errorf("ledger: state cache: %w", err)
	}
	return &stateCache{lru: l}, nil
}

// get returns a copy of the cached value of key, whether the key is cached,
// and the generation to pass to fill on a miss.
func (c *stateCache) get(key []byte) (v []byte, ok bool, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cv, ok := c.lru.Get(string(key))
	if !ok {
		return nil, false, c.gen
	}
	return bytes.Clone(cv.v), true, c.gen
}

// fill caches a value read from pebble, unless the state changed since gen.
func (c *stateCache) fill(key, v []byte, gen uint64) {
	if len(v) > stateCacheMaxValue {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	c.lru.Add(string(key), cachedValue{v: bytes.Clone(v)})
}

// committed records a block's writes, once they are durable.
func (c *stateCache) committed(writes []state.Write) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for _, w := range writes {
		k := string(stateKey(w.Namespace, w.Key))
		switch {
		case w.Delete:
			c.lru.Add(k, cachedValue{})
		case len(w.Value) > stateCacheMaxValue:
			c.lru.Remove(k)
		default:
			c.lru.Add(k, cachedValue{v: bytes.Clone(w.Value)})
		}
	}
}

// reset forgets everything, after the state was replaced wholesale.
func (c *stateCache) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.lru.Purge()
}
