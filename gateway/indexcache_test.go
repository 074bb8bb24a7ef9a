package gateway_test

import (
	"context"
	"encoding/json"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/medshare/medshare/abe/policy"
	"github.com/medshare/medshare/chaincode/index"
	"github.com/medshare/medshare/chaincode/storage"
	"github.com/medshare/medshare/gateway/api"
	"github.com/medshare/medshare/gateway/client"
	"github.com/medshare/medshare/gateway/indexcache"
	"github.com/medshare/medshare/gateway/internal/gwtest"
	chclient "github.com/medshare/medshare/network/client"
)

// evaluations counts the evaluated calls of chaincode fn so far.
func evaluations(c *gwtest.Consortium, chaincode, fn string) int {
	n := 0
	for _, call := range c.Ledger.Evaluated() {
		if call.Chaincode == chaincode && call.Fn == fn {
			n++
		}
	}
	return n
}

// With an index cache, record metadata is read from the node once, then
// answered from the cache; an update is seen at once by the gateway that
// wrote it and, through main's events, by the others; accesses answer the
// keys of the version P-TL granted.
func TestIndexCacheFollowsUpdates(t *testing.T) {
	c := gwtest.New(t, gwtest.WithIndexCache())
	c.Check = conform(t, loadDoc(t))
	ctx := context.Background()
	op := c.Owner(gwtest.H1, "operator")
	owner := c.Client(gwtest.H1, op)
	up := upload(t, c, patient)
	cardio := c.User(gwtest.H2, "dr-cardio", map[string]string{"role": "doctor", "specialty": "cardiology", "trust": "2"})
	h2 := c.Client(gwtest.H2, cardio)

	var r *api.Record
	var err error
	waitUntil(t, "the cache follows main", func() bool {
		before := evaluations(c, index.Name, "GetRecord")
		if r, err = h2.Record(ctx, up.RecordID); err != nil {
			t.Fatal(err)
		}
		return evaluations(c, index.Name, "GetRecord") == before
	})
	if r.Version != 1 {
		t.Fatalf("version %d, want 1", r.Version)
	}

	changed := map[string]any{}
	for k, v := range patient {
		changed[k] = v
	}
	changed["condition"] = "atrial fibrillation"
	up2, err := owner.Update(ctx, up.RecordID, &api.UploadRequest{Document: doc(t, changed), Policy: testPolicy, Access: terms()})
	if err != nil {
		t.Fatal(err)
	}
	if up2.Version != 2 {
		t.Fatalf("update: version %d", up2.Version)
	}
	// The writer reads its own write at once.
	if r, err := owner.Record(ctx, up.RecordID); err != nil || r.Version != 2 {
		t.Fatalf("the owner's gateway after the update: %+v %v", r, err)
	}
	// Another gateway sees it once main's event reached it.
	waitUntil(t, "hospital 2 sees version 2", func() bool {
		r, err := h2.Record(ctx, up.RecordID)
		if err != nil {
			t.Fatal(err)
		}
		return r.Version == 2
	})

	// The owner's gateway answers m of the levels it stored without reading
	// the side chain; the reader gets the new version's content.
	before := evaluations(c, storage.Name, "GetRecord")
	res, err := c.Reader(gwtest.H2, cardio).Open(ctx, up.RecordID, client.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(res.Document, &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, changed) {
		t.Fatalf("document = %v, want %v", got, changed)
	}
	// The reader's GET of each level reads the side chain once per level
	// (address, checkCode); the accesses themselves read nothing more.
	if n := evaluations(c, storage.Name, "GetRecord") - before; n != policy.NumLevels {
		t.Fatalf("%d storage reads for %d levels: the grants read the side chain", n, policy.NumLevels)
	}
	if len(res.Levels) != policy.NumLevels {
		t.Fatalf("levels %+v", res.Levels)
	}
}

func waitUntil(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !ok(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
	}
}

// heldEvents passes main's index events on to a gateway's cache until
// hold is called, then keeps them back until release.
type heldEvents struct {
	indexcache.Source
	mu   sync.Mutex
	open chan struct{} // closed while events flow
}

func newHeldEvents(s indexcache.Source) *heldEvents {
	h := &heldEvents{Source: s, open: make(chan struct{})}
	close(h.open)
	return h
}

func (h *heldEvents) hold() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.open = make(chan struct{})
}

func (h *heldEvents) release() {
	h.mu.Lock()
	defer h.mu.Unlock()
	select {
	case <-h.open:
	default:
		close(h.open)
	}
}

func (h *heldEvents) Events(ctx context.Context, start uint64) (<-chan *chclient.ChaincodeEvent, error) {
	in, err := h.Source.Events(ctx, start)
	if err != nil {
		return nil, err
	}
	out := make(chan *chclient.ChaincodeEvent)
	go func() {
		defer close(out)
		for ev := range in {
			h.mu.Lock()
			open := h.open
			h.mu.Unlock()
			select {
			case <-open:
			case <-ctx.Done():
				return
			}
			select {
			case out <- ev:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

// An organisation running two gateways: one updates a record while the
// other's cache has not seen main's event yet. An access at the trailing
// gateway is granted by P-TL for the new version; the gateway must check
// the node before calling that a conflict, and answer the new version's
// keys.
func TestAccessWhileTheOwnersCacheTrailsTheLedger(t *testing.T) {
	var h1 *heldEvents
	c := gwtest.New(t, gwtest.WithIndexEvents(func(msp string, s indexcache.Source) indexcache.Source {
		if msp != gwtest.H1 || h1 != nil {
			return s // only hospital 1's registered gateway, not the replica
		}
		h1 = newHeldEvents(s)
		return h1
	}))
	ctx := context.Background()
	op := c.Owner(gwtest.H1, "operator")
	owner := c.Client(gwtest.H1, op)
	up := upload(t, c, patient)
	waitUntil(t, "hospital 1's cache holds the record", func() bool {
		before := evaluations(c, index.Name, "GetRecord")
		if _, err := owner.Record(ctx, up.RecordID); err != nil {
			t.Fatal(err)
		}
		return evaluations(c, index.Name, "GetRecord") == before
	})

	h1.hold()
	t.Cleanup(h1.release)
	_, replica := c.StartReplica(gwtest.H1)
	changed := map[string]any{}
	for k, v := range patient {
		changed[k] = v
	}
	changed["condition"] = "atrial fibrillation"
	up2, err := c.ClientAt(replica.URL, op).Update(ctx, up.RecordID, &api.UploadRequest{Document: doc(t, changed), Policy: testPolicy, Access: terms()})
	if err != nil || up2.Version != 2 {
		t.Fatalf("update through the replica: %+v, %v", up2, err)
	}
	cardio := c.User(gwtest.H2, "dr-cardio", map[string]string{"role": "doctor", "specialty": "cardiology", "trust": "2"})
	h2 := c.Client(gwtest.H2, cardio)
	waitUntil(t, "hospital 2 sees version 2", func() bool {
		r, err := h2.Record(ctx, up.RecordID)
		if err != nil {
			t.Fatal(err)
		}
		return r.Version == 2
	})
	// The scenario is real: hospital 1's registered gateway still answers
	// version 1 from its cache.
	if r, err := owner.Record(ctx, up.RecordID); err != nil || r.Version != 1 {
		t.Fatalf("hospital 1's gateway with its events held: %+v, %v; want its cached version 1", r, err)
	}

	res, err := c.Reader(gwtest.H2, cardio).Open(ctx, up.RecordID, client.OpenOptions{})
	if err != nil {
		t.Fatalf("open through the trailing gateway: %v", err)
	}
	var got map[string]any
	if err := json.Unmarshal(res.Document, &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, changed) {
		t.Fatalf("document = %v, want version 2's %v", got, changed)
	}
}
