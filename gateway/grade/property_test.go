package grade

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/medshare/medshare/abe/policy"
)

// checkSplit checks the properties every graded document must have: all
// levels give back the original; any set of levels gives exactly what
// filtering the original to those levels gives; and, for FHIR, the result is
// valid R4 (when validate is set).
func checkSplit(t *testing.T, g *Grader, doc []byte, validate bool) *Graded {
	t.Helper()
	gr, err := g.Grade(doc)
	if err != nil {
		t.Fatalf("%v\n%.300s", err, doc)
	}
	all, err := Assemble(gr.Levels)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(all, canonical(t, doc)) || !jsonEqual(t, all, doc) {
		t.Fatalf("round trip:\n got %.500s\nwant %.500s", all, doc)
	}
	for mask := uint8(1); mask < 8; mask++ {
		got, err := Assemble(subset(gr, mask))
		if err != nil {
			t.Fatalf("levels %03b: %v", mask, err)
		}
		want := filterMask(t, g, doc, mask)
		if !bytes.Equal(got, want) {
			t.Fatalf("levels %03b: Assemble differs from the filtered original:\n got %.600s\nwant %.600s", mask, got, want)
		}
		if validate && got != nil && gr.Kind != "json" {
			validateR4(t, got)
		}
	}
	return gr
}

// randomRules returns the default rules with random levels and default.
func randomRules(r *rand.Rand) *Rules {
	d := DefaultRules()
	for i := range d.FHIR {
		d.FHIR[i].Level = policy.Level(r.IntN(3))
	}
	for i := range d.JSON {
		d.JSON[i].Level = policy.Level(r.IntN(3))
	}
	d.Default = policy.Level(1 + r.IntN(2))
	d.Version = "random"
	return d
}

// TestRandomRules: whatever the rules say, the split and the reassembly
// hold and every partial view is valid FHIR R4 (required elements masked,
// labels added).
func TestRandomRules(t *testing.T) {
	files := syntheaFiles(t)
	var docs [][]byte
	for _, f := range files {
		if strings.Contains(f, "Roland928") || strings.Contains(f, "hospitalInformation") {
			docs = append(docs, readFile(t, f))
		}
	}
	seeds := 10
	if testing.Short() {
		seeds = 2
	}
	for seed := 0; seed < seeds; seed++ {
		r := rand.New(rand.NewPCG(uint64(seed), 12))
		g, err := New(randomRules(r))
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range docs {
			t.Run(fmt.Sprintf("seed%d/doc%d", seed, i), func(t *testing.T) { checkSplit(t, g, doc, true) })
		}
	}
}

// TestPrimitiveExtensionArrays: x[i] and _x[i] of a primitive array stay
// aligned whatever levels their parts have.
func TestPrimitiveExtensionArrays(t *testing.T) {
	r, err := ParseRules([]byte(`
version: t
default: high
fhir:
  - {path: Patient, level: low}
  - {path: HumanName.given, level: medium}
  - {path: Extension, level: high}
  - {path: Extension.url, level: low}
`))
	if err != nil {
		t.Fatal(err)
	}
	g, err := New(r)
	if err != nil {
		t.Fatal(err)
	}
	doc := []byte(`{"resourceType":"Patient","name":[{"family":"F","given":["A",null,"C"],"_given":[null,{"extension":[{"url":"http://example.org/x","valueString":"B"}]},{"id":"g3"}]}],"_gender":{"extension":[{"url":"http://example.org/y","valueCode":"z"}]},"gender":"other"}`)
	// google/fhir's unmarshaller refuses the null placeholders of primitive
	// arrays (valid FHIR JSON), so only our own check applies here.
	gr := checkSplit(t, g, doc, false)
	low, _ := Assemble(upTo(gr, policy.Low))
	med, _ := Assemble(upTo(gr, policy.Medium))
	if bytes.Contains(low, []byte("given")) || !bytes.Contains(low, []byte(`"family":"F"`)) {
		t.Fatalf("low view: %s", low)
	}
	// At medium, given[1] has only a (high) extension: it is dropped with
	// its partner, and the arrays stay aligned.
	if !bytes.Contains(med, []byte(`"given":["A","C"],"_given":[null,{"id":"g3"}]`)) {
		t.Fatalf("medium view: %s", med)
	}
}

// randomJSON builds a random plain JSON object from a small vocabulary that
// hits the default JSON rules.
func randomJSON(r *rand.Rand, depth int) string {
	keys := []string{"name", "ssn", "age", "city", "code", "gender", "note", "x", "y", "visits", "dob", "weird \"key\"", "ключ", "a.b"}
	var b strings.Builder
	var value func(d int)
	value = func(d int) {
		k := r.IntN(10)
		if d <= 0 && k >= 7 {
			k = r.IntN(7)
		}
		switch k {
		case 0:
			b.WriteString(`"text \u00e9\n\"q\""`)
		case 1:
			fmt.Fprintf(&b, "%d", r.IntN(1000)-500)
		case 2:
			b.WriteString("1.5e-3")
		case 3:
			b.WriteString("true")
		case 4:
			b.WriteString("null")
		case 5:
			b.WriteString("{}")
		case 6:
			b.WriteString("[]")
		case 7, 8:
			b.WriteByte('{')
			n := 1 + r.IntN(4)
			used := map[string]bool{}
			first := true
			for i := 0; i < n; i++ {
				key := keys[r.IntN(len(keys))]
				if used[key] {
					continue
				}
				used[key] = true
				if !first {
					b.WriteByte(',')
				}
				first = false
				b.WriteString(string(appendString(nil, key)))
				b.WriteByte(':')
				value(d - 1)
			}
			b.WriteByte('}')
		case 9:
			b.WriteByte('[')
			n := 1 + r.IntN(3)
			for i := 0; i < n; i++ {
				if i > 0 {
					b.WriteByte(',')
				}
				value(d - 1)
			}
			b.WriteByte(']')
		}
	}
	b.WriteString(`{"record":`)
	value(depth)
	b.WriteString(`,"name":"Ann","visits":[{"code":"X1","city":"Boston"}]}`)
	return b.String()
}

// TestPlainJSONSplit: the split properties hold for plain JSON documents
// (empty objects and arrays, nulls, escapes, keys with dots).
func TestPlainJSONSplit(t *testing.T) {
	g := defaultGrader(t)
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 200; i++ {
		doc := []byte(randomJSON(r, 4))
		gr := checkSplit(t, g, doc, false)
		if gr.Kind != "json" || gr.ByType["json"] != gr.Counts {
			t.Fatalf("kind %q, by type %v, counts %v", gr.Kind, gr.ByType, gr.Counts)
		}
	}
	// A key holding a dot is not two keys.
	rr, err := ParseRules([]byte("version: t\ndefault: high\njson:\n  - {path: a.b, level: low}\n"))
	if err != nil {
		t.Fatal(err)
	}
	g2, _ := New(rr)
	els := elementsByPath(t, g2, []byte(`{"a":{"b":1},"a.b":2}`))
	if els["a.b"].Level != H {
		// both elements have the JSON path "a.b"; the map keeps the last
		t.Fatalf("key \"a.b\" graded %s by the rule for a → b", els["a.b"].Level)
	}
}

// TestFilterExample pins what a reader of the low level sees for a small
// Patient, byte for byte.
func TestFilterExample(t *testing.T) {
	g := defaultGrader(t)
	doc := []byte(`{"resourceType":"Patient","id":"p1","name":[{"family":"Smith"}],"gender":"female","birthDate":"2001-02-03","managingOrganization":{"reference":"Organization/1"}}`)
	got, err := g.Filter(doc, policy.Low)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"resourceType":"Patient","meta":{"security":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ObservationValue","code":"REDACTED","display":"redacted"}]},"gender":"female"}`
	if string(got) != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	got, _ = g.Filter(doc, policy.Medium)
	want = `{"resourceType":"Patient","meta":{"security":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ObservationValue","code":"REDACTED","display":"redacted"}]},"gender":"female","birthDate":"2001-02-03"}`
	if string(got) != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	got, _ = g.Filter(doc, policy.High)
	if string(got) != string(doc) {
		t.Fatalf("high: %s", got)
	}
	// A required element withheld is masked, and an existing meta.security
	// gets the label appended.
	obs := []byte(`{"resourceType":"Immunization","meta":{"security":[{"system":"http://example.org","code":"x"}]},"status":"completed","vaccineCode":{"text":"flu"},"patient":{"reference":"Patient/p1"},"occurrenceDateTime":"2020-01-01"}`)
	got, _ = g.Filter(obs, policy.Low)
	want = `{"resourceType":"Immunization","meta":{"security":[{"system":"http://example.org","code":"x"},{"system":"http://terminology.hl7.org/CodeSystem/v3-ObservationValue","code":"REDACTED","display":"redacted"}]},"status":"completed","vaccineCode":{"text":"flu"},"occurrenceDateTime":"2020-01-01","patient":{"extension":[{"url":"http://hl7.org/fhir/StructureDefinition/data-absent-reason","valueCode":"masked"}]}}`
	if string(got) != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	validateR4(t, got)
}

// TestConcurrentGrade: a Grader is shared by the gateway's handlers.
func TestConcurrentGrade(t *testing.T) {
	g := defaultGrader(t)
	docs := [][]byte{[]byte(fuzzSeeds[0]), []byte(fuzzSeeds[1]), []byte(fuzzSeeds[6]), readFile(t, syntheaFiles(t)[5])}
	want := make([]*Graded, len(docs))
	for i, d := range docs {
		gr, err := g.Grade(d)
		if err != nil {
			t.Fatal(err)
		}
		want[i] = gr
	}
	errs := make(chan error, 8)
	for w := 0; w < 8; w++ {
		go func(w int) {
			for i := 0; i < 4; i++ {
				d := (w + i) % len(docs)
				gr, err := g.Grade(docs[d])
				if err == nil && (gr.Counts != want[d].Counts || !bytes.Equal(gr.Levels[0], want[d].Levels[0])) {
					err = fmt.Errorf("doc %d graded differently", d)
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}(w)
	}
	for w := 0; w < 8; w++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}
