package provenance_test

import (
	"testing"
	"time"

	"github.com/medshare/medshare/chaincode/internal/cctest"
	"github.com/medshare/medshare/chaincode/provenance"
	"github.com/medshare/medshare/chaincode/txbuild"
	"github.com/medshare/medshare/network/identity"
)

// FuzzProvenance drives every provenance function with fuzzed arguments,
// starting from valid requests, reports and decisions.
func FuzzProvenance(f *testing.F) {
	fx := &fixture{Side: cctest.NewSide(f, "low"), reportKey: cctest.NewKey(f)}
	fx.requestor = fx.NewUser(doctor...)
	for _, id := range []string{rec1, rec2} {
		fx.recs = append(fx.recs, fx.Store(fx.H1, id))
		fx.SetPolicy(fx.H1, id, fx.Policy(doctor...))
	}
	in := fx.request(fx.requestor, fx.H1, req1, []string{"read"}, []string{"copy"}, nil)
	fx.Request(in)
	calls := cctest.Calls("Request/1 Report/1 SetIgnored/3 Regrant/3 Recall/3 Evidence/2 GetRequest/1 GetSideBlock/2 ListSideBlocks/3 ListThread/3 ListByOwner/2 VerifyThread/3 VerifyRequest/1 Init/1 GetConfig/0 ReadAs/3")
	who := []*identity.Signer{fx.H1, fx.H2, fx.Auditor, fx.Admin}
	f.Add(uint8(0), uint8(0), cctest.JSON(f, fx.request(fx.requestor, fx.H1, req2, []string{"read", "write"}, nil, nil)), "", "")
	f.Add(uint8(1), uint8(0), cctest.JSON(f, fx.report(fx.H1, in, 1, "read", "copy")), "", "")
	f.Add(uint8(1), uint8(0), cctest.JSON(f, fx.report(fx.H1, in, 2, "move")), "", "")
	f.Add(uint8(2), uint8(0), req1, `["read"]`, fx.decision(req1, provenance.KindIgnore, []string{"read"}, ""))
	f.Add(uint8(3), uint8(0), req1, "ok", fx.decision(req1, provenance.KindRegrant, nil, "ok"))
	f.Add(uint8(4), uint8(0), req1, "", fx.decision(req1, provenance.KindRecall, nil, ""))
	f.Add(uint8(7), uint8(2), req1, "1", "")
	f.Add(uint8(11), uint8(2), fx.requestor.ID(), "1:0", "10")
	f.Add(uint8(13), uint8(3), `{"level":"low","maxClockSkew":"1m"}`, "", "")
	w, err := txbuild.SignWarrant(fx.Auditor, txbuild.WarrantInput{MSP: fx.Auditor.MSPID(), Certificate: fx.Auditor.Bytes(), Relay: fx.H2.ID(),
		NotBefore: fx.L.Now().Add(-time.Minute), NotAfter: fx.L.Now().Add(50 * time.Minute)})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(uint8(15), uint8(1), w, "ListThread", `["`+fx.requestor.ID()+`","10",""]`)
	f.Add(uint8(15), uint8(1), w, "VerifyRequest", `["`+req1+`"]`)
	f.Fuzz(func(t *testing.T, sel, by uint8, a, b, c string) {
		cctest.FuzzSubmit(t, fx.L, provenance.Name, calls, who, sel, by, a, b, c)
	})
}
