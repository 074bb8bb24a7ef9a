package chaincode_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/medshare/medshare/network/chaincode"
	"github.com/medshare/medshare/network/chaincode/chaincodetest"
)

// Asset is the example contract's record.
type Asset struct {
	ID    string `json:"id"`
	Owner string `json:"owner"`
	Size  int    `json:"size"`
}

// Assets is a small contract exercising the stub.
type Assets struct{ chaincode.Contract }

func (a *Assets) Create(ctx chaincode.TransactionContext, id string, size int) error {
	stub := ctx.GetStub()
	if v, err := stub.GetState(id); err != nil {
		return err
	} else if v != nil {
		return fmt.Errorf("asset %s already exists", id)
	}
	owner, err := ctx.GetClientIdentity().GetMSPID()
	if err != nil {
		return err
	}
	b, _ := json.Marshal(Asset{ID: id, Owner: owner, Size: size})
	if err := stub.PutState(id, b); err != nil {
		return err
	}
	key, err := stub.CreateCompositeKey("owner~id", []string{owner, id})
	if err != nil {
		return err
	}
	if err := stub.PutState(key, []byte{0}); err != nil {
		return err
	}
	return stub.SetEvent("Created", []byte(id))
}

func (a *Assets) Read(ctx chaincode.TransactionContext, id string) (*Asset, error) {
	b, err := ctx.GetStub().GetState(id)
	if err != nil {
		return nil, err
	}
	if b == nil {
		return nil, fmt.Errorf("asset %s does not exist", id)
	}
	var as Asset
	return &as, json.Unmarshal(b, &as)
}

// CreateThenFail writes and then fails: nothing may be committed.
func (a *Assets) CreateThenFail(ctx chaincode.TransactionContext, id string) error {
	if err := ctx.GetStub().PutState(id, []byte("x")); err != nil {
		return err
	}
	return errors.New("refused after writing")
}

func (a *Assets) Resize(ctx chaincode.TransactionContext, id string, size int) (int, error) {
	as, err := a.Read(ctx, id)
	if err != nil {
		return 0, err
	}
	as.Size = size
	b, _ := json.Marshal(as)
	// Read-your-writes: the new value is visible within the transaction.
	if err := ctx.GetStub().PutState(id, b); err != nil {
		return 0, err
	}
	again, err := a.Read(ctx, id)
	if err != nil {
		return 0, err
	}
	return again.Size, nil
}

func (a *Assets) Delete(ctx chaincode.TransactionContext, id string) error {
	return ctx.GetStub().DelState(id)
}

// Page lists asset IDs of the range one page at a time.
func (a *Assets) Page(ctx chaincode.TransactionContext, size int32, bookmark string) ([]string, error) {
	it, meta, err := ctx.GetStub().GetStateByRangeWithPagination("", "", size, bookmark)
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var ids []string
	for it.HasNext() {
		kv, err := it.Next()
		if err != nil {
			return nil, err
		}
		ids = append(ids, kv.Key)
	}
	return append(ids, "next="+meta.Bookmark), nil
}

func (a *Assets) ByOwner(ctx chaincode.TransactionContext, owner string) ([]string, error) {
	it, err := ctx.GetStub().GetStateByPartialCompositeKey("owner~id", []string{owner})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var ids []string
	for it.HasNext() {
		kv, err := it.Next()
		if err != nil {
			return nil, err
		}
		_, attrs, err := ctx.GetStub().SplitCompositeKey(kv.Key)
		if err != nil {
			return nil, err
		}
		ids = append(ids, attrs[1])
	}
	return ids, nil
}

func (a *Assets) History(ctx chaincode.TransactionContext, id string) ([]string, error) {
	it, err := ctx.GetStub().GetHistoryForKey(id)
	if err != nil {
		return nil, err
	}
	var out []string
	for it.HasNext() {
		m, err := it.Next()
		if err != nil {
			return nil, err
		}
		out = append(out, strconv.FormatBool(m.IsDelete)+"@"+m.Timestamp.Format(time.RFC3339))
	}
	return out, nil
}

func (a *Assets) Panic(ctx chaincode.TransactionContext) error {
	var m map[string]int
	m["boom"] = 1
	return nil
}

func (a *Assets) Stamp(ctx chaincode.TransactionContext) (string, error) {
	ts, err := ctx.GetStub().GetTxTimestamp()
	return ts.Format(time.RFC3339), err
}

func (a *Assets) Sum(ctx chaincode.TransactionContext, xs []int, scale float64, neg bool) float64 {
	s := 0.0
	for _, x := range xs {
		s += float64(x)
	}
	if neg {
		s = -s
	}
	return s * scale
}

// Counter is a second chaincode, called from Relay via InvokeChaincode.
type Counter struct{ chaincode.Contract }

func (c *Counter) Inc(ctx chaincode.TransactionContext, fail bool) (int, error) {
	b, _ := ctx.GetStub().GetState("n")
	n, _ := strconv.Atoi(string(b))
	n++
	if err := ctx.GetStub().PutState("n", []byte(strconv.Itoa(n))); err != nil {
		return 0, err
	}
	if fail {
		return 0, errors.New("counter refused")
	}
	return n, nil
}

type Relay struct{ chaincode.Contract }

func (r *Relay) Call(ctx chaincode.TransactionContext, fail bool) (string, error) {
	if err := ctx.GetStub().PutState("calls", []byte("1")); err != nil {
		return "", err
	}
	out, err := ctx.GetStub().InvokeChaincode("counter", [][]byte{[]byte("Inc"), []byte(strconv.FormatBool(fail))}, "")
	if err != nil {
		return "callee failed: " + err.Error(), nil
	}
	return string(out), nil
}

func newLedger(t *testing.T) (*chaincodetest.Ledger, *chaincodetest.Org) {
	t.Helper()
	cc, err := chaincode.New(&Assets{})
	if err != nil {
		t.Fatal(err)
	}
	l := chaincodetest.New("ch")
	l.Deploy("assets", cc)
	return l, chaincodetest.NewOrg(t, "H1MSP")
}

func TestRouterDecodesArgumentsAndErrors(t *testing.T) {
	l, org := newLedger(t)
	u := org.Client(t, "u", nil)
	tests := []struct {
		fn      string
		args    []string
		want    string
		wantErr string
	}{
		{"Create", []string{"a1", "5"}, "", ""},
		{"Assets:Read", []string{"a1"}, `{"id":"a1","owner":"H1MSP","size":5}`, ""},
		{"Create", []string{"a1", "5"}, "", "asset a1 already exists"},
		{"Create", []string{"a2", "five"}, "", `argument 2 (int) of Create: not an integer of 64 bits: "five"`},
		{"Create", []string{"a2"}, "", "Incorrect number of params. Expected 2, received 1"},
		{"Nope", nil, "", "Function Nope not found in contract Assets"},
		{"Other:Read", []string{"a1"}, "", "Contract not found with name Other"},
		{"Sum", []string{"[1,2,3]", "0.5", "true"}, "-3", ""},
		{"Sum", []string{`{"a":1}`, "1", "false"}, "", "argument 1 ([]int) of Sum: invalid JSON: the value is not a []int"},
		{"Resize", []string{"a1", "9"}, "9", ""},
		{"Panic", nil, "", "chaincode assets panicked"},
		{"Stamp", nil, "2026-01-01T00:00:00Z", ""},
	}
	for _, tt := range tests {
		res, err := l.Submit(u, "assets", tt.fn, tt.args...)
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("%s%v: error = %v, want %q", tt.fn, tt.args, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s%v: %v", tt.fn, tt.args, err)
			continue
		}
		if string(res.Payload) != tt.want {
			t.Errorf("%s%v = %q, want %q", tt.fn, tt.args, res.Payload, tt.want)
		}
	}
}

func TestFailedTransactionWritesNothing(t *testing.T) {
	l, org := newLedger(t)
	u := org.Client(t, "u", nil)
	if _, err := l.Submit(u, "assets", "CreateThenFail", "x"); err == nil {
		t.Fatal("CreateThenFail succeeded")
	}
	if keys := l.Store().Keys("assets", ""); len(keys) != 0 {
		t.Fatalf("failed transaction left keys %q", keys)
	}
	if ev := l.Events(); len(ev) != 0 {
		t.Fatalf("failed transaction left events %v", ev)
	}
}

func TestEvaluateIsReadOnly(t *testing.T) {
	l, org := newLedger(t)
	u := org.Client(t, "u", nil)
	if _, err := l.Evaluate(u, "assets", "Create", "a", "1"); !errors.Is(err, chaincode.ErrReadOnly) {
		t.Fatalf("write during evaluation: err = %v, want ErrReadOnly", err)
	}
	if keys := l.Store().Keys("assets", ""); len(keys) != 0 {
		t.Fatalf("evaluation wrote %q", keys)
	}
}

func TestPaginationCompositeKeysAndHistory(t *testing.T) {
	l, org := newLedger(t)
	org2 := chaincodetest.NewOrg(t, "H2MSP")
	u1, u2 := org.Client(t, "u1", nil), org2.Client(t, "u2", nil)
	for i := range 7 {
		u := u1
		if i%2 == 1 {
			u = u2
		}
		if _, err := l.Submit(u, "assets", "Create", fmt.Sprintf("a%d", i), "1"); err != nil {
			t.Fatal(err)
		}
	}
	var pages [][]string
	bookmark := ""
	for {
		out, err := l.Evaluate(u1, "assets", "Page", "3", bookmark)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		if err := json.Unmarshal(out, &ids); err != nil {
			t.Fatal(err)
		}
		pages = append(pages, ids)
		bookmark = ids[len(ids)-1][len("next="):]
		if bookmark == "" {
			break
		}
	}
	want := [][]string{{"a0", "a1", "a2", "next=a3"}, {"a3", "a4", "a5", "next=a6"}, {"a6", "next="}}
	if fmt.Sprint(pages) != fmt.Sprint(want) {
		t.Fatalf("pages = %v, want %v (composite keys must not appear in simple ranges)", pages, want)
	}
	if _, err := l.Evaluate(u1, "assets", "Page", "0", ""); !errors.Is(err, chaincode.ErrInvalidArgument) {
		t.Errorf("page size 0: err = %v", err)
	}
	if _, err := l.Evaluate(u1, "assets", "Page", "2", "\x00owner~id\x00"); err == nil {
		t.Errorf("bookmark outside the range accepted")
	}

	out, err := l.Evaluate(u1, "assets", "ByOwner", "H2MSP")
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != `["a1","a3","a5"]` {
		t.Errorf("ByOwner(H2MSP) = %s", out)
	}

	l.Advance(time.Hour)
	if _, err := l.Submit(u1, "assets", "Delete", "a0"); err != nil {
		t.Fatal(err)
	}
	out, err = l.Evaluate(u1, "assets", "History", "a0")
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != `["true@2026-01-01T01:00:00Z","false@2026-01-01T00:00:00Z"]` {
		t.Errorf("History(a0) = %s", out)
	}
	if got := len(l.Events()); got != 7 {
		t.Errorf("%d events committed, want 7", got)
	}
}

func TestInvokeChaincode(t *testing.T) {
	relay, err := chaincode.New(&Relay{})
	if err != nil {
		t.Fatal(err)
	}
	counter, err := chaincode.New(&Counter{})
	if err != nil {
		t.Fatal(err)
	}
	l := chaincodetest.New("ch")
	l.Deploy("relay", relay)
	l.Deploy("counter", counter)
	u := chaincodetest.NewOrg(t, "H1MSP").Client(t, "u", nil)

	res, err := l.Submit(u, "relay", "Call", "false")
	if err != nil || string(res.Payload) != "1" {
		t.Fatalf("Call = %q, %v", res.Payload, err)
	}
	var ns []string
	for _, w := range res.Writes {
		ns = append(ns, w.Namespace+"/"+w.Key)
	}
	if !slices.Equal(ns, []string{"counter/n", "relay/calls"}) {
		t.Fatalf("writes = %v", ns)
	}
	// A failing callee's writes are dropped even when the caller goes on.
	res, err = l.Submit(u, "relay", "Call", "true")
	if err != nil {
		t.Fatal(err)
	}
	if string(res.Payload) != "callee failed: chaincode counter: counter refused" {
		t.Fatalf("Call(fail) = %q", res.Payload)
	}
	if v, _ := l.Store().Get("counter", "n"); string(v) != "1" {
		t.Fatalf("counter = %q after a failed call, want 1", v)
	}
}

func TestKeyValidation(t *testing.T) {
	if _, err := chaincode.CreateCompositeKey("t", []string{"a\x00b"}); !errors.Is(err, chaincode.ErrInvalidKey) {
		t.Errorf("NUL in attribute: %v", err)
	}
	k, err := chaincode.CreateCompositeKey("type", []string{"x", "y"})
	if err != nil {
		t.Fatal(err)
	}
	typ, attrs, err := chaincode.SplitCompositeKey(k)
	if err != nil || typ != "type" || !slices.Equal(attrs, []string{"x", "y"}) {
		t.Errorf("Split = %q %q %v", typ, attrs, err)
	}
	if _, _, err := chaincode.SplitCompositeKey("plain"); !errors.Is(err, chaincode.ErrInvalidKey) {
		t.Errorf("split of a simple key: %v", err)
	}
}

func TestNewRejectsBadContracts(t *testing.T) {
	if _, err := chaincode.New(); err == nil {
		t.Error("no contracts accepted")
	}
	if _, err := chaincode.New(&Assets{}, &Assets{}); err == nil {
		t.Error("duplicate contract names accepted")
	}
	if _, err := chaincode.New(&empty{}); err == nil {
		t.Error("contract without functions accepted")
	}
	if _, err := chaincode.New(&badReturn{}); err == nil {
		t.Error("function with three results accepted")
	}
}

type empty struct{ chaincode.Contract }

type badReturn struct{ chaincode.Contract }

func (b *badReturn) F(ctx chaincode.TransactionContext) (int, int, error) { return 0, 0, nil }
