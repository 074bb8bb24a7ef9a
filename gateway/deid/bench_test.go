package deid

import (
	"strings"
	"testing"

	"github.com/medshare/medshare/abe/policy"
)

// benchBundle is the Synthea bundle the benchmarks use (Bibi254: 325 KB,
// 94 entries), as in gateway/grade.
func benchBundle(b *testing.B) []byte {
	bundles := patientBundles(b)
	for name, doc := range bundles {
		if strings.HasPrefix(name, "Bibi254") {
			return doc
		}
	}
	b.Fatal("benchmark bundle not found")
	return nil
}

func benchDeidentify(b *testing.B, purpose string) {
	doc := benchBundle(b)
	d := newDefault(b)
	req := Request{Purpose: purpose, Top: policy.High, Secret: testSecret(1), Now: testNow}
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.Deidentify(doc, req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDeidentifyResearch is the whole de-identification of one
// Synthea bundle for research (Prepare + Apply): the owner's cost per
// record of a package when nothing is cached.
func BenchmarkDeidentifyResearch(b *testing.B) { benchDeidentify(b, "HRESCH") }

// BenchmarkDeidentifyTreatment is the same for treatment (filter + labels).
func BenchmarkDeidentifyTreatment(b *testing.B) { benchDeidentify(b, "TREAT") }

// BenchmarkApplyResearch is Apply alone on a prepared bundle: the cost per
// package when the gateway caches Prepare per record, purpose and level.
func BenchmarkApplyResearch(b *testing.B) {
	doc := benchBundle(b)
	p, err := newDefault(b).Prepare(doc, "HRESCH", policy.High)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Apply(testSecret(1), testNow); err != nil {
			b.Fatal(err)
		}
	}
}
