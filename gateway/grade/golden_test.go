package grade

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/medshare/medshare/abe/policy"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// levelCounts is a per-level count as written in the golden files.
type levelCounts struct {
	Low    int `json:"low"`
	Medium int `json:"medium"`
	High   int `json:"high"`
}

func toCounts(c [policy.NumLevels]int) levelCounts {
	return levelCounts{Low: c[policy.Low], Medium: c[policy.Medium], High: c[policy.High]}
}

// golden is what the golden file of one bundle pins: the counts per level
// and per resource type, and a digest of each level's plaintext (so that any
// change to grading or to the encoding shows).
type golden struct {
	Rules     string                   `json:"rules"`
	Kind      string                   `json:"kind"`
	Counts    levelCounts              `json:"counts"`
	Defaulted int                      `json:"defaulted"`
	ByType    map[string]levelCounts   `json:"byType"`
	Bytes     levelCounts              `json:"bytes"`
	SHA256    [policy.NumLevels]string `json:"sha256"`
}

func goldenOf(gr *Graded) golden {
	g := golden{Rules: gr.RulesVersion, Kind: gr.Kind, Counts: toCounts(gr.Counts), Defaulted: gr.Defaulted, ByType: map[string]levelCounts{}}
	for rt, c := range gr.ByType {
		g.ByType[rt] = toCounts(c)
	}
	var sizes [policy.NumLevels]int
	for l, b := range gr.Levels {
		sizes[l] = len(b)
		if b != nil {
			s := sha256.Sum256(b)
			g.SHA256[l] = hex.EncodeToString(s[:])
		}
	}
	g.Bytes = toCounts(sizes)
	return g
}

// TestGolden grades the Synthea bundles with the default rules and compares
// the counts per level and per resource type with testdata/golden (go test
// -run TestGolden -update rewrites them).
func TestGolden(t *testing.T) {
	g := defaultGrader(t)
	for _, f := range syntheaFiles(t) {
		name := filepath.Base(f)
		if i := strings.IndexByte(name, '_'); i > 0 && !strings.HasPrefix(name, "hospital") && !strings.HasPrefix(name, "practitioner") {
			name = strings.SplitN(name, "_", 3)[0] + "_" + strings.SplitN(name, "_", 3)[1] + ".json"
		}
		t.Run(name, func(t *testing.T) {
			gr, err := g.Grade(readFile(t, f))
			if err != nil {
				t.Fatal(err)
			}
			got, err := json.MarshalIndent(goldenOf(gr), "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			path := filepath.Join("testdata", "golden", name)
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create)", err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("grading changed for %s (run with -update if intended):\ngot:\n%s\nwant:\n%s", name, got, want)
			}
			// The counts must add up: per type and per level.
			var sum [policy.NumLevels]int
			for _, c := range gr.ByType {
				for l := range c {
					sum[l] += c[l]
				}
			}
			if sum != gr.Counts {
				t.Fatalf("per-type counts %v do not add up to %v", sum, gr.Counts)
			}
			if gr.Defaulted != 0 {
				t.Errorf("%d elements fell to the default level: the default rules should cover Synthea", gr.Defaulted)
			}
		})
	}
}

// TestSyntheaLevels checks, on every Synthea bundle, what each reader gets:
// opening every level gives back the original; opening the levels up to L
// gives exactly the elements graded L or lower (Filter), as valid FHIR R4
// with the REDACTED label; and the identifiers never reach the low level.
func TestSyntheaLevels(t *testing.T) {
	g := defaultGrader(t)
	for _, f := range syntheaFiles(t) {
		t.Run(filepath.Base(f)[:12], func(t *testing.T) {
			doc := readFile(t, f)
			gr, err := g.Grade(doc)
			if err != nil {
				t.Fatal(err)
			}
			all, err := Assemble(gr.Levels)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(all, compact(t, doc)) {
				t.Fatal("all levels do not give back the original")
			}
			for top := policy.Low; top <= policy.High; top++ {
				got, err := Assemble(upTo(gr, top))
				if err != nil {
					t.Fatal(err)
				}
				want, err := g.Filter(doc, top)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("levels up to %s: Assemble differs from Filter", top)
				}
				validateR4(t, got)
				if top < policy.High && !bytes.Contains(got, []byte(`"code":"REDACTED"`)) {
					t.Fatalf("levels up to %s: no REDACTED label", top)
				}
				again, _ := Assemble(upTo(gr, top))
				if !bytes.Equal(got, again) {
					t.Fatal("Assemble is not deterministic")
				}
			}
			// Element by element: the low view holds exactly the low
			// elements, plus the markers Assemble adds (3 leaves per
			// REDACTED coding, 2 per data-absent-reason extension).
			low, _ := Assemble(upTo(gr, policy.Low))
			root, perr := parseJSON(low, parseLimits{maxDepth: 64, maxNodes: 1 << 20})
			if perr != nil {
				t.Fatal(perr.reason)
			}
			labels := bytes.Count(low, []byte(`"code":"`+SecurityRedacted+`"`))
			masks := bytes.Count(low, []byte(`"url":"`+DataAbsentReasonURL+`"`))
			if n := countLeaves(root); n != gr.Counts[policy.Low]+3*labels+2*masks {
				t.Fatalf("low view: %d leaves, want %d low elements + %d labels + %d masks", n, gr.Counts[policy.Low], labels, masks)
			}
			for _, secret := range []string{`"family"`, `"given"`, `"telecom"`, `"line"`, `"birthDate"`, `"fullUrl"`, `"display":"Dr. `} {
				if bytes.Contains(low, []byte(secret)) {
					t.Errorf("%s in the low view", secret)
				}
			}
		})
	}
}

func countLeaves(n *node) int {
	if n.isLeaf() {
		return 1
	}
	c := 0
	for _, v := range n.vals {
		c += countLeaves(v)
	}
	return c
}
