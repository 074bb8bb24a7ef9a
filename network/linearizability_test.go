package network_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/medshare/medshare/network/client"
	"github.com/medshare/medshare/network/nettest"
	"github.com/medshare/medshare/network/pb"
)

// registerInput is an operation on one key of the kv chaincode.
type registerInput struct {
	key   string
	write bool
	value string // written value
}

// registerModel is a set of registers, one partition per key: a write sets
// the value, a read returns it.
var registerModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		by := map[string][]porcupine.Operation{}
		var keys []string
		for _, op := range history {
			k := op.Input.(registerInput).key
			if _, ok := by[k]; !ok {
				keys = append(keys, k)
			}
			by[k] = append(by[k], op)
		}
		sort.Strings(keys)
		out := make([][]porcupine.Operation, 0, len(keys))
		for _, k := range keys {
			out = append(out, by[k])
		}
		return out
	},
	Init: func() any { return "" },
	Step: func(state, input, output any) (bool, any) {
		in := input.(registerInput)
		if in.write {
			return true, in.value
		}
		return output.(string) == state.(string), state
	},
	DescribeOperation: func(input, output any) string {
		in := input.(registerInput)
		if in.write {
			return fmt.Sprintf("put(%s, %s)", in.key, in.value)
		}
		return fmt.Sprintf("get(%s) -> %s", in.key, output)
	},
}

// sessionRead is an evaluate served under a client's session, with what
// the session guarantees it must reflect.
type sessionRead struct {
	client    int
	key       string
	got       string
	ownWrite  string // the client's last acknowledged write to key before the read
	prevRead  string // the client's previous session read of key
	call, ret int64
}

// acceptedWrite is a write a node accepted (Submit returned).
type acceptedWrite struct {
	txID       string
	node       int
	acceptedAt time.Time
	failedAt   time.Time // when the client gave up on it; zero if it committed
	err        error
}

// TestLinearizabilityUnderKills runs a Jepsen-style history: eight clients
// write and read four registers through all three nodes while a follower
// and then the leader are killed with SIGKILL and restarted. It checks,
// with the porcupine linearizability checker, that the ordered operations
// (writes, reads submitted as transactions) and the linearizable reads
// form a linearizable history — a write whose outcome stayed unknown may
// take effect at any point after its call, or never; that every
// transaction a node accepted committed, unless that node was killed
// before its client learned the outcome, in which case the client was told
// it is unknown; that no write reported as not committed is on the ledger;
// and that reads under a session see the session's own writes and never go
// back in time.
func TestLinearizabilityUnderKills(t *testing.T) {
	const ch = "main"
	raft := fastRaft
	raft.SnapshotThreshold, raft.TrailingLogs, raft.SnapshotInterval = 128, 32, 500*time.Millisecond
	n := startNetwork(t, nettest.Options{Channels: []string{ch}, Raft: raft, Batch: &pb.BatchConfig{MaxMessageCount: 100, TimeoutMillis: 10}})
	keys := []string{"r0", "r1", "r2", "r3"}
	t0 := time.Now()
	now := func() int64 { return int64(time.Since(t0)) }
	var initial []porcupine.Operation
	{
		gw, err := n.Gateway(0, 0, "client")
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			call := now()
			if _, err := gw.GetNetwork(ch).GetContract("kv").SubmitTransaction("Put", k, "init-"+k); err != nil {
				t.Fatal(err)
			}
			initial = append(initial, porcupine.Operation{ClientId: 0, Input: registerInput{k, true, "init-" + k}, Call: call, Return: now()})
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if _, err := n.WaitConverged(ctx, ch); err != nil {
		t.Fatal(err)
	}

	var (
		mu        sync.Mutex
		history   = initial
		reads     []sessionRead
		accepted  []acceptedWrite
		refused   []string // writes reported as not committed
		unknown   int
		stop      = make(chan struct{})
		wg        sync.WaitGroup
		killMu    sync.Mutex
		downSince = map[int][]time.Time{} // node → [kill, back] pairs
	)
	record := func(op porcupine.Operation) {
		mu.Lock()
		history = append(history, op)
		mu.Unlock()
	}
	const clients = 8
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sess := client.NewSession()
			node := c % 3
			rng := rand.New(rand.NewPCG(uint64(c), 10))
			ownWrite := map[string]string{}
			lastRead := map[string]string{}
			network := func(i int) *client.Network {
				gw, err := n.Gateway(i, i, "client", client.WithSession(sess), client.WithEndorseTimeout(8*time.Second), client.WithCommitStatusTimeout(15*time.Second), client.WithEvaluateTimeout(3*time.Second))
				if err != nil {
					t.Error(err)
					return nil
				}
				return gw.GetNetwork(ch)
			}
			for j := 0; ; j++ {
				select {
				case <-stop:
					return
				default:
				}
				nw := network(node)
				if nw == nil {
					return
				}
				kv := nw.GetContract("kv")
				key := keys[rng.IntN(len(keys))]
				failed := false
				switch p := rng.IntN(100); {
				case p < 40: // write
					value := fmt.Sprintf("c%d-%d", c, j)
					call := now()
					tx, err := kv.NewTransaction("Put", client.WithArguments(key, value))
					if err != nil {
						t.Error(err)
						return
					}
					var aw *acceptedWrite
					_, commit, err := tx.Submit()
					if err == nil {
						aw = &acceptedWrite{txID: tx.TransactionID(), node: node, acceptedAt: time.Now()}
						var st *client.Status
						if st, err = commit.Status(); err == nil && !st.Successful {
							err = &client.CommitError{TransactionID: st.TransactionID, Code: st.Code, Message: st.Message}
						}
						if err != nil {
							aw.failedAt, aw.err = time.Now(), err
						}
						mu.Lock()
						accepted = append(accepted, *aw)
						mu.Unlock()
					}
					// The documented retry: the same signed transaction,
					// through the next nodes, while the outcome is unknown.
					for try := 1; errors.Is(err, client.ErrOutcomeUnknown) && try <= 3; try++ {
						signed, _ := tx.Bytes()
						other := network((node + try) % 3)
						if other == nil {
							return
						}
						again, rerr := other.NewSignedTransaction(signed)
						if rerr != nil {
							t.Error(rerr)
							return
						}
						if _, commit, err = again.Submit(); err == nil {
							var st *client.Status
							if st, err = commit.Status(); err == nil && !st.Successful {
								err = &client.CommitError{TransactionID: st.TransactionID, Code: st.Code, Message: st.Message}
							}
						}
						if err != nil && !errors.Is(err, client.ErrOutcomeUnknown) {
							// A refusal of a retry says nothing of the
							// first attempt.
							err = fmt.Errorf("%w: retry refused: %v", client.ErrOutcomeUnknown, err)
						}
					}
					switch {
					case err == nil:
						record(porcupine.Operation{ClientId: c, Input: registerInput{key, true, value}, Call: call, Output: "", Return: now()})
						ownWrite[key] = value
					case errors.Is(err, client.ErrOutcomeUnknown):
						// May take effect at any time after the call, or never.
						record(porcupine.Operation{ClientId: c, Input: registerInput{key, true, value}, Call: call, Output: "", Return: math.MaxInt64 / 2})
						mu.Lock()
						unknown++
						mu.Unlock()
						failed = true
					default:
						mu.Lock()
						refused = append(refused, tx.TransactionID())
						mu.Unlock()
						failed = true
					}
				case p < 60: // linearizable read
					call := now()
					v, err := kv.Evaluate("Get", client.WithArguments(key), client.WithLinearizableRead())
					if err == nil {
						record(porcupine.Operation{ClientId: c, Input: registerInput{key: key}, Call: call, Output: string(v), Return: now()})
					}
					failed = err != nil
				case p < 75: // read ordered as a transaction
					call := now()
					v, err := kv.SubmitTransaction("Get", key)
					if err == nil {
						record(porcupine.Operation{ClientId: c, Input: registerInput{key: key}, Call: call, Output: string(v), Return: now()})
					}
					failed = err != nil
				default: // session read
					call := now()
					v, err := kv.EvaluateTransaction("Get", key)
					if err == nil {
						mu.Lock()
						reads = append(reads, sessionRead{client: c, key: key, got: string(v), ownWrite: ownWrite[key], prevRead: lastRead[key], call: call, ret: now()})
						mu.Unlock()
						lastRead[key] = string(v)
					}
					failed = err != nil
				}
				if failed {
					node = (node + 1) % 3 // this node may be down
					time.Sleep(20 * time.Millisecond)
				}
			}
		}()
	}
	pause := func(d time.Duration) {
		select {
		case <-time.After(d):
		case <-ctx.Done():
		}
	}
	crash := func(i int) {
		killMu.Lock()
		downSince[i] = append(downSince[i], time.Now())
		killMu.Unlock()
		if err := n.Kill(i); err != nil {
			t.Fatal(err)
		}
		pause(4 * time.Second)
		if err := n.Restart(ctx, i); err != nil {
			t.Fatal(err)
		}
		killMu.Lock()
		downSince[i] = append(downSince[i], time.Now())
		killMu.Unlock()
		pause(3 * time.Second)
	}
	pause(3 * time.Second)
	leader := leaderOf(t, n, 0, ch)
	t.Logf("killing follower node%d", (leader+1)%3)
	crash((leader + 1) % 3)
	leader = leaderOf(t, n, (leader+1)%3, ch)
	t.Logf("killing leader node%d", leader)
	crash(leader)
	close(stop)
	wg.Wait()
	elapsed := time.Since(t0)

	res, info := porcupine.CheckOperationsVerbose(registerModel, history, 2*time.Minute)
	switch res {
	case porcupine.Ok:
	case porcupine.Illegal:
		t.Errorf("the history of %d operations is not linearizable", len(history))
		for _, part := range info.PartialLinearizationsOperations() {
			if len(part) > 0 && len(part[0]) > 0 {
				ops := part[0]
				t.Logf("longest linearizable prefix of a partition ends with: %s", registerModel.DescribeOperation(ops[len(ops)-1].Input, ops[len(ops)-1].Output))
			}
		}
	default:
		t.Errorf("the linearizability check did not finish: %v", res)
	}

	// Where each value was committed: block and index of its write.
	if _, err := n.WaitConverged(ctx, ch); err != nil {
		t.Fatal(err)
	}
	gw, err := n.Gateway(0, 0, "client")
	if err != nil {
		t.Fatal(err)
	}
	net := gw.GetNetwork(ch)
	head, err := net.ChainInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	type position struct{ block, tx uint64 }
	written := map[string]position{}
	validTx := map[string]bool{}
	blocks, err := net.BlockEvents(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	for b := range blocks {
		for i, r := range b.GetResults() {
			if r.GetCode() != pb.ValidationCode_VALID {
				continue
			}
			validTx[r.GetTxId()] = true
			for _, w := range r.GetWrites() {
				if w.GetNamespace() == "kv" {
					written[w.GetKey()+"="+string(w.GetValue())] = position{b.GetHeader().GetNumber(), uint64(i)}
				}
			}
		}
		if b.GetHeader().GetNumber()+1 >= head.GetHeight() {
			break
		}
	}
	before := func(a, b position) bool { return a.block < b.block || (a.block == b.block && a.tx < b.tx) }

	// Session reads: read-your-writes and monotonic reads.
	badReads := 0
	for _, r := range reads {
		got, ok := written[r.key+"="+r.got]
		switch {
		case !ok:
			t.Errorf("client %d read %s = %q, which no committed transaction wrote", r.client, r.key, r.got)
		case r.ownWrite != "" && before(got, written[r.key+"="+r.ownWrite]):
			badReads++
			t.Errorf("client %d read %s = %q, older than its own acknowledged write %q", r.client, r.key, r.got, r.ownWrite)
		case r.prevRead != "" && before(got, written[r.key+"="+r.prevRead]):
			badReads++
			t.Errorf("client %d read %s = %q, older than its previous read %q", r.client, r.key, r.got, r.prevRead)
		}
		if badReads > 5 {
			break
		}
	}

	// Accepted transactions: committed, or their client was told the
	// outcome is unknown because the node that accepted them was killed.
	down := func(node int, from, to time.Time) bool {
		killMu.Lock()
		defer killMu.Unlock()
		w := downSince[node]
		for i := 0; i < len(w); i += 2 {
			if w[i].Before(to) && (i+1 == len(w) || w[i+1].After(from)) {
				return true
			}
		}
		return false
	}
	lost := 0
	for _, a := range accepted {
		if a.err == nil {
			continue
		}
		if !errors.Is(a.err, client.ErrOutcomeUnknown) {
			t.Errorf("transaction %s, accepted by node%d, ended with %v", a.txID, a.node, a.err)
		}
		if !validTx[a.txID] && !down(a.node, a.acceptedAt, a.failedAt) {
			lost++
			t.Errorf("transaction %s, accepted by node%d, which stayed up, never committed (client: %v)", a.txID, a.node, a.err)
		}
	}
	for _, id := range refused {
		if validTx[id] {
			t.Errorf("transaction %s was reported as not committed, but it is", id)
		}
	}
	assertNoAlerts(t, n, ch)
	t.Logf("%s: %d operations checked linearizable, %d session reads checked, %d writes accepted (%d of them with an outcome the client could not learn), %d refused, %d unknown in the history",
		elapsed.Round(time.Millisecond), len(history), len(reads), len(accepted), countErr(accepted), len(refused), unknown)
}

func countErr(ws []acceptedWrite) int {
	k := 0
	for _, w := range ws {
		if w.err != nil {
			k++
		}
	}
	return k
}
