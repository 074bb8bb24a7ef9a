// Package jsoncache remembers JSON decodings by the SHA-256 of the exact
// bytes decoded, so that a value the chaincodes read on every transaction (a
// record, a policy) is decoded once per chaincode instance.
//
// The cache is safe for deterministic execution: a decoding is a pure
// function of the bytes, so a hit and a miss give the same value. Values are
// shared between transactions: callers must treat them as read-only (copy
// before changing a field).
package jsoncache

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"

	lru "github.com/hashicorp/golang-lru/v2"
)

// Cache holds up to its size decoded values of type T. It is safe for
// concurrent use.
type Cache[T any] struct {
	lru *lru.Cache[[32]byte, *T]
}

// New returns a cache of size values; size must be positive.
func New[T any](size int) (*Cache[T], error) {
	c, err := lru.New[[32]byte, *T](size)
	if err != nil {
		return nil, fmt.Errorf("jsoncache: %w", err)
	}
	return &Cache[T]{lru: c}, nil
}

// Decode returns the JSON decoding of b, shared and read-only.
func (c *Cache[T]) Decode(b []byte) (*T, error) {
	key := sha256.Sum256(b)
	if v, ok := c.lru.Get(key); ok {
		return v, nil
	}
	v := new(T)
	if err := json.Unmarshal(b, v); err != nil {
		return nil, err
	}
	c.lru.Add(key, v)
	return v, nil
}
