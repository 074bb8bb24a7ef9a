package gwbench

import (
	"bytes"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestParseStatCPU(t *testing.T) {
	tests := []struct {
		name    string
		line    string
		want    time.Duration
		wantErr bool
	}{
		{"plain", "1234 (medshare) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 12 0 100", 3 * time.Second, false},
		{"name with spaces and parens", "99 (a (b) c) R 1 2 3 4 5 6 7 8 9 10 7 3 0 0", 100 * time.Millisecond, false},
		{"no parenthesis", "1234 medshare S 1 2 3", 0, true},
		{"short", "1 (x) S 1 2 3", 0, true},
		{"not a number", "1 (x) S 1 2 3 4 5 6 7 8 9 10 ab 3 0", 0, true},
		{"negative", "1 (x) S 1 2 3 4 5 6 7 8 9 10 -1 3 0", 0, true},
		{"empty", "", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStatCPU([]byte(tt.line))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Fatalf("got %s, want %s", got, tt.want)
			}
		})
	}
}

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
	r := Result{Workload: "index query", Concurrency: 100, OK: 1000, Elapsed: time.Second,
		CPU: map[string]time.Duration{"nodes": 500 * time.Millisecond, "gateways": time.Second, "client": 250 * time.Millisecond}}
	var b bytes.Buffer
	Table(&b, []Result{r}, 1, 400)
	out := b.String()
	for _, want := range []string{"CPU per operation", "GOGC 400 per gateway process", "| index query | 100 | 0.50 ms | – | 1.00 ms | 0.25 ms | 1.75 ms |"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}
