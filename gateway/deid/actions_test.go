package deid

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/medshare/medshare/abe/policy"
	"github.com/medshare/medshare/gateway/grade"
)

// run de-identifies doc and returns the output, checked as FHIR R4, decoded.
func run(t *testing.T, d *Deidentifier, doc string, purpose string, top policy.Level) (map[string]any, *Result) {
	t.Helper()
	res, err := d.Deidentify([]byte(doc), Request{Purpose: purpose, Top: top, Secret: testSecret(3), Now: testNow})
	if err != nil {
		t.Fatalf("Deidentify: %v", err)
	}
	validateR4(t, res.FHIR)
	var m map[string]any
	if err := json.Unmarshal(res.FHIR, &m); err != nil {
		t.Fatal(err)
	}
	return m, res
}

// get follows a path of keys and indices.
func get(v any, path ...any) any {
	for _, p := range path {
		switch p := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[p]
		case int:
			a, ok := v.([]any)
			if !ok || p >= len(a) {
				return nil
			}
			v = a[p]
		}
	}
	return v
}

func codes(res map[string]any) []string {
	var out []string
	for _, c := range get(res, "meta", "security").([]any) {
		out = append(out, c.(map[string]any)["code"].(string))
	}
	return out
}

var dar = map[string]any{"url": grade.DataAbsentReasonURL, "valueCode": "masked"}

func TestBirthYear(t *testing.T) {
	d := newDefault(t)
	cases := []struct {
		birth, ext string
		want       any // the birth date, or nil when masked
		wantExt    any
	}{
		{birth: `"1980-05-06"`, want: "1980"},
		{birth: `"1980-05"`, want: "1980"},
		{birth: `"1937"`, want: "1937"},                                           // 2026 − 1937 = 89
		{birth: `"1936-12-31"`, wantExt: map[string]any{"extension": []any{dar}}}, // may be 90
		{birth: `"1901"`, wantExt: map[string]any{"extension": []any{dar}}},       // 125
		{birth: `"1930-01-01"`, ext: `{"id":"b1"}`, wantExt: map[string]any{"id": "b1", "extension": []any{dar}}},
	}
	for _, c := range cases {
		doc := `{"resourceType":"Patient","id":"p1","gender":"male","birthDate":` + c.birth
		if c.ext != "" {
			doc += `,"_birthDate":` + c.ext
		}
		doc += `}`
		out, _ := run(t, d, doc, "HRESCH", policy.High)
		if got := out["birthDate"]; !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: birthDate %v, want %v", c.birth, got, c.want)
		}
		if got := out["_birthDate"]; !reflect.DeepEqual(got, c.wantExt) {
			t.Errorf("%s: _birthDate %v, want %v", c.birth, got, c.wantExt)
		}
		want := "ABSTRED"
		if c.want == nil {
			want = "REDACTED"
		}
		if !strings.Contains(strings.Join(codes(out), " "), want) {
			t.Errorf("%s: labels %v, want %s", c.birth, codes(out), want)
		}
	}
}

func TestAddress(t *testing.T) {
	d := newDefault(t)
	cases := []struct {
		zip  string
		want any
	}{
		{"01581", "015"},
		{"01581-1234", "015"},
		{"03601", "000"}, // a restricted three-digit area
		{"89301", "000"},
		{"94110", "941"},
		{"K1A 0B1", nil}, // not a US ZIP code: masked
		{"12", nil},
	}
	for _, c := range cases {
		doc := `{"resourceType":"Patient","id":"p1","address":[{"line":["1 Main St"],"city":"Springfield","district":"Hampden","state":"MA","postalCode":"` + c.zip + `","country":"US"}]}`
		out, _ := run(t, d, doc, "HRESCH", policy.High)
		addr := get(out, "address", 0).(map[string]any)
		if got := addr["postalCode"]; !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: postalCode %v, want %v", c.zip, got, c.want)
		}
		if c.want == nil && !reflect.DeepEqual(addr["_postalCode"], map[string]any{"extension": []any{dar}}) {
			t.Errorf("%s: _postalCode %v", c.zip, addr["_postalCode"])
		}
		for _, k := range []string{"line", "city", "district"} {
			if addr[k] != nil {
				t.Errorf("%s: %s kept", c.zip, k)
			}
		}
		if addr["state"] != "MA" || addr["country"] != "US" {
			t.Errorf("%s: state and country must stay: %v", c.zip, addr)
		}
	}
}

func TestDateShift(t *testing.T) {
	d := newDefault(t)
	doc := `{"resourceType":"Bundle","type":"collection","entry":[
	 {"fullUrl":"urn:uuid:e1","resource":{"resourceType":"Encounter","id":"e1","status":"finished",
	  "class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"AMB"},
	  "subject":{"reference":"Patient/p1"},
	  "period":{"start":"2011-04-06T21:35:23-07:00","end":"2011-04-07"}}},
	 {"fullUrl":"urn:uuid:o1","resource":{"resourceType":"Observation","id":"o1","status":"final",
	  "code":{"text":"x"},"subject":{"reference":"Patient/p1"},
	  "effectiveDateTime":"2011-04","issued":"2011-04-06T21:35:23.123Z"}},
	 {"fullUrl":"urn:uuid:o2","resource":{"resourceType":"Observation","id":"o2","status":"final",
	  "code":{"text":"x"},"subject":{"reference":"Patient/p2"},"effectiveDateTime":"2011-04-06"}}]}`
	out, _ := run(t, d, doc, "HRESCH", policy.High)
	k := deriveKeys(testSecret(3))
	d1 := shiftDays(k.shift, "Patient/p1", 365)
	d2 := shiftDays(k.shift, "Patient/p2", 365)
	if d1 == d2 {
		t.Fatalf("two patients with the same shift (%d): pick other test ids", d1)
	}
	at := func(s string, days int) time.Time {
		v, _ := parseDate(s)
		m, day := v.m, v.d
		if v.prec < 3 {
			day = 15
		}
		if v.prec < 2 {
			m, day = 7, 1
		}
		return time.Date(v.y, time.Month(m), day, 12, 0, 0, 0, time.UTC).AddDate(0, 0, days)
	}
	want := map[string]string{
		"start":  at("2011-04-06", d1).Format("2006-01-02") + "T21:35:23-07:00",
		"end":    at("2011-04-07", d1).Format("2006-01-02"),
		"month":  at("2011-04", d1).Format("2006-01"),
		"issued": at("2011-04-06", d1).Format("2006-01-02") + "T21:35:23.123Z",
		"other":  at("2011-04-06", d2).Format("2006-01-02"),
	}
	got := map[string]any{
		"start":  get(out, "entry", 0, "resource", "period", "start"),
		"end":    get(out, "entry", 0, "resource", "period", "end"),
		"month":  get(out, "entry", 1, "resource", "effectiveDateTime"),
		"issued": get(out, "entry", 1, "resource", "issued"),
		"other":  get(out, "entry", 2, "resource", "effectiveDateTime"),
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: %v, want %s", k, got[k], w)
		}
	}
	if !strings.Contains(strings.Join(codes(get(out, "entry", 0, "resource").(map[string]any)), " "), "MASKED") {
		t.Error("shifted resource not labelled MASKED")
	}
}

func TestAges(t *testing.T) {
	d := newDefault(t)
	ucum := `"system":"http://unitsofmeasure.org"`
	capped := map[string]any{"value": 90.0, "comparator": ">=", "unit": "a", "system": UCUM, "code": "a"}
	cases := []struct {
		age  string
		want any
	}{
		{`{"value":95,"unit":"years",` + ucum + `,"code":"a"}`, capped},
		{`{"value":90,"unit":"years",` + ucum + `,"code":"a"}`, capped},
		{`{"value":89.9,"unit":"years",` + ucum + `,"code":"a"}`, map[string]any{"value": 89.9, "unit": "years", "system": UCUM, "code": "a"}},
		{`{"value":1100,"unit":"months",` + ucum + `,"code":"mo"}`, capped},
		{`{"value":1000,"unit":"months",` + ucum + `,"code":"mo"}`, map[string]any{"value": 1000.0, "unit": "months", "system": UCUM, "code": "mo"}},
		{`{"value":40000,` + ucum + `,"code":"d"}`, capped},
	}
	for _, c := range cases {
		doc := `{"resourceType":"Condition","id":"c1","subject":{"reference":"Patient/p1"},"onsetAge":` + c.age + `}`
		out, _ := run(t, d, doc, "HRESCH", policy.High)
		if !reflect.DeepEqual(out["onsetAge"], c.want) {
			t.Errorf("%s: %v, want %v", c.age, out["onsetAge"], c.want)
		}
	}
	fmh := func(ageRange string) string {
		return `{"resourceType":"FamilyMemberHistory","id":"f1","status":"completed","patient":{"reference":"Patient/p1"},
		 "relationship":{"text":"father"},"ageRange":` + ageRange + `}`
	}
	q := func(v string) string { return `{"value":` + v + `,"unit":"a",` + ucum + `,"code":"a"}` }
	years90 := map[string]any{"value": 90.0, "unit": "a", "system": UCUM, "code": "a"}
	rangeCases := []struct {
		r    string
		want any
	}{
		{`{"low":` + q("85") + `,"high":` + q("95") + `}`, map[string]any{"low": map[string]any{"value": 85.0, "unit": "a", "system": UCUM, "code": "a"}}},
		{`{"low":` + q("92") + `,"high":` + q("99") + `}`, map[string]any{"low": years90}},
		{`{"high":` + q("95") + `}`, map[string]any{"extension": []any{dar}}},
		{`{"low":` + q("20") + `,"high":` + q("30") + `}`, map[string]any{"low": map[string]any{"value": 20.0, "unit": "a", "system": UCUM, "code": "a"}, "high": map[string]any{"value": 30.0, "unit": "a", "system": UCUM, "code": "a"}}},
	}
	for _, c := range rangeCases {
		out, _ := run(t, d, fmh(c.r), "HRESCH", policy.High)
		if !reflect.DeepEqual(out["ageRange"], c.want) {
			t.Errorf("%s: %v, want %v", c.r, out["ageRange"], c.want)
		}
	}
}

func TestReferences(t *testing.T) {
	d := newDefault(t)
	doc := `{"resourceType":"Bundle","id":"b1","type":"collection","entry":[
	 {"fullUrl":"http://h.example/fhir/Patient/p1","resource":{"resourceType":"Patient","id":"p1"}},
	 {"fullUrl":"http://h.example/fhir/Observation/o1","resource":{"resourceType":"Observation","id":"o1",
	  "contained":[{"resourceType":"Practitioner","id":"pr1"}],
	  "status":"final","code":{"text":"x"},
	  "subject":{"reference":"Patient/p1"},
	  "focus":[{"reference":"http://h.example/fhir/Patient/p1"},{"reference":"Patient/p1/_history/3"},
	           {"reference":"Patient/zz9"},{"reference":"Patient?identifier=http://x|123"},
	           {"reference":"urn:uuid:5d1a2b1c-0000-4000-8000-000000000001"},{"reference":"urn:oid:1.2.3.4"}],
	  "performer":[{"reference":"#pr1"}]}}]}`
	out, _ := run(t, d, doc, "HRESCH", policy.High)
	k := deriveKeys(testSecret(3))
	p := func(s string) string { return pseudonym(k.pseudo, s) }
	obs := get(out, "entry", 1, "resource")
	want := map[string]any{
		"bundle id":       p("b1"),
		"patient fullUrl": "urn:uuid:" + p("p1"),
		"patient id":      p("p1"),
		"subject":         "urn:uuid:" + p("p1"),
		"absolute":        "urn:uuid:" + p("p1"),
		"versioned":       "urn:uuid:" + p("p1"),
		"outside":         "Patient/" + p("zz9"),
		"conditional":     "Patient/" + p("Patient?identifier=http://x|123"),
		"uuid":            "urn:uuid:" + p("5d1a2b1c-0000-4000-8000-000000000001"),
		"oid":             "urn:uuid:" + p("urn:oid:1.2.3.4"),
		"contained id":    p("pr1"),
		"contained ref":   "#" + p("pr1"),
	}
	got := map[string]any{
		"bundle id":       out["id"],
		"patient fullUrl": get(out, "entry", 0, "fullUrl"),
		"patient id":      get(out, "entry", 0, "resource", "id"),
		"subject":         get(obs, "subject", "reference"),
		"absolute":        get(obs, "focus", 0, "reference"),
		"versioned":       get(obs, "focus", 1, "reference"),
		"outside":         get(obs, "focus", 2, "reference"),
		"conditional":     get(obs, "focus", 3, "reference"),
		"uuid":            get(obs, "focus", 4, "reference"),
		"oid":             get(obs, "focus", 5, "reference"),
		"contained id":    get(obs, "contained", 0, "id"),
		"contained ref":   get(obs, "performer", 0, "reference"),
	}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("%s: %v, want %v", name, got[name], w)
		}
	}
}

func TestBundleBecomesCollection(t *testing.T) {
	d := newDefault(t)
	for _, doc := range []string{
		`{"resourceType":"Bundle","type":"transaction","entry":[
		  {"fullUrl":"urn:uuid:0b5e6c1e-1111-4111-8111-111111111111","resource":{"resourceType":"Patient","id":"0b5e6c1e-1111-4111-8111-111111111111","gender":"female"},
		   "request":{"method":"POST","url":"Patient","ifNoneExist":"identifier=x|1"}},
		  {"request":{"method":"DELETE","url":"Patient/zz"}}]}`,
		`{"resourceType":"Bundle","type":"searchset","total":1,"entry":[
		  {"fullUrl":"http://h.example/fhir/Patient/p1","resource":{"resourceType":"Patient","id":"p1","gender":"female"},
		   "search":{"mode":"match","score":1}}]}`,
	} {
		for _, purpose := range []string{"HRESCH", "TREAT"} {
			out, _ := run(t, d, doc, purpose, policy.High)
			if out["type"] != "collection" || out["total"] != nil {
				t.Errorf("%s: type %v, total %v", purpose, out["type"], out["total"])
			}
			entries := out["entry"].([]any)
			if len(entries) != 1 {
				t.Fatalf("%s: %d entries, want the one with a resource", purpose, len(entries))
			}
			e := entries[0].(map[string]any)
			if e["request"] != nil || e["search"] != nil || e["response"] != nil || get(e, "resource", "gender") != "female" {
				t.Errorf("%s: entry %v", purpose, e)
			}
		}
	}
}

func TestLabels(t *testing.T) {
	d := newDefault(t)
	doc := `{"resourceType":"Patient","id":"p1","meta":{"versionId":"3","security":[
	 {"system":"http://terminology.hl7.org/CodeSystem/v3-Confidentiality","code":"R"},
	 {"system":"http://terminology.hl7.org/CodeSystem/v3-ActReason","code":"HRESCH"}]},
	 "name":[{"family":"Doe"}],"gender":"male","birthDate":"1970-01-02"}`
	out, _ := run(t, d, doc, "HRESCH", policy.High)
	got := strings.Join(codes(out), " ")
	// The existing confidentiality (R) is kept, not lowered to L; the purpose
	// label is not repeated; the transformations are labelled.
	if got != "R HRESCH REDACTED PSEUDED ABSTRED" {
		t.Errorf("labels %q", got)
	}
	if get(out, "meta", "versionId") != "3" {
		t.Error("meta.versionId lost")
	}
	out, _ = run(t, d, doc, "TREAT", policy.Medium)
	if got := strings.Join(codes(out), " "); got != "R HRESCH REDACTED TREAT" {
		t.Errorf("treatment labels %q", got)
	}
	out, _ = run(t, d, `{"resourceType":"Patient","gender":"male"}`, "ETREAT", policy.High)
	if got := strings.Join(codes(out), " "); got != "ETREAT N" {
		t.Errorf("emergency treatment labels %q", got)
	}
	if keys := reflect.ValueOf(out).MapKeys(); len(keys) != 3 {
		t.Errorf("unexpected elements %v", out)
	}
}

func TestSafeHarborProfile(t *testing.T) {
	r := DefaultRules()
	r.Purposes["HRESCH"] = "safe-harbor"
	d, err := New(r, grade.DefaultRules())
	if err != nil {
		t.Fatal(err)
	}
	doc := `{"resourceType":"Observation","id":"o1","status":"final","code":{"text":"x"},
	 "effectiveDateTime":"2011-04-06T21:35:23-07:00","issued":"2011-04-06T21:35:23.123Z"}`
	out, res := run(t, d, doc, "HRESCH", policy.High)
	if res.Profile != "safe-harbor" || out["effectiveDateTime"] != "2011" || out["issued"] != nil ||
		!reflect.DeepEqual(out["_issued"], map[string]any{"extension": []any{dar}}) {
		t.Errorf("safe harbor: %v", out)
	}
}

func TestTreatmentKeepsTheRequestorsLevels(t *testing.T) {
	d := newDefault(t)
	g, _ := grade.New(grade.DefaultRules())
	for _, name := range sortedNames(patientBundles(t))[:2] {
		orig := patientBundles(t)[name]
		for _, top := range policy.Levels {
			res, err := d.Deidentify(orig, Request{Purpose: "TREAT", Top: top, Secret: testSecret(1), Now: testNow})
			if err != nil {
				t.Fatal(err)
			}
			validateR4(t, res.FHIR)
			if res.Level != top || res.Stats.Pseudonymized+res.Stats.Shifted+res.Stats.Generalized+res.Stats.Masked != 0 {
				t.Fatalf("%v: %+v", top, res)
			}
			// Element by element: what the grader's filter gives the
			// requestor's level, and nothing else, apart from the package's
			// labels and the Bundle's transport (collection, no request).
			want, err := g.Filter(orig, top)
			if err != nil {
				t.Fatal(err)
			}
			if got, exp := strip(t, res.FHIR), strip(t, want); !reflect.DeepEqual(got, exp) {
				t.Fatalf("%v: treatment output differs from the grader's filter", top)
			}
		}
	}
}

// strip decodes a Bundle and removes what a package changes on purpose:
// meta.security labels, Bundle.type, entry.request.
func strip(t *testing.T, doc []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(doc, &v); err != nil {
		t.Fatal(err)
	}
	var walk func(any)
	walk = func(x any) {
		switch x := x.(type) {
		case map[string]any:
			if m, ok := x["meta"].(map[string]any); ok {
				delete(m, "security")
				if len(m) == 0 {
					delete(x, "meta")
				}
			}
			delete(x, "request")
			if x["resourceType"] == "Bundle" {
				delete(x, "type")
			}
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
	return v
}
