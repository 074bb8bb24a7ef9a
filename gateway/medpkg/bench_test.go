package medpkg

import (
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/medshare/medshare/abe/policy"
	"github.com/medshare/medshare/gateway/deid"
	"github.com/medshare/medshare/gateway/grade"
)

// benchPackage is a research package of two Synthea patients (about 420 KB
// of de-identified FHIR): the benchmark workload.
func benchPackage(b *testing.B) *Package {
	files, _ := filepath.Glob("../../../shared/data/fhir/synthea/*_*.json")
	if len(files) < 2 {
		b.Fatal("synthea bundles not found")
	}
	d, err := deid.New(deid.DefaultRules(), grade.DefaultRules())
	if err != nil {
		b.Fatal(err)
	}
	p := testPackage(b, fixedReportKey(b))
	p.Records = nil
	secret := make([]byte, 32)
	for i, f := range files[:2] {
		doc, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		r, err := d.Deidentify(doc, deid.Request{Purpose: "HRESCH", Top: policy.High, Secret: secret, Now: time.Now()})
		if err != nil {
			b.Fatal(err)
		}
		p.Records = append(p.Records, Record{RecordID: "rec-" + string(rune('1'+i)), Version: 1, FHIR: json.RawMessage(r.FHIR)})
	}
	return p
}

func BenchmarkSeal(b *testing.B) {
	p := benchPackage(b)
	key, _ := GenerateKey(rand.Reader, SuiteX25519)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		s, err := Seal(rand.Reader, p, key.Public())
		if err != nil {
			b.Fatal(err)
		}
		n = len(s.Bytes)
	}
	b.SetBytes(int64(n))
}

func BenchmarkOpen(b *testing.B) {
	p := benchPackage(b)
	key, _ := GenerateKey(rand.Reader, SuiteX25519)
	s, err := Seal(rand.Reader, p, key.Public())
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(s.Bytes)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := Open(s.Bytes, key, "req-1"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSealXWing(b *testing.B) {
	p := testPackage(b, fixedReportKey(b))
	key, _ := GenerateKey(rand.Reader, SuiteXWing)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Seal(rand.Reader, p, key.Public()); err != nil {
			b.Fatal(err)
		}
	}
}
