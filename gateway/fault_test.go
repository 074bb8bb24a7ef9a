package gateway_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/medshare/medshare/chaincode/index"
	"github.com/medshare/medshare/chaincode/storage"
	"github.com/medshare/medshare/chaincode/txbuild"
	"github.com/medshare/medshare/gateway"
	"github.com/medshare/medshare/gateway/api"
	"github.com/medshare/medshare/gateway/client"
	"github.com/medshare/medshare/gateway/internal/gwtest"
)

func problemOf(t *testing.T, err error) *client.ProblemError {
	t.Helper()
	var pe *client.ProblemError
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v, want a problem", err)
	}
	return pe
}

func submitted(c *gwtest.Consortium) []txbuild.Call { return c.Ledger.Calls() }

func TestKuboDownUploadSubmitsNothing(t *testing.T) {
	c := newConsortium(t)
	op := c.Owner(gwtest.H1, "operator")
	cl := c.Client(gwtest.H1, op)
	// Warm the keys up so the failure is IPFS's alone.
	if _, err := cl.Upload(context.Background(), &api.UploadRequest{Document: doc(t, patient), Policy: testPolicy, Access: terms()}); err != nil {
		t.Fatal(err)
	}
	before := len(submitted(c))
	c.Objects[gwtest.H1].SetDown(true)
	_, err := cl.Upload(context.Background(), &api.UploadRequest{Document: doc(t, patient), Policy: testPolicy, Access: terms()})
	if pe := problemOf(t, err); pe.Status != http.StatusServiceUnavailable || pe.Type != gateway.ProblemIPFSUnavailable {
		t.Fatalf("problem = %+v, want 503 %s", pe.Problem, gateway.ProblemIPFSUnavailable)
	}
	if after := len(submitted(c)); after != before {
		t.Fatalf("%d transactions were submitted with IPFS down", after-before)
	}
}

func TestLedgerDownUploadUnpinsAndIndexesNothing(t *testing.T) {
	c := newConsortium(t)
	op := c.Owner(gwtest.H1, "operator")
	cl := c.Client(gwtest.H1, op)
	if _, err := cl.Upload(context.Background(), &api.UploadRequest{Document: doc(t, patient), Policy: testPolicy, Access: terms()}); err != nil {
		t.Fatal(err)
	}
	pinnedBefore := c.Objects[gwtest.H1].Pinned()
	indexedBefore := indexCount(t, c)
	for _, tc := range []struct {
		name  string
		fault func(txbuild.Call) error
	}{
		{"every side chain down", func(call txbuild.Call) error {
			if call.Chaincode == storage.Name {
				return errors.New("connection refused")
			}
			return nil
		}},
		{"one side chain down after the others stored", func(call txbuild.Call) error {
			if call.Channel == "side-low" && call.Chaincode == storage.Name {
				return errors.New("no leader")
			}
			return nil
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c.Ledger.SetFault(tc.fault)
			defer c.Ledger.SetFault(nil)
			_, err := cl.Upload(context.Background(), &api.UploadRequest{Document: doc(t, patient), Policy: testPolicy, Access: terms()})
			if pe := problemOf(t, err); pe.Status != http.StatusServiceUnavailable {
				t.Fatalf("problem = %+v, want 503", pe.Problem)
			}
			if got := c.Objects[gwtest.H1].Pinned(); strings.Join(got, ",") != strings.Join(pinnedBefore, ",") {
				t.Fatalf("pins changed: %v, before %v", got, pinnedBefore)
			}
			if n := indexCount(t, c); n != indexedBefore {
				t.Fatalf("index holds %d records, before %d", n, indexedBefore)
			}
		})
	}
}

func indexCount(t *testing.T, c *gwtest.Consortium) int {
	t.Helper()
	admin := c.Member(gwtest.H1, "auditor", "client", map[string]string{gateway.AuditorAttribute: "true"})
	b, err := c.Ledger.Channel("main").Evaluate(admin.Signer, index.Name, "ListRecordsByOrg", gwtest.H1, "100", "")
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), `"recordID"`)
}

// A failure between the side-chain transactions and the index entry: the
// upload answers 202, readers do not find the record (404, "pending" at the
// owner's gateway) and cannot access it, and once the ledger's main channel
// is back the gateway's retry indexes it and readers open it.
func TestIndexFailureIsRetriedAndInvisibleUntilThen(t *testing.T) {
	c := newConsortium(t)
	ctx := context.Background()
	op := c.Owner(gwtest.H1, "operator")
	c.Ledger.SetFault(func(call txbuild.Call) error {
		if call.Channel == "main" && call.Fn == "PutRecord" {
			return errors.New("main channel unreachable")
		}
		return nil
	})
	up, err := c.Client(gwtest.H1, op).Upload(ctx, &api.UploadRequest{Document: doc(t, patient), Policy: testPolicy, Access: terms()})
	if err != nil {
		t.Fatal(err)
	}
	if up.Indexed || up.RecordID == "" || len(up.Levels) != 3 {
		t.Fatalf("upload = %+v, want a pending index entry", up)
	}
	nurse := c.User(gwtest.H1, "nurse", map[string]string{"role": "nurse", "trust": "1"})
	r := c.Reader(gwtest.H1, nurse)
	_, err = r.Open(ctx, up.RecordID, client.OpenOptions{})
	if pe := problemOf(t, err); pe.Status != http.StatusNotFound || !strings.Contains(pe.Detail, "pending") {
		t.Fatalf("reader before recovery: %+v, want 404 pending", pe.Problem)
	}
	// Another organisation's gateway does not know the record either.
	if _, err := c.Client(gwtest.H2, nurse).Record(ctx, up.RecordID); problemOf(t, err).Status != http.StatusNotFound {
		t.Fatalf("hospital 2's gateway found a record that is not indexed")
	}
	c.Ledger.SetFault(nil)
	deadline := time.Now().Add(15 * time.Second)
	for {
		res, err := r.Open(ctx, up.RecordID, client.OpenOptions{})
		if err == nil {
			if res.Opened[0] == nil {
				t.Fatal("recovered record opened nothing")
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("record still not readable after the ledger came back: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
