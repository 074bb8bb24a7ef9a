package deid

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/medshare/medshare/abe/policy"
	"github.com/medshare/medshare/gateway/grade"
)

var fuzzPurposes = []string{"HRESCH", "TREAT", "PUBHLTH", "HOPERAT", "ETREAT", "HMARKT", "XYZ", ""}

// FuzzDeidentify: any bytes, purpose and level. The de-identifier never
// panics; what it accepts comes out as FHIR R4 the strict grader accepts,
// the same for the same secret.
func FuzzDeidentify(f *testing.F) {
	seeds := []string{
		`{"resourceType":"Patient","id":"p1","name":[{"family":"Doe","given":["J"],"_given":[{"id":"g"}]}],"birthDate":"1930-02-03","_birthDate":{"id":"b"},"address":[{"city":"X","postalCode":"K1A 0B1","period":{"start":"2001"}}]}`,
		`{"resourceType":"Bundle","type":"transaction","entry":[{"fullUrl":"http://h/fhir/Patient/p1","resource":{"resourceType":"Patient","id":"p1"},"request":{"method":"PUT","url":"Patient/p1"}},{"resource":{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/p1/_history/2"},"effectivePeriod":{"start":"2011-04"},"issued":"2011-04-06T21:35:23Z","valueQuantity":{"value":1}}}]}`,
		`{"resourceType":"FamilyMemberHistory","status":"partial","patient":{"reference":"#x"},"relationship":{"text":"m"},"ageRange":{"high":{"value":95,"code":"a"}},"contained":[{"resourceType":"Patient","id":"x"}]}`,
		`{"resourceType":"Condition","subject":{"reference":"Patient?identifier=a|b"},"onsetAge":{"value":1e3,"code":"mo"}}`,
		`{"resourceType":"Person","name":[{"text":"x"}]}`,
		`{"a":1}`, `[]`, `{`, ``,
	}
	for _, s := range seeds {
		f.Add([]byte(s), uint8(0), uint8(2), byte(1))
		f.Add([]byte(s), uint8(1), uint8(1), byte(2))
	}
	d, err := New(DefaultRules(), grade.DefaultRules())
	if err != nil {
		f.Fatal(err)
	}
	g, err := grade.New(grade.DefaultRules())
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, doc []byte, purpose, top uint8, seed byte) {
		p, err := d.Prepare(doc, fuzzPurposes[int(purpose)%len(fuzzPurposes)], policy.Level(top%4))
		if err != nil {
			return
		}
		r1, err := p.Apply(testSecret(seed), testNow)
		if err != nil {
			t.Fatalf("Apply after Prepare: %v", err)
		}
		if !json.Valid(r1.FHIR) {
			t.Fatalf("output is not JSON: %s", r1.FHIR)
		}
		if _, err := g.Grade(r1.FHIR); err != nil {
			t.Fatalf("output is not valid FHIR R4: %v\n%s", err, r1.FHIR)
		}
		r2, _ := p.Apply(testSecret(seed), testNow)
		if !bytes.Equal(r1.FHIR, r2.FHIR) {
			t.Fatal("not deterministic")
		}
	})
}
