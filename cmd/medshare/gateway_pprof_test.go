package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestServePprof(t *testing.T) {
	for _, bad := range []string{"0.0.0.0:0", "10.0.0.1:0", "example.com:0", "nope"} {
		if _, err := servePprof(bad); err == nil {
			t.Errorf("servePprof(%q) served", bad)
		}
	}
	at, err := servePprof("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + at + "/debug/pprof/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), "goroutine") {
		t.Fatalf("HTTP %d: %.200s", resp.StatusCode, b)
	}
}
