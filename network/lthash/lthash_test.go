package lthash_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/medshare/medshare/network/lthash"
)

// TestOrderIndependentAndIncremental checks the two properties the ledger
// relies on: the hash of a set does not depend on the order of additions, and
// removing an element undoes adding it.
func TestOrderIndependentAndIncremental(t *testing.T) {
	elems := make([][]byte, 50)
	for i := range elems {
		elems[i] = lthash.Element("cc", fmt.Sprintf("key%d", i), []byte(fmt.Sprint(i)))
	}
	var a, b lthash.Hash
	for _, e := range elems {
		a.Add(e)
	}
	rng := rand.New(rand.NewPCG(7, 7))
	for _, i := range rng.Perm(len(elems)) {
		b.Add(elems[i])
	}
	if !a.Equal(&b) || a.Sum() != b.Sum() {
		t.Fatal("hash depends on insertion order")
	}
	extra := lthash.Element("cc", "extra", []byte("v"))
	b.Add(extra)
	if a.Sum() == b.Sum() {
		t.Fatal("adding an element did not change the hash")
	}
	b.Remove(extra)
	if a.Sum() != b.Sum() {
		t.Fatal("remove did not undo add")
	}
	var empty lthash.Hash
	for _, e := range elems {
		a.Remove(e)
	}
	if !a.Equal(&empty) {
		t.Fatal("removing every element did not give the empty set")
	}
}

func TestElementEncodingIsUnambiguous(t *testing.T) {
	// Without length prefixes these two would encode the same bytes.
	x := lthash.Element("ab", "c", []byte("d"))
	y := lthash.Element("a", "bc", []byte("d"))
	var hx, hy lthash.Hash
	hx.Add(x)
	hy.Add(y)
	if hx.Sum() == hy.Sum() {
		t.Fatal("different entries hash alike")
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	var h, g lthash.Hash
	h.Add([]byte("x"))
	if err := g.UnmarshalBinary(h.MarshalBinary()); err != nil || !g.Equal(&h) {
		t.Fatalf("round trip: %v", err)
	}
	if err := g.UnmarshalBinary(make([]byte, 10)); err == nil {
		t.Fatal("short input accepted")
	}
}

func BenchmarkAdd(b *testing.B) {
	e := lthash.Element("storage", "record-000001", make([]byte, 300))
	var h lthash.Hash
	for b.Loop() {
		h.Add(e)
	}
}
