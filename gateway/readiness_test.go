package gateway_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/medshare/medshare/gateway"
	"github.com/medshare/medshare/gateway/api"
	"github.com/medshare/medshare/gateway/client"
	"github.com/medshare/medshare/gateway/internal/gwtest"
	"github.com/medshare/medshare/gateway/replicate"
)

// fakeReplication is a follower whose state the test sets.
type fakeReplication struct {
	mu sync.Mutex
	st replicate.Status
}

func (f *fakeReplication) Status() replicate.Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.st
}

func (f *fakeReplication) set(st replicate.Status) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.st = st
}

func streams(up ...bool) []replicate.StreamStatus {
	var out []replicate.StreamStatus
	for i, u := range up {
		s := replicate.StreamStatus{Stream: replicate.DefaultStreams[i], Connected: u}
		if !u {
			s.Err = "connection refused by 10.0.0.7:7051"
		}
		out = append(out, s)
	}
	return out
}

// TestReadinessReportsReplicationLag: /readyz is 503 when the follower
// lags more than maxReplicationLag or a stream is down, with the lag in
// the answer; why is shown to members only.
func TestReadinessReportsReplicationLag(t *testing.T) {
	f := &fakeReplication{}
	c := gwtest.New(t, gwtest.WithReplication(func(msp string) gateway.Replication {
		if msp == gwtest.H2 {
			return f
		}
		return nil
	}))
	member := rawClient(c, c.User(gwtest.H2, "dr", map[string]string{"role": "doctor"}))
	anonymous := rawClient(c, &gwtest.Member{ID: &client.Identity{Roots: c.Roots}})
	ready := func(hc *http.Client, h *api.Health) int {
		resp, err := hc.Get(c.URL(gwtest.H2) + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if err := json.NewDecoder(resp.Body).Decode(h); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode
	}
	cases := []struct {
		name    string
		st      replicate.Status
		status  int
		lag     float64
		up      int
		because string
	}{
		{"caught up", replicate.Status{Streams: streams(true, true, true)}, 200, 0, 3, ""},
		{"a little behind", replicate.Status{Streams: streams(true, true, true), Pending: 4, OldestPending: time.Minute}, 200, 60, 3, ""},
		{"lagging", replicate.Status{Streams: streams(true, true, true), Pending: 9, Retrying: 9, OldestPending: 10 * time.Minute, LastError: "kubo: connection refused"}, 503, 600, 3, "9 pins pending, the oldest for 10m0s"},
		{"a stream down", replicate.Status{Streams: streams(true, false, true)}, 503, 0, 2, "stream side-medium/storage is down"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f.set(tc.st)
			var h api.Health
			status := ready(member, &h)
			if status != tc.status || h.Replication == nil || h.Replication.LagSeconds != tc.lag || h.Replication.StreamsUp != tc.up ||
				h.Replication.Streams != 3 || h.Replication.MaxLagSeconds != 300 || h.Replication.Pending != tc.st.Pending {
				t.Fatalf("readyz = %d %+v %+v", status, h, h.Replication)
			}
			if tc.because == "" && h.Checks["replication"] != "ok" || tc.because != "" && !strings.Contains(h.Checks["replication"], tc.because) {
				t.Fatalf("replication check = %q, want %q", h.Checks["replication"], tc.because)
			}
			var anon api.Health
			status = ready(anonymous, &anon)
			if status != tc.status || (tc.because != "" && anon.Checks["replication"] != "failing") {
				t.Fatalf("readyz without a certificate = %d %+v", status, anon)
			}
		})
	}
	// A probe without a certificate gets the status it needs.
	f.set(replicate.Status{Streams: streams(false, false, false)})
	var h api.Health
	if status := ready(anonymous, &h); status != http.StatusServiceUnavailable || h.Replication.StreamsUp != 0 {
		t.Fatalf("readyz with every stream down: %d %+v", status, h)
	}
}
