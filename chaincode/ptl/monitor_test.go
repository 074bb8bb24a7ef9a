package ptl_test

import (
	"slices"
	"testing"
	"time"

	"github.com/medshare/medshare/chaincode/ccerr"
	"github.com/medshare/medshare/chaincode/internal/cctest"
	"github.com/medshare/medshare/chaincode/internal/page"
	"github.com/medshare/medshare/chaincode/ptl"
	"github.com/medshare/medshare/chaincode/storage"
	"github.com/medshare/medshare/network/chaincode/chaincodetest"
	"github.com/medshare/medshare/network/identity"
)

// unmet returns a proof that discloses too little for rec's policy:
// refused as policy_not_met, a violation the user's own proof shows.
func (f *fixture) unmet(rec *storage.Record) ptl.Proof {
	return f.NewProof(f.user, rec, doctor[:1], nil)
}

func TestMonitoringBlocksForARecordAndRegrant(t *testing.T) {
	f := newFixture(t)
	for i, want := range [][]string{nil, nil, {ptl.ScopeRecord}} {
		d := f.Access(f.H1, f.unmet(f.rec))
		if d.Reason != ptl.ReasonPolicyNotMet || d.Blame != ptl.BlameUser || !slices.Equal(d.Blocked, want) {
			t.Fatalf("violation %d: %+v", i+1, d)
		}
		f.L.Advance(time.Second)
	}
	d := f.Access(f.H1, f.proof(nil))
	if d.Granted || d.Reason != ptl.ReasonRevoked || d.Detail != "access to record "+rec1+" is revoked (revoked by monitor since 2026-01-01T00:00:02Z: 3 violations within 1h0m0s, the last policy_not_met)" {
		t.Fatalf("after the block: %+v", d)
	}
	// The block is per owner: hospital 2's record stays open to the user.
	rec2 := f.Store(f.H2, recH2)
	f.SetPolicy(f.H2, recH2, f.Policy(doctor...))
	if d := f.Access(f.H2, f.NewProof(f.user, rec2, doctor, nil)); !d.Granted {
		t.Fatalf("other owner's record refused: %+v", d)
	}
	st := cctest.Decode[ptl.Status](t, f.Query(f.H1, ptl.Name, "Status", f.user.ID(), rec1))
	if !st.Blocked || len(st.Blocks) != 1 || st.Blocks[0].Causes[0].By != ptl.ByMonitor {
		t.Errorf("status = %+v", st)
	}
	blocks := cctest.Decode[page.Page[ptl.Block]](t, f.Query(f.H1, ptl.Name, "ListBlocks", "", "10", ""))
	if len(blocks.Items) != 1 || blocks.Items[0].User != f.user.ID() || blocks.Items[0].RecordID != rec1 {
		t.Errorf("blocks = %+v", blocks.Items)
	}
	_, err := f.L.Submit(f.H2, ptl.Name, "Regrant", f.user.ID(), rec1)
	cctest.WantErr(t, err, "caller: only the owner of record "+rec1+" may re-grant access", ccerr.ErrForbidden)
	_, err = f.L.Submit(f.H1, ptl.Name, "Regrant", f.user.ID(), "*")
	cctest.WantErr(t, err, "user: "+f.user.ID()+" is not blocked for all of your records", ccerr.ErrNotFound)
	_, err = f.L.Submit(f.H1, ptl.Name, "Regrant", "nobody", rec1)
	cctest.WantErr(t, err, "user: must be a user id: the identity hash of the user's enrolled identity, 32 lowercase hexadecimal characters", ccerr.ErrInvalidArgument)
	_, err = f.L.Submit(f.H1, ptl.Name, "Regrant", cctest.B64(f.user.DER), rec1)
	cctest.WantErr(t, err, "user: must be a user id: the identity hash of the user's enrolled identity, 32 lowercase hexadecimal characters", ccerr.ErrInvalidArgument)
	_, err = f.L.Submit(f.H1, ptl.Name, "Regrant", f.user.ID(), "rec/1")
	cctest.WantErr(t, err, `target: must be a record id or "*" for all of your records`, ccerr.ErrInvalidArgument)

	res, err := f.L.Submit(f.H1, ptl.Name, "Regrant", f.user.ID(), rec1)
	if err != nil {
		t.Fatal(err)
	}
	if res.Events[0].Name != ptl.EventRegranted {
		t.Errorf("events = %v", res.Events)
	}
	if d := f.Access(f.H1, f.proof(nil)); !d.Granted {
		t.Fatalf("after re-grant: %+v", d)
	}
	// Re-grant forgot the recent violations on the record: one more does not
	// block it again. (The owner-wide count is kept: with the refusal while
	// blocked, this is the user's fifth violation on the owner's records.)
	if d := f.Access(f.H1, f.unmet(f.rec)); !slices.Equal(d.Blocked, []string{ptl.ScopeOwner}) {
		t.Fatalf("blocked = %v, want only the owner-wide block", d.Blocked)
	}
}

func TestMonitoringWindowSlides(t *testing.T) {
	f := newFixture(t)
	f.Access(f.H1, f.unmet(f.rec))
	f.L.Advance(30 * time.Minute)
	f.Access(f.H1, f.unmet(f.rec))
	f.L.Advance(31 * time.Minute) // the first violation leaves the window
	if d := f.Access(f.H1, f.unmet(f.rec)); len(d.Blocked) != 0 {
		t.Fatalf("blocked with 2 violations in the window: %+v", d)
	}
	if d := f.Access(f.H1, f.unmet(f.rec)); !slices.Equal(d.Blocked, []string{ptl.ScopeRecord}) {
		t.Fatalf("not blocked with 3 violations in the window: %+v", d)
	}
}

func TestBadSignaturesDoNotBlock(t *testing.T) {
	f := newFixture(t)
	for range 5 {
		p := f.proof(nil)
		p.Signature = f.user.Sign(t, [32]byte{7})
		if d := f.Access(f.H1, p); d.Reason != ptl.ReasonBadSignature || len(d.Blocked) != 0 {
			t.Fatalf("decision = %+v", d)
		}
	}
	if d := f.Access(f.H1, f.proof(nil)); !d.Granted {
		t.Fatalf("unauthenticated refusals blocked the user: %+v", d)
	}
}

func TestMonitoringBlocksForAllOfAnOwnersRecords(t *testing.T) {
	f := newFixture(t)
	recs := []*storage.Record{f.rec}
	for _, id := range []string{rec2, cctest.H1Rec("rec-3"), cctest.H1Rec("rec-4"), cctest.H1Rec("rec-5"), cctest.H1Rec("rec-6")} {
		recs = append(recs, f.Store(f.H1, id))
		f.SetPolicy(f.H1, id, f.Policy(doctor...))
	}
	for i, rec := range recs[:5] { // owner threshold 5, one violation per record
		d := f.Access(f.H1, f.unmet(rec))
		if want := i == 4; want != slices.Contains(d.Blocked, ptl.ScopeOwner) {
			t.Fatalf("violation %d: blocked %v", i+1, d.Blocked)
		}
	}
	d := f.Access(f.H1, f.NewProof(f.user, recs[5], doctor, nil))
	if d.Reason != ptl.ReasonRevoked || d.Detail != "access to all of the owner's records is revoked (revoked by monitor since 2026-01-01T00:00:00Z: 5 violations within 1h0m0s, the last policy_not_met)" {
		t.Fatalf("untouched record of the owner: %+v", d)
	}
	f.Must(f.H1, ptl.Name, "Regrant", f.user.ID(), "*")
	if d := f.Access(f.H1, f.NewProof(f.user, recs[5], doctor, nil)); !d.Granted {
		t.Fatalf("after the owner-wide re-grant: %+v", d)
	}
	vio := cctest.Decode[page.Page[ptl.Violation]](t, f.Query(f.H1, ptl.Name, "ListViolations", "*", "100", ""))
	if len(vio.Items) != 6 { // five policy_not_met and one revoked
		t.Errorf("owner's violations = %d", len(vio.Items))
	}
	_, err := f.L.Evaluate(f.H2, ptl.Name, "ListViolations", rec1, "10", "")
	cctest.WantErr(t, err, "caller: only the owner or an auditor the channel's configuration names may list violations", ccerr.ErrForbidden)
	if other := cctest.Decode[page.Page[ptl.Violation]](t, f.Query(f.H2, ptl.Name, "ListViolations", "*", "100", "")); len(other.Items) != 0 {
		t.Errorf("hospital 2 sees %d violations of hospital 1", len(other.Items))
	}
}

func TestRecallAndRegrant(t *testing.T) {
	f := newFixture(t)
	res, err := f.L.Submit(f.H1, ptl.Name, "Recall", f.user.ID(), rec1, "")
	if err != nil {
		t.Fatal(err)
	}
	b := cctest.Decode[ptl.Block](t, res.Payload)
	if b.State != ptl.StateRecalled || len(b.Causes) != 1 || b.Causes[0].By != ptl.ByOwner || b.Causes[0].Reason != "recalled by the owner" || res.Events[0].Name != ptl.EventRecalled {
		t.Fatalf("recall = %+v, events %v", b, res.Events)
	}
	if d := f.Access(f.H1, f.proof(nil)); d.Reason != ptl.ReasonRevoked {
		t.Fatalf("after recall: %+v", d)
	}
	f.Must(f.H1, ptl.Name, "Regrant", f.user.ID(), rec1)
	if d := f.Access(f.H1, f.proof(nil)); !d.Granted {
		t.Fatalf("after re-grant: %+v", d)
	}
}

// TestCachesDoNotChangeResults runs the same transactions on two ledgers that
// share chaincode instances: the second run hits every cache the first one
// filled, and must write exactly the same state, events and results.
func TestCachesDoNotChangeResults(t *testing.T) {
	s := cctest.NewSide(t, "high") // ledger A
	bc := cctest.NewConsortium(t, s.Channel)
	b := bc.L
	for name, cc := range s.CC {
		b.Deploy(name, cc)
	}
	both := func(who *identity.Signer, cc, fn string, args ...string) (*chaincodetest.Result, *chaincodetest.Result) {
		t.Helper()
		ra, errA := s.L.Submit(who, cc, fn, args...)
		rb, errB := b.Submit(who, cc, fn, args...)
		if errA != nil || errB != nil {
			t.Fatalf("%s %s: %v / %v", cc, fn, errA, errB)
		}
		return ra, rb
	}
	// B replays A's configurations (by admins of the same names), then both
	// run the same transactions. No queries: they would advance one
	// ledger's transaction counter.
	bc.MustConfigure(storage.Name, storage.Config{Level: "high", Auditors: s.Auditors()})
	bc.MustConfigure(ptl.Name, s.PTLConfig())
	bc.MustConfigure("provenance", map[string]any{"level": "high", "auditors": s.Auditors()})
	ra, _ := both(s.H1, "storage", "Store", s.StoreArgs(s.H1, rec1, 1, "")...)
	rec := cctest.Decode[storage.Record](t, ra.Payload)
	rec.Keys = []byte("wrapped-keys:" + rec1)
	both(s.H1, ptl.Name, "SetPolicy", rec1, cctest.JSON(t, s.Policy(doctor...)))

	user := s.NewUser(doctor...)
	other := s.NewUserWith(cctest.NewKey(t), 1, time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), doctor...)
	grant := s.NewProof(user, rec, doctor, nil)
	ops := [][]string{
		s.AccessArgs(grant),
		s.AccessArgs(grant), // replay
		s.AccessArgs(s.NewProof(other, rec, doctor, nil)),    // bad credential
		s.AccessArgs(s.NewProof(user, rec, doctor[:1], nil)), // policy not met
		s.AccessArgs(s.NewProof(user, rec, doctor, nil)),     // granted, cached credential
	}
	for i, op := range ops {
		ra, rb := both(s.H1, ptl.Name, "Access", op...)
		if string(ra.Payload) != string(rb.Payload) || cctest.JSON(t, ra.Writes) != cctest.JSON(t, rb.Writes) || cctest.JSON(t, ra.Events) != cctest.JSON(t, rb.Events) {
			t.Fatalf("op %d differs with warm caches:\n%s\n%s", i, ra.Payload, rb.Payload)
		}
		if i == 0 && !cctest.Decode[ptl.Decision](t, ra.Payload).Granted {
			t.Fatalf("op 0 refused: %s", ra.Payload)
		}
	}
}
