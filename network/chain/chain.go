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
// rather than follow or diverge silently.
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
	// the leader (it may have just failed); retry.
	ErrLeaderUnreachable = errors.New("chain: the leader is unreachable")
)

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
	// Log receives the chain's log lines.
	Log *slog.Logger
	// Now is the clock used for block timestamps and submission checks.
	Now func() time.Time
	// MaxPending bounds the leader's queue of pending transactions.
	MaxPending int
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

	mu        sync.Mutex
	lastTs    int64
	cut       *cutResult // the leader's latest execution, reused on apply
	cutterEnd context.CancelFunc
	alert     string

	halted   atomic.Bool
	closed   chan struct{}
	closeOne sync.Once
	wg       sync.WaitGroup
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
		opts:   opts,
		name:   cfg.Name(),
		cfg:    cfg,
		store:  store,
		exec:   exec,
		log:    opts.Log.With("channel", cfg.Name()),
		queue:  newQueue(opts.MaxPending, 512<<20),
		notify: newNotifier(),
		fwd:    make(chan fwdReq, 8192),
		closed: make(chan struct{}),
	}
	if h := store.Height(); h > 0 {
		last, err := store.Block(h - 1)
		if err != nil {
			store.Close()
			return nil, err
		}
		c.lastTs = last.GetHeader().GetTimestamp()
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
	gate.group.Store(group)
	c.wg.Add(3)
	go c.watchLeadership(leaderCh)
	go c.forwardLoop()
	go c.forwardLoop()
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
		err = c.group.Shutdown()
		c.layer.Close()
		c.wg.Wait()
		if cerr := c.store.Close(); err == nil {
			err = cerr
		}
	})
	return err
}

// Leader returns the ID of the channel's current leader, or "".
func (c *Chain) Leader() string {
	_, id := c.group.Raft.LeaderWithID()
	return string(id)
}

// IsLeader reports whether this node leads the channel.
func (c *Chain) IsLeader() bool { return c.group.Raft.State() == raft.Leader }

// Info describes the channel on this node.
func (c *Chain) Info() *pb.ChainInfo {
	h, last, lt := c.store.Tip()
	sum := lt.Sum()
	c.mu.Lock()
	alert := c.alert
	c.mu.Unlock()
	return &pb.ChainInfo{
		Channel:     c.name,
		Height:      h,
		CurrentHash: last[:],
		StateHash:   sum[:],
		Leader:      c.Leader(),
		Halted:      c.halted.Load(),
		Alert:       alert,
	}
}

// halt stops applying blocks and raises an alert.
func (c *Chain) halt(reason string) {
	c.mu.Lock()
	c.alert = reason
	c.mu.Unlock()
	c.halted.Store(true)
	c.log.Error("ALERT: channel halted on this node", "reason", reason)
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
	if err := c.order(ctx, a.Tx.TxID, a.Tx.Raw, a.Tx.Envelope); err != nil {
		return a.Tx.TxID, nil, &StageError{Stage: "submit", TxID: a.Tx.TxID, Err: err}
	}
	return a.Tx.TxID, payload, nil
}

func (c *Chain) order(ctx context.Context, id string, raw []byte, env *pb.Envelope) error {
	if c.IsLeader() {
		return c.queue.add(id, raw, c.opts.Now())
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

// Evaluate runs a signed query on this node's committed state.
func (c *Chain) Evaluate(env *pb.Envelope) ([]byte, error) {
	return c.exec.Evaluate(c.store, env, c.opts.Now())
}

// WaitCommit waits until a transaction is committed on this node.
func (c *Chain) WaitCommit(ctx context.Context, txID string) (Committed, error) {
	ch := c.notify.register(txID)
	defer c.notify.unregister(txID, ch)
	if r, ok := c.notify.lookup(txID); ok {
		return r, nil
	}
	if loc, err := c.store.FindTx(txID); err == nil {
		b, err := c.store.Block(loc.Block)
		if err != nil {
			return Committed{}, err
		}
		return Committed{Block: loc.Block, Result: b.GetResults()[loc.Index]}, nil
	} else if !errors.Is(err, ledger.ErrNotFound) {
		return Committed{}, err
	}
	select {
	case r := <-ch:
		return r, nil
	case <-ctx.Done():
		return Committed{}, ctx.Err()
	case <-c.closed:
		return Committed{}, errors.New("chain: closed")
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
		case <-c.closed:
			return errors.New("chain: closed")
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
				ctx, cancel := context.WithCancel(context.Background())
				c.cutterEnd = cancel
				c.wg.Add(1)
				go c.runCutter(ctx)
			}
			c.mu.Unlock()
			c.log.Info("leadership changed", "leader", leader)
			if !leader {
				go c.handOver(c.queue.drain())
			}
		}
	}
}

// handOver forwards transactions a former leader still held to the new
// leader, so their clients' waits can still succeed.
func (c *Chain) handOver(txs []pendingTx) {
	for _, t := range txs {
		tx, err := block.ParseTx(t.raw, 0)
		if err != nil {
			continue
		}
		select {
		case c.fwd <- fwdReq{env: tx.Envelope, done: make(chan error, 1)}:
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
	batchCfg := c.cfg.Batch()
	for {
		batch := c.queue.next(ctx, batchCfg, c.opts.Now)
		if batch == nil {
			return
		}
		if c.halted.Load() {
			return
		}
		if err := c.propose(batch); err != nil {
			c.log.Warn("block not committed; requeueing its transactions", "txs", len(batch), "err", err)
			c.queue.requeue(batch)
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

// Apply implements raft.FSM.
func (f *fsm) Apply(l *raft.Log) any {
	c := f.c
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
	if err := c.checkHeader(b); err != nil {
		return c.skip(l.Index, err)
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
			c.halt(fmt.Sprintf("block %d: cannot execute: %v", h.GetNumber(), err))
			return err
		}
	}
	if sum := out.StateHash.Sum(); !bytes.Equal(out.TxRoot[:], h.GetTxRoot()) || !bytes.Equal(sum[:], h.GetStateHash()) {
		c.halt(fmt.Sprintf("block %d cut by %s: this node computed tx root %x and state hash %x, the header says %x and %x",
			h.GetNumber(), h.GetCutter(), out.TxRoot[:8], sum[:8], h.GetTxRoot()[:min(8, len(h.GetTxRoot()))], h.GetStateHash()[:min(8, len(h.GetStateHash()))]))
		return ErrHalted
	}
	b.Results = out.Results
	if err := c.store.Commit(b, out.Writes, out.StateHash, l.Index); err != nil {
		c.halt(fmt.Sprintf("block %d: cannot commit: %v", h.GetNumber(), err))
		return err
	}
	c.mu.Lock()
	c.lastTs = h.GetTimestamp()
	c.mu.Unlock()
	c.notify.committed(b)
	return nil
}

// skip records that this node rejects a Raft entry, so it is not applied
// again. The decision depends only on the entry and the committed chain, so
// every correct node rejects it too (a faulty leader's block); if this
// node's own chain is damaged, it falls behind instead. Either is an anomaly
// for the operator, so it raises an alert.
func (c *Chain) skip(index uint64, reason error) error {
	msg := fmt.Sprintf("rejected the block in Raft entry %d: %v", index, reason)
	c.mu.Lock()
	c.alert = msg
	c.mu.Unlock()
	c.log.Error("ALERT: "+msg, "raft_index", index)
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

// Snapshot implements raft.FSM: a consistent view of the ledger taken now,
// streamed later.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	return &fsmSnapshot{snap: f.c.store.NewSnapshot()}, nil
}

// Restore implements raft.FSM: it replaces the ledger with a snapshot from
// the leader and re-verifies it completely before going on.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	c := f.c
	if err := c.store.RestoreSnapshot(rc); err != nil {
		c.halt(fmt.Sprintf("snapshot restore failed: %v", err))
		return err
	}
	rep, err := c.store.Verify(context.Background())
	if err != nil {
		c.halt(fmt.Sprintf("snapshot verification failed: %v", err))
		return err
	}
	if !rep.OK() {
		c.halt(fmt.Sprintf("snapshot from the leader does not verify: %s", rep.Problems[0]))
		return ErrHalted
	}
	if h := c.store.Height(); h > 0 {
		last, err := c.store.Block(h - 1)
		if err != nil {
			return err
		}
		c.mu.Lock()
		c.lastTs = last.GetHeader().GetTimestamp()
		c.mu.Unlock()
	}
	c.log.Info("restored the ledger from a snapshot", "height", c.store.Height())
	c.notify.committed(&pb.Block{Header: &pb.BlockHeader{}})
	return nil
}

type fsmSnapshot struct{ snap *ledger.Snapshot }

func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := s.snap.WriteTo(sink); err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s *fsmSnapshot) Release() { s.snap.Close() }

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
