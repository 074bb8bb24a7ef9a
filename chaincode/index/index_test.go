package index_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/medshare/medshare/chaincode/ccerr"
	"github.com/medshare/medshare/chaincode/index"
	"github.com/medshare/medshare/chaincode/internal/cctest"
	"github.com/medshare/medshare/chaincode/internal/page"
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
	// A majority moves side-high to hospital 2's node and drops side-low.
	cfg := m.Config()
	cfg.SideChains = []index.SideChain{{Name: "side-high", Channel: "side-high", Level: "high", Nodes: []index.Node{{Name: "node1.hospital2", Org: "Hospital2MSP", Address: "10.0.0.2:7051"}}}, cfg.SideChains[1]}
	m.MustConfigure(index.Name, cfg, m.Admin2, m.Admin3)
	got := cctest.Decode[index.SideChain](t, query(t, m, "h1", "GetSideChain", "side-high"))
	if len(got.Nodes) != 1 || got.Nodes[0].Org != "Hospital2MSP" {
		t.Errorf("registered = %+v", got)
	}
	_, err := m.L.Evaluate(m.H1, index.Name, "GetSideChain", "side-low")
	cctest.WantErr(t, err, "name: side chain side-low is not registered", ccerr.ErrNotFound)
	sc := func(js string) string { return `{"sideChains":[` + js + `]}` }
	tests := []struct{ cfg, want string }{
		{sc(`{"name":"Side_High","channel":"side-high","level":"high"}`), "config.sideChains[0].name: must be 1..64 characters of [a-z0-9.-], starting with a letter or digit"},
		{sc(`{"name":"side-x","channel":"-x","level":"high"}`), "config.sideChains[0].channel: must be 1..64 characters of [a-z0-9.-], starting with a letter or digit"},
		{sc(`{"name":"side-x","channel":"side-x","level":"secret"}`), "config.sideChains[0].level: must be one of high, medium, low"},
		{sc(`{"name":"side-x","channel":"side-x","level":"low","nodes":[{"name":"n","org":"O","address":"10.0.0.2"}]}`), "config.sideChains[0].nodes[0].address: must be host:port with a port from 1 to 65535"},
		{sc(`{"name":"side-x","channel":"side-x","level":"low","nodes":[{"name":"n","org":"O","address":"h:70000"}]}`), "config.sideChains[0].nodes[0].address: must be host:port with a port from 1 to 65535"},
		{sc(`{"name":"side-x","channel":"side-x","level":"low","nodes":[{"name":"","org":"O","address":"h:1"}]}`), "config.sideChains[0].nodes[0].name: must be 1..128 bytes of UTF-8 text"},
		{sc(`{"name":"side-x","channel":"side-x","level":"low","txID":"x"}`), "config.sideChains[0]: registeredAt and txID are set by the chaincode"},
		{sc(`{"name":"side-x","channel":"side-x","level":"low"},{"name":"side-x","channel":"side-y","level":"low"}`), "config.sideChains[1].name: side chain side-x is listed twice"},
		{sc(`{"name":"side-x","secret":1}`), `config: invalid JSON: unknown field "secret"`},
	}
	for _, tt := range tests {
		err := m.Configure(index.Name, tt.cfg)
		cctest.WantErr(t, err, "lifecycle: init of index: chaincode index: "+tt.want, nil)
	}
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
	res, err := m.L.Submit(m.H1, index.Name, "PutRecord", rec1, entry("high", "medium", "low"))
	if err != nil {
		t.Fatal(err)
	}
	e := cctest.Decode[index.RecordEntry](t, res.Payload)
	if e.Owner != m.H1.ID() || e.OwnerMSP != "Hospital1MSP" || len(e.Levels) != 3 || !e.CreatedAt.Equal(m.L.Now()) {
		t.Fatalf("entry = %+v", e)
	}
	m.L.Advance(1e9)
	if _, err := m.L.Submit(m.H1, index.Name, "PutRecord", rec1, strings.Replace(entry("high"), `"policyVersion":1`, `"policyVersion":2`, 1)); err != nil {
		t.Fatal(err)
	}
	got := cctest.Decode[index.RecordEntry](t, query(t, m, "h2", "GetRecord", rec1))
	if got.PolicyVersion != 2 || len(got.Levels) != 1 || got.CreatedAt.Equal(got.UpdatedAt) {
		t.Errorf("updated entry = %+v", got)
	}
	for i := range 3 {
		if _, err := m.L.Submit(m.H1, index.Name, "PutRecord", cctest.H1Rec(fmt.Sprintf("rec-%d", i+2)), entry("low")); err != nil {
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
		{"h2", rec1, entry("high"), "caller: only the owner may update the index entry of record " + rec1, ccerr.ErrForbidden},
		{"admin", rec9, entry("high"), "caller: only client identities may index records; the creator's role is admin", ccerr.ErrForbidden},
		{"h1", "rec 9", entry("high"), "recordID: must be 1..128 characters of [A-Za-z0-9._:-]", ccerr.ErrInvalidArgument},
		{"h1", rec9, `{"levels":[]}`, "entry.levels: must have 1..3 entries, got 0", ccerr.ErrInvalidArgument},
		{"h1", rec9, entry("high", "high"), "entry.levels[1].level: high is listed twice", ccerr.ErrInvalidArgument},
		{"h1", rec9, strings.Replace(entry("high"), "side-high", "side-x", 1), "entry.levels[0].sideChain: side chain side-x is not registered", ccerr.ErrNotFound},
		{"h1", rec9, strings.Replace(entry("high"), "side-high", "side-low", 1), "entry.levels[0].sideChain: side chain side-low stores low records, not high", ccerr.ErrInvalidArgument},
		{"h1", rec9, strings.Replace(entry("high"), txID, "abc", 1), "entry.levels[0].txID: must be a transaction id: 64 lowercase hexadecimal characters", ccerr.ErrInvalidArgument},
		{"h1", rec9, strings.Replace(entry("high"), `"version":1`, `"version":0`, 1), "entry.levels[0].version: must be at least 1", ccerr.ErrInvalidArgument},
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
	for _, who := range []*struct{ id, owner string }{{rec1, "h1"}, {rec2, "h2"}} {
		s := m.H1
		if who.owner == "h2" {
			s = m.H2
		}
		if _, err := m.L.Submit(s, index.Name, "PutRecord", who.id, entry("high")); err != nil {
			t.Fatal(err)
		}
	}
	du := cctest.NewKey(t).Hash() // a user id (32 hex digits)
	link := func(cc string) string {
		return fmt.Sprintf(`{"sideChain":"side-high","chaincode":%q,"txID":%q}`, cc, txID)
	}
	req := func(id, kind, rec, outcome string) string {
		return fmt.Sprintf(`{"requestID":%q,"kind":%q,"recordID":%q,"requestor":%q,"outcome":%q,"links":[%s]}`, id, kind, rec, du, outcome, link("ptl"))
	}
	res, err := m.L.Submit(m.H1, index.Name, "LogRequest", req("acc-1", "access", rec1, "granted"))
	if err != nil {
		t.Fatal(err)
	}
	e := cctest.Decode[index.RequestEntry](t, res.Payload)
	if e.Requestor != du || e.Owner != m.H1.ID() || len(e.Links) != 1 || res.Events[0].Name != index.EventRequest {
		t.Fatalf("entry = %+v", e)
	}
	m.L.Advance(1e9)
	if _, err := m.L.Submit(m.H1, index.Name, "LogRequest", req("req-1", "medshare", rec1, "recorded")); err != nil {
		t.Fatal(err)
	}
	if _, err := m.L.Submit(m.H2, index.Name, "LogRequest", req("acc-2", "access", rec2, "denied")); err != nil {
		t.Fatal(err)
	}
	byRec := cctest.Decode[page.Page[index.RequestEntry]](t, query(t, m, "h1", "ListRequestsByRecord", rec1, "10", ""))
	if len(byRec.Items) != 2 || byRec.Items[0].RequestID != "acc-1" || byRec.Items[1].Kind != "medshare" {
		t.Errorf("by record = %+v", byRec.Items)
	}
	byUser := cctest.Decode[page.Page[index.RequestEntry]](t, query(t, m, "auditor", "ListRequestsByRequestor", du, "10", ""))
	if len(byUser.Items) != 3 {
		t.Errorf("by requestor = %d entries", len(byUser.Items))
	}
	if got := cctest.Decode[index.RequestEntry](t, query(t, m, "auditor", "GetRequest", rec2, "acc-2")); got.Outcome != "denied" {
		t.Errorf("GetRequest = %+v", got)
	}
	queries := []struct {
		fn   string
		args []string
		want string
	}{
		{"GetRequest", []string{rec2, "acc-2"}, "caller: only the owner, the user it concerns or an auditor the channel's configuration names may read request acc-2"},
		{"GetRequest", []string{rec2, "acc-9"}, "requestID: request acc-9 is not logged for record " + rec2},
		{"GetRequest", []string{rec1, "acc-2"}, "requestID: request acc-2 is not logged for record " + rec1},
		{"ListRequestsByRecord", []string{rec2, "10", ""}, "caller: only the owner or an auditor the channel's configuration names may list a record's requests"},
		{"ListRequestsByRequestor", []string{du, "10", ""}, "caller: only the user it concerns or an auditor the channel's configuration names may list a requestor's requests"},
	}
	for _, q := range queries {
		_, err := m.L.Evaluate(m.H1, index.Name, q.fn, q.args...)
		cctest.WantErr(t, err, q.want, nil)
	}
	tests := []struct{ arg, want string }{
		{req("acc-1", "access", rec1, "granted"), "request.requestID: request acc-1 is already logged for record " + rec1},
		{req("acc-3", "access", rec2, "granted"), "caller: only the owner of record " + rec2 + " may log its requests"},
		{req("acc-3", "access", rec9, "granted"), "request.recordID: record " + rec9 + " is not indexed"},
		{req("acc-3", "peek", rec1, "granted"), "request.kind: must be one of access, medshare"},
		{req("acc-3", "access", rec1, "maybe"), "request.outcome: must be one of granted, denied, recorded, refused"},
		{strings.Replace(req("acc-3", "access", rec1, "granted"), du, "someone", 1), "request.requestor: must be a user id: the identity hash of the user's enrolled identity, 32 lowercase hexadecimal characters"},
		{strings.Replace(req("acc-3", "access", rec1, "granted"), `"chaincode":"ptl"`, `"chaincode":"index"`, 1), "request.links[0].chaincode: must be one of storage, ptl, provenance"},
		{strings.Replace(req("acc-3", "access", rec1, "granted"), `"sideChain":"side-high"`, `"sideChain":"side-x"`, 1), "request.links[0].sideChain: side chain side-x is not registered"},
		{strings.Replace(req("acc-3", "access", rec1, "granted"), link("ptl"), "", 1), "request.links: must have 1..16 entries, got 0"},
	}
	for _, tt := range tests {
		_, err := m.L.Submit(m.H1, index.Name, "LogRequest", tt.arg)
		cctest.WantErr(t, err, tt.want, nil)
	}
}

func TestIndexRefusesBeforeInit(t *testing.T) {
	c := cctest.NewConsortium(t, "main")
	cctest.Deploy(t, c.L, index.Name, index.New)
	for _, call := range [][]string{{"GetRecord", rec1}, {"ListSideChains", "1", ""}, {"LogRequest", "{}"}, {"GetSideChain", "side-high"}} {
		_, err := c.L.Submit(c.Admin, index.Name, call[0], call[1:]...)
		cctest.WantErr(t, err, "index is not initialised on this channel: the channel admin must call Init first", ccerr.ErrNotInitialised)
	}
	_, err := c.L.Submit(c.Admin, index.Name, "Init", "{}")
	cctest.WantErr(t, err, "caller: index is configured only through the chaincode lifecycle, by a definition a majority of the channel's organisations approved: chaincode _lifecycle: lifecycle: chaincode index is not committed", ccerr.ErrForbidden)
	c.MustConfigure(index.Name, "{}")
	err = c.Configure(index.Name, `{"sideChains":[{"name":"x"}]}`)
	cctest.WantErr(t, err, "lifecycle: init of index: chaincode index: config.sideChains[0].channel: must be 1..64 characters of [a-z0-9.-], starting with a letter or digit", ccerr.ErrInvalidArgument)
}

var rec1, rec2, rec9 = cctest.H1Rec("rec-1"), cctest.H2Rec("rec-2"), cctest.H1Rec("rec-9")
