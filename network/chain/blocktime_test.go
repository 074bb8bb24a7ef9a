package chain

import (
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/medshare/medshare/network/channel"
	"github.com/medshare/medshare/network/consensus"
	"github.com/medshare/medshare/network/internal/fixture"
	"github.com/medshare/medshare/network/pb"
)

func blockEntry(t *testing.T, index uint64, at time.Time) *raft.Log {
	t.Helper()
	data, err := proto.Marshal(&pb.Block{Header: &pb.BlockHeader{Number: index, Timestamp: at.UnixNano()}, Transactions: [][]byte{make([]byte, 100)}})
	if err != nil {
		t.Fatal(err)
	}
	return &raft.Log{Index: index, Type: raft.LogCommand, Data: data}
}

func TestBlockTimeGate(t *testing.T) {
	f := fixture.New(t, "main", []string{"H1MSP"})
	f.Config.MaxBlockAheadMillis = 10_000
	cfg, err := channel.New(f.Config)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	rc := consensus.DefaultConfig()
	rc.ElectionTimeout = time.Hour // the election is not the point here
	c := &Chain{cfg: cfg, log: slog.New(slog.DiscardHandler), closed: make(chan struct{}),
		opts: Options{Now: func() time.Time { return now }, Signer: f.Orgs[0].Nodes[0], Raft: rc}}
	g := newBlockTimeGate(c)

	ok := []*raft.Log{
		blockEntry(t, 5, now.Add(9*time.Second)),
		{Index: 6, Type: raft.LogNoop},
		{Index: 7, Type: raft.LogCommand, Data: []byte{0xff}}, // not a block: the FSM's to reject
	}
	if err := g.AdmitEntries("leader", ok, 4); err != nil {
		t.Fatalf("blocks within the bound: %v", err)
	}
	ahead := []*raft.Log{blockEntry(t, 8, now.Add(time.Second)), blockEntry(t, 9, now.Add(2*time.Hour))}
	if err := g.AdmitEntries("leader", ahead, 7); !errors.Is(err, ErrBlockAhead) {
		t.Fatalf("a block two hours ahead: %v", err)
	}
	if c.alert == "" {
		t.Error("refusing raised no alert")
	}
	if g.refusal == nil || g.refusal.index != 9 || g.refusal.leader != "leader" {
		t.Fatalf("refusal = %+v", g.refusal)
	}
	// The same entry once the leader reports it committed (a majority of
	// clocks agreed): every node must apply it.
	if err := g.AdmitEntries("leader", ahead, 9); err != nil {
		t.Fatalf("a committed block: %v", err)
	}
	if g.refusal != nil {
		t.Fatal("the refusal outlived the commit")
	}
	// Refused again, then the refusal stands: this node stands for election
	// and refuses the leader its votes for a while.
	if err := g.AdmitEntries("leader", []*raft.Log{blockEntry(t, 10, now.Add(time.Hour))}, 9); err == nil {
		t.Fatal("refused block admitted")
	}
	g.campaign()
	if err := g.AdmitVote("leader"); !errors.Is(err, ErrBlockAhead) {
		t.Fatalf("vote for the refused leader: %v", err)
	}
	if err := g.AdmitVote("other"); err != nil {
		t.Fatalf("vote for another node: %v", err)
	}
	g.banned["leader"] = time.Now().Add(-time.Second)
	if err := g.AdmitVote("leader"); err != nil {
		t.Fatalf("vote after the ban: %v", err)
	}
}

func TestHeaderTimeReadsWhatUnmarshalReads(t *testing.T) {
	b := &pb.Block{Header: &pb.BlockHeader{Number: 3, Timestamp: 42}, Transactions: [][]byte{[]byte("tx")}, Signature: []byte("s")}
	data, err := proto.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	if ts, ok := headerTime(data); !ok || ts != 42 {
		t.Fatalf("headerTime = %d, %v", ts, ok)
	}
	// A second header field merges into the first, as proto.Unmarshal does:
	// a leader cannot show the gate one time and the FSM another.
	later, _ := proto.Marshal(&pb.BlockHeader{Timestamp: 1 << 62})
	data = protowire.AppendBytes(protowire.AppendTag(data, 1, protowire.BytesType), later)
	var got pb.Block
	if err := proto.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	if ts, ok := headerTime(data); !ok || ts != got.GetHeader().GetTimestamp() || ts != 1<<62 {
		t.Fatalf("headerTime = %d, %v; Unmarshal reads %d", ts, ok, got.GetHeader().GetTimestamp())
	}
	if _, ok := headerTime([]byte{0x0a, 0x05, 1}); ok {
		t.Fatal("truncated block read")
	}
}
