package grade

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/fhir/go/fhirversion"
	"github.com/google/fhir/go/jsonformat"
	"github.com/medshare/medshare/abe/policy"
)

// benchBundle is the Synthea bundle the benchmarks use (325 KB, 94 entries).
func benchBundle(b *testing.B) []byte {
	for _, f := range syntheaFiles(b) {
		if strings.HasPrefix(filepath.Base(f), "Bibi254") {
			return readFile(b, f)
		}
	}
	b.Fatal("benchmark bundle not found")
	return nil
}

// BenchmarkGrade grades and splits one Synthea bundle (the gateway's cost
// per upload before encryption).
func BenchmarkGrade(b *testing.B) {
	doc := benchBundle(b)
	g := defaultGrader(b)
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := g.Grade(doc); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGradeLibraryValidation is Grade with WithLibraryValidation.
func BenchmarkGradeLibraryValidation(b *testing.B) {
	doc := benchBundle(b)
	g := defaultGrader(b, WithLibraryValidation())
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := g.Grade(doc); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLibraryUnmarshal is google/fhir's validating R4 unmarshaller
// alone, for comparison.
func BenchmarkLibraryUnmarshal(b *testing.B) {
	doc := benchBundle(b)
	u, err := jsonformat.NewUnmarshaller("UTC", fhirversion.R4)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := u.Unmarshal(doc); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAssemble rebuilds the bundle from all its levels (a reader
// allowed everything) and from the low level only.
func BenchmarkAssemble(b *testing.B) {
	doc := benchBundle(b)
	gr, err := defaultGrader(b).Grade(doc)
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		top  policy.Level
	}{{"all", policy.High}, {"low", policy.Low}} {
		b.Run(c.name, func(b *testing.B) {
			op := upTo(gr, c.top)
			n := 0
			for _, l := range op {
				n += len(l)
			}
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Assemble(op); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkFilter computes the expected view of the low level.
func BenchmarkFilter(b *testing.B) {
	doc := benchBundle(b)
	g := defaultGrader(b)
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := g.Filter(doc, policy.Low); err != nil {
			b.Fatal(err)
		}
	}
}
