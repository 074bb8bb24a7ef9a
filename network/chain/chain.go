// Package chain runs one channel on one node: its ledger, its executor and
// its member of the channel's Raft group.
//
// Transactions submitted to any node are endorsed there (checked and
// simulated against committed state), then queued at the channel's Raft
// leader — directly, or forwarded by a follower. The leader cuts blocks by
// count, size and age, executes each against its state to fill in the
// header's tx root and state hash, signs it, and replicates it through Raft.
// Every node, the leader included, applies committed blocks in log order:
// it checks the header and the cutter's signature, re-executes the block
// (the leader reuses its own execution), and commits only if its tx root and
// state hash equal the header's. A mismatch means this node or the leader
// computed a different state: the node halts the channel and raises an alert
// rather than follow or diverge silently; a halted node stops its Raft
// member, stays halted across restarts and refuses service on the channel
// until an operator recovers it (halt.go, recover.go).
//
// A node that is behind — restarted, or sent a checkpoint by the leader —
// fetches the blocks it lacks from its peers and re-executes them
// (catchup.go); it serves reads only while it is fresh (freshness.go). A
// transaction a node accepted is that node's to see through to a commit
// (accepted.go).
package chain

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	"google.golang.org/protobuf/proto"

	"github.com/medshare/medshare/network/block"
	"github.com/medshare/medshare/network/channel"
	"github.com/medshare/medshare/network/consensus"
	"github.com/medshare/medshare/network/executor"
	"github.com/medshare/medshare/network/identity"
	"github.com/medshare/medshare/network/ledger"
	"github.com/medshare/medshare/network/pb"
)

// Errors the chain returns.
var (
	// ErrNoLeader means the channel has no Raft leader right now (an
	// election is running or a majority of nodes is down); retry.
	ErrNoLeader = errors.New("chain: the channel has no leader")
	// ErrHalted means this node stopped applying blocks of the channel after
	// its results disagreed with a block header.
	ErrHalted = errors.New("chain: channel halted on this node")
	// ErrNotLeader is returned to forwarded transactions that reach a node
	// that is no longer the leader.
	ErrNotLeader = errors.New("chain: this node is not the leader")
	// ErrLeaderUnreachable means a follower could not hand a transaction to
	// the leader (it may have just failed): the leader may or may not have
	// queued it.
	ErrLeaderUnreachable = errors.New("chain: the leader is unreachable")
	// ErrClosed means the channel was closed on this node.
	ErrClosed = errors.New("chain: closed")
)

// NotOrdered reports whether a submission error means that the transaction
// was certainly not ordered: no leader took it (none was known, the leader
// refused it, or its queue was full) or this node refused it. Any other
// failure after endorsement — the leader could not be reached, the request
// was cancelled — leaves its outcome unknown.
func NotOrdered(err error) bool {
	return errors.Is(err, ErrNoLeader) || errors.Is(err, ErrNotLeader) || errors.Is(err, ErrQueueFull) || errors.Is(err, ErrHalted)
}

// StageError is a submission that failed, with the stage that failed:
// "endorse" (validation or simulation; nothing was ordered) or "submit"
// (ordering).
type StageError struct {
	Stage string
	TxID  string
	Err   error
}

func (e *StageError) Error() string { return e.Stage + " " + e.TxID + ": " + e.Err.Error() }
func (e *StageError) Unwrap() error { return e.Err }

// Forwarder hands transactions to the channel's leader on a follower's
// behalf. It returns one error per envelope (nil when queued).
type Forwarder interface {
	Forward(ctx context.Context, leader *pb.NodeInfo, channel string, envs []*pb.Envelope) ([]error, error)
}

// Options configure a chain.
type Options struct {
	// Dir holds the channel's ledger and Raft state.
	Dir string
	// Signer is the node's signing identity; its common name is the node ID.
	Signer *identity.Signer
	// Registry is the chaincode built into the node.
	Registry executor.Registry
	// Raft tunes the channel's Raft member.
	Raft consensus.Config
	// Mux carries the Raft traffic.
	Mux *consensus.Mux
	// Forwarder reaches the leader from a follower.
	Forwarder Forwarder
	// Peers reaches the other nodes' APIs, to fetch missed blocks and ask
	// the leader's height.
	Peers Peers
	// Log receives the chain's log lines.
	Log *slog.Logger
	// Now is the clock used for block timestamps and submission checks.
	Now func() time.Time
	// MaxPending bounds the leader's queue of pending transactions, and the
	// transactions this node accepted that have not committed yet.
	MaxPending int
	// CatchUpTimeout bounds how long installing a checkpoint from the
	// leader may take before Raft is told it failed (the leader tries
	// again; the blocks fetched so far are kept). Default 2 minutes.
	CatchUpTimeout time.Duration
}

func (o *Options) defaults() {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxPending <= 0 {
		o.MaxPending = 50_000
	}
	if o.CatchUpTimeout <= 0 {
		o.CatchUpTimeout = 2 * time.Minute
	}
}

// Chain is a channel running on this node.
type Chain struct {
	opts  Options
	name  string
	cfg   *channel.Config
	store *ledger.Store
	exec  *executor.Executor
	group *consensus.Group
	layer *consensus.Layer
	log   *slog.Logger

	queue  *queue
	notify *notifier
	fwd    chan fwdReq

	accepted *acceptedSet

	mu        sync.Mutex
	lastTs    int64
	cut       *cutResult // the leader's latest execution, reused on apply
	cutterEnd context.CancelFunc
	alert     string

	// applyMu serialises everything that commits blocks: Raft's Apply and
	// Restore, and fetching missed blocks.
	applyMu sync.Mutex

	halted      atomic.Bool
	haltCh      chan struct{} // closed when the channel halts
	catchingUp  atomic.Bool   // fetching missed blocks from peers
	fresh       atomic.Bool   // serves reads (freshness.go)
	leaderReady atomic.Bool   // leads and has applied earlier terms' entries
	proposing   atomic.Uint64 // the height after the block in flight, or 0
	closed      chan struct{}
	closeOne    sync.Once
	stopOnce    sync.Once
	wg          sync.WaitGroup
}

type cutResult struct {
	hash block.Hash
	out  *executor.Outcome
}

// Join makes this node a member of the channel whose genesis block is given:
// it verifies the block, checks that the node is one of the channel's nodes,
// commits the genesis and starts the channel's Raft member.
func Join(genesis *pb.Block, opts Options) (*Chain, error) {
	opts.defaults()
	cfg, err := channel.VerifyGenesis(genesis)
	if err != nil {
		return nil, err
	}
	if _, ok := cfg.Node(opts.Signer.Name()); !ok {
		return nil, fmt.Errorf("chain: node %s is not one of channel %s's nodes", opts.Signer.Name(), cfg.Name())
	}
	if _, err := os.Stat(filepath.Join(opts.Dir, "ledger")); err == nil {
		return nil, fmt.Errorf("chain: channel %s already exists on this node", cfg.Name())
	}
	store, err := ledger.Open(filepath.Join(opts.Dir, "ledger"), opts.Log)
	if err != nil {
		return nil, err
	}
	if _, err := store.CommitGenesis(genesis); err != nil {
		store.Close()
		os.RemoveAll(opts.Dir)
		return nil, err
	}
	return start(store, cfg, opts)
}

// Open restarts a channel this node joined before, from its directory.
func Open(opts Options) (*Chain, error) {
	opts.defaults()
	store, err := ledger.Open(filepath.Join(opts.Dir, "ledger"), opts.Log)
	if err != nil {
		return nil, err
	}
	cfg, err := store.Config()
	if err != nil {
		store.Close()
		return nil, err
	}
	return start(store, cfg, opts)
}

func start(store *ledger.Store, cfg *channel.Config, opts Options) (*Chain, error) {
	exec, err := executor.New(cfg, opts.Registry)
	if err != nil {
		store.Close()
		return nil, err
	}
	c := &Chain{
		opts:     opts,
		name:     cfg.Name(),
		cfg:      cfg,
		store:    store,
		exec:     exec,
		log:      opts.Log.With("channel", cfg.Name()),
		queue:    newQueue(opts.MaxPending, 512<<20),
		notify:   newNotifier(),
		fwd:      make(chan fwdReq, 8192),
		accepted: newAcceptedSet(opts.MaxPending),
		haltCh:   make(chan struct{}),
		closed:   make(chan struct{}),
	}
	if h := store.Height(); h > 0 {
		last, err := store.Block(h - 1)
		if err != nil {
			store.Close()
			return nil, err
		}
		c.lastTs = last.GetHeader().GetTimestamp()
	}
	reason, halted, err := Halted(opts.Dir)
	if err != nil {
		store.Close()
		return nil, err
	}
	if halted {
		// Neither vote nor lead until an operator recovers the channel.
		c.alert = "halted: " + reason
		c.halted.Store(true)
		close(c.haltCh)
		c.log.Error("ALERT: the channel is halted on this node; its Raft member is not started until \"medshare ledger recover\" clears the halt", "reason", reason)
		return c, nil
	}
	layer, err := opts.Mux.Layer(c.name)
	if err != nil {
		store.Close()
		return nil, err
	}
	c.layer = layer
	var peers []consensus.Peer
	for _, n := range cfg.Nodes() {
		peers = append(peers, consensus.Peer{ID: n.GetId(), Address: n.GetClusterAddress()})
	}
	leaderCh := make(chan bool, 16)
	gate := newBlockTimeGate(c) // see blocktime.go
	c.opts.Raft.Gate = gate
	group, err := consensus.Start(filepath.Join(opts.Dir, "raft"), opts.Signer.Name(), peers, &fsm{c: c}, layer, c.opts.Raft, leaderCh)
	if err != nil {
		layer.Close()
		store.Close()
		return nil, err
	}
	c.group = group
	if meta, data, ok, err := group.LatestSnapshot(); err != nil {
		c.log.Warn("cannot read the newest Raft snapshot", "err", err)
	} else if ok {
		cp, err := decodeCheckpoint(data)
		switch {
		case err != nil && store.RaftIndex() < meta.Index:
			c.log.Warn("the newest Raft snapshot is not a checkpoint and the ledger is behind it; missed blocks are fetched when the log reaches them", "snapshot", meta.ID, "err", err)
		case err == nil && cp.Height > store.Height():
			c.log.Info("the ledger is behind the newest Raft snapshot: fetching the missing blocks from peers", "height", store.Height(), "snapshot_height", cp.Height)
			c.catchingUp.Store(true)
			c.wg.Add(1)
			go c.catchUpAtStart(cp)
		}
	}
	gate.group.Store(group)
	c.wg.Add(5)
	go c.watchLeadership(leaderCh)
	go c.forwardLoop()
	go c.forwardLoop()
	go c.resendLoop()
	go c.freshnessLoop()
	return c, nil
}

// Name is the channel's name.
func (c *Chain) Name() string { return c.name }

// Config is the channel's configuration.
func (c *Chain) Config() *channel.Config { return c.cfg }

// Store is the channel's ledger on this node.
func (c *Chain) Store() *ledger.Store { return c.store }

// Close stops the channel on this node. Its state stays on disk.
func (c *Chain) Close() error {
	var err error
	c.closeOne.Do(func() {
		close(c.closed)
		c.mu.Lock()
		if c.cutterEnd != nil {
			c.cutterEnd()
		}
		c.mu.Unlock()
		err = c.shutdownConsensus()
		c.wg.Wait()
		if cerr := c.store.Close(); err == nil {
			err = cerr
		}
	})
	return err
}

// shutdownConsensus stops the Raft member once, for Close.
func (c *Chain) shutdownConsensus() error {
	var err error
	c.stopOnce.Do(func() {
		if c.group != nil {
			err = c.group.Shutdown()
			c.layer.Close()
		}
	})
	return err
}

// raftNode is the channel's Raft member, or nil when it is not running
// (the channel is halted).
func (c *Chain) raftNode() *raft.Raft {
	if c.group == nil || c.halted.Load() {
		return nil
	}
	return c.group.Raft
}

// Leader returns the ID of the channel's current leader, or "".
func (c *Chain) Leader() string {
	r := c.raftNode()
	if r == nil {
		return ""
	}
	_, id := r.LeaderWithID()
	return string(id)
}

// IsLeader reports whether this node leads the channel.
func (c *Chain) IsLeader() bool {
	r := c.raftNode()
	return r != nil && r.State() == raft.Leader
}

// Halted reports whether the channel is halted on this node.
func (c *Chain) Halted() bool { return c.halted.Load() }

// Info describes the channel on this node.
func (c *Chain) Info() *pb.ChainInfo {
	h, last, lt := c.store.Tip()
	sum := lt.Sum()
	c.mu.Lock()
	alert := c.alert
	c.mu.Unlock()
	halted := c.halted.Load()
	return &pb.ChainInfo{
		Channel:     c.name,
		Height:      h,
		CurrentHash: last[:],
		StateHash:   sum[:],
		Leader:      c.Leader(),
		Halted:      halted,
		Alert:       alert,
		CatchingUp:  !halted && !c.fresh.Load(),
	}
}

// raiseAlert records an anomaly for the operator and logs it.
func (c *Chain) raiseAlert(msg string, args ...any) {
	c.mu.Lock()
	c.alert = msg
	c.mu.Unlock()
	c.log.Error("ALERT: "+msg, args...)
}

// Submit endorses a signed transaction on this node and orders it. It
// returns the transaction ID and the simulated result; errors are
// *StageError.
func (c *Chain) Submit(ctx context.Context, env *pb.Envelope) (string, []byte, error) {
	if c.halted.Load() {
		return "", nil, &StageError{Stage: "endorse", Err: ErrHalted}
	}
	a, payload, err := c.exec.Endorse(c.store, env, c.opts.Now())
	if err != nil {
		id := ""
		if a != nil {
			id = a.Tx.TxID
		}
		return id, nil, &StageError{Stage: "endorse", TxID: id, Err: err}
	}
	id := a.Tx.TxID
	// Accepted from here on: remember the transaction until it commits.
	added, err := c.accepted.reserve(id, &acceptedTx{env: a.Tx.Envelope, raw: a.Tx.Raw, ts: a.Tx.Proposal.GetTimestamp(), sent: c.opts.Now()})
	if err != nil {
		return id, nil, &StageError{Stage: "submit", TxID: id, Err: err}
	}
	if err := c.order(ctx, id, a.Tx.Raw, a.Tx.Envelope); err != nil {
		if added && NotOrdered(err) {
			c.accepted.forget(id) // the client is told it was not ordered
		}
		return id, nil, &StageError{Stage: "submit", TxID: id, Err: err}
	}
	return id, payload, nil
}

func (c *Chain) order(ctx context.Context, id string, raw []byte, env *pb.Envelope) error {
	if c.IsLeader() {
		// The queue refuses with ErrNotLeader once leadership is lost;
		// then the transaction goes to the new leader.
		if err := c.queue.add(id, raw, c.opts.Now()); !errors.Is(err, ErrNotLeader) {
			return err
		}
	}
	done := make(chan error, 1)
	select {
	case c.fwd <- fwdReq{env: env, done: done}:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Enqueue accepts transactions forwarded by followers. They were endorsed
// by the follower; the leader authenticates them again (structure, creator,
// signature — the verification is cached, so their block does not repeat
// it), so a faulty or malicious node cannot fill blocks with unsigned data,
// and they are fully validated again when their block executes.
func (c *Chain) Enqueue(envs []*pb.Envelope) []error {
	errs := make([]error, len(envs))
	leader := c.IsLeader()
	for i, env := range envs {
		if !leader {
			errs[i] = ErrNotLeader
			continue
		}
		a, err := c.exec.AuthenticateEnvelope(env, c.opts.Now())
		if err != nil {
			errs[i] = err
			continue
		}
		errs[i] = c.queue.add(a.Tx.TxID, a.Tx.Raw, c.opts.Now())
	}
	return errs
}

// ReadOptions say how fresh an evaluated state must be (freshness.go).
type ReadOptions struct {
	// MinHeight is the least number of blocks the state must hold.
	MinHeight uint64
	// Linearizable asks for every block committed before the read.
	Linearizable bool
}

// Evaluate runs a signed query on this node's committed state once the
// node serves reads and the state is as fresh as ro asks (see WaitServing
// and ReadIndex). It returns the result and the height the state had when
// the query started: the answer reflects at least the blocks below it.
func (c *Chain) Evaluate(ctx context.Context, env *pb.Envelope, ro ReadOptions) ([]byte, uint64, error) {
	minHeight := ro.MinHeight
	if ro.Linearizable {
		h, err := c.readIndex(ctx)
		if err != nil {
			return nil, 0, err
		}
		minHeight = max(minHeight, h)
	}
	if err := c.WaitServing(ctx, minHeight); err != nil {
		return nil, 0, err
	}
	height := c.store.Height()
	payload, err := c.exec.Evaluate(c.store, env, c.opts.Now())
	return payload, height, err
}

// WaitCommit waits until a transaction is committed on this node. It
// fails with ErrHalted if the channel halts meanwhile.
func (c *Chain) WaitCommit(ctx context.Context, txID string) (Committed, error) {
	if c.halted.Load() {
		return Committed{}, ErrHalted
	}
	ch := c.notify.register(txID)
	defer c.notify.unregister(txID, ch)
	if r, ok := c.notify.lookup(txID); ok {
		return r, nil
	}
	// The store's transaction index is trusted only for blocks below its
	// height: Commit makes its batch durable (and FindTx sees it) before it
	// updates the state cache and the height, so a status answered in
	// between could send the client's next transaction to an endorsement
	// that does not yet see this one's writes (an upload's SetPolicy found
	// no record that its Tx_sto had just stored). Such a transaction is
	// answered by the notifier, after Commit returned.
	if loc, err := c.store.FindTx(txID); err == nil && loc.Block < c.store.Height() {
		b, err := c.store.Block(loc.Block)
		if err != nil {
			return Committed{}, err
		}
		return Committed{Block: loc.Block, Result: b.GetResults()[loc.Index]}, nil
	} else if err != nil && !errors.Is(err, ledger.ErrNotFound) {
		return Committed{}, err
	}
	select {
	case r := <-ch:
		return r, nil
	case <-ctx.Done():
		return Committed{}, ctx.Err()
	case <-c.haltCh:
		return Committed{}, ErrHalted
	case <-c.closed:
		return Committed{}, ErrClosed
	}
}

// WaitHeight blocks until the chain holds more than n blocks (so block n
// exists) or ctx ends.
func (c *Chain) WaitHeight(ctx context.Context, n uint64) error {
	for {
		grown := c.notify.grownCh()
		if c.store.Height() > n {
			return nil
		}
		select {
		case <-grown:
		case <-ctx.Done():
			return ctx.Err()
		case <-c.haltCh:
			return ErrHalted
		case <-c.closed:
			return ErrClosed
		}
	}
}

// watchLeadership starts the block cutter when this node becomes leader and
// stops it when it stops being leader.
func (c *Chain) watchLeadership(ch <-chan bool) {
	defer c.wg.Done()
	for {
		select {
		case <-c.closed:
			return
		case leader := <-ch:
			c.mu.Lock()
			if c.cutterEnd != nil {
				c.cutterEnd()
				c.cutterEnd = nil
			}
			if leader {
				c.queue.open()
				ctx, cancel := context.WithCancel(context.Background())
				c.cutterEnd = cancel
				c.wg.Add(1)
				go c.runCutter(ctx)
			} else {
				c.leaderReady.Store(false)
			}
			c.mu.Unlock()
			c.log.Info("leadership changed", "leader", leader)
			if !leader {
				// drain also closes the queue: a transaction that arrives
				// from now on, or a failed block's put back, is refused
				// there and handed over instead of being stranded.
				if txs := c.queue.drain(); len(txs) > 0 {
					c.wg.Add(1)
					go c.handOver(txs)
				}
			}
		}
	}
}

// handOverBudget bounds how long a former leader keeps trying to hand its
// queued transactions to the new leader.
const handOverBudget = 15 * time.Second

// handOver forwards transactions a former leader still held to the new
// leader, so their clients' waits can still succeed. While no leader is
// known (an election is running) it waits and tries again. What it cannot
// hand over within handOverBudget is left to the nodes that accepted the
// transactions, which send them again themselves (accepted.go).
func (c *Chain) handOver(txs []pendingTx) {
	defer c.wg.Done()
	envs := make([]*pb.Envelope, 0, len(txs))
	for _, t := range txs {
		if tx, err := block.ParseTx(t.raw, 0); err == nil {
			envs = append(envs, tx.Envelope)
		}
	}
	deadline := time.Now().Add(handOverBudget)
	for len(envs) > 0 {
		reqs := make([]fwdReq, len(envs))
		for i, env := range envs {
			reqs[i] = fwdReq{env: env, done: make(chan error, 1)}
			select {
			case c.fwd <- reqs[i]:
			case <-c.closed:
				return
			}
		}
		var retry []*pb.Envelope
		for i, r := range reqs {
			select {
			case err := <-r.done:
				if err != nil && !errors.Is(err, ErrQueueFull) {
					retry = append(retry, envs[i])
				}
			case <-c.closed:
				return
			}
		}
		envs = retry
		if len(envs) == 0 {
			return
		}
		if time.Now().After(deadline) {
			c.log.Warn("could not hand queued transactions over to a new leader; the nodes that accepted them send them again", "txs", len(envs))
			return
		}
		select {
		case <-time.After(200 * time.Millisecond):
		case <-c.closed:
			return
		}
	}
}

// runCutter is the leader's loop: wait for a batch, execute it, seal and
// replicate the block, and wait until it is applied before the next one.
func (c *Chain) runCutter(ctx context.Context) {
	defer c.wg.Done()
	// Apply everything committed under earlier leaders first, so the next
	// block extends the committed chain.
	if err := c.group.Raft.Barrier(c.opts.Raft.ApplyTimeout).Error(); err != nil {
		c.log.Warn("barrier failed; not cutting blocks", "err", err)
		return
	}
	// A ledger still fetching blocks it missed must have them all before
	// it extends the chain.
	for c.catchingUp.Load() {
		select {
		case <-ctx.Done():
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
	c.leaderReady.Store(true)
	batchCfg := c.cfg.Batch()
	for {
		batch := c.queue.next(ctx, batchCfg, c.opts.Now)
		if batch == nil {
			return
		}
		if c.halted.Load() {
			if rest := c.queue.requeue(batch); len(rest) > 0 {
				c.wg.Add(1)
				go c.handOver(rest)
			}
			return
		}
		if err := c.propose(batch); err != nil {
			c.log.Warn("block not committed; requeueing its transactions", "txs", len(batch), "err", err)
			if rest := c.queue.requeue(batch); len(rest) > 0 {
				// Leadership is gone: the queue is closed.
				c.wg.Add(1)
				go c.handOver(rest)
			}
			if ctx.Err() != nil || !c.IsLeader() {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

func (c *Chain) propose(batch []pendingTx) error {
	height, last, lt := c.store.Tip()
	c.mu.Lock()
	ts := c.opts.Now().UnixNano()
	if ts <= c.lastTs {
		ts = c.lastTs + 1
	}
	c.mu.Unlock()
	txs := make([][]byte, len(batch))
	for i, t := range batch {
		txs[i] = t.raw
	}
	out, err := c.exec.Execute(c.store, lt, time.Unix(0, ts), txs)
	if err != nil {
		return fmt.Errorf("execute: %w", err)
	}
	b, err := block.Seal(c.opts.Signer, channel.BlockVersion, c.name, height, last, ts, txs, out.TxRoot, out.StateHash.Sum())
	if err != nil {
		return fmt.Errorf("seal: %w", err)
	}
	data, err := proto.Marshal(b)
	if err != nil {
		return fmt.Errorf("marshal: %w", err)
	}
	c.mu.Lock()
	c.cut = &cutResult{hash: block.HeaderHash(b.GetHeader()), out: out}
	c.mu.Unlock()
	c.proposing.Store(height + 1)
	defer c.proposing.Store(0)
	f := c.group.Raft.Apply(data, c.opts.Raft.ApplyTimeout)
	if err := f.Error(); err != nil {
		return err
	}
	if err, ok := f.Response().(error); ok && err != nil {
		return err
	}
	return nil
}

// fsm applies committed Raft entries to the ledger.
type fsm struct{ c *Chain }

// gapBudget bounds how long applying an entry waits for missed blocks to
// be fetched before the entry is rejected.
const gapBudget = 20 * time.Second

// Apply implements raft.FSM.
func (f *fsm) Apply(l *raft.Log) any {
	c := f.c
	c.applyMu.Lock()
	defer c.applyMu.Unlock()
	if l.Type != raft.LogCommand || l.Index <= c.store.RaftIndex() {
		return nil
	}
	if c.halted.Load() {
		return ErrHalted
	}
	b := new(pb.Block)
	if err := proto.Unmarshal(l.Data, b); err != nil {
		return c.skip(l.Index, fmt.Errorf("undecodable block: %w", err))
	}
	switch n, height := b.GetHeader().GetNumber(), c.store.Height(); {
	case n < height && c.holds(b):
		// Committed already: fetched from a peer before its entry came.
		if err := c.store.NoteRaftIndex(l.Index); err != nil {
			c.halt(fmt.Sprintf("cannot record Raft entry %d: %v", l.Index, err))
			return err
		}
		return nil
	case n > height:
		// The ledger is behind the log: blocks were committed while this
		// node's ledger did not follow (a crash while installing a
		// checkpoint, an operator's recovery). Fetch them from the peers;
		// if they cannot be had, the entry is rejected below.
		c.log.Warn("the ledger is behind the Raft log: fetching the missing blocks from peers", "height", height, "block", n)
		ctx, cancel := c.untilClosed(gapBudget)
		c.catchingUp.Store(true)
		err := c.pullTo(ctx, n, nil)
		c.catchingUp.Store(false)
		cancel()
		if errors.Is(err, ErrHalted) {
			return err
		}
	}
	err := c.applyBlock(b, l.Index)
	var rej *rejectedError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &rej):
		return c.skip(l.Index, rej.err)
	case errors.Is(err, errMismatch):
		c.halt(err.Error())
		return ErrHalted
	default:
		c.halt(err.Error())
		return err
	}
}

// holds reports whether the ledger holds this very block.
func (c *Chain) holds(b *pb.Block) bool {
	own, err := c.store.Block(b.GetHeader().GetNumber())
	return err == nil && block.HeaderHash(own.GetHeader()) == block.HeaderHash(b.GetHeader())
}

// rejectedError is a block refused on its header: it does not extend the
// chain, or is not properly signed by a channel node.
type rejectedError struct{ err error }

func (e *rejectedError) Error() string { return e.err.Error() }
func (e *rejectedError) Unwrap() error { return e.err }

// errMismatch means this node's results for a block differ from its
// header's tx root or state hash.
var errMismatch = errors.New("chain: this node computes another result for the block")

// applyBlock checks a block's header, executes it (the leader reuses its
// own execution), and commits it if its tx root and state hash are the
// header's, recording raftIndex. It returns a *rejectedError for a header
// that does not check out, an error matching errMismatch for results that
// differ, or another error if the node cannot execute or store.
func (c *Chain) applyBlock(b *pb.Block, raftIndex uint64) error {
	if err := c.checkHeader(b); err != nil {
		return &rejectedError{err}
	}
	h := b.GetHeader()
	hash := block.HeaderHash(h)
	var out *executor.Outcome
	c.mu.Lock()
	if c.cut != nil && c.cut.hash == hash {
		out = c.cut.out
	}
	c.cut = nil
	c.mu.Unlock()
	if out == nil {
		_, _, lt := c.store.Tip()
		var err error
		out, err = c.exec.Execute(c.store, lt, time.Unix(0, h.GetTimestamp()), b.GetTransactions())
		if err != nil {
			return fmt.Errorf("block %d: cannot execute: %w", h.GetNumber(), err)
		}
	}
	if sum := out.StateHash.Sum(); !bytes.Equal(out.TxRoot[:], h.GetTxRoot()) || !bytes.Equal(sum[:], h.GetStateHash()) {
		return fmt.Errorf("%w: block %d cut by %s: this node computed tx root %x and state hash %x, the header says %x and %x",
			errMismatch, h.GetNumber(), h.GetCutter(), out.TxRoot[:8], sum[:8], h.GetTxRoot()[:min(8, len(h.GetTxRoot()))], h.GetStateHash()[:min(8, len(h.GetStateHash()))])
	}
	b.Results = out.Results
	if err := c.store.Commit(b, out.Writes, out.StateHash, raftIndex); err != nil {
		return fmt.Errorf("block %d: cannot commit: %w", h.GetNumber(), err)
	}
	c.mu.Lock()
	c.lastTs = h.GetTimestamp()
	c.mu.Unlock()
	c.notify.committed(b)
	c.accepted.committed(b)
	return nil
}

// skip records that this node rejects a Raft entry, so it is not applied
// again. The decision depends only on the entry and the committed chain, so
// every correct node rejects it too (a faulty leader's block); if this
// node's own chain is damaged, it falls behind instead. Either is an anomaly
// for the operator, so it raises an alert.
func (c *Chain) skip(index uint64, reason error) error {
	c.raiseAlert(fmt.Sprintf("rejected the block in Raft entry %d: %v", index, reason), "raft_index", index)
	if err := c.store.SetRaftIndex(index); err != nil {
		c.halt(fmt.Sprintf("cannot record rejected entry %d: %v", index, err))
	}
	return reason
}

// checkHeader checks a replicated block's header and its cutter's signature
// against the committed chain.
func (c *Chain) checkHeader(b *pb.Block) error {
	h := b.GetHeader()
	height, last, _ := c.store.Tip()
	c.mu.Lock()
	lastTs := c.lastTs
	c.mu.Unlock()
	switch {
	case h == nil:
		return errors.New("no header")
	case h.GetVersion() != channel.BlockVersion:
		return fmt.Errorf("block version %d", h.GetVersion())
	case h.GetChannel() != c.name:
		return fmt.Errorf("block of channel %q", h.GetChannel())
	case h.GetNumber() != height:
		return fmt.Errorf("block %d at height %d", h.GetNumber(), height)
	case !bytes.Equal(h.GetPreviousHash(), last[:]):
		return fmt.Errorf("block %d does not extend block %d", h.GetNumber(), height-1)
	case h.GetTimestamp() < lastTs:
		return fmt.Errorf("block %d goes back in time", h.GetNumber())
	case len(b.GetResults()) != 0:
		return fmt.Errorf("block %d carries results; nodes compute their own", h.GetNumber())
	}
	id, err := c.cfg.Membership().Validate(b.GetCutterMsp(), b.GetCutterCert(), time.Unix(0, h.GetTimestamp()))
	if err != nil {
		return fmt.Errorf("cutter: %w", err)
	}
	if !c.cfg.IsNode(id) || id.Name() != h.GetCutter() {
		return fmt.Errorf("cut by %s, not by the channel node %q", id, h.GetCutter())
	}
	hash := block.HeaderHash(h)
	if err := identity.VerifyDigest(id.PublicKey(), hash[:], b.GetSignature()); err != nil {
		return fmt.Errorf("cutter signature: %w", err)
	}
	return nil
}

// Snapshot implements raft.FSM: the checkpoint of the ledger as it is now
// (snapshot.go). A halted ledger, or one still fetching missed blocks, is
// not at the log index Raft would label the snapshot with, so it refuses.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	c := f.c
	switch {
	case c.halted.Load():
		return nil, ErrHalted
	case c.catchingUp.Load():
		return nil, ErrCatchingUp
	}
	h, last, lt := c.store.Tip()
	return &fsmSnapshot{data: checkpoint{Channel: c.name, Height: h, LastHash: last, StateHash: lt.Sum()}.encode()}, nil
}

// Restore implements raft.FSM: the leader sent a checkpoint because this
// node is too far behind for its log. The node fetches the blocks it lacks
// from its peers and checks that they end at the checkpoint's block; the
// blocks it held stay as they were, and each fetched block is committed on
// its own, so a failure or a crash part-way leaves a shorter, verified
// chain that the next attempt extends.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	c := f.c
	data, err := io.ReadAll(io.LimitReader(rc, consensus.MaxSnapshotSize+1))
	if err != nil {
		return fmt.Errorf("chain: read snapshot: %w", err)
	}
	c.applyMu.Lock()
	defer c.applyMu.Unlock()
	cp, err := decodeCheckpoint(data)
	if err != nil {
		c.raiseAlert(fmt.Sprintf("refused a snapshot from the leader: %v", err))
		return err
	}
	c.catchingUp.Store(true)
	defer c.catchingUp.Store(false)
	ctx, cancel := c.untilClosed(c.opts.CatchUpTimeout)
	defer cancel()
	return c.installCheckpoint(ctx, cp)
}

type fsmSnapshot struct{ data []byte }

func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := sink.Write(s.data); err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s *fsmSnapshot) Release() {}

// AuthorizeNode checks that a TLS peer is a node of the channel — and, when
// addr is set, the node configured at that cluster address. It is the
// consensus.Authorizer logic for one channel.
func AuthorizeNode(cfg *channel.Config, addr string, der []byte, now time.Time) error {
	id, err := cfg.Membership().Identify(der, now)
	if err != nil {
		return err
	}
	if !cfg.IsNode(id) {
		return fmt.Errorf("%s is not a node of channel %s", id, cfg.Name())
	}
	if addr == "" {
		return nil
	}
	for _, n := range cfg.Nodes() {
		if n.GetClusterAddress() == addr {
			if n.GetId() != id.Name() {
				return fmt.Errorf("%s answered at %s, where channel %s expects %s", id, addr, cfg.Name(), n.GetId())
			}
			return nil
		}
	}
	return fmt.Errorf("no node of channel %s at %s", cfg.Name(), addr)
}
