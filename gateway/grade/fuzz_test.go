package grade

import (
	"bytes"
	"errors"
	"testing"

	"github.com/medshare/medshare/abe/policy"
)

var fuzzSeeds = []string{
	`{"resourceType":"Patient","id":"p1","name":[{"family":"F","given":["A"]}],"gender":"female","birthDate":"2001-02-03"}`,
	`{"resourceType":"Observation","status":"final","code":{"text":"t"},"valueQuantity":{"value":1.5,"unit":"kg"},"subject":{"reference":"Patient/p1"}}`,
	`{"resourceType":"Immunization","status":"completed","vaccineCode":{"text":"flu"},"patient":{"reference":"Patient/p1"},"occurrenceDateTime":"2020-01-01"}`,
	`{"resourceType":"Bundle","type":"batch","entry":[{"fullUrl":"urn:uuid:1","resource":{"resourceType":"Patient","gender":"male"},"request":{"method":"POST","url":"Patient"}}]}`,
	`{"resourceType":"Patient","contained":[{"resourceType":"Basic","code":{"text":"x"}}],"extension":[{"url":"http://x","valueAddress":{"city":"B","country":"US"}}]}`,
	`{"resourceType":"Patient","name":[{"given":["A",null],"_given":[null,{"id":"x"}]}]}`,
	`{"name":"Ann","age":3,"visits":[{"code":"X","note":null,"e":{},"f":[]}],"a.b":"\u00e9"}`,
	`{"x":[[1,2],[3]],"y":-0.5e+2}`,
}

// FuzzGrade: Grade never panics; whatever it accepts splits and reassembles
// exactly (all levels give the document back, every set of levels up to L
// gives Filter's result).
func FuzzGrade(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	g, err := New(DefaultRules(), WithLimits(Limits{MaxBytes: 1 << 16, MaxDepth: 24, MaxValues: 4096}))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		gr, err := g.Grade(doc)
		if err != nil {
			if !errors.Is(err, ErrInvalidDocument) {
				t.Fatalf("error not matching ErrInvalidDocument: %v", err)
			}
			return
		}
		all, err := Assemble(gr.Levels)
		if err != nil {
			t.Fatalf("Assemble(all): %v", err)
		}
		if !bytes.Equal(all, canonical(t, doc)) {
			t.Fatalf("round trip:\n got %s\nwant %s", all, canonical(t, doc))
		}
		for top := policy.Low; top <= policy.High; top++ {
			got, err := Assemble(upTo(gr, top))
			if err != nil {
				t.Fatalf("Assemble up to %s: %v", top, err)
			}
			want, err := g.Filter(doc, top)
			if err != nil {
				t.Fatalf("Filter %s: %v", top, err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("up to %s:\n got %s\nwant %s", top, got, want)
			}
			if got != nil && gr.Kind != "json" {
				// The partial view is itself a FHIR document Grade accepts.
				if _, err := g.Grade(got); err != nil {
					t.Fatalf("partial view up to %s refused: %v\n%s", top, err, got)
				}
			}
		}
	})
}

// FuzzAssemble: Assemble never panics on tampered or foreign level
// plaintexts, and what it returns is JSON.
func FuzzAssemble(f *testing.F) {
	g, err := New(DefaultRules())
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range fuzzSeeds[:4] {
		gr, err := g.Grade([]byte(s))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(gr.Levels[0], gr.Levels[1], gr.Levels[2])
	}
	f.Add([]byte(`{"v":1,"kind":"json","level":"low","res":[],"el":[[1,0,"a",1]]}`), []byte(nil), []byte(nil))
	f.Fuzz(func(t *testing.T, lo, med, hi []byte) {
		var op [policy.NumLevels][]byte
		for i, b := range [][]byte{lo, med, hi} {
			if len(b) > 0 {
				op[i] = b
			}
		}
		out, err := Assemble(op)
		if err != nil {
			if !errors.Is(err, ErrInvalidLevels) {
				t.Fatalf("error not matching ErrInvalidLevels: %v", err)
			}
			return
		}
		if out == nil {
			return
		}
		if _, perr := parseJSON(out, parseLimits{maxDepth: 1 << 10, maxNodes: 1 << 24}); perr != nil {
			t.Fatalf("Assemble returned invalid JSON (%s): %s", perr.reason, out)
		}
		again, err := Assemble(op)
		if err != nil || !bytes.Equal(out, again) {
			t.Fatal("Assemble is not deterministic")
		}
	})
}
