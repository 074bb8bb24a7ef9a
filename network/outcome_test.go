package network_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/medshare/medshare/network/client"
	"github.com/medshare/medshare/network/nettest"
	"github.com/medshare/medshare/network/pb"
)

// TestLeaderStallLosesNoAcceptedTransaction (issue 10, hole 10): clients
// submit through every node while the leader stalls (SIGSTOP) long enough
// to be replaced, then continues and finds itself a follower with
// transactions it had queued or was cutting. No node crashes, so every
// transaction a node accepted must commit, and every client must learn it.
func TestLeaderStallLosesNoAcceptedTransaction(t *testing.T) {
	const ch = "main"
	n := startNetwork(t, nettest.Options{Channels: []string{ch}, Raft: fastRaft, Batch: &pb.BatchConfig{MaxMessageCount: 200, TimeoutMillis: 20}})
	type outcome struct {
		txID string
		err  error
	}
	var (
		mu       sync.Mutex
		accepted []outcome
		stop     = make(chan struct{})
		wg       sync.WaitGroup
		progress = make(chan struct{}, 1024)
	)
	for c := range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			gw, err := n.Gateway(c%3, c%3, "client", client.WithEndorseTimeout(20*time.Second), client.WithCommitStatusTimeout(30*time.Second))
			if err != nil {
				t.Error(err)
				return
			}
			kv := gw.GetNetwork(ch).GetContract("kv")
			for j := 0; ; j++ {
				select {
				case <-stop:
					return
				default:
				}
				_, commit, err := kv.SubmitAsync("Put", client.WithArguments(fmt.Sprintf("s-%d-%d", c, j), "v"))
				if err != nil {
					continue // not accepted: nothing to check
				}
				st, err := commit.Status()
				if err == nil && !st.Successful {
					err = fmt.Errorf("committed as %s", st.Code)
				}
				mu.Lock()
				accepted = append(accepted, outcome{commit.TransactionID(), err})
				mu.Unlock()
				select {
				case progress <- struct{}{}:
				default:
				}
			}
		}()
	}
	waitCommits := func(k int, what string) {
		t.Helper()
		deadline := time.After(time.Minute)
		for range k {
			select {
			case <-progress:
			case <-deadline:
				t.Fatalf("no progress %s", what)
			}
		}
	}
	waitCommits(100, "at start")
	for round := range 2 {
		leader := leaderOf(t, n, 0, ch)
		t.Logf("round %d: stalling the leader node%d", round, leader)
		if err := n.Pause(leader); err != nil {
			t.Fatal(err)
		}
		waitLeaderAmong(t, n, (leader+1)%3, ch, (leader+1)%3, (leader+2)%3)
		time.Sleep(time.Second)
		if err := n.Resume(leader); err != nil {
			t.Fatal(err)
		}
		waitCommits(100, "after the stalled leader resumed")
	}
	close(stop)
	wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := n.WaitConverged(ctx, ch); err != nil {
		t.Fatal(err)
	}
	gw, err := n.Gateway(0, 0, "client")
	if err != nil {
		t.Fatal(err)
	}
	lost, unknown := 0, 0
	for _, o := range accepted {
		tx, err := gw.GetNetwork(ch).Transaction(ctx, o.txID)
		switch {
		case err != nil:
			lost++
			if lost <= 5 {
				t.Errorf("transaction %s was accepted and never committed (client: %v)", o.txID, o.err)
			}
		case tx.GetResult().GetCode() != pb.ValidationCode_VALID:
			t.Errorf("transaction %s committed as %s", o.txID, tx.GetResult().GetCode())
		case o.err != nil:
			unknown++
		}
	}
	t.Logf("%d transactions accepted; %d lost; %d committed while their client got an error", len(accepted), lost, unknown)
	if lost > 0 {
		t.Fatalf("%d accepted transactions were lost without a crash", lost)
	}
}

// TestLostReplyIsOutcomeUnknown (issue 10, hole 11): a submission whose
// reply is lost after the node received it (here a proxy drops the node's
// answers) may well commit, so the client must not call it "not
// committed".
func TestLostReplyIsOutcomeUnknown(t *testing.T) {
	const ch = "main"
	n := startNetwork(t, nettest.Options{Channels: []string{ch}})
	follower := (leaderOf(t, n, 0, ch) + 1) % 3
	proxy, err := nettest.NewProxy(n.Nodes[follower].API)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	gw, conn, err := n.GatewayVia(proxy.Addr(), follower, "client", client.WithEndorseTimeout(3*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	kv := gw.GetNetwork(ch).GetContract("kv")
	if _, err := kv.SubmitTransaction("Put", "warm", "up"); err != nil {
		t.Fatal(err)
	}
	proxy.MuteReplies(true)
	tx, err := kv.NewTransaction("Put", client.WithArguments("lost-reply", "v"))
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = tx.Submit()
	var unknown *client.OutcomeUnknownError
	if !errors.Is(err, client.ErrOutcomeUnknown) || !errors.As(err, &unknown) || unknown.Transaction != tx {
		t.Fatalf("the client reported %T (%v) for a transaction whose envelope reached the node: it must report the outcome as unknown", err, err)
	}
	t.Logf("client: %v", err)
	// The documented retry: the same signed transaction, here through
	// another node. It commits once, whether the first copy did or not.
	signed, err := tx.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	direct, err := n.Gateway((follower+1)%3, (follower+1)%3, "client")
	if err != nil {
		t.Fatal(err)
	}
	net := direct.GetNetwork(ch)
	var first *client.Status
	for try := range 2 {
		again, err := net.NewSignedTransaction(signed)
		if err != nil {
			t.Fatal(err)
		}
		_, commit, err := again.Submit()
		if err != nil {
			t.Fatalf("retry %d: %v", try, err)
		}
		st, err := commit.Status()
		if err != nil || !st.Successful || st.TransactionID != tx.TransactionID() {
			t.Fatalf("retry %d: %v %+v", try, err, st)
		}
		if first == nil {
			first = st
		} else if st.BlockNumber != first.BlockNumber {
			t.Fatalf("the retries report blocks %d and %d", first.BlockNumber, st.BlockNumber)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	info, err := n.WaitConverged(ctx, ch)
	if err != nil {
		t.Fatal(err)
	}
	blocks, err := net.BlockEvents(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	valid := 0
	for b := range blocks {
		for _, r := range b.GetResults() {
			if r.GetTxId() == tx.TransactionID() && r.GetCode() == pb.ValidationCode_VALID {
				valid++
			}
		}
		if b.GetHeader().GetNumber()+1 == info.GetHeight() {
			break
		}
	}
	if valid != 1 {
		t.Fatalf("transaction %s committed as valid %d times", tx.TransactionID(), valid)
	}
	if v, err := direct.GetNetwork(ch).GetContract("kv").EvaluateTransaction("Get", "lost-reply"); err != nil || string(v) != "v" {
		t.Fatalf("lost-reply = %q, %v", v, err)
	}
}

// TestRestartedNodeDoesNotServeStaleReads (issue 10, hole 12): a node
// restarted after missing blocks must not answer an evaluate with the world
// as it was before it stopped: it refuses until it has caught up.
func TestRestartedNodeDoesNotServeStaleReads(t *testing.T) {
	const ch = "main"
	n := startNetwork(t, nettest.Options{Channels: []string{ch}, Raft: fastRaft})
	leader := leaderOf(t, n, 0, ch)
	f, w := (leader+1)%3, (leader+2)%3
	gww, err := n.Gateway(w, w, "client")
	if err != nil {
		t.Fatal(err)
	}
	kv := gww.GetNetwork(ch).GetContract("kv")
	if _, err := kv.SubmitTransaction("Put", "k", "old"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := n.WaitConverged(ctx, ch); err != nil {
		t.Fatal(err)
	}
	if err := n.Terminate(f); err != nil {
		t.Fatal(err)
	}
	// Keep writing for a while, so the leader backs off from the dead node.
	end := time.Now().Add(6 * time.Second)
	for i := 0; time.Now().Before(end); i++ {
		if _, err := kv.SubmitTransaction("Put", "k", fmt.Sprintf("new-%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := kv.SubmitTransaction("Put", "k", "newest"); err != nil {
		t.Fatal(err)
	}
	if err := n.Restart(ctx, f); err != nil {
		t.Fatal(err)
	}
	// A client new to the channel: the node answers only once it has
	// caught up, or refuses.
	gwf, err := n.Gateway(f, f, "client")
	if err != nil {
		t.Fatal(err)
	}
	v, err := gwf.GetNetwork(ch).GetContract("kv").EvaluateTransaction("Get", "k")
	t.Logf("evaluate on node%d right after its restart: %q, %v", f, v, err)
	var ge *client.GatewayError
	if err != nil && (!errors.As(err, &ge) || ge.Code != codes.Unavailable) {
		t.Fatalf("restarted node%d: %v, want the value or Unavailable", f, err)
	}
	if err == nil && string(v) != "newest" {
		t.Fatalf("restarted node%d served k = %q, overwritten since; want %q or a refusal", f, v, "newest")
	}
	// The writer's session, on the restarted node: read-your-writes.
	gwSession, conn, err := n.GatewayVia(n.Nodes[f].API, w, "client", client.WithSession(gww.Session()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if v, err := gwSession.GetNetwork(ch).GetContract("kv").EvaluateTransaction("Get", "k"); err != nil || string(v) != "newest" {
		t.Fatalf("the writer's session read k = %q, %v on node%d; want its own write", v, err, f)
	}
	// The same with an explicit height, and linearizably, from every node.
	for i := range n.Nodes {
		gwi, err := n.Gateway(i, i, "client")
		if err != nil {
			t.Fatal(err)
		}
		for name, opt := range map[string]client.ProposalOption{"min height": client.WithMinHeight(gww.Session().Height(ch)), "linearizable": client.WithLinearizableRead()} {
			if v, err := gwi.GetNetwork(ch).GetContract("kv").Evaluate("Get", client.WithArguments("k"), opt); err != nil || string(v) != "newest" {
				t.Fatalf("%s read on node%d: k = %q, %v", name, i, v, err)
			}
		}
	}
	info, ok := waitInfo(t, n, f, ch, 30*time.Second, func(i *pb.ChainInfo) bool { return !i.GetCatchingUp() })
	if !ok {
		t.Fatalf("node%d still catching up: %v", f, info)
	}
}
