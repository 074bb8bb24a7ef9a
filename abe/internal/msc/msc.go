// Package msc implements medshare's hierarchical CP-ABE as a
// key-encapsulation mechanism: one BSW07 encapsulation (Bethencourt, Sahai,
// Waters, IEEE S&P 2007) per sensitivity level, each under that level's
// full predicate and with its own secret, in one header, on the asymmetric
// BLS12-381 pairing e: G1 × G2 → GT.
//
// Group placement. The attribute hash H maps into G1, and so do every key
// element that involves it; everything the ciphertext raises g2 or h to lives
// in G2:
//
//	public key   h = g2^β ∈ G2,  Y = e(g1,g2)^α ∈ GT
//	master key   α, β ∈ Zr
//	user key     D   = g1^((α+r)/β)        ∈ G1
//	             D_j = g1^r · H(j)^(r_j)   ∈ G1   for each attribute tag j
//	             D'_j = g2^(r_j)           ∈ G2
//	ciphertext   for each level ℓ with conditions of its own:
//	             C_ℓ = h^(s_ℓ)             ∈ G2
//	             C_y = g2^(q_y(0))         ∈ G2   for each leaf y of P_ℓ
//	             C'_y = H(att(y))^(q_y(0)) ∈ G1
//	level key    K_ℓ = Y^(s_ℓ) = e(g1,g2)^(α s_ℓ)
//
// The leaf cancellation e(D_j, C_y) / e(C'_y, D'_j) = e(g1,g2)^(r q_y(0))
// works because H(·) appears in G1 on both sides, paired with g2 powers.
// With this placement every G2 exponentiation has a fixed base (g2 or h),
// the variable-base ones (on hashed points) are in the cheaper G1, and
// hashing to G1 is about five times cheaper than to G2.
//
// Levels. With extra conditions L, M and H, the full predicates are
// P_low = L, P_medium = L ∧ M and P_high = L ∧ M ∧ H. Each level with
// conditions of its own gets an independent secret s_ℓ, shared over the
// tree of P_ℓ as in BSW07 (a degree k−1 polynomial per k-of-n gate); a level
// without conditions of its own has the predicate, encapsulation and key of
// the level below (the caller separates the level keys by key derivation).
// Nothing but the public key and the attribute points H(·) is shared
// between the levels, so each level is a plain BSW07 ciphertext under its
// full predicate, and what a key learns about one level's secret says
// nothing about another's. (The paper's construction nested the levels —
// s_low and s_M were shares of s_medium — and published enough for two keys
// to combine K_low with e(g1,g2)^(α·s_M) into K_medium; see the attack tests
// and docs/abe.md.)
//
// Decrypting level ℓ evaluates P_ℓ and computes
//
//	K_ℓ = e(D, C_ℓ) · Π_y e(D_j^Δy, C_y)^-1 · e(C'_y^Δy, D'_j)
//
// as one product of pairings (circl's ProdPairFrac: one final
// exponentiation), where Δy is the product of Lagrange coefficients from y
// up to the root of P_ℓ. The coefficients are pushed into G1 elements; for
// AND/OR trees they are small integers and are applied with a short
// variable-time multiplication (they are public).
//
// On several cores, independent group operations (KeyGen's per-attribute
// elements, Encrypt's per-leaf elements, point decoding) run in parallel, and
// a large pairing product is split into one sub-product per core, each with
// its own final exponentiation, multiplied in GT. Randomness is always read
// sequentially, so results do not depend on scheduling.
package msc

import (
	"errors"
	"fmt"
	"io"
	"slices"

	bls "github.com/cloudflare/circl/ecc/bls12381"

	"github.com/medshare/medshare/abe/policy"
	"github.com/medshare/medshare/abe/tag"
)

// MaxKeyAttrs is the largest number of attributes in a user key.
const MaxKeyAttrs = 256

var (
	// ErrNotSatisfied: the key's attributes do not satisfy the level.
	ErrNotSatisfied = errors.New("msc: attributes do not satisfy the level")
	// ErrNotHidden: the record policy still has attribute names as leaves.
	ErrNotHidden = errors.New("msc: policy leaves must be tags (hide the policy first)")
	// ErrInvalidKey: a key is missing, empty, oversized or has repeated tags.
	ErrInvalidKey = errors.New("msc: invalid key")
)

// PublicKey is the system public key (h, Y).
type PublicKey struct {
	h bls.G2
	y bls.Gt
}

// MasterKey is the authority's master key (α, β).
type MasterKey struct {
	alpha, beta bls.Scalar
}

// UserKey is a user's decryption key for a set of attribute tags.
type UserKey struct {
	d     bls.G1
	attrs []keyAttr // sorted by tag, distinct
}

type keyAttr struct {
	t   tag.Tag
	dj  bls.G1 // g1^r · H(j)^(r_j)
	dj2 bls.G2 // g2^(r_j)
}

// Tags returns the key's attribute tags in ascending order.
func (k *UserKey) Tags() []tag.Tag {
	out := make([]tag.Tag, len(k.attrs))
	for i, a := range k.attrs {
		out[i] = a.t
	}
	return out
}

func (k *UserKey) find(t tag.Tag) int {
	i, ok := slices.BinarySearchFunc(k.attrs, t, func(a keyAttr, t tag.Tag) int { return a.t.Compare(t) })
	if !ok {
		return -1
	}
	return i
}

// Header is the ABE part of a ciphertext: the hidden record policy and, for
// each level with conditions of its own, an independent encapsulation under
// the level's full predicate: C_ℓ and one (C_y, C'_y) pair per leaf of the
// predicate's tree, in preorder.
type Header struct {
	policy *policy.Record
	leaves []leafCT                   // every level's leaves, low's first
	lvl    [policy.NumLevels]*levelCT // nil for a level without conditions of its own
}

// levelCT is the encapsulation of one level.
type levelCT struct {
	tree   *policy.Tree // the level's full predicate, policy.Record.Level
	c      bls.G2       // h^(s_ℓ)
	offset int          // index of the tree's first leaf in Header.leaves
}

type leafCT struct {
	t  tag.Tag
	c  bls.G2 // g2^(q_y(0))
	cp bls.G1 // H(t)^(q_y(0))
}

// newHeader lays out a header for rp: the tree, leaf tags and leaf offset of
// every level with conditions of its own; the group elements are left zero.
func newHeader(rp *policy.Record) (*Header, error) {
	hdr := &Header{policy: rp}
	for _, l := range policy.Levels {
		if rp.Extra(l) == nil {
			continue
		}
		lc := &levelCT{tree: rp.Level(l), offset: len(hdr.leaves)}
		if err := collectTags(lc.tree.Root(), &hdr.leaves); err != nil {
			return nil, err
		}
		hdr.lvl[l] = lc
	}
	return hdr, nil
}

// owner returns the level whose encapsulation serves level l: the nearest
// level at or below l with conditions of its own (same predicate).
func (h *Header) owner(l policy.Level) policy.Level {
	for l > policy.Low && h.lvl[l] == nil {
		l--
	}
	return l
}

// Policy returns the hidden record policy the header was encrypted under.
func (h *Header) Policy() *policy.Record { return h.policy }

// Scheme holds the attribute-point cache; it is safe for concurrent use.
type Scheme struct {
	cache *pointCache
}

// New returns a scheme whose hash-to-curve cache keeps up to cacheSize
// points (0 disables caching).
func New(cacheSize int) *Scheme { return &Scheme{cache: newPointCache(cacheSize)} }

func randomNonZero(rand io.Reader, s *bls.Scalar) error {
	for range 8 {
		if err := s.Random(rand); err != nil {
			return fmt.Errorf("msc: reading randomness: %w", err)
		}
		if s.IsZero() == 0 {
			return nil
		}
	}
	return errors.New("msc: random source keeps returning zero")
}

// Setup generates a public key and a master key.
func (s *Scheme) Setup(rand io.Reader) (*PublicKey, *MasterKey, error) {
	if rand == nil {
		return nil, nil, errors.New("msc: nil random source")
	}
	msk := &MasterKey{}
	if err := randomNonZero(rand, &msk.alpha); err != nil {
		return nil, nil, err
	}
	if err := randomNonZero(rand, &msk.beta); err != nil {
		return nil, nil, err
	}
	return msk.publicKey(), msk, nil
}

func (msk *MasterKey) publicKey() *PublicKey {
	pk := &PublicKey{}
	pk.h.ScalarMult(&msk.beta, bls.G2Generator())
	gt := bls.Pair(bls.G1Generator(), bls.G2Generator())
	pk.y.Exp(gt, &msk.alpha)
	return pk
}

// PublicKey derives the public key from the master key.
func (msk *MasterKey) PublicKey() *PublicKey { return msk.publicKey() }

// KeyGen issues a key for the given attribute tags (1..MaxKeyAttrs distinct
// tags). Each key gets its own random r, which is what prevents users from
// combining keys (collusion).
func (s *Scheme) KeyGen(rand io.Reader, msk *MasterKey, tags []tag.Tag) (*UserKey, error) {
	if rand == nil {
		return nil, errors.New("msc: nil random source")
	}
	if msk == nil {
		return nil, fmt.Errorf("%w: nil master key", ErrInvalidKey)
	}
	if len(tags) == 0 || len(tags) > MaxKeyAttrs {
		return nil, fmt.Errorf("%w: %d attributes, want 1..%d", ErrInvalidKey, len(tags), MaxKeyAttrs)
	}
	sorted := slices.Clone(tags)
	slices.SortFunc(sorted, tag.Tag.Compare)
	for i := 1; i < len(sorted); i++ {
		if sorted[i] == sorted[i-1] {
			return nil, fmt.Errorf("%w: tag %s repeated", ErrInvalidKey, sorted[i])
		}
	}
	var r bls.Scalar
	if err := randomNonZero(rand, &r); err != nil {
		return nil, err
	}
	// D = g1^((α + r) / β)
	var e, binv bls.Scalar
	e.Add(&msk.alpha, &r)
	binv.Inv(&msk.beta)
	e.Mul(&e, &binv)
	uk := &UserKey{attrs: make([]keyAttr, len(sorted))}
	uk.d.ScalarMult(&e, bls.G1Generator())

	var g1r bls.G1
	g1r.ScalarMult(&r, bls.G1Generator())
	// Draw every r_j first (the reader need not be safe for concurrent use),
	// then do the group operations in parallel.
	rjs := make([]bls.Scalar, len(sorted))
	for i := range rjs {
		if err := randomNonZero(rand, &rjs[i]); err != nil {
			return nil, err
		}
	}
	parallel(len(sorted), minParallel, func(i int) {
		a := &uk.attrs[i]
		a.t = sorted[i]
		hp := s.cache.get(a.t)
		a.dj.ScalarMult(&rjs[i], &hp)
		a.dj.Add(&a.dj, &g1r)
		a.dj2.ScalarMult(&rjs[i], bls.G2Generator())
	})
	return uk, nil
}

// Encapsulate encrypts under the hidden record policy rp and returns the
// header and the level keys K_low, K_medium, K_high. Every level with
// conditions of its own gets a fresh secret s_ℓ, shared over its full
// predicate independently of the other levels; a level without conditions
// of its own has the key of the level below (the caller separates them by
// key derivation).
func (s *Scheme) Encapsulate(rand io.Reader, pk *PublicKey, rp *policy.Record) (*Header, [policy.NumLevels]bls.Gt, error) {
	var keys [policy.NumLevels]bls.Gt
	if rand == nil {
		return nil, keys, errors.New("msc: nil random source")
	}
	if pk == nil || rp == nil {
		return nil, keys, errors.New("msc: nil public key or policy")
	}
	if !rp.Hidden() {
		return nil, keys, ErrNotHidden
	}
	if err := validRecord(rp); err != nil {
		return nil, keys, err
	}
	hdr, err := newHeader(rp)
	if err != nil {
		return nil, keys, err
	}

	// Draw the secrets and share them (scalars only, reading rand
	// sequentially: low, medium, high), then compute every group element in
	// parallel.
	var secrets [policy.NumLevels]bls.Scalar
	shares := make([]bls.Scalar, 0, len(hdr.leaves))
	var owners []policy.Level
	for _, l := range policy.Levels {
		lc := hdr.lvl[l]
		if lc == nil {
			continue
		}
		if err := randomNonZero(rand, &secrets[l]); err != nil {
			return nil, keys, err
		}
		if err := share(rand, &shares, lc.tree.Root(), &secrets[l]); err != nil {
			return nil, keys, err
		}
		owners = append(owners, l)
	}
	nl := len(hdr.leaves)
	parallel(nl+2*len(owners), minParallel, func(i int) {
		switch {
		case i < nl:
			lc := &hdr.leaves[i]
			hp := s.cache.get(lc.t)
			lc.c.ScalarMult(&shares[i], bls.G2Generator())
			lc.cp.ScalarMult(&shares[i], &hp)
		case i < nl+len(owners):
			l := owners[i-nl]
			hdr.lvl[l].c.ScalarMult(&secrets[l], &pk.h)
		default:
			l := owners[i-nl-len(owners)]
			keys[l].Exp(&pk.y, &secrets[l])
		}
	})
	for l := policy.Medium; l <= policy.High; l++ {
		if hdr.lvl[l] == nil {
			keys[l] = keys[l-1]
		}
	}
	return hdr, keys, nil
}

// share splits secret over the subtree n (BSW07: a degree k-1 polynomial per
// k-of-n gate, child i gets q(i)) and appends each leaf's share to shares,
// in preorder.
func share(rand io.Reader, shares *[]bls.Scalar, n *policy.Node, secret *bls.Scalar) error {
	if n.IsLeaf() {
		*shares = append(*shares, *secret)
		return nil
	}
	k := n.Threshold()
	coef := make([]bls.Scalar, k)
	coef[0] = *secret
	for i := 1; i < k; i++ {
		if err := coef[i].Random(rand); err != nil {
			return fmt.Errorf("msc: reading randomness: %w", err)
		}
	}
	for i := range n.NumChildren() {
		var x, q bls.Scalar
		x.SetUint64(uint64(i + 1))
		// Horner: q = coef[k-1]·x^(k-1) + … + coef[0]
		q = coef[k-1]
		for j := k - 2; j >= 0; j-- {
			q.Mul(&q, &x)
			q.Add(&q, &coef[j])
		}
		if err := share(rand, shares, n.Child(i), &q); err != nil {
			return err
		}
	}
	return nil
}

func validRecord(rp *policy.Record) error {
	if rp.Extra(policy.Low) == nil {
		return errors.New("msc: record policy without a low level")
	}
	if rp.NumLeaves() > policy.MaxLeaves {
		return fmt.Errorf("msc: %d leaves, at most %d", rp.NumLeaves(), policy.MaxLeaves)
	}
	return nil
}
