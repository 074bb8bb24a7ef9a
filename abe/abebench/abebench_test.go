package abebench_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/medshare/medshare/abe/abebench"
)

// TestMainSmall runs a tiny matrix end to end: table and PNG.
func TestMainSmall(t *testing.T) {
	out := filepath.Join(t.TempDir(), "plot.png")
	var buf bytes.Buffer
	err := abebench.Main([]string{"-attrs", "1,2", "-mintime", "1ms", "-rounds", "2", "-out", out}, &buf)
	if err != nil {
		t.Fatal(err)
	}
	s := buf.String()
	for _, want := range []string{"| attrs |", "| 1 |", "| 2 |", "Public key, msc", "faster to produce", "target ≤ 25 ms each", "best of 2 rounds"} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
	b, err := os.ReadFile(out)
	if err != nil || !bytes.HasPrefix(b, []byte("\x89PNG")) {
		t.Fatalf("no PNG written: %v", err)
	}
	if err := abebench.Main([]string{"-attrs", "x"}, &buf); err == nil {
		t.Fatal("bad -attrs accepted")
	}
	if err := abebench.Main([]string{"-rounds", "0"}, &buf); err == nil {
		t.Fatal("-rounds 0 accepted")
	}
	_ = time.Second
}
