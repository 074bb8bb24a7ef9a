package tknlevel

import (
	"bytes"
	"errors"
	mrand "math/rand/v2"
	"strings"
	"testing"

	"github.com/medshare/medshare/abe/policy"
	"github.com/medshare/medshare/abe/tag"
)

var tk = tag.Key{9}

func rng(b byte) *mrand.ChaCha8 { return mrand.NewChaCha8([32]byte{b}) }

func TestLevels(t *testing.T) {
	pk, msk, err := Setup(rng(1))
	if err != nil {
		t.Fatal(err)
	}
	rp, _ := policy.ParseRecord("low: role = doctor or role = nurse; medium: 2 of (trust >= 2, org = a, identity >= 2); high: specialty = x")
	rp = rp.Hide(tk)
	hdr, seeds, err := Encapsulate(rng(2), pk, rp)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		attrs []string
		n     int
	}{
		{[]string{"role=admin"}, 0},
		{[]string{"role=nurse", "org=a"}, 1},
		{[]string{"role=nurse", "org=a", "identity>=2"}, 2},
		{[]string{"role=doctor", "trust>=2", "identity>=2", "specialty=x"}, 3},
	} {
		uk, err := KeyGen(rng(3), msk, tk.Tags(tc.attrs))
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecapsulateAll(uk, hdr)
		if tc.n == 0 {
			if !errors.Is(err, ErrNotSatisfied) {
				t.Fatalf("%v: %v", tc.attrs, err)
			}
			continue
		}
		if err != nil || len(got) != tc.n {
			t.Fatalf("%v: %d levels, %v", tc.attrs, len(got), err)
		}
		for i := range got {
			if !bytes.Equal(got[i], seeds[i]) {
				t.Fatalf("%v: level %d seed wrong", tc.attrs, i)
			}
		}
		if tc.n < 3 {
			var nse *NotSatisfiedError
			if _, err := Decapsulate(uk, hdr, policy.Level(tc.n)); !errors.As(err, &nse) || nse.Level != policy.Level(tc.n) {
				t.Fatalf("%v: level %d: %v", tc.attrs, tc.n, err)
			}
		}
	}
	// Encodings.
	hb, _ := hdr.MarshalBinary()
	if bytes.Contains(hb, []byte("role")) {
		t.Fatal("attribute name in header")
	}
	h2, err := UnmarshalHeader(hb)
	if err != nil || !h2.Equal(hdr) {
		t.Fatalf("header round trip: %v", err)
	}
	// Swap the low and high ciphertexts: rejected because the policies differ.
	bad, _ := (&Header{policy: rp, cts: [3][]byte{hdr.cts[2], hdr.cts[1], hdr.cts[0]}}).MarshalBinary()
	if _, err := UnmarshalHeader(bad); !errors.Is(err, ErrMalformed) {
		t.Fatalf("swapped ciphertexts: %v", err)
	}
	uk, _ := KeyGen(rng(3), msk, tk.Tags([]string{"role=doctor"}))
	ub, _ := uk.MarshalBinary()
	var uk2 UserKey
	if err := uk2.UnmarshalBinary(ub); err != nil || !uk2.Equal(uk) {
		t.Fatalf("user key round trip: %v", err)
	}
	for i := 0; i < len(ub); i += 97 {
		if err := uk2.UnmarshalBinary(ub[:i]); err == nil {
			t.Fatalf("truncated user key (%d) accepted", i)
		}
	}
	pb, _ := pk.MarshalBinary()
	var pk2 PublicKey
	if err := pk2.UnmarshalBinary(pb); err != nil || !pk2.Equal(pk) {
		t.Fatalf("public key round trip: %v", err)
	}
	mb, _ := msk.MarshalBinary()
	var msk2 MasterKey
	if err := msk2.UnmarshalBinary(mb); err != nil || !msk2.Equal(msk) {
		t.Fatalf("master key round trip: %v", err)
	}
}

func TestDSL(t *testing.T) {
	tr, _ := policy.Parse("2 of (a = x, b = y, c = z) and d = w")
	s, err := dsl(tr.Hide(tk))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(s, " or ") != 2 || strings.Count(s, ": 1") != 7 {
		t.Fatalf("dsl = %s", s)
	}
	var n int
	subsets(5, 3, func([]int) bool { n++; return true })
	if n != 10 {
		t.Fatalf("C(5,3) = %d", n)
	}
	big, _ := policy.Parse("10 of (a=a, b=b, c=c, d=d, e=e, f=f, g=g, h=h, i=i, j=j, k=k, l=l, m=m, n=n, o=o, p=p, q=q, r=r, s=s, t=t)")
	if _, err := dsl(big.Hide(tk)); !errors.Is(err, ErrTooComplex) {
		t.Fatalf("10 of 20: %v", err)
	}
	if _, err := dsl(tr); !errors.Is(err, ErrNotHidden) {
		t.Fatalf("clear tree: %v", err)
	}
}

// TestUncheckedDecrypt skips Decapsulate's policy pre-check and hands each
// level's tkn20 ciphertext straight to circl with keys that do not satisfy
// it, the review's coalitions included: circl refuses every one. (tkn20's
// own collusion resistance covers combining keys, since each level is a
// separate tkn20 ciphertext under the level's full predicate.)
func TestUncheckedDecrypt(t *testing.T) {
	pk, msk, err := Setup(rng(5))
	if err != nil {
		t.Fatal(err)
	}
	rp, _ := policy.ParseRecord("low: role = doctor and epoch = 5; medium: trust >= 2; high: identity >= 3 and specialty = cardiology")
	rp = rp.Hide(tk)
	hdr, seeds, err := Encapsulate(rng(6), pk, rp)
	if err != nil {
		t.Fatal(err)
	}
	for _, attrs := range [][]string{
		{"role=doctor", "trust>=1", "epoch=5"},
		{"role=nurse", "trust>=1", "trust>=2", "identity>=3", "specialty=cardiology", "epoch=5"},
		{"role=doctor", "trust>=1", "trust>=2", "identity>=3", "specialty=cardiology", "epoch=4"},
	} {
		uk, err := KeyGen(rng(7), msk, tk.Tags(attrs))
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range policy.Levels {
			if rp.Satisfied(l, uk.has) {
				continue
			}
			seed, err := uk.ak.Decrypt(hdr.cts[l])
			if err == nil || bytes.Equal(seed, seeds[l]) {
				t.Errorf("%v opened level %s without the policy check", attrs, l)
			}
		}
	}
}
