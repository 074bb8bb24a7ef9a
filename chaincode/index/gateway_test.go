package index_test

import (
	"testing"

	"github.com/medshare/medshare/chaincode/ccerr"
	"github.com/medshare/medshare/chaincode/index"
	"github.com/medshare/medshare/chaincode/internal/cctest"
	"github.com/medshare/medshare/chaincode/internal/page"
	"github.com/medshare/medshare/network/identity"
)

// TestGatewayRegistry: an organisation's administrator registers and
// changes its gateway's URL; every member reads it.
func TestGatewayRegistry(t *testing.T) {
	m := cctest.NewMain(t)
	_, err := m.L.Evaluate(m.H2, index.Name, "GetGateway", "Hospital1MSP")
	cctest.WantErr(t, err, "org: the gateway of Hospital1MSP is not registered", ccerr.ErrNotFound)
	if _, err := m.L.Submit(m.Admin, index.Name, "SetGateway", "Hospital1MSP", "https://127.0.0.1:8443/"); err != nil {
		t.Fatal(err)
	}
	g := cctest.Decode[index.Gateway](t, query(t, m, "h2", "GetGateway", "Hospital1MSP"))
	if g.Org != "Hospital1MSP" || g.URL != "https://127.0.0.1:8443" || g.Version != 1 || g.SetBy != m.Admin.ID() || g.TxID == "" || g.At.IsZero() {
		t.Fatalf("registered = %+v", g)
	}
	if _, err := m.L.Submit(m.Admin, index.Name, "SetGateway", "Hospital1MSP", "https://gw.hospital1.example"); err != nil {
		t.Fatal(err)
	}
	if _, err := m.L.Submit(m.Admin2, index.Name, "SetGateway", "Hospital2MSP", "https://[::1]:9443"); err != nil {
		t.Fatal(err)
	}
	g = cctest.Decode[index.Gateway](t, query(t, m, "h1", "GetGateway", "Hospital1MSP"))
	if g.URL != "https://gw.hospital1.example" || g.Version != 2 {
		t.Fatalf("after a change = %+v", g)
	}
	p := cctest.Decode[page.Page[index.Gateway]](t, query(t, m, "h1", "ListGateways", "1", ""))
	q := cctest.Decode[page.Page[index.Gateway]](t, query(t, m, "h1", "ListGateways", "1", p.Bookmark))
	if len(p.Items) != 1 || p.Items[0].Org != "Hospital1MSP" || len(q.Items) != 1 || q.Items[0].URL != "https://[::1]:9443" || q.Bookmark != "" {
		t.Fatalf("listing = %+v / %+v", p, q)
	}
	for _, bad := range []string{
		"", "http://127.0.0.1:8443", "https://", "https://:8443", "https://h:0", "https://h:65536", "https://h:", "https://h/api",
		"https://h?x=1", "https://h#f", "https://u:p@h", "https://h:1/?", "https://h x", "ftp://h", "//h:1", "https:h",
		"https://" + string(make([]byte, 250)),
	} {
		_, err := m.L.Submit(m.Admin, index.Name, "SetGateway", "Hospital1MSP", bad)
		cctest.WantErr(t, err, "url: must be https://host[:port] (no path, query, fragment or user information), at most 255 bytes", ccerr.ErrInvalidArgument)
	}
	g = cctest.Decode[index.Gateway](t, query(t, m, "h1", "GetGateway", "Hospital1MSP"))
	if g.Version != 2 {
		t.Fatalf("refused changes wrote: %+v", g)
	}
}

// TestOnlyTheOrganisationsAdminRegistersItsGateway: another
// organisation's administrator, the organisation's own client identities
// (its gateway, a doctor, an operator) and a node cannot set or redirect
// an organisation's gateway.
func TestOnlyTheOrganisationsAdminRegistersItsGateway(t *testing.T) {
	m := cctest.NewMain(t)
	if _, err := m.L.Submit(m.Admin, index.Name, "SetGateway", "Hospital1MSP", "https://127.0.0.1:8443"); err != nil {
		t.Fatal(err)
	}
	doctor := m.Org1.Client(t, "dr-alice", map[string]string{"medshare.role": "user"})
	node := m.Org1.Member(t, "node0", identity.RoleNode, nil)
	tests := []struct {
		name string
		who  *identity.Signer
		want string
	}{
		{"another organisation's admin", m.Admin2, "caller: only an administrator of Hospital1MSP may register its gateway; the caller is an administrator of Hospital2MSP"},
		{"a third organisation's admin", m.Admin3, "caller: only an administrator of Hospital1MSP may register its gateway; the caller is an administrator of ResearchMSP"},
		{"the organisation's gateway", m.H1, "caller: only a channel admin (role admin) may register an organisation's gateway; the creator's role is client"},
		{"the organisation's doctor", doctor, "caller: only a channel admin (role admin) may register an organisation's gateway; the creator's role is client"},
		{"the organisation's node", node, "caller: only a channel admin (role admin) may register an organisation's gateway; the creator's role is node"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := m.L.Submit(tt.who, index.Name, "SetGateway", "Hospital1MSP", "https://203.0.113.9:8443")
			cctest.WantErr(t, err, tt.want, ccerr.ErrForbidden)
		})
	}
	g := cctest.Decode[index.Gateway](t, query(t, m, "h2", "GetGateway", "Hospital1MSP"))
	if g.URL != "https://127.0.0.1:8443" || g.Version != 1 {
		t.Fatalf("after the attempts = %+v", g)
	}
}
