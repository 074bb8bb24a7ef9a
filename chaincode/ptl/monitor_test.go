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

// stale returns a proof five minutes and one second old: refused as expired.
func (f *fixture) stale(rec *storage.Record) ptl.Proof {
	return f.NewProof(f.user, rec, doctor, func(p *ptl.Proof) {
		p.Time = f.L.Now().Add(-5*time.Minute - time.Second).Format(time.RFC3339Nano)
	})
}

func TestMonitoringBlocksForARecordAndRegrant(t *testing.T) {
	f := newFixture(t)
	for i, want := range [][]string{nil, nil, {ptl.ScopeRecord}} {
		d := f.Access(f.H1, f.stale(f.rec))
		if d.Reason != ptl.ReasonExpired || !slices.Equal(d.Blocked, want) {
			t.Fatalf("violation %d: %+v", i+1, d)
		}
		f.L.Advance(time.Second)
	}
	d := f.Access(f.H1, f.proof(nil))
	if d.Granted || d.Reason != ptl.ReasonRevoked || d.Detail != "access to record rec-1 is revoked by monitor since 2026-01-01T00:00:02Z: 3 violations within 1h0m0s, the last expired" {
		t.Fatalf("after the block: %+v", d)
	}
	// The block is per owner: hospital 2's record stays open to the user.
	rec2 := f.Store(f.H2, "rec-h2")
	f.SetPolicy(f.H2, "rec-h2", f.Policy(doctor...))
	if d := f.Access(f.H2, f.NewProof(f.user, rec2, doctor, nil)); !d.Granted {
		t.Fatalf("other owner's record refused: %+v", d)
	}
	st := cctest.Decode[ptl.Status](t, f.Query(f.H1, ptl.Name, "Status", f.user.Hash(), "rec-1"))
	if !st.Blocked || len(st.Blocks) != 1 || st.Blocks[0].By != ptl.ByMonitor {
		t.Errorf("status = %+v", st)
	}
	blocks := cctest.Decode[page.Page[ptl.Block]](t, f.Query(f.H1, ptl.Name, "ListBlocks", "", "10", ""))
	if len(blocks.Items) != 1 || blocks.Items[0].User != f.user.Hash() || blocks.Items[0].RecordID != "rec-1" {
		t.Errorf("blocks = %+v", blocks.Items)
	}
	_, err := f.L.Submit(f.H2, ptl.Name, "Regrant", f.user.Hash(), "rec-1")
	cctest.WantErr(t, err, "caller: only the owner of record rec-1 may re-grant access", ccerr.ErrForbidden)
	_, err = f.L.Submit(f.H1, ptl.Name, "Regrant", f.user.Hash(), "*")
	cctest.WantErr(t, err, "user: "+f.user.Hash()+" is not blocked for all of your records", ccerr.ErrNotFound)
	_, err = f.L.Submit(f.H1, ptl.Name, "Regrant", "nobody", "rec-1")
	cctest.WantErr(t, err, "user: must be a user's key-hash (32 lowercase hexadecimal characters) or base64 PKIX DER ECDSA P-256 public key", ccerr.ErrInvalidArgument)
	_, err = f.L.Submit(f.H1, ptl.Name, "Regrant", f.user.Hash(), "rec/1")
	cctest.WantErr(t, err, `target: must be a record id or "*" for all of your records`, ccerr.ErrInvalidArgument)

	res, err := f.L.Submit(f.H1, ptl.Name, "Regrant", cctest.B64(f.user.DER), "rec-1")
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
	if d := f.Access(f.H1, f.stale(f.rec)); !slices.Equal(d.Blocked, []string{ptl.ScopeOwner}) {
		t.Fatalf("blocked = %v, want only the owner-wide block", d.Blocked)
	}
}

func TestMonitoringWindowSlides(t *testing.T) {
	f := newFixture(t)
	f.Access(f.H1, f.stale(f.rec))
	f.L.Advance(30 * time.Minute)
	f.Access(f.H1, f.stale(f.rec))
	f.L.Advance(31 * time.Minute) // the first violation leaves the window
	if d := f.Access(f.H1, f.stale(f.rec)); len(d.Blocked) != 0 {
		t.Fatalf("blocked with 2 violations in the window: %+v", d)
	}
	if d := f.Access(f.H1, f.stale(f.rec)); !slices.Equal(d.Blocked, []string{ptl.ScopeRecord}) {
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
	for _, id := range []string{"rec-2", "rec-3", "rec-4", "rec-5", "rec-6"} {
		recs = append(recs, f.Store(f.H1, id))
		f.SetPolicy(f.H1, id, f.Policy(doctor...))
	}
	for i, rec := range recs[:5] { // owner threshold 5, one violation per record
		d := f.Access(f.H1, f.stale(rec))
		if want := i == 4; want != slices.Contains(d.Blocked, ptl.ScopeOwner) {
			t.Fatalf("violation %d: blocked %v", i+1, d.Blocked)
		}
	}
	d := f.Access(f.H1, f.NewProof(f.user, recs[5], doctor, nil))
	if d.Reason != ptl.ReasonRevoked || d.Detail != "access to all of the owner's records is revoked by monitor since 2026-01-01T00:00:00Z: 5 violations within 1h0m0s, the last expired" {
		t.Fatalf("untouched record of the owner: %+v", d)
	}
	f.Must(f.H1, ptl.Name, "Regrant", f.user.Hash(), "*")
	if d := f.Access(f.H1, f.NewProof(f.user, recs[5], doctor, nil)); !d.Granted {
		t.Fatalf("after the owner-wide re-grant: %+v", d)
	}
	vio := cctest.Decode[page.Page[ptl.Violation]](t, f.Query(f.H1, ptl.Name, "ListViolations", "*", "100", ""))
	if len(vio.Items) != 6 { // five expired and one revoked
		t.Errorf("owner's violations = %d", len(vio.Items))
	}
	_, err := f.L.Evaluate(f.H2, ptl.Name, "ListViolations", "rec-1", "10", "")
	cctest.WantErr(t, err, "caller: only the owner, an admin or an auditor (medshare.auditor=true) may list violations", ccerr.ErrForbidden)
	if other := cctest.Decode[page.Page[ptl.Violation]](t, f.Query(f.H2, ptl.Name, "ListViolations", "*", "100", "")); len(other.Items) != 0 {
		t.Errorf("hospital 2 sees %d violations of hospital 1", len(other.Items))
	}
}

func TestRecallAndRegrant(t *testing.T) {
	f := newFixture(t)
	res, err := f.L.Submit(f.H1, ptl.Name, "Recall", cctest.B64(f.user.DER), "rec-1", "")
	if err != nil {
		t.Fatal(err)
	}
	b := cctest.Decode[ptl.Block](t, res.Payload)
	if b.State != ptl.StateRecalled || b.By != ptl.ByOwner || b.Reason != "recalled by the owner" || res.Events[0].Name != ptl.EventRecalled {
		t.Fatalf("recall = %+v, events %v", b, res.Events)
	}
	if d := f.Access(f.H1, f.proof(nil)); d.Reason != ptl.ReasonRevoked {
		t.Fatalf("after recall: %+v", d)
	}
	f.Must(f.H1, ptl.Name, "Regrant", f.user.Hash(), "rec-1")
	if d := f.Access(f.H1, f.proof(nil)); !d.Granted {
		t.Fatalf("after re-grant: %+v", d)
	}
}

// TestCachesDoNotChangeResults runs the same transactions on two ledgers that
// share chaincode instances: the second run hits every cache the first one
// filled, and must write exactly the same state, events and results.
func TestCachesDoNotChangeResults(t *testing.T) {
	s := cctest.NewSide(t, "high") // ledger A
	b := chaincodetest.New(s.Channel)
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
	// B replays A's Inits, then both run the same transactions. No queries:
	// they would advance one ledger's transaction counter.
	for _, init := range [][]string{{"storage", `{"level":"high"}`}, {"ptl", cctest.JSON(t, s.PTLConfig())}, {"provenance", `{"level":"high"}`}} {
		if _, err := b.Submit(s.Admin, init[0], "Init", init[1]); err != nil {
			t.Fatal(err)
		}
	}
	ra, _ := both(s.H1, "storage", "Store", s.StoreArgs(s.H1, "rec-1", 1, "")...)
	rec := cctest.Decode[storage.Record](t, ra.Payload)
	rec.Keys = []byte("wrapped-keys:rec-1")
	both(s.H1, ptl.Name, "SetPolicy", "rec-1", cctest.JSON(t, s.Policy(doctor...)))

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
