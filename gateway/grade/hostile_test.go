package grade

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/medshare/medshare/abe/policy"
)

// TestHostileDocuments feeds Grade documents a careless or malicious data
// owner could send: each is refused with an *InputError matching
// ErrInvalidDocument, naming where, and nothing is graded.
func TestHostileDocuments(t *testing.T) {
	g := defaultGrader(t, WithLimits(Limits{MaxBytes: 1 << 20, MaxDepth: 32, MaxValues: 5000}))
	deep := strings.Repeat(`{"a":`, 40) + "1" + strings.Repeat("}", 40)
	deepArr := `{"a":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + "}"
	huge := `{"resourceType":"Patient","name":[` + strings.Repeat(`{"family":"x"},`, 6000) + `{"family":"x"}]}`
	big := `{"a":"` + strings.Repeat("x", 1<<20) + `"}`
	cases := []struct {
		name, doc string
		path      string // expected InputError.Path ("" when none)
		reason    string // substring of the reason
		limit     bool
	}{
		{"not JSON", `{"resourceType":`, "", "unexpected end of input", false},
		{"trailing data", `{"a":1} {"b":2}`, "", "data after the top-level value", false},
		{"top-level array", `[1,2]`, "", "must be a JSON object", false},
		{"top-level string", `"x"`, "", "must be a JSON object", false},
		{"empty document", `{}`, "", "the document is empty", false},
		{"duplicate key", `{"resourceType":"Patient","gender":"male","gender":"female"}`, "", "duplicate key", false},
		{"duplicate key in plain JSON", `{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"a":10}`, "", "duplicate key", false},
		{"non-UTF-8", "{\"resourceType\":\"Patient\",\"gender\":\"\xff\"}", "", "UTF-8", false},
		{"lone surrogate", `{"a":"\ud800"}`, "", "surrogate", false},
		{"control character", "{\"a\":\"x\ty\"}", "", "control character", false},
		{"number out of range", `{"a":1e400}`, "", "out of range", false},
		{"bad number", `{"a":01}`, "", "", false},
		{"integer too large", `{"resourceType":"Patient","multipleBirthInteger":4294967296}`, "multipleBirthInteger", "32-bit integer", false},
		{"fraction for integer", `{"resourceType":"Patient","multipleBirthInteger":1.5}`, "multipleBirthInteger", "32-bit integer", false},
		{"negative positiveInt", `{"resourceType":"Claim","status":"active","type":{"text":"x"},"use":"claim","patient":{"display":"x"},"created":"2020-01-01","provider":{"display":"x"},"priority":{"text":"x"},"insurance":[{"sequence":0,"focal":true,"coverage":{"display":"x"}}]}`, "insurance[0].sequence", "out of range", false},
		{"unknown resource type", `{"resourceType":"Patientx"}`, "", "unknown FHIR R4 resource type", false},
		{"resourceType not a string", `{"resourceType":1}`, "", "resourceType must be a string", false},
		{"unknown element", `{"resourceType":"Patient","nickname":"Bob"}`, "nickname", "unknown element", false},
		{"miscased element", `{"resourceType":"Patient","Gender":"male"}`, "Gender", "unknown element", false},
		{"unknown nested element", `{"resourceType":"Patient","name":[{"surname":"x"}]}`, "name[0].surname", "unknown element", false},
		{"wrong kind", `{"resourceType":"Patient","active":"yes"}`, "active", "expected a JSON boolean", false},
		{"string for number", `{"resourceType":"Patient","multipleBirthInteger":"2"}`, "multipleBirthInteger", "expected a JSON number", false},
		{"array for single", `{"resourceType":"Patient","gender":["male"]}`, "gender", "expected a single value", false},
		{"single for array", `{"resourceType":"Patient","name":{"family":"x"}}`, "name", "expected an array", false},
		{"empty array", `{"resourceType":"Patient","name":[]}`, "name", "empty array", false},
		{"empty object", `{"resourceType":"Patient","maritalStatus":{}}`, "maritalStatus", "empty object", false},
		{"null value", `{"resourceType":"Patient","gender":null}`, "gender", "null is not a FHIR value", false},
		{"invalid code", `{"resourceType":"Patient","gender":"robot"}`, "gender", "not a valid code", false},
		{"invalid date", `{"resourceType":"Patient","birthDate":"29/04/2009"}`, "birthDate", "not a valid FHIR date", false},
		{"invalid id", `{"resourceType":"Patient","id":"has space"}`, "id", "not a valid FHIR id", false},
		{"two choice types", `{"resourceType":"Patient","deceasedBoolean":true,"deceasedDateTime":"2020-01-01"}`, "", "two values", false},
		{"unknown choice type", `{"resourceType":"Patient","deceasedString":"yes"}`, "deceasedString", "unknown element", false},
		{"missing required", `{"resourceType":"Observation","status":"final"}`, "", `missing required element "code"`, false},
		{"missing required in backbone", `{"resourceType":"Patient","communication":[{"preferred":true}]}`, "communication[0]", `missing required element "language"`, false},
		{"bad contained resource", `{"resourceType":"Patient","contained":[{"resourceType":"Nope"}]}`, "contained[0]", "unknown FHIR R4 resource type", false},
		{"entry resource without type", `{"resourceType":"Bundle","type":"batch","entry":[{"resource":{"id":"x"}}]}`, "entry[0].resource", "missing resourceType", false},
		{"misaligned primitive arrays", `{"resourceType":"Patient","name":[{"given":["a","b"],"_given":[{"id":"x"}]}]}`, "name[0].given", "same length", false},
		{"empty key in plain JSON", `{"":1}`, "", "empty key", false},
		{"too deep", deep, "", "nested deeper than 32", true},
		{"too deep arrays", deepArr, "", "nested deeper than 32", true},
		{"too many values", huge, "", "too many JSON values", true},
		{"too many bytes", big, "", "limit", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			gr, err := g.Grade([]byte(c.doc))
			if gr != nil {
				t.Fatal("a refused document was graded")
			}
			var ie *InputError
			if !errors.As(err, &ie) || !errors.Is(err, ErrInvalidDocument) {
				t.Fatalf("got %v, want an *InputError", err)
			}
			if ie.Path != c.path || !strings.Contains(ie.Reason, c.reason) {
				t.Fatalf("got path %q reason %q, want path %q reason containing %q", ie.Path, ie.Reason, c.path, c.reason)
			}
			if errors.Is(err, ErrTooLarge) != c.limit {
				t.Fatalf("ErrTooLarge = %v, want %v", errors.Is(err, ErrTooLarge), c.limit)
			}
			if _, err := g.Filter([]byte(c.doc), policy.High); !errors.Is(err, ErrInvalidDocument) {
				t.Fatalf("Filter accepted it: %v", err)
			}
		})
	}
}

// TestInputErrorNeverQuotesValues checks that refusals do not echo patient
// data (they end up in logs and problem responses).
func TestInputErrorNeverQuotesValues(t *testing.T) {
	g := defaultGrader(t)
	secret := "Schowalter414-999-97-5872"
	for _, doc := range []string{
		`{"resourceType":"Patient","birthDate":"` + secret + `"}`,
		`{"resourceType":"Patient","active":"` + secret + `"}`,
		`{"resourceType":"Patient","name":[{"family":"` + secret + `","given":"x"}]}`,
	} {
		_, err := g.Grade([]byte(doc))
		if err == nil || strings.Contains(err.Error(), secret) {
			t.Fatalf("error %v quotes the value", err)
		}
	}
}

// TestLibraryValidation: with WithLibraryValidation, what the schema walk
// does not check (here a reference to the wrong resource type) is refused
// by google/fhir's validator.
func TestLibraryValidation(t *testing.T) {
	doc := []byte(`{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"Medication/1"}}`)
	if _, err := defaultGrader(t).Grade(doc); err != nil {
		t.Fatalf("schema walk: %v", err)
	}
	_, err := defaultGrader(t, WithLibraryValidation()).Grade(doc)
	if !errors.Is(err, ErrInvalidDocument) || !strings.Contains(err.Error(), "FHIR R4 validation") {
		t.Fatalf("library validation: %v", err)
	}
	if _, err := defaultGrader(t, WithLibraryValidation()).Grade(readFile(t, syntheaFiles(t)[0])); err != nil {
		t.Fatalf("Synthea bundle refused by the library: %v", err)
	}
}

// TestHostileLevels feeds Assemble level plaintexts that were tampered
// with or mixed up: each is refused with ErrInvalidLevels.
func TestHostileLevels(t *testing.T) {
	g := defaultGrader(t)
	doc := minimalResource(t, "Patient", `"id":"p1","gender":"female","birthDate":"2000-01-01","name":[{"family":"F","given":["A","B"]}]`)
	gr, err := g.Grade(doc)
	if err != nil {
		t.Fatal(err)
	}
	other, err := g.Grade(minimalResource(t, "Observation", `"code":{"text":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	lo, hi := gr.Levels[policy.Low], gr.Levels[policy.High]
	swap := func(b []byte, old, new string) []byte { return bytes.Replace(b, []byte(old), []byte(new), 1) }
	cases := []struct {
		name   string
		levels [policy.NumLevels][]byte
	}{
		{"truncated", [3][]byte{lo[:len(lo)-3], nil, nil}},
		{"not JSON", [3][]byte{[]byte("hello"), nil, nil}},
		{"level in the wrong slot", [3][]byte{hi, nil, nil}},
		{"two documents", [3][]byte{other.Levels[policy.Low], nil, hi}},
		{"unknown version", [3][]byte{swap(lo, `"v":1`, `"v":2`), nil, nil}},
		{"extra key", [3][]byte{swap(lo, `{"v":1`, `{"x":0,"v":1`), nil, nil}},
		{"zero ordinal step", [3][]byte{swap(lo, `"el":[[1,`, `"el":[[0,`), nil, nil}},
		{"keep beyond the previous path", [3][]byte{swap(lo, `"el":[[1,0`, `"el":[[1,5`), nil, nil}},
		{"bad mask", [3][]byte{swap(lo, `"res":[[7,`, `"res":[[2,`), nil, nil}},
		{"same element twice", [3][]byte{lo, nil, swap(hi, `"el":[[`, `"el":[[1,0,"resourceType","Patient"],[`)}},
		{"kind does not match", [3][]byte{swap(lo, `"kind":"Patient"`, `"kind":"Observation"`), nil, nil}},
		{"unknown element", [3][]byte{swap(lo, `"gender"`, `"sex"`), nil, nil}},
		{"object element as a string", [3][]byte{swap(lo, `"gender","female"`, `"meta","female"`), nil, nil}},
		{"array element as a single value", [3][]byte{lo, nil, swap(hi, `"name",0,`, `"name",`)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, err := Assemble(c.levels)
			if !errors.Is(err, ErrInvalidLevels) || out != nil {
				t.Fatalf("got %v (%s), want ErrInvalidLevels", err, out)
			}
		})
	}
	if out, err := Assemble([3][]byte{}); out != nil || err != nil {
		t.Fatalf("no level: got %s, %v", out, err)
	}
	// Levels over the reader's limits are refused, not decoded.
	if _, err := AssembleWithLimits(gr.Levels, Limits{MaxBytes: 1 << 20, MaxDepth: 64, MaxValues: 3}); !errors.Is(err, ErrInvalidLevels) {
		t.Fatalf("over MaxValues: %v", err)
	}
	if _, err := AssembleWithLimits(gr.Levels, Limits{MaxBytes: 16, MaxDepth: 64, MaxValues: 1000}); !errors.Is(err, ErrInvalidLevels) {
		t.Fatalf("over MaxBytes: %v", err)
	}
	if _, err := AssembleWithLimits(gr.Levels, Limits{}); !errors.Is(err, ErrInvalidLevels) {
		t.Fatalf("zero limits: %v", err)
	}
}
