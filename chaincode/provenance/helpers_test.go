package provenance_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	"github.com/medshare/medshare/chaincode/internal/cctest"
	"github.com/medshare/medshare/chaincode/internal/chainhash"
	"github.com/medshare/medshare/chaincode/provenance"
	"github.com/medshare/medshare/chaincode/storage"
	"github.com/medshare/medshare/network/identity"
)

var doctor = []string{"role=doctor", "dept=cardiology"}

// fixture is a side channel with two records of hospital 1 under a doctor
// policy, and a requestor who is also a data user holding doctor.
type fixture struct {
	*cctest.Side
	recs      []*storage.Record
	requestor *cctest.User
	reportKey *cctest.Key
}

func newFixture(t *testing.T, level string) *fixture {
	t.Helper()
	s := cctest.NewSide(t, level)
	f := &fixture{Side: s, requestor: s.NewUser(doctor...), reportKey: cctest.NewKey(t)}
	for _, id := range []string{rec1, rec2} {
		f.recs = append(f.recs, s.Store(s.H1, id))
		s.SetPolicy(s.H1, id, s.Policy(doctor...))
	}
	return f
}

// request returns a correctly signed request by u for recordIDs, submitted
// by node; edit changes it before the node signs (the requestor's signature
// is computed first, from the unedited request fields unless resign).
func (f *fixture) request(u *cctest.User, node *identity.Signer, id string, allowed, ignored []string, edit func(*provenance.RequestInput)) provenance.RequestInput {
	f.T.Helper()
	now := f.L.Now()
	pkg := sha256.Sum256([]byte("package:" + id))
	in := provenance.RequestInput{
		RequestID: id, RequestorKey: u.DER, Requestor: u.ID(), Enrolment: u.Enrolment.Signature, ReportKey: f.reportKey.DER,
		RecordIDs: []string{rec1, rec2}, Purpose: "cardiology research",
		RequestTime: now.Add(-3 * time.Second).Format(time.RFC3339Nano),
		Received:    now.Add(-2 * time.Second).Format(time.RFC3339Nano),
		Processed:   now.Add(-time.Second).Format(time.RFC3339Nano),
		Sent:        now.Format(time.RFC3339Nano),
		DataID:      "pkg-" + id, PackageHash: fmt.Sprintf("%x", pkg),
		Contract: provenance.ContractInput{Allowed: allowed, Ignored: ignored},
	}
	if edit != nil {
		edit(&in)
	}
	f.signRequest(u, node, &in)
	return in
}

// hash32 decodes a hex digest; malformed input gives zeros.
func hash32(s string) [32]byte {
	var h [32]byte
	b, _ := hex.DecodeString(s)
	copy(h[:], b)
	return h
}

func parse(t testing.TB, s string) time.Time {
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return tm
}

// signRequest (re)computes the requestor's and the node's signatures.
func (f *fixture) signRequest(u *cctest.User, node *identity.Signer, in *provenance.RequestInput) {
	t := f.T
	rd := provenance.RequestDigest(f.Channel, in.RequestID, in.RequestorKey, in.Requestor, in.RecordIDs, in.Purpose, parse(t, in.RequestTime), in.ReportKey)
	in.RequestSignature = u.Sign(t, rd)
	f.signNode(node, in)
}

// signNode (re)computes the node's signature (Nsig) alone.
func (f *fixture) signNode(node *identity.Signer, in *provenance.RequestInput) {
	t := f.T
	rd := provenance.RequestDigest(f.Channel, in.RequestID, in.RequestorKey, in.Requestor, in.RecordIDs, in.Purpose, parse(t, in.RequestTime), in.ReportKey)
	pkg := hash32(in.PackageHash)
	allowed := provenance.MaskOf(in.Contract.Allowed) | provenance.MaskOf([]string{provenance.ActionDecrypted})
	fd := provenance.FormDigest(f.Channel, in.RequestID, rd, parse(t, in.Received), parse(t, in.Processed), parse(t, in.Sent),
		in.DataID, pkg, allowed, provenance.MaskOf(in.Contract.Ignored))
	in.NodeSignature = cctest.SignBy(t, node, fd)
}

// Request records a request and returns its view.
func (f *fixture) Request(in provenance.RequestInput) *provenance.View {
	f.T.Helper()
	return cctest.Decode[provenance.View](f.T, f.Must(f.H1, provenance.Name, "Request", cctest.JSON(f.T, in)))
}

// report returns a signed report of actions at the ledger's time, forwarded
// by node.
func (f *fixture) report(node *identity.Signer, in provenance.RequestInput, seq uint64, actions ...string) provenance.ReportInput {
	f.T.Helper()
	r := provenance.ReportInput{RequestID: in.RequestID, Seq: seq}
	at := make([]time.Time, len(actions))
	for i, a := range actions {
		at[i] = f.L.Now()
		r.Actions = append(r.Actions, provenance.ReportedAction{Action: a, At: at[i].Format(time.RFC3339Nano)})
	}
	pkg := hash32(in.PackageHash)
	d := provenance.ReportDigest(f.Channel, in.RequestID, pkg, seq, actions, at)
	r.Signature = f.reportKey.Sign(f.T, d)
	r.NodeSignature = cctest.SignBy(f.T, node, d)
	return r
}

// Report submits a report and returns its result.
func (f *fixture) Report(node *identity.Signer, r provenance.ReportInput) *provenance.ReportResult {
	f.T.Helper()
	return cctest.Decode[provenance.ReportResult](f.T, f.Must(node, provenance.Name, "Report", cctest.JSON(f.T, r)))
}

// decision returns the owner's Nsig for a decision.
func (f *fixture) decision(requestID, kind string, ignored []string, reason string) string {
	d := provenance.DecisionDigest(f.Channel, requestID, kind, provenance.MaskOf(ignored), reason)
	return cctest.B64(cctest.SignBy(f.T, f.H1, d))
}

// Ids: hospital 1's records (recH2 is hospital 2's) and the requests of the
// fixture's requestor, the first person its Side enrols.
var (
	rec1, rec2, rec9       = cctest.H1Rec("rec-1"), cctest.H1Rec("rec-2"), cctest.H1Rec("rec-9")
	recH2                  = cctest.H2Rec("rec-h2")
	req1, req2, req3, req9 = cctest.UserRequest(1, "req-1"), cctest.UserRequest(1, "req-2"), cctest.UserRequest(1, "req-3"), cctest.UserRequest(1, "req-9")
)

// frontierOf is the Merkle frontier (peaks) over one side-block
// transaction hash.
func frontierOf(t *testing.T, leaf string) []string {
	var f chainhash.Frontier
	h := hash32(leaf)
	f.Append(h)
	out := make([]string, len(f.Peaks))
	for i, p := range f.Peaks {
		out[i] = hex.EncodeToString(p[:])
	}
	return out
}
