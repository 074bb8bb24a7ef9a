package chaincode_test

import (
	"crypto/rand"
	"crypto/sha256"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/medshare/medshare/chaincode/provenance"
	"github.com/medshare/medshare/chaincode/ptl"
	"github.com/medshare/medshare/chaincode/txbuild"
	"github.com/medshare/medshare/network/client"
	"github.com/medshare/medshare/network/lifecycle"
	"github.com/medshare/medshare/network/pb"
)

// TestGovernanceAndIdentityOnTheNetwork checks, on three real node
// processes, the two rules of issue 11 that only a real channel shows: a
// requestor revoked through MeDShare is refused by P-TL whatever key it
// presents until the owner re-grants (the revocation follows the user id the
// attribute authority binds every key of one person to), and P-TL's
// configuration changes only with the approval of a majority of the
// channel's organisations (one organisation alone fails, a majority
// succeeds).
func TestGovernanceAndIdentityOnTheNetwork(t *testing.T) {
	s := newSuite(t)
	const ch = "side-high"
	attrs := []string{"role=doctor", "specialty=cardiology", "trust>=1", "trust>=2", "trust>=3"}

	s.run("a requestor revoked through MeDShare is refused whatever key it presents, until the owner re-grants", func(t *testing.T) {
		recs := s.storeRecord(txbuild.RecordID(s.h1.ID(), "rec-r"))
		high := recs["high"]
		// The same person (hospital 2's enrolled doctor) holds two keys
		// the attribute authority enrolled under its user id.
		k1 := s.user(s.doctorID.ID(), attrs...)
		k2 := s.user(s.doctorID.ID(), attrs...)
		if k1.ID() != k2.ID() || k1.Hash() == k2.Hash() {
			t.Fatalf("two keys of one person: ids %s %s, keys %s %s", k1.ID(), k2.ID(), k1.Hash(), k2.Hash())
		}
		// A third key with an AA credential but an enrolment the AA never
		// signed (made with another key, naming someone else's id).
		k3 := s.user("x509::CN=someone-else::CN=ca.hospital2", attrs...)
		fake := must(txbuild.NewKey(rand.Reader))(t)
		k3.Enrolment = must(txbuild.Enrol(fake, txbuild.UserID("x509::CN=someone-else::CN=ca.hospital2"), k3.DER))(t)

		reqID := txbuild.RequestID(k1.ID(), "req-r")
		reportKey := must(txbuild.NewKey(rand.Reader))(t)
		now := time.Now()
		in := must(txbuild.SignRequest(k1, ch, txbuild.Request{ID: reqID, RecordIDs: []string{high.rec.RecordID}, Purpose: "second opinion",
			Time: now.Add(-2 * time.Second), ReportKey: reportKey.DER}))(t)
		pkg := txbuild.Package{Received: now.Add(-time.Second), Processed: now.Add(-time.Second / 2), Sent: now, DataID: "pkg-r",
			Hash: sha256.Sum256([]byte("encrypted package r")), Allowed: []string{provenance.ActionRead}}
		s.submit(s.owner, must(txbuild.RecordRequest(s.h1, ch, in, pkg))(t))
		s.converged(ch) // the research institute's node forwards the report
		r := must(txbuild.SignReport(reportKey, ch, reqID, pkg.Hash, 1, []txbuild.Action{{Name: provenance.ActionCopy, At: time.Now()}}))(t)
		s.submit(s.research, must(txbuild.ForwardReport(s.rsigner, ch, pkg.Hash, r))(t))
		s.converged(ch)

		try := func(u *txbuild.User, granted bool, reason, blame string) {
			t.Helper()
			p := s.proof(u, high, time.Now())
			_, txID := s.accessOnce(high, p)
			s.checkLogged(high, u, must(txbuild.AccessID(ch, p))(t), txID, granted, reason, blame)
		}
		try(k1, false, ptl.ReasonRevoked, ptl.BlameUser)
		try(k2, false, ptl.ReasonRevoked, ptl.BlameUser)
		try(k3, false, ptl.ReasonNotEnrolled, ptl.BlameNone)
		// Nor can it ask again through MeDShare with its other key.
		in2 := must(txbuild.SignRequest(k2, ch, txbuild.Request{ID: txbuild.RequestID(k2.ID(), "req-r2"), RecordIDs: []string{high.rec.RecordID},
			Purpose: "again", Time: time.Now().Add(-2 * time.Second), ReportKey: reportKey.DER}))(t)
		now = time.Now()
		pkg.Received, pkg.Processed, pkg.Sent, pkg.DataID = now.Add(-time.Second), now.Add(-time.Second/2), now, "pkg-r2"
		_, _, err := s.trySubmit(s.owner, must(txbuild.RecordRequest(s.h1, ch, in2, pkg))(t))
		if err == nil || !strings.Contains(err.Error(), "request.requestor: requestor "+k2.ID()+" is blocked for record "+high.rec.RecordID) {
			t.Fatalf("a MeDShare request with the revoked person's other key: %v", err)
		}

		// The re-grant of the request lifts the request's cause. The two
		// refused attempts while revoked counted toward monitoring, whose
		// record threshold (3, with the forbidden action) they reached:
		// that block is the owner's to lift too.
		s.submit(s.owner, must(txbuild.Regrant(s.h1, ch, reqID, "explained"))(t))
		s.converged(ch)
		st := read[ptl.Status](s, s.auditor, ch, ptl.Name, "Status", k1.ID(), high.rec.RecordID)
		if !st.Blocked || len(st.Blocks) != 1 || len(st.Blocks[0].Causes) != 1 || st.Blocks[0].Causes[0].By != ptl.ByMonitor {
			t.Fatalf("status after the request's re-grant = %+v, want the monitoring cause only", st)
		}
		try(k2, false, ptl.ReasonRevoked, ptl.BlameUser)
		s.submit(s.owner, txbuild.RegrantUser(ch, k1.ID(), high.rec.RecordID))
		s.converged(ch)
		try(k2, true, "", "")
		try(k1, true, "", "")
	})

	s.run("configuration changes need a majority of the channel's organisations", func(t *testing.T) {
		admin := func(org int) *client.Contract {
			return must(s.n.Gateway(org, org, "admin"))(t).GetNetwork(ch).GetContract(lifecycle.Name)
		}
		before := read[ptl.Config](s, s.research, ch, ptl.Name, "GetConfig")
		committed := func() *pb.ChaincodeDefinition {
			t.Helper()
			raw := must(admin(2).EvaluateTransaction(lifecycle.FnQueryCommitted, ptl.Name))(t)
			return mustDefinition(t, raw)
		}
		seq := committed().GetSequence()

		// Hospital 2's admin alone replaces the attribute authority's key
		// and switches monitoring off.
		fakeAA := must(txbuild.NewKey(rand.Reader))(t)
		attack := *before
		attack.AAPublicKey, attack.Monitor.RecordThreshold, attack.Monitor.OwnerThreshold = fakeAA.Base64(), 100, 0
		call := txbuild.Call{Channel: ch, Chaincode: ptl.Name, Fn: "Init", Args: []string{mustJSON(t, attack)}}
		admin2 := must(s.n.Gateway(1, 1, "admin"))(t)
		if _, _, err := s.trySubmit(admin2, call); err == nil || !strings.Contains(err.Error(), "is not the init argument of ptl's committed definition") {
			t.Fatalf("a direct Init by one organisation's admin: %v", err)
		}
		def := must(txbuild.ConfigDefinition(call, "1", seq+1))(t)
		raw := must(lifecycle.EncodeDefinition(def))(t)
		if _, err := admin(1).Submit(lifecycle.FnApprove, client.WithBytesArguments(raw)); err != nil {
			t.Fatal(err)
		}
		s.converged(ch)
		if _, err := admin(1).SubmitTransaction(lifecycle.FnCommit, ptl.Name); err == nil || !strings.Contains(err.Error(), "is approved by no majority of the 3 organisations") {
			t.Fatalf("a definition only hospital 2 approved was committed: %v", err)
		}
		s.converged(ch)
		if got := read[ptl.Config](s, s.research, ch, ptl.Name, "GetConfig"); got.AAPublicKey != before.AAPublicKey || got.Monitor != before.Monitor {
			t.Fatalf("one organisation changed the configuration: %+v", got)
		}

		// Hospital 1 and the research institute agree to retire the AA's
		// epoch 1 (as after a key rotation): a majority, whatever hospital
		// 2 approved.
		change := *before
		change.MinEpoch = 2
		call.Args = []string{mustJSON(t, change)}
		raw = must(lifecycle.EncodeDefinition(must(txbuild.ConfigDefinition(call, "1", seq+1))(t)))(t)
		for _, org := range []int{0, 2} {
			if _, err := admin(org).Submit(lifecycle.FnApprove, client.WithBytesArguments(raw)); err != nil {
				t.Fatalf("approval by organisation %d: %v", org, err)
			}
		}
		s.converged(ch) // hospital 2's node commits: it must have seen the approvals
		if _, err := admin(1).SubmitTransaction(lifecycle.FnCommit, ptl.Name); err != nil {
			t.Fatalf("commit of the majority's definition: %v", err)
		}
		s.converged(ch)
		if got := read[ptl.Config](s, s.auditor, ch, ptl.Name, "GetConfig"); got.MinEpoch != 2 || got.AAPublicKey != before.AAPublicKey {
			t.Fatalf("configuration after the majority's change = %+v", got)
		}
		if d := committed(); d.GetSequence() != seq+1 || string(d.GetInitArgs()[0]) != call.Args[0] {
			t.Fatalf("committed definition = %v", d)
		}
		// The rule is in force: an epoch-1 credential is refused. And the
		// committed definition cannot be applied twice.
		recs := s.storeRecord(txbuild.RecordID(s.h1.ID(), "rec-g"))
		u := s.user(s.doctorID.ID(), attrs...)
		p := s.proof(u, recs["high"], time.Now())
		d, _ := s.accessOnce(recs["high"], p)
		if d.Granted || d.Reason != ptl.ReasonBadCredential || !strings.Contains(d.Detail, "epoch 1 is before the channel's minimum epoch 2") {
			t.Fatalf("an epoch-1 credential after the change: %+v", d)
		}
		if _, _, err := s.trySubmit(must(s.n.Gateway(0, 0, "admin"))(t), call); err == nil || !strings.Contains(err.Error(), "was already applied") {
			t.Fatalf("re-applying the committed definition: %v", err)
		}
	})
}

func mustDefinition(t testing.TB, raw []byte) *pb.ChaincodeDefinition {
	t.Helper()
	d := new(pb.ChaincodeDefinition)
	if err := proto.Unmarshal(raw, d); err != nil {
		t.Fatal(err)
	}
	return d
}
