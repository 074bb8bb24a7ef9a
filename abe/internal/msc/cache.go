package msc

import (
	"container/list"
	"sync"

	bls "github.com/cloudflare/circl/ecc/bls12381"

	"github.com/medshare/medshare/abe/tag"
)

// hashDST is the domain-separation tag of the attribute hash H: {0,1}* → G1
// (hash-to-curve, RFC 9380, BLS12381G1_XMD:SHA-256_SSWU_RO_).
var hashDST = []byte("MEDSHARE-ABE-MSC-V01-CS01-with-BLS12381G1_XMD:SHA-256_SSWU_RO_")

// hashTag computes H(t) ∈ G1.
func hashTag(t tag.Tag) bls.G1 {
	var p bls.G1
	p.Hash(t[:], hashDST)
	return p
}

// DefaultCacheSize is the default number of hashed attribute points kept.
const DefaultCacheSize = 4096

// pointCache is a bounded LRU cache of H(tag). It is safe for concurrent use.
// Hashing to G1 costs about as much as a G1 scalar multiplication, and the
// attribute universe is small, so KeyGen and Encrypt hit the cache almost
// always.
type pointCache struct {
	mu  sync.Mutex
	max int
	m   map[tag.Tag]*list.Element
	lru list.List // of *cacheEntry, most recent first
}

type cacheEntry struct {
	t tag.Tag
	p bls.G1
}

func newPointCache(max int) *pointCache {
	if max < 0 {
		max = 0
	}
	return &pointCache{max: max, m: make(map[tag.Tag]*list.Element)}
}

// get returns H(t), from the cache when possible.
func (c *pointCache) get(t tag.Tag) bls.G1 {
	if c == nil || c.max == 0 {
		return hashTag(t)
	}
	c.mu.Lock()
	if e, ok := c.m[t]; ok {
		c.lru.MoveToFront(e)
		p := e.Value.(*cacheEntry).p
		c.mu.Unlock()
		return p
	}
	c.mu.Unlock()

	p := hashTag(t) // outside the lock; a concurrent miss may hash twice

	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[t]; !ok {
		c.m[t] = c.lru.PushFront(&cacheEntry{t, p})
		for c.lru.Len() > c.max {
			old := c.lru.Back()
			c.lru.Remove(old)
			delete(c.m, old.Value.(*cacheEntry).t)
		}
	}
	return p
}

// len returns the number of cached points.
func (c *pointCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}
