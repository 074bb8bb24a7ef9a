package ledger_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"google.golang.org/protobuf/proto"

	"github.com/medshare/medshare/internal/kvstore"
	"github.com/medshare/medshare/network/block"
	"github.com/medshare/medshare/network/chaincode"
	"github.com/medshare/medshare/network/channel"
	"github.com/medshare/medshare/network/executor"
	"github.com/medshare/medshare/network/internal/fixture"
	"github.com/medshare/medshare/network/kvcc"
	"github.com/medshare/medshare/network/ledger"
	"github.com/medshare/medshare/network/pb"
)

type chain struct {
	t     *testing.T
	f     *fixture.Fixture
	store *ledger.Store
	exec  *executor.Executor
	dir   string
}

func newChain(t *testing.T) *chain {
	t.Helper()
	f := fixture.New(t, "side-high", []string{"Hospital1MSP", "Hospital2MSP"})
	f.Config.MaxTxBytes = 8 << 10
	f.MakeGenesis(t)
	dir := t.TempDir()
	store, err := ledger.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	cfg, err := store.CommitGenesis(f.Genesis)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := kvcc.New()
	if err != nil {
		t.Fatal(err)
	}
	exec, err := executor.New(cfg, executor.Registry{kvcc.Name: executor.Instance(kv)})
	if err != nil {
		t.Fatal(err)
	}
	c := &chain{t: t, f: f, store: store, exec: exec, dir: dir}
	c.commit(time.Now(), f.DeployTxs(t, time.Now(), &pb.ChaincodeDefinition{Name: kvcc.Name, Version: "1", Sequence: 1})...)
	return c
}

// commit executes txs as the next block, seals it as node 0, and commits it.
func (c *chain) commit(at time.Time, txs ...[]byte) *pb.Block {
	c.t.Helper()
	height, last, lt := c.store.Tip()
	out, err := c.exec.Execute(c.store, lt, at, txs)
	if err != nil {
		c.t.Fatal(err)
	}
	b, err := block.Seal(c.f.Orgs[0].Nodes[0], channel.BlockVersion, c.f.Channel, height, last, at.UnixNano(), txs, out.TxRoot, out.StateHash.Sum())
	if err != nil {
		c.t.Fatal(err)
	}
	b.Results = out.Results
	if err := c.store.Commit(b, out.Writes, out.StateHash, height); err != nil {
		c.t.Fatal(err)
	}
	return b
}

func TestDeployedThroughLifecycle(t *testing.T) {
	c := newChain(t)
	b, err := c.store.Block(1)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range b.GetResults() {
		if r.GetCode() != pb.ValidationCode_VALID {
			t.Fatalf("deploy tx %d: %s %s", i, r.GetCode(), r.GetMessage())
		}
	}
	// A commit without a majority of approvals fails.
	c2 := newChain(t)
	raw, _ := proto.Marshal(&pb.ChaincodeDefinition{Name: "other", Version: "1", Sequence: 1})
	a, _ := c2.f.Tx(t, c2.f.Orgs[0].Admin, time.Now(), "_lifecycle", "ApproveForMyOrg", string(raw))
	cm, _ := c2.f.Tx(t, c2.f.Orgs[0].Admin, time.Now(), "_lifecycle", "Commit", "other")
	b = c2.commit(time.Now(), a, cm)
	if r := b.GetResults()[1]; r.GetCode() != pb.ValidationCode_CHAINCODE_ERROR || !strings.Contains(r.GetMessage(), "approved by no majority of the 2 organisations") {
		t.Fatalf("commit with 1 of 2 approvals: %s %q", r.GetCode(), r.GetMessage())
	}
	// A client cannot call the lifecycle at all.
	cl, _ := c2.f.Tx(t, c2.f.Orgs[0].Client, time.Now(), "_lifecycle", "ApproveForMyOrg", string(raw))
	if r := c2.commit(time.Now(), cl).GetResults()[0]; r.GetCode() != pb.ValidationCode_ACCESS_DENIED {
		t.Fatalf("client calling the lifecycle: %s", r.GetCode())
	}
}

func TestValidationCodes(t *testing.T) {
	c := newChain(t)
	now := time.Now()
	client := c.f.Orgs[0].Client
	good, goodID := c.f.Tx(t, client, now, "kv", "Put", "k", "v")

	badSig, _ := c.f.Envelope(t, client, now, "kv", "Put", "k", "evil")
	badSig.Signature[len(badSig.Signature)-1] ^= 1

	stranger := fixture.New(t, "side-high", []string{"EvilMSP"}).Orgs[0].Client
	unknown, _ := c.f.Tx(t, stranger, now, "kv", "Put", "k", "x")

	other := *c.f
	other.Channel = "side-low"
	wrongChannel, _ := other.Tx(t, client, now, "kv", "Put", "k", "x")

	stale, _ := c.f.Tx(t, client, now.Add(-time.Hour), "kv", "Put", "k", "x")
	noCC, _ := c.f.Tx(t, client, now, "nope", "Put", "k", "x")
	node, _ := c.f.Tx(t, c.f.Orgs[0].Nodes[0], now, "kv", "Put", "k", "x")
	fail, _ := c.f.Tx(t, client, now, "kv", "Fail", "written", "refused")
	big, _ := c.f.Tx(t, client, now, "kv", "Put", "big", strings.Repeat("x", 9<<10))
	unsigned := fixture.Marshal(t, &pb.Envelope{Proposal: []byte("junk")})
	garbage := []byte{0xff, 0x01, 0x02}
	dupInBlock := good

	txs := [][]byte{good, fixture.Marshal(t, badSig), unknown, wrongChannel, stale, noCC, node, fail, big, unsigned, garbage, dupInBlock}
	want := []pb.ValidationCode{
		pb.ValidationCode_VALID, pb.ValidationCode_BAD_SIGNATURE, pb.ValidationCode_UNKNOWN_CREATOR,
		pb.ValidationCode_WRONG_CHANNEL, pb.ValidationCode_BAD_TIMESTAMP, pb.ValidationCode_UNKNOWN_CHAINCODE,
		pb.ValidationCode_ACCESS_DENIED, pb.ValidationCode_CHAINCODE_ERROR, pb.ValidationCode_OVERSIZED,
		pb.ValidationCode_BAD_SIGNATURE, pb.ValidationCode_BAD_PAYLOAD, pb.ValidationCode_DUPLICATE_TXID,
	}
	b := c.commit(now, txs...)
	for i, r := range b.GetResults() {
		if r.GetCode() != want[i] {
			t.Errorf("tx %d: code %s (%s), want %s", i, r.GetCode(), r.GetMessage(), want[i])
		}
	}
	if v, _ := c.store.Get("kv", "k"); string(v) != "v" {
		t.Errorf("k = %q: only the valid transaction may write", v)
	}
	if v, _ := c.store.Get("kv", "written"); v != nil {
		t.Errorf("failed chaincode left %q", v)
	}
	// A replay in a later block is a duplicate too; the index still points
	// at the first, valid commit.
	b = c.commit(now, good)
	if r := b.GetResults()[0]; r.GetCode() != pb.ValidationCode_DUPLICATE_TXID {
		t.Errorf("replay: %s", r.GetCode())
	}
	loc, err := c.store.FindTx(goodID)
	if err != nil || loc.Block != 2 || loc.Index != 0 || loc.Code != pb.ValidationCode_VALID {
		t.Errorf("FindTx = %+v, %v", loc, err)
	}
	if rep, err := c.store.Verify(context.Background()); err != nil || !rep.OK() {
		t.Fatalf("Verify: %v %v", err, rep.Problems)
	}
}

// A forged copy of a transaction (same nonce and creator, bad signature)
// must not burn the real transaction's ID.
func TestForgedCopyDoesNotClaimID(t *testing.T) {
	c := newChain(t)
	now := time.Now()
	env, id := c.f.Envelope(t, c.f.Orgs[0].Client, now, "kv", "Put", "k", "real")
	forged := proto.Clone(env).(*pb.Envelope)
	forged.Signature[len(forged.Signature)-1] ^= 1
	b := c.commit(now, fixture.Marshal(t, forged), fixture.Marshal(t, env))
	if b.GetResults()[0].GetCode() != pb.ValidationCode_BAD_SIGNATURE || b.GetResults()[1].GetCode() != pb.ValidationCode_VALID {
		t.Fatalf("codes %s, %s", b.GetResults()[0].GetCode(), b.GetResults()[1].GetCode())
	}
	if loc, err := c.store.FindTx(id); err != nil || loc.Index != 1 {
		t.Fatalf("FindTx = %+v %v", loc, err)
	}
}

func TestHistoryOrderAndReadYourBlock(t *testing.T) {
	c := newChain(t)
	now := time.Now()
	cl := c.f.Orgs[0].Client
	var txs [][]byte
	for range 3 {
		tx, _ := c.f.Tx(t, cl, now, "kv", "Incr", "n")
		txs = append(txs, tx)
	}
	b := c.commit(now, txs...)
	// Transactions in a block see the writes of those before them.
	for i, r := range b.GetResults() {
		if string(r.GetPayload()) != string(rune('1'+i)) {
			t.Fatalf("Incr %d returned %q", i, r.GetPayload())
		}
	}
	del, _ := c.f.Tx(t, cl, now, "kv", "Del", "n")
	c.commit(now.Add(time.Second), del)
	h, err := c.store.History("kv", "n")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range h {
		if m.IsDelete {
			got = append(got, "del")
		} else {
			got = append(got, string(m.Value))
		}
	}
	if strings.Join(got, ",") != "del,3,2,1" {
		t.Fatalf("history newest first = %v", got)
	}
	if v, _ := c.store.Get("kv", "n"); v != nil {
		t.Fatalf("deleted key still has %q", v)
	}
}

func TestRestartKeepsTip(t *testing.T) {
	c := newChain(t)
	tx, _ := c.f.Tx(t, c.f.Orgs[0].Client, time.Now(), "kv", "Put", "a", "1")
	c.commit(time.Now(), tx)
	h1, last1, lt1 := c.store.Tip()
	c.store.Close()
	s, err := ledger.Open(c.dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	h2, last2, lt2 := s.Tip()
	if h1 != h2 || last1 != last2 || !lt1.Equal(&lt2) || s.RaftIndex() != 2 {
		t.Fatalf("after reopen: height %d/%d, raft index %d", h1, h2, s.RaftIndex())
	}
	if rep, err := s.Verify(context.Background()); err != nil || !rep.OK() {
		t.Fatalf("Verify after reopen: %v %v", err, rep.Problems)
	}
}

// TestRebuild rebuilds a store from a prefix of its blocks, as an
// operator's recovery does: the copy holds exactly those blocks, the state
// they produce and their history and index, and verifies; the original is
// untouched.
func TestRebuild(t *testing.T) {
	c := newChain(t)
	var tips []uint64
	for i := range 5 {
		tx, _ := c.f.Tx(t, c.f.Orgs[0].Client, time.Now(), "kv", "Put", "k", "v"+string(rune('a'+i)))
		c.commit(time.Now(), tx)
		tips = append(tips, c.store.Height())
	}
	dir := filepath.Join(t.TempDir(), "rebuilt")
	keep := tips[2] // blocks up to the one that wrote "vc"
	if err := c.store.Rebuild(dir, keep); err != nil {
		t.Fatal(err)
	}
	r, err := ledger.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.Height() != keep || r.RaftIndex() != 0 {
		t.Fatalf("rebuilt height %d raft index %d, want %d and 0", r.Height(), r.RaftIndex(), keep)
	}
	last, _ := c.store.Block(keep - 1)
	if r.LastHash() != block.HeaderHash(last.GetHeader()) {
		t.Fatal("rebuilt store ends at another block")
	}
	if v, _ := r.Get("kv", "k"); string(v) != "vc" {
		t.Fatalf("rebuilt k = %q, want vc", v)
	}
	if hist, err := r.History("kv", "k"); err != nil || len(hist) != 3 {
		t.Fatalf("rebuilt history: %d entries, %v", len(hist), err)
	}
	if rep, err := r.Verify(context.Background()); err != nil || !rep.OK() {
		t.Fatalf("rebuilt store does not verify: %v %v", err, rep.Problems)
	}
	if c.store.Height() != tips[4] {
		t.Fatal("rebuilding changed the source")
	}
	if err := c.store.Rebuild(dir, keep); err == nil {
		t.Fatal("rebuild over an existing directory")
	}
	if err := c.store.Rebuild(filepath.Join(t.TempDir(), "x"), tips[4]+1); err == nil {
		t.Fatal("rebuild of more blocks than the store holds")
	}
}

// TestRebuildRefusesAlteredResults: a block whose stored result no longer
// matches its header's tx root is not copied, and nothing is left behind.
func TestRebuildRefusesAlteredResults(t *testing.T) {
	c := newChain(t)
	tx, _ := c.f.Tx(t, c.f.Orgs[0].Client, time.Now(), "kv", "Put", "k", "value-1")
	b := c.commit(time.Now(), tx)
	n := b.GetHeader().GetNumber()
	c.store.Close()
	db, err := kvstore.Open(c.dir, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	tamperDB{db}.flipInValue(t, append([]byte{'b'}, be64(n)...), []byte("value-1"))
	db.Close()
	s, err := ledger.Open(c.dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	dir := filepath.Join(t.TempDir(), "rebuilt")
	if err := s.Rebuild(dir, n+1); err == nil || !strings.Contains(err.Error(), "tx root") {
		t.Fatalf("rebuild of a tampered block: %v", err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("a failed rebuild left %s behind: %v", dir, err)
	}
}

// TestVerifyNamesTamperedBlock changes one byte of a stored block, and one
// byte of a stored state value, and checks that Verify names the block.
func TestVerifyNamesTamperedBlock(t *testing.T) {
	tests := []struct {
		name   string
		tamper func(t *testing.T, db tamperDB)
		block  uint64
		what   string
	}{
		{"block value byte", func(t *testing.T, db tamperDB) {
			db.flipInValue(t, append([]byte{'b'}, be64(3)...), []byte("value-3"))
		}, 3, "Merkle root"},
		{"state value byte", func(t *testing.T, db tamperDB) {
			db.flipInValue(t, append([]byte("skv\x00"), "key-2"...), []byte("value-2"))
		}, 2, "stored value of state key kv/key-2"},
		{"header byte", func(t *testing.T, db tamperDB) {
			db.editBlock(t, 4, func(b *pb.Block) { b.Header.StateHash[0] ^= 1 })
		}, 4, "cutter signature"},
		{"result byte", func(t *testing.T, db tamperDB) {
			db.editBlock(t, 5, func(b *pb.Block) { b.Results[0].Writes[0].Value[0] ^= 1 })
		}, 5, "Merkle root"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newChain(t)
			for i := 2; i <= 5; i++ {
				tx, _ := c.f.Tx(t, c.f.Orgs[0].Client, time.Now(), "kv", "Put", "key-"+itoa(i), "value-"+itoa(i))
				c.commit(time.Now(), tx)
			}
			rep := c.tamperAndVerify(tt.tamper)
			first := rep.Problems[0]
			if first.Block != tt.block || !strings.Contains(first.What, tt.what) {
				t.Fatalf("first problem = %s, want block %d mentioning %q", first, tt.block, tt.what)
			}
		})
	}
}

func TestEndorseAndEvaluate(t *testing.T) {
	c := newChain(t)
	cl := c.f.Orgs[0].Client
	env, _ := c.f.Envelope(t, cl, time.Now(), "kv", "Put", "x", "1")
	if _, _, err := c.exec.Endorse(c.store, env, time.Now()); err != nil {
		t.Fatalf("Endorse: %v", err)
	}
	if v, _ := c.store.Get("kv", "x"); v != nil {
		t.Fatal("endorsement wrote to the committed state")
	}
	bad, _ := c.f.Envelope(t, cl, time.Now(), "kv", "Fail", "x", "nope")
	_, _, err := c.exec.Endorse(c.store, bad, time.Now())
	if executor.ErrorCode(err) != pb.ValidationCode_CHAINCODE_ERROR || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("Endorse(Fail) = %v", err)
	}
	q, _ := c.f.Envelope(t, cl, time.Now(), "kv", "Put", "x", "1")
	if _, err := c.exec.Evaluate(c.store, q, time.Now()); err == nil || !strings.Contains(err.Error(), chaincode.ErrReadOnly.Error()) {
		t.Fatalf("Evaluate(Put) = %v, want a read-only error", err)
	}
}

// tamperDB edits a closed store's database directly.
type tamperDB struct{ db *pebble.DB }

func (d tamperDB) get(t *testing.T, key []byte) []byte {
	t.Helper()
	v, closer, err := d.db.Get(key)
	if err != nil {
		t.Fatalf("get %q: %v", key, err)
	}
	out := bytes.Clone(v)
	closer.Close()
	return out
}

// flipInValue flips one bit of the first occurrence of marker in the value.
func (d tamperDB) flipInValue(t *testing.T, key, marker []byte) {
	t.Helper()
	v := d.get(t, key)
	i := bytes.Index(v, marker)
	if i < 0 {
		t.Fatalf("marker %q not in value of %q", marker, key)
	}
	v[i+len(marker)-1] ^= 1
	if err := d.db.Set(key, v, pebble.Sync); err != nil {
		t.Fatal(err)
	}
}

// editBlock decodes a stored block, lets edit change it, and stores it.
func (d tamperDB) editBlock(t *testing.T, n uint64, edit func(*pb.Block)) {
	t.Helper()
	key := append([]byte{'b'}, be64(n)...)
	b := new(pb.Block)
	if err := proto.Unmarshal(d.get(t, key), b); err != nil {
		t.Fatal(err)
	}
	edit(b)
	raw, err := proto.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.db.Set(key, raw, pebble.Sync); err != nil {
		t.Fatal(err)
	}
}

func be64(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }

func itoa(i int) string { return string(rune('0' + i)) }

// TestGetSeesEveryCommit reads keys through the store's state cache between
// commits that set, overwrite and delete them, and after a reopen.
func TestGetSeesEveryCommit(t *testing.T) {
	c := newChain(t)
	now := time.Now()
	cl := c.f.Orgs[0].Client
	want := func(key, v string, present bool) {
		t.Helper()
		got, err := c.store.Get("kv", key)
		if err != nil || (got != nil) != present || string(got) != v {
			t.Fatalf("Get(%s) = %q, %v; want %q (present %v)", key, got, err, v, present)
		}
	}
	want("a", "", false) // cached as absent
	put := func(k, v string) []byte { tx, _ := c.f.Tx(t, cl, now, "kv", "Put", k, v); return tx }
	c.commit(now, put("a", "1"), put("b", "1"))
	want("a", "1", true)
	want("b", "1", true)
	c.commit(now, put("a", "2"))
	want("a", "2", true)
	del, _ := c.f.Tx(t, cl, now, "kv", "Del", "b")
	c.commit(now, del)
	want("b", "", false)
	// A failed transaction's writes never reach the cache.
	bad, _ := c.f.Tx(t, cl, now, "kv", "Put", "a")
	if code := c.commit(now, bad).GetResults()[0].GetCode(); code != pb.ValidationCode_CHAINCODE_ERROR {
		t.Fatalf("Put without a value committed as %s, want CHAINCODE_ERROR", code)
	}
	want("a", "2", true)
}
