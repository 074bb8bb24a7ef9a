package provenance_test

// Regression tests of issue 11's holes in the MeDShare contract, and of the
// two rules mutation testing found unguarded. Each attack below succeeded on
// the code before the fix.

import (
	"crypto/rand"
	"crypto/x509"
	"errors"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/medshare/medshare/chaincode/ccerr"
	"github.com/medshare/medshare/chaincode/internal/cctest"
	"github.com/medshare/medshare/chaincode/provenance"
	"github.com/medshare/medshare/chaincode/ptl"
	"github.com/medshare/medshare/network/identity"
)

// Hole 2: MeDShare revoked the requestor's key while P-TL checked the
// proof's, and nothing linked them: after a forbidden copy blocked key K1,
// the same person's key K2 was granted.
func TestRevocationFollowsThePersonNotTheKey(t *testing.T) {
	f := newFixture(t, "high")
	in := f.request(f.requestor, f.H1, req1, []string{"read"}, nil, nil)
	f.Request(in)
	f.Report(f.H2, f.report(f.H2, in, 1, "copy"))
	k2 := f.SecondKey(f.requestor, doctor...)
	for _, rec := range f.recs {
		if d := f.Access(f.H1, f.NewProof(k2, rec, doctor, nil)); d.Granted || d.Reason != ptl.ReasonRevoked || d.User != f.requestor.ID() {
			t.Fatalf("the revoked person's second key on %s: %+v", rec.RecordID, d)
		}
	}
	// Nor may it ask again through MeDShare with that key.
	again := f.request(&cctest.User{Key: k2.Key, Identity: k2.Identity, Enrolment: k2.Enrolment, Wallet: k2.Wallet}, f.H1, req2, []string{"read"}, nil, nil)
	_, err := f.L.Submit(f.H1, provenance.Name, "Request", cctest.JSON(t, again))
	cctest.WantErr(t, err, "request.requestor: requestor "+f.requestor.ID()+" is blocked for record "+rec1+" (revoked)", ccerr.ErrRevoked)
	// A key whose enrolment the attribute authority did not sign is no
	// way around it either.
	forged := f.request(f.requestor, f.H1, req2, []string{"read"}, nil, func(in *provenance.RequestInput) {
		in.Requestor = f.NewUser(doctor...).ID()
		in.RequestID = cctest.UserRequest(2, "req-2")
	})
	_, err = f.L.Submit(f.H1, provenance.Name, "Request", cctest.JSON(t, forged))
	if err == nil || !errors.Is(err, ccerr.ErrInvalidArgument) || !strings.HasPrefix(err.Error(), "request.enrolment: the attribute authority did not bind requestorKey to user ") {
		t.Fatalf("a request with another person's user id: %v", err)
	}
	// The owner re-grants the request: both keys are let in again.
	f.Must(f.H1, provenance.Name, "Regrant", req1, "", f.decision(req1, provenance.KindRegrant, nil, ""))
	for _, u := range []*cctest.User{k2, f.requestor} {
		if d := f.Access(f.H1, f.NewProof(u, f.recs[0], doctor, nil)); !d.Granted {
			t.Fatalf("after the re-grant: %+v", d)
		}
	}
}

// Hole 3: the owner's gateway generated the report key, so an owner-signed
// "duplicate" report was accepted and looked exactly like the requestor's.
func TestTheOwnerCannotForgeReports(t *testing.T) {
	f := newFixture(t, "high")
	in := f.request(f.requestor, f.H1, req1, []string{"read"}, nil, nil)
	view := f.Request(in)
	if !slices.Equal(view.Block.Contract.ReportKey, f.reportKey.DER) {
		t.Fatal("the contract's report key is not the one in the requestor's signed request")
	}
	// The owner signs a report with its own key: refused.
	owners := cctest.NewKey(t)
	forged := f.report(f.H1, in, 1, "duplicate")
	d := provenance.ReportDigest(f.Channel, req1, hash32(in.PackageHash), 1, []string{"duplicate"}, []time.Time{parse(t, forged.Actions[0].At)})
	forged.Signature = owners.Sign(t, d)
	_, err := f.L.Submit(f.H1, provenance.Name, "Report", cctest.JSON(t, forged))
	cctest.WantErr(t, err, "report.signature: does not verify under the package's report key over the report digest", ccerr.ErrInvalidArgument)
	// Nor can it put its own report key in the contract: the key is part
	// of what the requestor signed.
	swapped := in
	swapped.RequestID = req2
	f.signRequest(f.requestor, f.H1, &swapped)
	swapped.ReportKey = owners.DER
	f.signNode(f.H1, &swapped)
	_, err = f.L.Submit(f.H1, provenance.Name, "Request", cctest.JSON(t, swapped))
	cctest.WantErr(t, err, "request.requestSignature: does not verify under requestorKey over the request digest", ccerr.ErrInvalidArgument)
	if st := cctest.Decode[ptl.Status](t, f.Query(f.H1, ptl.Name, "Status", f.requestor.ID(), rec1)); st.Blocked {
		t.Fatalf("the requestor was blocked by the owner's attempts: %+v", st)
	}
}

// Hole 6: provenance Regrant lifted every block on the request's records,
// including other requests' and the owner's own recall.
func TestRegrantLiftsOnlyItsRequest(t *testing.T) {
	f := newFixture(t, "high")
	a := f.request(f.requestor, f.H1, req1, []string{"read"}, nil, nil)
	b := f.request(f.requestor, f.H1, req2, []string{"read"}, nil, nil)
	f.Request(a)
	f.Request(b)
	f.Report(f.H2, f.report(f.H2, a, 1, "copy"))
	f.Report(f.H2, f.report(f.H2, b, 1, "move"))
	f.Must(f.H1, ptl.Name, "Recall", f.requestor.ID(), rec2, "court order")
	f.Must(f.H1, provenance.Name, "Regrant", req1, "", f.decision(req1, provenance.KindRegrant, nil, ""))
	for _, rec := range []string{rec1, rec2} {
		st := cctest.Decode[ptl.Status](t, f.Query(f.H1, ptl.Name, "Status", f.requestor.ID(), rec))
		if !st.Blocked {
			t.Fatalf("re-granting %s lifted everything on %s", req1, rec)
		}
		for _, c := range st.Blocks[0].Causes {
			if c.RequestID == req1 {
				t.Errorf("%s still holds %s's cause: %+v", rec, req1, c)
			}
		}
		if !slices.ContainsFunc(st.Blocks[0].Causes, func(c ptl.Cause) bool { return c.RequestID == req2 }) {
			t.Errorf("%s lost %s's cause: %+v", rec, req2, st.Blocks[0].Causes)
		}
	}
	st := cctest.Decode[ptl.Status](t, f.Query(f.H1, ptl.Name, "Status", f.requestor.ID(), rec2))
	if st.Blocks[0].State != ptl.StateRecalled || !slices.ContainsFunc(st.Blocks[0].Causes, func(c ptl.Cause) bool { return c.By == ptl.ByOwner && c.Reason == "court order" }) {
		t.Errorf("the owner's recall of %s was lifted: %+v", rec2, st)
	}
	// Re-granting the other request leaves only the owner's recall; the
	// owner's own Regrant lifts it.
	f.Must(f.H1, provenance.Name, "Regrant", req2, "", f.decision(req2, provenance.KindRegrant, nil, ""))
	if st := cctest.Decode[ptl.Status](t, f.Query(f.H1, ptl.Name, "Status", f.requestor.ID(), rec1)); st.Blocked {
		t.Errorf("%s after both re-grants: %+v", rec1, st)
	}
	if st := cctest.Decode[ptl.Status](t, f.Query(f.H1, ptl.Name, "Status", f.requestor.ID(), rec2)); !st.Blocked || len(st.Blocks[0].Causes) != 1 {
		t.Errorf("%s after both re-grants: %+v", rec2, st)
	}
	// A request's recall is lifted by re-granting that request.
	f.Must(f.H1, provenance.Name, "Recall", req1, "study over", f.decision(req1, provenance.KindRecall, nil, "study over"))
	f.Must(f.H1, provenance.Name, "Regrant", req1, "", f.decision(req1, provenance.KindRegrant, nil, ""))
	if st := cctest.Decode[ptl.Status](t, f.Query(f.H1, ptl.Name, "Status", f.requestor.ID(), rec1)); st.Blocked {
		t.Errorf("%s after the request's recall and re-grant: %+v", rec1, st)
	}
}

// Mutation: a forbidden-action report must count toward the owner-wide
// block (forbidden actions alone reach the owner threshold, 5 here).
func TestForbiddenActionsCountTowardTheOwnerWideBlock(t *testing.T) {
	f := newFixture(t, "high")
	var recs []string
	for i := range 5 {
		id := cctest.H1Rec("rec-o" + string(rune('a'+i)))
		f.Store(f.H1, id)
		f.SetPolicy(f.H1, id, f.Policy(doctor...))
		recs = append(recs, id)
	}
	in := f.request(f.requestor, f.H1, req1, []string{"read"}, nil, func(in *provenance.RequestInput) { in.RecordIDs = recs })
	f.Request(in)
	res := f.Report(f.H2, f.report(f.H2, in, 1, "copy"))
	if len(res.Revoked) != 5 {
		t.Fatalf("revoked = %+v", res.Revoked)
	}
	// A record outside the package, of the same owner: blocked owner-wide.
	d := f.Access(f.H1, f.NewProof(f.requestor, f.recs[0], doctor, nil))
	if d.Reason != ptl.ReasonRevoked {
		t.Fatalf("a record outside the package after 5 forbidden actions: %+v", d)
	}
	st := cctest.Decode[ptl.Status](t, f.Query(f.H1, ptl.Name, "Status", f.requestor.ID(), rec1))
	if len(st.Blocks) != 1 || st.Blocks[0].Scope != ptl.ScopeOwner || st.Blocks[0].Causes[0].By != ptl.ByMonitor {
		t.Fatalf("status of a record outside the package = %+v", st)
	}
}

// Mutation: a forbidden-action report must not overwrite the owner's recall:
// the recall stays, and re-granting the request does not lift it.
func TestForbiddenActionKeepsTheOwnersRecall(t *testing.T) {
	f := newFixture(t, "high")
	in := f.request(f.requestor, f.H1, req1, []string{"read"}, nil, nil)
	f.Request(in)
	f.Must(f.H1, ptl.Name, "Recall", f.requestor.ID(), rec1, "court order")
	res := f.Report(f.H2, f.report(f.H2, in, 1, "copy"))
	b := res.Revoked[0]
	if b.RecordID != rec1 || b.State != ptl.StateRecalled || len(b.Causes) != 2 || b.Causes[0].Reason != "court order" {
		t.Fatalf("block after the forbidden action = %+v", b)
	}
	f.Must(f.H1, provenance.Name, "Regrant", req1, "", f.decision(req1, provenance.KindRegrant, nil, ""))
	d := f.Access(f.H1, f.NewProof(f.requestor, f.recs[0], doctor, nil))
	if d.Reason != ptl.ReasonRevoked || d.Detail != "access to record "+rec1+" is recalled (recalled by owner since 2026-01-01T00:00:00Z: court order)" {
		t.Fatalf("access after the request's re-grant: %+v", d)
	}
}

// Hole 6: side-block (and parent) signatures were checked against a key
// stored in the block itself, so a node operator could rewrite a block's
// forwarder with its own key and signature.
func TestNodeSignaturesAreCheckedAgainstTheMSP(t *testing.T) {
	f := newFixture(t, "high")
	in := f.request(f.requestor, f.H1, req1, []string{"read"}, nil, nil)
	f.Request(in)
	f.Report(f.H2, f.report(f.H2, in, 1, "read"))
	// A certificate the forger made itself, claiming hospital 2's gateway.
	forger := cctest.NewKey(t)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: f.H2.Certificate().Subject, NotBefore: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), BasicConstraintsValid: true, IsCA: true}
	self, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &forger.Private.PublicKey, forger.Private)
	if err != nil {
		t.Fatal(err)
	}
	// And hospital 1's genuine gateway certificate, claimed for hospital 2.
	for _, tt := range []struct {
		name string
		msp  string
		cert []byte
		key  interface {
			Sign(testing.TB, [32]byte) []byte
		}
	}{
		{"self-made certificate", "Hospital2MSP", self, forger},
		{"another organisation's certificate", "Hospital2MSP", f.H1.Bytes(), signerOf{f.H1}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			k := key(t, "sb", req1, seq(1))
			var hash, leaf string
			restore := edit(t, f, k, func(sb *provenance.SideBlock) {
				sb.Tx.NodeCert, sb.Tx.NodeMSP = tt.cert, tt.msp
				d := provenance.ReportDigest(f.Channel, req1, hash32(in.PackageHash), 1, []string{"read"}, []time.Time{sb.Tx.Actions[0].At})
				sb.Tx.Nsig = tt.key.Sign(t, d)
				reseal(t, f, req1, sb)
				hash, leaf = sb.Hash, sb.TxHash()
			})
			defer restore()
			defer edit(t, f, key(t, "ps", req1), func(st *provenance.State) {
				st.LastHash = hash
				st.Frontier = frontierOf(t, leaf)
			})()
			v := cctest.Decode[provenance.Verification](t, f.Query(f.Auditor, provenance.Name, "VerifyRequest", req1))
			if v.OK || v.Broken == nil || v.Broken.Link != "nodeSignature" || v.Broken.Side != 1 {
				t.Fatalf("a side-block re-signed by a node the MSP does not vouch for: %+v, %+v", v, v.Broken)
			}
		})
	}
	if v := cctest.Decode[provenance.Verification](t, f.Query(f.Auditor, provenance.Name, "VerifyRequest", req1)); !v.OK {
		t.Fatalf("restored: %+v", v.Broken)
	}
}

type signerOf struct{ s *identity.Signer }

func (s signerOf) Sign(t testing.TB, d [32]byte) []byte { return cctest.SignBy(t, s.s, d) }

// Hole 5: a request's trail was readable by every organisation's admin and
// by any self-declared auditor; its requestor could not read it.
func TestRequestReadsAreScoped(t *testing.T) {
	f := newFixture(t, "high")
	f.Request(f.request(f.requestor, f.H1, req1, []string{"read"}, nil, nil))
	selfMade := f.Org2.Client(t, "self-made-auditor", map[string]string{"medshare.auditor": "true"})
	const request = "caller: only the owner, the user it concerns or an auditor the channel's configuration names may read request "
	const thread = "caller: only the user it concerns or an auditor the channel's configuration names may list a requestor's thread"
	for _, who := range []*identity.Signer{f.Admin, f.Admin2, selfMade, f.H2} {
		_, err := f.L.Evaluate(who, provenance.Name, "GetRequest", req1)
		cctest.WantErr(t, err, request+req1, ccerr.ErrForbidden)
		_, err = f.L.Evaluate(who, provenance.Name, "ListThread", f.requestor.ID(), "10", "")
		cctest.WantErr(t, err, thread, ccerr.ErrForbidden)
	}
	for _, who := range []*identity.Signer{f.H1, f.requestor.Identity, f.Auditor} {
		if v := cctest.Decode[provenance.View](t, f.Query(who, provenance.Name, "GetRequest", req1)); v.Block.ID != req1 {
			t.Errorf("GetRequest = %+v", v.Block)
		}
	}
	if v := cctest.Decode[provenance.Verification](t, f.Query(f.requestor.Identity, provenance.Name, "VerifyThread", f.requestor.ID(), "", "10")); !v.OK {
		t.Errorf("the requestor's own verification = %+v", v)
	}
}

// Hole 6 (ids): request ids belong to their requestor, so nobody can take
// the id a requestor is about to use.
func TestRequestIDsBelongToTheirRequestor(t *testing.T) {
	f := newFixture(t, "high")
	other := f.NewUser(doctor...)
	in := f.request(other, f.H1, req1, []string{"read"}, nil, nil) // the fixture requestor's id
	_, err := f.L.Submit(f.H1, provenance.Name, "Request", cctest.JSON(t, in))
	cctest.WantErr(t, err, "request.requestID: belongs to identity hash "+f.requestor.ID()+"; ids of the requestor start with "+other.ID()+":", ccerr.ErrForbidden)
	f.Request(f.request(f.requestor, f.H1, req1, []string{"read"}, nil, nil))
}
