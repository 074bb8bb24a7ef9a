package ptl_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/medshare/medshare/chaincode/ccerr"
	"github.com/medshare/medshare/chaincode/internal/cctest"
	"github.com/medshare/medshare/chaincode/internal/page"
	"github.com/medshare/medshare/chaincode/ptl"
	"github.com/medshare/medshare/chaincode/storage"
	"github.com/medshare/medshare/chaincode/txbuild"
	"github.com/medshare/medshare/network/chaincode"
)

// doctor is what the test policies require.
var doctor = []string{"role=doctor", "dept=cardiology"}

type fixture struct {
	*cctest.Side
	rec  *storage.Record
	user *cctest.User
}

// newFixture stores rec-1 for hospital 1 with a policy requiring doctor, and
// issues a user holding doctor and one more attribute.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	s := cctest.NewSide(t, "high")
	f := &fixture{Side: s, rec: s.Store(s.H1, rec1), user: s.NewUser(append(doctor, "trust>=2")...)}
	s.SetPolicy(s.H1, rec1, s.Policy(doctor...))
	return f
}

func (f *fixture) proof(edit func(*ptl.Proof)) ptl.Proof {
	return f.NewProof(f.user, f.rec, doctor, edit)
}

// find returns the item that matches or fails the test.
func find[T any](t *testing.T, items []T, match func(T) bool) T {
	t.Helper()
	i := slices.IndexFunc(items, match)
	if i < 0 {
		t.Fatalf("no matching item in %+v", items)
	}
	return items[i]
}

func TestGrantRecordsTxAccAndReturnsKeys(t *testing.T) {
	f := newFixture(t)
	p := f.proof(nil)
	res, err := f.L.Submit(f.H1, ptl.Name, "Access", f.AccessArgs(p)...)
	if err != nil {
		t.Fatal(err)
	}
	d := cctest.Decode[ptl.Decision](t, res.Payload)
	if !d.Granted || d.Reason != "" || d.Address != f.rec.Address || d.KeysHash != f.rec.KeysHash || d.KeysHash == "" || d.Version != 1 || d.User != f.user.ID() {
		t.Fatalf("decision = %+v", d)
	}
	digest, _ := p.Digest(f.Channel)
	if d.AccessID != ptl.AccessID(digest) {
		t.Errorf("accessID = %s, want the proof digest", d.AccessID)
	}
	if len(res.Events) != 1 || res.Events[0].Name != ptl.EventAccessGranted {
		t.Errorf("events = %v", res.Events)
	}
	acc := cctest.Decode[page.Page[ptl.Access]](t, f.Query(f.H1, ptl.Name, "ListAccesses", rec1, "10", ""))
	if len(acc.Items) != 1 || acc.Items[0].AccessID != d.AccessID || !acc.Items[0].Stamp.Equal(f.L.Now()) || acc.Items[0].TxID != res.TxID {
		t.Errorf("Tx_acc = %+v", acc.Items)
	}
	log := cctest.Decode[page.Page[ptl.LogEntry]](t, f.Query(f.Auditor, ptl.Name, "ListAccessLog", rec1, "10", ""))
	if len(log.Items) != 1 || !log.Items[0].Granted || log.Items[0].KeysHash != f.rec.KeysHash || log.Items[0].Address != f.rec.Address {
		t.Errorf("APR = %+v", log.Items)
	}
	_, err = f.L.Evaluate(f.H2, ptl.Name, "ListAccessLog", rec1, "10", "")
	cctest.WantErr(t, err, "caller: only the owner or an auditor the channel's configuration names may list the access log", ccerr.ErrForbidden)
}

// TestViolationReasons drives one refusal of every kind and checks the
// decision, the violation recorded and the access log.
func TestViolationReasons(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		setup  func(f *fixture) ptl.Proof
		reason string
		detail string
		blame  string
	}{
		{"bad signature", func(f *fixture) ptl.Proof {
			p := f.proof(nil)
			p.Signature = f.user.Sign(t, [32]byte{1})
			return p
		}, ptl.ReasonBadSignature, "the proof's signature does not verify under proof.key", ptl.BlameNone},
		{"not enrolled", func(f *fixture) ptl.Proof {
			other := f.NewUser(doctor...)
			return f.proof(func(p *ptl.Proof) { p.User = other.ID() })
		}, ptl.ReasonNotEnrolled, "the enrolment does not bind proof.key to user %u under the attribute authority's key", ptl.BlameNone},
		{"enrolled by another AA", func(f *fixture) ptl.Proof {
			u := f.NewUserWith(cctest.NewKey(t), 1, now.Add(-time.Hour), now.Add(time.Hour), doctor...)
			return f.NewProof(u, f.rec, doctor, nil)
		}, ptl.ReasonNotEnrolled, "the enrolment does not bind proof.key to user %u under the attribute authority's key", ptl.BlameNone},
		{"replay", func(f *fixture) ptl.Proof {
			p := f.proof(nil)
			f.Access(f.H1, p)
			return p
		}, ptl.ReasonReplay, "the proof was already submitted, by transaction %s", ptl.BlameSubmitter},
		{"policy changed since the proof", func(f *fixture) ptl.Proof {
			p := f.proof(nil)
			f.SetPolicy(f.H1, rec1, f.Policy(doctor...))
			return p
		}, ptl.ReasonPolicyChanged, "the proof was made for version 1 of the record's policy; the current version is 2", ptl.BlameSubmitter},
		{"proof for a policy version that never was", func(f *fixture) ptl.Proof {
			return f.proof(func(p *ptl.Proof) { p.PolicyVersion = 7 })
		}, ptl.ReasonPolicyChanged, "the proof was made for version 7 of the record's policy; the current version is 1", ptl.BlameUser},
		{"stale proof", func(f *fixture) ptl.Proof {
			return f.proof(func(p *ptl.Proof) { p.Time = now.Add(-6 * time.Minute).Format(time.RFC3339) })
		}, ptl.ReasonExpired, "the proof is 6m0s old; the policy accepts proofs up to 5m0s old", ptl.BlameSubmitter},
		{"policy's own proof age", func(f *fixture) ptl.Proof {
			pol := f.Policy(doctor...)
			pol.MaxProofAge = "1m"
			f.SetPolicy(f.H1, rec1, pol)
			return f.proof(func(p *ptl.Proof) { p.Time = now.Add(-90 * time.Second).Format(time.RFC3339) })
		}, ptl.ReasonExpired, "the proof is 1m30s old; the policy accepts proofs up to 1m0s old", ptl.BlameSubmitter},
		{"proof from the future", func(f *fixture) ptl.Proof {
			return f.proof(func(p *ptl.Proof) { p.Time = now.Add(time.Minute).Format(time.RFC3339) })
		}, ptl.ReasonExpired, "the proof is dated 1m0s ahead of the transaction time; at most 30s is allowed", ptl.BlameSubmitter},
		{"policy expired", func(f *fixture) ptl.Proof {
			pol := f.Policy(doctor...)
			pol.NotAfter = "2026-01-01T00:00:00Z"
			f.SetPolicy(f.H1, rec1, pol)
			return f.proof(nil)
		}, ptl.ReasonExpired, "the policy expired at 2026-01-01T00:00:00Z", ptl.BlameUser},
		{"policy expired after the proof was made", func(f *fixture) ptl.Proof {
			pol := f.Policy(doctor...)
			pol.NotAfter = "2026-01-01T00:00:00Z"
			f.SetPolicy(f.H1, rec1, pol)
			return f.proof(func(p *ptl.Proof) { p.Time = now.Add(-time.Second).Format(time.RFC3339) })
		}, ptl.ReasonExpired, "the policy expired at 2026-01-01T00:00:00Z", ptl.BlameSubmitter},
		{"policy not yet valid", func(f *fixture) ptl.Proof {
			pol := f.Policy(doctor...)
			pol.NotBefore = "2026-01-01T00:00:01Z"
			f.SetPolicy(f.H1, rec1, pol)
			return f.proof(nil)
		}, ptl.ReasonExpired, "the policy is valid from 2026-01-01T00:00:01Z", ptl.BlameUser},
		{"outside window", func(f *fixture) ptl.Proof {
			pol := f.Policy(doctor...)
			pol.TimeZone, pol.Windows = "Europe/Paris", []ptl.Window{{Days: []string{"mon", "tue", "wed", "thu", "fri"}, Start: "08:00", End: "18:00"}}
			f.SetPolicy(f.H1, rec1, pol)
			return f.proof(nil)
		}, ptl.ReasonOutsideWindow, "Thursday 01:00 in Europe/Paris is outside the policy's access windows", ptl.BlameUser},
		{"window closed after the proof was made", func(f *fixture) ptl.Proof {
			pol := f.Policy(doctor...)
			pol.TimeZone, pol.Windows = "UTC", []ptl.Window{{Days: []string{"wed"}, Start: "22:00", End: "24:00"}}
			f.SetPolicy(f.H1, rec1, pol)
			return f.proof(func(p *ptl.Proof) { p.Time = now.Add(-time.Second).Format(time.RFC3339) })
		}, ptl.ReasonOutsideWindow, "Thursday 00:00 in UTC is outside the policy's access windows", ptl.BlameSubmitter},
		{"policy not met", func(f *fixture) ptl.Proof {
			u := f.NewUser("role=doctor", "dept=oncology")
			return f.NewProof(u, f.rec, []string{"role=doctor", "dept=oncology"}, nil)
		}, ptl.ReasonPolicyNotMet, "the 2 disclosed tags do not satisfy the record's policy", ptl.BlameUser},
		{"partial disclosure", func(f *fixture) ptl.Proof {
			return f.NewProof(f.user, f.rec, []string{"role=doctor"}, nil)
		}, ptl.ReasonPolicyNotMet, "the 1 disclosed tags do not satisfy the record's policy", ptl.BlameUser},
		{"credential of another AA", func(f *fixture) ptl.Proof {
			u := f.NewUserWith(cctest.NewKey(t), 1, now.Add(-time.Hour), now.Add(time.Hour), doctor...)
			var err error
			if u.Enrolment, err = txbuild.Enrol(f.AA.Key, u.ID(), u.DER); err != nil { // the channel's AA enrolled the key
				t.Fatal(err)
			}
			return f.NewProof(u, f.rec, doctor, nil)
		}, ptl.ReasonBadCredential, "the disclosure does not verify: credential: bad AA signature", ptl.BlameUser},
		{"someone else's credential", func(f *fixture) ptl.Proof {
			other := f.NewUser(doctor...)
			return f.proof(func(p *ptl.Proof) { p.Disclosure = f.Disclose(other, doctor...) })
		}, ptl.ReasonBadCredential, "the credential's subject is not proof.key", ptl.BlameUser},
		{"expired credential", func(f *fixture) ptl.Proof {
			u := f.NewUserWith(f.AA, 1, now.Add(-2*time.Hour), now, doctor...)
			return f.NewProof(u, f.rec, doctor, nil)
		}, ptl.ReasonBadCredential, "the credential expired at 2026-01-01T00:00:00Z", ptl.BlameUser},
		{"revoked epoch", func(f *fixture) ptl.Proof {
			cfg := f.PTLConfig()
			cfg.MinEpoch = 2
			f.MustConfigure(ptl.Name, cfg)
			return f.proof(nil)
		}, ptl.ReasonBadCredential, "the credential's epoch 1 is before the channel's minimum epoch 2", ptl.BlameUser},
		{"malformed disclosure", func(f *fixture) ptl.Proof {
			return f.proof(func(p *ptl.Proof) { p.Disclosure = []byte{1, 2, 3} })
		}, ptl.ReasonBadCredential, "the disclosure is malformed: credential: malformed encoding: at byte 3: length 515 exceeds the limit 256", ptl.BlameUser},
		{"rate exceeded", func(f *fixture) ptl.Proof {
			for range 10 {
				if d := f.Access(f.H1, f.proof(nil)); !d.Granted {
					t.Fatalf("attempt refused: %+v", d)
				}
			}
			return f.proof(nil)
		}, ptl.ReasonRateExceeded, "attempt 11 on this record in the 1m0s period from 2026-01-01T00:00:00Z; at most 10 are allowed", ptl.BlameUser},
		{"rate exceeded by proofs made before the period", func(f *fixture) ptl.Proof {
			var held []ptl.Proof
			for range 11 {
				held = append(held, f.proof(nil))
			}
			f.L.Advance(time.Minute)
			for _, p := range held[:10] {
				if d := f.Access(f.H1, p); !d.Granted {
					t.Fatalf("attempt refused: %+v", d)
				}
			}
			return held[10]
		}, ptl.ReasonRateExceeded, "attempt 11 on this record in the 1m0s period from 2026-01-01T00:01:00Z; at most 10 are allowed", ptl.BlameSubmitter},
		{"revoked", func(f *fixture) ptl.Proof {
			f.Must(f.H1, ptl.Name, "Recall", f.user.ID(), rec1, "left the hospital")
			return f.proof(nil)
		}, ptl.ReasonRevoked, "access to record " + rec1 + " is recalled (recalled by owner since 2026-01-01T00:00:00Z: left the hospital)", ptl.BlameUser},
		{"revoked after the proof was made", func(f *fixture) ptl.Proof {
			p := f.proof(nil)
			f.L.Advance(time.Second)
			f.Must(f.H1, ptl.Name, "Recall", f.user.ID(), rec1, "left the hospital")
			return p
		}, ptl.ReasonRevoked, "access to record " + rec1 + " is recalled (recalled by owner since 2026-01-01T00:00:01Z: left the hospital)", ptl.BlameSubmitter},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			p := tt.setup(f)
			res, err := f.L.Submit(f.H1, ptl.Name, "Access", f.AccessArgs(p)...)
			if err != nil {
				t.Fatal(err)
			}
			d := cctest.Decode[ptl.Decision](t, res.Payload)
			detail := strings.ReplaceAll(tt.detail, "%u", p.User)
			if strings.Contains(detail, "%s") {
				acc := cctest.Decode[page.Page[ptl.Access]](t, f.Query(f.H1, ptl.Name, "ListAccesses", rec1, "1", ""))
				detail = fmt.Sprintf(detail, acc.Items[0].TxID)
			}
			if d.Granted || d.Reason != tt.reason || d.Detail != detail || d.Blame != tt.blame || d.KeysHash != "" || d.Address != "" {
				t.Fatalf("decision = %+v\nwant reason %s, detail %q, blame %s", d, tt.reason, detail, tt.blame)
			}
			vio := cctest.Decode[page.Page[ptl.Violation]](t, f.Query(f.H1, ptl.Name, "ListViolations", rec1, "100", ""))
			last := find(t, vio.Items, func(v ptl.Violation) bool { return v.TxID == res.TxID })
			wantSubmitter := ""
			if tt.blame == ptl.BlameSubmitter {
				wantSubmitter = f.H1.ID()
			}
			if last.Reason != tt.reason || last.Blame != tt.blame || last.Counted != (tt.blame == ptl.BlameUser) || last.Submitter != wantSubmitter ||
				last.AccessID != d.AccessID || last.TxID != res.TxID || !slices.Equal(last.UserKey, p.Key) || last.Address != p.Address || last.User != p.User {
				t.Errorf("violation = %+v", last)
			}
			if !slices.ContainsFunc(res.Events, func(e chaincode.Event) bool { return e.Name == ptl.EventViolation }) {
				t.Errorf("no Violation event in %v", res.Events)
			}
			log := cctest.Decode[page.Page[ptl.LogEntry]](t, f.Query(f.H1, ptl.Name, "ListAccessLog", rec1, "100", ""))
			if e := find(t, log.Items, func(e ptl.LogEntry) bool { return e.TxID == res.TxID }); e.Granted || e.Reason != tt.reason || e.TxID != res.TxID {
				t.Errorf("APR = %+v", e)
			}
		})
	}
}

// Record ids: hospital 1's, except recH2.
var (
	rec1, rec2, rec9 = cctest.H1Rec("rec-1"), cctest.H1Rec("rec-2"), cctest.H1Rec("rec-9")
	recH2            = cctest.H2Rec("rec-h2")
)
