package gateway

import (
	"errors"
	"testing"
	"time"

	"github.com/medshare/medshare/gateway/api"
)

// fuzzServer is enough of a server to run the body decoders.
func fuzzServer() *Server {
	cfg := Default()
	return &Server{cfg: cfg, d: Deps{Now: time.Now}}
}

// decoded checks that a decoder's error is one the HTTP layer renders as a
// 4xx problem.
func decoded(t *testing.T, err error) {
	if err == nil {
		return
	}
	p := toProblem(err)
	if p.Status < 400 || p.Status >= 500 {
		t.Fatalf("bad input became %d: %v", p.Status, err)
	}
	var fe *FieldError
	var pr *Problem
	if !errors.As(err, &fe) && !errors.As(err, &pr) {
		t.Fatalf("untyped decoder error %T: %v", err, err)
	}
}

func FuzzUploadBody(f *testing.F) {
	f.Add([]byte(`{"document":{"resourceType":"Patient"},"policy":{"low":"role = doctor","high":"trust >= 2"},"access":{"notBefore":"2026-01-01T00:00:00Z","notAfter":"2027-01-01T00:00:00Z","timeZone":"Europe/Paris","windows":[{"days":["mon"],"start":"08:00","end":"18:00"}]}}`))
	f.Add([]byte(`{"document":{},"template":"clinical"}`))
	f.Add([]byte(`{"document":1,"policy":{"low":"(("}}`))
	f.Add([]byte(`{"access":{"maxProofAge":"-1s"}}`))
	s := fuzzServer()
	f.Fuzz(func(t *testing.T, b []byte) {
		var req api.UploadRequest
		if err := decodeStrict(b, &req); err != nil {
			decoded(t, err)
			return
		}
		_, err := s.terms(&req)
		decoded(t, err)
	})
}

func FuzzAccessBody(f *testing.F) {
	f.Add([]byte(`{"level":"low","proof":{"recordID":"r","time":"2026-01-01T00:00:00Z","key":"AA==","address":"b","nonce":"AA==","disclosure":"AA==","signature":"AA=="}}`))
	f.Add([]byte(`{"level":7}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var req api.AccessRequest
		decoded(t, decodeStrict(b, &req))
	})
}

func FuzzEnrolBody(f *testing.F) {
	f.Add([]byte(`{"certificate":"-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----","time":"2026-01-01T00:00:00Z","signature":"AA=="}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var req api.EnrolRequest
		decoded(t, decodeStrict(b, &req))
	})
}

func FuzzRegrantBody(f *testing.F) {
	f.Add([]byte(`{"user":"00","scope":"owner","levels":["high"]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var req api.RegrantRequest
		decoded(t, decodeStrict(b, &req))
	})
}
