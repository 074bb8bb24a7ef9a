package grade

import (
	"fmt"
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
// about 330 KB, depth 11 and 8,000 values.
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
// date/time semantics) at a cost of about 28 ms of CPU per Synthea bundle,
// against about 5.5 ms for grading itself (docs/grading.md): off by default.
func WithLibraryValidation() Option {
	return func(g *Grader) error {
		u, err := jsonformat.NewUnmarshaller("UTC", fhirversion.R4)
		if err != nil {
			return fmt.Errorf("grade: FHIR unmarshaller: %w", err)
		}
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
	if g.lib != nil {
		g.lib.MaxNestingDepth = g.lim.MaxDepth // whatever the options' order
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
	_, err := g.parseAndGrade(doc, func(w *walker, n *node, rule int) {
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
	if len(root.keys) == 0 {
		return nil, &InputError{Offset: -1, Reason: "the document is empty"}
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
