package gateway_test

import (
	"context"
	"strings"
	"testing"

	"github.com/medshare/medshare/gateway"
	"github.com/medshare/medshare/gateway/api"
	"github.com/medshare/medshare/gateway/internal/gwtest"
	"github.com/medshare/medshare/network/identity"
)

// TestNoRouteAnswers5xxToBadInput sends every route, as a caller its
// access rules allow, hostile path parameters, bodies and media types: each
// answer is a 4xx problem of a documented type, never a 5xx, and nothing is
// submitted or pinned.
func TestNoRouteAnswers5xxToBadInput(t *testing.T) {
	c := newConsortium(t)
	ctx := context.Background()
	as := map[gateway.Role]*gwtest.Member{
		gateway.RoleOwner:     c.Owner(gwtest.H1, "operator"),
		gateway.RoleUser:      c.User(gwtest.H2, "dr", map[string]string{"role": "doctor"}),
		gateway.RoleAuthority: c.Member(gwtest.H1, "aa-op", identity.RoleClient, map[string]string{gateway.RoleAttribute: "authority"}),
		gateway.RoleAuditor:   c.Auditor,
		gateway.RoleAdmin:     c.Admin(gwtest.H1),
	}
	known := map[string]bool{}
	for _, typ := range []string{gateway.ProblemBadRequest, gateway.ProblemUnauthenticated, gateway.ProblemForbidden, gateway.ProblemNotFound,
		gateway.ProblemMethod, gateway.ProblemConflict, gateway.ProblemTooLarge, gateway.ProblemMediaType, gateway.ProblemInvalid,
		gateway.ProblemMisdirected} {
		known[typ] = true
	}
	ids := []string{"..", "a%00b", strings.Repeat("z", 129), "0123456789abcdef0123456789abcdef:json.nothing", "%2e%2e%2f"}
	bodies := []string{"", "{", "[]", "null", `"x"`, `{"x":1}`, `{"a":1,"a":1}`, strings.Repeat("[", 11000),
		`{"document":"` + strings.Repeat("A", 1<<20) + `"}`, "\x00\xff\xfe"}
	types := []string{api.JSON, "text/plain", ""}
	before, pins := len(submitted(c)), len(c.Objects[gwtest.H1].Pinned())
	n := 0
	for _, r := range c.Servers[gwtest.H1].Routes() {
		if r.Access.Public || (r.Method == "GET" && !strings.Contains(r.Path, ":")) {
			continue // nothing of the caller's to be bad
		}
		who := as[r.Access.Roles[0]]
		for _, id := range ids {
			path := strings.NewReplacer(":id", id, ":level", "low", ":cid", id, ":msp", id).Replace(r.Path)
			for _, b := range bodies {
				for _, ct := range types {
					if r.Method == "GET" && (b != "" || ct != "") {
						continue
					}
					n++
					status, err := c.Client(gwtest.H1, who).Do(ctx, r.Method, path, ct, []byte(b), nil)
					if err == nil && r.OperationID != "rotateEpoch" {
						t.Errorf("%s %s (%.20q, %s): %d, no problem", r.Method, path, b, ct, status)
						continue
					}
					if err == nil {
						continue
					}
					pe := problemOf(t, err)
					if pe.Status >= 500 || pe.Status < 400 || !known[pe.Type] {
						t.Errorf("%s %.60s (%.20q, %s): %d %s %s", r.Method, path, b, ct, pe.Status, pe.Type, pe.Detail)
					}
				}
			}
		}
	}
	if calls := submitted(c)[before:]; len(calls) != 0 {
		t.Fatalf("bad input submitted %d transactions: %v", len(calls), calls)
	}
	if d := len(c.Objects[gwtest.H1].Pinned()) - pins; d != 0 {
		t.Fatalf("bad input pinned %d objects", d)
	}
	t.Logf("%d hostile requests", n)
}
