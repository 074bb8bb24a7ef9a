package executor_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/medshare/medshare/network/chaincode"
	"github.com/medshare/medshare/network/channel"
	"github.com/medshare/medshare/network/executor"
	"github.com/medshare/medshare/network/identity"
	"github.com/medshare/medshare/network/internal/fixture"
	"github.com/medshare/medshare/network/kvcc"
	"github.com/medshare/medshare/network/ledger"
	"github.com/medshare/medshare/network/lifecycle"
	"github.com/medshare/medshare/network/lthash"
	"github.com/medshare/medshare/network/pb"
	"github.com/medshare/medshare/network/state"
)

// memLedger is the committed ledger a test executes blocks against: an
// in-memory world state and the IDs of committed transactions.
type memLedger struct {
	*state.MemStore
	txs map[string]bool
	lt  lthash.Hash
}

func (l *memLedger) HasTx(id string) (bool, error) { return l.txs[id], nil }

// Relay is a chaincode that calls another one: Call(cc, fn, args...) returns
// the callee's payload or, swallowing the callee's error, "refused: ...".
type Relay struct{ chaincode.Contract }

func (*Relay) Call(ctx chaincode.TransactionContext, cc, fn, key, value string) (string, error) {
	stub := ctx.GetStub()
	if err := stub.PutState("calls", []byte("1")); err != nil {
		return "", err
	}
	out, err := stub.InvokeChaincode(cc, [][]byte{[]byte(fn), []byte(key), []byte(value)}, "")
	if err != nil {
		return "refused: " + err.Error(), nil
	}
	return string(out), nil
}

func (*Relay) Panic(ctx chaincode.TransactionContext) error {
	var m map[string]int
	m["x"] = 1
	return nil
}

func (*Relay) Sum(ctx chaincode.TransactionContext, xs []int) (int, error) {
	n := 0
	for _, x := range xs {
		n += x
	}
	return n, nil
}

// env is a test channel: its fixture, and a committed ledger on which kv
// and relay are defined.
type env struct {
	t   *testing.T
	f   *fixture.Fixture
	cfg *channel.Config
	reg executor.Registry
	l   *memLedger
	now time.Time
}

func newEnv(t *testing.T, acl ...*pb.ACLRule) *env {
	t.Helper()
	f := fixture.New(t, "side-high", []string{"Hospital1MSP", "Hospital2MSP"})
	f.Config.Acl = acl
	cfg, err := channel.New(f.Config)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := kvcc.New()
	if err != nil {
		t.Fatal(err)
	}
	relay, err := chaincode.New(&Relay{})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, f: f, cfg: cfg, now: time.Now(),
		reg: executor.Registry{kvcc.Name: executor.Instance(kv), "relay": executor.Instance(relay)},
		l:   &memLedger{MemStore: state.NewMemStore(), txs: map[string]bool{}}}
	ex := e.executor()
	for _, name := range []string{kvcc.Name, "relay"} {
		out := e.commit(ex, f.DeployTxs(t, e.now, &pb.ChaincodeDefinition{Name: name, Version: "1", Sequence: 1})...)
		for i, r := range out.Results {
			if r.GetCode() != pb.ValidationCode_VALID {
				t.Fatalf("deploying %s: transaction %d: %s %s", name, i, r.GetCode(), r.GetMessage())
			}
		}
	}
	return e
}

// executor returns a new executor (with an empty signature cache).
func (e *env) executor() *executor.Executor {
	e.t.Helper()
	ex, err := executor.New(e.cfg, e.reg)
	if err != nil {
		e.t.Fatal(err)
	}
	return ex
}

// execute runs txs as a block without committing it.
func (e *env) execute(ex *executor.Executor, txs ...[]byte) *executor.Outcome {
	e.t.Helper()
	out, err := ex.Execute(e.l, e.l.lt, e.now, txs)
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

// commit executes txs as a block and commits its writes.
func (e *env) commit(ex *executor.Executor, txs ...[]byte) *executor.Outcome {
	e.t.Helper()
	out := e.execute(ex, txs...)
	for _, r := range out.Results {
		if ledger.Indexed(r.GetCode()) {
			e.l.txs[r.GetTxId()] = true
		}
	}
	e.l.Commit("block", e.now, out.Writes)
	e.l.lt = out.StateHash
	return out
}

func (e *env) client() *identity.Signer { return e.f.Orgs[0].Client }

func (e *env) tx(s *identity.Signer, cc, fn string, args ...string) []byte {
	e.t.Helper()
	raw, _ := e.f.Tx(e.t, s, e.now, cc, fn, args...)
	return raw
}

func marshal(t *testing.T, env *pb.Envelope) []byte {
	t.Helper()
	raw, err := proto.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// resign signs proposal bytes as they are, canonical or not.
func resign(t *testing.T, s *identity.Signer, proposal []byte) []byte {
	t.Helper()
	sig, err := s.Sign(proposal)
	if err != nil {
		t.Fatal(err)
	}
	return marshal(t, &pb.Envelope{Proposal: proposal, Signature: sig})
}

func code(t *testing.T, out *executor.Outcome, i int) pb.ValidationCode {
	t.Helper()
	return out.Results[i].GetCode()
}

// TestCachedSignatureCannotBeShifted is the regression test for the
// signature cache keyed on SHA-256(proposal ‖ signature): a node that had
// verified a genuine envelope accepted a copy whose signature's first bytes
// were moved to the end of the proposal (same hash, same meaning to
// protobuf, invalid signature), while nodes without the entry refused it,
// so the nodes' results — and tx roots — differed. Now the copy is refused
// by every executor alike, warm cache or cold.
func TestCachedSignatureCannotBeShifted(t *testing.T) {
	e := newEnv(t)
	genuine, _ := e.f.Envelope(t, e.client(), e.now, "kv", "Put", "k", "v")
	warm := e.executor()
	if _, err := warm.Evaluate(e.l, genuine, e.now); err == nil || !strings.Contains(err.Error(), chaincode.ErrReadOnly.Error()) {
		t.Fatalf("Evaluate(genuine Put) = %v, want the read-only refusal (after the signature checked)", err)
	}
	for k := 1; k <= 4; k++ {
		shifted := &pb.Envelope{
			Proposal:  append(bytes.Clone(genuine.Proposal), genuine.Signature[:k]...),
			Signature: bytes.Clone(genuine.Signature[k:]),
		}
		raw := marshal(t, shifted)
		w := e.execute(warm, raw)
		c := e.execute(e.executor(), raw)
		if code(t, w, 0) == pb.ValidationCode_VALID || code(t, c, 0) == pb.ValidationCode_VALID {
			t.Fatalf("shift %d: accepted (warm %s, cold %s)", k, code(t, w, 0), code(t, c, 0))
		}
		if w.TxRoot != c.TxRoot || w.StateHash != c.StateHash {
			t.Fatalf("shift %d: a node that verified the genuine envelope computes another block (warm %s %q, cold %s %q)",
				k, code(t, w, 0), w.Results[0].GetMessage(), code(t, c, 0), c.Results[0].GetMessage())
		}
		if _, _, err := warm.Endorse(e.l, shifted, e.now); executor.ErrorCode(err) == pb.ValidationCode_VALID || err == nil {
			t.Fatalf("shift %d: endorsed on the node that verified the genuine envelope: %v", k, err)
		}
	}
	// The genuine envelope still commits.
	if out := e.commit(warm, marshal(t, genuine)); code(t, out, 0) != pb.ValidationCode_VALID {
		t.Fatalf("genuine: %s %s", code(t, out, 0), out.Results[0].GetMessage())
	}
}

// TestNonCanonicalEncodingsRefused signs non-canonical encodings of a valid
// proposal with the creator's real key: protobuf decodes each to the same
// message, but only the canonical bytes are a transaction.
func TestNonCanonicalEncodingsRefused(t *testing.T) {
	e := newEnv(t)
	genuine, _ := e.f.Envelope(t, e.client(), e.now, "kv", "Put", "k", "v")
	p := genuine.Proposal
	var p0 pb.Proposal
	if err := proto.Unmarshal(p, &p0); err != nil {
		t.Fatal(err)
	}
	// Field 1 (version) is first: 0x08 0x01.
	if p[0] != 0x08 || p[1] != 0x01 {
		t.Fatalf("proposal starts % x, want version 1 first", p[:2])
	}
	rest := p[2:]
	variants := map[string][]byte{
		"unknown field":       protowire.AppendVarint(protowire.AppendTag(bytes.Clone(p), 15, protowire.VarintType), 7),
		"wrong wire type":     append(bytes.Clone(p), 0x30, 0x45), // field 6 (bytes) as a varint
		"overlong varint":     append([]byte{0x08, 0x81, 0x00}, rest...),
		"version repeated":    append([]byte{0x08, 0x01}, p...),
		"fields out of order": append(bytes.Clone(rest), 0x08, 0x01),
		"explicit default":    append(bytes.Clone(p), protowire.AppendTag(nil, 8, protowire.VarintType)[0], 0x00),
	}
	ex := e.executor()
	for name, raw := range variants {
		var q pb.Proposal
		if err := proto.Unmarshal(raw, &q); err == nil && proto.Equal(&q, &p0) {
			// The variant means the same: it is the case the rule is for.
		} else if name != "unknown field" && name != "wrong wire type" && name != "explicit default" {
			t.Fatalf("%s: variant does not decode to the same proposal (%v)", name, err)
		}
		out := e.execute(ex, resign(t, e.client(), raw))
		if got := code(t, out, 0); got != pb.ValidationCode_BAD_PAYLOAD || out.Results[0].GetMessage() != "proposal is not canonically encoded" {
			t.Errorf("%s: %s %q, want BAD_PAYLOAD for a non-canonical proposal", name, got, out.Results[0].GetMessage())
		}
	}
	// An envelope with an extra field around a genuine proposal.
	raw := protowire.AppendBytes(protowire.AppendTag(marshal(t, genuine), 9, protowire.BytesType), []byte("x"))
	if out := e.execute(ex, raw); code(t, out, 0) != pb.ValidationCode_BAD_PAYLOAD {
		t.Errorf("envelope with an unknown field: %s", code(t, out, 0))
	}
	if out := e.execute(ex, marshal(t, genuine)); code(t, out, 0) != pb.ValidationCode_VALID {
		t.Fatalf("genuine: %s %s", code(t, out, 0), out.Results[0].GetMessage())
	}
}

// TestACLGovernsQualifiedAndPlainNames is the regression test for a rule
// on "kv/KV:Put" that a call of plain "Put" (the same function: KV is kv's
// default contract) walked around.
func TestACLGovernsQualifiedAndPlainNames(t *testing.T) {
	e := newEnv(t, &pb.ACLRule{Resource: "kv/KV:Put", Principals: []string{"*.admin"}})
	ex := e.executor()
	admin := e.f.Orgs[0].Admin
	for _, tt := range []struct {
		who  *identity.Signer
		fn   string
		args []string
		want pb.ValidationCode
	}{
		{e.client(), "KV:Put", []string{"k", "v"}, pb.ValidationCode_ACCESS_DENIED},
		{e.client(), "Put", []string{"k", "v"}, pb.ValidationCode_ACCESS_DENIED},
		{admin, "Put", []string{"k", "v"}, pb.ValidationCode_VALID},
		{e.client(), "Get", []string{"k"}, pb.ValidationCode_VALID}, // no rule: clients may
	} {
		out := e.commit(ex, e.tx(tt.who, "kv", tt.fn, tt.args...))
		if got := code(t, out, 0); got != tt.want {
			t.Errorf("%s calling kv/%s: %s %q, want %s", tt.who.Role(), tt.fn, got, out.Results[0].GetMessage(), tt.want)
		}
	}
}

// TestCalleeACLApplies is the regression test for chaincode-to-chaincode
// calls that skipped the callee's ACL: a client whom kv's rules refuse
// wrote kv's state through relay. The refusal now fails the whole
// transaction, even though relay swallows the callee's error.
func TestCalleeACLApplies(t *testing.T) {
	e := newEnv(t,
		&pb.ACLRule{Resource: "relay/*", Principals: []string{"*.client", "*.admin"}},
		&pb.ACLRule{Resource: "kv/Put", Principals: []string{"*.admin"}},
	)
	ex := e.executor()
	out := e.commit(ex, e.tx(e.client(), "relay", "Call", "kv", "Put", "k", "stolen"))
	if got := code(t, out, 0); got != pb.ValidationCode_ACCESS_DENIED {
		t.Fatalf("client through relay: %s %q payload %q, want ACCESS_DENIED", got, out.Results[0].GetMessage(), out.Results[0].GetPayload())
	}
	if !strings.Contains(out.Results[0].GetMessage(), "kv/KV:Put") {
		t.Errorf("message %q does not name the refused callee function", out.Results[0].GetMessage())
	}
	if len(out.Writes) != 0 {
		t.Fatalf("refused transaction wrote %v", out.Writes)
	}
	// The callee's rules admit administrators, through relay too.
	out = e.commit(ex, e.tx(e.f.Orgs[1].Admin, "relay", "Call", "kv", "KV:Put", "k", "granted"))
	if got := code(t, out, 0); got != pb.ValidationCode_VALID || string(out.Results[0].GetPayload()) != "" {
		t.Fatalf("admin through relay: %s %q %q", got, out.Results[0].GetMessage(), out.Results[0].GetPayload())
	}
	if v, _ := e.l.Get("kv", "k"); string(v) != "granted" {
		t.Fatalf("kv/k = %q", v)
	}
	// System chaincode is for administrators, also when called.
	out = e.commit(ex, e.tx(e.client(), "relay", "Call", lifecycle.Name, lifecycle.FnQueryCommitted, "kv", "x"))
	if got := code(t, out, 0); got != pb.ValidationCode_ACCESS_DENIED {
		t.Fatalf("client calling the lifecycle through relay: %s", got)
	}
}

// TestMessagesAreStable is the regression test for library error texts in
// results: protobuf-go varies its error messages between builds on purpose,
// and crypto/x509, encoding/json and the runtime may change theirs between
// Go releases, so two correct nodes could compute different Merkle roots.
// Results carry only messages this code writes.
func TestMessagesAreStable(t *testing.T) {
	e := newEnv(t)
	ex := e.executor()
	garbageCert := e.client().Bytes()
	garbageCert = append(bytes.Clone(garbageCert[:40]), 0xff, 0xff)
	badCreator := func() []byte {
		var p pb.Proposal
		genuine, _ := e.f.Envelope(t, e.client(), e.now, "kv", "Put", "k", "v")
		if err := proto.Unmarshal(genuine.Proposal, &p); err != nil {
			t.Fatal(err)
		}
		p.Creator = garbageCert
		raw, _ := proto.Marshal(&p)
		return marshal(t, &pb.Envelope{Proposal: raw, Signature: genuine.Signature})
	}()
	badDefinition := e.tx(e.f.Orgs[0].Admin, lifecycle.Name, lifecycle.FnApprove, "\xff\xff\xff")
	tests := []struct {
		name string
		raw  []byte
		code pb.ValidationCode
		msg  string
	}{
		{"not protobuf", []byte{0x0a, 0xff, 0xff, 0xff}, pb.ValidationCode_BAD_PAYLOAD, "envelope does not decode"},
		{"proposal not protobuf", marshal(t, &pb.Envelope{Proposal: []byte{0x12, 0x05, 'a'}, Signature: []byte{1}}), pb.ValidationCode_BAD_PAYLOAD, "proposal does not decode"},
		{"creator not a certificate", badCreator, pb.ValidationCode_UNKNOWN_CREATOR, "creator is not a valid member of the channel"},
		{"definition not protobuf", badDefinition, pb.ValidationCode_CHAINCODE_ERROR, "lifecycle: the definition does not decode"},
		{"chaincode panics", e.tx(e.client(), "relay", "Panic"), pb.ValidationCode_CHAINCODE_ERROR, "chaincode relay panicked"},
		{"argument not JSON", e.tx(e.client(), "relay", "Sum", `{"a":1}`), pb.ValidationCode_CHAINCODE_ERROR, "argument 1 ([]int) of Sum: invalid JSON: the value is not a []int"},
		{"argument not a number", e.tx(e.client(), "relay", "Sum", `[1,"x"]`), pb.ValidationCode_CHAINCODE_ERROR, "argument 1 ([]int) of Sum: invalid JSON: the value is not a int"},
	}
	for _, tt := range tests {
		out := e.execute(ex, tt.raw)
		r := out.Results[0]
		if r.GetCode() != tt.code || r.GetMessage() != tt.msg {
			t.Errorf("%s: %s %q, want %s %q", tt.name, r.GetCode(), r.GetMessage(), tt.code, tt.msg)
		}
		for _, lib := range []string{"proto:", "x509:", "json:", "asn1:", "runtime error", "strconv."} {
			if strings.Contains(r.GetMessage(), lib) {
				t.Errorf("%s: message %q carries library text %q", tt.name, r.GetMessage(), lib)
			}
		}
	}
}

// TestResultsDoNotDependOnTheCache executes one block of valid and invalid
// transactions on a node that endorsed some of them before and on a fresh
// one: both compute the same results, tx root and state hash.
func TestResultsDoNotDependOnTheCache(t *testing.T) {
	e := newEnv(t)
	warm := e.executor()
	var txs [][]byte
	for i := range 6 {
		env, _ := e.f.Envelope(t, e.f.Orgs[i%2].Client, e.now, "kv", "Put", "k"+string(rune('0'+i)), "v")
		if i%2 == 0 {
			if _, _, err := warm.Endorse(e.l, env, e.now); err != nil {
				t.Fatal(err)
			}
		}
		txs = append(txs, marshal(t, env))
	}
	bad, _ := e.f.Envelope(t, e.client(), e.now, "kv", "Put", "x", "y")
	if _, _, err := warm.Endorse(e.l, bad, e.now); err != nil {
		t.Fatal(err)
	}
	bad.Signature[len(bad.Signature)-1] ^= 1
	txs = append(txs, marshal(t, bad), txs[0]) // a bad signature and a duplicate
	w, c := e.execute(warm, txs...), e.execute(e.executor(), txs...)
	if w.TxRoot != c.TxRoot || w.StateHash != c.StateHash {
		t.Fatal("a node that endorsed some transactions computes another block")
	}
	want := []pb.ValidationCode{0, 0, 0, 0, 0, 0, pb.ValidationCode_BAD_SIGNATURE, pb.ValidationCode_DUPLICATE_TXID}
	for i, r := range w.Results {
		if r.GetCode() != want[i] {
			t.Errorf("transaction %d: %s %q, want %s", i, r.GetCode(), r.GetMessage(), want[i])
		}
	}
}

// TestEndorseEvaluateAndSkew covers submission checks against the node's
// clock and the committed state.
func TestEndorseEvaluateAndSkew(t *testing.T) {
	e := newEnv(t)
	ex := e.executor()
	cl := e.client()
	put, _ := e.f.Envelope(t, cl, e.now, "kv", "Put", "a", "1")
	if _, payload, err := ex.Endorse(e.l, put, e.now); err != nil || payload != nil {
		t.Fatalf("Endorse(Put) = %q, %v", payload, err)
	}
	if v, _ := e.l.Get("kv", "a"); v != nil {
		t.Fatal("endorsement wrote to the committed state")
	}
	e.commit(ex, marshal(t, put))
	if _, _, err := ex.Endorse(e.l, put, e.now); executor.ErrorCode(err) != pb.ValidationCode_DUPLICATE_TXID {
		t.Fatalf("Endorse(committed) = %v", err)
	}
	get, _ := e.f.Envelope(t, e.f.Orgs[1].Client, e.now, "kv", "Get", "a")
	if v, err := ex.Evaluate(e.l, get, e.now); err != nil || string(v) != "1" {
		t.Fatalf("Evaluate(Get) = %q, %v", v, err)
	}
	late, _ := e.f.Envelope(t, cl, e.now.Add(-e.cfg.MaxClockSkew()-time.Second), "kv", "Put", "b", "1")
	if _, _, err := ex.Endorse(e.l, late, e.now); executor.ErrorCode(err) != pb.ValidationCode_BAD_TIMESTAMP {
		t.Fatalf("Endorse(late) = %v", err)
	}
	other := fixture.New(t, "main", []string{"Hospital1MSP"})
	wrong, _ := other.Envelope(t, other.Orgs[0].Client, e.now, "kv", "Put", "c", "1")
	if _, _, err := ex.Endorse(e.l, wrong, e.now); executor.ErrorCode(err) != pb.ValidationCode_WRONG_CHANNEL {
		t.Fatalf("Endorse(other channel) = %v", err)
	}
	undefined, _ := e.f.Envelope(t, cl, e.now, "storage", "Store", "x")
	if _, _, err := ex.Endorse(e.l, undefined, e.now); executor.ErrorCode(err) != pb.ValidationCode_UNKNOWN_CHAINCODE {
		t.Fatalf("Endorse(undefined chaincode) = %v", err)
	}
	node := e.f.Orgs[0].Nodes[0]
	byNode, _ := e.f.Envelope(t, node, e.now, "kv", "Put", "d", "1")
	if _, _, err := ex.Endorse(e.l, byNode, e.now); executor.ErrorCode(err) != pb.ValidationCode_ACCESS_DENIED {
		t.Fatalf("Endorse(by a node identity) = %v", err)
	}
}

// TestBlockOrderAndOverlay checks that a block's transactions see the
// writes of earlier valid ones, that an invalid transaction changes
// nothing, and that the same ID twice in one block commits once.
func TestBlockOrderAndOverlay(t *testing.T) {
	e := newEnv(t)
	ex := e.executor()
	cl := e.client()
	put := e.tx(cl, "kv", "Put", "n", "1")
	fail := e.tx(cl, "kv", "Fail", "n", "no")
	get := e.tx(cl, "kv", "Get", "n")
	out := e.commit(ex, put, fail, get, put)
	want := []pb.ValidationCode{pb.ValidationCode_VALID, pb.ValidationCode_CHAINCODE_ERROR, pb.ValidationCode_VALID, pb.ValidationCode_DUPLICATE_TXID}
	for i, r := range out.Results {
		if r.GetCode() != want[i] {
			t.Errorf("transaction %d: %s, want %s", i, r.GetCode(), want[i])
		}
	}
	if got := string(out.Results[2].GetPayload()); got != "1" {
		t.Errorf("Get after Put in the same block = %q", got)
	}
	if len(out.Writes) != 1 || out.Writes[0].Key != "n" {
		t.Errorf("net writes %v", out.Writes)
	}
}
