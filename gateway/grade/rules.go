package grade

import (
	_ "embed"
	"errors"
	"fmt"
	"strings"

	"github.com/medshare/medshare/abe/policy"
	"gopkg.in/yaml.v3"
)

// ErrInvalidRules is returned (wrapped) by ParseRules and Validate for a rule
// set that cannot be used.
var ErrInvalidRules = errors.New("grade: invalid rules")

//go:embed rules.yaml
var defaultRulesYAML []byte

// Rule grades one FHIR or JSON path, and everything under it, at Level.
//
// A FHIR path starts with a resource type ("Patient.birthDate"), "*" for any
// resource ("*.text.div"), or a datatype or primitive type name, which
// matches wherever an element of that type occurs ("HumanName",
// "Reference.display", "dateTime"). The following segments are element
// names; a choice element is written "value[x]" or "value" (any type) or
// "valueQuantity" (one type); "*" matches any one element. Paths never cross
// into a nested resource (Bundle.entry.resource, contained): the nested
// resource is graded by the rules of its own type.
//
// A JSON path (for plain JSON documents) is a dot-separated list of keys
// from the document's root; "*" matches any one key, and a leading "**"
// matches any number of keys, so "**.ssn" grades every "ssn" key.
type Rule struct {
	Path  string       `yaml:"path"`
	Level policy.Level `yaml:"level"`
	// HIPAA names the Safe Harbor identifier(s) (A–R of 45 CFR
	// 164.514(b)(2)(i)) the rule is for, or "-" for clinical content.
	// Documentation only.
	HIPAA string `yaml:"hipaa,omitempty"`
	// Note says why. Documentation only.
	Note string `yaml:"note,omitempty"`
}

// Rules is a versioned rule set that grades every element of a document.
// For each element the most specific matching rule wins (see docs/grading.md
// for the precedence); an element no rule matches gets Default, which may not
// be low (fail closed). Rules is immutable once built; build a Grader from it
// with New.
type Rules struct {
	// Version names the rule set; the gateway records it with each record.
	Version string `yaml:"version"`
	// Default is the level of an element no rule matches: medium or high.
	Default policy.Level `yaml:"default"`
	// FHIR rules apply to FHIR resources and Bundles.
	FHIR []Rule `yaml:"fhir"`
	// JSON rules apply to plain JSON documents (no resourceType).
	JSON []Rule `yaml:"json"`
}

// DefaultRules returns the default rule set (rules.yaml in this package),
// documented rule by rule in docs/grading.md.
func DefaultRules() *Rules {
	r, err := ParseRules(defaultRulesYAML)
	if err != nil {
		// The embedded file is checked by the package's tests; reaching this
		// is a build defect, so fail closed with a rule set grading
		// everything high rather than panicking.
		return &Rules{Version: "invalid-embedded-rules", Default: policy.High}
	}
	return r
}

// ParseRules parses a YAML rule set (unknown keys refused) and validates it.
func ParseRules(data []byte) (*Rules, error) {
	var r Rules
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidRules, err)
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return &r, nil
}

// Validate checks the rule set: a version, a default that is not low, valid
// levels, well-formed paths, no path written twice, and for FHIR paths that
// every named resource, type and element exists in FHIR R4.
func (r *Rules) Validate() error {
	_, err := compileRules(r)
	return err
}

// rkind is what a compiled rule is anchored at.
type rkind uint8

const (
	rResource rkind = iota // a resource type, or "*" for any resource
	rType                  // a FHIR datatype: matches at any node of that type
	rJSON                  // the root of a plain JSON document
)

// crule is a compiled rule.
type crule struct {
	src      int // index in the source list
	kind     rkind
	root     string   // resource or type name; "*" for any resource
	segs     []string // element names or "*"
	anyDepth bool     // leading "**": segs match a suffix at any depth
	level    policy.Level
	literals int // non-wildcard segments, root included
}

type compiled struct {
	fhir, json []crule
	def        policy.Level
}

func compileRules(r *Rules) (*compiled, error) {
	if r == nil {
		return nil, fmt.Errorf("%w: nil", ErrInvalidRules)
	}
	if strings.TrimSpace(r.Version) == "" {
		return nil, fmt.Errorf("%w: version is empty", ErrInvalidRules)
	}
	if !r.Default.Valid() || r.Default == policy.Low {
		return nil, fmt.Errorf("%w: default level %s: must be medium or high (fail closed)", ErrInvalidRules, r.Default)
	}
	c := &compiled{def: r.Default}
	s := r4()
	seen := map[string]bool{}
	for i, rule := range r.FHIR {
		cr, err := compileFHIRRule(s, i, rule)
		if err != nil {
			return nil, err
		}
		if seen["fhir:"+rule.Path] {
			return nil, fmt.Errorf("%w: fhir rule %d: path %q written twice", ErrInvalidRules, i, rule.Path)
		}
		seen["fhir:"+rule.Path] = true
		c.fhir = append(c.fhir, cr)
	}
	for i, rule := range r.JSON {
		if !rule.Level.Valid() {
			return nil, fmt.Errorf("%w: json rule %d (%q): invalid level", ErrInvalidRules, i, rule.Path)
		}
		segs, anyDepth, err := splitPath(rule.Path, true)
		if err != nil {
			return nil, fmt.Errorf("%w: json rule %d: %v", ErrInvalidRules, i, err)
		}
		if seen["json:"+rule.Path] {
			return nil, fmt.Errorf("%w: json rule %d: path %q written twice", ErrInvalidRules, i, rule.Path)
		}
		seen["json:"+rule.Path] = true
		c.json = append(c.json, crule{src: i, kind: rJSON, segs: segs, anyDepth: anyDepth, level: rule.Level, literals: literals(segs)})
	}
	return c, nil
}

func literals(segs []string) int {
	n := 0
	for _, s := range segs {
		if s != "*" {
			n++
		}
	}
	return n
}

// splitPath splits the segments of a path (after its root for FHIR paths).
// json paths allow any key text except "." and empty keys.
func splitPath(p string, json bool) ([]string, bool, error) {
	if p == "" {
		return nil, false, fmt.Errorf("empty path")
	}
	parts := strings.Split(p, ".")
	anyDepth := false
	if parts[0] == "**" {
		anyDepth = true
		parts = parts[1:]
		if len(parts) == 0 {
			return nil, false, fmt.Errorf("path %q: \"**\" must be followed by a name", p)
		}
	}
	for _, s := range parts {
		switch {
		case s == "":
			return nil, false, fmt.Errorf("path %q: empty segment", p)
		case s == "**":
			return nil, false, fmt.Errorf("path %q: \"**\" may only come first", p)
		case s == "*":
		case json:
		case !validName(s):
			return nil, false, fmt.Errorf("path %q: %q is not an element name", p, s)
		}
	}
	return parts, anyDepth, nil
}

// validName accepts FHIR element names: letters and digits starting with a
// letter, optionally ending in "[x]".
func validName(s string) bool {
	s = strings.TrimSuffix(s, "[x]")
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

func compileFHIRRule(s *schema, i int, rule Rule) (crule, error) {
	if !rule.Level.Valid() {
		return crule{}, fmt.Errorf("%w: fhir rule %d (%q): invalid level", ErrInvalidRules, i, rule.Path)
	}
	root, rest, _ := strings.Cut(rule.Path, ".")
	cr := crule{src: i, root: root, level: rule.Level}
	var start *ftype
	switch {
	case root == "*":
		cr.kind = rResource
	case s.resources[root] != nil:
		cr.kind, start = rResource, s.resources[root]
	case s.datatypes[root] != nil:
		cr.kind, start = rType, s.datatypes[root]
	default:
		return crule{}, fmt.Errorf("%w: fhir rule %d: %q is neither a FHIR R4 resource nor a datatype", ErrInvalidRules, i, root)
	}
	if rest != "" {
		segs, anyDepth, err := splitPath(rest, false)
		if err != nil {
			return crule{}, fmt.Errorf("%w: fhir rule %d: %v", ErrInvalidRules, i, err)
		}
		cr.segs, cr.anyDepth = segs, anyDepth
	} else if root == "*" {
		return crule{}, fmt.Errorf("%w: fhir rule %d: \"*\" alone would grade every resource: name one or use default", ErrInvalidRules, i)
	}
	cr.literals = literals(cr.segs)
	if root != "*" {
		cr.literals++
	}
	if start != nil && !cr.anyDepth {
		if err := checkSegments(start, cr.segs); err != nil {
			return crule{}, fmt.Errorf("%w: fhir rule %d (%q): %v", ErrInvalidRules, i, rule.Path, err)
		}
	}
	return cr, nil
}

// checkSegments checks that segs name elements reachable from t, up to the
// first wildcard, and do not cross into a nested resource.
func checkSegments(t *ftype, segs []string) error {
	for _, seg := range segs {
		if seg == "*" {
			return nil
		}
		switch t.kind {
		case tAnyResource, tResource:
			if t.kind == tAnyResource {
				return fmt.Errorf("%q is inside a nested resource: write a rule for that resource type", seg)
			}
		case tPrimitive:
			t = t.elemType()
		}
		var next *ftype
		for _, f := range t.fieldMap() {
			if f.primExt {
				continue
			}
			if f.key == seg || f.name == seg || (f.choice && f.name+"[x]" == seg) {
				next = f.typ
				break
			}
		}
		if next == nil {
			return fmt.Errorf("no element %q in %s", seg, typeLabel(t))
		}
		t = next
	}
	if t.kind == tAnyResource {
		return fmt.Errorf("a nested resource is graded by the rules of its own type")
	}
	return nil
}

func typeLabel(t *ftype) string {
	if t.name != "" {
		return t.name
	}
	return string(t.desc.Name())
}

// seg is one step of the path of an element, as the matcher sees it.
type seg struct {
	key    string // JSON key
	name   string // element name
	tname  string // FHIR type name of the node ("" for backbone elements and plain JSON)
	choice bool
}

func (c *crule) segMatch(rs string, s *seg) bool {
	if rs == "*" || rs == s.name || rs == s.key {
		return true
	}
	return s.choice && len(rs) == len(s.name)+3 && strings.HasSuffix(rs, "[x]") && rs[:len(s.name)] == s.name
}

// anchor returns the deepest depth d (1..len(st)-1, or 0 for the root) of st
// at which the rule matches the node st[d], or -1.
func (c *crule) anchor(st []seg) int {
	n := len(st) - 1 // st[0] is the resource (or document) root
	k := len(c.segs)
	matchAt := func(d int) bool { // segs end at depth d
		base := d - k // depth of the rule's root
		if base < 0 {
			return false
		}
		switch c.kind {
		case rResource:
			if base != 0 && !c.anyDepth {
				return false
			}
			if c.root != "*" && st[0].tname != c.root {
				return false
			}
		case rType:
			if st[base].tname != c.root {
				return false
			}
		case rJSON:
			if base != 0 && !c.anyDepth {
				return false
			}
		}
		for i, rs := range c.segs {
			if !c.segMatch(rs, &st[base+1+i]) {
				return false
			}
		}
		return true
	}
	if c.kind == rType || c.anyDepth {
		for d := n; d >= k; d-- {
			if matchAt(d) {
				return d
			}
		}
		return -1
	}
	if k <= n && matchAt(k) {
		return k
	}
	return -1
}

// match finds the winning rule for the element whose path is st: the rule
// anchored deepest; then the one with more literal segments; then a
// resource path over a type path; then the higher level. It returns the
// rule's index, or -1 (default).
func match(rules []crule, st []seg) int {
	best, bestD := -1, -1
	for i := range rules {
		r := &rules[i]
		d := r.anchor(st)
		if d < 0 {
			continue
		}
		if best < 0 || better(r, d, &rules[best], bestD) {
			best, bestD = i, d
		}
	}
	return best
}

func better(a *crule, ad int, b *crule, bd int) bool {
	if ad != bd {
		return ad > bd
	}
	if a.literals != b.literals {
		return a.literals > b.literals
	}
	ap, bp := a.kind != rType, b.kind != rType
	if ap != bp {
		return ap
	}
	return a.level > b.level
}
