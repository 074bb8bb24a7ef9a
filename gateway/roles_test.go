package gateway_test

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/medshare/medshare/gateway"
	"github.com/medshare/medshare/gateway/api"
	"github.com/medshare/medshare/gateway/client"
	"github.com/medshare/medshare/gateway/internal/gwtest"
	"github.com/medshare/medshare/network/identity"
)

// newConsortium starts the in-process consortium with every response
// checked against the OpenAPI document.
func newConsortium(t *testing.T) *gwtest.Consortium {
	t.Helper()
	c := gwtest.New(t)
	c.Check = conform(t, loadDoc(t))
	return c
}

type caller struct {
	name string
	m    *gwtest.Member
	role gateway.Role // "" for none
	org  string
}

// strangerMember is a member of an organisation outside the consortium.
func strangerMember(t *testing.T, c *gwtest.Consortium) *gwtest.Member {
	now := time.Now()
	ca, err := identity.NewCA(rand.Reader, "EvilMSP", "evil", "ca.evil", now.Add(-time.Hour), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	attrs := map[string]string{gateway.RoleAttribute: "owner"}
	s, err := ca.IssueSigner(rand.Reader, identity.Request{CommonName: "mallory", Role: identity.RoleClient, Attributes: attrs, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	cert, key, err := ca.Issue(rand.Reader, identity.Request{CommonName: "mallory", Role: identity.RoleClient, Attributes: attrs, TLS: true, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	tc := tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}
	return &gwtest.Member{Signer: s, TLS: tc, ID: &client.Identity{TLS: tc, Signer: s, Roots: c.Roots}}
}

// TestRouteRoleMatrix calls every route of a gateway that serves the
// authority with every role, a caller without a role, a node, a data owner
// of another organisation, a certificate from an unknown CA and no
// certificate at all. A refused combination must answer exactly 401
// (unauthenticated) or 403 (authenticated, not allowed); an allowed one
// must get past the access check (any other status, or a 403 that is a
// P-TL refusal). Every response must match the OpenAPI document.
func TestRouteRoleMatrix(t *testing.T) {
	c := newConsortium(t)
	ctx := context.Background()
	up := upload(t, c, patient)
	callers := []caller{
		{"unauthenticated", nil, "", ""},
		{"unknown CA", strangerMember(t, c), "", "EvilMSP"},
		{"owner", c.Owner(gwtest.H1, "operator"), gateway.RoleOwner, gwtest.H1},
		{"owner of hospital 2", c.Owner(gwtest.H2, "operator2"), gateway.RoleOwner, gwtest.H2},
		{"user", c.User(gwtest.H2, "dr", map[string]string{"role": "doctor", "trust": "2"}), gateway.RoleUser, gwtest.H2},
		{"authority", c.Member(gwtest.H1, "aa-operator", identity.RoleClient, map[string]string{gateway.RoleAttribute: "authority"}), gateway.RoleAuthority, gwtest.H1},
		{"auditor", c.Auditor, gateway.RoleAuditor, gwtest.RI},
		{"auditor the consortium did not approve", c.Member(gwtest.H2, "self-made-auditor", identity.RoleClient, map[string]string{gateway.AuditorAttribute: "true"}), "", gwtest.H2},
		{"admin", c.Member(gwtest.H2, "admin", identity.RoleAdmin, nil), gateway.RoleAdmin, gwtest.H2},
		{"client without a role", c.Member(gwtest.H1, "plain", identity.RoleClient, map[string]string{"role": "doctor"}), "", gwtest.H1},
		{"node", c.Member(gwtest.H1, "node0", identity.RoleNode, nil), "", gwtest.H1},
	}
	body := func(r gateway.Route) []byte {
		switch r.OperationID {
		case "uploadRecord", "updateRecord":
			b, _ := json.Marshal(api.UploadRequest{Document: doc(t, patient), Policy: testPolicy, Access: terms()})
			return b
		case "regrant":
			return []byte(`{"user":"0123456789abcdef0123456789abcdef"}`)
		case "recall":
			return []byte(`{}`)
		case "accessRecord":
			return []byte(`{"level":"low"}`)
		case "requestPackage", "reportActions":
			return []byte(`{}`)
		case "regrantRequest", "recallRequest":
			return []byte(`{"reason":""}`)
		case "enrolUser", "enrolCustodian":
			return []byte(`{"certificate":"x","time":"2026-01-01T00:00:00Z","signature":"AA=="}`)
		}
		return nil
	}
	path := func(p string) string {
		p = strings.ReplaceAll(p, ":id", up.RecordID)
		p = strings.ReplaceAll(p, ":level", "low")
		p = strings.ReplaceAll(p, ":requestID", "0123456789abcdef0123456789abcdef:req-1")
		return strings.ReplaceAll(p, ":cid", up.Levels[0].Address)
	}
	routes := c.Servers[gwtest.H1].Routes()
	for _, r := range routes {
		for _, who := range callers {
			b := body(r)
			ct := ""
			if b != nil {
				ct = api.JSON
			}
			status, err := c.Client(gwtest.H1, who.m).Do(ctx, r.Method, path(r.Path), ct, b, nil)
			var pe *client.ProblemError
			errors.As(err, &pe)
			var p *gateway.Principal
			if who.role != "" || (who.m != nil && who.org != "EvilMSP") {
				id, verr := c.Members.Identify(who.m.TLS.Leaf.Raw, time.Now())
				if verr != nil {
					t.Fatal(verr)
				}
				p = &gateway.Principal{ID: id, Role: who.role}
			}
			want, _ := r.Access.Allows(p, gwtest.H1)
			if who.org == "EvilMSP" && !r.Access.Public {
				want = http.StatusUnauthorized
			}
			switch {
			case want != 0 && status != want:
				t.Errorf("%s %s as %s: status %d, want %d", r.Method, r.Path, who.name, status, want)
			case want == 0 && status == http.StatusUnauthorized:
				t.Errorf("%s %s as %s: 401, but the role is allowed", r.Method, r.Path, who.name)
			case want == 0 && status == http.StatusForbidden && (pe == nil || pe.Reason == ""):
				t.Errorf("%s %s as %s: 403 (%v), but the role is allowed", r.Method, r.Path, who.name, err)
			}
		}
	}
}

func TestAuthorityRoutesOnlyWhereServed(t *testing.T) {
	c := newConsortium(t)
	u := c.User(gwtest.H2, "dr", map[string]string{"role": "doctor"})
	_, err := c.Client(gwtest.H2, u).AuthorityParams(context.Background())
	if pe := problemOf(t, err); pe.Status != http.StatusNotFound {
		t.Fatalf("authority params at hospital 2: %d, want 404", pe.Status)
	}
}
