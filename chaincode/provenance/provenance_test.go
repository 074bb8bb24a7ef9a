package provenance_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/medshare/medshare/chaincode/ccerr"
	"github.com/medshare/medshare/chaincode/internal/cctest"
	"github.com/medshare/medshare/chaincode/internal/page"
	"github.com/medshare/medshare/chaincode/provenance"
	"github.com/medshare/medshare/chaincode/ptl"
)

func TestRequestsFormAThreadPerRequestor(t *testing.T) {
	f := newFixture(t, "high")
	v1 := f.Request(f.request(f.requestor, f.H1, req1, []string{"read"}, nil, nil))
	f.L.Advance(time.Minute)
	res, err := f.L.Submit(f.H1, provenance.Name, "Request", cctest.JSON(t, f.request(f.requestor, f.H1, req2, []string{"read"}, nil, nil)))
	if err != nil {
		t.Fatal(err)
	}
	v2 := cctest.Decode[provenance.View](t, res.Payload)
	other := f.Request(f.request(f.NewUser(doctor...), f.H1, cctest.UserRequest(2, "req-3"), []string{"read"}, nil, nil))

	b1, b2 := v1.Block, v2.Block
	if b1.Height != 1 || b2.Height != 2 || other.Block.Height != 1 {
		t.Errorf("heights = %d, %d, other thread %d", b1.Height, b2.Height, other.Block.Height)
	}
	if b1.Header.PrevHash != strings.Repeat("0", 64) || b2.Header.PrevHash != b1.Hash || other.Block.Header.PrevHash != strings.Repeat("0", 64) {
		t.Errorf("previous hashes: %s, %s (want %s)", b1.Header.PrevHash, b2.Header.PrevHash, b1.Hash)
	}
	tx := b2.Tx
	if b2.Format != provenance.ParentFormat || b2.ID != req2 || tx.OID != f.H1.ID() || tx.NID != f.H1.ID() || tx.Dsens != "high" ||
		tx.DRP != "cardiology research" || tx.Requestor != f.requestor.ID() || !tx.TTS.Equal(f.L.Now()) || !b2.Locktime.Equal(f.L.Now()) ||
		!b2.Header.Timestamp.Equal(tx.TTR) || b2.Size == 0 || v2.State.Status != provenance.StatusActive {
		t.Errorf("parent block = %+v", b2)
	}
	if !slices.Equal(b2.Contract.Allowed, []string{"read", "decrypted"}) {
		t.Errorf("allowed = %v, want read and the implicit decrypted", b2.Contract.Allowed)
	}
	if len(res.Events) != 1 || res.Events[0].Name != provenance.EventParentBlock {
		t.Errorf("events = %v", res.Events)
	}
	got := cctest.Decode[provenance.View](t, f.Query(f.Auditor, provenance.Name, "GetRequest", req2))
	if got.Block.Hash != b2.Hash {
		t.Errorf("GetRequest hash %s", got.Block.Hash)
	}
	_, err = f.L.Evaluate(f.H2, provenance.Name, "GetRequest", req2)
	cctest.WantErr(t, err, "caller: only the owner, the user it concerns or an auditor the channel's configuration names may read request "+req2, ccerr.ErrForbidden)
	thread := cctest.Decode[page.Page[provenance.ParentBlock]](t, f.Query(f.Auditor, provenance.Name, "ListThread", f.requestor.ID(), "1", ""))
	next := cctest.Decode[page.Page[provenance.ParentBlock]](t, f.Query(f.Auditor, provenance.Name, "ListThread", f.requestor.ID(), "1", thread.Bookmark))
	if len(thread.Items) != 1 || thread.Items[0].ID != req1 || len(next.Items) != 1 || next.Items[0].ID != req2 || next.Bookmark != "" {
		t.Errorf("thread pages = %v / %v", thread, next)
	}
	mine := cctest.Decode[page.Page[provenance.Summary]](t, f.Query(f.H1, provenance.Name, "ListByOwner", "10", ""))
	if len(mine.Items) != 3 {
		t.Errorf("owner's requests = %d", len(mine.Items))
	}
	ver := cctest.Decode[provenance.Verification](t, f.Query(f.Auditor, provenance.Name, "VerifyThread", f.requestor.ID(), "", "100"))
	if !ver.OK || ver.Checked != 2 || ver.Next != "" {
		t.Errorf("verification = %+v", ver)
	}
}

func TestRequestRejects(t *testing.T) {
	f := newFixture(t, "high")
	f.Request(f.request(f.requestor, f.H1, req1, []string{"read"}, nil, nil))
	f.Store(f.H2, recH2)
	now := f.L.Now()
	tests := []struct {
		name string
		in   provenance.RequestInput
		raw  string
		want string
		kind error
	}{
		{name: "taken id", in: f.request(f.requestor, f.H1, req1, []string{"read"}, nil, nil), want: "request.requestID: request " + req1 + " is already recorded", kind: ccerr.ErrConflict},
		{name: "bad id", in: f.request(f.requestor, f.H1, "req 2", nil, nil, nil), want: "request.requestID: must be 1..128 characters of [A-Za-z0-9._:-]"},
		{name: "requestor signature", in: func() provenance.RequestInput {
			in := f.request(f.requestor, f.H1, req2, nil, nil, nil)
			in.Purpose = "marketing"
			return in
		}(), want: "request.requestSignature: does not verify under requestorKey over the request digest"},
		{name: "node signature", in: func() provenance.RequestInput {
			in := f.request(f.requestor, f.H1, req2, nil, nil, nil)
			in.DataID = "another-package"
			return in
		}(), want: "request.nodeSignature: does not verify against the creator's certificate key over the form digest"},
		{name: "time order", in: f.request(f.requestor, f.H1, req2, nil, nil, func(in *provenance.RequestInput) { in.Processed = now.Add(-10 * time.Second).Format(time.RFC3339) }), want: "request.processed: must not be before request.received"},
		{name: "future", in: f.request(f.requestor, f.H1, req2, nil, nil, func(in *provenance.RequestInput) { in.Sent = now.Add(time.Hour).Format(time.RFC3339) }), want: "request.sent: is 1h0m0s ahead of the transaction time; at most 30s is allowed"},
		{name: "unknown action", in: f.request(f.requestor, f.H1, req2, []string{"print"}, nil, nil), want: `request.contract.allowed: unknown action "print"; actions are read, write, delete, duplicate, move, copy, decrypted`},
		{name: "twice", in: f.request(f.requestor, f.H1, req2, []string{"read", "read"}, nil, nil), want: "request.contract.allowed: lists read twice"},
		{name: "ignored on high", in: f.request(f.requestor, f.H1, req2, []string{"read"}, []string{"read"}, nil), want: "request.contract.ignored: actions may be ignored only on low sensitivity channels; this channel is high"},
		{name: "report key", in: f.request(f.requestor, f.H1, req2, nil, nil, func(in *provenance.RequestInput) { in.ReportKey = []byte{1} }), want: "request.reportKey: must be the PKIX DER encoding of an ECDSA P-256 public key"},
		{name: "no records", in: f.request(f.requestor, f.H1, req2, nil, nil, func(in *provenance.RequestInput) { in.RecordIDs = nil }), want: "request.recordIDs: must have 1..16 entries, got 0"},
		{name: "record twice", in: f.request(f.requestor, f.H1, req2, nil, nil, func(in *provenance.RequestInput) { in.RecordIDs = []string{rec1, rec1} }), want: "request.recordIDs: lists " + rec1 + " twice"},
		{name: "other owner's record", in: f.request(f.requestor, f.H1, req2, nil, nil, func(in *provenance.RequestInput) { in.RecordIDs = []string{recH2} }), want: "caller: only the owner of record " + recH2 + " may record requests for it", kind: ccerr.ErrForbidden},
		{name: "no record", in: f.request(f.requestor, f.H1, req2, nil, nil, func(in *provenance.RequestInput) { in.RecordIDs = []string{rec9} }), want: "chaincode storage: recordID: record " + rec9 + " does not exist on side-high", kind: ccerr.ErrNotFound},
		{name: "purpose", in: f.request(f.requestor, f.H1, req2, nil, nil, func(in *provenance.RequestInput) { in.Purpose = "" }), want: "request.purpose: must be 1..256 bytes of UTF-8 text"},
		{name: "package hash", in: f.request(f.requestor, f.H1, req2, nil, nil, func(in *provenance.RequestInput) { in.PackageHash = "00" }), want: "request.packageHash: must be a SHA-256 digest as 64 lowercase hexadecimal characters"},
		{name: "JSON", raw: `{"requestID":1}`, want: "request: invalid JSON: cannot unmarshal number into Go struct field RequestInput.requestID of type string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := tt.raw
			if raw == "" {
				raw = cctest.JSON(t, tt.in)
			}
			_, err := f.L.Submit(f.H1, provenance.Name, "Request", raw)
			kind := tt.kind
			if kind == nil {
				kind = ccerr.ErrInvalidArgument
			}
			cctest.WantErr(t, err, tt.want, kind)
		})
	}
	// A requestor blocked in P-TL for one of the records is refused.
	f.Must(f.H1, ptl.Name, "Recall", f.requestor.ID(), rec2, "")
	_, err := f.L.Submit(f.H1, provenance.Name, "Request", cctest.JSON(t, f.request(f.requestor, f.H1, req9, nil, nil, nil)))
	cctest.WantErr(t, err, "request.requestor: requestor "+f.requestor.ID()+" is blocked for record "+rec2+" (recalled)", ccerr.ErrRevoked)
}

// TestForbiddenActionRevokesAtOnce is the MeDShare flow: a permitted report,
// a forbidden one revoking the requestor's P-TL access in the same
// transaction, the next access refused, and the owner's re-grant and recall.
func TestForbiddenActionRevokesAtOnce(t *testing.T) {
	f := newFixture(t, "high")
	in := f.request(f.requestor, f.H1, req1, []string{"read"}, nil, nil)
	f.Request(in)
	if d := f.Access(f.H1, f.NewProof(f.requestor, f.recs[0], doctor, nil)); !d.Granted {
		t.Fatalf("access before any report: %+v", d)
	}
	ok := f.Report(f.Auditor, f.report(f.Auditor, in, 1, "decrypted", "read"))
	if ok.SideBlock == nil || ok.SideBlock.Index != 1 || len(ok.Violations) != 0 || ok.SideBlock.ActionCounter != 0 ||
		ok.SideBlock.Header.PrevHash != cctest.Decode[provenance.View](t, f.Query(f.H1, provenance.Name, "GetRequest", req1)).Block.Hash {
		t.Fatalf("permitted report = %+v", ok.SideBlock)
	}
	f.L.Advance(time.Minute)
	res, err := f.L.Submit(f.H1, provenance.Name, "Report", cctest.JSON(t, f.report(f.H1, in, 2, "read", "copy", "move")))
	if err != nil {
		t.Fatal(err)
	}
	bad := cctest.Decode[provenance.ReportResult](t, res.Payload)
	sb := bad.SideBlock
	if !slices.Equal(bad.Violations, []string{"copy", "move"}) || sb.ActionCounter != 2 || sb.Tx.Kind != provenance.KindReport ||
		!slices.Equal(sb.Tx.VLN, []string{"copy", "move"}) || sb.Tx.Actions[0].Status != provenance.StatusPermitted || sb.ID != provenance.SideID(ok.SideBlock.ID[:16], 2) ||
		sb.Header.PrevHash != ok.SideBlock.Hash || len(bad.Revoked) != 2 {
		t.Fatalf("forbidden report = %+v", bad)
	}
	var names []string
	for _, e := range res.Events {
		names = append(names, e.Chaincode+"/"+e.Name)
	}
	if want := []string{"provenance/SideBlock", "ptl/Blocked", "ptl/Violation", "ptl/Blocked", "ptl/Violation"}; !slices.Equal(names, want) {
		t.Errorf("events = %v, want %v", names, want)
	}
	view := cctest.Decode[provenance.View](t, f.Query(f.H1, provenance.Name, "GetRequest", req1))
	if view.State.Status != provenance.StatusRevoked || view.State.ActionCounter != 2 || view.State.SideBlocks != 2 {
		t.Errorf("state = %+v", view.State)
	}
	// Revocation takes effect on the next access, for every record of the package.
	for _, rec := range f.recs {
		d := f.Access(f.H1, f.NewProof(f.requestor, rec, doctor, nil))
		want := "access to record " + rec.RecordID + " is revoked (revoked by provenance since 2026-01-01T00:01:00Z: forbidden actions [copy move])"
		if d.Granted || d.Reason != ptl.ReasonRevoked || d.Detail != want {
			t.Fatalf("access after the violation: %+v", d)
		}
	}
	vio := cctest.Decode[page.Page[ptl.Violation]](t, f.Query(f.H1, ptl.Name, "ListViolations", rec1, "10", ""))
	i := slices.IndexFunc(vio.Items, func(v ptl.Violation) bool { return v.Reason == ptl.ReasonForbiddenAction })
	if len(vio.Items) != 2 || i < 0 || vio.Items[i].Evidence != "request "+req1+" side-block 2 ("+sb.ID+")" {
		t.Errorf("violations = %+v", vio.Items)
	}
	// The evidence cannot be used again outside its transaction.
	_, err = f.L.Submit(f.H1, ptl.Name, "RevokeForViolation", req1, "2")
	cctest.WantErr(t, err, "chaincode provenance: side: side-block 2 of request "+req1+" is evidence only within the transaction that appended it", ccerr.ErrForbidden)

	// The owner re-grants: the record blocks go and access works again.
	_, err = f.L.Submit(f.H2, provenance.Name, "Regrant", req1, "", f.decision(req1, provenance.KindRegrant, nil, ""))
	cctest.WantErr(t, err, "caller: only the owner may decide on request "+req1, ccerr.ErrForbidden)
	_, err = f.L.Submit(f.H1, provenance.Name, "Regrant", req1, "", f.decision(req1, provenance.KindRegrant, nil, "other"))
	cctest.WantErr(t, err, "nodeSignature: does not verify against the creator's certificate key over the decision digest", ccerr.ErrInvalidArgument)
	dec := cctest.Decode[provenance.SideBlock](t, f.Must(f.H1, provenance.Name, "Regrant", req1, "warned", f.decision(req1, provenance.KindRegrant, nil, "warned")))
	if dec.Tx.Kind != provenance.KindRegrant || dec.Index != 3 || dec.Tx.Reason != "warned" {
		t.Errorf("decision side-block = %+v", dec)
	}
	if d := f.Access(f.H1, f.NewProof(f.requestor, f.recs[0], doctor, nil)); !d.Granted {
		t.Fatalf("after re-grant: %+v", d)
	}
	_, err = f.L.Submit(f.H1, provenance.Name, "Regrant", req1, "", f.decision(req1, provenance.KindRegrant, nil, ""))
	cctest.WantErr(t, err, "requestID: request "+req1+" is regranted, not revoked or recalled", ccerr.ErrConflict)

	// The owner recalls: access is refused until another re-grant.
	f.Must(f.H1, provenance.Name, "Recall", req1, "study over", f.decision(req1, provenance.KindRecall, nil, "study over"))
	if d := f.Access(f.H1, f.NewProof(f.requestor, f.recs[1], doctor, nil)); d.Reason != ptl.ReasonRevoked || !strings.Contains(d.Detail, "recalled by owner") {
		t.Fatalf("after recall: %+v", d)
	}
	// Reports still append after a recall (the client reports the deletion).
	if r := f.Report(f.H1, f.report(f.H1, in, 3, "read")); r.SideBlock.Index != 5 {
		t.Errorf("report after recall = %+v", r.SideBlock)
	}
	ver := cctest.Decode[provenance.Verification](t, f.Query(f.H1, provenance.Name, "VerifyRequest", req1))
	if !ver.OK || ver.Checked != 6 {
		t.Errorf("verification = %+v", ver)
	}
}

func TestReportRejects(t *testing.T) {
	f := newFixture(t, "medium")
	in := f.request(f.requestor, f.H1, req1, []string{"read"}, nil, nil)
	f.Request(in)
	f.Report(f.H1, f.report(f.H1, in, 5, "read"))
	good := f.report(f.H1, in, 6, "read")
	tests := []struct {
		name string
		r    provenance.ReportInput
		raw  string
		want string
	}{
		{name: "replayed seq", r: f.report(f.H1, in, 5, "read"), want: "report.seq: must be greater than 5, the last report's"},
		{name: "seq 0", r: f.report(f.H1, in, 0, "read"), want: "report.seq: must be at least 1"},
		{name: "report key", r: func() provenance.ReportInput { r := good; r.Signature = f.requestor.Sign(t, [32]byte{}); return r }(), want: "report.signature: does not verify under the package's report key over the report digest"},
		{name: "node", r: func() provenance.ReportInput {
			r := good
			r.NodeSignature = cctest.SignBy(t, f.H2, [32]byte{})
			return r
		}(), want: "report.nodeSignature: does not verify against the creator's certificate key over the report digest"},
		{name: "edited action", r: func() provenance.ReportInput {
			r := f.report(f.H1, in, 6, "copy")
			r.Actions[0].Action = "read"
			return r
		}(), want: "report.signature: does not verify under the package's report key over the report digest"},
		{name: "unknown action", r: f.report(f.H1, in, 6, "print"), want: `report.actions[0].action: unknown action "print"; actions are read, write, delete, duplicate, move, copy, decrypted`},
		{name: "no actions", r: provenance.ReportInput{RequestID: req1, Seq: 6}, want: "report.actions: must have 1..32 entries, got 0"},
		{name: "too many", r: f.report(f.H1, in, 6, slices.Repeat([]string{"read"}, 33)...), want: "report.actions: must have 1..32 entries, got 33"},
		{name: "future action", r: func() provenance.ReportInput {
			r := good
			r.Actions = []provenance.ReportedAction{{Action: "read", At: f.L.Now().Add(time.Hour).Format(time.RFC3339)}}
			return r
		}(), want: "report.actions[0].at: is 1h0m0s ahead of the transaction time; at most 30s is allowed"},
		{name: "before sending", r: func() provenance.ReportInput {
			r := good
			r.Actions = []provenance.ReportedAction{{Action: "read", At: f.L.Now().Add(-time.Hour).Format(time.RFC3339)}}
			return r
		}(), want: "report.actions[0].at: is before the package was sent (2026-01-01T00:00:00Z)"},
		{name: "unknown request", r: func() provenance.ReportInput { r := good; r.RequestID = req9; return r }(), want: "report.requestID: request " + req9 + " does not exist on side-medium"},
		{name: "JSON", raw: `{"requestID":"` + req1 + `","seq":-1}`, want: "report: invalid JSON: cannot unmarshal number -1 into Go struct field ReportInput.seq of type uint64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := tt.raw
			if raw == "" {
				raw = cctest.JSON(t, tt.r)
			}
			_, err := f.L.Submit(f.H1, provenance.Name, "Report", raw)
			cctest.WantErr(t, err, tt.want, nil)
		})
	}
	_, err := f.L.Submit(f.H1, provenance.Name, "SetIgnored", req1, `["read"]`, f.decision(req1, provenance.KindIgnore, []string{"read"}, ""))
	cctest.WantErr(t, err, "actions: actions may be ignored only on low sensitivity channels; this channel is medium", ccerr.ErrInvalidArgument)
}

func TestIgnoredActionsOnLowSensitivity(t *testing.T) {
	f := newFixture(t, "low")
	in := f.request(f.requestor, f.H1, req1, []string{"read", "write"}, []string{"read"}, nil)
	f.Request(in)
	r := f.Report(f.H1, f.report(f.H1, in, 1, "read", "read"))
	if r.SideBlock != nil || r.Ignored != 2 {
		t.Fatalf("all-ignored report = %+v", r)
	}
	_, err := f.L.Submit(f.H1, provenance.Name, "Report", cctest.JSON(t, f.report(f.H1, in, 1, "write")))
	cctest.WantErr(t, err, "report.seq: must be greater than 1, the last report's", ccerr.ErrInvalidArgument)
	r = f.Report(f.H1, f.report(f.H1, in, 2, "read", "write"))
	if r.SideBlock == nil || r.Ignored != 1 || r.SideBlock.Tx.Actions[0].Status != provenance.StatusIgnored || r.SideBlock.Tx.Actions[1].Status != provenance.StatusPermitted {
		t.Fatalf("mixed report = %+v", r.SideBlock)
	}
	_, err = f.L.Submit(f.H1, provenance.Name, "SetIgnored", req1, `["decrypted"]`, f.decision(req1, provenance.KindIgnore, []string{"decrypted"}, ""))
	cctest.WantErr(t, err, "actions: decrypted cannot be ignored: its report shows the client's contract is running", ccerr.ErrInvalidArgument)
	_, err = f.L.Submit(f.H2, provenance.Name, "SetIgnored", req1, `["copy"]`, f.decision(req1, provenance.KindIgnore, []string{"copy"}, ""))
	cctest.WantErr(t, err, "caller: only the owner may decide on request "+req1, ccerr.ErrForbidden)
	// The owner now ignores copy and stops ignoring read.
	sb := cctest.Decode[provenance.SideBlock](t, f.Must(f.H1, provenance.Name, "SetIgnored", req1, `["copy"]`, f.decision(req1, provenance.KindIgnore, []string{"copy"}, "")))
	if sb.Tx.Kind != provenance.KindIgnore || !slices.Equal(sb.Tx.Ignored, []string{"copy"}) {
		t.Fatalf("ignore side-block = %+v", sb)
	}
	r = f.Report(f.H1, f.report(f.H1, in, 3, "copy", "read"))
	if r.Ignored != 1 || len(r.Violations) != 0 || r.SideBlock.Tx.Actions[1].Status != provenance.StatusPermitted {
		t.Fatalf("after the change = %+v", r)
	}
	ver := cctest.Decode[provenance.Verification](t, f.Query(f.Auditor, provenance.Name, "VerifyThread", f.requestor.ID(), "", "100"))
	if !ver.OK || ver.Checked != 4 {
		t.Errorf("verification = %+v", ver)
	}
}
