package deid

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/medshare/medshare/abe/policy"
	"github.com/medshare/medshare/gateway/grade"
)

// jsonStrings collects every string value (not key) of a JSON document.
func jsonStrings(t testing.TB, doc []byte) map[string]bool {
	t.Helper()
	var v any
	if err := json.Unmarshal(doc, &v); err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	var walk func(any)
	walk = func(x any) {
		switch x := x.(type) {
		case string:
			out[x] = true
		case map[string]any:
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
	return out
}

// elements walks doc with the default grading rules.
func elements(t testing.TB, doc []byte) []grade.Element {
	t.Helper()
	g, err := grade.New(grade.DefaultRules())
	if err != nil {
		t.Fatal(err)
	}
	var out []grade.Element
	if err := g.Walk(doc, func(e grade.Element) error { out = append(out, e); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

var (
	pseudonymRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	uuidRefRE   = regexp.MustCompile(`^(urn:uuid:|#|[A-Z][A-Za-z]+/)[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	yearRE      = regexp.MustCompile(`^[0-9]{4}$`)
	zip3RE      = regexp.MustCompile(`^[0-9]{3}$`)
)

func unquote(t testing.TB, v []byte) string {
	t.Helper()
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		t.Fatalf("%s is not a JSON string", v)
	}
	return s
}

// TestSyntheaResearch de-identifies the six Synthea patient bundles for
// research and checks the output element by element against the rules.
func TestSyntheaResearch(t *testing.T) {
	d := newDefault(t)
	bundles := patientBundles(t)
	for _, name := range sortedNames(bundles) {
		orig := bundles[name]
		t.Run(name[:strings.IndexByte(name, '_')], func(t *testing.T) {
			res, err := d.Deidentify(orig, Request{Purpose: "HRESCH", Top: policy.High, Secret: testSecret(7), Now: testNow})
			if err != nil {
				t.Fatal(err)
			}
			if res.Profile != "research" || res.Level != policy.Medium || res.RulesVersion != "medshare-deid-2026.1" {
				t.Fatalf("result %+v", res)
			}
			out := res.FHIR
			validateR4(t, out)

			origEls := elements(t, orig)
			outEls := elements(t, out)

			// 1. No high element remains: under the grading rules, an element
			// of the output graded high is a pseudonymised id or reference,
			// or a data-absent-reason marker.
			for _, e := range outEls {
				if e.Level != policy.High {
					continue
				}
				switch {
				case strings.HasSuffix(e.RulePath, ".id") && strings.Count(e.RulePath, ".") == 1,
					strings.HasSuffix(e.RulePath, ".reference"), e.RulePath == "Bundle.entry.fullUrl":
					v := unquote(t, e.Value)
					if !uuidRefRE.MatchString(v) && !pseudonymRE.MatchString(v) {
						t.Errorf("%s = %s: not a pseudonym", e.Path, v)
					}
				case strings.HasSuffix(e.RulePath, "extension.url") && unquote(t, e.Value) == grade.DataAbsentReasonURL,
					strings.HasSuffix(e.RulePath, "extension.valueCode") && unquote(t, e.Value) == grade.DataAbsentMasked:
				default:
					t.Errorf("high element %s (%s) in the research output", e.Path, e.RulePath)
				}
			}

			// 2. No value of a high element of the original (that is not also
			// the value of a lower element) is anywhere in the output.
			lower := map[string]bool{}
			for _, e := range origEls {
				if e.Level <= policy.Medium && len(e.Value) > 0 && e.Value[0] == '"' {
					lower[unquote(t, e.Value)] = true
				}
			}
			outStr := jsonStrings(t, out)
			for _, e := range origEls {
				if e.Level == policy.High && len(e.Value) > 0 && e.Value[0] == '"' {
					v := unquote(t, e.Value)
					if !lower[v] && outStr[v] {
						t.Errorf("high value of %s is in the output", e.Path)
					}
				}
			}

			// 3. No original id, name or identifier value, as a substring.
			var secrets []string
			for _, e := range origEls {
				if e.Value[0] != '"' {
					continue
				}
				v := unquote(t, e.Value)
				switch {
				case strings.HasSuffix(e.RulePath, ".id") && strings.Count(e.RulePath, ".") == 1,
					strings.Contains(e.RulePath, ".name.given"), strings.Contains(e.RulePath, ".name.family"),
					strings.HasSuffix(e.RulePath, "identifier.value"), strings.HasSuffix(e.RulePath, ".telecom.value"),
					strings.HasSuffix(e.RulePath, "address.line"), strings.HasSuffix(e.RulePath, "address.city"):
					if len(v) >= 4 && !(strings.HasSuffix(e.RulePath, ".id") && !strings.ContainsAny(v, "0123456789")) {
						secrets = append(secrets, v)
					}
				}
			}
			if len(secrets) < 100 {
				t.Fatalf("only %d id/name strings found in the original", len(secrets))
			}
			for _, s := range secrets {
				if bytes.Contains(out, []byte(s)) {
					t.Errorf("original string %q is in the output", s)
				}
			}

			// 4. Birth dates are years, postal codes three digits, no city or
			// street line.
			origBirth := map[string]string{}
			zips := map[string]bool{}
			for _, e := range origEls {
				switch {
				case e.RulePath == "Patient.birthDate":
					origBirth[e.Path] = unquote(t, e.Value)[:4]
				case strings.HasSuffix(e.RulePath, "address.postalCode"):
					z, _ := zip3(unquote(t, e.Value), map[string]bool{})
					zips[z] = true
				}
			}
			births := 0
			for _, e := range outEls {
				switch {
				case e.RulePath == "Patient.birthDate":
					v := unquote(t, e.Value)
					if !yearRE.MatchString(v) || origBirth[e.Path] != v {
						t.Errorf("birth date %s: %q, original year %q", e.Path, v, origBirth[e.Path])
					}
					births++
				case strings.HasSuffix(e.RulePath, "ddress.postalCode"):
					v := unquote(t, e.Value)
					if !zip3RE.MatchString(v) || !zips[v] {
						t.Errorf("postal code %s: %q", e.Path, v)
					}
				case strings.HasSuffix(e.RulePath, "ddress.city"), strings.HasSuffix(e.RulePath, "ddress.line"),
					strings.HasSuffix(e.RulePath, "ddress.district"):
					t.Errorf("%s in the output", e.Path)
				}
			}
			if births != 1 {
				t.Errorf("%d birth dates in the output, want 1", births)
			}

			// 5. References resolve inside the package.
			checkReferences(t, out)

			// 6. Dates are shifted by one number of days for the whole
			// bundle (one patient): intervals survive.
			checkShift(t, d, origEls, outEls)
		})
	}
}

// checkReferences asserts that every urn:uuid reference names an entry's
// fullUrl, every "#x" a contained resource of the same resource, and every
// "Type/id" an entry's resource.
func checkReferences(t *testing.T, doc []byte) {
	t.Helper()
	var b struct {
		Entry []struct {
			FullURL  string         `json:"fullUrl"`
			Resource map[string]any `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(doc, &b); err != nil {
		t.Fatal(err)
	}
	urls := map[string]bool{}
	typeIDs := map[string]bool{}
	for _, e := range b.Entry {
		urls[e.FullURL] = true
		typeIDs[e.Resource["resourceType"].(string)+"/"+e.Resource["id"].(string)] = true
		if e.FullURL != "urn:uuid:"+e.Resource["id"].(string) {
			t.Errorf("fullUrl %s does not name its resource's id %s", e.FullURL, e.Resource["id"])
		}
	}
	n := 0
	for _, e := range b.Entry {
		contained := map[string]bool{}
		if cs, ok := e.Resource["contained"].([]any); ok {
			for _, c := range cs {
				contained[c.(map[string]any)["id"].(string)] = true
			}
		}
		var walk func(any)
		walk = func(x any) {
			switch x := x.(type) {
			case map[string]any:
				for k, v := range x {
					if s, ok := v.(string); ok && k == "reference" {
						n++
						switch {
						case strings.HasPrefix(s, "urn:uuid:"):
							if !urls[s] {
								t.Errorf("reference %s does not resolve", s)
							}
						case strings.HasPrefix(s, "#"):
							if !contained[s[1:]] {
								t.Errorf("reference %s names no contained resource", s)
							}
						default:
							if !typeIDs[s] {
								t.Errorf("reference %s does not resolve", s)
							}
						}
						continue
					}
					walk(v)
				}
			case []any:
				for _, v := range x {
					walk(v)
				}
			}
		}
		walk(e.Resource)
	}
	if n < 100 {
		t.Errorf("only %d references checked", n)
	}
}

// checkShift asserts that every date of the original found at the same path
// in the output moved by the same number of days, not 0, within the bound.
func checkShift(t *testing.T, d *Deidentifier, orig, out []grade.Element) {
	t.Helper()
	byPath := map[string]grade.Element{}
	for _, e := range out {
		byPath[e.Path] = e
	}
	shift, found, dates := 0, 0, 0
	for _, e := range orig {
		if !isDateType(e.Type) || e.RulePath == "Patient.birthDate" || e.Level == policy.High {
			continue
		}
		dates++
		o, ok := byPath[e.Path]
		if !ok {
			continue
		}
		found++
		a, _ := parseDate(unquote(t, e.Value))
		b, _ := parseDate(unquote(t, o.Value))
		if a.prec != 3 || b.prec != 3 || a.rest != b.rest {
			t.Fatalf("%s: %s → %s: precision or time changed", e.Path, e.Value, o.Value)
		}
		days := daysBetween(a, b)
		if shift == 0 {
			shift = days
		}
		if days != shift {
			t.Fatalf("%s shifted by %d days, others by %d", e.Path, days, shift)
		}
	}
	if found < dates*9/10 || found < 100 {
		t.Fatalf("matched %d of %d dates", found, dates)
	}
	if max := d.rules.Profiles["research"].DateShiftDays; shift == 0 || shift > max || shift < -max {
		t.Fatalf("shift %d days", shift)
	}
}
