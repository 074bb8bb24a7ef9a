package msbench

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRowStatisticsTableAndPlot(t *testing.T) {
	var lat []time.Duration
	for i := 1; i <= 100; i++ {
		lat = append(lat, time.Duration(i)*time.Millisecond)
	}
	r := Row{Users: 100, OK: 100, Total: 1500 * time.Millisecond, Latencies: lat}
	if r.Mean() != 50500*time.Microsecond || r.P(0.99) != 99*time.Millisecond || r.P(1) != 100*time.Millisecond || r.P(0.5) != 50*time.Millisecond {
		t.Fatalf("mean %s p50 %s p99 %s max %s", r.Mean(), r.P(0.5), r.P(0.99), r.P(1))
	}
	if (Row{}).Mean() != 0 || (Row{}).P(0.99) != 0 {
		t.Fatal("an empty row has statistics")
	}
	var b bytes.Buffer
	Table(&b, []Row{r, {Users: 7, Failed: 7, Total: time.Second}}, 1)
	for _, want := range []string{"| 100 | 100 | 0 | 0.051 s | 0.099 s | 1.500 s | 66.7 | 1286.73 s |", "| 7 | 0 | 7 |"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
	png := filepath.Join(t.TempDir(), "plot.png")
	if err := Plot([]Row{r}, png); err != nil {
		t.Fatal(err)
	}
	if raw, err := os.ReadFile(png); err != nil || !bytes.HasPrefix(raw, []byte("\x89PNG")) {
		t.Fatalf("no PNG written: %v", err)
	}
}
