package chain

import (
	"fmt"
	"testing"

	"github.com/medshare/medshare/network/pb"
)

func blockOf(n uint64, results ...*pb.TxResult) *pb.Block {
	return &pb.Block{Header: &pb.BlockHeader{Number: n}, Results: results}
}

func TestNotifierRemembersRecentCommits(t *testing.T) {
	n := newNotifier()
	waiting := n.register("tx-1")
	n.committed(blockOf(1,
		&pb.TxResult{TxId: "tx-1", Code: pb.ValidationCode_VALID, Payload: []byte("p1"), Writes: []*pb.KVWrite{{Key: "k"}}},
		&pb.TxResult{TxId: "tx-2", Code: pb.ValidationCode_BAD_SIGNATURE}, // not committed under its ID
	))
	if got := <-waiting; got.Block != 1 || string(got.Result.GetPayload()) != "p1" {
		t.Fatalf("waiter got %+v", got)
	}
	r, ok := n.lookup("tx-1")
	if !ok || r.Block != 1 || r.Result.GetCode() != pb.ValidationCode_VALID || string(r.Result.GetPayload()) != "p1" || r.Result.GetWrites() != nil {
		t.Fatalf("lookup(tx-1) = %+v, %v; want block 1, VALID, payload p1, no writes kept", r, ok)
	}
	if _, ok := n.lookup("tx-2"); ok {
		t.Fatal("a result that does not claim its ID is remembered")
	}
	// A later duplicate does not replace the first outcome.
	n.committed(blockOf(2, &pb.TxResult{TxId: "tx-1", Code: pb.ValidationCode_CHAINCODE_ERROR}))
	if r, _ := n.lookup("tx-1"); r.Block != 1 {
		t.Fatalf("tx-1 now answers from block %d", r.Block)
	}
	// The oldest are forgotten first.
	for i := range recentResults {
		n.committed(blockOf(uint64(3+i), &pb.TxResult{TxId: fmt.Sprintf("fill-%d", i), Code: pb.ValidationCode_VALID}))
	}
	if _, ok := n.lookup("tx-1"); ok {
		t.Fatal("tx-1 is still remembered after recentResults newer commits")
	}
	if _, ok := n.lookup(fmt.Sprintf("fill-%d", recentResults-1)); !ok {
		t.Fatal("the newest commit is forgotten")
	}
	if len(n.recent) != recentResults {
		t.Fatalf("remembers %d, want %d", len(n.recent), recentResults)
	}
}
