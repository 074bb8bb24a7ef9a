package deid

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/medshare/medshare/abe/policy"
	"github.com/medshare/medshare/gateway/grade"
)

func patientID(t *testing.T, bundle []byte) string {
	t.Helper()
	var b struct {
		Entry []struct {
			Resource struct {
				ResourceType, ID string
			}
		}
	}
	if err := json.Unmarshal(bundle, &b); err != nil {
		t.Fatal(err)
	}
	for _, e := range b.Entry {
		if e.Resource.ResourceType == "Patient" {
			return e.Resource.ID
		}
	}
	t.Fatal("no patient")
	return ""
}

// TestConsistentWithinAPackage: the documents of one package (one secret)
// share pseudonyms and date shifts; Apply is deterministic and safe to call
// concurrently on one prepared document.
func TestConsistentWithinAPackage(t *testing.T) {
	d := newDefault(t)
	bundles := patientBundles(t)
	name := sortedNames(bundles)[0]
	a := bundles[name]
	pid := patientID(t, a)
	// A second record of the same patient, uploaded separately.
	b := []byte(`{"resourceType":"Observation","id":"later-1","status":"final","code":{"text":"x"},
	 "subject":{"reference":"Patient/` + pid + `"},"effectiveDateTime":"2015-01-01"}`)
	secret := testSecret(11)

	pa, err := d.Prepare(a, "HRESCH", policy.High)
	if err != nil {
		t.Fatal(err)
	}
	ra, err := pa.Apply(secret, testNow)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := pa.Apply(secret, testNow)
			if err != nil || !bytes.Equal(r.FHIR, ra.FHIR) {
				t.Error("Apply is not deterministic", err)
			}
		}()
	}
	wg.Wait()

	rb, err := d.Deidentify(b, Request{Purpose: "CLINTRCH", Top: policy.High, Secret: secret, Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	k := deriveKeys(secret)
	p := pseudonym(k.pseudo, pid)
	if !bytes.Contains(ra.FHIR, []byte(`"id":"`+p+`"`)) || !bytes.Contains(rb.FHIR, []byte(`"reference":"Patient/`+p+`"`)) {
		t.Fatal("the patient's pseudonym differs between two documents of one package")
	}
	// The same shift for the patient in both documents.
	shift := shiftDays(k.shift, "Patient/"+pid, 365)
	want, _ := dateVal{y: 2015, m: 1, d: 1, prec: 3}.shift(shift)
	var ob map[string]any
	json.Unmarshal(rb.FHIR, &ob)
	if ob["effectiveDateTime"] != want {
		t.Fatalf("second document shifted to %v, want %s (shift %d)", ob["effectiveDateTime"], want, shift)
	}
	origEls, outEls := elements(t, a), elements(t, ra.FHIR)
	byPath := map[string]grade.Element{}
	for _, e := range outEls {
		byPath[e.Path] = e
	}
	for _, e := range origEls {
		if e.Type == "dateTime" && e.Level < policy.High {
			o := byPath[e.Path]
			x, _ := parseDate(unquote(t, e.Value))
			y, _ := parseDate(unquote(t, o.Value))
			if daysBetween(x, y) != shift {
				t.Fatalf("first document: %s shifted by %d, want %d", e.Path, daysBetween(x, y), shift)
			}
			break
		}
	}
}

// TestUnlinkableAcrossPackages: another secret gives other pseudonyms and
// another shift; shifts spread over the bound and are never 0.
func TestUnlinkableAcrossPackages(t *testing.T) {
	d := newDefault(t)
	bundles := patientBundles(t)
	doc := bundles[sortedNames(bundles)[1]]
	p, err := d.Prepare(doc, "HRESCH", policy.High)
	if err != nil {
		t.Fatal(err)
	}
	r1, _ := p.Apply(testSecret(1), testNow)
	r2, _ := p.Apply(testSecret(2), testNow)
	s1, s2 := jsonStrings(t, r1.FHIR), jsonStrings(t, r2.FHIR)
	n := 0
	for s := range s1 {
		if pseudonymRE.MatchString(s) {
			n++
			if s2[s] {
				t.Fatalf("pseudonym %s appears in two packages", s)
			}
		}
	}
	if n < 50 {
		t.Fatalf("only %d pseudonyms", n)
	}
	pid := patientID(t, doc)
	seen := map[int]bool{}
	for i := 0; i < 300; i++ {
		secret := make([]byte, 32)
		rand.Read(secret)
		s := shiftDays(deriveKeys(secret).shift, "Patient/"+pid, 365)
		if s == 0 || s > 365 || s < -365 {
			t.Fatalf("shift %d", s)
		}
		seen[s] = true
	}
	if len(seen) < 200 {
		t.Fatalf("only %d distinct shifts in 300 packages", len(seen))
	}
}

func TestHostileInput(t *testing.T) {
	d := newDefault(t)
	patient := `{"resourceType":"Patient","id":"p1","name":[{"family":"Zyxwvut"}],"gender":"male"}`
	cases := []struct {
		name string
		doc  string
		req  Request
		want error
	}{
		{"not JSON", `{"resourceType":`, Request{}, ErrInvalidDocument},
		{"array", `[]`, Request{}, ErrInvalidDocument},
		{"plain JSON", `{"name":"Zyxwvut"}`, Request{}, ErrInvalidDocument},
		{"unknown resource", `{"resourceType":"Patients","id":"Zyxwvut"}`, Request{}, ErrInvalidDocument},
		{"unknown element", `{"resourceType":"Patient","nmae":"Zyxwvut"}`, Request{}, ErrInvalidDocument},
		{"bad date", `{"resourceType":"Patient","birthDate":"1980-13-01"}`, Request{}, ErrInvalidDocument},
		{"duplicate key", `{"resourceType":"Patient","gender":"male","gender":"female"}`, Request{}, ErrInvalidDocument},
		{"short secret", patient, Request{Secret: make([]byte, 31)}, ErrInvalidRequest},
		{"long secret", patient, Request{Secret: make([]byte, 65)}, ErrInvalidRequest},
		{"no secret", patient, Request{Secret: []byte{}}, ErrInvalidRequest},
		{"no time", patient, Request{}, ErrInvalidRequest},
		{"bad level", patient, Request{Top: policy.Level(9)}, ErrInvalidRequest},
		{"nothing to share", `{"resourceType":"Person","name":[{"family":"Zyxwvut"}]}`, Request{}, ErrNothingToShare},
	}
	for _, c := range cases {
		req := c.req
		if req.Purpose == "" {
			req.Purpose = "HRESCH"
		}
		if req.Secret == nil {
			req.Secret = testSecret(1)
		}
		if req.Now.IsZero() && c.name != "no time" {
			req.Now = testNow
		}
		if c.name == "no time" {
			req.Now = time.Time{}
		}
		if req.Top == 0 && c.name != "bad level" {
			req.Top = policy.High
		}
		_, err := d.Deidentify([]byte(c.doc), req)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
			continue
		}
		if strings.Contains(err.Error(), "Zyxwvut") {
			t.Errorf("%s: the error quotes the document: %v", c.name, err)
		}
	}
	var ie *grade.InputError
	if _, err := d.Deidentify([]byte(`{"resourceType":"Patient","nmae":"x"}`), Request{Purpose: "TREAT", Top: policy.High, Secret: testSecret(1), Now: testNow}); !errors.As(err, &ie) {
		t.Errorf("the grader's InputError is not in the chain: %v", err)
	}
	small, err := New(DefaultRules(), grade.DefaultRules(), WithLimits(grade.Limits{MaxBytes: 64, MaxDepth: 8, MaxValues: 100}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := small.Deidentify([]byte(patient+strings.Repeat(" ", 64)), Request{Purpose: "TREAT", Top: policy.High, Secret: testSecret(1), Now: testNow}); !errors.Is(err, ErrInvalidDocument) || !errors.Is(err, grade.ErrTooLarge) {
		t.Errorf("over the limits: %v", err)
	}
}

func TestCache(t *testing.T) {
	d := newDefault(t)
	c, err := NewCache(d, 2)
	if err != nil {
		t.Fatal(err)
	}
	bundles := patientBundles(t)
	names := sortedNames(bundles)
	a, b, x := bundles[names[0]], bundles[names[1]], bundles[names[2]]
	p1, err := c.Prepare(a, "HRESCH", policy.High)
	if err != nil {
		t.Fatal(err)
	}
	if p2, _ := c.Prepare(a, "HRESCH", policy.High); p2 != p1 {
		t.Fatal("a second Prepare of the same document missed the cache")
	}
	// Another purpose code (written into the labels), level or document is
	// another entry.
	for _, k := range []struct {
		doc     []byte
		purpose string
		top     policy.Level
	}{{a, "CLINTRCH", policy.High}, {a, "HRESCH", policy.Low}, {b, "HRESCH", policy.High}} {
		p, err := c.Prepare(k.doc, k.purpose, k.top)
		if err != nil || p == p1 {
			t.Fatalf("%s %v: %v (same entry: %v)", k.purpose, k.top, err, p == p1)
		}
	}
	if c.Len() != 2 {
		t.Fatalf("%d entries, bounded at 2", c.Len())
	}
	// What comes out is what Deidentify gives.
	p, _ := c.Prepare(x, "HRESCH", policy.High)
	r1, _ := p.Apply(testSecret(5), testNow)
	r2, _ := d.Deidentify(x, Request{Purpose: "HRESCH", Top: policy.High, Secret: testSecret(5), Now: testNow})
	if !bytes.Equal(r1.FHIR, r2.FHIR) {
		t.Fatal("cached and uncached outputs differ")
	}
	if _, err := c.Prepare(x, "HMARKT", policy.High); !errors.Is(err, ErrPurposeNotAllowed) {
		t.Fatalf("refused purpose: %v", err)
	}
	if _, err := NewCache(d, 0); err == nil {
		t.Fatal("size 0 accepted")
	}
}
