// Package chainhash provides the hashes of MeDShare's parent blocks and
// side-blocks: double SHA-256 ("sha256d", as the paper and Bitcoin use for
// block headers) and Merkle trees over sha256d.
//
// The Merkle tree follows RFC 6962's shape — for n leaves, the left subtree
// holds the largest power of two smaller than n, with no duplicated nodes —
// and separates leaves from inner nodes with a one-byte prefix (0x00 for a
// leaf, 0x01 for a node), so that no list of leaves shares its root with a
// different list. Bitcoin's rule of duplicating the last node of an odd
// level is not used: it lets [a b c] and [a b c c] share a root.
package chainhash

import "crypto/sha256"

// Hash is a 32-byte sha256d digest.
type Hash = [32]byte

// Sha256d returns SHA-256(SHA-256(b)).
func Sha256d(b []byte) Hash {
	first := sha256.Sum256(b)
	return sha256.Sum256(first[:])
}

// leaf is the Merkle hash of one leaf: sha256d(0x00 ‖ item).
func leaf(item Hash) Hash {
	var buf [33]byte
	copy(buf[1:], item[:])
	return Sha256d(buf[:])
}

// node is the Merkle hash of two subtrees: sha256d(0x01 ‖ left ‖ right).
func node(l, r Hash) Hash {
	var buf [65]byte
	buf[0] = 1
	copy(buf[1:33], l[:])
	copy(buf[33:], r[:])
	return Sha256d(buf[:])
}

// MerkleRoot returns the root over items (each already a hash, such as a
// transaction's sha256d). The root of no items is all zeros.
func MerkleRoot(items []Hash) Hash {
	var f Frontier
	for _, it := range items {
		f.Append(it)
	}
	return f.Root()
}

// Frontier is a Merkle tree being built one item at a time. It keeps only the
// roots of its complete subtrees (at most 64), so a chaincode can extend a
// tree with O(log n) state instead of re-reading every item.
type Frontier struct {
	// Size is the number of items appended.
	Size uint64
	// Peaks are the roots of the complete subtrees, largest first; their
	// sizes are the powers of two in Size's binary expansion.
	Peaks []Hash
}

// Append adds one item.
func (f *Frontier) Append(item Hash) {
	h := leaf(item)
	// Merge equal-size subtrees: one merge per trailing one bit of Size.
	for n := f.Size; n&1 == 1; n >>= 1 {
		last := len(f.Peaks) - 1
		h = node(f.Peaks[last], h)
		f.Peaks = f.Peaks[:last]
	}
	f.Peaks = append(f.Peaks, h)
	f.Size++
}

// Root returns the tree's root: the peaks folded from the right, which is
// RFC 6962's root for Size items. The root of an empty tree is all zeros.
func (f *Frontier) Root() Hash {
	if len(f.Peaks) == 0 {
		return Hash{}
	}
	h := f.Peaks[len(f.Peaks)-1]
	for i := len(f.Peaks) - 2; i >= 0; i-- {
		h = node(f.Peaks[i], h)
	}
	return h
}

// Valid reports whether the number of peaks matches Size (one per set bit),
// as it must for a frontier read back from storage.
func (f *Frontier) Valid() bool {
	bits := 0
	for n := f.Size; n != 0; n &= n - 1 {
		bits++
	}
	return bits == len(f.Peaks)
}
