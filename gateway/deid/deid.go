package deid

import (
	"errors"
	"fmt"
	"time"

	"github.com/medshare/medshare/abe/policy"
	"github.com/medshare/medshare/gateway/grade"
)

// Option configures a Deidentifier.
type Option func(*Deidentifier) error

// WithLimits bounds the documents the Deidentifier accepts (the grader's
// limits; grade.DefaultLimits otherwise).
func WithLimits(l grade.Limits) Option {
	return func(d *Deidentifier) error {
		if err := l.Validate(); err != nil {
			return err
		}
		d.lim = l
		return nil
	}
}

// Deidentifier prepares FHIR documents for MeDShare packages by a rule set.
// It is safe for concurrent use.
type Deidentifier struct {
	rules    *Rules
	grading  string // the grading rules' version
	lim      grade.Limits
	profiles map[string]*profile
}

// profile is a compiled Profile.
type profile struct {
	name      string
	p         *Profile
	keep      policy.Level
	requestor bool
	filter    *grade.Grader // grading rules with the profile's overrides
	match     *grade.Grader // the profile's paths (nil without rules)
	zip       map[string]bool
}

// New builds a Deidentifier from a de-identification rule set and the
// grading rules the documents were graded with (the gateway's; the levels
// "keep" refers to are theirs).
func New(rules *Rules, grading *grade.Rules, opts ...Option) (*Deidentifier, error) {
	if err := rules.Validate(); err != nil {
		return nil, err
	}
	if grading == nil {
		return nil, fmt.Errorf("%w: no grading rules", ErrInvalidRules)
	}
	// A copy: changing the caller's Rules afterwards changes nothing.
	own := &Rules{Version: rules.Version, Purposes: map[string]string{}, Profiles: map[string]*Profile{}}
	for k, v := range rules.Purposes {
		own.Purposes[k] = v
	}
	d := &Deidentifier{rules: own, grading: grading.Version, lim: grade.DefaultLimits(), profiles: map[string]*profile{}}
	for _, o := range opts {
		if err := o(d); err != nil {
			return nil, err
		}
	}
	for name, p := range rules.Profiles {
		cp := *p
		cp.Rules = append([]Rule(nil), p.Rules...)
		cp.RestrictedZip3 = append([]string(nil), p.RestrictedZip3...)
		own.Profiles[name] = &cp
		keep, _ := cp.keepLevel()
		pr := &profile{name: name, p: &cp, keep: keep, requestor: cp.Keep == KeepRequestor, zip: map[string]bool{}}
		var err error
		if pr.filter, err = grade.New(cp.gradingFor(grading), grade.WithLimits(d.lim)); err != nil {
			return nil, fmt.Errorf("%w: profile %s with the grading rules: %w", ErrInvalidRules, name, err)
		}
		if len(cp.Rules) > 0 {
			// Filter adds labels and masks: the matcher reads a document a
			// little larger than the input.
			if pr.match, err = grade.New(cp.matchRules(), grade.WithLimits(grownLimits(d.lim))); err != nil {
				return nil, fmt.Errorf("%w: profile %s: %w", ErrInvalidRules, name, err)
			}
		}
		for _, z := range cp.RestrictedZip3 {
			pr.zip[z] = true
		}
		d.profiles[name] = pr
	}
	return d, nil
}

// grownLimits bounds the filtered document: the input's limits plus what
// Filter may add (labels and masks).
func grownLimits(l grade.Limits) grade.Limits {
	return grade.Limits{MaxBytes: 2*l.MaxBytes + 1<<16, MaxDepth: l.MaxDepth + 8, MaxValues: 2*l.MaxValues + 1<<12}
}

// RulesVersion is the version of the de-identification rules.
func (d *Deidentifier) RulesVersion() string { return d.rules.Version }

// Profile returns the name of the profile a purpose selects, or the
// *PurposeError refusing it.
func (d *Deidentifier) Profile(purpose string) (string, error) {
	return d.rules.profileFor(purpose)
}

// Request is what one package asks of the de-identifier.
type Request struct {
	// Purpose is the request's HL7 v3 PurposeOfUse code (TREAT, HRESCH, …).
	Purpose string
	// Top is the highest level the requestor's attributes open: a package
	// never holds an element graded above it.
	Top policy.Level
	// Secret is the package's secret, 32..64 random bytes: it keys the
	// pseudonyms and date shifts, the same for every document of one
	// package and different for every package. It never leaves the owner.
	Secret []byte
	// Now is the package's time; ages are computed at it.
	Now time.Time
}

// Result is a de-identified document.
type Result struct {
	// FHIR is the document: valid FHIR R4, compact JSON.
	FHIR []byte
	// Purpose is the requested PurposeOfUse code and Profile the profile it
	// selected.
	Purpose, Profile string
	// RulesVersion and GradingVersion name the rule sets applied.
	RulesVersion, GradingVersion string
	// Level is the highest level of the elements kept.
	Level policy.Level
	// Stats counts what was done.
	Stats Stats
}

// Stats counts the de-identifier's work on one document.
type Stats struct {
	// Resources is the number of resources in the output.
	Resources int
	// Pseudonymized, Shifted, Generalized and Masked count the elements
	// replaced by a pseudonym, moved in time, generalised (year, postal
	// area, age) and replaced by a data-absent-reason.
	Pseudonymized, Shifted, Generalized, Masked int
}

// Deidentify prepares doc for one package: Prepare then Apply.
func (d *Deidentifier) Deidentify(doc []byte, req Request) (*Result, error) {
	p, err := d.Prepare(doc, req.Purpose, req.Top)
	if err != nil {
		return nil, err
	}
	return p.Apply(req.Secret, req.Now)
}

// Prepare does the work of de-identification that depends on the document,
// the purpose and the requestor's top level only: it grades and filters the
// document and plans every transformation. The result is immutable and safe
// for concurrent use: a gateway may cache it per record version, purpose
// and level, and Apply it for each package.
func (d *Deidentifier) Prepare(doc []byte, purpose string, top policy.Level) (*Document, error) {
	if !top.Valid() {
		return nil, fmt.Errorf("%w: requestor level %d", ErrInvalidRequest, uint8(top))
	}
	name, err := d.rules.profileFor(purpose)
	if err != nil {
		return nil, err
	}
	pr := d.profiles[name]
	level := pr.keep
	if pr.requestor || top < level {
		level = top
	}
	filtered, err := pr.filter.Filter(doc, level)
	if err != nil {
		var ie *grade.InputError
		if errors.As(err, &ie) {
			return nil, fmt.Errorf("%w: %w", ErrInvalidDocument, err)
		}
		return nil, fmt.Errorf("deid: filter: %w", err)
	}
	gl := grownLimits(d.lim)
	if filtered == nil {
		// Nothing left: say so only of a FHIR document (the grader also
		// accepts plain JSON objects).
		if root, err := parseTree(doc, gl.MaxDepth, gl.MaxValues); err != nil || root.get("resourceType") == nil {
			return nil, fmt.Errorf("%w: not a FHIR resource or Bundle", ErrInvalidDocument)
		}
		return nil, ErrNothingToShare
	}
	root, err := parseTree(filtered, gl.MaxDepth, gl.MaxValues)
	if err != nil {
		return nil, fmt.Errorf("deid: reading the filtered document: %w", err)
	}
	if rt := root.get("resourceType"); rt == nil || rt.kind != kString {
		return nil, fmt.Errorf("%w: not a FHIR resource or Bundle", ErrInvalidDocument)
	}
	out := &Document{d: d, pr: pr, purpose: purpose, level: level, root: root}
	out.index()
	if pr.match != nil {
		if err := out.match(filtered); err != nil {
			return nil, err
		}
	}
	out.plan()
	return out, nil
}
