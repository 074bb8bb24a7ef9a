package lthash_test

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
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

// reference is the construction as the package documents it, lane by lane:
// each element's expansion is the AES-256-CTR keystream (zero IV) under
// SHA-256(domain ‖ element), added or subtracted as 1024 little-endian
// 16-bit lanes.
type reference [1024]uint16

func (r *reference) apply(elem []byte, sign int) {
	key := sha256.Sum256(append([]byte("medshare/lthash16/state/v2"), elem...))
	blk, err := aes.NewCipher(key[:])
	if err != nil {
		panic(err)
	}
	stream := make([]byte, 2048)
	cipher.NewCTR(blk, make([]byte, 16)).XORKeyStream(stream, stream)
	for i := range r {
		lane := binary.LittleEndian.Uint16(stream[2*i:])
		if sign > 0 {
			r[i] += lane
		} else {
			r[i] -= lane
		}
	}
}

func (r *reference) bytes() []byte {
	b := make([]byte, 2048)
	for i, x := range r {
		binary.LittleEndian.PutUint16(b[2*i:], x)
	}
	return b
}

// TestMatchesReference checks the packed, word-at-a-time arithmetic against
// the lane-by-lane construction, through additions and removals that wrap
// lanes around in both directions.
func TestMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var h lthash.Hash
	var ref reference
	for i := range 300 {
		v := make([]byte, rng.IntN(600))
		for j := range v {
			v[j] = byte(rng.Uint32())
		}
		e := lthash.Element("ns", fmt.Sprintf("k%d", rng.IntN(40)), v)
		if i%3 == 2 {
			h.Remove(e)
			ref.apply(e, -1)
		} else {
			h.Add(e)
			ref.apply(e, +1)
		}
		if !bytes.Equal(h.MarshalBinary(), ref.bytes()) {
			t.Fatalf("after %d operations the hash differs from the reference construction", i+1)
		}
	}
}

// TestGoldenSum pins the serialised format: a change to the element
// encoding, the expansion or the lane order changes every node's state hash,
// so it must be deliberate (a new domain string and a new golden value).
func TestGoldenSum(t *testing.T) {
	var h lthash.Hash
	h.Add(lthash.Element("storage", "record-1", []byte("v1")))
	h.Add(lthash.Element("ptl", "nonce", nil))
	h.Remove(lthash.Element("ptl", "absent", []byte("x")))
	sum := h.Sum()
	const want = "01749f5b527849f95250c52c3ecdf7fe6bb3c419bef8f38e8725d929a8930cfc"
	if got := hex.EncodeToString(sum[:]); got != want {
		t.Fatalf("Sum = %s, want %s", got, want)
	}
}
