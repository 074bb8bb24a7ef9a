package gateway_test

import (
	"context"
	"encoding/json"
	"reflect"
	"slices"
	"testing"

	"github.com/medshare/medshare/abe/policy"
	"github.com/medshare/medshare/chaincode/ptl"
	"github.com/medshare/medshare/gateway/api"
	"github.com/medshare/medshare/gateway/client"
	"github.com/medshare/medshare/gateway/internal/gwtest"
)

func statusOf(res *client.Result, level string) client.LevelResult {
	for _, l := range res.Levels {
		if l.Level == level {
			return l
		}
	}
	return client.LevelResult{}
}

func TestViolationsRegrantAndRecall(t *testing.T) {
	c := newConsortium(t)
	ctx := context.Background()
	up := upload(t, c, patient)
	op := c.Owner(gwtest.H1, "operator")
	owner := c.Client(gwtest.H1, op)
	researcher := c.User(gwtest.RI, "researcher", map[string]string{"role": "researcher", "trust": "1"})
	rr := c.Reader(gwtest.RI, researcher)
	high := client.OpenOptions{Levels: []policy.Level{policy.High}, Probe: true}
	// Three refusals within the monitoring window block the researcher
	// for the record's high level.
	for range 3 {
		res, err := rr.Open(ctx, up.RecordID, high)
		if err != nil {
			t.Fatal(err)
		}
		if l := statusOf(res, "high"); l.Reason != ptl.ReasonPolicyNotMet {
			t.Fatalf("high: %+v, want policy_not_met", l)
		}
	}
	res, err := rr.Open(ctx, up.RecordID, high)
	if err != nil {
		t.Fatal(err)
	}
	if l := statusOf(res, "high"); l.Reason != ptl.ReasonRevoked {
		t.Fatalf("after three violations: %+v, want revoked", l)
	}
	vs, err := owner.Violations(ctx, up.RecordID, 100, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(vs.Items) != 4 || vs.Items[0].Level != "high" || vs.Items[0].User != rr.User.ID() {
		t.Fatalf("violations = %+v", vs.Items)
	}
	all, err := owner.Violations(ctx, "", 100, "")
	if err != nil || len(all.Items) != 4 {
		t.Fatalf("all violations: %d, %v", len(all.Items), err)
	}
	// A low-level read is unaffected by the high-level block.
	res, err = rr.Open(ctx, up.RecordID, client.OpenOptions{Levels: []policy.Level{policy.Low}})
	if err != nil || statusOf(res, "low").Status != client.Opened {
		t.Fatalf("low after the high block: %+v, %v", res, err)
	}
	rg, err := owner.Regrant(ctx, up.RecordID, &api.RegrantRequest{User: rr.User.ID()})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := rg.TxIDs["high"]; !ok || len(rg.TxIDs) != 1 {
		t.Fatalf("regrant = %+v, want the high block lifted", rg)
	}
	res, _ = rr.Open(ctx, up.RecordID, high)
	if l := statusOf(res, "high"); l.Reason != ptl.ReasonPolicyNotMet {
		t.Fatalf("after the re-grant: %+v, want policy_not_met again (not revoked)", l)
	}

	// Recall: the nurse read the record; the owner recalls it from her.
	nurse := c.User(gwtest.H1, "nurse", map[string]string{"role": "nurse", "trust": "1"})
	nr := c.Reader(gwtest.H1, nurse)
	if _, err := nr.Open(ctx, up.RecordID, client.OpenOptions{}); err != nil {
		t.Fatal(err)
	}
	rc, err := owner.Recall(ctx, up.RecordID, &api.RecallRequest{User: nr.User.ID(), Reason: "left the ward"})
	if err != nil {
		t.Fatal(err)
	}
	if rc.Version != 2 || len(rc.Levels) != 3 || len(rc.Unpinned) != 3 || len(rc.Blocked) != 3 {
		t.Fatalf("recall = %+v", rc)
	}
	pinned := c.Objects[gwtest.H1].Pinned()
	for i, l := range rc.Levels {
		if l.Address == up.Levels[i].Address {
			t.Fatalf("level %s kept its address after the recall", l.Level)
		}
		if !slices.Contains(pinned, l.Address) || slices.Contains(pinned, up.Levels[i].Address) {
			t.Fatalf("pins after the recall: %v; new %s, old %s", pinned, l.Address, up.Levels[i].Address)
		}
	}
	res, err = nr.Open(ctx, up.RecordID, client.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []string{"low", "medium"} {
		if s := statusOf(res, l); s.Reason != ptl.ReasonRevoked {
			t.Fatalf("nurse after the recall, %s: %+v, want revoked", l, s)
		}
	}
	// The cardiologist reads the new version in full.
	cardio := c.User(gwtest.H2, "dr-cardio", map[string]string{"role": "doctor", "specialty": "cardiology", "trust": "2"})
	res, err = c.Reader(gwtest.H2, cardio).Open(ctx, up.RecordID, client.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(res.Document, &got); err != nil || !reflect.DeepEqual(got, patient) {
		t.Fatalf("cardiologist after the recall: %v, %v", got, err)
	}
	if res.Record.Version != 2 {
		t.Fatalf("record version %d, want 2", res.Record.Version)
	}
}

func TestUpdateCreatesAVersionAndKeepsHistory(t *testing.T) {
	c := newConsortium(t)
	ctx := context.Background()
	up := upload(t, c, patient)
	op := c.Owner(gwtest.H1, "operator")
	// Version 2 has no medium data: nothing is written to side-medium.
	v2 := map[string]any{"resourceType": "Patient", "name": "Ada King", "condition": "recovered"}
	u2, err := c.Client(gwtest.H1, op).Update(ctx, up.RecordID, &api.UploadRequest{Document: doc(t, v2), Policy: testPolicy, Access: terms()})
	if err != nil {
		t.Fatal(err)
	}
	if u2.Version != 2 || len(u2.Levels) != 2 || u2.Counts.Medium != 0 {
		t.Fatalf("update = %+v", u2)
	}
	for _, l := range u2.Levels {
		if l.ChainVersion != 2 {
			t.Fatalf("level %s at chain version %d, want 2", l.Level, l.ChainVersion)
		}
	}
	cardio := c.User(gwtest.H2, "dr-cardio", map[string]string{"role": "doctor", "specialty": "cardiology", "trust": "2"})
	res, err := c.Reader(gwtest.H2, cardio).Open(ctx, up.RecordID, client.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(res.Document, &got); err != nil || !reflect.DeepEqual(got, v2) {
		t.Fatalf("after the update: %v, want %v (%v)", got, v2, err)
	}
	// A hospital 2 operator cannot update hospital 1's record, even
	// through hospital 1's gateway.
	op2 := c.Owner(gwtest.H2, "operator2")
	_, err = c.Client(gwtest.H1, op2).Update(ctx, up.RecordID, &api.UploadRequest{Document: doc(t, v2), Policy: testPolicy, Access: terms()})
	if pe := problemOf(t, err); pe.Status != 403 {
		t.Fatalf("foreign operator: %+v", pe.Problem)
	}
	// Through its own gateway the record is another organisation's: 421.
	_, err = c.Client(gwtest.H2, op2).Update(ctx, up.RecordID, &api.UploadRequest{Document: doc(t, v2), Policy: testPolicy, Access: terms()})
	if pe := problemOf(t, err); pe.Status != 421 {
		t.Fatalf("update at the wrong gateway: %+v", pe.Problem)
	}
}
