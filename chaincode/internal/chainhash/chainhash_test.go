package chainhash

import (
	"crypto/sha256"
	"testing"
)

// rfc6962 is the recursive definition of RFC 6962's Merkle tree hash, with
// sha256d and the 0x00/0x01 prefixes.
func rfc6962(items []Hash) Hash {
	switch len(items) {
	case 0:
		return Hash{}
	case 1:
		return leaf(items[0])
	}
	k := 1
	for k*2 < len(items) {
		k *= 2
	}
	return node(rfc6962(items[:k]), rfc6962(items[k:]))
}

func TestFrontierMatchesTheRecursiveDefinition(t *testing.T) {
	var items []Hash
	var f Frontier
	for n := range 70 {
		if got, want := f.Root(), rfc6962(items); got != want {
			t.Fatalf("root of %d items = %x, want %x", n, got, want)
		}
		if !f.Valid() {
			t.Fatalf("frontier of %d items invalid: %d peaks", n, len(f.Peaks))
		}
		item := sha256.Sum256([]byte{byte(n)})
		items = append(items, item)
		f.Append(item)
	}
	if MerkleRoot(items) != f.Root() {
		t.Fatal("MerkleRoot differs from the frontier's root")
	}
}

func TestNoDuplicateLeafCollision(t *testing.T) {
	a, b, c := Sha256d([]byte("a")), Sha256d([]byte("b")), Sha256d([]byte("c"))
	if MerkleRoot([]Hash{a, b, c}) == MerkleRoot([]Hash{a, b, c, c}) {
		t.Fatal("[a b c] and [a b c c] share a root")
	}
	if MerkleRoot([]Hash{a}) == a || MerkleRoot([]Hash{a, b}) == node(a, b) {
		t.Fatal("leaves are not separated from nodes")
	}
}

func TestSha256d(t *testing.T) {
	first := sha256.Sum256([]byte("abc"))
	if Sha256d([]byte("abc")) != sha256.Sum256(first[:]) {
		t.Fatal("Sha256d is not SHA-256 twice")
	}
}
