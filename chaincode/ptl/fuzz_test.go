package ptl_test

import (
	"testing"

	"github.com/medshare/medshare/chaincode/internal/cctest"
	"github.com/medshare/medshare/chaincode/ptl"
	"github.com/medshare/medshare/network/identity"
)

// FuzzPTL drives every P-TL function with fuzzed arguments, starting from a
// valid access proof, policy and configuration.
func FuzzPTL(f *testing.F) {
	s := cctest.NewSide(f, "high")
	rec := s.Store(s.H1, rec1)
	s.SetPolicy(s.H1, rec1, s.Policy(doctor...))
	user := s.NewUser(doctor...)
	calls := cctest.Calls("Access/2 SetPolicy/2 GetPolicy/1 Regrant/2 Recall/3 RevokeForViolation/2 Status/2 ListAccessLog/3 ListAccesses/3 ListViolations/3 ListBlocks/3 Init/1 GetConfig/0 ListUserLog/3 CheckEnrolment/3 RegrantRequest/2 RecallRequest/2")
	who := []*identity.Signer{s.H1, s.H2, s.Auditor, s.Admin}
	acc := s.AccessArgs(s.NewProof(user, rec, doctor, nil))
	f.Add(uint8(0), uint8(0), acc[0], acc[1], "")
	pol := s.Policy(doctor...)
	pol.TimeZone, pol.Windows = "Europe/Paris", []ptl.Window{{Days: []string{"mon", "fri"}, Start: "22:00", End: "06:00"}}
	f.Add(uint8(1), uint8(0), rec1, cctest.JSON(f, pol), "")
	f.Add(uint8(3), uint8(0), user.ID(), "*", "")
	f.Add(uint8(4), uint8(0), user.ID(), rec1, "why")
	f.Add(uint8(5), uint8(1), "req-1", "1", "")
	f.Add(uint8(6), uint8(2), user.ID(), rec1, "")
	f.Add(uint8(9), uint8(0), "*", "3", "")
	f.Add(uint8(11), uint8(3), cctest.JSON(f, s.PTLConfig()), "", "")
	f.Add(uint8(13), uint8(2), user.ID(), "10", "")
	f.Add(uint8(14), uint8(1), cctest.B64(user.DER), user.ID(), cctest.B64(user.Enrolment.Signature))
	f.Add(uint8(15), uint8(0), "req-1", "1", "")
	f.Fuzz(func(t *testing.T, sel, by uint8, a, b, c string) {
		cctest.FuzzSubmit(t, s.L, ptl.Name, calls, who, sel, by, a, b, c)
	})
}
