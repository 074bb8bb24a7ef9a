package ptl_test

import (
	"testing"

	"github.com/medshare/medshare/chaincode/internal/cctest"
	"github.com/medshare/medshare/chaincode/ptl"
)

// BenchmarkAccess measures one granted Tx_acc through the in-memory ledger:
// the chaincode's share of a node's work per access (the network adds the
// transaction signature, ordering and storage). Proofs are signed outside the
// timer. The user's credential is verified once and then cached, as for a
// returning user.
func BenchmarkAccess(b *testing.B) {
	s := cctest.NewSide(b, "high")
	cfg := s.PTLConfig()
	cfg.Monitor.RateLimit = 0
	s.MustConfigure(ptl.Name, cfg)
	rec := s.Store(s.H1, rec1)
	s.SetPolicy(s.H1, rec1, s.Policy(doctor...))
	user := s.NewUser(append(doctor, "trust>=1", "trust>=2", "trust>=3")...)
	const batch = 256
	args := make([][]string, 0, batch)
	b.ResetTimer()
	for i := range b.N {
		if i%batch == 0 {
			b.StopTimer()
			args = args[:0]
			for range batch {
				args = append(args, s.AccessArgs(s.NewProof(user, rec, doctor, nil)))
			}
			b.StartTimer()
		}
		res, err := s.L.Submit(s.H1, ptl.Name, "Access", args[i%batch]...)
		if err != nil {
			b.Fatal(err)
		}
		if i == 0 {
			if d := cctest.Decode[ptl.Decision](b, res.Payload); !d.Granted {
				b.Fatalf("refused: %+v", d)
			}
		}
	}
}
