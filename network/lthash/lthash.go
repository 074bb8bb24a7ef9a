// Package lthash is LtHash16, a homomorphic multiset hash (Bellare and
// Micciancio's lattice hash, with Facebook's parameters: 1024 lanes of 16
// bits). The hash of a set is the lane-wise sum, mod 2^16, of the 2048-byte
// expansions of its elements, so adding or removing one element costs one
// expansion, independent of the set's size.
//
// An element's expansion is the AES-256-CTR keystream (zero IV) under the
// key SHA-256(domain ‖ element): hash-then-expand, pseudorandom wherever
// SHA-256 behaves as a random oracle and AES as a pseudorandom permutation,
// which is what LtHash asks of its expansion. It replaced SHAKE128 (v1),
// whose 15 Keccak permutations per element were 5 % of a busy node's CPU;
// with AES and SHA-256 in hardware it is about five times cheaper. Seeding
// through SHA-256 bounds collision resistance at 128 bits, no lower than the
// SHA-256 of the hash that block headers carry.
//
// The ledger keeps the LtHash of each channel's world state (every
// namespace/key/value triple) and commits SHA-256 of it in each block header:
// the header then commits to the whole state after the block, nodes compare
// state by comparing 32 bytes, and a verifier can recompute it from scratch.
package lthash

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/binary"
	"errors"
)

// Size is the length of a serialised hash: 1024 lanes of 2 bytes.
const Size = 2048

const lanes = Size / 2

// words is the number of 64-bit words the lanes are packed in, four lanes to
// a word in little-endian order (the serialised form, read 8 bytes at a time).
const words = Size / 8

const domain = "medshare/lthash16/state/v2"

// Hash is an LtHash16 value. The zero value is the hash of the empty set.
type Hash struct {
	v [words]uint64
}

// Element encodes a world-state entry as the bytes that are hashed.
func Element(namespace, key string, value []byte) []byte {
	b := make([]byte, 0, 12+len(namespace)+len(key)+len(value))
	b = binary.BigEndian.AppendUint32(b, uint32(len(namespace)))
	b = append(b, namespace...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(key)))
	b = append(b, key...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(value)))
	return append(b, value...)
}

func expand(elem []byte, out *[Size]byte) {
	h := sha256.New()
	h.Write([]byte(domain))
	h.Write(elem)
	var key [32]byte
	h.Sum(key[:0])
	// NewCipher fails only for a key that is not 16, 24 or 32 bytes long.
	b, _ := aes.NewCipher(key[:])
	var iv [aes.BlockSize]byte
	clear(out[:])
	cipher.NewCTR(b, iv[:]).XORKeyStream(out[:], out[:])
}

// highBits is the top bit of each 16-bit lane of a word.
const highBits = 0x8000_8000_8000_8000

// addLanes adds the four 16-bit lanes of y to those of x, each mod 2^16:
// the low 15 bits of each lane are added without carries crossing lanes, and
// the top bits are restored by XOR.
func addLanes(x, y uint64) uint64 {
	return ((x &^ highBits) + (y &^ highBits)) ^ ((x ^ y) & highBits)
}

// subLanes subtracts the four 16-bit lanes of y from those of x, each mod
// 2^16: setting each lane's top bit of x keeps borrows inside the lane.
func subLanes(x, y uint64) uint64 {
	return ((x | highBits) - (y &^ highBits)) ^ ((x ^ ^y) & highBits)
}

// Add adds an element to the set.
func (h *Hash) Add(elem []byte) {
	var buf [Size]byte
	expand(elem, &buf)
	for i := range h.v {
		h.v[i] = addLanes(h.v[i], binary.LittleEndian.Uint64(buf[8*i:]))
	}
}

// Remove removes an element from the set. Removing an element that was never
// added yields a hash no set has, which the caller's checks will expose.
func (h *Hash) Remove(elem []byte) {
	var buf [Size]byte
	expand(elem, &buf)
	for i := range h.v {
		h.v[i] = subLanes(h.v[i], binary.LittleEndian.Uint64(buf[8*i:]))
	}
}

// Sum is SHA-256 of the serialised hash: the 32 bytes block headers carry.
func (h *Hash) Sum() [32]byte {
	b := h.MarshalBinary()
	return sha256.Sum256(b)
}

// Equal reports whether two hashes are equal.
func (h *Hash) Equal(o *Hash) bool { return h.v == o.v }

// MarshalBinary serialises the hash (little-endian lanes).
func (h *Hash) MarshalBinary() []byte {
	b := make([]byte, Size)
	for i, x := range h.v {
		binary.LittleEndian.PutUint64(b[8*i:], x)
	}
	return b
}

// UnmarshalBinary restores a hash serialised by MarshalBinary.
func (h *Hash) UnmarshalBinary(b []byte) error {
	if len(b) != Size {
		return errors.New("lthash: serialised hash must be 2048 bytes")
	}
	for i := range h.v {
		h.v[i] = binary.LittleEndian.Uint64(b[8*i:])
	}
	return nil
}
