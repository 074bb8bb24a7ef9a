package gateway

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/medshare/medshare/abe/policy"
	"github.com/medshare/medshare/chaincode/txbuild"
	"github.com/medshare/medshare/gateway/api"
	"github.com/medshare/medshare/gateway/envelope"
	"github.com/medshare/medshare/network/identity"
)

// fuzzServer is enough of a server to run the body decoders.
func fuzzServer(t testing.TB) *Server {
	cfg := Default()
	ca, err := identity.NewCA(rand.Reader, "Hospital1MSP", "h1", "ca.h1", time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ca.IssueSigner(rand.Reader, identity.Request{CommonName: "gateway", Role: identity.RoleClient, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	return &Server{cfg: cfg, d: Deps{Now: time.Now, Signer: signer}}
}

// roundTrips checks that an accepted body has one reading: encoding what
// was decoded and decoding it again gives the same value.
func roundTrips[T any](t *testing.T, v *T) {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("re-encoding an accepted body: %v", err)
	}
	var again T
	if err := decodeStrict(b, &again); err != nil {
		t.Fatalf("an accepted body, re-encoded, is refused: %v\n%s", err, b)
	}
	if !reflect.DeepEqual(v, &again) {
		t.Fatalf("an accepted body reads differently once re-encoded:\n%+v\n%+v", v, &again)
	}
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
	f.Add([]byte(`{"document":{},"document":{},"Template":"x"}`))
	s := fuzzServer(f)
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
	f.Add([]byte(`{"level":"low","Level":"high","proof":{"recordID":"a","recordId":"b"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var req api.AccessRequest
		if err := decodeStrict(b, &req); err != nil {
			decoded(t, err)
			return
		}
		roundTrips(t, &req)
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
	f.Add([]byte(`{"user":"00","user":"01","levels":["low","low"]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var req api.RegrantRequest
		if err := decodeStrict(b, &req); err != nil {
			decoded(t, err)
			return
		}
		roundTrips(t, &req)
	})
}

func FuzzRecallBody(f *testing.F) {
	f.Add([]byte(`{"user":"0123456789abcdef0123456789abcdef","reason":"left"}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"reason":"a","REASON":"b"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var req api.RecallRequest
		if err := decodeStrict(b, &req); err != nil {
			decoded(t, err)
			return
		}
		roundTrips(t, &req)
	})
}

// FuzzSealedBody runs a pre-sealed upload's decoding and validation:
// levels, m (envelope.ParseKeys), objects, hidden policies
// (policy.Unmarshal) and access terms.
func FuzzSealedBody(f *testing.F) {
	s := fuzzServer(f)
	prefix := txbuild.RecordID(s.d.Signer.ID(), "")
	k := &envelope.Keys{RecordID: prefix + "json.x", Version: 1, Level: policy.Low, Header: []byte("h")}
	m, err := k.MarshalBinary()
	if err != nil {
		f.Fatal(err)
	}
	leaf, _ := policy.Leaf("t:0123456789abcdef0123456789abcdef")
	pol, _ := leaf.MarshalBinary()
	good, _ := json.Marshal(api.SealedUpload{RecordID: k.RecordID, Levels: []api.SealedLevel{{Level: "low", Keys: m, Object: []byte("mGWO\x01x"), HiddenPolicy: pol}},
		Access: &api.Access{NotBefore: time.Unix(0, 0), NotAfter: time.Unix(1, 0)}})
	f.Add(good)
	f.Add([]byte(`{"recordId":"x","levels":[{"level":"low","keys":"bUdXSwE=","object":"bUdXTw=="}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var req api.SealedUpload
		if err := decodeStrict(b, &req); err != nil {
			decoded(t, err)
			return
		}
		_, _, err := s.sealedWork(&req)
		decoded(t, err)
	})
}
