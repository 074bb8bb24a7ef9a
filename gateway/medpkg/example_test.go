package medpkg_test

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"time"

	"github.com/medshare/medshare/gateway/medpkg"
)

func Example() {
	// The requestor's client makes the request's keys; the public halves go
	// in its signed request.
	keys, err := medpkg.NewRequestKeys(rand.Reader, medpkg.SuiteX25519)
	if err != nil {
		panic(err)
	}
	// The owner's gateway builds the package from de-identified records and
	// seals it to the requestor's package key.
	issued := time.Now().UTC()
	pkg := &medpkg.Package{
		Format: medpkg.Format, RequestID: "req-7", DataID: "pkg-7", Channel: "side-medium",
		Owner: "x509::CN=gateway::CN=ca", OwnerMSP: "Hospital1MSP", Requestor: keys.Report.Hash(),
		NodeID: "gateway.hospital1", Purpose: "HRESCH", Sensitivity: "medium",
		RulesVersion: "medshare-deid-2026.1", GradingVersion: "medshare-default-2026.1",
		IssuedAt: issued, ExpiresAt: issued.Add(24 * time.Hour),
		Contract: medpkg.Contract{Allowed: []string{"read"}, ReportKey: keys.Report.DER},
		Records: []medpkg.Record{{RecordID: "rec-1", Version: 1,
			FHIR: json.RawMessage(`{"resourceType":"Patient","gender":"female","birthDate":"1961"}`)}},
	}
	sealed, err := medpkg.Seal(rand.Reader, pkg, keys.Package.Public())
	if err != nil {
		panic(err)
	}
	// sealed.Hash goes into the parent block (packageHash).

	// The requestor's client opens it, reports "decrypted", reads, copies.
	opened, hash, err := medpkg.Open(sealed.Bytes, keys.Package, "req-7")
	if err != nil {
		panic(err)
	}
	sess, err := medpkg.NewSession(opened, hash, keys.Report, 1, nil)
	if err != nil {
		panic(err)
	}
	_ = sess.Decrypted()
	v, _ := sess.Perform("read", func(p *medpkg.Package) error { fmt.Println(string(p.FHIR())); return nil })
	fmt.Println("read:", v)
	v, _ = sess.Perform("copy", nil)
	fmt.Println("copy:", v)
	report, _ := sess.Report()
	fmt.Println("report", report.Seq, "with", len(report.Actions), "actions, bound to the package hash:", hash == sealed.Hash)

	// Another request's answer, or another key, does not open.
	other, _ := medpkg.GenerateKey(rand.Reader, medpkg.SuiteX25519)
	_, _, err = medpkg.Open(sealed.Bytes, other, "req-7")
	fmt.Println(err)
	_, _, err = medpkg.Open(sealed.Bytes, keys.Package, "req-8")
	fmt.Println(err)
	// Output:
	// {"resourceType":"Patient","gender":"female","birthDate":"1961"}
	// read: permitted
	// copy: violation
	// report 1 with 3 actions, bound to the package hash: true
	// medpkg: the package is sealed to another key
	// medpkg: the package answers another request: the package is for request req-7, not req-8
}
