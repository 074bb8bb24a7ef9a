package msc

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	bls "github.com/cloudflare/circl/ecc/bls12381"

	"github.com/medshare/medshare/abe/policy"
	"github.com/medshare/medshare/abe/tag"
)

// This file attacks the scheme through its cryptography. Every helper here
// skips the policy pre-check of Decapsulate and computes pairings with
// whatever key components an attacker holds, so a test fails when the
// algebra would open a level — not when a policy match says no.
//
// An attacker (a coalition of key holders) tries, for each level none of its
// keys satisfies on its own:
//
//   - forced decryption with each key and with every spliced key (D of one
//     key; per-attribute components of the first or last holder, or D_j of
//     the first and D'_j of the last holder);
//   - the cross-level combination of the outside review: a key that opens
//     (or is forced through) a lower level k gives K_k; for each higher level
//     j, a partner computes the α-part of level j's own conditions X_j,
//     W_j = e(D, h^(s_X)) / e(g1,g2)^(r·s_X) with h^(s_X) = 2·C_(j−1) − C_j
//     taken from the public level elements, and K_j = K_(j−1)² / W_j.
//
// It succeeds if any candidate equals the level's real key.

// forceEval is decCtx.eval without the satisfaction check: at a gate it takes
// k children, satisfiable ones first, and a leaf the key holds no component
// for contributes nothing (the attacker has nothing to pair it with).
func forceEval(d *decCtx, n *policy.Node, base int) []pick {
	if n.IsLeaf() {
		k := d.leafKey[base]
		if k < 0 {
			return nil
		}
		p := pick{leaf: base, key: k}
		p.c.SetOne()
		return []pick{p}
	}
	type child struct {
		x     int
		good  bool
		picks []pick
	}
	var cs []child
	off := base
	for i := range n.NumChildren() {
		c := n.Child(i)
		_, good := d.eval(c, off)
		cs = append(cs, child{i + 1, good, forceEval(d, c, off)})
		off += c.NumLeaves()
	}
	slices.SortStableFunc(cs, func(a, b child) int {
		switch {
		case a.good == b.good:
			return 0
		case a.good:
			return -1
		}
		return 1
	})
	cs = cs[:n.Threshold()]
	xs := make([]int, len(cs))
	for i, c := range cs {
		xs[i] = c.x
	}
	var out []pick
	for _, c := range cs {
		lambda := lagrangeAtZero(c.x, xs)
		for _, p := range c.picks {
			p.c.Mul(&p.c, &lambda)
			out = append(out, p)
		}
	}
	return out
}

// --- the part of the attacker that knows the header layout ---------------

// forceOpen decrypts level l with uk, whatever its attributes:
// e(D, C_l) · Π e(D_j^Δ, C_y)^−1 · e(C'_y^Δ, D'_j) over the predicate of l.
func forceOpen(uk *UserKey, hdr *Header, l policy.Level) bls.Gt {
	d, err := newDecCtx(uk, hdr)
	if err != nil {
		panic(err)
	}
	lc := hdr.lvl[hdr.owner(l)]
	return *d.product(l, forceEval(d, lc.tree.Root(), lc.offset)).eval()
}

// alphaPart is the review's W_l = e(D, 2·C_(l−1) − C_l) / e(g1,g2)^(r·s_X):
// the partner pairs its D with the public combination of level elements and
// removes its blinding over the leaves of level l's own conditions X (the
// last leaves of l's predicate), with their coefficients in l's tree.
func alphaPart(uk *UserKey, hdr *Header, l policy.Level) bls.Gt {
	d, err := newDecCtx(uk, hdr)
	if err != nil {
		panic(err)
	}
	lc := hdr.lvl[l]
	n := lc.tree.NumLeaves()
	first := lc.offset + n - hdr.policy.Extra(l).NumLeaves()
	for i := range d.leafKey {
		if i < first || i >= lc.offset+n {
			d.leafKey[i] = -1
		}
	}
	t := new(bls.G2)
	*t = hdr.lvl[hdr.owner(l-1)].c
	t.Double()
	neg := lc.c
	neg.Neg()
	t.Add(t, &neg)
	pr := prod{p: []*bls.G1{&uk.d}, q: []*bls.G2{t}, signs: []int{1}}
	pr.addPicks(d, forceEval(d, lc.tree.Root(), lc.offset))
	return *pr.eval()
}

// --- the attacker ---------------------------------------------------------

// splices returns every spliced key a coalition can assemble: D from each
// key, and for each tag the components of its first holder, of its last
// holder, or D_j of the first and D'_j of the last.
func splices(keys []*UserKey) []*UserKey {
	holders := map[tag.Tag][]*keyAttr{}
	var order []tag.Tag
	for _, k := range keys {
		for i := range k.attrs {
			a := &k.attrs[i]
			if holders[a.t] == nil {
				order = append(order, a.t)
			}
			holders[a.t] = append(holders[a.t], a)
		}
	}
	slices.SortFunc(order, tag.Tag.Compare)
	var out []*UserKey
	for _, k := range keys {
		for mode := range 3 {
			s := &UserKey{d: k.d}
			for _, t := range order {
				h := holders[t]
				first, last := h[0], h[len(h)-1]
				a := keyAttr{t: t}
				switch mode {
				case 0:
					a.dj, a.dj2 = first.dj, first.dj2
				case 1:
					a.dj, a.dj2 = last.dj, last.dj2
				case 2:
					a.dj, a.dj2 = first.dj, last.dj2
				}
				s.attrs = append(s.attrs, a)
			}
			out = append(out, s)
		}
	}
	return out
}

// attack returns, for each level, how the coalition recovered its key, or ""
// if it did not.
func attack(keys []*UserKey, hdr *Header, real [policy.NumLevels]bls.Gt) [policy.NumLevels]string {
	var won [policy.NumLevels]string
	type named struct {
		name string
		k    *UserKey
	}
	var all []named
	for i, k := range keys {
		all = append(all, named{fmt.Sprintf("key %d", i), k})
	}
	for i, s := range splices(keys) {
		all = append(all, named{fmt.Sprintf("splice %d (D of key %d, mode %d)", i, i/3, i%3), s})
	}
	// Forced decryption of every level with every key and splice.
	var direct [policy.NumLevels][]bls.Gt
	for _, l := range policy.Levels {
		for _, k := range all {
			v := forceOpen(k.k, hdr, l)
			direct[l] = append(direct[l], v)
			if won[l] == "" && v.IsEqual(&real[l]) {
				won[l] = "forced decryption with " + k.name
			}
		}
	}
	// Cross-level chains: K_base from any key or splice, then one partner
	// per level above it.
	var parts [policy.NumLevels][]bls.Gt
	for l := policy.Medium; l <= policy.High; l++ {
		if hdr.policy.Extra(l) == nil {
			continue
		}
		for _, k := range all {
			parts[l] = append(parts[l], alphaPart(k.k, hdr, l))
		}
	}
	var chain func(cur bls.Gt, from policy.Level, how string)
	chain = func(cur bls.Gt, from policy.Level, how string) {
		next := from + 1
		if next > policy.High {
			return
		}
		if hdr.policy.Extra(next) == nil {
			chain(cur, next, how)
			return
		}
		for i, w := range parts[next] {
			var inv, k bls.Gt
			inv.Inv(&w)
			k.Sqr(&cur)
			k.Mul(&k, &inv)
			h := fmt.Sprintf("%s, %s for %s", how, all[i].name, next)
			if won[next] == "" && k.IsEqual(&real[next]) {
				won[next] = h
			}
			chain(k, next, h)
		}
	}
	for _, base := range []policy.Level{policy.Low, policy.Medium} {
		for i, v := range direct[base] {
			chain(v, base, fmt.Sprintf("K_%s from %s", base, all[i].name))
		}
	}
	return won
}

// attackCase is a coalition and a record policy.
type attackCase struct {
	name   string
	policy string
	keys   [][]string // canonical attributes of each key
}

// epochNow is the epoch records are encrypted in; keys of other epochs are
// revoked or outdated.
const epochNow = "epoch=5"

var full = []string{"role=doctor", "trust>=1", "trust>=2", "trust>=3", "identity>=1", "identity>=2", "identity>=3", "specialty=cardiology"}

func with(attrs []string, more ...string) []string {
	return append(slices.Clone(attrs), more...)
}

var attackCases = []attackCase{
	{
		name:   "low-only doctor + nurse who opens nothing",
		policy: "low: (role = doctor or role = researcher) and epoch = 5; medium: trust >= 2; high: identity >= 3 and specialty = cardiology",
		keys: [][]string{
			{"role=doctor", "trust>=1", epochNow},
			{"role=nurse", "trust>=1", "trust>=2", "trust>=3", "identity>=1", "identity>=2", "identity>=3", "specialty=cardiology", epochNow},
		},
	},
	{
		name:   "low-only doctor + revoked cardiologist of the previous epoch",
		policy: "low: (role = doctor or role = researcher) and epoch = 5; medium: trust >= 2; high: identity >= 3 and specialty = cardiology",
		keys: [][]string{
			{"role=doctor", "trust>=1", epochNow},
			with(full, "epoch=4"),
		},
	},
	{
		name:   "demoted user: old high key of epoch 4 + own new low key of epoch 5",
		policy: "low: role = doctor and epoch = 5; medium: trust >= 3; high: identity >= 3",
		keys: [][]string{
			with(full, "epoch=4"),
			{"role=doctor", "trust>=1", "identity>=1", epochNow},
		},
	},
	{
		name:   "keys of three epochs",
		policy: "low: role = doctor and epoch = 5; medium: trust >= 2; high: specialty = cardiology",
		keys: [][]string{
			{"role=doctor", "trust>=1", epochNow},
			{"role=doctor", "trust>=1", "trust>=2", "epoch=4"},
			{"role=nurse", "specialty=cardiology", "epoch=3"},
		},
	},
	{
		name:   "epoch-5 key without role + epoch-4 full key (low stays closed)",
		policy: "low: role = doctor and epoch = 5; medium: trust >= 2; high: specialty = cardiology",
		keys: [][]string{
			{"role=admin", epochNow},
			with(full, "epoch=4"),
		},
	},
	{
		name:   "one level's predicate satisfied only jointly (L by one key, M by the other)",
		policy: "low: role = doctor and epoch = 5; medium: trust >= 2 and org = a",
		keys: [][]string{
			{"role=doctor", "trust>=1", epochNow},
			{"role=nurse", "trust>=1", "trust>=2", "org=a", epochNow},
		},
	},
	{
		name:   "one level's own conditions satisfied only jointly",
		policy: "low: role = doctor and epoch = 5; medium: trust >= 2 and org = a",
		keys: [][]string{
			{"role=doctor", "trust>=1", "trust>=2", epochNow},
			{"role=doctor", "org=a", epochNow},
		},
	},
	{
		name:   "spliced keys across three holders",
		policy: "low: role = doctor and epoch = 5; medium: trust >= 2; high: 2 of (identity >= 3, specialty = cardiology, org = a)",
		keys: [][]string{
			{"role=doctor", epochNow},
			{"role=nurse", "trust>=2", "identity>=3", epochNow},
			{"role=nurse", "trust>=2", "specialty=cardiology", "org=a", "epoch=4"},
		},
	},
}

// TestCoalitionAttacks runs the attacker on each coalition: every level that
// no key of the coalition satisfies on its own must stay closed through the
// cryptography, and every level one key satisfies must open through the
// same forced path (so the attacker's algebra is the real one).
func TestCoalitionAttacks(t *testing.T) {
	s := New(64)
	pk, msk, err := s.Setup(rng(21))
	if err != nil {
		t.Fatal(err)
	}
	for ci, c := range attackCases {
		t.Run(c.name, func(t *testing.T) {
			rp := hiddenRecord(t, c.policy)
			hdr, real, err := s.Encapsulate(rng(byte(30+ci)), pk, rp)
			if err != nil {
				t.Fatal(err)
			}
			var keys []*UserKey
			var single [policy.NumLevels]bool
			for i, attrs := range c.keys {
				uk, err := s.KeyGen(rng(byte(60+10*ci+i)), msk, testTagKey.Tags(attrs))
				if err != nil {
					t.Fatal(err)
				}
				keys = append(keys, uk)
				held := map[string]bool{}
				for _, tg := range uk.Tags() {
					held[tg.String()] = true
				}
				for _, l := range policy.Levels {
					if rp.Satisfied(l, func(leaf string) bool { return held[leaf] }) {
						single[l] = true
						if v := forceOpen(uk, hdr, l); !v.IsEqual(&real[l]) {
							t.Errorf("key %d satisfies %s but the forced path does not open it", i, l)
						}
					}
				}
			}
			won := attack(keys, hdr, real)
			var closed []string
			for _, l := range policy.Levels {
				if single[l] {
					continue
				}
				closed = append(closed, l.String())
				if won[l] != "" {
					t.Errorf("the coalition opened level %s: %s", l, won[l])
				}
			}
			t.Logf("levels no single key opens: %s", strings.Join(closed, ", "))
		})
	}
}
