package chain_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/medshare/medshare/network/chain"
	"github.com/medshare/medshare/network/chaincode"
	"github.com/medshare/medshare/network/channel"
	"github.com/medshare/medshare/network/consensus"
	"github.com/medshare/medshare/network/executor"
	"github.com/medshare/medshare/network/internal/fixture"
	"github.com/medshare/medshare/network/kvcc"
	"github.com/medshare/medshare/network/lifecycle"
	"github.com/medshare/medshare/network/pb"
)

// cluster is an in-process channel on n nodes: real Raft over mutual TLS on
// loopback, real pebble stores, one chain per node.
type cluster struct {
	t        *testing.T
	f        *fixture.Fixture
	dirs     []string
	muxes    []*consensus.Mux
	mu       sync.Mutex
	chains   []*chain.Chain
	cfg      *channel.Config
	registry []executor.Registry
	raftCfg  consensus.Config
	// wrapPeers, when set, wraps node i's view of its peers.
	wrapPeers func(i int, p chain.Peers) chain.Peers
}

func testRaftConfig() consensus.Config {
	c := consensus.DefaultConfig()
	c.HeartbeatTimeout = 300 * time.Millisecond
	c.ElectionTimeout = 300 * time.Millisecond
	c.LeaderLeaseTimeout = 150 * time.Millisecond
	c.LogOutput = io.Discard
	return c
}

func newCluster(t *testing.T, n int, raftCfg consensus.Config) *cluster {
	t.Helper()
	msps := make([]string, n)
	for i := range msps {
		msps[i] = fmt.Sprintf("Org%dMSP", i)
	}
	cl := &cluster{t: t, f: fixture.New(t, "side-high", msps), raftCfg: raftCfg}
	cl.f.Config.Batch = &pb.BatchConfig{MaxMessageCount: 100, TimeoutMillis: 20}
	kv, err := kvcc.New()
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		dir := t.TempDir()
		cl.dirs = append(cl.dirs, dir)
		cl.registry = append(cl.registry, executor.Registry{kvcc.Name: executor.Instance(kv)})
		idx := i
		mux, err := consensus.Listen("127.0.0.1:0", cl.f.Orgs[i].NodeTLS[0], func(ch, addr string, der []byte) error {
			cl.mu.Lock()
			cfg := cl.cfg
			cl.mu.Unlock()
			if cfg == nil {
				return errors.New("no channel yet")
			}
			return chain.AuthorizeNode(cfg, addr, der, time.Now())
		}, slog.New(slog.DiscardHandler).With("node", idx))
		if err != nil {
			t.Fatal(err)
		}
		cl.muxes = append(cl.muxes, mux)
		cl.f.Config.Nodes[i].ClusterAddress = mux.Addr().String()
	}
	cl.chains = make([]*chain.Chain, n)
	cl.f.MakeGenesis(t)
	cfg, err := channel.VerifyGenesis(cl.f.Genesis)
	if err != nil {
		t.Fatal(err)
	}
	cl.cfg = cfg
	for i := range n {
		cl.start(i, true)
	}
	t.Cleanup(func() {
		for i := range cl.chains {
			cl.stop(i)
		}
		for _, m := range cl.muxes {
			m.Close()
		}
	})
	return cl
}

func (cl *cluster) opts(i int) chain.Options {
	return chain.Options{
		Dir:       filepath.Join(cl.dirs[i], "side-high"),
		Signer:    cl.f.Orgs[i].Nodes[0],
		Registry:  cl.registry[i],
		Raft:      cl.raftCfg,
		Mux:       cl.muxes[i],
		Forwarder: forwarder{cl},
		Peers:     cl.peers(i),
	}
}

func (cl *cluster) peers(i int) chain.Peers {
	var p chain.Peers = peers{cl}
	if cl.wrapPeers != nil {
		p = cl.wrapPeers(i, p)
	}
	return p
}

func (cl *cluster) start(i int, join bool) {
	cl.t.Helper()
	var c *chain.Chain
	var err error
	if join {
		c, err = chain.Join(cl.f.Genesis, cl.opts(i))
	} else {
		c, err = chain.Open(cl.opts(i))
	}
	if err != nil {
		cl.t.Fatalf("node %d: %v", i, err)
	}
	cl.mu.Lock()
	cl.chains[i] = c
	cl.mu.Unlock()
}

func (cl *cluster) stop(i int) {
	cl.mu.Lock()
	c := cl.chains[i]
	cl.chains[i] = nil
	cl.mu.Unlock()
	if c != nil {
		c.Close()
	}
}

func (cl *cluster) chain(i int) *chain.Chain {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return cl.chains[i]
}

// forwarder delivers forwarded transactions in process.
type forwarder struct{ cl *cluster }

func (f forwarder) Forward(ctx context.Context, leader *pb.NodeInfo, ch string, envs []*pb.Envelope) ([]error, error) {
	for i, n := range f.cl.cfg.Nodes() {
		_ = i
		if n.GetId() == leader.GetId() {
			for j, node := range f.cl.f.Config.Nodes {
				if node.GetId() == n.GetId() {
					if c := f.cl.chain(j); c != nil {
						return c.Enqueue(envs), nil
					}
				}
			}
		}
	}
	return nil, errors.New("leader unreachable")
}

// peers reaches the other nodes in process.
type peers struct{ cl *cluster }

func (p peers) node(id string) (*chain.Chain, error) {
	for j, n := range p.cl.f.Config.Nodes {
		if n.GetId() == id {
			if c := p.cl.chain(j); c != nil {
				return c, nil
			}
		}
	}
	return nil, errors.New("node unreachable")
}

func (p peers) ChainInfo(ctx context.Context, node *pb.NodeInfo, ch string) (*pb.ChainInfo, error) {
	c, err := p.node(node.GetId())
	if err != nil {
		return nil, err
	}
	return c.Info(), nil
}

func (p peers) ReadIndex(ctx context.Context, node *pb.NodeInfo, ch string) (uint64, error) {
	c, err := p.node(node.GetId())
	if err != nil {
		return 0, err
	}
	return c.ReadIndex(ctx)
}

func (p peers) Blocks(ctx context.Context, node *pb.NodeInfo, ch string, from, to uint64, fn func(*pb.Block) error) error {
	c, err := p.node(node.GetId())
	if err != nil {
		return err
	}
	if c.Halted() {
		return chain.ErrHalted
	}
	for n := from; n < to && n < c.Store().Height(); n++ {
		b, err := c.Store().Block(n)
		if err != nil {
			return err
		}
		if err := fn(b); err != nil {
			return err
		}
	}
	return nil
}

// waitLeader waits until some running node leads, and returns its index.
func (cl *cluster) waitLeader() int {
	cl.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for i := range cl.chains {
			if c := cl.chain(i); c != nil && c.IsLeader() {
				return i
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	cl.t.Fatal("no leader elected")
	return -1
}

// submit submits through node i and waits for the commit there, retrying
// while the channel has no leader.
func (cl *cluster) submit(i int, org int, cc, fn string, args ...string) (chain.Committed, error) {
	env, id := cl.f.Envelope(cl.t, cl.f.Orgs[org].Client, time.Now(), cc, fn, args...)
	if cc == lifecycle.Name {
		env, id = cl.f.Envelope(cl.t, cl.f.Orgs[org].Admin, time.Now(), cc, fn, args...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		c := cl.chain(i)
		_, _, err := c.Submit(ctx, env)
		if err == nil {
			break
		}
		if !errors.Is(err, chain.ErrNoLeader) && !errors.Is(err, chain.ErrNotLeader) {
			return chain.Committed{}, err
		}
		select {
		case <-ctx.Done():
			return chain.Committed{}, err
		case <-time.After(50 * time.Millisecond):
		}
	}
	return cl.chain(i).WaitCommit(ctx, id)
}

func (cl *cluster) deploy() {
	cl.t.Helper()
	raw, err := lifecycle.EncodeDefinition(&pb.ChaincodeDefinition{Name: kvcc.Name, Version: "1", Sequence: 1})
	if err != nil {
		cl.t.Fatal(err)
	}
	for org := range cl.f.Orgs {
		if r, err := cl.submit(0, org, lifecycle.Name, lifecycle.FnApprove, string(raw)); err != nil || r.Result.GetCode() != pb.ValidationCode_VALID {
			cl.t.Fatalf("approve by org %d: %v %v", org, err, r.Result)
		}
	}
	if r, err := cl.submit(0, 0, lifecycle.Name, lifecycle.FnCommit, kvcc.Name); err != nil || r.Result.GetCode() != pb.ValidationCode_VALID {
		cl.t.Fatalf("commit: %v %v", err, r.Result)
	}
	// Followers apply the definition a moment after node 0; endorsing on
	// one before that would rightly find the chaincode undefined.
	cl.converge()
}

// converge waits until every running node has the same height, block hash
// and state hash, and returns that height.
func (cl *cluster) converge() uint64 {
	cl.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var first *pb.ChainInfo
		same := true
		for i := range cl.chains {
			c := cl.chain(i)
			if c == nil {
				continue
			}
			info := c.Info()
			if first == nil {
				first = info
			} else if info.GetHeight() != first.GetHeight() || string(info.GetCurrentHash()) != string(first.GetCurrentHash()) || string(info.GetStateHash()) != string(first.GetStateHash()) {
				same = false
			}
		}
		if same {
			return first.GetHeight()
		}
		if time.Now().After(deadline) {
			for i := range cl.chains {
				if c := cl.chain(i); c != nil {
					cl.t.Logf("node %d: %+v", i, c.Info())
				}
			}
			cl.t.Fatal("nodes did not converge")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestClusterCommitsAndConverges(t *testing.T) {
	cl := newCluster(t, 3, testRaftConfig())
	cl.waitLeader()
	cl.deploy()
	var wg sync.WaitGroup
	errs := make(chan error, 300)
	for w := range 30 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 10 {
				r, err := cl.submit(w%3, w%3, kvcc.Name, "Incr", "counter")
				if err == nil && r.Result.GetCode() != pb.ValidationCode_VALID {
					err = fmt.Errorf("code %s: %s", r.Result.GetCode(), r.Result.GetMessage())
				}
				if err != nil {
					errs <- fmt.Errorf("worker %d tx %d: %w", w, j, err)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	cl.converge()
	for i := range 3 {
		v, err := cl.chain(i).Store().Get(kvcc.Name, "counter")
		if err != nil || string(v) != "300" {
			t.Errorf("node %d: counter = %q, %v; want 300 (every increment applied once, in one order)", i, v, err)
		}
		rep, err := cl.chain(i).Store().Verify(context.Background())
		if err != nil || !rep.OK() {
			t.Errorf("node %d: verify: %v %v", i, err, rep.Problems)
		}
	}
}

func TestLeaderFailoverAndCatchUp(t *testing.T) {
	cl := newCluster(t, 3, testRaftConfig())
	cl.waitLeader()
	cl.deploy()
	for i := range 20 {
		if _, err := cl.submit(i%3, 0, kvcc.Name, "Put", "before-"+strconv.Itoa(i), "v"); err != nil {
			t.Fatal(err)
		}
	}
	old := cl.waitLeader()
	cl.stop(old)
	next := cl.waitLeader()
	if next == old {
		t.Fatal("stopped node still leads")
	}
	for i := range 20 {
		if r, err := cl.submit(next, 1, kvcc.Name, "Put", "after-"+strconv.Itoa(i), "v"); err != nil || r.Result.GetCode() != pb.ValidationCode_VALID {
			t.Fatalf("commit after failover: %v %v", err, r.Result)
		}
	}
	cl.start(old, false)
	h := cl.converge()
	v, _ := cl.chain(old).Store().Get(kvcc.Name, "after-19")
	if string(v) != "v" || h < 10 {
		t.Fatalf("restarted node did not catch up: after-19 = %q at height %d", v, h)
	}
}

func TestLaggingNodeCatchesUpFromSnapshot(t *testing.T) {
	rc := testRaftConfig()
	rc.SnapshotThreshold = 8
	rc.TrailingLogs = 4
	rc.SnapshotInterval = 100 * time.Millisecond
	cl := newCluster(t, 3, rc)
	cl.waitLeader()
	cl.deploy()
	lagging := (cl.waitLeader() + 1) % 3
	cl.stop(lagging)
	// Enough blocks that the log the lagging node needs is compacted away.
	alive := (lagging + 1) % 3
	for i := range 40 {
		if _, err := cl.submit(alive, 0, kvcc.Name, "Put", "k"+strconv.Itoa(i), "v"); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(500 * time.Millisecond) // let a snapshot be taken
	cl.start(lagging, false)
	cl.converge()
	if v, _ := cl.chain(lagging).Store().Get(kvcc.Name, "k39"); string(v) != "v" {
		t.Fatalf("lagging node has k39 = %q", v)
	}
	rep, err := cl.chain(lagging).Store().Verify(context.Background())
	if err != nil || !rep.OK() {
		t.Fatalf("restored ledger does not verify: %v %v", err, rep.Problems)
	}
}

// divergent is kvcc with a bug on one node: Put stores a different value.
type divergent struct{ chaincode.Contract }

func (divergent) Put(ctx chaincode.TransactionContext, key, value string) error {
	return ctx.GetStub().PutState(key, []byte(value+"-divergent"))
}

// TestDivergentNodeIsDetected gives one node a chaincode that computes
// another value: it halts with an alert instead of committing its state,
// and (issue 10, holes 2 and 3) records the halt, stops its Raft member and
// refuses service — also after a restart — while the others go on; once its
// chaincode is fixed and an operator ran Recover, it re-executes the block
// it halted at and catches up.
func TestDivergentNodeIsDetected(t *testing.T) {
	cl := newCluster(t, 3, testRaftConfig())
	bad, err := chaincode.New(&divergent{})
	if err != nil {
		t.Fatal(err)
	}
	leader := cl.waitLeader()
	cl.deploy()
	// Replace node x's chaincode with the divergent one, x not the leader.
	x := (leader + 1) % 3
	honest := cl.registry[x]
	cl.stop(x)
	cl.registry[x] = executor.Registry{kvcc.Name: executor.Instance(bad)}
	cl.start(x, false)
	if r, err := cl.submit(leader, 0, kvcc.Name, "Put", "k", "v"); err != nil || r.Result.GetCode() != pb.ValidationCode_VALID {
		t.Fatalf("submit: %v %v", err, r.Result)
	}
	waitUntil(t, "the divergent node halts", 10*time.Second, func() bool { return cl.chain(x).Info().GetHalted() })
	info := cl.chain(x).Info()
	if info.GetAlert() == "" {
		t.Fatal("halted without an alert")
	}
	// The divergent node never committed its different state.
	if v, _ := cl.chain(x).Store().Get(kvcc.Name, "k"); v != nil {
		t.Fatalf("divergent node committed k = %q", v)
	}
	dir := cl.opts(x).Dir
	if reason, halted, err := chain.Halted(dir); !halted || err != nil || reason == "" {
		t.Fatalf("halt not recorded: %q %v %v", reason, halted, err)
	}
	// Its Raft member stops: it is no longer anybody's leader or voter.
	waitUntil(t, "the halted node's Raft member stops", 10*time.Second, func() bool { return cl.chain(x).RaftState() == "Shutdown" })
	other := 3 - leader - x
	for i := range 10 {
		if r, err := cl.submit(other, 1, kvcc.Name, "Put", "after-"+strconv.Itoa(i), "v"); err != nil || r.Result.GetCode() != pb.ValidationCode_VALID {
			t.Fatalf("honest nodes stopped: %v %v", err, r.Result)
		}
	}
	refuses := func(c *chain.Chain) {
		t.Helper()
		env, id := cl.f.Envelope(t, cl.f.Orgs[0].Client, time.Now(), kvcc.Name, "Get", "k")
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if _, _, err := c.Evaluate(ctx, env, chain.ReadOptions{}); !errors.Is(err, chain.ErrHalted) {
			t.Fatalf("halted node evaluates: %v", err)
		}
		if _, _, err := c.Submit(ctx, env); !errors.Is(err, chain.ErrHalted) {
			t.Fatalf("halted node accepts submissions: %v", err)
		}
		if _, err := c.WaitCommit(ctx, id); !errors.Is(err, chain.ErrHalted) {
			t.Fatalf("halted node waits for commits: %v", err)
		}
	}
	refuses(cl.chain(x))
	cl.stop(x)
	cl.start(x, false)
	if info := cl.chain(x).Info(); !info.GetHalted() || info.GetAlert() == "" || info.GetLeader() != "" || cl.chain(x).RaftState() != "none" {
		t.Fatalf("after a restart: %+v, Raft %s", info, cl.chain(x).RaftState())
	}
	refuses(cl.chain(x))
	cl.stop(x)
	cl.registry[x] = honest
	rep, err := chain.Recover(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.WasHalted || rep.Kept != rep.Held || !rep.Verified.OK() || rep.Damaged != "" {
		t.Fatalf("recovery of a sound ledger: %+v", rep)
	}
	if _, halted, _ := chain.Halted(dir); halted {
		t.Fatal("recovery left the halt record")
	}
	cl.start(x, false)
	cl.converge()
	if v, _ := cl.chain(x).Store().Get(kvcc.Name, "k"); string(v) != "v" {
		t.Fatalf("recovered node: k = %q", v)
	}
	verifies(t, cl.chain(x), "recovered")
}
