package grade

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"

	"github.com/medshare/medshare/abe/policy"
)

// The walker checks a parsed document against the FHIR R4 schema (or walks
// a plain JSON document) and grades each element by the rules. Grading is
// local and post-order: an element's level comes from the rule matching its
// path, then structural elements (resourceType, Extension.url) and aligned
// primitive arrays are adjusted once their object is done.

// pathSeg is one step of a JSON path: a key, or an index when key == "".
type pathSeg struct {
	key string
	idx int
}

// walker walks a parsed document with its FHIR types, checks it, and grades
// its leaves.
type walker struct {
	g         *Grader
	fhir      bool
	st        []seg     // typed path within the current resource (st[0] = the resource)
	memoKey   []byte    // resource type + "." + JSON keys of st[1:]
	path      []pathSeg // JSON path from the document's root
	resTypes  []string  // enclosing resource types
	err       *InputError
	defaulted int
	visit     func(*walker, *node, int)
}

func (w *walker) fail(reason string) {
	if w.err == nil {
		w.err = &InputError{Path: w.jsonPath(), Offset: -1, Reason: reason}
	}
}

func (w *walker) jsonPath() string {
	var b strings.Builder
	for _, p := range w.path {
		if p.key == "" {
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(p.idx))
			b.WriteByte(']')
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(p.key)
	}
	return b.String()
}

// rulePath is the resource type (FHIR) and the keys of the current path,
// joined by ".".
func (w *walker) rulePath() string {
	var b strings.Builder
	for i, s := range w.st {
		if i == 0 && !w.fhir {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(s.key)
	}
	return b.String()
}

func (w *walker) resourceType() string {
	if len(w.resTypes) == 0 {
		return ""
	}
	return w.resTypes[len(w.resTypes)-1]
}

// grade sets the level of a leaf from the rules (memoised by path).
func (w *walker) grade(n *node) {
	key := w.memoKey
	w.g.mu.RLock()
	m, ok := w.g.memo[string(key)]
	w.g.mu.RUnlock()
	if !ok {
		rules := w.g.c.fhir
		if !w.fhir {
			rules = w.g.c.json
		}
		i := match(rules, w.st)
		m = memoEntry{rule: int32(i), level: w.g.c.def}
		if i >= 0 {
			m.level = rules[i].level
			m.rule = int32(rules[i].src)
		}
		w.g.mu.Lock()
		if len(w.g.memo) < maxMemo {
			w.g.memo[string(key)] = m
		}
		w.g.mu.Unlock()
	}
	n.lvl = m.level
	if m.rule < 0 {
		w.defaulted++
	}
	if w.visit != nil {
		w.visit(w, n, int(m.rule))
	}
}

func (w *walker) push(key string, name string, t *ftype, choice bool) int {
	tn := ""
	if t != nil {
		tn = t.name
	}
	w.st = append(w.st, seg{key: key, name: name, tname: tn, choice: choice})
	l := len(w.memoKey)
	// Length-prefixed, so that a key holding "." cannot stand for two keys.
	w.memoKey = binary.AppendUvarint(w.memoKey, uint64(len(key)))
	w.memoKey = append(w.memoKey, key...)
	w.path = append(w.path, pathSeg{key: key})
	return l
}

func (w *walker) pop(l int) {
	w.st = w.st[:len(w.st)-1]
	w.memoKey = w.memoKey[:l]
	w.path = w.path[:len(w.path)-1]
}

// resource checks and grades a resource object (the document, a Bundle
// entry's resource or a contained resource), in a context of its own.
func (w *walker) resource(n *node) {
	if n.kind != kObject {
		w.fail("expected a resource (JSON object), found " + n.kind.String())
		return
	}
	rtn := n.get("resourceType")
	if rtn == nil {
		w.fail("missing resourceType")
		return
	}
	if rtn.kind != kString {
		w.fail("resourceType must be a string")
		return
	}
	t := w.g.s.resources[rtn.str]
	if t == nil {
		w.fail(fmt.Sprintf("unknown FHIR R4 resource type %q", truncate(rtn.str, 40)))
		return
	}
	n.res = true
	savedSt, savedKey := w.st, w.memoKey
	w.st = []seg{{key: t.name, name: t.name, tname: t.name}}
	w.memoKey = append([]byte(nil), t.name...)
	w.resTypes = append(w.resTypes, t.name)
	// resourceType is graded like an element, then lowered to the lowest
	// level of the rest of the resource: it travels with the resource.
	l := w.push("resourceType", "resourceType", nil, false)
	w.grade(rtn)
	w.pop(l)
	w.object(n, t, true)
	structural(n, rtn)
	w.resTypes = w.resTypes[:len(w.resTypes)-1]
	w.st, w.memoKey = savedSt, savedKey
}

// object checks the keys of a FHIR object of type t and walks its values.
func (w *walker) object(n *node, t *ftype, isResource bool) {
	if w.err != nil {
		return
	}
	if n.kind != kObject {
		w.fail(fmt.Sprintf("expected a JSON object, found %s", n.kind))
		return
	}
	if len(n.keys) == 0 {
		w.fail("empty object (FHIR elements must have a value or children)")
		return
	}
	fm := t.fieldMap()
	var choices []struct{ name, key string }
	for i, k := range n.keys {
		v := n.vals[i]
		if k == "resourceType" && isResource {
			continue
		}
		f := fm[k]
		if f == nil {
			l := w.push(k, k, nil, false)
			w.fail(fmt.Sprintf("unknown element %q in %s", truncate(k, 40), typeLabel(t)))
			w.pop(l)
			return
		}
		if f.choice {
			base := strings.TrimPrefix(k, "_")
			for _, c := range choices {
				if c.name == f.name && c.key != base {
					w.fail(fmt.Sprintf("%s[x] has two values (%s and %s)", f.name, c.key, base))
					return
				}
			}
			choices = append(choices, struct{ name, key string }{f.name, base})
		}
		w.fieldValue(n, f, v)
		if w.err != nil {
			return
		}
	}
	for _, rf := range t.requiredFields() {
		if !hasElement(n, fm, rf.name) {
			w.fail(fmt.Sprintf("missing required element %q of %s", rf.name, typeLabel(t)))
			return
		}
	}
	alignPrimitiveArrays(n, fm)
	if t.name == "Extension" {
		if u := n.get("url"); u != nil {
			structural(n, u)
		}
	}
}

// hasElement reports whether object n has a key for element name.
func hasElement(n *node, fm map[string]*field, name string) bool {
	for _, k := range n.keys {
		if f := fm[k]; f != nil && f.name == name {
			return true
		}
	}
	return false
}

func (w *walker) fieldValue(parent *node, f *field, v *node) {
	l := w.push(f.key, f.name, f.typ, f.choice)
	defer w.pop(l)
	if !f.repeated {
		if v.kind == kArray {
			w.fail("expected a single value, found an array")
			return
		}
		w.value(f, v, false, nil)
		return
	}
	if v.kind != kArray {
		w.fail(fmt.Sprintf("expected an array, found %s", v.kind))
		return
	}
	if len(v.vals) == 0 {
		w.fail("empty array")
		return
	}
	// In a primitive array, null holds the place of an element that only
	// has extensions in the "_x" array (and the other way round).
	var partner *node
	if f.typ.kind == tPrimitive {
		other := "_" + f.key
		if f.primExt {
			other = f.key[1:]
		}
		partner = parent.get(other)
		if partner != nil && (partner.kind != kArray || len(partner.vals) != len(v.vals)) {
			w.fail(fmt.Sprintf("%s and %s must be arrays of the same length", f.key, other))
			return
		}
	}
	for i, e := range v.vals {
		w.path = append(w.path, pathSeg{idx: i})
		w.value(f, e, true, partnerAt(partner, i))
		w.path = w.path[:len(w.path)-1]
		if w.err != nil {
			return
		}
	}
}

func partnerAt(p *node, i int) *node {
	if p == nil {
		return nil
	}
	return p.vals[i]
}

func (w *walker) value(f *field, v *node, inArray bool, partner *node) {
	if v.kind == kNull {
		if inArray && partner != nil && partner.kind != kNull {
			w.grade(v) // an alignment placeholder, graded with its partner
			return
		}
		w.fail("null is not a FHIR value")
		return
	}
	switch {
	case f.primExt:
		w.object(v, f.typ.elemType(), false)
	case f.typ.kind == tPrimitive:
		if reason := f.typ.checkPrimitive(v); reason != "" {
			w.fail(reason)
			return
		}
		w.grade(v)
	case f.typ.kind == tAnyResource:
		w.resource(v)
	default:
		w.object(v, f.typ, false)
	}
}

// jsonValue grades a plain JSON value: every primitive, null, empty object
// and empty array is an element; rules see the keys, not array indices.
func (w *walker) jsonValue(n *node) {
	switch n.kind {
	case kObject:
		if len(n.keys) == 0 {
			w.grade(n)
			return
		}
		for i, k := range n.keys {
			if k == "" {
				w.fail("empty key")
				return
			}
			l := w.push(k, k, nil, false)
			w.jsonValue(n.vals[i])
			w.pop(l)
			if w.err != nil {
				return
			}
		}
	case kArray:
		if len(n.vals) == 0 {
			w.grade(n)
			return
		}
		for i, e := range n.vals {
			w.path = append(w.path, pathSeg{idx: i})
			w.jsonValue(e)
			w.path = w.path[:len(w.path)-1]
			if w.err != nil {
				return
			}
		}
	default:
		w.grade(n)
	}
}

// structural gives leaf s of object n the lowest level of n's other
// elements, so that s is present exactly when n is (resourceType with its
// resource, url with its extension). With no other element s keeps its own
// grade.
func structural(n *node, s *node) {
	lo, ok := policy.Level(policy.High), false
	var visit func(x *node)
	visit = func(x *node) {
		if x == s {
			return
		}
		if x.isLeaf() {
			if !ok || x.lvl < lo {
				lo, ok = x.lvl, true
			}
			return
		}
		for _, v := range x.vals {
			visit(v)
		}
	}
	visit(n)
	if ok {
		s.lvl = lo
	}
}

// alignPrimitiveArrays gives x[i] and _x[i] of a primitive array the same
// (highest) level, so that both arrays stay aligned when levels are dropped.
func alignPrimitiveArrays(n *node, fm map[string]*field) {
	for i, k := range n.keys {
		f := fm[k]
		if f == nil || f.primExt || !f.repeated || f.typ.kind != tPrimitive {
			continue
		}
		ext := n.get("_" + k)
		if ext == nil {
			continue
		}
		vals := n.vals[i]
		for j := range vals.vals {
			hi := maxLevel(vals.vals[j])
			if h := maxLevel(ext.vals[j]); h > hi {
				hi = h
			}
			setLevel(vals.vals[j], hi)
			setLevel(ext.vals[j], hi)
		}
	}
}

func maxLevel(n *node) policy.Level {
	if n.isLeaf() {
		return n.lvl
	}
	hi := policy.Low
	for _, v := range n.vals {
		if l := maxLevel(v); l > hi {
			hi = l
		}
	}
	return hi
}

func setLevel(n *node, l policy.Level) {
	if n.isLeaf() {
		n.lvl = l
		return
	}
	for _, v := range n.vals {
		setLevel(v, l)
	}
}
