// Package consensus orders a channel's blocks with Raft (hashicorp/raft):
// one Raft group per channel among the channel's nodes, its log and stable
// state in pebble, snapshots on disk, and its traffic over a mutual-TLS
// transport that all of a node's channels share. Like Fabric's etcdraft
// orderer it tolerates crashes of a minority of nodes, not Byzantine ones;
// the ledger detects a faulty leader because every node re-executes each
// block and checks the header's tx root and state hash.
package consensus

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// Config tunes a channel's Raft group.
type Config struct {
	// HeartbeatTimeout and ElectionTimeout bound how long followers wait for
	// a leader before electing a new one.
	HeartbeatTimeout time.Duration
	ElectionTimeout  time.Duration
	// LeaderLeaseTimeout is how long a leader stays leader without hearing
	// from a quorum.
	LeaderLeaseTimeout time.Duration
	// CommitTimeout is how soon an idle leader tells followers the commit
	// index; followers apply a block no later than this after it commits.
	CommitTimeout time.Duration
	// MaxAppendEntries bounds how many blocks one replication message carries.
	MaxAppendEntries int
	// SnapshotThreshold is how many new blocks trigger a snapshot, and
	// TrailingLogs how many blocks the log keeps behind one, so that a
	// follower that is briefly behind catches up from the log.
	SnapshotThreshold uint64
	TrailingLogs      uint64
	SnapshotInterval  time.Duration
	// ApplyTimeout bounds how long the leader waits to enqueue a block.
	ApplyTimeout time.Duration
	// LogLevel is Raft's own log level (hclog names: warn, info, debug).
	LogLevel string
	// LogOutput receives Raft's own log lines; nil means standard error.
	LogOutput io.Writer
	// Gate, when set, screens the entries and vote requests peers send
	// before Raft acts on them (see Gate), and enables Group.Campaign.
	Gate Gate
}

// DefaultConfig returns settings for nodes on a LAN or one machine.
func DefaultConfig() Config {
	return Config{
		HeartbeatTimeout:   1000 * time.Millisecond,
		ElectionTimeout:    1000 * time.Millisecond,
		LeaderLeaseTimeout: 500 * time.Millisecond,
		CommitTimeout:      25 * time.Millisecond,
		MaxAppendEntries:   64,
		SnapshotThreshold:  4096,
		TrailingLogs:       2048,
		SnapshotInterval:   30 * time.Second,
		ApplyTimeout:       10 * time.Second,
		LogLevel:           "warn",
	}
}

// Validate checks that the settings make sense together.
func (c Config) Validate() error {
	switch {
	case c.HeartbeatTimeout < 5*time.Millisecond:
		return errors.New("consensus: heartbeat timeout is too low")
	case c.ElectionTimeout < c.HeartbeatTimeout:
		return errors.New("consensus: election timeout must be at least the heartbeat timeout")
	case c.LeaderLeaseTimeout > c.HeartbeatTimeout:
		return errors.New("consensus: leader lease timeout must not exceed the heartbeat timeout")
	case c.CommitTimeout <= 0:
		return errors.New("consensus: commit timeout must be positive")
	case c.MaxAppendEntries <= 0 || c.MaxAppendEntries > 1024:
		return errors.New("consensus: max append entries must be in 1..1024")
	case c.SnapshotThreshold == 0 || c.TrailingLogs == 0:
		return errors.New("consensus: snapshot threshold and trailing logs must be positive")
	case c.ApplyTimeout <= 0:
		return errors.New("consensus: apply timeout must be positive")
	}
	return nil
}

// Peer is a voting member of a channel's Raft group.
type Peer struct {
	ID      string
	Address string
}

// Group is one channel's Raft group on this node.
type Group struct {
	Raft  *raft.Raft
	logs  *LogStore
	snaps *raft.FileSnapshotStore
	trans raft.WithClose
	gated *gatedTransport // when Config.Gate is set
}

// Start opens (or creates) the Raft state in dir and starts the node's
// member of the group. On first start the group is bootstrapped with peers;
// every member bootstraps with the same list, which Raft allows. Leadership
// changes are sent on notify (true: this node became leader).
func Start(dir, nodeID string, peers []Peer, fsm raft.FSM, layer *Layer, cfg Config, notify chan<- bool) (*Group, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("consensus: %w", err)
	}
	out := cfg.LogOutput
	if out == nil {
		out = os.Stderr
	}
	logger := hclog.New(&hclog.LoggerOptions{Name: "raft/" + filepath.Base(filepath.Dir(dir)), Level: hclog.LevelFromString(cfg.LogLevel), Output: out})
	logs, err := OpenLogStore(filepath.Join(dir, "log"), nil)
	if err != nil {
		return nil, err
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(dir, 2, logger)
	if err != nil {
		logs.Close()
		return nil, fmt.Errorf("consensus: snapshot store: %w", err)
	}
	network := raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream:  layer,
		MaxPool: 4,
		Timeout: 10 * time.Second,
		Logger:  logger,
	})
	var trans interface {
		raft.Transport
		raft.WithClose
	} = network
	var gated *gatedTransport
	if cfg.Gate != nil {
		gated = newGatedTransport(network, cfg.Gate)
		trans = gated
	}
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(nodeID)
	rc.HeartbeatTimeout = cfg.HeartbeatTimeout
	rc.ElectionTimeout = cfg.ElectionTimeout
	rc.LeaderLeaseTimeout = cfg.LeaderLeaseTimeout
	rc.CommitTimeout = cfg.CommitTimeout
	rc.MaxAppendEntries = cfg.MaxAppendEntries
	rc.BatchApplyCh = true
	rc.SnapshotThreshold = cfg.SnapshotThreshold
	rc.TrailingLogs = cfg.TrailingLogs
	rc.SnapshotInterval = cfg.SnapshotInterval
	rc.NoSnapshotRestoreOnStart = true // the ledger is durable on its own
	rc.NotifyCh = notify
	rc.Logger = logger
	existing, err := raft.HasExistingState(logs, logs, snaps)
	if err != nil {
		trans.Close()
		logs.Close()
		return nil, fmt.Errorf("consensus: %w", err)
	}
	r, err := raft.NewRaft(rc, fsm, logs, logs, snaps, trans)
	if err != nil {
		trans.Close()
		logs.Close()
		return nil, fmt.Errorf("consensus: start raft: %w", err)
	}
	if !existing {
		var servers []raft.Server
		for _, p := range peers {
			servers = append(servers, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(p.ID), Address: raft.ServerAddress(p.Address)})
		}
		if err := r.BootstrapCluster(raft.Configuration{Servers: servers}).Error(); err != nil && !errors.Is(err, raft.ErrCantBootstrap) {
			r.Shutdown()
			trans.Close()
			logs.Close()
			return nil, fmt.Errorf("consensus: bootstrap: %w", err)
		}
	}
	return &Group{Raft: r, logs: logs, snaps: snaps, trans: trans, gated: gated}, nil
}

// LatestSnapshot returns the newest snapshot Raft holds on this node, or
// ok false when it holds none. Raft resumes after it on a restart (the
// ledger is durable on its own, so the snapshot is not restored); the caller
// checks that its state is not behind it.
func (g *Group) LatestSnapshot() (meta *raft.SnapshotMeta, data []byte, ok bool, err error) {
	metas, err := g.snaps.List()
	if err != nil || len(metas) == 0 {
		return nil, nil, false, err
	}
	meta, rc, err := g.snaps.Open(metas[0].ID)
	if err != nil {
		return nil, nil, false, fmt.Errorf("consensus: open snapshot %s: %w", metas[0].ID, err)
	}
	defer rc.Close()
	data, err = io.ReadAll(io.LimitReader(rc, MaxSnapshotSize+1))
	if err != nil {
		return nil, nil, false, fmt.Errorf("consensus: read snapshot %s: %w", meta.ID, err)
	}
	return meta, data, true, nil
}

// MaxSnapshotSize bounds what LatestSnapshot reads: a ledger snapshot is a
// small checkpoint (see package chain), not a copy of the ledger.
const MaxSnapshotSize = 1 << 20

// Shutdown stops the Raft member and closes its storage and transport.
func (g *Group) Shutdown() error {
	err := g.Raft.Shutdown().Error()
	g.trans.Close()
	if cerr := g.logs.Close(); err == nil {
		err = cerr
	}
	return err
}
