package deid

import (
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/google/fhir/go/fhirversion"
	"github.com/google/fhir/go/jsonformat"
	"github.com/medshare/medshare/gateway/grade"
)

// syntheaDir is the shared test data, beside the repository.
const syntheaDir = "../../../shared/data/fhir/synthea"

// patientBundles returns the six Synthea patient bundles, by name.
func patientBundles(t testing.TB) map[string][]byte {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(syntheaDir, "*_*.json"))
	if err != nil || len(files) != 6 {
		t.Fatalf("synthea patient bundles not found in %s (%d files, %v)", syntheaDir, len(files), err)
	}
	out := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(f)] = b
	}
	return out
}

func sortedNames(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func newDefault(t testing.TB) *Deidentifier {
	t.Helper()
	d, err := New(DefaultRules(), grade.DefaultRules())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

var (
	libOnce sync.Once
	lib     *jsonformat.Unmarshaller
	libErr  error
)

// validateR4 checks doc with google/fhir's validating R4 unmarshaller.
func validateR4(t testing.TB, doc []byte) {
	t.Helper()
	libOnce.Do(func() { lib, libErr = jsonformat.NewUnmarshaller("UTC", fhirversion.R4) })
	if libErr != nil {
		t.Fatal(libErr)
	}
	if _, err := lib.Unmarshal(doc); err != nil {
		t.Fatalf("not valid FHIR R4: %v", err)
	}
}

// testSecret is a fixed package secret for tests.
func testSecret(b byte) []byte {
	s := make([]byte, 32)
	for i := range s {
		s[i] = b + byte(i)
	}
	return s
}

var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// daysBetween returns b − a in days.
func daysBetween(a, b dateVal) int {
	ta := time.Date(a.y, time.Month(a.m), a.d, 0, 0, 0, 0, time.UTC)
	tb := time.Date(b.y, time.Month(b.m), b.d, 0, 0, 0, 0, time.UTC)
	return int(tb.Sub(ta).Hours() / 24)
}
