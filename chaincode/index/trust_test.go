package index_test

// Regression tests of issue 11's holes in the index chaincode.

import (
	"strings"
	"testing"

	"github.com/medshare/medshare/chaincode/ccerr"
	"github.com/medshare/medshare/chaincode/index"
	"github.com/medshare/medshare/chaincode/internal/cctest"
	"github.com/medshare/medshare/chaincode/txbuild"
	"github.com/medshare/medshare/network/identity"
)

func idHash(id string) string { return txbuild.UserID(id) }

// Hole 1: any admin could replace a registered side chain, including its
// node addresses. The registry is configuration now: a majority changes it.
func TestOneOrganisationCannotRedirectASideChain(t *testing.T) {
	m := cctest.NewMain(t)
	evil := `{"name":"side-high","channel":"side-high","level":"high","nodes":[{"name":"evil","org":"Hospital2MSP","address":"203.0.113.9:7051"}]}`
	_, err := m.L.Submit(m.Admin2, index.Name, "RegisterSideChain", evil)
	cctest.WantErr(t, err, `Function RegisterSideChain not found in contract index`, nil)
	cfg := m.Config()
	cfg.SideChains[0].Nodes = []index.Node{{Name: "evil", Org: "Hospital2MSP", Address: "203.0.113.9:7051"}}
	_, err = m.L.Submit(m.Admin2, index.Name, "Init", cctest.JSON(t, cfg))
	cctest.WantErr(t, err, "config: is not the init argument of index's committed definition (sequence 1); after deployment the configuration changes only through a new definition whose init call Init carries it, approved by a majority of the channel's organisations and committed through the lifecycle", ccerr.ErrForbidden)
	err = m.Configure(index.Name, cfg, m.Admin2)
	cctest.WantErr(t, err, "lifecycle: index sequence 2 is approved by no majority of the 3 organisations", nil)
	if sc := cctest.Decode[index.SideChain](t, query(t, m, "h2", "GetSideChain", "side-high")); sc.Nodes[0].Address != "127.0.0.1:7051" {
		t.Fatalf("side-high after one organisation's attempts = %+v", sc)
	}
}

// Hole 6: record ids went to whoever indexed them first.
func TestIndexedRecordIDsBelongToTheirOwner(t *testing.T) {
	m := cctest.NewMain(t)
	_, err := m.L.Submit(m.H2, index.Name, "PutRecord", rec1, entry("high"))
	cctest.WantErr(t, err, "recordID: belongs to identity hash "+idHash(cctest.H1ID)+"; ids of the caller (the record's owner) start with "+idHash(cctest.H2ID)+":", ccerr.ErrForbidden)
	if _, err := m.L.Submit(m.H1, index.Name, "PutRecord", rec1, entry("high")); err != nil {
		t.Fatal(err)
	}
}

// Hole 5: request logs were readable by any admin and any self-declared
// auditor; a requestor could not read its own.
func TestRequestLogReadsAreScoped(t *testing.T) {
	m := cctest.NewMain(t)
	if _, err := m.L.Submit(m.H1, index.Name, "PutRecord", rec1, entry("high")); err != nil {
		t.Fatal(err)
	}
	doctor := m.Org2.Client(t, "dr-bob", nil)
	user := idHash(doctor.ID())
	req := `{"requestID":"acc-1","kind":"access","recordID":"` + rec1 + `","requestor":"` + user + `","outcome":"granted","links":[{"sideChain":"side-high","chaincode":"ptl","txID":"` + txID + `"}]}`
	if _, err := m.L.Submit(m.H1, index.Name, "LogRequest", req); err != nil {
		t.Fatal(err)
	}
	selfMade := m.Org2.Client(t, "self-made-auditor", map[string]string{"medshare.auditor": "true"})
	for _, who := range []*identity.Signer{m.Admin, m.Admin2, selfMade, m.H2} {
		_, err := m.L.Evaluate(who, index.Name, "GetRequest", rec1, "acc-1")
		cctest.WantErr(t, err, "caller: only the owner, the user it concerns or an auditor the channel's configuration names may read request acc-1", ccerr.ErrForbidden)
		_, err = m.L.Evaluate(who, index.Name, "ListRequestsByRequestor", user, "10", "")
		cctest.WantErr(t, err, "caller: only the user it concerns or an auditor the channel's configuration names may list a requestor's requests", ccerr.ErrForbidden)
	}
	for _, who := range []*identity.Signer{m.H1, doctor, m.Auditor} {
		if _, err := m.L.Evaluate(who, index.Name, "GetRequest", rec1, "acc-1"); err != nil {
			t.Errorf("GetRequest by %s: %v", who.ID(), err)
		}
	}
	if _, err := m.L.Evaluate(doctor, index.Name, "ListRequestsByRequestor", user, "10", ""); err != nil {
		t.Errorf("the requestor's own listing: %v", err)
	}
}

// Request ids were global: another owner could log an access id it saw on
// a side chain under a record of its own before the record's owner logged
// it, so the owner's log failed ("already logged") and the id pointed an
// auditor at the squatter's record. Ids are now scoped by record.
func TestRequestIDsCannotBeTakenByAnotherOwner(t *testing.T) {
	m := cctest.NewMain(t)
	if _, err := m.L.Submit(m.H1, index.Name, "PutRecord", rec1, entry("high")); err != nil {
		t.Fatal(err)
	}
	if _, err := m.L.Submit(m.H2, index.Name, "PutRecord", rec2, entry("high")); err != nil {
		t.Fatal(err)
	}
	user := idHash(m.Org2.Client(t, "dr-bob", nil).ID())
	req := func(rec, outcome string) string {
		return `{"requestID":"acc-1","kind":"access","recordID":"` + rec + `","requestor":"` + user + `","outcome":"` + outcome + `","links":[{"sideChain":"side-high","chaincode":"ptl","txID":"` + txID + `"}]}`
	}
	// Hospital 2 front-runs hospital 1's log of access acc-1.
	if _, err := m.L.Submit(m.H2, index.Name, "LogRequest", req(rec2, "denied")); err != nil {
		t.Fatal(err)
	}
	if _, err := m.L.Submit(m.H1, index.Name, "LogRequest", req(rec1, "granted")); err != nil {
		t.Fatalf("the owner's own log of acc-1: %v", err)
	}
	got := cctest.Decode[index.RequestEntry](t, query(t, m, "auditor", "GetRequest", rec1, "acc-1"))
	if got.Owner != m.H1.ID() || got.RecordID != rec1 || got.Outcome != index.OutcomeGranted {
		t.Fatalf("request acc-1 of %s = %+v; want hospital 1's granted entry", rec1, got)
	}
	// Neither owner can log under the other's record.
	_, err := m.L.Submit(m.H2, index.Name, "LogRequest", strings.Replace(req(rec1, "denied"), "acc-1", "acc-2", 1))
	cctest.WantErr(t, err, "caller: only the owner of record "+rec1+" may log its requests", ccerr.ErrForbidden)
}
