package gateway_test

// Hostile callers: who could get past each check of the gateway, and the
// test that notices. Each case names the attacker, the exact status and
// problem type it must get, and checks that nothing was submitted when the
// refusal comes before the ledger.

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/medshare/medshare/abe/policy"
	"github.com/medshare/medshare/abe/tag"
	"github.com/medshare/medshare/chaincode/ccerr"
	"github.com/medshare/medshare/chaincode/ptl"
	"github.com/medshare/medshare/chaincode/txbuild"
	"github.com/medshare/medshare/gateway"
	"github.com/medshare/medshare/gateway/aa"
	"github.com/medshare/medshare/gateway/api"
	"github.com/medshare/medshare/gateway/client"
	"github.com/medshare/medshare/gateway/internal/gwtest"
	"github.com/medshare/medshare/gateway/ledger"
	"github.com/medshare/medshare/network/identity"
)

// wantProblem checks an answer's status, problem type and field.
func wantProblem(t *testing.T, what string, err error, status int, typ, field string) *client.ProblemError {
	t.Helper()
	pe := problemOf(t, err)
	if pe.Status != status || pe.Type != typ || pe.Field != field {
		t.Fatalf("%s: %d %s field %q (%s), want %d %s field %q", what, pe.Status, pe.Type, pe.Field, pe.Detail, status, typ, field)
	}
	return pe
}

// proofFor makes r's proof for a level of a record, read through r's own
// gateway.
func proofFor(t *testing.T, r *client.Reader, id, level string, at time.Time) (*api.Level, *ptl.Proof) {
	t.Helper()
	lv, err := r.Home.Level(context.Background(), id, level)
	if err != nil {
		t.Fatal(err)
	}
	pol := &ptl.Policy{RecordID: id, Version: lv.PolicyVersion}
	pol.HiddenPolicy = lv.HiddenPolicy
	p, err := r.User.ProofFor(rand.Reader, lv.Channel, pol, lv.Address, at)
	if err != nil {
		t.Fatal(err)
	}
	return lv, p
}

// TestAProofIsSubmittedByItsOwnUser: a data user of another organisation
// (or of the same) who holds someone else's proof cannot submit it — it
// would spend the victim's nonce, be answered the victim's m and be logged
// as the victim's access. Nothing reaches P-TL.
func TestAProofIsSubmittedByItsOwnUser(t *testing.T) {
	c := newConsortium(t)
	ctx := context.Background()
	up := upload(t, c, patient)
	nurse := c.User(gwtest.H1, "nurse", map[string]string{"role": "nurse", "trust": "1"})
	_, p := proofFor(t, c.Reader(gwtest.H1, nurse), up.RecordID, "low", time.Now())
	for _, thief := range []struct {
		name string
		m    *gwtest.Member
	}{
		{"a doctor of another organisation", c.User(gwtest.H2, "dr-mallory", map[string]string{"role": "doctor", "trust": "3"})},
		{"a colleague of the same organisation", c.User(gwtest.H1, "nurse2", map[string]string{"role": "nurse"})},
	} {
		t.Run(thief.name, func(t *testing.T) {
			before := len(submitted(c))
			_, err := c.Client(gwtest.H1, thief.m).Access(ctx, up.RecordID, &api.AccessRequest{Level: "low", Proof: p})
			wantProblem(t, "another user's proof", err, http.StatusForbidden, gateway.ProblemForbidden, "proof.user")
			if n := len(submitted(c)) - before; n != 0 {
				t.Fatalf("%d transactions submitted", n)
			}
		})
	}
	// The nurse's own submission of the same proof is granted: the proof
	// was not spent by the attempts.
	if _, err := c.Client(gwtest.H1, nurse).Access(ctx, up.RecordID, &api.AccessRequest{Level: "low", Proof: p}); err != nil {
		t.Fatalf("the nurse's own proof: %v", err)
	}
}

// TestRevokedExpiredAndOtherEpochUsers: a user the owner recalled, a user
// whose credential expired and a user whose credential is of an earlier
// epoch than the record's policy are refused by P-TL with its reason and a
// violation; a user whose certificate expired is not authenticated at all.
func TestRevokedExpiredAndOtherEpochUsers(t *testing.T) {
	c := newConsortium(t)
	ctx := context.Background()
	up := upload(t, c, patient)
	owner := c.Client(gwtest.H1, c.Owner(gwtest.H1, "operator"))

	t.Run("recalled", func(t *testing.T) {
		m := c.User(gwtest.H2, "dr-recalled", map[string]string{"role": "doctor", "specialty": "cardiology", "trust": "2"})
		r := c.Reader(gwtest.H2, m)
		if _, err := owner.Recall(ctx, up.RecordID, &api.RecallRequest{User: r.User.ID(), Reason: "left"}); err != nil {
			t.Fatal(err)
		}
		_, p := proofFor(t, r, up.RecordID, "low", time.Now())
		_, err := c.Client(gwtest.H1, m).Access(ctx, up.RecordID, &api.AccessRequest{Level: "low", Proof: p})
		pe := wantProblem(t, "recalled user", err, http.StatusForbidden, gateway.ProblemAccessRefused, "")
		if pe.Reason != ptl.ReasonRevoked || pe.ViolationID == "" {
			t.Fatalf("recalled user: %+v", pe.Problem)
		}
	})

	t.Run("expired credential", func(t *testing.T) {
		m := c.User(gwtest.H2, "dr-expired", map[string]string{"role": "doctor"})
		subject, err := x509.MarshalPKIXPublicKey(m.Signer.Identity.PublicKey())
		if err != nil {
			t.Fatal(err)
		}
		// Issued two days ago with the authority's one-day validity.
		e, err := c.AA.Issue(rand.Reader, m.Signer.ID(), subject, aa.UserAttributes(m.Signer.Identity, aa.Schema()), time.Now().Add(-48*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		u, uk, err := client.UserOf(m.ID, e)
		if err != nil {
			t.Fatal(err)
		}
		r := &client.Reader{Home: c.Client(gwtest.H2, m), User: u, Key: uk}
		_, p := proofFor(t, r, up.RecordID, "low", time.Now())
		_, err = c.Client(gwtest.H1, m).Access(ctx, up.RecordID, &api.AccessRequest{Level: "low", Proof: p})
		pe := wantProblem(t, "expired credential", err, http.StatusForbidden, gateway.ProblemAccessRefused, "")
		if pe.Reason != ptl.ReasonBadCredential || pe.ViolationID == "" {
			t.Fatalf("expired credential: %+v", pe.Problem)
		}
	})

	t.Run("credential of an earlier epoch", func(t *testing.T) {
		// A consortium of its own: its gateways have not cached the
		// authority's parameters yet (they keep them for 10 s).
		c := newConsortium(t)
		m := c.User(gwtest.RI, "researcher-e1", map[string]string{"role": "researcher"})
		r := c.Reader(gwtest.RI, m) // epoch 1
		if _, err := c.Client(gwtest.H1, c.Member(gwtest.H1, "aa-op", identity.RoleClient, map[string]string{gateway.RoleAttribute: "authority"})).RotateEpoch(ctx); err != nil {
			t.Fatal(err)
		}
		up2 := upload(t, c, patient) // hidden under epoch 2's tags
		lv, err := r.Home.Level(ctx, up2.RecordID, "low")
		if err != nil {
			t.Fatal(err)
		}
		// Its epoch-1 tags satisfy nothing of an epoch-2 policy: the client
		// sends no proof, and a proof disclosing them anyway is refused.
		pol := &ptl.Policy{RecordID: up2.RecordID, Version: lv.PolicyVersion}
		pol.HiddenPolicy = lv.HiddenPolicy
		if _, err := r.User.ProofFor(rand.Reader, lv.Channel, pol, lv.Address, time.Now()); !errors.Is(err, txbuild.ErrNotSatisfiable) {
			t.Fatalf("epoch-1 proof for an epoch-2 policy: %v, want ErrNotSatisfiable", err)
		}
		p, err := r.User.Proof(rand.Reader, txbuild.ProofInput{Channel: lv.Channel, RecordID: up2.RecordID, PolicyVersion: lv.PolicyVersion,
			Address: lv.Address, Time: time.Now(), Disclose: r.User.Wallet.Tags()[:1]})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Client(gwtest.H1, m).Access(ctx, up2.RecordID, &api.AccessRequest{Level: "low", Proof: p})
		pe := wantProblem(t, "earlier epoch", err, http.StatusForbidden, gateway.ProblemAccessRefused, "")
		if pe.Reason != ptl.ReasonPolicyNotMet {
			t.Fatalf("earlier epoch: %+v", pe.Problem)
		}
	})

	t.Run("a forged enrolment", func(t *testing.T) {
		m := c.User(gwtest.H2, "dr-forger", map[string]string{"role": "doctor"})
		_, p := proofFor(t, c.Reader(gwtest.H2, m), up.RecordID, "low", time.Now())
		p.Enrolment = append([]byte(nil), p.Enrolment...)
		p.Enrolment[len(p.Enrolment)/2] ^= 1 // not what the authority signed
		_, err := c.Client(gwtest.H1, m).Access(ctx, up.RecordID, &api.AccessRequest{Level: "low", Proof: p})
		pe := wantProblem(t, "forged enrolment", err, http.StatusForbidden, gateway.ProblemAccessRefused, "")
		if pe.Reason != ptl.ReasonNotEnrolled {
			t.Fatalf("forged enrolment: %+v", pe.Problem)
		}
	})

	t.Run("a proof for a version since replaced", func(t *testing.T) {
		m := c.User(gwtest.H2, "dr-late", map[string]string{"role": "doctor"})
		r := c.Reader(gwtest.H2, m)
		rec := upload(t, c, patient)
		_, p := proofFor(t, r, rec.RecordID, "low", time.Now())
		if _, err := owner.Update(ctx, rec.RecordID, &api.UploadRequest{Document: doc(t, patient), Policy: testPolicy, Access: terms()}); err != nil {
			t.Fatal(err)
		}
		_, err := c.Client(gwtest.H1, m).Access(ctx, rec.RecordID, &api.AccessRequest{Level: "low", Proof: p})
		// Stale, not the user's fault: refused before P-TL records anything.
		pe := wantProblem(t, "replaced version", err, http.StatusUnprocessableEntity, gateway.ProblemInvalid, "")
		if !strings.Contains(pe.Detail, "proof.address: is not the current address of record") {
			t.Fatalf("replaced version: %+v", pe.Problem)
		}
	})

	t.Run("expired certificate", func(t *testing.T) {
		ca := c.CAs[gwtest.H2]
		cert, key, err := ca.Issue(rand.Reader, identity.Request{CommonName: "dr-old", Role: identity.RoleClient, TLS: true,
			Attributes: map[string]string{gateway.RoleAttribute: "user", "role": "doctor"},
			NotBefore:  time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		old := &gwtest.Member{TLS: tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}}
		old.ID = &client.Identity{TLS: old.TLS, Roots: c.Roots}
		_, err = c.Client(gwtest.H1, old).Record(ctx, up.RecordID)
		wantProblem(t, "expired certificate", err, http.StatusUnauthorized, gateway.ProblemUnauthenticated, "")
	})
}

// TestEnrolmentAttacks: the attribute authority issues a key and
// credential only to the holder of the TLS certificate of the call, for
// the signing certificate of the same person, recently signed over this
// connection, with the role the route wants.
func TestEnrolmentAttacks(t *testing.T) {
	c := newConsortium(t)
	ctx := context.Background()
	alice := c.User(gwtest.H2, "dr-alice", map[string]string{"role": "doctor", "trust": "3"})
	bob := c.User(gwtest.H2, "dr-bob", map[string]string{"role": "doctor", "trust": "1"})
	eve := c.User(gwtest.RI, "dr-alice", map[string]string{"role": "doctor", "trust": "3"}) // same name, another organisation
	sign := func(signer *identity.Signer, tlsCert []byte, at time.Time) []byte {
		req := api.EnrolRequest{Certificate: string(identity.EncodeCertPEM(signer.Certificate())), Time: at}
		d := api.EnrolDigest(tlsCert, at)
		sig, err := signer.SignDigest(d[:])
		if err != nil {
			t.Fatal(err)
		}
		req.Signature = sig
		b, _ := json.Marshal(req)
		return b
	}
	now := time.Now().UTC()
	cases := []struct {
		name   string
		caller *gwtest.Member
		path   string
		body   []byte
		status int
		typ    string
		field  string
	}{
		{"bob's TLS with alice's signing certificate (alice signed)", bob, "/api/v1/authority/keys", sign(alice.Signer, bob.TLS.Leaf.Raw, now), 403, gateway.ProblemForbidden, ""},
		{"alice's signature over another connection's certificate (replayed)", alice, "/api/v1/authority/keys", sign(alice.Signer, bob.TLS.Leaf.Raw, now), 403, gateway.ProblemForbidden, ""},
		{"a signing certificate of another organisation with the same name", alice, "/api/v1/authority/keys", sign(eve.Signer, alice.TLS.Leaf.Raw, now), 403, gateway.ProblemForbidden, ""},
		{"a stale enrolment", alice, "/api/v1/authority/keys", sign(alice.Signer, alice.TLS.Leaf.Raw, now.Add(-time.Hour)), 422, gateway.ProblemInvalid, "time"},
		{"an enrolment from the future", alice, "/api/v1/authority/keys", sign(alice.Signer, alice.TLS.Leaf.Raw, now.Add(time.Hour)), 422, gateway.ProblemInvalid, "time"},
		{"a data user asking for a custodian key", alice, "/api/v1/authority/custodian-keys", sign(alice.Signer, alice.TLS.Leaf.Raw, now), 403, gateway.ProblemForbidden, ""},
		{"not a certificate", alice, "/api/v1/authority/keys", []byte(`{"certificate":"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----","time":"` + now.Format(time.RFC3339) + `","signature":"AA=="}`), 422, gateway.ProblemInvalid, "certificate"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.Client(gwtest.H1, tc.caller).Do(ctx, "POST", tc.path, api.JSON, tc.body, nil)
			wantProblem(t, tc.name, err, tc.status, tc.typ, tc.field)
		})
	}
	// A data owner of another organisation gets a custodian key for its
	// own organisation only: the attribute is taken from its certificate.
	op2 := c.Owner(gwtest.H2, "operator2")
	e, err := c.Client(gwtest.H1, op2).EnrolCustodian(ctx, op2.Signer)
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Attributes) != 2 || e.Attributes[0] != "custodian="+aa.OrgValue(gwtest.H2) {
		t.Fatalf("hospital 2's custodian key certifies %v", e.Attributes)
	}
}

// TestGatewayRegistryOnTheGateway: each organisation's administrator
// registered its gateway (gwtest does, as deployments do); another
// organisation's administrator cannot redirect it; callers resolve it
// through their own gateway with the organisation's CA.
func TestGatewayRegistryOnTheGateway(t *testing.T) {
	c := newConsortium(t)
	ctx := context.Background()
	err := c.RegisterGateway(gwtest.H1, c.URL(gwtest.H1)) // as hospital 1's admin: allowed again
	if err != nil {
		t.Fatal(err)
	}
	evil := &ledger.Chain{L: c.Ledger.As(c.Admin(gwtest.H2).Signer)}
	_, _, err = evil.SetGateway(ctx, gwtest.H1, "https://203.0.113.9:8443")
	var re *ledger.RefusedError
	if !asRefused(err, &re) || re.Kind != ccerr.ErrForbidden {
		t.Fatalf("hospital 2's admin redirecting hospital 1: %v", err)
	}
	operator := &ledger.Chain{L: c.Ledger.As(c.Owner(gwtest.H1, "operator").Signer)}
	if _, _, err := operator.SetGateway(ctx, gwtest.H1, "https://203.0.113.9:8443"); !asRefused(err, &re) || re.Kind != ccerr.ErrForbidden {
		t.Fatalf("hospital 1's operator redirecting hospital 1: %v", err)
	}
	dr := c.User(gwtest.H2, "dr", map[string]string{"role": "doctor"})
	g, err := c.Client(gwtest.H2, dr).Gateway(ctx, gwtest.H1)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := identity.ParseCertPEM([]byte(g.CA))
	if err != nil {
		t.Fatal(err)
	}
	if g.URL != c.URL(gwtest.H1) || g.Source != api.SourceRegistry || g.Version != 2 || !ca.Equal(c.CAs[gwtest.H1].Certificate()) {
		t.Fatalf("hospital 1's gateway as hospital 2 resolves it: %+v", g)
	}
	rec, err := c.Client(gwtest.H2, dr).Record(ctx, upload(t, c, patient).RecordID)
	if err != nil || rec.OwnerGateway != c.URL(gwtest.H1) {
		t.Fatalf("record metadata names %q (%v), want %s", rec.OwnerGateway, err, c.URL(gwtest.H1))
	}
	for _, tc := range []struct {
		msp    string
		status int
		typ    string
	}{
		{"EvilMSP", 404, gateway.ProblemNotFound},
		{"..", 404, gateway.ProblemNotFound},
		{"Hospital1MSP%00", 400, gateway.ProblemBadRequest},
		{"a%20b", 400, gateway.ProblemBadRequest},
	} {
		_, err := c.Client(gwtest.H2, dr).Do(ctx, "GET", "/api/v1/gateways/"+tc.msp, "", nil, nil)
		wantProblem(t, tc.msp, err, tc.status, tc.typ, map[bool]string{true: "msp"}[tc.status == 400])
	}
}

func asRefused(err error, re **ledger.RefusedError) bool {
	for e := err; e != nil; {
		if r, ok := e.(*ledger.RefusedError); ok {
			*re = r
			return true
		}
		u, ok := e.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		e = u.Unwrap()
	}
	return false
}

var _ = policy.Low
var _ = tag.KeySize
