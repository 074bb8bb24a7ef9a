package grade

import (
	"fmt"
	"sort"

	"github.com/medshare/medshare/abe/policy"
)

// The HL7 v3 ObservationValue code a resource carries in meta.security when
// elements were withheld from it, and the data-absent-reason a withheld
// required element is replaced by.
const (
	SecuritySystem      = "http://terminology.hl7.org/CodeSystem/v3-ObservationValue"
	SecurityRedacted    = "REDACTED"
	DataAbsentReasonURL = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"
	DataAbsentMasked    = "masked"
)

// Assemble rebuilds a document from the plaintexts of the levels a reader
// opened (nil for a level not opened or empty). Elements of the other levels
// are absent: arrays are compacted, objects left empty are dropped. For a
// FHIR document, every resource that lost elements carries the REDACTED
// security label in meta.security, and a required element that was withheld
// is replaced by a data-absent-reason "masked" extension so that the result
// stays valid FHIR R4 (docs/grading.md). The result is compact JSON,
// deterministic, and equal to what Filter gives for the same levels; with
// every level of the document it equals the original document (as compact
// JSON, with the original's key order). With no level at all it returns nil.
// Plaintexts that are not well-formed or do not belong to one document are
// refused with an error matching ErrInvalidLevels.
func Assemble(opened [policy.NumLevels][]byte) ([]byte, error) {
	return AssembleWithLimits(opened, DefaultLimits())
}

// AssembleWithLimits is Assemble for documents graded under other Limits
// (pass the grading gateway's): each level may be at most twice MaxBytes,
// elements at most MaxDepth deep, and all levels together at most MaxValues
// elements.
func AssembleWithLimits(opened [policy.NumLevels][]byte, lim Limits) ([]byte, error) {
	if err := lim.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidLevels, err)
	}
	var levels []*decodedLevel
	var openedMask uint8
	kind := ""
	total := 0
	for l, data := range opened {
		if data == nil {
			continue
		}
		d, err := decodeLevel(data, policy.Level(l), lim)
		if err != nil {
			return nil, err
		}
		if kind != "" && d.kind != kind {
			return nil, fmt.Errorf("%w: levels of different documents (%q, %q)", ErrInvalidLevels, truncate(kind, 20), truncate(d.kind, 20))
		}
		kind = d.kind
		total += len(d.els)
		if total > lim.MaxValues {
			return nil, fmt.Errorf("%w: too many elements", ErrInvalidLevels)
		}
		openedMask |= 1 << l
		levels = append(levels, d)
	}
	if levels == nil {
		return nil, nil
	}
	els := make([]levelElem, 0, total)
	for _, d := range levels {
		els = append(els, d.els...)
	}
	sort.SliceStable(els, func(i, j int) bool { return els[i].ord < els[j].ord })
	root := &node{kind: kObject}
	for i := range els {
		if i > 0 && els[i].ord == els[i-1].ord {
			return nil, fmt.Errorf("%w: two elements with ordinal %d", ErrInvalidLevels, els[i].ord)
		}
		if err := insert(root, els[i].path, els[i].value); err != nil {
			return nil, err
		}
	}
	fhir := kind != "json"
	if fhir {
		masks := map[string]uint8{}
		for _, d := range levels {
			for _, r := range d.res {
				k := pathKey(r.path)
				if m, ok := masks[k]; ok && m != r.mask {
					return nil, fmt.Errorf("%w: levels disagree on a resource", ErrInvalidLevels)
				}
				masks[k] = r.mask
				n := locate(root, r.path)
				if n == nil || n.kind != kObject {
					return nil, fmt.Errorf("%w: a listed resource is missing", ErrInvalidLevels)
				}
				if rt := n.get("resourceType"); rt == nil {
					prependResourceType(n, r.rtype)
				} else if rt.kind != kString || rt.str != r.rtype {
					return nil, fmt.Errorf("%w: levels disagree on a resource's type", ErrInvalidLevels)
				}
				n.res = true
				n.lost = r.mask&^openedMask != 0
			}
		}
		if rt := root.get("resourceType"); rt == nil || rt.kind != kString || rt.str != kind {
			return nil, fmt.Errorf("%w: the document's resourceType does not match its kind", ErrInvalidLevels)
		}
		if err := finish(root); err != nil {
			return nil, err
		}
	}
	return appendJSON(make([]byte, 0, 1<<16), root), nil
}

// insert adds leaf value at path (original indices) to the tree being
// rebuilt. Elements come in document order, so a new key is appended and a
// new original index starts a new array element.
func insert(root *node, path []pathSeg, value *node) error {
	if len(path) == 0 {
		return fmt.Errorf("%w: element with an empty path", ErrInvalidLevels)
	}
	cur := root
	for i, p := range path {
		last := i == len(path)-1
		var next *node
		if p.key != "" {
			if cur.kind != kObject {
				return fmt.Errorf("%w: key under a non-object", ErrInvalidLevels)
			}
			// In document order the elements under a key are contiguous: a
			// path goes on under the last key or starts a new one.
			if k := len(cur.keys); k > 0 && cur.keys[k-1] == p.key {
				if last {
					return fmt.Errorf("%w: two elements at one path", ErrInvalidLevels)
				}
				next = cur.vals[k-1]
			} else {
				if hasKey(cur, p.key) {
					return fmt.Errorf("%w: elements out of order", ErrInvalidLevels)
				}
				next = newStep(path, i, value)
				cur.keys = append(cur.keys, p.key)
				cur.vals = append(cur.vals, next)
			}
		} else {
			if cur.kind != kArray {
				return fmt.Errorf("%w: index under a non-array", ErrInvalidLevels)
			}
			n := len(cur.orig)
			switch {
			case n > 0 && cur.orig[n-1] == p.idx:
				if last {
					return fmt.Errorf("%w: two elements at one path", ErrInvalidLevels)
				}
				next = cur.vals[n-1]
			case n == 0 || cur.orig[n-1] < p.idx:
				next = newStep(path, i, value)
				cur.vals = append(cur.vals, next)
				cur.orig = append(cur.orig, p.idx)
			default:
				return fmt.Errorf("%w: elements out of order", ErrInvalidLevels)
			}
		}
		if !last && next.kind < kObject {
			return fmt.Errorf("%w: path through a primitive", ErrInvalidLevels)
		}
		cur = next
	}
	return nil
}

// hasKey reports whether object n (being assembled) has key k: a scan for
// small objects, an index built on demand for large ones (a plain JSON
// object may have many keys).
func hasKey(n *node, k string) bool {
	if len(n.keys) < 16 {
		for _, kk := range n.keys {
			if kk == k {
				return true
			}
		}
		return false
	}
	if n.seen == nil {
		n.seen = make(map[string]struct{}, len(n.keys)*2)
		for _, kk := range n.keys {
			n.seen[kk] = struct{}{}
		}
	}
	if _, ok := n.seen[k]; ok {
		return true
	}
	n.seen[k] = struct{}{}
	return false
}

func newStep(path []pathSeg, i int, value *node) *node {
	if i == len(path)-1 {
		return value
	}
	if path[i+1].key != "" {
		return &node{kind: kObject}
	}
	return &node{kind: kArray}
}

// locate finds the node at path (original indices) in a rebuilt tree.
func locate(root *node, path []pathSeg) *node {
	cur := root
	for _, p := range path {
		if p.key != "" {
			if cur.kind != kObject {
				return nil
			}
			cur = cur.get(p.key)
		} else {
			if cur.kind != kArray {
				return nil
			}
			j := sort.SearchInts(cur.orig, p.idx)
			if j >= len(cur.orig) || cur.orig[j] != p.idx {
				return nil
			}
			cur = cur.vals[j]
		}
		if cur == nil {
			return nil
		}
	}
	return cur
}

func pathKey(p []pathSeg) string {
	b := make([]byte, 0, 64)
	for _, s := range p {
		b = appendSeg(b, s)
		b = append(b, 0)
	}
	return string(b)
}

// Filter grades doc and returns what a reader of the levels up to top
// sees: the same bytes as Assemble given exactly those levels' plaintexts.
// It is computed from the original document, independently of the level
// encoding, so that tests can compare a decrypted record with the expected
// one. It returns nil when no element is graded top or lower.
func (g *Grader) Filter(doc []byte, top policy.Level) ([]byte, error) {
	if !top.Valid() {
		return nil, fmt.Errorf("%w: %d", policy.ErrInvalidLevel, uint8(top))
	}
	t, err := g.parseAndGrade(doc, nil)
	if err != nil {
		return nil, err
	}
	var mask uint8
	for l := policy.Low; l <= top; l++ {
		mask |= 1 << l
	}
	out, _ := filterNode(t.root, mask)
	if out == nil {
		return nil, nil
	}
	if t.fhir {
		if err := finish(out); err != nil {
			return nil, err
		}
	}
	return appendJSON(make([]byte, 0, 1<<16), out), nil
}

// filterNode copies the elements of n whose level is in mask; it returns nil
// when none is, and whether any element under n was left out.
func filterNode(n *node, mask uint8) (*node, bool) {
	if n.isLeaf() {
		if mask&(1<<n.lvl) != 0 {
			return n, false
		}
		return nil, true
	}
	out := &node{kind: n.kind}
	lost := false
	for i, v := range n.vals {
		c, l := filterNode(v, mask)
		lost = lost || l
		if c == nil {
			continue
		}
		if n.kind == kObject {
			out.keys = append(out.keys, n.keys[i])
		}
		out.vals = append(out.vals, c)
	}
	if len(out.vals) == 0 {
		return nil, lost
	}
	if n.res {
		out.res, out.lost = true, lost
		if out.get("resourceType") == nil {
			prependResourceType(out, n.get("resourceType").str)
		}
	}
	return out, lost
}

// prependResourceType gives a resource whose resourceType was in a level not
// opened its type back, first. (With nested levels this does not happen:
// resourceType has the lowest level of its resource's elements.)
func prependResourceType(n *node, rt string) {
	n.keys = append([]string{"resourceType"}, n.keys...)
	n.vals = append([]*node{strNode(rt)}, n.vals...)
}

// finish makes a FHIR tree that lost elements valid again: the REDACTED
// label on every resource that lost elements, a data-absent-reason for each
// withheld required element, and no all-null primitive arrays.
func finish(root *node) error {
	s := r4()
	return finishResource(s, root)
}

func finishResource(s *schema, n *node) error {
	rt := n.get("resourceType")
	if rt == nil || rt.kind != kString || s.resources[rt.str] == nil {
		return fmt.Errorf("%w: a resource without a known resourceType", ErrInvalidLevels)
	}
	if err := finishObject(s, n, s.resources[rt.str], true, 0); err != nil {
		return err
	}
	if n.lost {
		addRedacted(n)
	}
	return nil
}

func finishObject(s *schema, n *node, t *ftype, isResource bool, depth int) error {
	if depth > 256 {
		return fmt.Errorf("%w: too deep", ErrInvalidLevels)
	}
	fm := t.fieldMap()
	for i := 0; i < len(n.keys); i++ {
		k := n.keys[i]
		if k == "resourceType" && isResource {
			continue
		}
		f := fm[k]
		if f == nil {
			return fmt.Errorf("%w: unknown element %q", ErrInvalidLevels, truncate(k, 40))
		}
		v := n.vals[i]
		vals := []*node{v}
		if (v.kind == kArray) != f.repeated {
			return fmt.Errorf("%w: %q: array and single value mixed up", ErrInvalidLevels, truncate(k, 40))
		}
		if f.repeated {
			if allNull(v) {
				n.keys = append(n.keys[:i], n.keys[i+1:]...)
				n.vals = append(n.vals[:i], n.vals[i+1:]...)
				i--
				continue
			}
			vals = v.vals
		}
		for _, e := range vals {
			// Kinds are checked (values are not: they were checked when
			// graded, and the levels are authenticated by the gateway's AEAD),
			// so that the fix-ups below never meet a value of the wrong shape.
			wantObject := f.primExt || f.typ.kind != tPrimitive
			if e.kind == kNull && f.repeated && f.typ.kind == tPrimitive {
				continue
			}
			if (e.kind == kObject) != wantObject || e.kind == kArray {
				return fmt.Errorf("%w: %q: value of the wrong kind", ErrInvalidLevels, truncate(k, 40))
			}
			if e.kind != kObject {
				continue
			}
			var err error
			switch {
			case f.primExt:
				err = finishObject(s, e, f.typ.elemType(), false, depth+1)
			case f.typ.kind == tAnyResource:
				err = finishResource(s, e)
			case f.typ.kind != tPrimitive:
				err = finishObject(s, e, f.typ, false, depth+1)
			}
			if err != nil {
				return err
			}
		}
	}
	for _, rf := range t.requiredFields() {
		if !hasElement(n, fm, rf.name) {
			addMask(n, rf, 0)
		}
	}
	return nil
}

func allNull(a *node) bool {
	for _, v := range a.vals {
		if v.kind != kNull {
			return false
		}
	}
	return true
}

func strNode(s string) *node { return &node{kind: kString, str: s} }

func objNode(kv ...any) *node {
	n := &node{kind: kObject}
	for i := 0; i < len(kv); i += 2 {
		n.keys = append(n.keys, kv[i].(string))
		n.vals = append(n.vals, kv[i+1].(*node))
	}
	return n
}

// dataAbsent returns {"extension":[{"url":…data-absent-reason,"valueCode":"masked"}]}.
func dataAbsent() *node {
	ext := objNode("url", strNode(DataAbsentReasonURL), "valueCode", strNode(DataAbsentMasked))
	return objNode("extension", &node{kind: kArray, vals: []*node{ext}})
}

// addMask appends a placeholder for withheld required element f to n: the
// primitive's "_x" object, or the complex value, holding only a
// data-absent-reason extension (and placeholders for its own required
// elements).
func addMask(n *node, f *field, depth int) {
	if depth > 8 || f.typ.kind == tAnyResource || f.typ.kind == tResource {
		return
	}
	key := f.key
	v := dataAbsent()
	if f.typ.kind == tPrimitive {
		key = "_" + f.key
	} else {
		for _, rf := range f.typ.requiredFields() {
			addMask(v, rf, depth+1)
		}
	}
	if f.repeated {
		v = &node{kind: kArray, vals: []*node{v}}
	}
	n.keys = append(n.keys, key)
	n.vals = append(n.vals, v)
}

// addRedacted adds the REDACTED code to the resource's meta.security, unless
// it is there already. A new meta goes after id (or resourceType).
func addRedacted(n *node) {
	code := objNode("system", strNode(SecuritySystem), "code", strNode(SecurityRedacted), "display", strNode("redacted"))
	meta := n.get("meta")
	if meta == nil || meta.kind != kObject {
		meta = objNode("security", &node{kind: kArray, vals: []*node{code}})
		at := 0
		for i, k := range n.keys {
			if k == "resourceType" || k == "id" {
				at = i + 1
			}
		}
		n.keys = append(n.keys[:at], append([]string{"meta"}, n.keys[at:]...)...)
		n.vals = append(n.vals[:at], append([]*node{meta}, n.vals[at:]...)...)
		return
	}
	sec := meta.get("security")
	if sec == nil || sec.kind != kArray {
		meta.keys = append(meta.keys, "security")
		meta.vals = append(meta.vals, &node{kind: kArray, vals: []*node{code}})
		return
	}
	for _, c := range sec.vals {
		if c.kind != kObject {
			continue
		}
		sys, cd := c.get("system"), c.get("code")
		if sys != nil && cd != nil && sys.str == SecuritySystem && cd.str == SecurityRedacted {
			return
		}
	}
	sec.vals = append(sec.vals, code)
}
