package deid_test

import (
	"bytes"
	"fmt"
	"time"

	"github.com/medshare/medshare/abe/policy"
	"github.com/medshare/medshare/gateway/deid"
	"github.com/medshare/medshare/gateway/grade"
)

func ExampleDeidentifier_Deidentify() {
	d, err := deid.New(deid.DefaultRules(), grade.DefaultRules())
	if err != nil {
		panic(err)
	}
	record := []byte(`{"resourceType":"Patient","id":"mrn-12345","name":[{"family":"Doe","given":["Jane"]}],
	 "telecom":[{"system":"phone","value":"555-0100"}],"gender":"female","birthDate":"1961-07-14",
	 "address":[{"line":["1 Main St"],"city":"Springfield","state":"MA","postalCode":"01105"}]}`)
	res, err := d.Deidentify(record, deid.Request{
		Purpose: "HRESCH",                                // research
		Top:     policy.High,                             // what the researcher's attributes open
		Secret:  bytes.Repeat([]byte{7}, deid.MinSecret), // per package; from crypto/rand in real use
		Now:     time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC),
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Profile, res.Level, res.RulesVersion)
	fmt.Println(string(res.FHIR))
	// Output:
	// research medium medshare-deid-2026.1
	// {"resourceType":"Patient","id":"88758c61-6655-8cda-ad2c-c1efa5d4c243","meta":{"security":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ObservationValue","code":"REDACTED","display":"redacted"},{"system":"http://terminology.hl7.org/CodeSystem/v3-ActReason","code":"HRESCH"},{"system":"http://terminology.hl7.org/CodeSystem/v3-Confidentiality","code":"L","display":"low"},{"system":"http://terminology.hl7.org/CodeSystem/v3-ObservationValue","code":"PSEUDED","display":"pseudonymized"},{"system":"http://terminology.hl7.org/CodeSystem/v3-ObservationValue","code":"ABSTRED","display":"abstracted"}]},"gender":"female","birthDate":"1961","address":[{"state":"MA","postalCode":"011"}]}
}
