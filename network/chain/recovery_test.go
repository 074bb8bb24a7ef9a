package chain_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/medshare/medshare/internal/kvstore"
	"github.com/medshare/medshare/network/chain"
	"github.com/medshare/medshare/network/kvcc"
	"github.com/medshare/medshare/network/pb"
)

// stallingPeers delivers at most limit blocks in all, then hangs until the
// caller gives up: a node installing a checkpoint through it stops part-way.
type stallingPeers struct {
	chain.Peers
	limit     int64
	delivered atomic.Int64
	stalled   chan struct{}
}

func (p *stallingPeers) Blocks(ctx context.Context, node *pb.NodeInfo, ch string, from, to uint64, fn func(*pb.Block) error) error {
	return p.Peers.Blocks(ctx, node, ch, from, to, func(b *pb.Block) error {
		if p.delivered.Add(1) > p.limit {
			select {
			case p.stalled <- struct{}{}:
			default:
			}
			<-ctx.Done()
			return ctx.Err()
		}
		return fn(b)
	})
}

func waitUntil(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func verifies(t *testing.T, c *chain.Chain, who string) {
	t.Helper()
	rep, err := c.Store().Verify(context.Background())
	if err != nil || !rep.OK() {
		t.Fatalf("%s: ledger does not verify: %v %v", who, err, rep.Problems)
	}
}

// TestCheckpointInstallIsAtomic (issue 10, hole 4): a node far behind gets a
// checkpoint from the leader and fetches the missing blocks from its peers.
// Interrupted part-way, it keeps the blocks it had plus those it verified,
// and its ledger verifies; restarted, it resumes from the checkpoint Raft
// stored and catches up. A snapshot that is not a checkpoint, or a
// checkpoint no peer can back, changes nothing.
func TestCheckpointInstallIsAtomic(t *testing.T) {
	rc := testRaftConfig()
	rc.SnapshotThreshold = 8
	rc.TrailingLogs = 4
	rc.SnapshotInterval = 100 * time.Millisecond
	cl := newCluster(t, 3, rc)
	stall := &stallingPeers{limit: 10, stalled: make(chan struct{}, 1)}
	lagging := -1
	cl.wrapPeers = func(i int, p chain.Peers) chain.Peers {
		if i == lagging {
			stall.Peers = p
			return stall
		}
		return p
	}
	leader := cl.waitLeader()
	cl.deploy()
	lagging = (leader + 1) % 3
	before := cl.chain(lagging).Store().Height()
	cl.stop(lagging)
	for i := range 40 {
		if _, err := cl.submit(leader, 0, kvcc.Name, "Put", "k"+strconv.Itoa(i), "v"); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(500 * time.Millisecond) // let the leader snapshot and compact its log
	cl.start(lagging, false)
	select {
	case <-stall.stalled:
	case <-time.After(30 * time.Second):
		t.Fatal("the lagging node did not start fetching blocks (no checkpoint installed?)")
	}
	mid := cl.chain(lagging).Store().Height()
	if mid <= before {
		t.Fatalf("the lagging node fetched nothing before stalling: height %d", mid)
	}
	cl.stop(lagging) // interrupted while installing
	c, err := chain.Open(cl.opts(lagging))
	if err != nil {
		t.Fatal(err)
	}
	stored := c.Store().Height()
	verifies(t, c, "interrupted install")
	c.Close()
	if stored < mid {
		t.Fatalf("blocks lost by the interruption: %d, had %d", stored, mid)
	}
	t.Logf("interrupted at height %d (was %d)", stored, before)
	// Restarted: the ledger is behind the checkpoint Raft stored; it
	// catches up.
	stall.limit = 1 << 30
	cl.start(lagging, false)
	cl.converge()
	verifies(t, cl.chain(lagging), "caught up")
	if v, _ := cl.chain(lagging).Store().Get(kvcc.Name, "k39"); string(v) != "v" {
		t.Fatalf("k39 = %q", v)
	}
	// Refused snapshots change nothing.
	x := cl.chain(lagging)
	h, last, _ := x.Store().Tip()
	for name, snap := range map[string][]byte{
		"format 1":      {0, 0, 0, 1, 'k', 0, 0, 0, 1, 'v'},
		"garbage":       []byte("MSNP\x02garbage"),
		"other channel": chain.Checkpoint("main", h, last, [32]byte{}),
	} {
		if err := x.InstallSnapshot(snap); err == nil {
			t.Errorf("%s: snapshot installed", name)
		}
	}
	if h2, last2, _ := x.Store().Tip(); h2 != h || last2 != last || x.Info().GetHalted() {
		t.Fatalf("a refused snapshot changed the ledger: height %d -> %d, halted %v", h, h2, x.Info().GetHalted())
	}
	verifies(t, x, "after refused snapshots")
}

// TestCheckpointBeyondPeersChangesNothing: a checkpoint from a leader that
// no peer can back with blocks times out and leaves the ledger as it was.
func TestCheckpointBeyondPeersChangesNothing(t *testing.T) {
	cl := newCluster(t, 3, testRaftConfig())
	leader := cl.waitLeader()
	cl.deploy()
	x := (leader + 1) % 3
	cl.stop(x)
	o := cl.opts(x)
	o.CatchUpTimeout = time.Second
	c, err := chain.Open(o)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	h, last, _ := c.Store().Tip()
	err = c.InstallSnapshot(chain.Checkpoint(cl.cfg.Name(), h+100, last, [32]byte{}))
	if !errors.Is(err, chain.ErrCatchingUp) {
		t.Fatalf("install of an unreachable checkpoint: %v", err)
	}
	if h2, last2, _ := c.Store().Tip(); h2 != h || last2 != last || c.Halted() {
		t.Fatalf("ledger changed: height %d -> %d", h, h2)
	}
	verifies(t, c, "after a failed install")
}

// TestRecoverRebuildsDamagedLedger: Recover rebuilds a ledger whose stored
// state was changed from the blocks before the damage, sets the damaged
// store aside, and the node catches up from there.
func TestRecoverRebuildsDamagedLedger(t *testing.T) {
	cl := newCluster(t, 3, testRaftConfig())
	leader := cl.waitLeader()
	cl.deploy()
	for i := range 5 {
		if _, err := cl.submit(leader, 0, kvcc.Name, "Put", "k"+strconv.Itoa(i), "v"); err != nil {
			t.Fatal(err)
		}
	}
	cl.converge()
	x := (leader + 1) % 3
	damaged := cl.chain(x).Store().Height() - 3
	cl.stop(x)
	dir := cl.opts(x).Dir
	tamperState(t, filepath.Join(dir, "ledger"), kvcc.Name, "k2")
	rep, err := chain.Recover(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Verified.OK() || rep.Kept >= rep.Held || rep.Damaged == "" {
		t.Fatalf("recovery of a damaged ledger: %+v", rep)
	}
	if rep.Kept > damaged {
		t.Fatalf("kept %d blocks, but block %d's write was damaged", rep.Kept, damaged)
	}
	if _, err := os.Stat(rep.Damaged); err != nil {
		t.Fatalf("damaged store not kept: %v", err)
	}
	cl.start(x, false)
	cl.converge()
	verifies(t, cl.chain(x), "rebuilt")
}

// tamperState changes one byte of a stored state value of a closed ledger.
func tamperState(t *testing.T, dir, ns, key string) {
	t.Helper()
	db, err := kvstore.Open(dir, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	k := []byte("s" + ns + "\x00" + key)
	v, closer, err := db.Get(k)
	if err != nil {
		t.Fatal(err)
	}
	val := append([]byte(nil), v...)
	closer.Close()
	val[0] ^= 1
	if err := db.Set(k, val, pebble.Sync); err != nil {
		t.Fatal(err)
	}
}
