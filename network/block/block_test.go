package block_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/medshare/medshare/network/block"
	"github.com/medshare/medshare/network/pb"
)

func TestTxIDIsFabricStyle(t *testing.T) {
	nonce, creator := []byte("0123456789abcdef"), []byte("certificate DER")
	h := sha256.Sum256(append(append([]byte{}, nonce...), creator...))
	if got, want := block.TxID(nonce, creator), hex.EncodeToString(h[:]); got != want {
		t.Fatalf("TxID = %s, want %s", got, want)
	}
}

func TestMerkleRoot(t *testing.T) {
	leaf := func(b byte) block.Hash { return block.Sha256d([]byte{b}) }
	a, b, c := leaf(1), leaf(2), leaf(3)
	node := func(l, r block.Hash) block.Hash {
		return block.Sha256d(append(append([]byte("medshare/merkle-node/v1"), l[:]...), r[:]...))
	}
	tests := []struct {
		name   string
		leaves []block.Hash
		want   block.Hash
	}{
		{"one leaf is its own root", []block.Hash{a}, a},
		{"two", []block.Hash{a, b}, node(a, b)},
		{"odd leaf promoted, not duplicated", []block.Hash{a, b, c}, node(node(a, b), c)},
	}
	for _, tt := range tests {
		if got := block.MerkleRoot(tt.leaves); got != tt.want {
			t.Errorf("%s: root %x, want %x", tt.name, got[:4], tt.want[:4])
		}
	}
	// Bitcoin's tree gives [a b c] and [a b c c] the same root; this one
	// must not.
	if block.MerkleRoot([]block.Hash{a, b, c}) == block.MerkleRoot([]block.Hash{a, b, c, c}) {
		t.Error("duplicated last leaf has the same root")
	}
	if block.MerkleRoot(nil) == block.MerkleRoot([]block.Hash{{}}) {
		t.Error("empty tree collides with a zero leaf")
	}
}

func TestLeafCoversResult(t *testing.T) {
	env := []byte("envelope")
	base := &pb.TxResult{TxId: "t", Code: pb.ValidationCode_VALID, Payload: []byte("p"),
		Writes: []*pb.KVWrite{{Namespace: "cc", Key: "k", Value: []byte("v")}},
		Events: []*pb.ChaincodeEvent{{Chaincode: "cc", Name: "e", Payload: []byte("x")}}}
	ref := block.Leaf(env, base)
	for name, mut := range map[string]func(r *pb.TxResult){
		"code":         func(r *pb.TxResult) { r.Code = pb.ValidationCode_CHAINCODE_ERROR },
		"payload":      func(r *pb.TxResult) { r.Payload = []byte("q") },
		"write value":  func(r *pb.TxResult) { r.Writes[0].Value = []byte("w") },
		"write delete": func(r *pb.TxResult) { r.Writes[0].Delete = true },
		"event":        func(r *pb.TxResult) { r.Events[0].Payload = []byte("y") },
		"message":      func(r *pb.TxResult) { r.Message = "m" },
	} {
		r := proto.Clone(base).(*pb.TxResult)
		mut(r)
		if block.Leaf(env, r) == ref {
			t.Errorf("changing the %s does not change the leaf", name)
		}
	}
	if block.Leaf([]byte("other"), base) == ref {
		t.Error("changing the envelope does not change the leaf")
	}
}

func TestHeaderHashCoversEveryField(t *testing.T) {
	h := &pb.BlockHeader{Version: 1, Channel: "c", Number: 7, PreviousHash: make([]byte, 32), TxRoot: make([]byte, 32), StateHash: make([]byte, 32), Timestamp: 9, Cutter: "n"}
	ref := block.HeaderHash(h)
	for name, mut := range map[string]func(h *pb.BlockHeader){
		"version": func(h *pb.BlockHeader) { h.Version = 2 }, "channel": func(h *pb.BlockHeader) { h.Channel = "d" },
		"number": func(h *pb.BlockHeader) { h.Number = 8 }, "previous": func(h *pb.BlockHeader) { h.PreviousHash[0] = 1 },
		"tx root": func(h *pb.BlockHeader) { h.TxRoot[0] = 1 }, "state": func(h *pb.BlockHeader) { h.StateHash[0] = 1 },
		"time": func(h *pb.BlockHeader) { h.Timestamp = 10 }, "cutter": func(h *pb.BlockHeader) { h.Cutter = "m" },
	} {
		c := proto.Clone(h).(*pb.BlockHeader)
		mut(c)
		if block.HeaderHash(c) == ref {
			t.Errorf("changing the %s does not change the block hash", name)
		}
	}
}

type fakeSigner struct{}

func (fakeSigner) MSPID() string                   { return "M" }
func (fakeSigner) Bytes() []byte                   { return []byte("cert") }
func (fakeSigner) Sign(msg []byte) ([]byte, error) { return []byte("sig"), nil }

func TestParseTxRejects(t *testing.T) {
	mk := func(mut func(p *block.Proposal)) []byte {
		p := block.Proposal{Channel: "main", Chaincode: "kv", Function: "Put", Nonce: bytes.Repeat([]byte{1}, 16), Timestamp: time.Unix(1, 0)}
		mut(&p)
		env, _, err := block.SignProposal(fakeSigner{}, p)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := proto.Marshal(env)
		return raw
	}
	tests := []struct {
		name string
		raw  []byte
		max  int
		code pb.ValidationCode
	}{
		{"garbage", []byte{0xff, 0xff}, 0, pb.ValidationCode_BAD_PAYLOAD},
		{"oversized", mk(func(p *block.Proposal) { p.Args = [][]byte{make([]byte, 100)} }), 50, pb.ValidationCode_OVERSIZED},
		{"bad channel", mk(func(p *block.Proposal) { p.Channel = "Main!" }), 0, pb.ValidationCode_BAD_PAYLOAD},
		{"bad chaincode", mk(func(p *block.Proposal) { p.Chaincode = "KV" }), 0, pb.ValidationCode_BAD_PAYLOAD},
		{"no function", mk(func(p *block.Proposal) { p.Function = "" }), 0, pb.ValidationCode_BAD_PAYLOAD},
		{"short nonce", mk(func(p *block.Proposal) { p.Nonce = []byte{1} }), 0, pb.ValidationCode_BAD_PAYLOAD},
		{"no time", mk(func(p *block.Proposal) { p.Timestamp = time.Unix(0, 0) }), 0, pb.ValidationCode_BAD_TIMESTAMP},
		{"too many args", mk(func(p *block.Proposal) { p.Args = make([][]byte, block.MaxArgs+1) }), 0, pb.ValidationCode_BAD_PAYLOAD},
	}
	for _, tt := range tests {
		_, err := block.ParseTx(tt.raw, tt.max)
		var ve *block.ValidationError
		if !errors.As(err, &ve) || ve.Code != tt.code {
			t.Errorf("%s: error %v, want %s", tt.name, err, tt.code)
		}
	}
	good := mk(func(*block.Proposal) {})
	tx, err := block.ParseTx(good, 0)
	if err != nil || tx.Function() != "Put" || tx.TxID != block.TxID(bytes.Repeat([]byte{1}, 16), []byte("cert")) {
		t.Fatalf("ParseTx(good) = %+v, %v", tx, err)
	}
}

// FuzzParseTx: decoding any bytes as a transaction returns a transaction or a
// *ValidationError, never panics.
func FuzzParseTx(f *testing.F) {
	env, _, _ := block.SignProposal(fakeSigner{}, block.Proposal{Channel: "main", Chaincode: "kv", Function: "Put", Args: [][]byte{[]byte("k")}, Nonce: bytes.Repeat([]byte{1}, 16), Timestamp: time.Unix(1, 0)})
	raw, _ := proto.Marshal(env)
	f.Add(raw)
	f.Add([]byte{})
	f.Add([]byte{0x0a, 0x00, 0x12, 0x01, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		tx, err := block.ParseTx(b, 1<<20)
		if err != nil {
			var ve *block.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("error %v is not a ValidationError", err)
			}
			return
		}
		if tx.TxID == "" || len(tx.Proposal.GetArgs()) == 0 {
			t.Fatal("accepted a transaction without ID or function")
		}
		// What is accepted is the one canonical encoding of what it means.
		env, err := proto.MarshalOptions{Deterministic: true}.Marshal(tx.Envelope)
		if err != nil || !bytes.Equal(env, b) {
			t.Fatalf("accepted a non-canonical envelope: % x, canonical % x", b, env)
		}
		p, err := proto.MarshalOptions{Deterministic: true}.Marshal(tx.Proposal)
		if err != nil || !bytes.Equal(p, tx.Envelope.GetProposal()) {
			t.Fatalf("accepted a non-canonical proposal: % x, canonical % x", tx.Envelope.GetProposal(), p)
		}
	})
}
