package gateway_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/medshare/medshare/abe/policy"
	"github.com/medshare/medshare/chaincode/ptl"
	"github.com/medshare/medshare/gateway"
	"github.com/medshare/medshare/gateway/api"
	"github.com/medshare/medshare/gateway/client"
	"github.com/medshare/medshare/gateway/internal/gwtest"
)

// TestBadInputIsRefusedAndChangesNothing sends hostile and malformed
// bodies; each must get a precise 4xx problem naming the field where one
// is at fault, and no transaction may be submitted.
func TestBadInputIsRefusedAndChangesNothing(t *testing.T) {
	c := newConsortium(t)
	ctx := context.Background()
	op := c.Owner(gwtest.H1, "operator")
	cl := c.Client(gwtest.H1, op)
	valid := func(mod func(m map[string]any)) []byte {
		m := map[string]any{"document": patient, "policy": testPolicy, "access": terms()}
		if mod != nil {
			mod(m)
		}
		b, _ := json.Marshal(m)
		return b
	}
	big := bytes.Repeat([]byte("a"), 9<<20)
	cases := []struct {
		name   string
		ct     string
		body   []byte
		status int
		field  string
	}{
		{"no content type", "", valid(nil), 415, ""},
		{"text/plain", "text/plain", valid(nil), 415, ""},
		{"oversized", api.JSON, append(append([]byte(`{"document":"`), big...), `"}`...), 413, ""},
		{"malformed JSON", api.JSON, []byte(`{"document": {`), 400, ""},
		{"trailing data", api.JSON, append(valid(nil), []byte(`{}`)...), 400, ""},
		{"empty body", api.JSON, nil, 400, ""},
		{"unknown field", api.JSON, valid(func(m map[string]any) { m["owner"] = "Hospital2MSP" }), 400, "owner"},
		{"wrong type", api.JSON, valid(func(m map[string]any) { m["policy"] = 7 }), 400, "policy"},
		{"no document", api.JSON, valid(func(m map[string]any) { delete(m, "document") }), 422, "document"},
		{"document not an object", api.JSON, valid(func(m map[string]any) { m["document"] = []int{1} }), 422, "document"},
		{"policy does not parse", api.JSON, valid(func(m map[string]any) { m["policy"] = map[string]string{"low": "role = doctor and ("} }), 422, "policy.low"},
		{"non-monotone policy", api.JSON, valid(func(m map[string]any) { m["policy"] = map[string]string{"low": "trust < 2"} }), 422, "policy.low"},
		{"unknown attribute", api.JSON, valid(func(m map[string]any) { m["policy"] = map[string]string{"low": "salary >= 2"} }), 422, "policy"},
		{"no low level", api.JSON, valid(func(m map[string]any) { m["policy"] = map[string]string{"high": "role = doctor"} }), 422, "policy.low"},
		{"unknown template", api.JSON, valid(func(m map[string]any) { delete(m, "policy"); m["template"] = "nope" }), 422, "template"},
		{"no access terms", api.JSON, valid(func(m map[string]any) { delete(m, "access") }), 422, "access"},
		{"validity reversed", api.JSON, valid(func(m map[string]any) {
			m["access"] = api.Access{NotBefore: time.Now(), NotAfter: time.Now().Add(-time.Hour)}
		}), 422, "access.notAfter"},
		{"bad time zone", api.JSON, valid(func(m map[string]any) {
			a := terms()
			a.TimeZone, a.Windows = "Local", []ptl.Window{{Days: []string{"mon"}, Start: "08:00", End: "18:00"}}
			m["access"] = a
		}), 422, "access.timeZone"},
		{"bad window", api.JSON, valid(func(m map[string]any) {
			a := terms()
			a.TimeZone, a.Windows = "UTC", []ptl.Window{{Days: []string{"someday"}, Start: "08:00", End: "18:00"}}
			m["access"] = a
		}), 422, "access.windows[0].days"},
		{"bad proof age", api.JSON, valid(func(m map[string]any) { a := terms(); a.MaxProofAge = "2 weeks"; m["access"] = a }), 422, "access.maxProofAge"},
	}
	before := len(c.Ledger.Calls())
	pins := len(c.Objects[gwtest.H1].Pinned())
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, err := cl.Do(ctx, "POST", "/api/v1/records", tc.ct, tc.body, nil)
			pe := problemOf(t, err)
			if status != tc.status || pe.Field != tc.field {
				t.Fatalf("status %d field %q (%s), want %d %q", status, pe.Field, pe.Detail, tc.status, tc.field)
			}
			if strings.Contains(pe.Detail, "goroutine") || strings.Contains(pe.Detail, ".go:") {
				t.Fatalf("problem leaks internals: %s", pe.Detail)
			}
		})
	}
	if n := len(c.Ledger.Calls()); n != before {
		t.Fatalf("bad input submitted %d transactions", n-before)
	}
	if n := len(c.Objects[gwtest.H1].Pinned()); n != pins {
		t.Fatalf("bad input pinned %d objects", n-pins)
	}
}

func TestUnknownRecordsAndRoutes(t *testing.T) {
	c := newConsortium(t)
	ctx := context.Background()
	u := c.User(gwtest.H1, "nurse", map[string]string{"role": "nurse"})
	cl := c.Client(gwtest.H1, u)
	for _, tc := range []struct {
		method, path string
		status       int
	}{
		{"GET", "/api/v1/records/json.unknown", 404},
		{"GET", "/api/v1/records/json.unknown/levels/low", 404},
		{"GET", "/api/v1/records/bad%20id", 400},
		{"GET", "/api/v1/records/json.unknown/levels/top", 400},
		{"GET", "/api/v1/objects/not-a-cid", 400},
		{"GET", "/api/v1/nothing", 404},
		{"DELETE", "/api/v1/records/json.unknown", 405},
		{"GET", "/api/v1/records?pageSize=1000", 400},
		{"GET", "/api/v1/records?from=yesterday", 400},
	} {
		status, err := cl.Do(ctx, tc.method, tc.path, "", nil, nil)
		if status != tc.status || err == nil {
			t.Errorf("%s %s: %d (%v), want %d", tc.method, tc.path, status, err, tc.status)
		}
	}
}

// TestExpiredAndReplayedProofs: an expired proof and a replayed one are
// refused with P-TL's reason and a violation id.
func TestExpiredAndReplayedProofs(t *testing.T) {
	c := newConsortium(t)
	ctx := context.Background()
	up := upload(t, c, patient)
	nurse := c.User(gwtest.H1, "nurse", map[string]string{"role": "nurse", "trust": "1"})
	r := c.Reader(gwtest.H1, nurse)
	lv, err := r.Home.Level(ctx, up.RecordID, "low")
	if err != nil {
		t.Fatal(err)
	}
	pol := &ptl.Policy{RecordID: up.RecordID, Version: lv.PolicyVersion}
	pol.HiddenPolicy = lv.HiddenPolicy
	owner := c.Client(gwtest.H1, nurse)
	old, err := r.User.ProofFor(rand.Reader, lv.Channel, pol, lv.Address, time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	_, err = owner.Access(ctx, up.RecordID, &api.AccessRequest{Level: "low", Proof: old})
	if pe := problemOf(t, err); pe.Status != 403 || pe.Reason != ptl.ReasonExpired || pe.ViolationID == "" || pe.Type != gateway.ProblemAccessRefused {
		t.Fatalf("expired proof: %+v", pe.Problem)
	}
	fresh, err := r.User.ProofFor(rand.Reader, lv.Channel, pol, lv.Address, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := owner.Access(ctx, up.RecordID, &api.AccessRequest{Level: "low", Proof: fresh}); err != nil {
		t.Fatalf("fresh proof: %v", err)
	}
	_, err = owner.Access(ctx, up.RecordID, &api.AccessRequest{Level: "low", Proof: fresh})
	if pe := problemOf(t, err); pe.Reason != ptl.ReasonReplay {
		t.Fatalf("replayed proof: %+v", pe.Problem)
	}
	// A proof for another record than the path's is refused before P-TL.
	_, err = owner.Access(ctx, "json.other", &api.AccessRequest{Level: "low", Proof: fresh})
	if pe := problemOf(t, err); pe.Status != 422 || pe.Field != "proof.recordID" {
		t.Fatalf("proof for another record: %+v", pe.Problem)
	}
	_ = policy.Low
	_ = client.Opened
}
