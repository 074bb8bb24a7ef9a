package gateway_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/medshare/medshare/abe/policy"
	"github.com/medshare/medshare/chaincode/txbuild"
	"github.com/medshare/medshare/gateway"
	"github.com/medshare/medshare/gateway/api"
	"github.com/medshare/medshare/gateway/client"
	"github.com/medshare/medshare/gateway/internal/gwtest"
)

var patient = map[string]any{
	"resourceType": "Patient", "name": "Ada Lovelace", "ssn": "999-12-3456", "birthDate": "1815-12-10",
	"city": "London", "condition": "hypertension", "observation": "bp 150/95",
}

func doc(t testing.TB, v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func terms() *api.Access {
	now := time.Now().UTC()
	return &api.Access{NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour)}
}

var testPolicy = &api.RecordPolicy{
	Low:    "role = nurse or role = doctor or role = researcher",
	Medium: "role = nurse or role = doctor",
	High:   "role = doctor and trust >= 2 and specialty = cardiology",
}

func upload(t *testing.T, c *gwtest.Consortium, v any) *api.Upload {
	t.Helper()
	op := c.Owner(gwtest.H1, "operator")
	up, err := c.Client(gwtest.H1, op).Upload(context.Background(), &api.UploadRequest{Document: doc(t, v), Policy: testPolicy, Access: terms()})
	if err != nil {
		t.Fatalf("upload: %v", err)
	}
	return up
}

// expect returns the fields of patient a reader whose top level is top
// should see.
func expect(top policy.Level, ok bool) map[string]any {
	out := map[string]any{}
	if !ok {
		return out
	}
	for k, v := range patient {
		l := policy.Low
		switch k {
		case "name", "ssn":
			l = policy.High
		case "birthDate", "city":
			l = policy.Medium
		}
		if l <= top {
			out[k] = v
		}
	}
	return out
}

func TestUploadAndReadersSeeTheirLevels(t *testing.T) {
	c := newConsortium(t)
	ctx := context.Background()
	up := upload(t, c, patient)
	if up.Counts != (api.Counts{High: 2, Medium: 2, Low: 3}) || !up.Indexed || up.Version != 1 || len(up.Levels) != 3 {
		t.Fatalf("upload = %+v", up)
	}
	cardio := c.User(gwtest.H2, "dr-cardio", map[string]string{"role": "doctor", "specialty": "cardiology", "trust": "2"})
	nurse := c.User(gwtest.H1, "nurse", map[string]string{"role": "nurse", "trust": "1"})
	researcher := c.User(gwtest.RI, "researcher", map[string]string{"role": "researcher", "trust": "1"})
	cases := []struct {
		name    string
		org     string
		m       *gwtest.Member
		top     policy.Level
		any     bool
		refused map[string]string
	}{
		{"cardiologist", gwtest.H2, cardio, policy.High, true, nil},
		{"nurse", gwtest.H1, nurse, policy.Medium, true, map[string]string{"high": "policy_not_met"}},
		{"researcher", gwtest.RI, researcher, policy.Low, true, map[string]string{"high": "policy_not_met", "medium": "policy_not_met"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := c.Reader(tc.org, tc.m)
			res, err := r.Open(ctx, up.RecordID, client.OpenOptions{Probe: true})
			if err != nil {
				t.Fatal(err)
			}
			var got map[string]any
			if err := json.Unmarshal(res.Document, &got); err != nil {
				t.Fatal(err)
			}
			if want := expect(tc.top, tc.any); !reflect.DeepEqual(got, want) {
				t.Fatalf("document = %v, want %v", got, want)
			}
			refused := map[string]string{}
			for _, l := range res.Levels {
				if l.Status == client.Refused {
					refused[l.Level] = l.Reason
					if l.ViolationID == "" {
						t.Errorf("refusal of %s has no violation id", l.Level)
					}
				}
			}
			if len(refused) == 0 {
				refused = nil
			}
			if !reflect.DeepEqual(refused, tc.refused) {
				t.Fatalf("refused = %v, want %v", refused, tc.refused)
			}
		})
	}
	// Without Probe the researcher sends no proof for levels it cannot
	// satisfy.
	r := c.Reader(gwtest.RI, researcher)
	res, err := r.Open(ctx, up.RecordID, client.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range res.Levels {
		if l.Level != "low" && l.Status != client.NotSatisfiable {
			t.Errorf("level %s: status %s, want %s", l.Level, l.Status, client.NotSatisfiable)
		}
	}
}

func TestTamperedObjectIsDetectedAndNotDecrypted(t *testing.T) {
	c := newConsortium(t)
	up := upload(t, c, patient)
	var low string
	for _, l := range up.Levels {
		if l.Level == "low" {
			low = l.Address
		}
	}
	c.Swarm.Tamper(low, 40)
	nurse := c.User(gwtest.H1, "nurse", map[string]string{"role": "nurse", "trust": "1"})
	res, err := c.Reader(gwtest.H1, nurse).Open(context.Background(), up.RecordID, client.OpenOptions{})
	if !errors.Is(err, client.ErrTampered) {
		t.Fatalf("err = %v, want ErrTampered", err)
	}
	if res != nil {
		t.Fatalf("a result came back with a tampered object: %+v", res)
	}
}

func TestAccessToAnotherOrganisationsRecordIsMisdirected(t *testing.T) {
	c := newConsortium(t)
	up := upload(t, c, patient)
	cardio := c.User(gwtest.H2, "dr-cardio", map[string]string{"role": "doctor", "specialty": "cardiology", "trust": "2"})
	r := c.Reader(gwtest.H2, cardio)
	// Send the proof to the doctor's own gateway instead of the owner's.
	r.Gateway = func(string, string) (*client.Client, error) { return c.Client(gwtest.H2, cardio), nil }
	_, err := r.Open(context.Background(), up.RecordID, client.OpenOptions{})
	var pe *client.ProblemError
	if !errors.As(err, &pe) || pe.Status != http.StatusMisdirectedRequest {
		t.Fatalf("err = %v, want 421", err)
	}
}

func TestPreSealedUpload(t *testing.T) {
	c := newConsortium(t)
	ctx := context.Background()
	op := c.Owner(gwtest.H1, "operator")
	cl := c.Client(gwtest.H1, op)
	p, err := c.AA.Params()
	if err != nil {
		t.Fatal(err)
	}
	params, err := gateway.ParamsOf(p)
	if err != nil {
		t.Fatal(err)
	}
	tk, err := cl.AuthorityTagKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s := &client.Sealer{Scheme: params.Scheme, PublicKey: params.PublicKey, Schema: params.Schema, Epoch: params.Epoch}
	copy(s.TagKey[:], tk.Key)
	rp, err := policy.ParseRecord("low: role = nurse")
	if err != nil {
		t.Fatal(err)
	}
	who, err := cl.Whoami(ctx)
	if err != nil {
		t.Fatal(err)
	}
	id := who.RecordPrefix + "json.presealed1"
	up, err := s.Seal(id, rp, [3][]byte{[]byte(`{"condition":"flu"}`)})
	if err != nil {
		t.Fatal(err)
	}
	up.Access = terms()
	got, err := cl.UploadSealed(ctx, up)
	if err != nil || !got.Indexed || len(got.Levels) != 1 {
		t.Fatalf("sealed upload: %+v, %v", got, err)
	}
	nurse := c.User(gwtest.H1, "nurse", map[string]string{"role": "nurse"})
	res, err := c.Reader(gwtest.H1, nurse).Open(ctx, id, client.OpenOptions{})
	if err != nil || string(res.Opened[0]) != `{"condition":"flu"}` {
		t.Fatalf("reading the pre-sealed record: %v, %v", res, err)
	}
	// A dishonest owner re-uploads that record's object under a new id
	// and makes the upload fail (here the side chain is down): the failed
	// upload must not unpin the other record's object. A failed upload of
	// new bytes leaves nothing pinned.
	stored := got.Levels[0].Address
	c.Ledger.SetFault(func(call txbuild.Call) error {
		if call.Fn == "Store" {
			return errors.New("side chain down")
		}
		return nil
	})
	pinned := func(cid string) bool { return slices.Contains(c.Objects[gwtest.H1].Pinned(), cid) }
	for i, object := range [][]byte{up.Levels[0].Object, nil} {
		again, err := s.Seal(who.RecordPrefix+fmt.Sprintf("json.replay%d", i), rp, [3][]byte{[]byte(`{"condition":"other"}`)})
		if err != nil {
			t.Fatal(err)
		}
		if object != nil {
			again.Levels[0].Object = object
		}
		again.Access = terms()
		if _, err := cl.UploadSealed(ctx, again); err == nil || problemOf(t, err).Status != http.StatusServiceUnavailable {
			t.Fatalf("upload with the side chain down: %v", err)
		}
		cid := txbuild.RawCID(again.Levels[0].Object)
		switch {
		case object != nil && !pinned(stored):
			t.Fatal("a failed re-upload of another record's object unpinned it")
		case object == nil && pinned(cid):
			t.Fatal("a failed upload left its object pinned")
		}
	}
	c.Ledger.SetFault(nil)
	// The same id again, and keys naming another record, are refused.
	if _, err := cl.UploadSealed(ctx, up); problemOf(t, err).Status != 409 {
		t.Fatalf("second upload of the same id: %v", err)
	}
	up.RecordID = who.RecordPrefix + "json.other"
	if _, err := cl.UploadSealed(ctx, up); problemOf(t, err).Field != "levels[0].keys" {
		t.Fatalf("keys of another record: %v", err)
	}
	// An id outside the gateway's scope is refused before anything is stored.
	up.RecordID = "0123456789abcdef0123456789abcdef:json.x"
	if _, err := cl.UploadSealed(ctx, up); problemOf(t, err).Field != "recordId" {
		t.Fatalf("an id of another scope: %v", err)
	}
}

// TestLogsHoldNoPatientDataOrSecrets runs uploads, accesses, refusals and
// bad input, then searches the gateways' debug logs for the patient's
// values, the wrapped keys and the proofs.
func TestLogsHoldNoPatientDataOrSecrets(t *testing.T) {
	c := newConsortium(t)
	ctx := context.Background()
	up := upload(t, c, patient)
	cardio := c.User(gwtest.H2, "dr-cardio", map[string]string{"role": "doctor", "specialty": "cardiology", "trust": "2"})
	res, err := c.Reader(gwtest.H2, cardio).Open(ctx, up.RecordID, client.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	researcher := c.User(gwtest.RI, "researcher", map[string]string{"role": "researcher"})
	if _, err := c.Reader(gwtest.RI, researcher).Open(ctx, up.RecordID, client.OpenOptions{Probe: true}); err != nil {
		t.Fatal(err)
	}
	op := c.Owner(gwtest.H1, "operator")
	c.Client(gwtest.H1, op).Do(ctx, "POST", "/api/v1/records", "application/json", []byte(`{"document":{"ssn":"123-45-6789","name":"Secret Name"},"policy":{"low":"((("}}`), nil)
	c.Ledger.SetFault(func(txbuild.Call) error { return errors.New("down") })
	c.Client(gwtest.H1, op).Upload(ctx, &api.UploadRequest{Document: doc(t, patient), Policy: testPolicy, Access: terms()})
	c.Ledger.SetFault(nil)
	logs := c.Log.String()
	if !strings.Contains(logs, "route=") {
		t.Fatalf("no request was logged: %q", logs)
	}
	secrets := []string{"Ada Lovelace", "999-12-3456", "1815-12-10", "hypertension", "London", "bp 150/95", "123-45-6789", "Secret Name"}
	for _, l := range res.Levels {
		secrets = append(secrets, base64.StdEncoding.EncodeToString(l.Grant.Keys)[:40])
	}
	for _, s := range secrets {
		if strings.Contains(logs, s) {
			t.Errorf("the logs hold %q", s)
		}
	}
}

// TestLogsHoldNoSecretsOnHostilePaths extends the log check to the
// refusals and new routes: enrolments (user and custodian keys), another
// user's proof, a forged enrolment, crafted bodies carrying patient data
// in duplicate and case-folded keys, gateway resolution, readiness with
// details, regrant, recall and a ledger outage during a recall.
func TestLogsHoldNoSecretsOnHostilePaths(t *testing.T) {
	c := newConsortium(t)
	ctx := context.Background()
	up := upload(t, c, patient)
	op := c.Owner(gwtest.H1, "operator")
	owner := c.Client(gwtest.H1, op)
	var secrets []string
	b64 := func(b []byte) string {
		s := base64.StdEncoding.EncodeToString(b)
		return s[:min(len(s), 40)]
	}
	nurse := c.User(gwtest.H1, "nurse", map[string]string{"role": "nurse", "trust": "1"})
	en, err := c.Client(gwtest.H1, nurse).Enrol(ctx)
	if err != nil {
		t.Fatal(err)
	}
	secrets = append(secrets, b64(en.Key), b64(en.Wallet), b64(en.Enrolment))
	ce, err := c.Client(gwtest.H1, op).EnrolCustodian(ctx, op.Signer)
	if err != nil {
		t.Fatal(err)
	}
	secrets = append(secrets, b64(ce.Key))
	tk, err := owner.AuthorityTagKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	secrets = append(secrets, b64(tk.Key))
	r := c.Reader(gwtest.H1, nurse)
	_, p := proofFor(t, r, up.RecordID, "low", time.Now())
	secrets = append(secrets, b64(p.Signature), b64(p.Nonce), b64(p.Disclosure))
	thief := c.User(gwtest.H2, "thief", map[string]string{"role": "doctor"})
	c.Client(gwtest.H1, thief).Access(ctx, up.RecordID, &api.AccessRequest{Level: "low", Proof: p})
	forged := *p
	forged.Enrolment = append([]byte(nil), p.Enrolment...)
	forged.Enrolment[0] ^= 1
	c.Client(gwtest.H1, nurse).Access(ctx, up.RecordID, &api.AccessRequest{Level: "low", Proof: &forged})
	g, err := c.Client(gwtest.H1, nurse).Access(ctx, up.RecordID, &api.AccessRequest{Level: "low", Proof: p})
	if err != nil {
		t.Fatal(err)
	}
	secrets = append(secrets, b64(g.Keys))
	for _, body := range []string{
		`{"document":{"name":"Grace Hopper"},"document":{"ssn":"078-05-1120"},"template":"clinical"}`,
		`{"Document":{"name":"Grace Hopper","ssn":"078-05-1120"},"template":"clinical"}`,
		`{"document":{"name":"Grace Hopper","ssn":"078-05-1120"},"policy":{"low":"name = Grace Hopper"},"access":{"notBefore":"2026-01-01T00:00:00Z","notAfter":"2099-01-01T00:00:00Z"}}`,
		`{"document":{"name":"Grace Hopper","ssn":"078-05-1120"},"template":"Grace Hopper"}`,
	} {
		owner.Do(ctx, "POST", "/api/v1/records", api.JSON, []byte(body), nil)
	}
	c.Client(gwtest.H2, thief).Gateway(ctx, gwtest.H1)
	c.Client(gwtest.H2, thief).Do(ctx, "GET", "/readyz", "", nil, nil)
	owner.Regrant(ctx, up.RecordID, &api.RegrantRequest{User: r.User.ID()})
	if _, err := owner.Recall(ctx, up.RecordID, &api.RecallRequest{User: r.User.ID(), Reason: "Grace Hopper's chart"}); err != nil {
		t.Fatal(err)
	}
	c.Ledger.SetFault(func(call txbuild.Call) error {
		if call.Fn == "Store" {
			return errors.New("down")
		}
		return nil
	})
	owner.Recall(ctx, up.RecordID, &api.RecallRequest{})
	c.Ledger.SetFault(nil)
	logs := c.Log.String()
	secrets = append(secrets, "Ada Lovelace", "999-12-3456", "1815-12-10", "hypertension", "bp 150/95", "Grace Hopper", "078-05-1120")
	for _, s := range secrets {
		if strings.Contains(logs, s) {
			t.Errorf("the logs hold %q", s)
		}
	}
	if !strings.Contains(logs, "status=403") || !strings.Contains(logs, "status=503") {
		t.Fatal("the refusals and the outage were not logged at all")
	}
}
