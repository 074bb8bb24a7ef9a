package msc

import (
	"math/bits"
	mrand "math/rand/v2"
	"testing"

	"github.com/medshare/medshare/abe/policy"
)

// This file checks the construction in the generic bilinear group model,
// the model BSW07's proof is in. A generic adversary holding a coalition's
// keys, the public key and one header can compute in GT exactly the linear
// combinations of e(a, b) for every G1 element a and G2 element b it holds,
// and of the GT elements it holds (Y and e(g1,g2)); in exponents, the span
// of the products of their discrete logarithms, which are polynomials in the
// scheme's random variables (α, β, r, r_j, the secrets, the polynomial
// coefficients, and the discrete logarithm of each H(·), a random oracle).
// The coalition can distinguish K_ℓ from random only if α·s_ℓ lies in that
// span. The test evaluates every polynomial at many random points modulo a
// 61-bit prime (Schwartz–Zippel) and decides membership by Gaussian
// elimination: so it covers every attack of this kind at once, not just the
// ones attack_test.go tries.
//
// It is a check of the construction, modelled below from the same policy
// trees the code shares over; the attack tests check the code. The model of
// the paper's nested construction is kept as the control: the checker must
// find its break.

const ggmP = 1<<61 - 1

func ggmMul(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	x := (hi<<3 | lo>>61) + lo&ggmP
	if x >= ggmP {
		x -= ggmP
	}
	return x
}

func ggmAdd(a, b uint64) uint64 {
	x := a + b
	if x >= ggmP {
		x -= ggmP
	}
	return x
}

func ggmInv(a uint64) uint64 {
	r, e := uint64(1), uint64(ggmP-2)
	for ; e > 0; e >>= 1 {
		if e&1 == 1 {
			r = ggmMul(r, a)
		}
		a = ggmMul(a, a)
	}
	return r
}

// vec is a polynomial, as its values at the model's evaluation points.
type vec []uint64

// ggm builds the adversary's view of one scheme instance.
type ggm struct {
	n   int
	rng *mrand.ChaCha8
	h   map[string]vec // H(attribute)
}

func (m *ggm) variable() vec {
	v := make(vec, m.n)
	for i := range v {
		v[i] = 1 + m.rng.Uint64()%(ggmP-1)
	}
	return v
}

func (m *ggm) constant(c uint64) vec {
	v := make(vec, m.n)
	for i := range v {
		v[i] = c % ggmP
	}
	return v
}

func (m *ggm) hash(att string) vec {
	if m.h[att] == nil {
		m.h[att] = m.variable()
	}
	return m.h[att]
}

func mul(a, b vec) vec {
	out := make(vec, len(a))
	for i := range a {
		out[i] = ggmMul(a[i], b[i])
	}
	return out
}

func add(a, b vec) vec {
	out := make(vec, len(a))
	for i := range a {
		out[i] = ggmAdd(a[i], b[i])
	}
	return out
}

func scale(c uint64, a vec) vec { return mul(constVec(c, len(a)), a) }

func constVec(c uint64, n int) vec {
	v := make(vec, n)
	for i := range v {
		v[i] = c
	}
	return v
}

// share splits secret over the subtree n as BSW07 does and returns each
// leaf's attribute and share, in preorder.
func (m *ggm) share(n *policy.Node, secret vec, out *[]ggmLeaf) {
	if n.IsLeaf() {
		*out = append(*out, ggmLeaf{n.Leaf(), secret})
		return
	}
	coef := []vec{secret}
	for range n.Threshold() - 1 {
		coef = append(coef, m.variable())
	}
	for i := range n.NumChildren() {
		x := uint64(i + 1)
		q := coef[len(coef)-1]
		for j := len(coef) - 2; j >= 0; j-- {
			q = add(scale(x, q), coef[j])
		}
		m.share(n.Child(i), q, out)
	}
}

type ggmLeaf struct {
	att   string
	share vec
}

// view is what the coalition holds, in exponents, and the level keys.
type view struct {
	g1, g2, gt []vec
	keys       [policy.NumLevels]vec // α·s_ℓ
}

// instance models a setup, the coalition's keys and one header, built by
// encapsulate (the construction under test).
func (m *ggm) instance(rp *policy.Record, coalition [][]string, encapsulate func(m *ggm, rp *policy.Record, alpha, beta vec, v *view)) *view {
	v := &view{}
	one := m.constant(1)
	alpha, beta := m.variable(), m.variable()
	v.g1 = append(v.g1, one)
	v.g2 = append(v.g2, one, beta)
	v.gt = append(v.gt, one, alpha)
	binv := make(vec, m.n)
	for i := range binv {
		binv[i] = ggmInv(beta[i])
	}
	for _, attrs := range coalition {
		r := m.variable()
		v.g1 = append(v.g1, mul(add(alpha, r), binv)) // D
		for _, a := range attrs {
			rj := m.variable()
			v.g1 = append(v.g1, add(r, mul(m.hash(a), rj))) // D_j
			v.g2 = append(v.g2, rj)                         // D'_j
		}
	}
	encapsulate(m, rp, alpha, beta, v)
	return v
}

// independent models the construction of this package: one secret per
// level with conditions of its own, shared over the level's full predicate.
func independent(m *ggm, rp *policy.Record, alpha, beta vec, v *view) {
	for _, l := range policy.Levels {
		if rp.Extra(l) == nil {
			v.keys[l] = v.keys[l-1]
			continue
		}
		s := m.variable()
		v.keys[l] = mul(alpha, s)
		v.g2 = append(v.g2, mul(beta, s)) // C_ℓ
		var leaves []ggmLeaf
		m.share(rp.Level(l).Root(), s, &leaves)
		for _, y := range leaves {
			v.g2 = append(v.g2, y.share)                     // C_y
			v.g1 = append(v.g1, mul(m.hash(y.att), y.share)) // C'_y
		}
	}
}

// nested models the paper's construction (format version 1): s_high random,
// and each lower level's secret and the level's own conditions share the
// level above through a 2-of-2 gate (x = 1 lower, x = 2 own conditions).
func nested(m *ggm, rp *policy.Record, alpha, beta vec, v *view) {
	var secret, own [policy.NumLevels]vec
	secret[policy.High] = m.variable()
	for l := policy.High; l > policy.Low; l-- {
		if rp.Extra(l) == nil {
			secret[l-1] = secret[l]
			continue
		}
		a := m.variable()
		secret[l-1] = add(secret[l], a)
		own[l] = add(secret[l-1], a)
	}
	own[policy.Low] = secret[policy.Low]
	for _, l := range policy.Levels {
		v.keys[l] = mul(alpha, secret[l])
		if rp.Extra(l) == nil {
			continue
		}
		v.g2 = append(v.g2, mul(beta, secret[l]))
		var leaves []ggmLeaf
		m.share(rp.Extra(l).Root(), own[l], &leaves)
		for _, y := range leaves {
			v.g2 = append(v.g2, y.share)
			v.g1 = append(v.g1, mul(m.hash(y.att), y.share))
		}
	}
}

// span is a row-echelon basis of vectors modulo ggmP.
type span struct {
	rows  []vec
	pivot []int
}

// reduce subtracts the basis from v in place and reports whether v is now 0.
func (s *span) reduce(v vec) bool {
	for i, row := range s.rows {
		c := v[s.pivot[i]]
		if c == 0 {
			continue
		}
		neg := ggmP - c
		for j := s.pivot[i]; j < len(v); j++ {
			if row[j] != 0 {
				v[j] = ggmAdd(v[j], ggmMul(neg, row[j]))
			}
		}
	}
	for _, x := range v {
		if x != 0 {
			return false
		}
	}
	return true
}

func (s *span) insert(v vec) {
	v = append(vec(nil), v...)
	if s.reduce(v) {
		return
	}
	p := 0
	for v[p] == 0 {
		p++
	}
	inv := ggmInv(v[p])
	for j := p; j < len(v); j++ {
		v[j] = ggmMul(v[j], inv)
	}
	// Keep the basis reduced at its own pivots so that reduce is one pass.
	for i, row := range s.rows {
		if c := row[p]; c != 0 {
			neg := ggmP - c
			for j := p; j < len(row); j++ {
				row[j] = ggmAdd(row[j], ggmMul(neg, v[j]))
			}
			s.rows[i] = row
		}
	}
	s.rows = append(s.rows, v)
	s.pivot = append(s.pivot, p)
}

// opens returns, for each level, whether α·s_ℓ is in the span of what the
// coalition can compute in GT.
func opens(rp *policy.Record, coalition [][]string, encapsulate func(*ggm, *policy.Record, vec, vec, *view), seed byte) [policy.NumLevels]bool {
	// Count the terms first: the number of evaluation points must exceed
	// the dimension of their span.
	probe := &ggm{n: 1, rng: rng(seed), h: map[string]vec{}}
	pv := probe.instance(rp, coalition, encapsulate)
	terms := len(pv.g1)*len(pv.g2) + len(pv.gt)
	m := &ggm{n: terms + 32, rng: rng(seed), h: map[string]vec{}}
	v := m.instance(rp, coalition, encapsulate)
	var sp span
	for _, a := range v.g1 {
		for _, b := range v.g2 {
			sp.insert(mul(a, b))
		}
	}
	for _, c := range v.gt {
		sp.insert(c)
	}
	var out [policy.NumLevels]bool
	for _, l := range policy.Levels {
		out[l] = sp.reduce(append(vec(nil), v.keys[l]...))
	}
	return out
}

// TestGenericGroupCoalitions: for every coalition of the attack tests, the
// levels a coalition can open in the generic group model are exactly those
// one of its keys satisfies, for this package's construction; the paper's
// nested construction fails the same check.
func TestGenericGroupCoalitions(t *testing.T) {
	if testing.Short() {
		t.Skip("generic-group check: a few seconds of linear algebra")
	}
	for ci, c := range attackCases {
		t.Run(c.name, func(t *testing.T) {
			rp, err := policy.ParseRecord(c.policy)
			if err != nil {
				t.Fatal(err)
			}
			var single [policy.NumLevels]bool
			for _, attrs := range c.keys {
				held := map[string]bool{}
				for _, a := range attrs {
					held[a] = true
				}
				for _, l := range policy.Levels {
					single[l] = single[l] || rp.Satisfied(l, func(leaf string) bool { return held[leaf] })
				}
			}
			got := opens(rp, c.keys, independent, byte(100+ci))
			if got != single {
				t.Errorf("independent levels: the coalition opens %v, its keys alone %v", got, single)
			}
			old := opens(rp, c.keys, nested, byte(100+ci))
			t.Logf("opens (by level): keys alone %v, this construction %v, nested construction %v", single, got, old)
		})
	}
}

// TestGenericGroupFindsNestedBreak: the checker finds the break of the
// nested construction (the review's coalition: a doctor who opens low and a
// nurse who opens nothing), so a pass above means something.
func TestGenericGroupFindsNestedBreak(t *testing.T) {
	c := attackCases[0]
	rp, err := policy.ParseRecord(c.policy)
	if err != nil {
		t.Fatal(err)
	}
	got := opens(rp, c.keys, nested, 7)
	if want := [policy.NumLevels]bool{true, true, true}; got != want {
		t.Fatalf("nested construction: the coalition opens %v, want %v", got, want)
	}
	if got := opens(rp, c.keys[:1], nested, 8); got != [policy.NumLevels]bool{true, false, false} {
		t.Fatalf("nested construction, the doctor alone: opens %v, want low only", got)
	}
}
