package deid

import (
	"crypto/sha256"
	"fmt"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/medshare/medshare/abe/policy"
)

// Cache keeps prepared documents, so that packages of the same records for
// the same kind of purpose and level pay only Apply (about 1 ms for a
// Synthea bundle, against 13 ms for Prepare). Entries are keyed by the
// document's SHA-256, the profile and the level: a changed record is a new
// entry, never a stale one. A prepared Synthea bundle holds a few MB of
// plaintext-derived state in memory: size the cache for the gateway's
// memory and working set. It is safe for concurrent use.
type Cache struct {
	d   *Deidentifier
	lru *lru.Cache[cacheKey, *Document]
}

type cacheKey struct {
	doc     [32]byte
	profile string
	purpose string
	level   policy.Level
}

// NewCache returns a cache of up to size prepared documents.
func NewCache(d *Deidentifier, size int) (*Cache, error) {
	if d == nil || size <= 0 {
		return nil, fmt.Errorf("deid: cache needs a de-identifier and a positive size")
	}
	c, err := lru.New[cacheKey, *Document](size)
	if err != nil {
		return nil, fmt.Errorf("deid: cache: %w", err)
	}
	return &Cache{d: d, lru: c}, nil
}

// Prepare returns the prepared document, from the cache or from
// Deidentifier.Prepare.
func (c *Cache) Prepare(doc []byte, purpose string, top policy.Level) (*Document, error) {
	name, err := c.d.rules.profileFor(purpose)
	if err != nil {
		return nil, err
	}
	// The purpose code is part of the key: it is written into the labels.
	k := cacheKey{doc: sha256.Sum256(doc), profile: name, purpose: purpose, level: top}
	if p, ok := c.lru.Get(k); ok {
		return p, nil
	}
	p, err := c.d.Prepare(doc, purpose, top)
	if err != nil {
		return nil, err
	}
	c.lru.Add(k, p)
	return p, nil
}

// Len is the number of cached documents.
func (c *Cache) Len() int { return c.lru.Len() }
