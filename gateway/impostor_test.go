package gateway_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/medshare/medshare/abe/policy"
	"github.com/medshare/medshare/gateway"
	"github.com/medshare/medshare/gateway/api"
	"github.com/medshare/medshare/gateway/client"
	"github.com/medshare/medshare/gateway/internal/gwtest"
	"github.com/medshare/medshare/network/identity"
)

// fakeGateway serves h over HTTPS with mutual TLS under cert, counting the
// requests that reach it.
type fakeGateway struct {
	*httptest.Server
	hits atomic.Int64
}

func serveAs(t *testing.T, cert tls.Certificate, h http.Handler) *fakeGateway {
	f := &fakeGateway{}
	f.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.hits.Add(1)
		h.ServeHTTP(w, r)
	}))
	f.TLS = gateway.TLSConfig(cert)
	f.StartTLS()
	t.Cleanup(f.Close)
	return f
}

// rewriting serves real, rewriting the grants of access answers with mut
// (nil: pass them through) — a dishonest owner's gateway.
func rewriting(real http.Handler, mut func(g *api.Grant, raw []byte) []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		real.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		if strings.HasSuffix(r.URL.Path, "/access") && rec.Code == http.StatusOK && mut != nil {
			var g api.Grant
			if err := json.Unmarshal(body, &g); err == nil {
				body = mut(&g, body)
			}
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		w.Write(body)
	})
}

func marshal(g *api.Grant) []byte { b, _ := json.Marshal(g); return b }

// TestDishonestOwnerGateway: the owner's gateway (with its genuine
// certificate) answers accesses with substituted addresses, keys or
// checkCodes, a grant for another level, or a grant of an earlier proof
// replayed without submitting this one to P-TL. The reader checks each
// grant against what its own organisation read from the ledger and the
// proof it sent, refuses it (ErrBadGrant), and decrypts nothing.
func TestDishonestOwnerGateway(t *testing.T) {
	c := newConsortium(t)
	ctx := context.Background()
	up := upload(t, c, patient)
	other := upload(t, c, map[string]any{"resourceType": "Patient", "condition": "flu"})
	nurse := c.User(gwtest.H1, "nurse", map[string]string{"role": "nurse", "trust": "1"})
	h1CA := c.CAs[gwtest.H1].Certificate()
	low := client.OpenOptions{Levels: []policy.Level{policy.Low}}

	// A grant of an earlier proof, to replay.
	var replay []byte
	capture := serveAs(t, c.GwMember[gwtest.H1].TLS, rewriting(c.Servers[gwtest.H1].Handler(), func(_ *api.Grant, raw []byte) []byte {
		replay = bytes.Clone(raw)
		return raw
	}))
	r := c.Reader(gwtest.H1, nurse)
	r.Gateway = func(msp, _ string) (*client.Client, error) {
		return client.New(capture.URL, nurse.ID, client.WithOrganisation(gwtest.H1, h1CA))
	}
	if _, err := r.Open(ctx, up.RecordID, low); err != nil || replay == nil {
		t.Fatalf("the honest pass: %v", err)
	}
	otherLow := func() *api.StoredLevel {
		for i := range other.Levels {
			if other.Levels[i].Level == "low" {
				return &other.Levels[i]
			}
		}
		t.Fatal("no low level")
		return nil
	}()
	junk := make([]byte, 64)
	rand.Read(junk)
	cases := []struct {
		name string
		mut  func(g *api.Grant, raw []byte) []byte
	}{
		{"another record's object (u) and checkCode", func(g *api.Grant, _ []byte) []byte {
			g.Address, g.CheckCode = otherLow.Address, otherLow.CheckCode
			return marshal(g)
		}},
		{"another checkCode", func(g *api.Grant, _ []byte) []byte { g.CheckCode = strings.Repeat("0", 64); return marshal(g) }},
		{"other keys (m) with their own hash", func(g *api.Grant, _ []byte) []byte {
			sum := sha256.Sum256(junk)
			g.Keys, g.KeysHash = junk, hex.EncodeToString(sum[:])
			return marshal(g)
		}},
		{"keys (m) that are not those of the decision's H(m)", func(g *api.Grant, _ []byte) []byte { g.Keys = junk; return marshal(g) }},
		{"a grant for another level", func(g *api.Grant, _ []byte) []byte { g.Level = "high"; return marshal(g) }},
		{"a grant for another record", func(g *api.Grant, _ []byte) []byte { g.RecordID = other.RecordID; return marshal(g) }},
		{"an earlier grant, replayed", func(*api.Grant, []byte) []byte { return replay }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fake := serveAs(t, c.GwMember[gwtest.H1].TLS, rewriting(c.Servers[gwtest.H1].Handler(), tc.mut))
			r.Gateway = func(msp, _ string) (*client.Client, error) {
				return client.New(fake.URL, nurse.ID, client.WithOrganisation(gwtest.H1, h1CA))
			}
			res, err := r.Open(ctx, up.RecordID, low)
			if !errors.Is(err, client.ErrBadGrant) || res != nil {
				t.Fatalf("Open = %v, %v; want ErrBadGrant and nothing opened", res, err)
			}
		})
	}
}

// TestImpostorGateway: a client resolving an organisation's gateway pins
// that organisation's CA and the gateway (data owner) role. A server with
// another organisation's gateway certificate — which every consortium CA
// pool would accept — a node's or a doctor's certificate of the right
// organisation, or a certificate of an unknown CA fails the handshake, and
// no request reaches it.
func TestImpostorGateway(t *testing.T) {
	c := newConsortium(t)
	ctx := context.Background()
	dr := c.User(gwtest.H2, "dr", map[string]string{"role": "doctor"})
	h1CA := c.CAs[gwtest.H1].Certificate()
	stranger := strangerMember(t, c)
	strangerTLS := func() tls.Certificate {
		// a gateway-like certificate for 127.0.0.1 from a CA outside the
		// consortium
		now := time.Now()
		ca, err := identity.NewCA(rand.Reader, gwtest.H1, gwtest.H1, "ca."+gwtest.H1, now.Add(-time.Hour), now.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		cert, key, err := ca.Issue(rand.Reader, identity.Request{CommonName: "gateway." + gwtest.H1, Role: identity.RoleClient, TLS: true,
			Attributes: map[string]string{gateway.RoleAttribute: "owner"}, Hosts: []string{"127.0.0.1"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		return tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}
	}()
	_ = stranger
	cases := []struct {
		name     string
		cert     tls.Certificate
		accepted bool
		notOwner bool
	}{
		{"hospital 1's gateway", c.GwMember[gwtest.H1].TLS, true, false},
		{"hospital 2's gateway posing as hospital 1's", c.GwMember[gwtest.H2].TLS, false, false},
		{"hospital 1's node", c.Member(gwtest.H1, "node0", identity.RoleNode, nil).TLS, false, true},
		{"hospital 1's doctor", c.User(gwtest.H1, "dr-h1", map[string]string{"role": "doctor"}).TLS, false, true},
		{"hospital 1's admin", c.Admin(gwtest.H1).TLS, false, true},
		{"a look-alike CA outside the consortium", strangerTLS, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := serveAs(t, tc.cert, c.Servers[gwtest.H1].Handler())
			pinned, err := client.New(srv.URL, dr.ID, client.WithOrganisation(gwtest.H1, h1CA))
			if err != nil {
				t.Fatal(err)
			}
			_, err = pinned.Whoami(ctx)
			if tc.accepted != (err == nil) {
				t.Fatalf("whoami through %s: %v", tc.name, err)
			}
			if !tc.accepted && srv.hits.Load() != 0 {
				t.Fatalf("%d requests reached the impostor", srv.hits.Load())
			}
			if tc.notOwner && !errors.Is(err, client.ErrNotOwnerGateway) {
				t.Fatalf("err = %v, want ErrNotOwnerGateway", err)
			}
		})
	}
	// Without the pin, any consortium CA would do: hospital 2's
	// certificate passes for hospital 1's gateway.
	srv := serveAs(t, c.GwMember[gwtest.H2].TLS, c.Servers[gwtest.H1].Handler())
	loose, _ := client.New(srv.URL, dr.ID)
	if _, err := loose.Whoami(ctx); err != nil {
		t.Fatalf("the unpinned client: %v", err)
	}
}

// TestReaderRefusesAnImpostorAtTheRegisteredURL: the registry says
// hospital 1's gateway is at an address a server with hospital 2's
// certificate answers (a hijacked address). A hospital 2 doctor's reader
// resolves it through its own gateway, refuses the handshake, and no proof
// leaves the reader; nothing is submitted to P-TL.
func TestReaderRefusesAnImpostorAtTheRegisteredURL(t *testing.T) {
	c := newConsortium(t)
	ctx := context.Background()
	up := upload(t, c, patient)
	impostor := serveAs(t, c.GwMember[gwtest.H2].TLS, c.Servers[gwtest.H1].Handler())
	if err := c.RegisterGateway(gwtest.H1, impostor.URL); err != nil {
		t.Fatal(err)
	}
	dr := c.User(gwtest.H2, "dr-cardio", map[string]string{"role": "doctor", "specialty": "cardiology", "trust": "2"})
	r := c.Reader(gwtest.H2, dr)
	before := len(submitted(c))
	res, err := r.Open(ctx, up.RecordID, client.OpenOptions{})
	if err == nil || res != nil {
		t.Fatalf("Open through the impostor: %+v, %v", res, err)
	}
	if impostor.hits.Load() != 0 {
		t.Fatalf("%d requests reached the impostor", impostor.hits.Load())
	}
	if n := len(submitted(c)) - before; n != 0 {
		t.Fatalf("%d transactions submitted", n)
	}
}
