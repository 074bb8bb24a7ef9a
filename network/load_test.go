package network_test

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/medshare/medshare/network/client"
	"github.com/medshare/medshare/network/nettest"
)

// TestLoadCountsWhatCommitted checks the load harness the benchmarks report
// from, on a real network: every transaction it counts as committed is on
// the ledger, every failure is counted with its first error, latencies are
// ordered, and CPU per transaction is measured where /proc exists.
func TestLoadCountsWhatCommitted(t *testing.T) {
	n := startNetwork(t, nettest.Options{Channels: []string{"main"}})
	const total, concurrency = 300, 30
	user := func(int) string { return "client" }
	// Every tenth call (by a count over all clients) is kv Fail, which the
	// chaincode refuses; the others Put key load-<call number>.
	var calls atomic.Int64
	work := func(ctx context.Context, gw *client.Gateway, c, k int) error {
		kv := gw.GetNetwork("main").GetContract("kv")
		i := calls.Add(1)
		key := fmt.Sprintf("load-%d", i)
		if i%10 == 0 {
			_, err := kv.SubmitTransaction("Fail", key, "refused on purpose")
			return err
		}
		_, err := kv.SubmitTransaction("Put", key, "v")
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r, err := n.Load(ctx, concurrency, total, time.Minute, user, work)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(r)
	if calls.Load() != total || r.Committed != total-total/10 || r.Failed != total/10 {
		t.Fatalf("%d calls: committed %d, failed %d; want %d calls, %d and %d", calls.Load(), r.Committed, r.Failed, total, total-total/10, total/10)
	}
	if r.FirstError == nil || !strings.Contains(r.FirstError.Error(), "refused on purpose") {
		t.Fatalf("first error = %v, want the chaincode's refusal", r.FirstError)
	}
	if !(r.P50 > 0 && r.P50 <= r.P95 && r.P95 <= r.P99 && r.P99 <= r.Max) || r.TPS <= 0 {
		t.Fatalf("inconsistent figures: %+v", r)
	}
	if runtime.GOOS == "linux" && r.CPUPerTx <= 0 {
		t.Fatalf("no CPU per transaction measured on Linux: %+v", r)
	}
	// What Load counted as committed is readable from every node; node 2
	// is asked once all nodes hold the same chain.
	if _, err := n.WaitConverged(ctx, "main"); err != nil {
		t.Fatal(err)
	}
	gw, err := n.Gateway(2, 2, "client")
	if err != nil {
		t.Fatal(err)
	}
	kv := gw.GetNetwork("main").GetContract("kv")
	for i := 1; i <= total; i++ {
		key := fmt.Sprintf("load-%d", i)
		v, err := kv.EvaluateTransaction("Get", key)
		switch {
		case i%10 == 0 && err == nil && len(v) > 0:
			t.Errorf("the refused call %s left %q", key, v)
		case i%10 != 0 && (err != nil || string(v) != "v"):
			t.Errorf("Get %s through node 2 = %q, %v; want v", key, v, err)
		}
	}
}
