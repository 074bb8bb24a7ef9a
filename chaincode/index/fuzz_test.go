package index_test

import (
	"testing"

	"github.com/medshare/medshare/chaincode/index"
	"github.com/medshare/medshare/chaincode/internal/cctest"
	"github.com/medshare/medshare/network/identity"
)

// FuzzIndex drives every index function with fuzzed arguments.
func FuzzIndex(f *testing.F) {
	m := cctest.NewMain(f)
	if _, err := m.L.Submit(m.H1, index.Name, "PutRecord", rec1, entry("high")); err != nil {
		f.Fatal(err)
	}
	calls := cctest.Calls("Init/1 GetSideChain/1 ListSideChains/2 PutRecord/2 GetRecord/1 ListRecordsByOrg/3 LogRequest/1 GetRequest/2 ListRequestsByRecord/3 ListRequestsByRequestor/3 SetGateway/2 GetGateway/1 ListGateways/2")
	who := []*identity.Signer{m.H1, m.H2, m.Auditor, m.Admin}
	f.Add(uint8(0), uint8(3), `{"sideChains":[{"name":"side-x","channel":"side-x","level":"low","nodes":[{"name":"n","org":"O","address":"h:1"}]}]}`, "", "")
	f.Add(uint8(3), uint8(0), rec2, entry("high", "low"), "")
	f.Add(uint8(6), uint8(0), `{"requestID":"a","kind":"access","recordID":"`+rec1+`","requestor":"00112233445566778899aabbccddeeff","outcome":"granted","links":[{"sideChain":"side-high","chaincode":"ptl","txID":"`+txID+`"}]}`, "", "")
	f.Add(uint8(5), uint8(1), "Hospital1MSP", "2", "")
	f.Add(uint8(9), uint8(2), "00112233445566778899aabbccddeeff", "5", "AAA")
	f.Add(uint8(10), uint8(3), "Hospital1MSP", "https://127.0.0.1:8443", "")
	f.Fuzz(func(t *testing.T, sel, by uint8, a, b, c string) {
		cctest.FuzzSubmit(t, m.L, index.Name, calls, who, sel, by, a, b, c)
	})
}
