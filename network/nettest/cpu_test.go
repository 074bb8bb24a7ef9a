package nettest

import (
	"runtime"
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

func TestProcessCPUSelf(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("CPU times come from /proc, which only Linux has")
	}
	before, err := ProcessCPU(0)
	if err != nil {
		t.Fatal(err)
	}
	// Burn measurable CPU (the clock ticks at 10 ms).
	deadline := time.Now().Add(150 * time.Millisecond)
	x := 0
	for time.Now().Before(deadline) {
		x++
	}
	after, err := ProcessCPU(0)
	if err != nil {
		t.Fatal(err)
	}
	if after-before < 50*time.Millisecond {
		t.Fatalf("CPU grew by %s after 150 ms of busy work (x=%d)", after-before, x)
	}
}
