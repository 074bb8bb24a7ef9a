package msc

import (
	"errors"
	"fmt"
	"math/bits"
	"slices"

	bls "github.com/cloudflare/circl/ecc/bls12381"

	"github.com/medshare/medshare/abe/policy"
)

// NotSatisfiedError says which level a key does not satisfy.
type NotSatisfiedError struct{ Level policy.Level }

// Error implements error.
func (e *NotSatisfiedError) Error() string {
	return fmt.Sprintf("msc: attributes do not satisfy level %s", e.Level)
}

// Is makes errors.Is(err, ErrNotSatisfied) hold.
func (e *NotSatisfiedError) Is(target error) bool { return target == ErrNotSatisfied }

// pick is one leaf used in decryption, with its total coefficient Δ.
type pick struct {
	leaf int // index into Header.leaves
	key  int // index into UserKey.attrs
	c    bls.Scalar
}

// decCtx evaluates which leaves a key can use.
type decCtx struct {
	uk      *UserKey
	hdr     *Header
	leafKey []int // leaf index → key attr index, or -1
}

func newDecCtx(uk *UserKey, hdr *Header) (*decCtx, error) {
	if uk == nil || hdr == nil || hdr.policy == nil || hdr.lvl[policy.Low] == nil {
		return nil, errors.New("msc: nil key or header")
	}
	d := &decCtx{uk: uk, hdr: hdr, leafKey: make([]int, len(hdr.leaves))}
	for i := range hdr.leaves {
		d.leafKey[i] = uk.find(hdr.leaves[i].t)
	}
	return d, nil
}

// eval returns the cheapest set of leaves satisfying the subtree n whose
// first leaf has preorder index base, with coefficients relative to n.
func (d *decCtx) eval(n *policy.Node, base int) ([]pick, bool) {
	if n.IsLeaf() {
		k := d.leafKey[base]
		if k < 0 {
			return nil, false
		}
		p := pick{leaf: base, key: k}
		p.c.SetOne()
		return []pick{p}, true
	}
	type sat struct {
		x     int // child index, 1-based
		picks []pick
	}
	var ok []sat
	off := base
	for i := range n.NumChildren() {
		c := n.Child(i)
		if ps, good := d.eval(c, off); good {
			ok = append(ok, sat{i + 1, ps})
		}
		off += c.NumLeaves()
	}
	k := n.Threshold()
	if len(ok) < k {
		return nil, false
	}
	// Fewest leaves first: fewer pairings.
	slices.SortStableFunc(ok, func(a, b sat) int { return len(a.picks) - len(b.picks) })
	ok = ok[:k]
	xs := make([]int, k)
	for i, s := range ok {
		xs[i] = s.x
	}
	var out []pick
	for _, s := range ok {
		lambda := lagrangeAtZero(s.x, xs)
		for _, p := range s.picks {
			p.c.Mul(&p.c, &lambda)
			out = append(out, p)
		}
	}
	return out, true
}

// lagrangeAtZero returns λ_i(0) = Π_{j∈S, j≠i} j / (j − i).
func lagrangeAtZero(i int, set []int) bls.Scalar {
	var num, den, t bls.Scalar
	num.SetOne()
	den.SetOne()
	for _, j := range set {
		if j == i {
			continue
		}
		t.SetUint64(uint64(j))
		num.Mul(&num, &t)
		if j > i {
			t.SetUint64(uint64(j - i))
		} else {
			t.SetUint64(uint64(i - j))
			t.Neg()
		}
		den.Mul(&den, &t)
	}
	den.Inv(&den)
	num.Mul(&num, &den)
	return num
}

// evalLevel evaluates the full predicate of level l in the encapsulation
// that serves it, with coefficients relative to the predicate's root.
func (d *decCtx) evalLevel(l policy.Level) ([]pick, bool) {
	lc := d.hdr.lvl[d.hdr.owner(l)]
	return d.eval(lc.tree.Root(), lc.offset)
}

// product returns the pairing product that yields the key of level l from
// picks: e(D, C_ℓ) · Π e(D_j^Δ, C_y)^−1 · e(C'_y^Δ, D'_j).
func (d *decCtx) product(l policy.Level, picks []pick) *prod {
	pr := &prod{p: []*bls.G1{&d.uk.d}, q: []*bls.G2{&d.hdr.lvl[d.hdr.owner(l)].c}, signs: []int{1}}
	pr.addPicks(d, picks)
	return pr
}

// pairing inputs being accumulated for one product of pairings
type prod struct {
	p     []*bls.G1
	q     []*bls.G2
	signs []int
}

// addPicks appends, for each pick, e(D_j^Δ, C_y)^−1 · e(C'_y^Δ, D'_j), which
// together remove the blinding e(g1,g2)^(r·s) of e(D, C_ℓ).
func (pr *prod) addPicks(d *decCtx, picks []pick) {
	for i := range picks {
		p := &picks[i]
		a := &d.uk.attrs[p.key]
		lc := &d.hdr.leaves[p.leaf]
		dj, sgn := mulPublic(&a.dj, &p.c)
		cp, _ := mulPublic(&lc.cp, &p.c)
		pr.p = append(pr.p, dj, cp)
		pr.q = append(pr.q, &lc.c, &a.dj2)
		pr.signs = append(pr.signs, -sgn, sgn)
	}
}

// eval computes the product of pairings.
func (pr *prod) eval() *bls.Gt { return evalAll([]*prod{pr})[0] }

// evalAll computes several products of pairings. Large products are split
// into contiguous chunks; all chunks of all products run in parallel (each
// with its own final exponentiation) and are multiplied back in GT.
func evalAll(prs []*prod) []*bls.Gt {
	type job struct{ pr, lo, hi int }
	var jobs []job
	out := make([]*bls.Gt, len(prs))
	for i, pr := range prs {
		out[i] = new(bls.Gt)
		out[i].SetIdentity()
		if len(pr.p) == 0 {
			continue
		}
		for _, c := range chunks(len(pr.p), 6) {
			jobs = append(jobs, job{i, c[0], c[1]})
		}
	}
	parts := make([]*bls.Gt, len(jobs))
	parallel(len(jobs), 2, func(i int) {
		j, pr := jobs[i], prs[jobs[i].pr]
		parts[i] = bls.ProdPairFrac(pr.p[j.lo:j.hi], pr.q[j.lo:j.hi], pr.signs[j.lo:j.hi])
	})
	for i, j := range jobs {
		out[j.pr].Mul(out[j.pr], parts[i])
	}
	return out
}

// Decapsulate returns the key of level l, with one product of
// 2·(leaves used) + 1 pairings: one final exponentiation, or one per core
// when the product is large enough to be split (see evalAll).
func (s *Scheme) Decapsulate(uk *UserKey, hdr *Header, l policy.Level) (bls.Gt, error) {
	var k bls.Gt
	if !l.Valid() {
		return k, fmt.Errorf("%w: %d", policy.ErrInvalidLevel, uint8(l))
	}
	d, err := newDecCtx(uk, hdr)
	if err != nil {
		return k, err
	}
	picks, ok := d.evalLevel(l)
	if !ok {
		return k, &NotSatisfiedError{Level: l}
	}
	return *d.product(l, picks).eval(), nil
}

// DecapsulateAll returns the keys of every level the key satisfies, lowest
// first (the predicates are nested, so these are Low up to some level). The
// levels' encapsulations are independent, so each level costs its own
// product of pairings; the products are evaluated together, spread over
// the cores. It returns a *NotSatisfiedError for Low if the key satisfies
// no level.
func (s *Scheme) DecapsulateAll(uk *UserKey, hdr *Header) ([]bls.Gt, error) {
	d, err := newDecCtx(uk, hdr)
	if err != nil {
		return nil, err
	}
	var prs []*prod
	var from []int // level → index into prs
	for _, l := range policy.Levels {
		if o := hdr.owner(l); o != l {
			from = append(from, from[o])
			continue
		}
		picks, ok := d.evalLevel(l)
		if !ok {
			break
		}
		from = append(from, len(prs))
		prs = append(prs, d.product(l, picks))
	}
	if len(prs) == 0 {
		return nil, &NotSatisfiedError{Level: policy.Low}
	}
	vals := evalAll(prs)
	keys := make([]bls.Gt, len(from))
	for l, i := range from {
		keys[l] = *vals[i]
	}
	return keys, nil
}

// mulPublic returns |c|·P and the sign of c, where c is a public scalar
// (a product of Lagrange coefficients). Small coefficients — all of them
// for AND/OR trees — use a short variable-time double-and-add; others fall
// back to the constant-time multiplication.
func mulPublic(p *bls.G1, c *bls.Scalar) (*bls.G1, int) {
	var neg bls.Scalar
	neg.Set(c)
	neg.Neg()
	for _, cand := range []struct {
		s    *bls.Scalar
		sign int
	}{{c, 1}, {&neg, -1}} {
		b, _ := cand.s.MarshalBinary()
		if k, small := smallScalar(b); small {
			if k == 1 {
				return p, cand.sign
			}
			return mulSmall(p, k), cand.sign
		}
	}
	out := new(bls.G1)
	out.ScalarMult(c, p)
	return out, 1
}

// smallScalar returns the value of a big-endian scalar below 2^32.
func smallScalar(b []byte) (uint64, bool) {
	if len(b) != bls.ScalarSize {
		return 0, false
	}
	for _, x := range b[:bls.ScalarSize-4] {
		if x != 0 {
			return 0, false
		}
	}
	k := uint64(b[28])<<24 | uint64(b[29])<<16 | uint64(b[30])<<8 | uint64(b[31])
	return k, k != 0
}

// mulSmall computes k·P by double-and-add (variable time; k is public).
func mulSmall(p *bls.G1, k uint64) *bls.G1 {
	out := new(bls.G1)
	*out = *p
	for i := bits.Len64(k) - 2; i >= 0; i-- {
		out.Double()
		if k>>uint(i)&1 == 1 {
			out.Add(out, p)
		}
	}
	return out
}
