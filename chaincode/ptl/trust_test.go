package ptl_test

// Regression tests of issue 11's holes in P-TL: each attack below succeeded
// on the code before the fix.

import (
	"testing"
	"time"

	"github.com/medshare/medshare/chaincode/ccerr"
	"github.com/medshare/medshare/chaincode/internal/cctest"
	"github.com/medshare/medshare/chaincode/internal/page"
	"github.com/medshare/medshare/chaincode/ptl"
	"github.com/medshare/medshare/network/identity"
	"github.com/medshare/medshare/network/lifecycle"
)

// Hole 1: one organisation's admin replaced the attribute authority's key,
// and a user with a credential from its fake authority was then granted
// hospital 1's record.
func TestOneOrganisationCannotRewriteTheConfiguration(t *testing.T) {
	f := newFixture(t)
	fake := cctest.NewKey(t)
	attack := f.PTLConfig()
	attack.AAPublicKey = cctest.B64(fake.DER)
	attack.MinEpoch = 0
	attack.Monitor.RecordThreshold, attack.Monitor.OwnerThreshold = 100, 0

	// A direct Init by hospital 2's admin.
	_, err := f.L.Submit(f.Admin2, ptl.Name, "Init", cctest.JSON(t, attack))
	cctest.WantErr(t, err, "config: is not the init argument of ptl's committed definition (sequence 1); after deployment the configuration changes only through a new definition whose init call Init carries it, approved by a majority of the channel's organisations and committed through the lifecycle", ccerr.ErrForbidden)
	// A definition only hospital 2 approved.
	err = f.Configure(ptl.Name, attack, f.Admin2)
	cctest.WantErr(t, err, "lifecycle: ptl sequence 2 is approved by no majority of the 3 organisations", nil)
	// The configuration is unchanged: the fake authority's user is refused.
	u := f.NewUserWith(fake, 1, time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), doctor...)
	if d := f.Access(f.H1, f.NewProof(u, f.rec, doctor, nil)); d.Granted || d.Reason != ptl.ReasonNotEnrolled {
		t.Fatalf("a user of a fake attribute authority: %+v", d)
	}
	if cfg := cctest.Decode[ptl.Config](t, f.Query(f.H1, ptl.Name, "GetConfig")); cfg.AAPublicKey != f.PTLConfig().AAPublicKey || cfg.Monitor.RecordThreshold != 3 {
		t.Fatalf("configuration after one organisation's attempts = %+v", cfg)
	}

	// A majority (hospital 1 and the research institute) raises minEpoch;
	// hospital 2's pending approval of its own definition does not count.
	change := f.PTLConfig()
	change.MinEpoch = 2
	f.MustConfigure(ptl.Name, change, f.Admin, f.Admin3)
	if cfg := cctest.Decode[ptl.Config](t, f.Query(f.H1, ptl.Name, "GetConfig")); cfg.MinEpoch != 2 || cfg.AAPublicKey != change.AAPublicKey {
		t.Fatalf("configuration after the majority's change = %+v", cfg)
	}
	if d := f.Access(f.H1, f.proof(nil)); d.Reason != ptl.ReasonBadCredential {
		t.Fatalf("an epoch-1 credential after minEpoch 2: %+v", d)
	}
	// The applied definition's Init cannot be replayed to undo a later
	// change, nor run again.
	_, err = f.L.Submit(f.Admin, ptl.Name, "Init", cctest.JSON(t, change))
	cctest.WantErr(t, err, "config: the committed definition of ptl (sequence 2) was already applied; a change needs a new definition approved by a majority of the channel's organisations", ccerr.ErrForbidden)
	approvals := cctest.Decode[map[string]string](t, f.Query(f.Admin, lifecycle.Name, lifecycle.FnQueryApprovals, ptl.Name, "2"))
	if len(*approvals) != 3 {
		t.Errorf("the approvals of sequence 2 recorded on chain = %v", *approvals)
	}
}

// Hole 2, P-TL's part: blocks, nonces and rates belong to the user id, so a
// second key of a blocked person is refused, and another person is not.
func TestBlocksFollowTheUserNotTheKey(t *testing.T) {
	f := newFixture(t)
	f.Must(f.H1, ptl.Name, "Recall", f.user.ID(), rec1, "")
	second := f.SecondKey(f.user, doctor...)
	if second.ID() != f.user.ID() || second.Hash() == f.user.Hash() {
		t.Fatal("the second key is not the same person's")
	}
	if d := f.Access(f.H1, f.NewProof(second, f.rec, doctor, nil)); d.Reason != ptl.ReasonRevoked || d.User != f.user.ID() {
		t.Fatalf("the blocked person's second key: %+v", d)
	}
	if d := f.Access(f.H1, f.NewProof(f.NewUser(doctor...), f.rec, doctor, nil)); !d.Granted {
		t.Fatalf("another person: %+v", d)
	}
	// A key presented with another person's user id is not enrolled.
	other := f.NewUser(doctor...)
	p := f.NewProof(second, f.rec, doctor, func(p *ptl.Proof) { p.User, p.Enrolment = other.ID(), other.Enrolment.Signature })
	if d := f.Access(f.H1, p); d.Reason != ptl.ReasonNotEnrolled || d.Blame != ptl.BlameNone {
		t.Fatalf("a key presented as someone else: %+v", d)
	}
}

// Hole 4: the owner, who alone submits accesses, got a user blocked by
// resubmitting one proof three times, and by submitting a proof late.
func TestTheOwnerCannotGetAUserBlocked(t *testing.T) {
	f := newFixture(t)
	p := f.proof(nil)
	if d := f.Access(f.H1, p); !d.Granted {
		t.Fatalf("first use: %+v", d)
	}
	for i := range 3 {
		if d := f.Access(f.H1, p); d.Reason != ptl.ReasonReplay || d.Blame != ptl.BlameSubmitter || len(d.Blocked) != 0 {
			t.Fatalf("replay %d: %+v", i+1, d)
		}
	}
	for i := range 3 {
		late := f.proof(nil)
		f.L.Advance(6 * time.Minute)
		if d := f.Access(f.H1, late); d.Reason != ptl.ReasonExpired || d.Blame != ptl.BlameSubmitter || len(d.Blocked) != 0 {
			t.Fatalf("late submission %d: %+v", i+1, d)
		}
	}
	if d := f.Access(f.H1, f.proof(nil)); !d.Granted {
		t.Fatalf("the user after six submissions the owner spoiled: %+v", d)
	}
	vio := cctest.Decode[page.Page[ptl.Violation]](t, f.Query(f.H1, ptl.Name, "ListViolations", rec1, "100", ""))
	if len(vio.Items) != 6 {
		t.Fatalf("violations = %d, want the 6 refusals logged", len(vio.Items))
	}
	for _, v := range vio.Items {
		if v.Counted || v.Blame != ptl.BlameSubmitter || v.Submitter != f.H1.ID() {
			t.Errorf("violation %s is not logged against its submitter: %+v", v.Reason, v)
		}
	}
	// The same holds across the owner's records: nothing counted.
	st := cctest.Decode[ptl.Status](t, f.Query(f.H1, ptl.Name, "Status", f.user.ID(), rec1))
	if st.Blocked {
		t.Fatalf("status = %+v", st)
	}
}

// Hole 5: audit data was readable by any organisation's admin and by any
// client whose own CA gave it medshare.auditor=true; a user could not read
// its own log.
func TestAuditReadsAreScoped(t *testing.T) {
	f := newFixture(t)
	f.Access(f.H1, f.proof(nil))
	f.L.Advance(time.Second) // the user's log is in the order of the proofs' times
	f.Access(f.H1, f.NewProof(f.user, f.rec, doctor[:1], nil))
	selfMade := f.Org2.Client(t, "self-made-auditor", map[string]string{"medshare.auditor": "true"})
	other := f.NewUser(doctor...)
	const owner = "caller: only the owner or an auditor the channel's configuration names may "
	const userOrAuditor = "caller: only the user it concerns or an auditor the channel's configuration names may list a user's access log"
	refused := []struct {
		name string
		who  string
		fn   string
		args []string
		want string
	}{
		{"another hospital's admin", "admin2", "ListAccessLog", []string{rec1, "10", ""}, owner + "list the access log"},
		{"the owner's own admin", "admin", "ListAccesses", []string{rec1, "10", ""}, owner + "list accesses"},
		{"a self-declared auditor", "selfmade", "ListViolations", []string{rec1, "10", ""}, owner + "list violations"},
		{"a self-declared auditor, a user's log", "selfmade", "ListUserLog", []string{f.user.ID(), "10", ""}, userOrAuditor},
		{"the owner, a user's log across owners", "h1", "ListUserLog", []string{f.user.ID(), "10", ""}, userOrAuditor},
		{"another user", "other", "ListUserLog", []string{f.user.ID(), "10", ""}, userOrAuditor},
		{"another user's status", "other", "Status", []string{f.user.ID(), rec1}, "caller: only the owner, the user it concerns or an auditor the channel's configuration names may read a user's status"},
	}
	who := map[string]*identity.Signer{"admin2": f.Admin2, "admin": f.Admin, "selfmade": selfMade, "h1": f.H1, "other": other.Identity}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.L.Evaluate(who[tt.who], ptl.Name, tt.fn, tt.args...)
			cctest.WantErr(t, err, tt.want, ccerr.ErrForbidden)
		})
	}
	// The user reads its own log and status; the named auditor reads all.
	mine := cctest.Decode[page.Page[ptl.LogEntry]](t, f.Query(f.user.Identity, ptl.Name, "ListUserLog", f.user.ID(), "10", ""))
	if len(mine.Items) != 2 || !mine.Items[0].Granted || mine.Items[1].Reason != ptl.ReasonPolicyNotMet || mine.Items[0].User != f.user.ID() {
		t.Fatalf("the user's own log = %+v", mine.Items)
	}
	if st := cctest.Decode[ptl.Status](t, f.Query(f.user.Identity, ptl.Name, "Status", f.user.ID(), rec1)); st.Blocked {
		t.Fatalf("the user's own status = %+v", st)
	}
	if all := cctest.Decode[page.Page[ptl.LogEntry]](t, f.Query(f.Auditor, ptl.Name, "ListUserLog", f.user.ID(), "10", "")); len(all.Items) != 2 {
		t.Fatalf("the auditor's read of the user's log = %+v", all.Items)
	}
	if all := cctest.Decode[page.Page[ptl.LogEntry]](t, f.Query(f.Auditor, ptl.Name, "ListAccessLog", rec1, "10", "")); len(all.Items) != 2 {
		t.Fatalf("the auditor's read of the record's log = %+v", all.Items)
	}
	// Another owner's listing of its own violations holds none of hospital 1's.
	if v := cctest.Decode[page.Page[ptl.Violation]](t, f.Query(f.H2, ptl.Name, "ListViolations", "*", "10", "")); len(v.Items) != 0 {
		t.Errorf("hospital 2 lists %d of hospital 1's violations", len(v.Items))
	}
}
