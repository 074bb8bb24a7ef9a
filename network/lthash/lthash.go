// Package lthash is LtHash16, a homomorphic multiset hash (Bellare and
// Micciancio's lattice hash, with Facebook's parameters: 1024 lanes of 16
// bits). The hash of a set is the lane-wise sum, mod 2^16, of the SHAKE128
// expansions of its elements, so adding or removing one element costs one
// expansion, independent of the set's size.
//
// The ledger keeps the LtHash of each channel's world state (every
// namespace/key/value triple) and commits SHA-256 of it in each block header:
// the header then commits to the whole state after the block, nodes compare
// state by comparing 32 bytes, and a verifier can recompute it from scratch.
package lthash

import (
	"crypto/sha256"
	"crypto/sha3"
	"encoding/binary"
	"errors"
)

// Size is the length of a serialised hash: 1024 lanes of 2 bytes.
const Size = 2048

const lanes = Size / 2

const domain = "medshare/lthash16/state/v1"

// Hash is an LtHash16 value. The zero value is the hash of the empty set.
type Hash struct {
	v [lanes]uint16
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
	h := sha3.NewSHAKE128()
	h.Write([]byte(domain))
	h.Write(elem)
	h.Read(out[:])
}

// Add adds an element to the set.
func (h *Hash) Add(elem []byte) {
	var buf [Size]byte
	expand(elem, &buf)
	for i := range lanes {
		h.v[i] += binary.LittleEndian.Uint16(buf[2*i:])
	}
}

// Remove removes an element from the set. Removing an element that was never
// added yields a hash no set has, which the caller's checks will expose.
func (h *Hash) Remove(elem []byte) {
	var buf [Size]byte
	expand(elem, &buf)
	for i := range lanes {
		h.v[i] -= binary.LittleEndian.Uint16(buf[2*i:])
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
		binary.LittleEndian.PutUint16(b[2*i:], x)
	}
	return b
}

// UnmarshalBinary restores a hash serialised by MarshalBinary.
func (h *Hash) UnmarshalBinary(b []byte) error {
	if len(b) != Size {
		return errors.New("lthash: serialised hash must be 2048 bytes")
	}
	for i := range h.v {
		h.v[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	return nil
}
