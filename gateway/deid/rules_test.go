package deid

import (
	"errors"
	"strings"
	"testing"

	"github.com/medshare/medshare/abe/policy"
	"github.com/medshare/medshare/gateway/grade"
)

func TestDefaultRulesParse(t *testing.T) {
	r, err := ParseRules(defaultRulesYAML)
	if err != nil {
		t.Fatalf("embedded rules.yaml: %v", err)
	}
	if r.Version != "medshare-deid-2026.1" {
		t.Fatalf("version %q", r.Version)
	}
	for _, name := range []string{"treatment", "research", "safe-harbor"} {
		if r.Profiles[name] == nil {
			t.Fatalf("profile %s missing", name)
		}
	}
	if got := len(r.Profiles["research"].RestrictedZip3); got != 17 {
		t.Fatalf("%d restricted ZIP areas, want the 17 of the HHS guidance", got)
	}
	// Every rule says which Safe Harbor identifier it is for.
	for name, p := range r.Profiles {
		for _, rule := range p.Rules {
			if rule.HIPAA == "" {
				t.Errorf("profile %s, rule %s: no hipaa", name, rule.Path)
			}
		}
	}
}

func TestPurposes(t *testing.T) {
	d := newDefault(t)
	cases := []struct {
		code, profile string
		err           error
	}{
		{"TREAT", "treatment", nil},
		{"ETREAT", "treatment", nil},
		{"BTG", "treatment", nil},
		{"POPHLTH", "treatment", nil},
		{"HRESCH", "research", nil},
		{"CLINTRCHNPC", "research", nil},
		{"PUBHLTH", "research", nil},
		{"DISASTER", "research", nil},
		{"HOPERAT", "research", nil},
		{"HTEST", "research", nil},
		{"HMARKT", "", ErrPurposeNotAllowed},
		{"HPAYMT", "", ErrPurposeNotAllowed},
		{"COVAUTH", "", ErrPurposeNotAllowed},
		{"PATRQT", "", ErrPurposeNotAllowed},
		{"", "", ErrUnknownPurpose},
		{"hresch", "", ErrUnknownPurpose},
		{"RESEARCH", "", ErrUnknownPurpose},
		{"PurposeOfUse", "", ErrUnknownPurpose},
		{strings.Repeat("X", 300), "", ErrUnknownPurpose},
	}
	for _, c := range cases {
		got, err := d.Profile(c.code)
		if c.err != nil {
			var pe *PurposeError
			if !errors.Is(err, c.err) || !errors.As(err, &pe) || len(pe.Code) > 32 {
				t.Errorf("%.20s: err %v, want %v", c.code, err, c.err)
			}
			// Prepare refuses it the same way, before reading the document.
			if _, err := d.Prepare([]byte("not even JSON"), c.code, policy.High); !errors.Is(err, c.err) {
				t.Errorf("%.20s: Prepare err %v", c.code, err)
			}
			continue
		}
		if err != nil || got != c.profile {
			t.Errorf("%s: %q, %v; want %q", c.code, got, err, c.profile)
		}
	}
}

func TestRulesValidate(t *testing.T) {
	base := `version: v1
purposes: {HRESCH: research}
profiles:
  research:
    keep: medium
    confidentiality: L
    dateShiftDays: 30
    rules:
      - {path: date, action: shift}
`
	if _, err := ParseRules([]byte(base)); err != nil {
		t.Fatalf("base: %v", err)
	}
	cases := []struct{ name, yaml, want string }{
		{"no version", strings.Replace(base, "version: v1", "version: ''", 1), "version"},
		{"unknown key", base + "extra: 1\n", "field extra not found"},
		{"unknown purpose", strings.Replace(base, "HRESCH: research", "RESEARCH: research", 1), "not an HL7 v3 PurposeOfUse code"},
		{"undefined profile", strings.Replace(base, "HRESCH: research", "HRESCH: study", 1), "undefined profile"},
		{"bad keep", strings.Replace(base, "keep: medium", "keep: Medium", 1), "keep"},
		{"bad confidentiality", strings.Replace(base, "confidentiality: L", "confidentiality: X", 1), "Confidentiality"},
		{"shift without days", strings.Replace(base, "dateShiftDays: 30", "dateShiftDays: 0", 1), "shift needs dateShiftDays"},
		{"days too large", strings.Replace(base, "dateShiftDays: 30", "dateShiftDays: 4000", 1), "dateShiftDays"},
		{"unknown action", strings.Replace(base, "action: shift", "action: blur", 1), "unknown action"},
		{"typo in path", strings.Replace(base, "path: date", "path: Patient.brithDate", 1), "brithDate"},
		{"path twice", base + "      - {path: date, action: year}\n", "twice"},
		{"redact keeping everything", strings.Replace(base+"      - {path: Address.city, action: redact}\n", "keep: medium", "keep: requestor", 1), "redact"},
		{"bad zip", base + "    restrictedZip3: ['03']\n", "three digits"},
	}
	for _, c := range cases {
		_, err := ParseRules([]byte(c.yaml))
		if !errors.Is(err, ErrInvalidRules) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an ErrInvalidRules naming %q", c.name, err, c.want)
		}
	}
	if _, err := New(nil, grade.DefaultRules()); !errors.Is(err, ErrInvalidRules) {
		t.Errorf("New(nil): %v", err)
	}
	if _, err := New(DefaultRules(), nil); !errors.Is(err, ErrInvalidRules) {
		t.Errorf("New without grading rules: %v", err)
	}
}
