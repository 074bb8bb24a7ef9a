package gateway_test

import (
	"os"
	"strings"
	"testing"

	"github.com/medshare/medshare/gateway"
	"github.com/medshare/medshare/gateway/internal/gwtest"
	"github.com/medshare/medshare/network/identity"
)

// TestAPIDocMatrix keeps the route × role matrix of docs/api.md equal to the
// route table: one row per route, a mark per role as Access.Allows decides.
func TestAPIDocMatrix(t *testing.T) {
	raw, err := os.ReadFile("../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string][]string{}
	for _, line := range strings.Split(string(raw), "\n") {
		cells := strings.Split(strings.Trim(line, "| "), " | ")
		if len(cells) != 9 || (cells[0] != "GET" && cells[0] != "POST" && cells[0] != "PUT") {
			continue
		}
		rows[cells[0]+" "+strings.Trim(cells[1], "`")] = cells[3:]
	}
	c := gwtest.New(t)
	routes := c.Servers[gwtest.H1].Routes()
	if len(rows) != len(routes) {
		t.Errorf("docs/api.md lists %d routes, the router has %d", len(rows), len(routes))
	}
	member := func(role gateway.Role, org string) *gateway.Principal {
		var m *gwtest.Member
		if role == gateway.RoleAdmin {
			m = c.Member(org, "x", identity.RoleAdmin, nil)
		} else {
			m = c.Member(org, "x", identity.RoleClient, map[string]string{gateway.RoleAttribute: string(role)})
		}
		return &gateway.Principal{ID: m.Signer.Identity, Role: role}
	}
	roles := []gateway.Role{gateway.RoleOwner, gateway.RoleUser, gateway.RoleAuthority, gateway.RoleAuditor, gateway.RoleAdmin}
	for _, r := range routes {
		key := r.Method + " " + openapiPath(r.Path)
		cells, ok := rows[key]
		if !ok {
			t.Errorf("route %s is not in docs/api.md's matrix", key)
			continue
		}
		for i, role := range roles {
			st, _ := r.Access.Allows(member(role, gwtest.H1), gwtest.H1)
			foreign, _ := r.Access.Allows(member(role, gwtest.H2), gwtest.H1)
			want := "—"
			switch {
			case st == 0 && foreign == 0:
				want = "✓"
			case st == 0:
				want = "✓¹"
			}
			if cells[i] != want {
				t.Errorf("%s, role %s: docs/api.md says %q, the route table %q", key, role, cells[i], want)
			}
		}
		st, _ := r.Access.Allows(nil, gwtest.H1)
		want := "—"
		if st == 0 {
			want = "✓"
		}
		if cells[5] != want {
			t.Errorf("%s without a certificate: docs/api.md says %q, the route table %q", key, cells[5], want)
		}
	}
}
