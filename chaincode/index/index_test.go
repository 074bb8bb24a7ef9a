package index_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/medshare/medshare/chaincode/ccerr"
	"github.com/medshare/medshare/chaincode/index"
	"github.com/medshare/medshare/chaincode/internal/cctest"
	"github.com/medshare/medshare/chaincode/internal/page"
	"github.com/medshare/medshare/network/chaincode/chaincodetest"
)

func query(t *testing.T, m *cctest.Main, who any, fn string, args ...string) []byte {
	t.Helper()
	s := m.H1
	switch who {
	case "h2":
		s = m.H2
	case "auditor":
		s = m.Auditor
	case "admin":
		s = m.Admin
	}
	b, err := m.L.Evaluate(s, index.Name, fn, args...)
	if err != nil {
		t.Fatalf("%s: %v", fn, err)
	}
	return b
}

var txID = strings.Repeat("ab", 32)

func TestSideChainRegistry(t *testing.T) {
	m := cctest.NewMain(t)
	p := cctest.Decode[page.Page[index.SideChain]](t, query(t, m, "h2", "ListSideChains", "2", ""))
	q := cctest.Decode[page.Page[index.SideChain]](t, query(t, m, "h2", "ListSideChains", "2", p.Bookmark))
	if len(p.Items) != 2 || p.Items[0].Name != "side-high" || p.Items[1].Name != "side-low" || len(q.Items) != 1 || q.Items[0].Level != "medium" || q.Bookmark != "" {
		t.Fatalf("side chains = %+v / %+v", p, q)
	}
	sc := `{"name":"side-high","channel":"side-high","level":"high","nodes":[{"name":"node1.hospital2","org":"Hospital2MSP","address":"10.0.0.2:7051"}]}`
	res, err := m.L.Submit(m.Admin, index.Name, "RegisterSideChain", sc)
	if err != nil {
		t.Fatal(err)
	}
	got := cctest.Decode[index.SideChain](t, res.Payload)
	if len(got.Nodes) != 1 || got.Nodes[0].Org != "Hospital2MSP" || got.TxID != res.TxID || res.Events[0].Name != index.EventSideChain {
		t.Errorf("registered = %+v", got)
	}
	tests := []struct {
		who, arg, want string
	}{
		{"h1", sc, "caller: only a channel admin (role admin) may register side chains; the creator's role is client"},
		{"admin", `{"name":"Side_High","channel":"side-high","level":"high"}`, "sideChain.name: must be 1..64 characters of [a-z0-9.-], starting with a letter or digit"},
		{"admin", `{"name":"side-x","channel":"-x","level":"high"}`, "sideChain.channel: must be 1..64 characters of [a-z0-9.-], starting with a letter or digit"},
		{"admin", `{"name":"side-x","channel":"side-x","level":"secret"}`, "sideChain.level: must be one of high, medium, low"},
		{"admin", `{"name":"side-x","channel":"side-x","level":"low","nodes":[{"name":"n","org":"O","address":"10.0.0.2"}]}`, "sideChain.nodes[0].address: must be host:port with a port from 1 to 65535"},
		{"admin", `{"name":"side-x","channel":"side-x","level":"low","nodes":[{"name":"n","org":"O","address":"h:70000"}]}`, "sideChain.nodes[0].address: must be host:port with a port from 1 to 65535"},
		{"admin", `{"name":"side-x","channel":"side-x","level":"low","nodes":[{"name":"","org":"O","address":"h:1"}]}`, "sideChain.nodes[0].name: must be 1..128 bytes of UTF-8 text"},
		{"admin", `{"name":"side-x","channel":"side-x","level":"low","txID":"x"}`, "sideChain: registeredAt and txID are set by the chaincode"},
		{"admin", `{"name":"side-x","secret":1}`, `sideChain: invalid JSON: unknown field "secret"`},
	}
	for _, tt := range tests {
		who := m.H1
		if tt.who == "admin" {
			who = m.Admin
		}
		_, err := m.L.Submit(who, index.Name, "RegisterSideChain", tt.arg)
		cctest.WantErr(t, err, tt.want, nil)
	}
	_, err = m.L.Evaluate(m.H1, index.Name, "GetSideChain", "side-x")
	cctest.WantErr(t, err, "name: side chain side-x is not registered", ccerr.ErrNotFound)
}

func entry(levels ...string) string {
	var parts []string
	for i, l := range levels {
		parts = append(parts, fmt.Sprintf(`{"level":%q,"sideChain":"side-%s","txID":%q,"version":%d}`, l, l, txID, i+1))
	}
	return `{"levels":[` + strings.Join(parts, ",") + `],"policyVersion":1}`
}

func TestRecordIndex(t *testing.T) {
	m := cctest.NewMain(t)
	res, err := m.L.Submit(m.H1, index.Name, "PutRecord", "rec-1", entry("high", "medium", "low"))
	if err != nil {
		t.Fatal(err)
	}
	e := cctest.Decode[index.RecordEntry](t, res.Payload)
	if e.Owner != m.H1.ID() || e.OwnerMSP != "Hospital1MSP" || len(e.Levels) != 3 || !e.CreatedAt.Equal(m.L.Now()) {
		t.Fatalf("entry = %+v", e)
	}
	m.L.Advance(1e9)
	if _, err := m.L.Submit(m.H1, index.Name, "PutRecord", "rec-1", strings.Replace(entry("high"), `"policyVersion":1`, `"policyVersion":2`, 1)); err != nil {
		t.Fatal(err)
	}
	got := cctest.Decode[index.RecordEntry](t, query(t, m, "h2", "GetRecord", "rec-1"))
	if got.PolicyVersion != 2 || len(got.Levels) != 1 || got.CreatedAt.Equal(got.UpdatedAt) {
		t.Errorf("updated entry = %+v", got)
	}
	for i := range 3 {
		if _, err := m.L.Submit(m.H1, index.Name, "PutRecord", fmt.Sprintf("rec-%d", i+2), entry("low")); err != nil {
			t.Fatal(err)
		}
	}
	p := cctest.Decode[page.Page[index.RecordEntry]](t, query(t, m, "h2", "ListRecordsByOrg", "Hospital1MSP", "3", ""))
	if len(p.Items) != 3 || p.Bookmark == "" {
		t.Errorf("first page = %d items, bookmark %q", len(p.Items), p.Bookmark)
	}
	tests := []struct {
		who, id, entry, want string
		kind                 error
	}{
		{"h2", "rec-1", entry("high"), "caller: only the owner may update the index entry of record rec-1", ccerr.ErrForbidden},
		{"admin", "rec-9", entry("high"), "caller: only client identities may index records; the creator's role is admin", ccerr.ErrForbidden},
		{"h1", "rec 9", entry("high"), "recordID: must be 1..128 characters of [A-Za-z0-9._:-]", ccerr.ErrInvalidArgument},
		{"h1", "rec-9", `{"levels":[]}`, "entry.levels: must have 1..3 entries, got 0", ccerr.ErrInvalidArgument},
		{"h1", "rec-9", entry("high", "high"), "entry.levels[1].level: high is listed twice", ccerr.ErrInvalidArgument},
		{"h1", "rec-9", strings.Replace(entry("high"), "side-high", "side-x", 1), "entry.levels[0].sideChain: side chain side-x is not registered", ccerr.ErrNotFound},
		{"h1", "rec-9", strings.Replace(entry("high"), "side-high", "side-low", 1), "entry.levels[0].sideChain: side chain side-low stores low records, not high", ccerr.ErrInvalidArgument},
		{"h1", "rec-9", strings.Replace(entry("high"), txID, "abc", 1), "entry.levels[0].txID: must be a transaction id: 64 lowercase hexadecimal characters", ccerr.ErrInvalidArgument},
		{"h1", "rec-9", strings.Replace(entry("high"), `"version":1`, `"version":0`, 1), "entry.levels[0].version: must be at least 1", ccerr.ErrInvalidArgument},
	}
	for _, tt := range tests {
		who := m.H1
		switch tt.who {
		case "h2":
			who = m.H2
		case "admin":
			who = m.Admin
		}
		_, err := m.L.Submit(who, index.Name, "PutRecord", tt.id, tt.entry)
		cctest.WantErr(t, err, tt.want, tt.kind)
	}
}

func TestRequestLog(t *testing.T) {
	m := cctest.NewMain(t)
	for _, who := range []*struct{ id, owner string }{{"rec-1", "h1"}, {"rec-2", "h2"}} {
		s := m.H1
		if who.owner == "h2" {
			s = m.H2
		}
		if _, err := m.L.Submit(s, index.Name, "PutRecord", who.id, entry("high")); err != nil {
			t.Fatal(err)
		}
	}
	du := cctest.NewKey(t)
	link := func(cc string) string {
		return fmt.Sprintf(`{"sideChain":"side-high","chaincode":%q,"txID":%q}`, cc, txID)
	}
	req := func(id, kind, rec, outcome string) string {
		return fmt.Sprintf(`{"requestID":%q,"kind":%q,"recordID":%q,"requestor":%q,"outcome":%q,"links":[%s]}`, id, kind, rec, cctest.B64(du.DER), outcome, link("ptl"))
	}
	res, err := m.L.Submit(m.H1, index.Name, "LogRequest", req("acc-1", "access", "rec-1", "granted"))
	if err != nil {
		t.Fatal(err)
	}
	e := cctest.Decode[index.RequestEntry](t, res.Payload)
	if e.Requestor != du.Hash() || e.Owner != m.H1.ID() || len(e.Links) != 1 || res.Events[0].Name != index.EventRequest {
		t.Fatalf("entry = %+v", e)
	}
	m.L.Advance(1e9)
	if _, err := m.L.Submit(m.H1, index.Name, "LogRequest", req("req-1", "medshare", "rec-1", "recorded")); err != nil {
		t.Fatal(err)
	}
	if _, err := m.L.Submit(m.H2, index.Name, "LogRequest", req("acc-2", "access", "rec-2", "denied")); err != nil {
		t.Fatal(err)
	}
	byRec := cctest.Decode[page.Page[index.RequestEntry]](t, query(t, m, "h1", "ListRequestsByRecord", "rec-1", "10", ""))
	if len(byRec.Items) != 2 || byRec.Items[0].RequestID != "acc-1" || byRec.Items[1].Kind != "medshare" {
		t.Errorf("by record = %+v", byRec.Items)
	}
	byUser := cctest.Decode[page.Page[index.RequestEntry]](t, query(t, m, "auditor", "ListRequestsByRequestor", du.Hash(), "10", ""))
	if len(byUser.Items) != 3 {
		t.Errorf("by requestor = %d entries", len(byUser.Items))
	}
	if got := cctest.Decode[index.RequestEntry](t, query(t, m, "auditor", "GetRequest", "acc-2")); got.Outcome != "denied" {
		t.Errorf("GetRequest = %+v", got)
	}
	queries := []struct {
		fn   string
		args []string
		want string
	}{
		{"GetRequest", []string{"acc-2"}, "caller: only the owner, an admin or an auditor (medshare.auditor=true) may read request acc-2"},
		{"GetRequest", []string{"acc-9"}, "requestID: request acc-9 is not logged"},
		{"ListRequestsByRecord", []string{"rec-2", "10", ""}, "caller: only the owner, an admin or an auditor (medshare.auditor=true) may list a record's requests"},
		{"ListRequestsByRequestor", []string{du.Hash(), "10", ""}, "caller: only an admin or an auditor (medshare.auditor=true) may list a requestor's requests"},
	}
	for _, q := range queries {
		_, err := m.L.Evaluate(m.H1, index.Name, q.fn, q.args...)
		cctest.WantErr(t, err, q.want, nil)
	}
	tests := []struct{ arg, want string }{
		{req("acc-1", "access", "rec-1", "granted"), "request.requestID: request acc-1 is already logged"},
		{req("acc-3", "access", "rec-2", "granted"), "caller: only the owner of record rec-2 may log its requests"},
		{req("acc-3", "access", "rec-9", "granted"), "request.recordID: record rec-9 is not indexed"},
		{req("acc-3", "peek", "rec-1", "granted"), "request.kind: must be one of access, medshare"},
		{req("acc-3", "access", "rec-1", "maybe"), "request.outcome: must be one of granted, denied, recorded, refused"},
		{strings.Replace(req("acc-3", "access", "rec-1", "granted"), cctest.B64(du.DER), "someone", 1), "request.requestor: must be a user's key-hash (32 lowercase hexadecimal characters) or base64 PKIX DER ECDSA P-256 public key"},
		{strings.Replace(req("acc-3", "access", "rec-1", "granted"), `"chaincode":"ptl"`, `"chaincode":"index"`, 1), "request.links[0].chaincode: must be one of storage, ptl, provenance"},
		{strings.Replace(req("acc-3", "access", "rec-1", "granted"), `"sideChain":"side-high"`, `"sideChain":"side-x"`, 1), "request.links[0].sideChain: side chain side-x is not registered"},
		{strings.Replace(req("acc-3", "access", "rec-1", "granted"), link("ptl"), "", 1), "request.links: must have 1..16 entries, got 0"},
	}
	for _, tt := range tests {
		_, err := m.L.Submit(m.H1, index.Name, "LogRequest", tt.arg)
		cctest.WantErr(t, err, tt.want, nil)
	}
}

func TestIndexRefusesBeforeInit(t *testing.T) {
	l := chaincodetest.New("main")
	cctest.Deploy(t, l, index.Name, index.New)
	org := chaincodetest.NewOrg(t, "H1MSP")
	for _, call := range [][]string{{"GetRecord", "rec-1"}, {"ListSideChains", "1", ""}, {"LogRequest", "{}"}, {"RegisterSideChain", "{}"}} {
		_, err := l.Submit(org.Admin(t, "a"), index.Name, call[0], call[1:]...)
		cctest.WantErr(t, err, "index is not initialised on this channel: the channel admin must call Init first", ccerr.ErrNotInitialised)
	}
	if _, err := l.Submit(org.Admin(t, "a"), index.Name, "Init", "{}"); err != nil {
		t.Fatal(err)
	}
	_, err := l.Submit(org.Admin(t, "a"), index.Name, "Init", `{"sideChains":[{"name":"x"}]}`)
	cctest.WantErr(t, err, "config.sideChains[0].channel: must be 1..64 characters of [a-z0-9.-], starting with a letter or digit", ccerr.ErrInvalidArgument)
}
