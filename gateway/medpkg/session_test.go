package medpkg

import (
	"crypto/ecdsa"
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"github.com/medshare/medshare/chaincode/provenance"
	"github.com/medshare/medshare/chaincode/txbuild"
)

func TestContractCheck(t *testing.T) {
	c := Contract{Allowed: []string{"read", "copy"}, Ignored: []string{"duplicate"}}
	cases := map[string]Verdict{
		"read": Permitted, "copy": Permitted, "decrypted": Permitted, "duplicate": Ignored,
		"write": Forbidden, "delete": Forbidden, "move": Forbidden,
	}
	for a, want := range cases {
		if got, err := c.Check(a); err != nil || got != want {
			t.Errorf("%s: %v %v, want %v", a, got, err, want)
		}
	}
	for _, a := range []string{"", "READ", "print", "decrypt"} {
		if _, err := c.Check(a); !errors.Is(err, ErrUnknownAction) {
			t.Errorf("%q: %v", a, err)
		}
	}
	// The same order as the provenance contract: an ignored action that is
	// also allowed is ignored.
	c2 := Contract{Allowed: []string{"read"}, Ignored: []string{"read"}}
	if v, _ := c2.Check("read"); v != Ignored {
		t.Errorf("allowed and ignored: %v", v)
	}
}

// verifyReport checks a report's signature as the provenance contract does.
func verifyReport(t *testing.T, r *provenance.ReportInput, channel string, hash [32]byte, key *txbuild.Key) {
	t.Helper()
	names := make([]string, len(r.Actions))
	at := make([]time.Time, len(r.Actions))
	for i, a := range r.Actions {
		names[i] = a.Action
		var err error
		if at[i], err = time.Parse(time.RFC3339Nano, a.At); err != nil {
			t.Fatal(err)
		}
	}
	d := provenance.ReportDigest(channel, r.RequestID, hash, r.Seq, names, at)
	if !ecdsa.VerifyASN1(&key.Private.PublicKey, d[:], r.Signature) {
		t.Fatal("the report's signature does not verify over provenance.ReportDigest")
	}
}

func TestSession(t *testing.T) {
	rk := newReportKey(t)
	key, _ := GenerateKey(rand.Reader, SuiteX25519)
	s := seal(t, testPackage(t, rk.DER), key.Public())
	p, hash, err := Open(s.Bytes, key, "req-1")
	if err != nil {
		t.Fatal(err)
	}
	now := issued.Add(time.Hour)
	clock := func() time.Time { now = now.Add(time.Second); return now }

	if _, err := NewSession(p, hash, newReportKey(t), 1, clock); !errors.Is(err, ErrReportKey) {
		t.Fatalf("another report key: %v", err)
	}
	if _, err := NewSession(p, hash, rk, 0, clock); err == nil {
		t.Fatal("sequence 0 accepted")
	}
	sess, err := NewSession(p, hash, rk, 1, clock)
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.Decrypted(); err != nil {
		t.Fatal(err)
	}
	ran := 0
	v, err := sess.Perform("read", func(*Package) error { ran++; return nil })
	if err != nil || v != Permitted || ran != 1 {
		t.Fatalf("read: %v %v %d", v, err, ran)
	}
	boom := errors.New("disk full")
	if v, err := sess.Perform("copy", func(*Package) error { return boom }); v != Permitted || !errors.Is(err, boom) {
		t.Fatalf("copy: %v %v", v, err)
	}
	// A forbidden action is performed and recorded: the contract decides.
	if v, err := sess.Perform("delete", func(*Package) error { ran++; return nil }); v != Forbidden || err != nil || ran != 2 {
		t.Fatalf("delete: %v %v", v, err)
	}
	if _, err := sess.Perform("print", nil); !errors.Is(err, ErrUnknownAction) {
		t.Fatalf("unknown action: %v", err)
	}
	r, err := sess.Report()
	if err != nil {
		t.Fatal(err)
	}
	if r.Seq != 1 || r.RequestID != "req-1" || len(r.Actions) != 4 || r.Actions[0].Action != "decrypted" || r.Actions[3].Action != "delete" {
		t.Fatalf("report %+v", r)
	}
	verifyReport(t, r, "side-medium", hash, rk)
	if r, err := sess.Report(); r != nil || err != nil || sess.NextSeq() != 2 {
		t.Fatalf("empty report: %v %v", r, err)
	}
	// More than a report holds: two reports, numbered.
	for i := 0; i < MaxReportActions+3; i++ {
		sess.Record("read")
	}
	r1, _ := sess.Report()
	r2, _ := sess.Report()
	if len(r1.Actions) != MaxReportActions || len(r2.Actions) != 3 || r1.Seq != 2 || r2.Seq != 3 || sess.Pending() != 0 {
		t.Fatalf("split reports: %d/%d seq %d/%d", len(r1.Actions), len(r2.Actions), r1.Seq, r2.Seq)
	}
	verifyReport(t, r2, "side-medium", hash, rk)
	// After expiry nothing is recorded or performed.
	now = expires
	if _, err := sess.Perform("read", func(*Package) error { ran++; return nil }); !errors.Is(err, ErrExpired) || ran != 2 || sess.Pending() != 0 {
		t.Fatalf("after expiry: %v", err)
	}
}

func TestPackageFHIR(t *testing.T) {
	p := testPackage(t, fixedReportKey(t))
	want := `{"resourceType":"Bundle","type":"collection","entry":[{"resource":` + string(p.Records[0].FHIR) + `},{"resource":` + string(p.Records[1].FHIR) + `}]}`
	if got := string(p.FHIR()); got != want {
		t.Fatalf("%s", got)
	}
	p.Records = p.Records[:1]
	if got := string(p.FHIR()); got != string(p.Records[0].FHIR) {
		t.Fatalf("%s", got)
	}
}

func TestNewRequestKeys(t *testing.T) {
	k, err := NewRequestKeys(rand.Reader, SuiteX25519)
	if err != nil || k.Package == nil || k.Report == nil || len(k.Report.DER) == 0 {
		t.Fatalf("%+v %v", k, err)
	}
}
