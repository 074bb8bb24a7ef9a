package deid

import (
	_ "embed"
	"fmt"
	"sort"
	"strings"

	"github.com/medshare/medshare/abe/policy"
	"github.com/medshare/medshare/gateway/grade"
	"gopkg.in/yaml.v3"
)

//go:embed rules.yaml
var defaultRulesYAML []byte

// Action is what a rule does to the elements under its path.
type Action string

// The actions. docs/medshare.md has the exact outputs.
const (
	// Pseudonymize replaces ids and references by per-package pseudonyms
	// (HMAC of the original under the package secret, as UUIDs), keeping the
	// reference's form, so that links inside the package still resolve. The
	// elements are kept whatever their grade.
	Pseudonymize Action = "pseudonymize"
	// Redact removes the elements (a required one is replaced by a
	// data-absent-reason "masked" extension).
	Redact Action = "redact"
	// Shift moves date, dateTime and instant values by the patient's shift:
	// a whole number of days in ±DateShiftDays (never 0), one per patient and
	// package, keeping precision, time of day and time zone.
	Shift Action = "shift"
	// Year reduces date and dateTime values to their year; instants (which
	// FHIR requires to be complete) are masked.
	Year Action = "year"
	// BirthYear reduces a birth date to its year, and masks it when the year
	// implies an age of 90 or more at the time of the package.
	BirthYear Action = "birthYear"
	// Age90 caps ages (Age, and Quantity objects of time units) at 90
	// years: an age of 90 years or more becomes {value 90, comparator >=,
	// unit "a"}.
	Age90 Action = "age90"
	// Zip3 keeps the first three digits of a postal code ("000" for the
	// restricted three-digit areas); a code that does not start with three
	// digits is masked.
	Zip3 Action = "zip3"
)

var actions = []Action{Pseudonymize, Redact, Shift, Year, BirthYear, Age90, Zip3}

func (a Action) valid() bool {
	for _, x := range actions {
		if a == x {
			return true
		}
	}
	return false
}

// Rule applies Action to the elements under Path (the grading rules' path
// syntax, docs/grading.md: a resource type, "*" for any resource, or a FHIR
// datatype, then element names). For each element the most specific rule
// wins, with the grading rules' precedence.
type Rule struct {
	Path   string `yaml:"path"`
	Action Action `yaml:"action"`
	// HIPAA names the Safe Harbor identifier(s) (A–R) the rule is for.
	// Documentation only.
	HIPAA string `yaml:"hipaa,omitempty"`
	// Note says why. Documentation only.
	Note string `yaml:"note,omitempty"`
}

// KeepRequestor is the Profile.Keep value meaning "the requestor's own top
// level": the profile keeps what the requestor's attributes would open.
const KeepRequestor = "requestor"

// Profile is one way of preparing data for a purpose.
type Profile struct {
	// Note says what the profile is for. Documentation only.
	Note string `yaml:"note,omitempty"`
	// Keep is the highest graded level the profile shares: "low",
	// "medium", "high", or "requestor" (the requestor's top level). A
	// package never holds an element above the requestor's top level.
	Keep string `yaml:"keep"`
	// Confidentiality is the HL7 v3 Confidentiality code (U, L, M, N, R, V)
	// labelled on resources that carry none.
	Confidentiality string `yaml:"confidentiality"`
	// DateShiftDays bounds the date shift (1..3650), required when a rule
	// shifts.
	DateShiftDays int `yaml:"dateShiftDays,omitempty"`
	// RestrictedZip3 lists the three-digit postal areas reported as "000".
	RestrictedZip3 []string `yaml:"restrictedZip3,omitempty"`
	// Rules are the profile's transformations; none keeps the data as
	// graded.
	Rules []Rule `yaml:"rules,omitempty"`
}

// Rules is a versioned de-identification rule set.
type Rules struct {
	// Version names the rule set; it is recorded in every package.
	Version string `yaml:"version"`
	// Purposes maps HL7 v3 PurposeOfUse codes to profile names. A code not
	// listed takes the profile of its nearest listed ancestor; a code with
	// none is refused.
	Purposes map[string]string `yaml:"purposes"`
	// Profiles by name.
	Profiles map[string]*Profile `yaml:"profiles"`
}

// DefaultRules returns the embedded default rule set (rules.yaml),
// explained in docs/medshare.md.
func DefaultRules() *Rules {
	r, err := ParseRules(defaultRulesYAML)
	if err != nil {
		// The embedded file is checked by the tests; failing closed with a
		// rule set that shares nothing rather than panicking.
		return &Rules{Version: "invalid-embedded-rules"}
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

var confidentialityCodes = map[string]string{
	"U": "unrestricted", "L": "low", "M": "moderate", "N": "normal", "R": "restricted", "V": "very restricted",
}

// Validate checks the rule set: a version; every purpose a PurposeOfUse
// code mapped to a defined profile; every profile with a valid keep level,
// confidentiality code, shift bound and postal areas; every rule a known
// action on a path that exists in FHIR R4, no path twice; redaction only in
// profiles that keep less than high.
func (r *Rules) Validate() error {
	if r == nil {
		return fmt.Errorf("%w: no rules", ErrInvalidRules)
	}
	if r.Version == "" || len(r.Version) > 64 {
		return fmt.Errorf("%w: version must be 1..64 characters", ErrInvalidRules)
	}
	if len(r.Purposes) == 0 {
		return fmt.Errorf("%w: no purpose is mapped to a profile", ErrInvalidRules)
	}
	for _, code := range sortedKeys(r.Purposes) {
		if !KnownPurpose(code) {
			return fmt.Errorf("%w: purposes: %q is not an HL7 v3 PurposeOfUse code", ErrInvalidRules, code)
		}
		if r.Profiles[r.Purposes[code]] == nil {
			return fmt.Errorf("%w: purposes: %s maps to undefined profile %q", ErrInvalidRules, code, r.Purposes[code])
		}
	}
	for _, name := range sortedKeys(r.Profiles) {
		if err := r.Profiles[name].validate(); err != nil {
			return fmt.Errorf("%w: profile %s: %v", ErrInvalidRules, name, err)
		}
	}
	return nil
}

func (p *Profile) validate() error {
	if p == nil {
		return fmt.Errorf("empty")
	}
	keep, err := p.keepLevel()
	if err != nil {
		return err
	}
	if _, ok := confidentialityCodes[p.Confidentiality]; !ok {
		return fmt.Errorf("confidentiality: %q is not a v3 Confidentiality code (U, L, M, N, R, V)", p.Confidentiality)
	}
	if p.DateShiftDays < 0 || p.DateShiftDays > 3650 {
		return fmt.Errorf("dateShiftDays: must be 1..3650")
	}
	for _, z := range p.RestrictedZip3 {
		if len(z) != 3 || !allDigits(z) {
			return fmt.Errorf("restrictedZip3: %q is not three digits", z)
		}
	}
	for i, rule := range p.Rules {
		if !rule.Action.valid() {
			return fmt.Errorf("rules[%d]: unknown action %q", i, rule.Action)
		}
		if rule.Action == Shift && p.DateShiftDays == 0 {
			return fmt.Errorf("rules[%d]: shift needs dateShiftDays", i)
		}
		if rule.Action == Redact && (p.Keep == KeepRequestor || keep == policy.High) {
			return fmt.Errorf("rules[%d]: redact needs a profile that keeps low or medium", i)
		}
	}
	if len(p.Rules) > 0 {
		// The grader validates the paths against FHIR R4 and refuses a path
		// written twice.
		if _, err := grade.New(p.matchRules()); err != nil {
			return err
		}
	}
	return nil
}

// keepLevel is the profile's keep level (High for "requestor": the
// requestor's level then decides).
func (p *Profile) keepLevel() (policy.Level, error) {
	if p.Keep == KeepRequestor {
		return policy.High, nil
	}
	l, err := policy.ParseLevel(p.Keep)
	if err != nil || p.Keep != l.String() {
		return 0, fmt.Errorf("keep: %q must be low, medium, high or requestor", p.Keep)
	}
	return l, nil
}

// matchRules are the profile's paths as grading rules, used only to find
// which rule applies to an element (Element.Rule); the levels are unused.
func (p *Profile) matchRules() *grade.Rules {
	gr := &grade.Rules{Version: "deid-match", Default: policy.High}
	for _, r := range p.Rules {
		gr.FHIR = append(gr.FHIR, grade.Rule{Path: r.Path, Level: policy.High})
	}
	return gr
}

// gradingFor returns the grading rules a profile filters with: the
// document's grading rules with pseudonymised paths lowered to low (they are
// kept, as pseudonyms) and redacted paths raised to high (they are dropped,
// and masked where FHIR requires them).
func (p *Profile) gradingFor(base *grade.Rules) *grade.Rules {
	over := map[string]policy.Level{}
	var order []string
	for _, r := range p.Rules {
		switch r.Action {
		case Pseudonymize:
			over[r.Path] = policy.Low
		case Redact:
			over[r.Path] = policy.High
		default:
			continue
		}
		order = append(order, r.Path)
	}
	if len(order) == 0 {
		return base
	}
	out := *base
	out.Version = base.Version
	out.FHIR = nil
	for _, r := range base.FHIR {
		if _, ok := over[r.Path]; !ok {
			out.FHIR = append(out.FHIR, r)
		}
	}
	for _, path := range order {
		out.FHIR = append(out.FHIR, grade.Rule{Path: path, Level: over[path], Note: "deid override"})
	}
	out.JSON = append([]grade.Rule(nil), base.JSON...)
	return &out
}

// profileFor returns the profile name for a purpose code and the code that
// selected it.
func (r *Rules) profileFor(code string) (string, error) {
	chain := purposeChain(code)
	if chain == nil {
		return "", purposeError(code)
	}
	for _, c := range chain {
		if name, ok := r.Purposes[c]; ok {
			return name, nil
		}
	}
	return "", purposeError(code)
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
