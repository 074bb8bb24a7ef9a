package grade

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/google/fhir/go/fhirversion"
	"github.com/google/fhir/go/jsonformat"
	"github.com/medshare/medshare/abe/policy"
)

// syntheaDir is the shared test data, beside the repository.
const syntheaDir = "../../../shared/data/fhir/synthea"

func syntheaFiles(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(syntheaDir, "*.json"))
	if err != nil || len(files) < 8 {
		t.Fatalf("synthea bundles not found in %s (%d files, %v)", syntheaDir, len(files), err)
	}
	return files
}

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func defaultGrader(t testing.TB, opts ...Option) *Grader {
	t.Helper()
	g, err := New(DefaultRules(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

var (
	libOnce sync.Once
	lib     *jsonformat.Unmarshaller
)

// validateR4 checks doc with google/fhir's validating R4 unmarshaller.
func validateR4(t testing.TB, doc []byte) {
	t.Helper()
	libOnce.Do(func() {
		u, err := jsonformat.NewUnmarshaller("UTC", fhirversion.R4)
		if err != nil {
			t.Fatal(err)
		}
		lib = u
	})
	if _, err := lib.Unmarshal(doc); err != nil {
		t.Fatalf("not valid FHIR R4: %v\n%.2000s", err, doc)
	}
}

func compact(t testing.TB, doc []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, doc); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// canonical is doc as Grade and Assemble write JSON: compact, strings
// re-escaped minimally, keys and number literals as they were.
func canonical(t testing.TB, doc []byte) []byte {
	t.Helper()
	n, perr := parseJSON(doc, parseLimits{maxDepth: 1000, maxNodes: 1 << 24})
	if perr != nil {
		t.Fatal(perr.reason)
	}
	return appendJSON(nil, n)
}

// jsonEqual reports whether a and b are equal as JSON values.
func jsonEqual(t testing.TB, a, b []byte) bool {
	t.Helper()
	var va, vb any
	da, db := json.NewDecoder(bytes.NewReader(a)), json.NewDecoder(bytes.NewReader(b))
	da.UseNumber()
	db.UseNumber()
	if err := da.Decode(&va); err != nil {
		t.Fatal(err)
	}
	if err := db.Decode(&vb); err != nil {
		t.Fatal(err)
	}
	return reflect.DeepEqual(va, vb)
}

// upTo returns the levels of gr up to and including top.
func upTo(gr *Graded, top policy.Level) [policy.NumLevels][]byte {
	var op [policy.NumLevels][]byte
	for l := policy.Low; l <= top; l++ {
		op[l] = gr.Levels[l]
	}
	return op
}

// subset returns the levels of gr whose bit is set in mask.
func subset(gr *Graded, mask uint8) [policy.NumLevels][]byte {
	var op [policy.NumLevels][]byte
	for l := 0; l < policy.NumLevels; l++ {
		if mask&(1<<l) != 0 {
			op[l] = gr.Levels[l]
		}
	}
	return op
}

// filterMask is Filter for any set of levels (test-only generalisation).
func filterMask(t testing.TB, g *Grader, doc []byte, mask uint8) []byte {
	t.Helper()
	tr, err := g.parseAndGrade(doc, nil)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := filterNode(tr.root, mask)
	if out == nil {
		return nil
	}
	if tr.fhir {
		if err := finish(out); err != nil {
			t.Fatal(err)
		}
	}
	return appendJSON(nil, out)
}

// sampleJSON returns a small valid JSON value of FHIR type ft.
func sampleJSON(ft *ftype, depth int) string {
	switch ft.kind {
	case tAnyResource:
		return `{"resourceType":"Basic","code":{"text":"x"}}`
	case tPrimitive:
		if ft.enum != nil {
			codes := make([]string, 0, len(ft.enum))
			for c := range ft.enum {
				codes = append(codes, c)
			}
			sort.Strings(codes)
			return `"` + codes[0] + `"`
		}
		switch ft.name {
		case "boolean":
			return "true"
		case "integer", "positiveInt", "unsignedInt":
			return "1"
		case "decimal":
			return "1.5"
		case "date":
			return `"2000-01-01"`
		case "dateTime":
			return `"2000-01-01T10:00:00Z"`
		case "instant":
			return `"2000-01-01T10:00:00Z"`
		case "time":
			return `"10:00:00"`
		case "uri", "url", "canonical":
			return `"http://example.org/x"`
		case "oid":
			return `"urn:oid:1.2.3"`
		case "uuid":
			return `"urn:uuid:c757873d-ec9a-4326-a141-556f43239520"`
		case "id":
			return `"x1"`
		case "base64Binary":
			return `"AAAA"`
		case "xhtml":
			return `"<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>"`
		}
		return `"x"`
	}
	parts := []string{}
	for _, f := range ft.requiredFields() {
		if depth > 6 {
			break
		}
		v := sampleJSON(f.typ, depth+1)
		if f.repeated {
			v = "[" + v + "]"
		}
		parts = append(parts, `"`+f.key+`":`+v)
	}
	if len(parts) == 0 {
		parts = append(parts, `"id":"x1"`)
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// minimalResource returns {"resourceType":rt, body...} completed with
// sample values for the required elements body does not set.
func minimalResource(t testing.TB, rt, body string) []byte {
	t.Helper()
	ft := r4().resources[rt]
	if ft == nil {
		t.Fatalf("unknown resource %s", rt)
	}
	n, perr := parseJSON([]byte("{"+body+"}"), parseLimits{maxDepth: 64, maxNodes: 1 << 16})
	if perr != nil {
		t.Fatalf("body %q: %s", body, perr.reason)
	}
	parts := []string{`"resourceType":"` + rt + `"`}
	if body != "" {
		parts = append(parts, body)
	}
	fm := ft.fieldMap()
	for _, f := range ft.requiredFields() {
		if hasElement(n, fm, f.name) {
			continue
		}
		v := sampleJSON(f.typ, 1)
		if f.repeated {
			v = "[" + v + "]"
		}
		parts = append(parts, `"`+f.key+`":`+v)
	}
	return []byte("{" + strings.Join(parts, ",") + "}")
}

// elementsByPath grades doc and returns its elements by JSON path.
func elementsByPath(t testing.TB, g *Grader, doc []byte) map[string]Element {
	t.Helper()
	m := map[string]Element{}
	if err := g.Walk(doc, func(e Element) error { m[e.Path] = e; return nil }); err != nil {
		t.Fatalf("%v\n%s", err, doc)
	}
	return m
}
