package gateway_test

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/google/fhir/go/fhirversion"
	"github.com/google/fhir/go/jsonformat"

	"github.com/medshare/medshare/abe/policy"
	"github.com/medshare/medshare/chaincode/provenance"
	"github.com/medshare/medshare/chaincode/ptl"
	"github.com/medshare/medshare/chaincode/txbuild"
	"github.com/medshare/medshare/gateway"
	"github.com/medshare/medshare/gateway/api"
	"github.com/medshare/medshare/gateway/client"
	"github.com/medshare/medshare/gateway/grade"
	"github.com/medshare/medshare/gateway/internal/gwtest"
	"github.com/medshare/medshare/gateway/medpkg"
)

// fhirPatient is a small FHIR bundle: a patient with direct identifiers
// (name, telecom, street), quasi-identifiers (birth date, city, postal
// code) and a condition that refers to it.
const fhirPatient = `{"resourceType":"Bundle","type":"collection","entry":[
 {"fullUrl":"urn:uuid:7f0c2a52-1c1e-4d0a-9f3e-0a1b2c3d4e5f","resource":{"resourceType":"Patient","id":"7f0c2a52-1c1e-4d0a-9f3e-0a1b2c3d4e5f",
  "name":[{"family":"Lovelace","given":["Ada"]}],"telecom":[{"system":"phone","value":"555-0100"}],"gender":"female","birthDate":"1961-04-02",
  "address":[{"line":["12 Beacon Street"],"city":"Cambridge","state":"MA","postalCode":"02138","country":"US"}]}},
 {"fullUrl":"urn:uuid:9a8b7c6d-0000-4000-8000-000000000001","resource":{"resourceType":"Condition","id":"9a8b7c6d-0000-4000-8000-000000000001",
  "subject":{"reference":"urn:uuid:7f0c2a52-1c1e-4d0a-9f3e-0a1b2c3d4e5f"},
  "code":{"coding":[{"system":"http://snomed.info/sct","code":"38341003","display":"Hypertension"}]},"onsetDateTime":"2020-03-01T10:00:00Z"}}]}`

// researchPolicy lets researchers read the low and medium levels.
var researchPolicy = &api.RecordPolicy{
	Low:    "role = doctor or role = researcher",
	Medium: "role = doctor or role = researcher",
	High:   "role = doctor and trust >= 2",
}

// msEnv is the in-process consortium with FHIR grading and MeDShare, a
// record of hospital 1 and a researcher of the research institute.
type msEnv struct {
	c          *gwtest.Consortium
	ctx        context.Context
	owner      *client.Client
	rec        string
	researcher *gwtest.Member
	user       *txbuild.User
	rq         *client.Requestor
}

func newMS(t *testing.T) *msEnv {
	t.Helper()
	c := gwtest.New(t, gwtest.WithFHIR())
	c.Check = conform(t, loadDoc(t))
	e := &msEnv{c: c, ctx: context.Background()}
	e.owner = c.Client(gwtest.H1, c.Owner(gwtest.H1, "operator"))
	e.rec = e.upload(t, gwtest.H1, researchPolicy)
	e.researcher = c.User(gwtest.RI, "researcher", map[string]string{"role": "researcher", "trust": "1"})
	e.user, _ = c.Enrol(e.researcher, gwtest.RI)
	m := e.researcher
	e.rq = &client.Requestor{Home: c.Client(gwtest.RI, m), User: e.user,
		Gateway: func(msp, _ string) (*client.Client, error) { return c.Client(msp, m), nil }}
	return e
}

func (e *msEnv) upload(t *testing.T, org string, p *api.RecordPolicy) string {
	t.Helper()
	up, err := e.c.Client(org, e.c.Owner(org, "operator-"+org)).Upload(e.ctx, &api.UploadRequest{Document: json.RawMessage(fhirPatient), Policy: p, Access: terms()})
	if err != nil {
		t.Fatalf("upload: %v", err)
	}
	return up.RecordID
}

// recorded describes what the ledger holds of the owner's MeDShare
// requests: each request with its number of side-blocks and status.
func (e *msEnv) recorded() string {
	var out []string
	pg, err := e.owner.Requests(e.ctx, 100, "")
	if err != nil {
		panic(err)
	}
	for _, r := range pg.Items {
		v, err := e.owner.RequestView(e.ctx, r.RequestID)
		if err != nil {
			panic(err)
		}
		out = append(out, fmt.Sprintf("%s:%d:%s", r.RequestID, len(v.SideBlocks), v.State.Status))
	}
	return strings.Join(out, ",")
}

func (e *msEnv) spec(name string, recs ...string) client.RequestSpec {
	return client.RequestSpec{Name: name, RecordIDs: recs, Purpose: "HRESCH", Level: "medium"}
}

func wantMSProblem(t *testing.T, err error, status int, field, reason string) *client.ProblemError {
	t.Helper()
	pe := problemOf(t, err)
	if pe.Status != status || (field != "" && pe.Field != field) || pe.Reason != reason {
		t.Fatalf("problem %d field %q reason %q (%s), want %d field %q reason %q", pe.Status, pe.Field, pe.Reason, pe.Detail, status, field, reason)
	}
	return pe
}

// TestMedSharePackageFlow: a researcher's request is answered with a
// de-identified package only its key opens; reads and copies become
// side-blocks; a forbidden action revokes it at once (P-TL and MeDShare
// refuse it) until the owner re-grants; a recall blocks it again; the
// auditor reads the whole trail through another organisation's gateway,
// as JSON and as valid FHIR, and verification passes.
func TestMedSharePackageFlow(t *testing.T) {
	e := newMS(t)
	ctx := e.ctx
	h, err := e.rq.Request(ctx, e.spec("study-1", e.rec))
	if err != nil {
		t.Fatal(err)
	}
	if h.Package.Sensitivity != "medium" || h.Package.Profile != "research" || !slices.Equal(h.Package.Allowed, []string{"read", "copy"}) {
		t.Fatalf("package = %+v", h.Package)
	}
	if err := e.rq.CheckRecorded(ctx, h); err != nil {
		t.Fatalf("the package is not the one the parent block records: %v", err)
	}
	pkg, _, err := h.Open()
	if err != nil {
		t.Fatal(err)
	}
	doc := string(pkg.FHIR())
	for _, gone := range []string{"Lovelace", "555-0100", "Beacon", "Cambridge", "1961-04-02", "02138", "7f0c2a52-1c1e-4d0a-9f3e-0a1b2c3d4e5f"} {
		if strings.Contains(doc, gone) {
			t.Errorf("the package still holds %q", gone)
		}
	}
	for _, kept := range []string{`"birthDate":"1961"`, `"postalCode":"021"`, `"state":"MA"`, "Hypertension"} {
		if !strings.Contains(doc, kept) {
			t.Errorf("the package lacks %s", kept)
		}
	}
	// Another key does not open it.
	other, _ := medpkg.GenerateKey(rand.Reader, medpkg.SuiteX25519)
	if _, _, err := medpkg.Open(h.Package.Envelope, other, h.Package.RequestID); !errors.Is(err, medpkg.ErrWrongKey) {
		t.Fatalf("opened with another key: %v", err)
	}

	// Read, then copy: each flush one side-block.
	s, err := h.Session(nil)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := s.Perform("read", nil); v != medpkg.Permitted {
		t.Fatalf("read: %v", v)
	}
	res, err := e.rq.Flush(ctx, h, s)
	if err != nil || len(res) != 1 || res[0].SideBlock == "" || len(res[0].Violations) != 0 {
		t.Fatalf("report of decrypted and read: %+v %v", res, err)
	}
	if len(h.Unsent) != 0 || !h.Decrypted || h.NextSeq != 2 {
		t.Fatalf("held after the first report: %+v", h)
	}
	s.Perform("copy", nil)
	if res, err = e.rq.Flush(ctx, h, s); err != nil || len(res) != 1 || res[0].Index != 2 {
		t.Fatalf("report of copy: %+v %v", res, err)
	}

	// Report abuse: replayed, badly signed, someone else's, unknown.
	before := e.recorded()
	home := e.rq.Home
	bad := *signReport(t, h, 9, "read")
	bad.Signature = signReport(t, h, 10, "read").Signature // signed, but over another report
	_, err = home.Report(ctx, &api.ReportRequest{Channel: h.Package.Channel, PackageHash: h.Package.PackageHash, Report: &bad})
	wantMSProblem(t, err, http.StatusUnprocessableEntity, "report.signature", "")
	signed := signReport(t, h, 1, "read") // a genuine signature, replayed sequence number
	_, err = home.Report(ctx, &api.ReportRequest{Channel: h.Package.Channel, PackageHash: h.Package.PackageHash, Report: signed})
	wantMSProblem(t, err, http.StatusUnprocessableEntity, "report.seq", "")
	unknown := signReport(t, h, 5, "read")
	unknown.RequestID = txbuild.RequestID(e.user.Enrolment.User, "no-such-request")
	_, err = home.Report(ctx, &api.ReportRequest{Channel: h.Package.Channel, PackageHash: h.Package.PackageHash, Report: unknown})
	wantMSProblem(t, err, http.StatusNotFound, "report.requestID", "")
	doctor := e.c.User(gwtest.H2, "dr", map[string]string{"role": "doctor", "trust": "2"})
	_, err = e.c.Client(gwtest.H2, doctor).Report(ctx, &api.ReportRequest{Channel: h.Package.Channel, PackageHash: h.Package.PackageHash, Report: signReport(t, h, 5, "read")})
	wantMSProblem(t, err, http.StatusForbidden, "report.requestID", gateway.ReasonNotRequestor)
	if e.recorded() != before {
		t.Fatal("a refused report was recorded")
	}

	// A forbidden action: reported, a violation, the requestor revoked.
	if v, _ := s.Record("move"); v != medpkg.Forbidden {
		t.Fatalf("move: %v", v)
	}
	res, err = e.rq.Flush(ctx, h, s)
	if err != nil || len(res) != 1 || !slices.Equal(res[0].Violations, []string{"move"}) || len(res[0].Revoked) == 0 {
		t.Fatalf("report of move: %+v %v", res, err)
	}
	rd := e.reader(t)
	out, err := rd.Open(ctx, e.rec, client.OpenOptions{Levels: []policy.Level{policy.Medium}})
	if err != nil || out.Levels[0].Status != client.Refused || out.Levels[0].Reason != ptl.ReasonRevoked {
		t.Fatalf("access after the violation: %+v %v", out, err)
	}
	before = e.recorded()
	_, err = e.rq.Request(ctx, e.spec("study-2", e.rec))
	wantMSProblem(t, err, http.StatusForbidden, "request.requestor", gateway.ReasonRevoked)
	if e.recorded() != before {
		t.Fatal("a revoked requestor's request was recorded")
	}
	vs, err := e.owner.Violations(ctx, "", 50, "")
	if err != nil || !slices.ContainsFunc(vs.Items, func(v api.Violation) bool { return v.Reason == ptl.ReasonForbiddenAction }) {
		t.Fatalf("the owner does not see the violation: %+v %v", vs, err)
	}

	// The owner re-grants: access and requests work again; then recalls.
	if _, err := e.owner.RegrantRequest(ctx, h.Package.RequestID, "explained"); err != nil {
		t.Fatal(err)
	}
	out, err = rd.Open(ctx, e.rec, client.OpenOptions{Levels: []policy.Level{policy.Medium}})
	if err != nil || out.Levels[0].Status != client.Opened {
		t.Fatalf("access after the re-grant: %+v %v", out, err)
	}
	if _, err := e.rq.Request(ctx, e.spec("study-3", e.rec)); err != nil {
		t.Fatalf("request after the re-grant: %v", err)
	}
	if _, err := e.owner.RecallRequest(ctx, h.Package.RequestID, "study closed"); err != nil {
		t.Fatal(err)
	}
	out, err = rd.Open(ctx, e.rec, client.OpenOptions{Levels: []policy.Level{policy.Medium}})
	if err != nil || out.Levels[0].Status != client.Refused || out.Levels[0].Reason != ptl.ReasonRevoked {
		t.Fatalf("access after the recall: %+v %v", out, err)
	}

	// The auditor reads the researcher's trail through hospital 2's gateway.
	ac, err := e.c.Client(gwtest.H2, e.c.Auditor).Reading(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := ac.TrailAll(ctx, client.TrailQuery{User: e.user.Enrolment.User})
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, it := range tr.Items {
		kinds = append(kinds, it.Kind)
		if it.RequestID != "" && it.RequestID != h.Package.RequestID && it.Kind != "request" && it.Kind != "delivery" {
			t.Errorf("entry of another request: %+v", it)
		}
	}
	want := []string{"request", "delivery", "report", "report", "report", "violation", "revocation", "access", "violation", "regrant", "access",
		"request", "delivery", "recall", "access", "violation"}
	if !slices.Equal(kinds, want) {
		t.Fatalf("trail kinds\n got %v\nwant %v", kinds, want)
	}
	if tr.Total != len(want) {
		t.Fatalf("total %d", tr.Total)
	}
	page, err := ac.Trail(ctx, client.TrailQuery{User: e.user.Enrolment.User, PageSize: 5})
	if err != nil || len(page.Items) != 5 || page.Bookmark == "" {
		t.Fatalf("first page: %+v %v", page, err)
	}
	bundle, err := ac.TrailFHIR(ctx, client.TrailQuery{User: e.user.Enrolment.User, PageSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	validateR4(t, bundle)
	v, err := ac.Verify(ctx, e.user.Enrolment.User, "")
	if err != nil || !v.OK || v.Blocks == 0 {
		t.Fatalf("verify: %+v %v", v, err)
	}
}

// signReport signs a report of actions with the held package's report key.
func signReport(t *testing.T, h *client.Held, seq uint64, actions ...string) *api.SignedReport {
	t.Helper()
	priv, err := x509.ParseECPrivateKey(h.ReportKey)
	if err != nil {
		t.Fatal(err)
	}
	key, err := txbuild.KeyOf(priv)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	var acts []txbuild.Action
	out := &api.SignedReport{RequestID: h.Package.RequestID, Seq: seq}
	for _, a := range actions {
		acts = append(acts, txbuild.Action{Name: a, At: now})
		out.Actions = append(out.Actions, api.ReportedAction{Action: a, At: now})
	}
	var hash [32]byte
	raw, _ := hex.DecodeString(h.Package.PackageHash)
	copy(hash[:], raw)
	in, err := txbuild.SignReport(key, h.Package.Channel, h.Package.RequestID, hash, seq, acts)
	if err != nil {
		t.Fatal(err)
	}
	out.Signature = in.Signature
	return out
}

func (e *msEnv) reader(t *testing.T) *client.Reader {
	u, uk := e.c.Enrol(e.researcher, gwtest.RI)
	m := e.researcher
	return &client.Reader{Home: e.c.Client(gwtest.RI, m), User: u, Key: uk, Assemble: grade.Assemble,
		Gateway: func(msp, _ string) (*client.Client, error) { return e.c.Client(msp, m), nil }}
}

// validateR4 checks doc with google/fhir's validating R4 unmarshaller.
func validateR4(t *testing.T, doc []byte) {
	t.Helper()
	lib, err := jsonformat.NewUnmarshaller("UTC", fhirversion.R4)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lib.Unmarshal(doc); err != nil {
		t.Fatalf("not valid FHIR R4: %v", err)
	}
}

func init() {
	// FHIR trails are JSON: let the OpenAPI conformance check read them.
	openapi3filter.RegisterBodyDecoder(api.FHIRJSON, openapi3filter.JSONBodyDecoder)
}

// TestMedShareBadRequests: each bad request is refused with a precise
// problem and records nothing.
func TestMedShareBadRequests(t *testing.T) {
	e := newMS(t)
	ctx := e.ctx
	other := e.upload(t, gwtest.H2, researchPolicy)                                                                           // hospital 2's
	closed := e.upload(t, gwtest.H1, &api.RecordPolicy{Low: "role = doctor", Medium: "role = doctor", High: "role = doctor"}) // nothing for researchers
	owner := e.c.Client(gwtest.H1, e.researcher)
	send := func(name string, edit func(*api.PackageRequest), recs ...string) error {
		if len(recs) == 0 {
			recs = []string{e.rec}
		}
		req, _, err := client.NewPackageRequest(e.user, e.spec(name, recs...), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if edit != nil {
			edit(req)
		}
		_, err = owner.RequestPackage(ctx, req)
		return err
	}
	resign := func(req *api.PackageRequest) {
		r := req.Request
		rd := provenance.RequestDigest(req.Channel, r.RequestID, r.RequestorKey, r.Requestor, r.RecordIDs, r.Purpose, r.RequestTime, r.ReportKey)
		sig, err := e.user.Key.SignDigest(rd[:])
		if err != nil {
			t.Fatal(err)
		}
		r.RequestSignature = sig
		pk, err := medpkg.ParsePublicKey(req.PackageKey)
		if err != nil {
			t.Fatal(err)
		}
		if req.KeyBinding, err = medpkg.SignKeyBinding(e.user.Key, req.Channel, r.RequestID, rd, pk); err != nil {
			t.Fatal(err)
		}
	}
	before := e.recorded()
	for _, tc := range []struct {
		name          string
		edit          func(*api.PackageRequest)
		recs          []string
		status        int
		field, reason string
	}{
		{"missing signature", func(r *api.PackageRequest) { r.Request.RequestSignature = nil }, nil, 422, "request.requestSignature", ""},
		{"bad signature", func(r *api.PackageRequest) { r.Request.RequestSignature[8] ^= 1 }, nil, 422, "request.requestSignature", ""},
		{"signed for another channel", func(r *api.PackageRequest) { r.Channel = "side-low" }, nil, 422, "request.requestSignature", ""},
		{"records swapped after signing", func(r *api.PackageRequest) { r.Request.RecordIDs = []string{closed} }, nil, 422, "request.requestSignature", ""},
		{"unknown purpose", func(r *api.PackageRequest) { r.Request.Purpose = "research"; resign(r) }, nil, 422, "request.purpose", gateway.ReasonUnknownPurpose},
		{"purpose not shared for", func(r *api.PackageRequest) { r.Request.Purpose = "HMARKT"; resign(r) }, nil, 403, "request.purpose", gateway.ReasonPurposeNotAllowed},
		{"package key not bound", func(r *api.PackageRequest) { r.KeyBinding[9] ^= 1 }, nil, 422, "keyBinding", ""},
		{"package key substituted", func(r *api.PackageRequest) {
			k, _ := medpkg.GenerateKey(rand.Reader, medpkg.SuiteX25519)
			r.PackageKey = k.Public().Bytes()
		}, nil, 422, "keyBinding", ""},
		{"not enrolled", func(r *api.PackageRequest) {
			r.Request.Enrolment = slices.Clone(r.Request.Enrolment) // the user's own stays intact
			r.Request.Enrolment[10] ^= 1
			resign(r)
		}, nil, 403, "request.enrolment", gateway.ReasonNotEnrolled},
		{"stale", func(r *api.PackageRequest) { r.Request.RequestTime = time.Now().Add(-time.Hour); resign(r) }, nil, 422, "request.requestTime", ""},
		{"no such channel", func(r *api.PackageRequest) { r.Channel = "side-x" }, nil, 422, "channel", ""},
		{"unknown record", func(r *api.PackageRequest) {
			r.Request.RecordIDs = []string{txbuild.RecordID(e.c.GwMember[gwtest.H1].Signer.ID(), "nope")}
			resign(r)
		}, nil, 404, "", ""},
		{"another organisation's record", nil, []string{other}, 421, "", ""},
		{"records the requestor may not have", nil, []string{closed}, 403, "request.recordIDs[0]", gateway.ReasonPolicyNotMet},
		{"a low-level package is fine", func(r *api.PackageRequest) { r.Channel = "side-low"; resign(r) }, nil, 201, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := send(strings.Map(func(r rune) rune {
				if r == ' ' || r == '\'' {
					return '-'
				}
				return r
			}, tc.name), tc.edit, tc.recs...)
			if tc.status == 201 {
				if err != nil {
					t.Fatalf("a low-level package: %v", err)
				}
				return
			}
			wantMSProblem(t, err, tc.status, tc.field, tc.reason)
		})
	}
	// Someone else sends the researcher's signed request.
	req, _, _ := client.NewPackageRequest(e.user, e.spec("relayed", e.rec), time.Now())
	doctor := e.c.User(gwtest.H2, "dr", map[string]string{"role": "doctor", "trust": "2"})
	_, err := e.c.Client(gwtest.H1, doctor).RequestPackage(ctx, req)
	wantMSProblem(t, err, http.StatusForbidden, "request.requestor", gateway.ReasonNotRequestor)
	// The same request twice: the second is a conflict.
	req, _, _ = client.NewPackageRequest(e.user, e.spec("twice", e.rec), time.Now())
	if _, err := owner.RequestPackage(ctx, req); err != nil {
		t.Fatal(err)
	}
	_, err = owner.RequestPackage(ctx, req)
	wantMSProblem(t, err, http.StatusConflict, "request.requestID", "")
	// Only the low-level and the first "twice" requests were recorded.
	after := e.recorded()
	if strings.Count(after, ",")+1 != strings.Count(before, ",")+1+2 && before != "" {
		t.Fatalf("recorded before %q after %q", before, after)
	}
	if n := strings.Count(after, e.user.Enrolment.User+":"); n != 2 {
		t.Fatalf("%d requests recorded, want 2: %s", n, after)
	}
	// Another requestor's package is not delivered to the researcher.
	_, err = e.c.Client(gwtest.H1, doctor).PackageEnvelope(ctx, req.Request.RequestID)
	wantMSProblem(t, err, http.StatusForbidden, "requestID", gateway.ReasonNotRequestor)
	env, err := owner.PackageEnvelope(ctx, req.Request.RequestID)
	if err != nil || len(env) == 0 {
		t.Fatalf("re-delivery: %v", err)
	}
}

// TestAuditReadsUseTheCallersRights: through a gateway, audit reads carry
// the caller's warrant and see what the contracts let the caller see.
func TestAuditReadsUseTheCallersRights(t *testing.T) {
	e := newMS(t)
	ctx := e.ctx
	h, err := e.rq.Request(ctx, e.spec("study", e.rec))
	if err != nil {
		t.Fatal(err)
	}
	user := e.user.Enrolment.User
	auditor := e.c.Client(gwtest.H2, e.c.Auditor)
	_, err = auditor.Trail(ctx, client.TrailQuery{User: user})
	wantMSProblem(t, err, http.StatusForbidden, api.WarrantHeader, gateway.ReasonWarrantRequired)
	// A warrant made for another gateway.
	w1, err := e.c.Client(gwtest.H1, e.c.Auditor).Warrant(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, err = auditor.WithWarrant(w1).Trail(ctx, client.TrailQuery{User: user})
	wantMSProblem(t, err, http.StatusUnprocessableEntity, api.WarrantHeader, "")
	// Someone else's warrant.
	doctor := e.c.User(gwtest.H2, "dr", map[string]string{"role": "doctor", "trust": "2"})
	dw, err := e.c.Client(gwtest.H2, doctor).Warrant(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, err = auditor.WithWarrant(dw).Trail(ctx, client.TrailQuery{User: user})
	wantMSProblem(t, err, http.StatusForbidden, api.WarrantHeader, gateway.ReasonReadRefused)
	// The doctor's own warrant: the contract refuses it another's trail.
	dc, _ := e.c.Client(gwtest.H2, doctor).Reading(ctx)
	_, err = dc.Trail(ctx, client.TrailQuery{User: user})
	wantMSProblem(t, err, http.StatusForbidden, "", gateway.ReasonReadRefused)
	// The researcher reads its own trail and request; the owner its own.
	rc, _ := e.rq.Home.Reading(ctx)
	if tr, err := rc.TrailAll(ctx, client.TrailQuery{User: user}); err != nil || len(tr.Items) != 2 {
		t.Fatalf("own trail: %+v %v", tr, err)
	}
	if v, err := rc.RequestView(ctx, h.Package.RequestID); err != nil || v.Block.Tx.PackageHash != h.Package.PackageHash {
		t.Fatalf("own request: %v", err)
	}
	tr, err := e.owner.TrailAll(ctx, client.TrailQuery{Record: e.rec})
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, it := range tr.Items {
		kinds = append(kinds, it.Kind)
	}
	if !slices.Equal(kinds, []string{"upload", "upload", "upload", "request", "delivery"}) {
		t.Fatalf("the record's trail for its owner: %v", kinds)
	}
	ot, err := e.owner.TrailAll(ctx, client.TrailQuery{Owner: gwtest.H1})
	if err != nil || len(ot.Items) != 5 {
		t.Fatalf("the owner's trail: %+v %v", ot, err)
	}
	// Another hospital's owner reads no record trail of hospital 1 as
	// hospital 1's gateway.
	_, err = e.c.Client(gwtest.H1, e.c.Owner(gwtest.H2, "op2")).Trail(ctx, client.TrailQuery{Record: e.rec})
	wantMSProblem(t, err, http.StatusForbidden, api.WarrantHeader, gateway.ReasonWarrantRequired)
}
