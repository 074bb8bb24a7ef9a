package policy

import (
	"errors"
	"fmt"

	"github.com/medshare/medshare/abe/internal/wire"
	"github.com/medshare/medshare/abe/tag"
)

// ErrMalformed is returned (wrapped) by the binary decoders for input that is
// truncated, oversized, of an unknown version, or not in canonical form.
var ErrMalformed = errors.New("policy: malformed encoding")

// Binary format, version 1 (all integers big-endian):
//
//	tree   = 0x01 node
//	node   = 0x00 tag[16]                     hidden leaf
//	       | 0x01 len:u8 attr[len]            canonical attribute leaf
//	       | 0x02 k:u16 n:u16 node{n}         k-of-n gate, 2 <= n, 1 <= k <= n
//	record = 0x01 flags:u8 len:u32 tree{1..3} flags bit 0: medium present,
//	                                          bit 1: high present; low always
//
// Gates are canonical: an AND gate (k = n) has no AND child and an OR gate
// (k = 1) has no OR child, so every tree has exactly one encoding.
const (
	treeVersion   = 0x01
	recordVersion = 0x01

	nodeTag  = 0x00
	nodeAttr = 0x01
	nodeGate = 0x02
)

// MarshalBinary encodes the tree (see the format above).
func (t *Tree) MarshalBinary() ([]byte, error) {
	if t == nil || t.root == nil {
		return nil, fmt.Errorf("%w: empty tree", ErrInvalidTree)
	}
	return appendNode([]byte{treeVersion}, t.root)
}

func appendNode(b []byte, n *Node) ([]byte, error) {
	if n.IsLeaf() {
		if tg, err := tag.ParseTag(n.leaf); err == nil {
			return append(append(b, nodeTag), tg[:]...), nil
		}
		if len(n.leaf) > 255 {
			return nil, fmt.Errorf("%w: leaf longer than 255 bytes", ErrInvalidTree)
		}
		b = append(b, nodeAttr, byte(len(n.leaf)))
		return append(b, n.leaf...), nil
	}
	b = append(b, nodeGate)
	b = wire.AppendU16(b, uint16(n.k))
	b = wire.AppendU16(b, uint16(len(n.children)))
	var err error
	for _, c := range n.children {
		if b, err = appendNode(b, c); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// UnmarshalBinary decodes a tree, replacing t. It accepts only the canonical
// encoding produced by MarshalBinary, within MaxEncodedLen, MaxDepth and
// MaxLeaves, and never panics.
func (t *Tree) UnmarshalBinary(b []byte) error {
	u, err := Unmarshal(b)
	if err != nil {
		return err
	}
	*t = *u
	return nil
}

// Unmarshal decodes a tree encoded by [Tree.MarshalBinary].
func Unmarshal(b []byte) (*Tree, error) {
	if len(b) > MaxEncodedLen {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrMalformed, len(b), MaxEncodedLen)
	}
	r := wire.NewReader(b)
	if v := r.U8(); r.Err() == nil && v != treeVersion {
		return nil, fmt.Errorf("%w: unknown tree version %d", ErrMalformed, v)
	}
	d := decoder{r: r}
	n := d.node(1)
	if err := r.Done(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return &Tree{n}, nil
}

type decoder struct {
	r      *wire.Reader
	leaves int
}

func (d *decoder) node(depth int) *Node {
	r := d.r
	if depth > MaxDepth {
		r.Fail(fmt.Errorf("deeper than %d", MaxDepth))
		return nil
	}
	kind := r.U8()
	if r.Err() != nil {
		return nil
	}
	switch kind {
	case nodeTag, nodeAttr:
		d.leaves++
		if d.leaves > MaxLeaves {
			r.Fail(fmt.Errorf("more than %d leaves", MaxLeaves))
			return nil
		}
		if kind == nodeTag {
			raw := r.Bytes(tag.Size)
			if raw == nil {
				return nil
			}
			return newLeaf(tag.Tag(raw).String())
		}
		n := int(r.U8())
		s := string(r.Bytes(n))
		if r.Err() != nil {
			return nil
		}
		if _, err := tag.ParseCondition(s); err != nil {
			r.Fail(err)
			return nil
		}
		return newLeaf(s)
	case nodeGate:
		k, n := int(r.U16()), int(r.U16())
		if r.Err() != nil {
			return nil
		}
		if n < 2 || k < 1 || k > n {
			r.Fail(fmt.Errorf("gate %d-of-%d (want 2 <= n and 1 <= k <= n)", k, n))
			return nil
		}
		// Every child takes at least two bytes; reject impossible counts
		// before allocating.
		if n > r.Remaining()/2 {
			r.Fail(wire.ErrTruncated)
			return nil
		}
		g := &Node{k: k, children: make([]*Node, 0, n)}
		for range n {
			c := d.node(depth + 1)
			if c == nil {
				return nil
			}
			if k == n && c.isAnd() || k == 1 && c.isOr() {
				r.Fail(errors.New("non-canonical: AND inside AND or OR inside OR"))
				return nil
			}
			g.children = append(g.children, c)
			g.leaves += c.leaves
			g.depth = max(g.depth, c.depth+1)
		}
		return g
	default:
		r.Fail(fmt.Errorf("unknown node kind 0x%02x", kind))
		return nil
	}
}

// MarshalBinary encodes the record policy (see the format above).
func (r *Record) MarshalBinary() ([]byte, error) {
	if err := r.check(); err != nil {
		return nil, err
	}
	var flags byte
	if r.extra[Medium] != nil {
		flags |= 1
	}
	if r.extra[High] != nil {
		flags |= 2
	}
	b := []byte{recordVersion, flags}
	for _, t := range r.extra {
		if t == nil {
			continue
		}
		tb, err := t.MarshalBinary()
		if err != nil {
			return nil, err
		}
		b = wire.AppendVarBytes32(b, tb)
	}
	return b, nil
}

// UnmarshalBinary decodes a record policy, replacing r. It is as strict as
// [Unmarshal] and also enforces the record limits.
func (r *Record) UnmarshalBinary(b []byte) error {
	u, err := UnmarshalRecord(b)
	if err != nil {
		return err
	}
	*r = *u
	return nil
}

// UnmarshalRecord decodes a record policy encoded by [Record.MarshalBinary].
func UnmarshalRecord(b []byte) (*Record, error) {
	if len(b) > 3*MaxEncodedLen {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrMalformed, len(b), 3*MaxEncodedLen)
	}
	rd := wire.NewReader(b)
	v, flags := rd.U8(), rd.U8()
	if err := rd.Err(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if v != recordVersion {
		return nil, fmt.Errorf("%w: unknown record version %d", ErrMalformed, v)
	}
	if flags&^3 != 0 {
		return nil, fmt.Errorf("%w: unknown flags 0x%02x", ErrMalformed, flags)
	}
	present := [NumLevels]bool{true, flags&1 != 0, flags&2 != 0}
	var rec Record
	for _, l := range Levels {
		if !present[l] {
			continue
		}
		tb := rd.VarBytes32(MaxEncodedLen)
		if err := rd.Err(); err != nil {
			return nil, fmt.Errorf("%w: level %s: %w", ErrMalformed, l, err)
		}
		t, err := Unmarshal(tb)
		if err != nil {
			return nil, fmt.Errorf("level %s: %w", l, err)
		}
		rec.extra[l] = t
	}
	if err := rd.Done(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if err := rec.check(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return &rec, nil
}
