package storage_test

import (
	"testing"

	"github.com/medshare/medshare/chaincode/internal/cctest"
	"github.com/medshare/medshare/chaincode/storage"
	"github.com/medshare/medshare/network/identity"
)

// FuzzStorage drives every storage function with fuzzed arguments.
func FuzzStorage(f *testing.F) {
	s := cctest.NewSide(f, "high")
	s.Store(s.H1, rec1)
	calls := cctest.Calls("Store/6 GetRecord/1 History/3 ListByOwner/3 ListByTime/4 Init/1 GetConfig/0")
	who := []*identity.Signer{s.H1, s.H2, s.Auditor, s.Admin}
	good := s.StoreArgs(s.H1, rec2, 1, "")
	f.Add(uint8(0), uint8(0), good[0], good[1], good[2], good[3], good[4], good[5])
	f.Add(uint8(0), uint8(0), rec1, "2", good[2], good[3], good[4], good[5])
	f.Add(uint8(1), uint8(1), rec1, "", "", "", "", "")
	f.Add(uint8(2), uint8(0), rec1, "1", "1", "", "", "")
	f.Add(uint8(3), uint8(2), "", "10", "AA", "", "", "")
	f.Add(uint8(4), uint8(2), "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z", "5", "dHN0by8", "", "")
	f.Add(uint8(5), uint8(3), `{"level":"high"}`, "", "", "", "", "")
	f.Fuzz(func(t *testing.T, sel, by uint8, a, b, c, d, e, g string) {
		cctest.FuzzSubmit(t, s.L, storage.Name, calls, who, sel, by, a, b, c, d, e, g)
	})
}
