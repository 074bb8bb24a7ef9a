package msc

import (
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"slices"
	"sync"
	"testing"

	bls "github.com/cloudflare/circl/ecc/bls12381"

	"github.com/medshare/medshare/abe/policy"
	"github.com/medshare/medshare/abe/tag"
)

var testTagKey = tag.Key{1, 2, 3}

func rng(seed byte) *mrand.ChaCha8 { return mrand.NewChaCha8([32]byte{seed}) }

func hiddenRecord(t testing.TB, src string) *policy.Record {
	t.Helper()
	r, err := policy.ParseRecord(src)
	if err != nil {
		t.Fatal(err)
	}
	return r.Hide(testTagKey)
}

func keyFor(t testing.TB, s *Scheme, msk *MasterKey, attrs ...string) *UserKey {
	t.Helper()
	uk, err := s.KeyGen(rng(byte(len(attrs))), msk, testTagKey.Tags(attrs))
	if err != nil {
		t.Fatal(err)
	}
	return uk
}

func TestLevels(t *testing.T) {
	s := New(64)
	pk, msk, err := s.Setup(rng(1))
	if err != nil {
		t.Fatal(err)
	}
	for _, src := range []string{
		"low: role = doctor or role = nurse; medium: trust >= 2; high: 2 of (identity >= 3, specialty = cardiology, org = a)",
		"low: role = doctor or role = nurse; high: 2 of (identity >= 3, specialty = cardiology, org = a)",
		"low: role = doctor or role = nurse; medium: trust >= 2 and 2 of (identity >= 3, specialty = cardiology, org = a)",
		"low: 2 of (role = doctor, role = nurse, trust >= 2); medium: identity >= 3; high: specialty = cardiology or org = a",
	} {
		rp := hiddenRecord(t, src)
		hdr, keys, err := s.Encapsulate(rng(2), pk, rp)
		if err != nil {
			t.Fatal(err)
		}
		users := []struct {
			attrs []string
		}{
			{[]string{"role=admin"}},
			{[]string{"role=doctor"}},
			{[]string{"role=nurse", "trust>=2"}},
			{[]string{"role=nurse", "identity>=3", "org=a"}},
			{[]string{"role=doctor", "trust>=2", "identity>=3", "org=a"}},
			{[]string{"role=doctor", "role=nurse", "trust>=2", "identity>=3", "specialty=cardiology"}},
			{[]string{"role=doctor", "trust>=2", "specialty=cardiology", "org=a", "identity>=3"}},
		}
		for _, u := range users {
			uk := keyFor(t, s, msk, u.attrs...)
			hasT := func(leaf string) bool {
				for _, a := range u.attrs {
					if testTagKey.Tag(a).String() == leaf {
						return true
					}
				}
				return false
			}
			top, anyOK := rp.Highest(hasT)
			all, err := s.DecapsulateAll(uk, hdr)
			if !anyOK {
				if !errors.Is(err, ErrNotSatisfied) {
					t.Errorf("%s / %v: DecapsulateAll = %v, want ErrNotSatisfied", src, u.attrs, err)
				}
			} else if err != nil || len(all) != int(top)+1 {
				t.Errorf("%s / %v: DecapsulateAll gave %d levels (%v), want %d", src, u.attrs, len(all), err, top+1)
			}
			for i := range all {
				if !all[i].IsEqual(&keys[i]) {
					t.Errorf("%s / %v: DecapsulateAll level %d wrong", src, u.attrs, i)
				}
			}
			for _, l := range policy.Levels {
				k, err := s.Decapsulate(uk, hdr, l)
				want := anyOK && l <= top
				if want {
					if err != nil || !k.IsEqual(&keys[l]) {
						t.Errorf("%s / %v: level %v: err %v, key ok %v", src, u.attrs, l, err, err == nil && k.IsEqual(&keys[l]))
					}
				} else {
					var nse *NotSatisfiedError
					if !errors.As(err, &nse) || nse.Level != l {
						t.Errorf("%s / %v: level %v: %v, want NotSatisfiedError", src, u.attrs, l, err)
					}
				}
			}
		}
	}
}

// TestCollusion: two users whose attributes only jointly satisfy the policy
// cannot combine their key components.
func TestCollusion(t *testing.T) {
	s := New(64)
	pk, msk, _ := s.Setup(rng(3))
	rp := hiddenRecord(t, "low: role = doctor and specialty = cardiology")
	hdr, keys, err := s.Encapsulate(rng(4), pk, rp)
	if err != nil {
		t.Fatal(err)
	}
	alice := keyFor(t, s, msk, "role=doctor", "org=a")
	bob := keyFor(t, s, msk, "specialty=cardiology")
	for _, uk := range []*UserKey{alice, bob} {
		if _, err := s.Decapsulate(uk, hdr, policy.Low); !errors.Is(err, ErrNotSatisfied) {
			t.Fatalf("a single colluder decrypted: %v", err)
		}
	}
	// Merge the components: every combination of D with the union of
	// attribute components.
	for _, d := range []bls.G1{alice.d, bob.d} {
		merged := &UserKey{d: d, attrs: append(slices.Clone(alice.attrs), bob.attrs...)}
		slices.SortFunc(merged.attrs, func(a, b keyAttr) int { return a.t.Compare(b.t) })
		k, err := s.Decapsulate(merged, hdr, policy.Low)
		if err != nil {
			t.Fatalf("merged key: %v", err)
		}
		if k.IsEqual(&keys[policy.Low]) {
			t.Fatal("colluding users recovered the level key")
		}
	}
	// An honest user with both attributes succeeds.
	both := keyFor(t, s, msk, "role=doctor", "specialty=cardiology")
	k, err := s.Decapsulate(both, hdr, policy.Low)
	if err != nil || !k.IsEqual(&keys[policy.Low]) {
		t.Fatal("honest user failed")
	}
}

// TestNonIntegerLagrange exercises full-size coefficients (2 of 3 with
// children 1 and 3: λ = 3/2 and −1/2).
func TestNonIntegerLagrange(t *testing.T) {
	s := New(64)
	pk, msk, _ := s.Setup(rng(5))
	rp := hiddenRecord(t, "low: 2 of (a = x, b = y, c = z)")
	hdr, keys, _ := s.Encapsulate(rng(6), pk, rp)
	uk := keyFor(t, s, msk, "a=x", "c=z")
	k, err := s.Decapsulate(uk, hdr, policy.Low)
	if err != nil || !k.IsEqual(&keys[policy.Low]) {
		t.Fatalf("2-of-3 with {1,3}: %v", err)
	}
}

func TestMulPublic(t *testing.T) {
	r := rng(7)
	var base bls.G1
	var x bls.Scalar
	_ = x.Random(r)
	base.ScalarMult(&x, bls.G1Generator())
	for _, tc := range []struct {
		v   int64
		big bool
	}{{1, false}, {2, false}, {-1, false}, {12870, false}, {-3432, false}, {1 << 31, false}, {0, true}} {
		var c bls.Scalar
		if tc.big {
			_ = c.Random(r)
		} else {
			c.SetUint64(uint64(max(tc.v, -tc.v)))
			if tc.v < 0 {
				c.Neg()
			}
		}
		got, sign := mulPublic(&base, &c)
		if sign < 0 {
			var n bls.G1
			n = *got
			n.Neg()
			got = &n
		}
		var want bls.G1
		want.ScalarMult(&c, &base)
		if !got.IsEqual(&want) {
			t.Errorf("mulPublic(%d, big=%v) wrong", tc.v, tc.big)
		}
	}
}

func TestLagrange(t *testing.T) {
	// 3-of-3 at {1,2,3}: λ = 3, −3, 1.
	for i, want := range []int64{3, -3, 1} {
		l := lagrangeAtZero(i+1, []int{1, 2, 3})
		var w bls.Scalar
		w.SetUint64(uint64(max(want, -want)))
		if want < 0 {
			w.Neg()
		}
		if l.IsEqual(&w) != 1 {
			t.Errorf("λ_%d", i+1)
		}
	}
}

func TestEncapsulateErrors(t *testing.T) {
	s := New(8)
	pk, _, _ := s.Setup(rng(8))
	clear, _ := policy.ParseRecord("low: a = b")
	if _, _, err := s.Encapsulate(rng(9), pk, clear); !errors.Is(err, ErrNotHidden) {
		t.Fatalf("clear policy: %v", err)
	}
	if _, _, err := s.Encapsulate(nil, pk, clear.Hide(testTagKey)); err == nil {
		t.Fatal("nil rand")
	}
	if _, _, err := s.Encapsulate(rng(9), nil, clear.Hide(testTagKey)); err == nil {
		t.Fatal("nil pk")
	}
	if _, err := s.KeyGen(rng(1), nil, testTagKey.Tags([]string{"a=b"})); !errors.Is(err, ErrInvalidKey) {
		t.Fatal("nil msk")
	}
	_, msk, _ := s.Setup(rng(8))
	if _, err := s.KeyGen(rng(1), msk, nil); !errors.Is(err, ErrInvalidKey) {
		t.Fatal("no tags")
	}
	if _, err := s.KeyGen(rng(1), msk, testTagKey.Tags([]string{"a=b", "a=b"})); !errors.Is(err, ErrInvalidKey) {
		t.Fatal("repeated tags")
	}
	if _, _, err := s.Setup(nil); err == nil {
		t.Fatal("Setup(nil)")
	}
}

func TestCache(t *testing.T) {
	c := newPointCache(4)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				tg := testTagKey.Tag(fmt.Sprint(g, i%6))
				p := c.get(tg)
				want := hashTag(tg)
				if !p.IsEqual(&want) {
					t.Error("cache returned a wrong point")
				}
			}
		}()
	}
	wg.Wait()
	if n := c.len(); n > 4 {
		t.Fatalf("cache holds %d > 4 points", n)
	}
	if p, want := newPointCache(0).get(tag.Tag{}), hashTag(tag.Tag{}); !p.IsEqual(&want) {
		t.Fatal("uncached get")
	}
}
