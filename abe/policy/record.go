package policy

import (
	"errors"
	"fmt"
	"strings"

	"github.com/medshare/medshare/abe/tag"
)

// ErrInvalidRecord is returned (wrapped) for a record policy that is not
// well-formed (no low level, or over the limits).
var ErrInvalidRecord = errors.New("policy: invalid record policy")

// Record is the access policy of one record: the extra conditions of each
// sensitivity level. The predicate of a level is the conjunction of its own
// extra conditions and those of every lower level:
//
//	low:    L
//	medium: L ∧ M
//	high:   L ∧ M ∧ H
//
// so the levels are nested by construction (high ⊇ medium ⊇ low). The low
// level must have conditions; medium and high may have none, in which case
// they have the same predicate as the level below.
//
// A Record is immutable and safe for concurrent use.
type Record struct {
	extra [NumLevels]*Tree
}

// NewRecord builds a record policy from the extra conditions of each level.
// low is required; medium and high may be nil. The three trees together may
// have at most MaxLeaves leaves, and each at most depth MaxDepth-1 (so that
// the predicate of every level fits in a Tree).
func NewRecord(low, medium, high *Tree) (*Record, error) {
	r := &Record{extra: [NumLevels]*Tree{low, medium, high}}
	if err := r.check(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *Record) check() error {
	if r == nil || r.extra[Low] == nil || r.extra[Low].root == nil {
		return fmt.Errorf("%w: the low level needs conditions", ErrInvalidRecord)
	}
	total := 0
	for _, l := range Levels {
		t := r.extra[l]
		if t == nil {
			continue
		}
		if t.root == nil {
			return fmt.Errorf("%w: level %s: empty tree", ErrInvalidRecord, l)
		}
		if t.root.depth > MaxDepth-1 {
			return fmt.Errorf("%w: level %s: depth %d, at most %d", ErrTooLarge, l, t.root.depth, MaxDepth-1)
		}
		total += t.root.leaves
	}
	if total > MaxLeaves {
		return fmt.Errorf("%w: %d leaves over all levels, at most %d", ErrTooLarge, total, MaxLeaves)
	}
	return nil
}

// ParseRecord parses a record policy: for each level, its label and the
// level's extra conditions in the policy language (see [Parse]), optionally
// separated by ';':
//
//	low:    role = doctor and epoch = 7
//	medium: trust >= 2
//	high:   identity >= 3 and specialty = cardiology
//
// Each level appears at most once, in any order; low is required.
func ParseRecord(src string) (*Record, error) {
	p, err := newParser(src)
	if err != nil {
		return nil, err
	}
	var r Record
	leaves := 0
	for {
		for p.peek().kind == tSemi {
			p.next()
		}
		t := p.peek()
		if t.kind == tEOF {
			break
		}
		lv, err := ParseLevel(t.text)
		if t.kind != tWord || err != nil || p.peekAt(1).kind != tColon {
			return nil, p.unexpected(t, "a level label: \"low:\", \"medium:\" or \"high:\"")
		}
		if r.extra[lv] != nil {
			return nil, p.errAt(t.off, "level %s given twice", lv)
		}
		p.next()
		p.next()
		p.leaves = leaves
		n, err := p.expr()
		if err != nil {
			return nil, err
		}
		if n.depth > MaxDepth-1 {
			return nil, p.errAt(t.off, "level %s: nesting deeper than %d", lv, MaxDepth-1)
		}
		leaves = p.leaves
		r.extra[lv] = &Tree{n}
		switch nt := p.peek(); {
		case nt.kind == tEOF || nt.kind == tSemi:
		case nt.kind == tWord && p.peekAt(1).kind == tColon:
		default:
			return nil, p.unexpected(nt, "an operator (and, or), ';' or the next level label")
		}
	}
	if r.extra[Low] == nil {
		return nil, p.errAt(len(src), "a record policy needs a \"low:\" level")
	}
	return &r, nil
}

// Extra returns the extra conditions of level l, or nil if the level adds
// none (or l is not a valid level).
func (r *Record) Extra(l Level) *Tree {
	if !l.Valid() || r == nil {
		return nil
	}
	return r.extra[l]
}

// Level returns the full predicate of level l: the conjunction of the extra
// conditions of l and every lower level. It returns nil for an invalid level
// or an empty (zero) record.
func (r *Record) Level(l Level) *Tree {
	if !l.Valid() || r == nil || !r.extra[Low].valid() {
		return nil
	}
	var cs []*Node
	for i := Low; i <= l; i++ {
		if t := r.extra[i]; t != nil {
			cs = append(cs, t.root)
		}
	}
	return &Tree{newGate(len(cs), cs)}
}

// Satisfied reports whether the predicate of level l holds for the leaves
// for which has returns true.
func (r *Record) Satisfied(l Level, has func(leaf string) bool) bool {
	if !l.Valid() || r == nil || !r.extra[Low].valid() || has == nil {
		return false
	}
	for i := Low; i <= l; i++ {
		if t := r.extra[i]; t != nil && !t.Satisfied(has) {
			return false
		}
	}
	return true
}

// Highest returns the highest level whose predicate holds, and false if not
// even the low level's does.
func (r *Record) Highest(has func(leaf string) bool) (Level, bool) {
	best, ok := Low, false
	if r == nil || !r.extra[Low].valid() || has == nil {
		return best, false
	}
	for _, l := range Levels {
		if t := r.extra[l]; t != nil && !t.Satisfied(has) {
			break
		}
		best, ok = l, true
	}
	return best, ok
}

// Witness returns a small set of distinct leaves satisfying the predicate of
// level l (see [Tree.Witness]), and false if it is not satisfied.
func (r *Record) Witness(l Level, has func(leaf string) bool) ([]string, bool) {
	t := r.Level(l)
	if t == nil {
		return nil, false
	}
	return t.Witness(has)
}

// Leaves returns the distinct leaves of all levels, low first.
func (r *Record) Leaves() []string {
	if r == nil {
		return nil
	}
	seen := map[string]bool{}
	var out []string
	for _, t := range r.extra {
		if t == nil {
			continue
		}
		for _, l := range t.Leaves() {
			if !seen[l] {
				seen[l] = true
				out = append(out, l)
			}
		}
	}
	return out
}

// NumLeaves returns the number of leaves of all levels (counting repeats).
func (r *Record) NumLeaves() int {
	if r == nil {
		return 0
	}
	n := 0
	for _, t := range r.extra {
		if t != nil {
			n += t.root.leaves
		}
	}
	return n
}

// Hide returns a copy with every attribute leaf replaced by its tag string.
func (r *Record) Hide(k tag.Key) *Record {
	var out Record
	if r == nil {
		return &out
	}
	for i, t := range r.extra {
		if t != nil {
			out.extra[i] = t.Hide(k)
		}
	}
	return &out
}

// Hidden reports whether every leaf of every level is a tag string.
func (r *Record) Hidden() bool {
	if r == nil || !r.extra[Low].valid() {
		return false
	}
	for _, t := range r.extra {
		if t != nil && !t.Hidden() {
			return false
		}
	}
	return true
}

// Validate checks every attribute leaf against the schema.
func (r *Record) Validate(s *tag.Schema) error {
	if err := r.check(); err != nil {
		return err
	}
	for _, l := range Levels {
		if t := r.extra[l]; t != nil {
			if err := t.Validate(s); err != nil {
				return fmt.Errorf("level %s: %w", l, err)
			}
		}
	}
	return nil
}

// WithExtra returns a copy of r whose level l also requires t (the existing
// extra conditions of l and t joined by AND). The data owner uses it to add
// the epoch to the low level, which every level then requires.
func (r *Record) WithExtra(l Level, t *Tree) (*Record, error) {
	if err := r.check(); err != nil {
		return nil, err
	}
	if !l.Valid() {
		return nil, fmt.Errorf("%w: %d", ErrInvalidLevel, uint8(l))
	}
	if t == nil || t.root == nil {
		return nil, fmt.Errorf("%w: nil tree", ErrInvalidRecord)
	}
	out := *r
	if cur := r.extra[l]; cur != nil {
		joined, err := And(cur, t)
		if err != nil {
			return nil, err
		}
		out.extra[l] = joined
	} else {
		out.extra[l] = t
	}
	if err := out.check(); err != nil {
		return nil, err
	}
	return &out, nil
}

// Equal reports whether r and o have equal trees at every level.
func (r *Record) Equal(o *Record) bool {
	if r == nil || o == nil {
		return r == o
	}
	for i := range r.extra {
		if !r.extra[i].Equal(o.extra[i]) {
			return false
		}
	}
	return true
}

// String returns the record policy in the ParseRecord syntax.
func (r *Record) String() string {
	if r == nil {
		return ""
	}
	var parts []string
	for _, l := range Levels {
		if t := r.extra[l]; t != nil {
			parts = append(parts, l.String()+": "+t.String())
		}
	}
	return strings.Join(parts, "; ")
}
