package gateway

import (
	"crypto/sha256"
	"encoding/hex"
	"sync"
)

// grantKey names one version of one level of a record.
type grantKey struct {
	channel, recordID string
	version           uint64
}

// grantKeys holds the wrapped keys m of the levels this gateway stored or
// has answered, so that a granted access answers m without reading the
// side chain again. An m is answered only when its SHA-256 is the H(m) P-TL's
// decision carries for that version: the cache can miss, never answer keys
// the ledger did not grant. It is bounded in bytes; when full, entries are
// dropped at random.
type grantKeys struct {
	mu       sync.Mutex
	m        map[grantKey][]byte
	bytes    int
	maxBytes int
}

func newGrantKeys(maxBytes int) *grantKeys {
	return &grantKeys{m: make(map[grantKey][]byte), maxBytes: maxBytes}
}

// get returns m of k if it is held and hashes to keysHash (hex).
func (g *grantKeys) get(k grantKey, keysHash string) ([]byte, bool) {
	g.mu.Lock()
	m, ok := g.m[k]
	g.mu.Unlock()
	if !ok {
		return nil, false
	}
	sum := sha256.Sum256(m)
	if hex.EncodeToString(sum[:]) != keysHash {
		return nil, false
	}
	return m, true
}

// put remembers m of k (not copied: callers do not change it afterwards).
func (g *grantKeys) put(k grantKey, m []byte) {
	if len(m) == 0 || len(m) > g.maxBytes {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if old, ok := g.m[k]; ok {
		delete(g.m, k)
		g.bytes -= len(old)
	}
	for k2, v := range g.m {
		if g.bytes+len(m) <= g.maxBytes {
			break
		}
		delete(g.m, k2)
		g.bytes -= len(v)
	}
	g.m[k] = m
	g.bytes += len(m)
}
