package grade

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/google/fhir/go/fhirversion"
	"github.com/google/fhir/go/jsonformat"
	"github.com/medshare/medshare/abe/policy"
)

// Limits bound the documents a Grader accepts (and Assemble decodes). A
// document over a limit is refused with an *InputError matching ErrTooLarge.
type Limits struct {
	// MaxBytes is the largest document, in bytes.
	MaxBytes int
	// MaxDepth is the deepest JSON nesting (objects and arrays).
	MaxDepth int
	// MaxValues is the largest number of JSON values (objects, arrays and
	// primitives) in a document.
	MaxValues int
}

// DefaultLimits returns the limits used unless WithLimits says otherwise:
// 16 MiB, depth 64, 1,048,576 JSON values. A Synthea patient bundle is
// about 330 KB, depth 11 and 15,000 values.
func DefaultLimits() Limits {
	return Limits{MaxBytes: 16 << 20, MaxDepth: 64, MaxValues: 1 << 20}
}

// Validate checks that every limit is positive.
func (l Limits) Validate() error {
	if l.MaxBytes <= 0 || l.MaxDepth <= 0 || l.MaxValues <= 0 {
		return fmt.Errorf("grade: limits must be positive: %+v", l)
	}
	return nil
}

// Option configures a Grader.
type Option func(*Grader) error

// WithLimits replaces DefaultLimits.
func WithLimits(l Limits) Option {
	return func(g *Grader) error {
		if err := l.Validate(); err != nil {
			return err
		}
		g.lim = l
		return nil
	}
}

// WithLibraryValidation makes Grade also run google/fhir's validating R4
// unmarshaller on every FHIR document, after the Grader's own strict check.
// It catches what the schema walk does not check (reference target types,
// date/time semantics) at a cost of about 27 ms per Synthea bundle on the
// reference machine, against about 3 ms for grading itself: off by default.
func WithLibraryValidation() Option {
	return func(g *Grader) error {
		u, err := jsonformat.NewUnmarshaller("UTC", fhirversion.R4)
		if err != nil {
			return fmt.Errorf("grade: FHIR unmarshaller: %w", err)
		}
		u.MaxNestingDepth = g.lim.MaxDepth
		g.lib = u
		return nil
	}
}

// Grader grades documents by a rule set. It is safe for concurrent use.
type Grader struct {
	rules *Rules
	c     *compiled
	lim   Limits
	lib   *jsonformat.Unmarshaller
	s     *schema

	mu   sync.RWMutex
	memo map[string]memoEntry // graded path → rule, bounded by maxMemo
}

type memoEntry struct {
	rule  int32 // index in the FHIR or JSON rules, -1 for the default
	level policy.Level
}

const maxMemo = 1 << 14

// New builds a Grader from a validated copy of r.
func New(r *Rules, opts ...Option) (*Grader, error) {
	c, err := compileRules(r)
	if err != nil {
		return nil, err
	}
	cp := *r
	cp.FHIR = append([]Rule(nil), r.FHIR...)
	cp.JSON = append([]Rule(nil), r.JSON...)
	g := &Grader{rules: &cp, c: c, lim: DefaultLimits(), s: r4(), memo: map[string]memoEntry{}}
	for _, o := range opts {
		if err := o(g); err != nil {
			return nil, err
		}
	}
	return g, nil
}

// Rules returns the Grader's rule set (a copy: changing it changes nothing).
func (g *Grader) Rules() *Rules {
	cp := *g.rules
	cp.FHIR = append([]Rule(nil), g.rules.FHIR...)
	cp.JSON = append([]Rule(nil), g.rules.JSON...)
	return &cp
}

// Graded is a graded document, split into its levels.
type Graded struct {
	// Kind is "Bundle", the resource type of a single resource, or "json".
	Kind string
	// RulesVersion is the Version of the rules that graded the document.
	RulesVersion string
	// Levels holds each level's plaintext: the level's elements in the
	// encoding described in docs/grading.md (deterministic, compact). A level
	// with no element is nil.
	Levels [policy.NumLevels][]byte
	// Counts is the number of elements graded at each level.
	Counts [policy.NumLevels]int
	// ByType counts the elements of each level per resource type (the
	// innermost resource holding the element; "Bundle" for a Bundle's own
	// elements, "json" for a plain JSON document).
	ByType map[string][policy.NumLevels]int
	// Defaulted is how many elements no rule matched (graded at the default
	// level): a rule set that fits the data keeps it near zero.
	Defaulted int
}

// Total returns the number of elements of all levels.
func (gr *Graded) Total() int {
	t := 0
	for _, c := range gr.Counts {
		t += c
	}
	return t
}

// Grade parses and checks doc (a FHIR R4 Bundle, a single FHIR R4 resource,
// or a plain JSON object), grades every element and splits the document into
// its levels. A document that is not valid JSON, not valid FHIR R4 (when it
// has a resourceType), or over the limits is refused with an *InputError.
func (g *Grader) Grade(doc []byte) (*Graded, error) {
	t, err := g.parseAndGrade(doc, nil)
	if err != nil {
		return nil, err
	}
	return encodeLevels(t, g.rules.Version), nil
}

// Element is one graded element, as Walk reports it.
type Element struct {
	// Path is the element's JSON path from the document's root, with array
	// indices ("entry[0].resource.name[0].given[0]").
	Path string
	// Resource is the type of the innermost resource holding the element
	// ("" in a plain JSON document).
	Resource string
	// RulePath is the path rules are matched against: the resource type and
	// JSON keys, without indices ("Patient.name.given"); for plain JSON the
	// keys alone.
	RulePath string
	// Type is the element's FHIR type ("date", "string", "code"; "" for plain
	// JSON).
	Type string
	// Level is the element's grade.
	Level policy.Level
	// Rule is the index of the deciding rule in Rules.FHIR (or Rules.JSON for
	// a plain JSON document), -1 when the default level applied. Elements
	// whose level was adjusted (see docs/grading.md: resourceType,
	// Extension.url, primitive arrays with extensions) report the rule that
	// matched their path.
	Rule int
	// Value is the element's value as compact JSON.
	Value []byte
}

// Walk grades doc and calls fn for every element in document order; it
// stops at the first error fn returns. It is meant for tools that transform
// elements by grade (the de-identifier).
func (g *Grader) Walk(doc []byte, fn func(Element) error) error {
	var els []Element
	var nodes []*node
	t, err := g.parseAndGrade(doc, func(w *walker, n *node, rule int) {
		els = append(els, Element{
			Path:     w.jsonPath(),
			Resource: w.resourceType(),
			RulePath: w.rulePath(),
			Type:     w.st[len(w.st)-1].tname,
			Rule:     rule,
			Value:    appendJSON(nil, n),
		})
		nodes = append(nodes, n)
	})
	if err != nil {
		return err
	}
	_ = t
	for i := range els {
		els[i].Level = nodes[i].lvl
		if err := fn(els[i]); err != nil {
			return err
		}
	}
	return nil
}

// tree is a parsed, checked and graded document.
type tree struct {
	root      *node
	fhir      bool
	kind      string
	defaulted int
}

func (g *Grader) parseAndGrade(doc []byte, visit func(*walker, *node, int)) (*tree, error) {
	if len(doc) > g.lim.MaxBytes {
		return nil, &InputError{Offset: -1, Reason: fmt.Sprintf("document of %d bytes, limit %d", len(doc), g.lim.MaxBytes), limit: true}
	}
	root, perr := parseJSON(doc, parseLimits{maxDepth: g.lim.MaxDepth, maxNodes: g.lim.MaxValues})
	if perr != nil {
		return nil, &InputError{Offset: perr.off, Reason: perr.reason, limit: perr.limit}
	}
	if root.kind != kObject {
		return nil, &InputError{Offset: -1, Reason: "the document must be a JSON object, found " + root.kind.String()}
	}
	t := &tree{root: root}
	w := &walker{g: g, visit: visit}
	if rt := root.get("resourceType"); rt != nil {
		t.fhir = true
		w.fhir = true
		w.resource(root)
		if w.err == nil && g.lib != nil {
			if _, err := g.lib.Unmarshal(doc); err != nil {
				w.err = &InputError{Offset: -1, Reason: "FHIR R4 validation: " + truncate(err.Error(), 300)}
			}
		}
		if w.err == nil {
			t.kind = root.get("resourceType").str
		}
	} else {
		t.kind = "json"
		w.st = append(w.st[:0], seg{})
		w.memoKey = append(w.memoKey[:0], 0)
		w.jsonValue(root)
	}
	if w.err != nil {
		return nil, w.err
	}
	t.defaulted = w.defaulted
	return t, nil
}

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
