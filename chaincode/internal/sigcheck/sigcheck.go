// Package sigcheck verifies ECDSA P-256 signatures for the chaincodes, with a
// bounded cache of successful verifications.
//
// The cache is safe for deterministic execution: a verification is a pure
// function of (public key, digest, signature), so remembering that exact
// triple verified cannot change any outcome; it only saves the second and
// later verifications of the same signature (an attribute authority's
// credential presented with every access, a block re-verified by an audit
// walk). Only successes are cached, keyed by SHA-256 of the exact bytes.
// Each chaincode instance owns its verifier; nothing is shared between
// instances or kept in package variables.
package sigcheck

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"fmt"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/medshare/medshare/network/identity"
)

// DefaultCacheSize is the number of verified triples a Verifier remembers.
const DefaultCacheSize = 1 << 16

// Verifier checks low-S ASN.1 ECDSA P-256 signatures over SHA-256 digests.
// It is safe for concurrent use.
type Verifier struct {
	cache *lru.Cache[[32]byte, struct{}]
}

// New returns a verifier that remembers up to size successful verifications.
func New(size int) *Verifier {
	c, err := lru.New[[32]byte, struct{}](size)
	if err != nil {
		c = nil // size <= 0: no cache
	}
	return &Verifier{cache: c}
}

// Verify checks sig over digest under pub. It accepts only low-S signatures
// (identity.VerifyDigest), so each message has one valid signature encoding.
func (v *Verifier) Verify(pub *ecdsa.PublicKey, digest [32]byte, sig []byte) error {
	if pub == nil {
		return fmt.Errorf("%w: no public key", identity.ErrBadSignature)
	}
	point, err := pub.Bytes()
	if err != nil {
		return fmt.Errorf("%w: %w", identity.ErrBadSignature, err)
	}
	h := sha256.New()
	h.Write(point)
	h.Write(digest[:])
	h.Write(sig)
	var key [32]byte
	h.Sum(key[:0])
	if v.cache != nil {
		if _, ok := v.cache.Get(key); ok {
			return nil
		}
	}
	if err := identity.VerifyDigest(pub, digest[:], sig); err != nil {
		return err
	}
	if v.cache != nil {
		v.cache.Add(key, struct{}{})
	}
	return nil
}
