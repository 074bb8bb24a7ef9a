package network_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/medshare/medshare/network/client"
	"github.com/medshare/medshare/network/ledger"
	"github.com/medshare/medshare/network/nettest"
	"github.com/medshare/medshare/network/pb"
)

// waitInfo polls node i's view of a channel until cond holds or the deadline
// passes; it returns the last info seen and whether cond held.
func waitInfo(t *testing.T, n *nettest.Network, i int, ch string, within time.Duration, cond func(*pb.ChainInfo) bool) (*pb.ChainInfo, bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	var last *pb.ChainInfo
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		info, err := n.Info(ctx, i, ch)
		cancel()
		if err == nil {
			last = info
			if cond(info) {
				return info, true
			}
		}
		if time.Now().After(deadline) {
			return last, false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitLeaderAmong waits until node via reports a leader among the nodes
// given, and returns its index.
func waitLeaderAmong(t *testing.T, n *nettest.Network, via int, ch string, among ...int) int {
	t.Helper()
	info, ok := waitInfo(t, n, via, ch, time.Minute, func(info *pb.ChainInfo) bool {
		for _, i := range among {
			if info.GetLeader() == n.Nodes[i].ID {
				return true
			}
		}
		return false
	})
	if !ok {
		t.Fatalf("no leader among nodes %v on %s: %v", among, ch, info)
	}
	for _, i := range among {
		if info.GetLeader() == n.Nodes[i].ID {
			return i
		}
	}
	return -1
}

// haltFollower makes one node halt channel ch the way a faulty node does:
// it stops a follower, corrupts its stored world-state hash, restarts it
// under a leader the two others elected, and commits a block, whose state
// hash the corrupted node cannot reproduce. It returns the halted node.
func haltFollower(t *testing.T, n *nettest.Network, ch string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	x := (leaderOf(t, n, 0, ch) + 1) % 3
	if err := n.Terminate(x); err != nil {
		t.Fatal(err)
	}
	waitLeaderAmong(t, n, (x+1)%3, ch, (x+1)%3, (x+2)%3)
	corruptStateHash(t, n, x, ch)
	if err := n.Restart(ctx, x); err != nil {
		t.Fatal(err)
	}
	gw, err := n.Gateway((x+1)%3, (x+1)%3, "client")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gw.GetNetwork(ch).GetContract("kv").SubmitTransaction("Put", "halt-trigger", "1"); err != nil {
		t.Fatal(err)
	}
	if info, ok := waitInfo(t, n, x, ch, time.Minute, func(i *pb.ChainInfo) bool { return i.GetHalted() }); !ok {
		t.Fatalf("node%d did not halt: %v", x, info)
	}
	return x
}

// TestHaltedNodeStopsVoting (issue 10, hole 2): a node that halted a
// channel must neither lead it nor vote in its elections. With one node
// halted and the leader killed, the last healthy node must not find a
// majority — the halted node's vote would give it one, or make the halted
// node a leader that cuts no blocks — and once the killed node is back, the
// two healthy nodes commit without the halted one.
func TestHaltedNodeStopsVoting(t *testing.T) {
	const ch = "main"
	n := startNetwork(t, nettest.Options{Channels: []string{ch}, Raft: fastRaft, CompareInterval: 300 * time.Millisecond})
	gw, err := n.Gateway(0, 0, "client")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gw.GetNetwork(ch).GetContract("kv").SubmitTransaction("Put", "a", "1"); err != nil {
		t.Fatal(err)
	}
	x := haltFollower(t, n, ch)
	leader := waitLeaderAmong(t, n, (x+1)%3, ch, (x+1)%3, (x+2)%3)
	healthy := 3 - x - leader
	t.Logf("node%d halted; killing the leader node%d; node%d is the last healthy node", x, leader, healthy)
	if err := n.Kill(leader); err != nil {
		t.Fatal(err)
	}
	// Five election timeouts: without the halted node's vote nobody can win.
	end := time.Now().Add(5 * time.Second)
	for time.Now().Before(end) {
		for _, i := range []int{x, healthy} {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			info, err := n.Info(ctx, i, ch)
			cancel()
			if err == nil && info.GetLeader() != "" && info.GetLeader() != n.Nodes[leader].ID {
				t.Fatalf("node%d sees %s leading with only the halted node%d and node%d up: the halted node voted", i, info.GetLeader(), x, healthy)
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := n.Restart(ctx, leader); err != nil {
		t.Fatal(err)
	}
	gwh, err := n.Gateway(healthy, healthy, "client", client.WithEndorseTimeout(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gwh.GetNetwork(ch).GetContract("kv").SubmitTransaction("Put", "after", "2"); err != nil {
		t.Fatalf("the healthy nodes do not commit without the halted one: %v", err)
	}
	if info, _ := waitInfo(t, n, healthy, ch, 0, func(*pb.ChainInfo) bool { return true }); info.GetLeader() == n.Nodes[x].ID {
		t.Fatalf("the halted node%d leads", x)
	}
}

// TestHaltIsPersistentAndRecoverable (issue 10, hole 3): a halted node
// keeps refusing service on the channel — also after a restart — while the
// others go on (and compact their logs); after "medshare ledger recover" it
// comes back at the others' height with the same hashes, and its ledger
// verifies.
func TestHaltIsPersistentAndRecoverable(t *testing.T) {
	const ch = "main"
	raft := fastRaft
	raft.SnapshotThreshold, raft.TrailingLogs, raft.SnapshotInterval = 16, 4, 200*time.Millisecond
	n := startNetwork(t, nettest.Options{Channels: []string{ch}, Raft: raft, CompareInterval: 300 * time.Millisecond})
	gw, err := n.Gateway(0, 0, "client")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gw.GetNetwork(ch).GetContract("kv").SubmitTransaction("Put", "k", "before"); err != nil {
		t.Fatal(err)
	}
	x := haltFollower(t, n, ch)
	other := (x + 1) % 3
	gwo, err := n.Gateway(other, other, "client")
	if err != nil {
		t.Fatal(err)
	}
	kv := gwo.GetNetwork(ch).GetContract("kv")
	for i := range 60 {
		if _, err := kv.SubmitTransaction("Put", "k", fmt.Sprintf("after-%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	refuses := func(when string) {
		t.Helper()
		gwx, err := n.Gateway(x, x, "client")
		if err != nil {
			t.Fatal(err)
		}
		kvx := gwx.GetNetwork(ch).GetContract("kv")
		var ge *client.GatewayError
		v, err := kvx.EvaluateTransaction("Get", "k")
		if !errors.As(err, &ge) || ge.Code != codes.Unavailable || !strings.Contains(ge.Message, "halted") {
			t.Fatalf("%s: the halted node%d serves reads: k = %q, %v", when, x, v, err)
		}
		var ee *client.EndorseError
		if _, err := kvx.SubmitTransaction("Put", "x", "1"); !errors.As(err, &ee) || ee.Code != codes.Unavailable || !strings.Contains(ee.Message, "halted") {
			t.Fatalf("%s: the halted node%d accepts submissions: %v", when, x, err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := gwx.GetNetwork(ch).Block(ctx, 1); status.Code(err) != codes.Unavailable {
			t.Fatalf("%s: the halted node%d serves blocks: %v", when, x, err)
		}
	}
	refuses("halted")
	if err := n.Terminate(x); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := n.Restart(ctx, x); err != nil {
		t.Fatal(err)
	}
	if info, ok := waitInfo(t, n, x, ch, 2*time.Second, func(i *pb.ChainInfo) bool { return i.GetHalted() }); !ok {
		t.Fatalf("after a restart node%d no longer reports the channel halted: %v", x, info)
	}
	refuses("halted, restarted")
	if err := n.Terminate(x); err != nil {
		t.Fatal(err)
	}
	out, err := n.Recover(x, ch)
	if err != nil {
		t.Fatalf("ledger recover: %v\n%s", err, out)
	}
	t.Logf("ledger recover:\n%s", out)
	if err := n.Restart(ctx, x); err != nil {
		t.Fatal(err)
	}
	if _, err := n.WaitConverged(ctx, ch); err != nil {
		t.Fatal(err)
	}
	gwx, err := n.Gateway(x, x, "client")
	if err != nil {
		t.Fatal(err)
	}
	if v, err := gwx.GetNetwork(ch).GetContract("kv").EvaluateTransaction("Get", "k"); err != nil || string(v) != "after-59" {
		t.Fatalf("recovered node%d reads k = %q, %v; want after-59", x, v, err)
	}
	if _, err := gwx.GetNetwork(ch).GetContract("kv").SubmitTransaction("Put", "k", "recovered"); err != nil {
		t.Fatalf("recovered node%d: %v", x, err)
	}
	if _, err := n.WaitConverged(ctx, ch); err != nil {
		t.Fatal(err)
	}
	stopAndVerify(t, n, ch)
}

// TestCheckpointInstallSurvivesKill (issue 10, hole 4): a follower that
// was down while the others committed hundreds of blocks and compacted their
// Raft logs gets a checkpoint from the leader and fetches the missing blocks
// from its peers; killed with SIGKILL in the middle of that, it restarts
// from what it had verified, resumes from the checkpoint Raft stored, and
// catches up. Every ledger verifies and no node raised an alert.
func TestCheckpointInstallSurvivesKill(t *testing.T) {
	const ch = "main"
	raft := fastRaft
	raft.SnapshotThreshold, raft.TrailingLogs, raft.SnapshotInterval = 32, 8, 200*time.Millisecond
	n := startNetwork(t, nettest.Options{Channels: []string{ch}, Raft: raft, Batch: &pb.BatchConfig{MaxMessageCount: 8, TimeoutMillis: 5}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	leader := leaderOf(t, n, 0, ch)
	f := (leader + 1) % 3
	const installing = "installing a checkpoint"
	killed := false
	for round := 0; round < 4 && !killed; round++ {
		if err := n.Terminate(f); err != nil {
			t.Fatal(err)
		}
		before := strings.Count(n.Logs(f), installing)
		start, _ := waitInfo(t, n, leader, ch, 0, func(*pb.ChainInfo) bool { return true })
		fill(t, n, ch, leader, start.GetHeight()+300)
		time.Sleep(time.Second) // the others snapshot and compact their logs
		target, _ := waitInfo(t, n, leader, ch, 0, func(*pb.ChainInfo) bool { return true })
		restarted := make(chan error, 1)
		go func() { restarted <- n.Restart(ctx, f) }()
		// Kill it once it started installing the leader's checkpoint and
		// committed some of the blocks it fetched.
		deadline := time.Now().Add(time.Minute)
		for strings.Count(n.Logs(f), installing) == before && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		for from := uint64(0); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			cctx, ccancel := context.WithTimeout(ctx, time.Second)
			info, err := n.Info(cctx, f, ch)
			ccancel()
			if err != nil {
				continue
			}
			if from == 0 {
				from = info.GetHeight()
			}
			if info.GetHeight() >= from+10 || info.GetHeight() >= target.GetHeight() {
				break
			}
		}
		if err := n.Kill(f); err != nil {
			t.Fatal(err)
		}
		<-restarted // fails if it was killed before it served
		s, err := ledger.OpenReadOnly(n.LedgerDir(f, ch), nil)
		if err != nil {
			t.Fatal(err)
		}
		h := s.Height()
		s.Close()
		if strings.Count(n.Logs(f), installing) > before && h > start.GetHeight() && h < target.GetHeight() {
			t.Logf("round %d: killed node%d at height %d while it installed a checkpoint of height %d", round, f, h, target.GetHeight())
			killed = true
		} else {
			t.Logf("round %d: node%d was at height %d of %d when killed; again", round, f, h, target.GetHeight())
		}
	}
	if !killed {
		t.Fatal("could not kill the follower while it installed a checkpoint")
	}
	if err := n.Restart(ctx, f); err != nil {
		t.Fatal(err)
	}
	fill(t, n, ch, leader, 0)
	if _, err := n.WaitConverged(ctx, ch); err != nil {
		t.Fatal(err)
	}
	if logs := n.Logs(f); !strings.Contains(logs, "the ledger is behind the newest Raft snapshot") && !strings.Contains(logs, "installing a checkpoint") {
		t.Fatalf("node%d did not resume the interrupted installation", f)
	}
	assertNoAlerts(t, n, ch)
	for _, line := range strings.Split(n.Logs(f), "\n") {
		if strings.Contains(line, "checkpoint") || strings.Contains(line, "snapshot") {
			t.Logf("node%d: %s", f, line)
		}
	}
	stopAndVerify(t, n, ch)
}

// fill commits small blocks through node via from 8 clients until the
// channel's height on that node reaches height (at least one round).
func fill(t *testing.T, n *nettest.Network, ch string, via int, height uint64) {
	t.Helper()
	var wg sync.WaitGroup
	var failed atomic.Int64
	for c := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			gw, err := n.Gateway(via, via, "client")
			if err != nil {
				t.Error(err)
				return
			}
			kv := gw.GetNetwork(ch).GetContract("kv")
			for j := 0; ; j++ {
				if _, err := kv.SubmitTransaction("Put", fmt.Sprintf("fill-%d-%d", c, j), "v"); err != nil {
					failed.Add(1)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				info, err := n.Info(ctx, via, ch)
				cancel()
				if err == nil && info.GetHeight() >= height {
					return
				}
			}
		}()
	}
	wg.Wait()
	if failed.Load() > 0 {
		t.Logf("%d fill transactions failed", failed.Load())
	}
}

// assertNoAlerts checks that no node of the network raised an alert, in its
// alert log or on the channel.
func assertNoAlerts(t *testing.T, n *nettest.Network, ch string) {
	t.Helper()
	for i := range n.Nodes {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		h, err := n.Health(ctx, i)
		cancel()
		if err != nil {
			t.Fatalf("node%d health: %v", i, err)
		}
		if len(h.GetAlerts()) > 0 {
			t.Errorf("node%d raised alerts: %q", i, h.GetAlerts())
		}
		for _, c := range h.GetChannels() {
			if c.GetAlert() != "" || c.GetHalted() {
				t.Errorf("node%d %s: halted %v, alert %q", i, c.GetChannel(), c.GetHalted(), c.GetAlert())
			}
		}
	}
}
