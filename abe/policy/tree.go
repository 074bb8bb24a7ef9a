package policy

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/medshare/medshare/abe/tag"
)

// Limits on every tree, whether parsed, built or decoded.
const (
	// MaxDepth is the deepest tree (a single leaf has depth 1).
	MaxDepth = 32
	// MaxLeaves is the largest number of leaves of a tree, and of all three
	// levels of a record together.
	MaxLeaves = 256
	// MaxSourceLen is the longest policy text Parse and ParseRecord accept.
	MaxSourceLen = 16 << 10
	// MaxEncodedLen is the longest binary encoding Unmarshal accepts.
	MaxEncodedLen = 64 << 10
)

var (
	// ErrTooLarge is returned (wrapped) when a tree exceeds MaxDepth or
	// MaxLeaves.
	ErrTooLarge = errors.New("policy: tree too large")
	// ErrInvalidTree is returned (wrapped) for a gate or leaf that is not
	// well-formed: a threshold outside 1..n, an empty gate, or a leaf that is
	// neither a canonical attribute nor a tag.
	ErrInvalidTree = errors.New("policy: invalid tree")
)

// Node is one node of a [Tree]: either a leaf (a canonical attribute string or
// a tag string) or a threshold gate satisfied when at least Threshold of its
// children are. AND is the n-of-n gate and OR the 1-of-n gate. Nodes are
// immutable.
type Node struct {
	k        int
	children []*Node
	leaf     string
	// statistics of the subtree, computed at construction
	leaves, depth int
}

// IsLeaf reports whether n is a leaf.
func (n *Node) IsLeaf() bool { return n.children == nil }

// Leaf returns the leaf string of a leaf node ("" for a gate).
func (n *Node) Leaf() string { return n.leaf }

// Threshold returns k of a k-of-n gate (0 for a leaf).
func (n *Node) Threshold() int { return n.k }

// NumChildren returns the number of children of a gate (0 for a leaf).
func (n *Node) NumChildren() int { return len(n.children) }

// Child returns the i-th child of a gate, 0 <= i < NumChildren().
func (n *Node) Child(i int) *Node { return n.children[i] }

// NumLeaves returns the number of leaves of the subtree rooted at n.
func (n *Node) NumLeaves() int { return n.leaves }

// Depth returns the depth of the subtree rooted at n (1 for a leaf).
func (n *Node) Depth() int { return n.depth }

func (n *Node) isAnd() bool { return n.children != nil && n.k == len(n.children) }
func (n *Node) isOr() bool  { return n.children != nil && n.k == 1 }

func newLeaf(s string) *Node { return &Node{leaf: s, leaves: 1, depth: 1} }

// newGate builds the canonical form of a k-of-n gate over children: AND
// children of an AND gate and OR children of an OR gate are spliced in, and a
// 1-of-1 gate is its child. The caller has checked 1 <= k <= len(children).
func newGate(k int, children []*Node) *Node {
	if len(children) == 1 {
		return children[0]
	}
	and := k == len(children)
	or := k == 1
	var flat []*Node
	for _, c := range children {
		if and && c.isAnd() || or && c.isOr() {
			flat = append(flat, c.children...)
		} else {
			flat = append(flat, c)
		}
	}
	if and {
		k = len(flat)
	}
	g := &Node{k: k, children: flat}
	for _, c := range flat {
		g.leaves += c.leaves
		g.depth = max(g.depth, c.depth+1)
	}
	return g
}

// Tree is a monotone threshold tree whose leaves are canonical attribute
// strings ("specialty=cardiology", "trust>=2") or, once hidden, tag strings
// (32 lowercase hex characters). A Tree is immutable and safe for concurrent
// use; the zero value is not a valid tree.
type Tree struct{ root *Node }

func checkLimits(n *Node) error {
	if n.leaves > MaxLeaves {
		return fmt.Errorf("%w: %d leaves, at most %d", ErrTooLarge, n.leaves, MaxLeaves)
	}
	if n.depth > MaxDepth {
		return fmt.Errorf("%w: depth %d, at most %d", ErrTooLarge, n.depth, MaxDepth)
	}
	return nil
}

// checkLeaf accepts a canonical attribute string or a tag string.
func checkLeaf(s string) error {
	if tag.IsTagString(s) {
		return nil
	}
	if _, err := tag.ParseCondition(s); err != nil {
		return fmt.Errorf("%w: leaf %q is neither a tag nor a canonical attribute: %w", ErrInvalidTree, s, err)
	}
	return nil
}

// Leaf returns the single-leaf tree for s, which must be a canonical
// attribute string (see package tag) or a tag string.
func Leaf(s string) (*Tree, error) {
	if err := checkLeaf(s); err != nil {
		return nil, err
	}
	return &Tree{newLeaf(s)}, nil
}

// Threshold returns the k-of-n gate over ts (n = len(ts)). Nested AND and OR
// gates are flattened, so the result is in canonical form.
func Threshold(k int, ts ...*Tree) (*Tree, error) {
	if len(ts) == 0 {
		return nil, fmt.Errorf("%w: a gate needs at least one child", ErrInvalidTree)
	}
	if k < 1 || k > len(ts) {
		return nil, fmt.Errorf("%w: threshold %d outside 1..%d", ErrInvalidTree, k, len(ts))
	}
	cs := make([]*Node, len(ts))
	for i, t := range ts {
		if t == nil || t.root == nil {
			return nil, fmt.Errorf("%w: nil child %d", ErrInvalidTree, i)
		}
		cs[i] = t.root
	}
	g := newGate(k, cs)
	if err := checkLimits(g); err != nil {
		return nil, err
	}
	return &Tree{g}, nil
}

// And returns the tree satisfied when all of ts are.
func And(ts ...*Tree) (*Tree, error) { return Threshold(len(ts), ts...) }

// Or returns the tree satisfied when any of ts is.
func Or(ts ...*Tree) (*Tree, error) { return Threshold(1, ts...) }

// valid reports whether t is a constructed tree (not nil, not the zero value).
func (t *Tree) valid() bool { return t != nil && t.root != nil }

// Root returns the root node (nil for the zero Tree).
func (t *Tree) Root() *Node {
	if !t.valid() {
		return nil
	}
	return t.root
}

// NumLeaves returns the number of leaves (counting repeats).
func (t *Tree) NumLeaves() int {
	if !t.valid() {
		return 0
	}
	return t.root.leaves
}

// Depth returns the depth of the tree (1 for a single leaf).
func (t *Tree) Depth() int {
	if !t.valid() {
		return 0
	}
	return t.root.depth
}

// Leaves returns the distinct leaf strings, left to right (first occurrence).
func (t *Tree) Leaves() []string {
	if !t.valid() {
		return nil
	}
	seen := map[string]bool{}
	var out []string
	var walk func(n *Node)
	walk = func(n *Node) {
		if n.IsLeaf() {
			if !seen[n.leaf] {
				seen[n.leaf] = true
				out = append(out, n.leaf)
			}
			return
		}
		for _, c := range n.children {
			walk(c)
		}
	}
	walk(t.root)
	return out
}

// Satisfied reports whether the tree is satisfied when exactly the leaves for
// which has returns true hold.
func (t *Tree) Satisfied(has func(leaf string) bool) bool {
	return t.valid() && has != nil && satisfied(t.root, has)
}

func satisfied(n *Node, has func(string) bool) bool {
	if n.IsLeaf() {
		return has(n.leaf)
	}
	got := 0
	for i, c := range n.children {
		if satisfied(c, has) {
			got++
			if got >= n.k {
				return true
			}
		}
		if got+len(n.children)-i-1 < n.k {
			return false
		}
	}
	return false
}

// Hide returns a copy of the tree with every attribute leaf replaced by its
// tag string k.Tag(leaf).String(). Leaves that already are tags are kept.
func (t *Tree) Hide(k tag.Key) *Tree {
	if !t.valid() {
		return &Tree{}
	}
	return &Tree{hide(t.root, k)}
}

func hide(n *Node, k tag.Key) *Node {
	if n.IsLeaf() {
		if tag.IsTagString(n.leaf) {
			return n
		}
		return newLeaf(k.Tag(n.leaf).String())
	}
	cs := make([]*Node, len(n.children))
	for i, c := range n.children {
		cs[i] = hide(c, k)
	}
	return &Node{k: n.k, children: cs, leaves: n.leaves, depth: n.depth}
}

// Hidden reports whether every leaf is a tag string.
func (t *Tree) Hidden() bool {
	if !t.valid() {
		return false
	}
	for _, l := range t.Leaves() {
		if !tag.IsTagString(l) {
			return false
		}
	}
	return true
}

// Tags returns the distinct leaves of a hidden tree as tags, left to right.
// It fails if a leaf is not a tag string.
func (t *Tree) Tags() ([]tag.Tag, error) {
	if !t.valid() {
		return nil, fmt.Errorf("%w: empty tree", ErrInvalidTree)
	}
	ls := t.Leaves()
	out := make([]tag.Tag, len(ls))
	for i, l := range ls {
		tg, err := tag.ParseTag(l)
		if err != nil {
			return nil, fmt.Errorf("policy: tree is not hidden: %w", err)
		}
		out[i] = tg
	}
	return out, nil
}

// Validate checks every attribute leaf against the schema (see
// [tag.Schema.Check]). Tag leaves cannot be checked and are accepted.
func (t *Tree) Validate(s *tag.Schema) error {
	if !t.valid() || s == nil {
		return fmt.Errorf("%w: empty tree or nil schema", ErrInvalidTree)
	}
	for _, l := range t.Leaves() {
		if tag.IsTagString(l) {
			continue
		}
		if err := s.Check(l); err != nil {
			return err
		}
	}
	return nil
}

// Equal reports whether t and u are the same tree.
func (t *Tree) Equal(u *Tree) bool {
	if !t.valid() || !u.valid() {
		return t.valid() == u.valid()
	}
	return equalNode(t.root, u.root)
}

func equalNode(a, b *Node) bool {
	if a.IsLeaf() != b.IsLeaf() || a.leaf != b.leaf || a.k != b.k || len(a.children) != len(b.children) {
		return false
	}
	for i := range a.children {
		if !equalNode(a.children[i], b.children[i]) {
			return false
		}
	}
	return true
}

// String returns the tree in the policy language; Parse(t.String()) returns
// a tree equal to t.
func (t *Tree) String() string {
	if !t.valid() {
		return ""
	}
	var sb strings.Builder
	writeNode(&sb, t.root)
	return sb.String()
}

func writeNode(sb *strings.Builder, n *Node) {
	if n.IsLeaf() {
		writeLeaf(sb, n.leaf)
		return
	}
	switch {
	case n.isAnd():
		for i, c := range n.children {
			if i > 0 {
				sb.WriteString(" and ")
			}
			writeChild(sb, c)
		}
	case n.isOr():
		for i, c := range n.children {
			if i > 0 {
				sb.WriteString(" or ")
			}
			writeChild(sb, c)
		}
	default:
		fmt.Fprintf(sb, "%d of (", n.k)
		for i, c := range n.children {
			if i > 0 {
				sb.WriteString(", ")
			}
			writeNode(sb, c)
		}
		sb.WriteString(")")
	}
}

func writeChild(sb *strings.Builder, c *Node) {
	if c.IsLeaf() || !c.isAnd() && !c.isOr() {
		writeNode(sb, c)
		return
	}
	sb.WriteString("(")
	writeNode(sb, c)
	sb.WriteString(")")
}

func writeLeaf(sb *strings.Builder, s string) {
	if tag.IsTagString(s) {
		sb.WriteString("#")
		sb.WriteString(s)
		return
	}
	c, err := tag.ParseCondition(s)
	if err != nil { // cannot happen for a constructed tree
		sb.WriteString(s)
		return
	}
	if c.MinLevel > 0 {
		fmt.Fprintf(sb, "%s >= %d", c.Name, c.MinLevel)
		return
	}
	sb.WriteString(c.Name)
	sb.WriteString(" = ")
	sb.WriteString(c.Value)
}

// Witness returns a small set of distinct leaves that satisfies the tree
// using only leaves for which has returns true, and false if the tree is not
// satisfied. It takes, for each gate, the k satisfiable children with the
// fewest leaves, then drops every leaf the tree does not need; the result is
// minimal (no leaf can be removed) though not always the smallest possible.
// A user discloses exactly these tags, and no more.
func (t *Tree) Witness(has func(leaf string) bool) ([]string, bool) {
	if !t.valid() || has == nil {
		return nil, false
	}
	ls, ok := witness(t.root, has)
	if !ok {
		return nil, false
	}
	keep := map[string]bool{}
	var out []string
	for _, l := range ls {
		if !keep[l] {
			keep[l] = true
			out = append(out, l)
		}
	}
	in := func(l string) bool { return keep[l] }
	for _, l := range slices.Clone(out) {
		keep[l] = false
		if !satisfied(t.root, in) {
			keep[l] = true
		}
	}
	return slices.DeleteFunc(out, func(l string) bool { return !keep[l] }), true
}

func witness(n *Node, has func(string) bool) ([]string, bool) {
	if n.IsLeaf() {
		if has(n.leaf) {
			return []string{n.leaf}, true
		}
		return nil, false
	}
	var sat [][]string
	for _, c := range n.children {
		if ls, ok := witness(c, has); ok {
			sat = append(sat, ls)
		}
	}
	if len(sat) < n.k {
		return nil, false
	}
	slices.SortStableFunc(sat, func(a, b []string) int { return len(a) - len(b) })
	var out []string
	for _, ls := range sat[:n.k] {
		out = append(out, ls...)
	}
	return out, true
}
