package gwbench

import (
	"bytes"
	"context"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestSampleCPUSelf(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("CPU times come from /proc, which only Linux has")
	}
	before := sampleCPU(map[string][]int{"gone": {1 << 30}})
	if _, ok := before["gone"]; ok {
		t.Fatal("a process without /proc entry was read")
	}
	deadline := time.Now().Add(300 * time.Millisecond)
	for x := 0; time.Now().Before(deadline); x++ {
		_ = x * x
	}
	after := sampleCPU(nil)
	d := cpuDelta(before, after)
	if d[KindClient] <= 0 || d[KindClient] > 10*time.Second {
		t.Fatalf("client CPU %s after a 300 ms busy loop", d[KindClient])
	}
	if _, ok := d["gone"]; ok {
		t.Fatal("a kind missing before has a delta")
	}
}

func TestTableCPU(t *testing.T) {
	r := Result{Workload: "index query", Concurrency: 100, OK: 1000, Elapsed: time.Second, Settle: time.Second,
		CPU: map[string]time.Duration{"nodes": 500 * time.Millisecond, "gateways": time.Second, "client": 250 * time.Millisecond}}
	var b bytes.Buffer
	Table(&b, []Result{r}, 1, 400)
	out := b.String()
	for _, want := range []string{"CPU per operation", "GOGC 400 per gateway process", "| index query | 100 | 0.50 ms | – | 1.00 ms | 0.25 ms | 1.75 ms | 0.88 | 1 s |"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

// settle returns once the processes are quiet: this test process idles.
func TestSettleReturnsWhenQuiet(t *testing.T) {
	d := settle(context.Background(), map[string][]int{}, 10*time.Second)
	if d < time.Second || d > 5*time.Second {
		t.Fatalf("settled after %s on an idle process", d)
	}
}
