// Package kubotest starts real kubo daemons for tests: N daemons in one
// private swarm on loopback, with free ports, a fresh swarm key and their
// repositories in the test's temporary directory, stopped at cleanup.
//
// Without the ipfs binary (make kubo) a test is skipped, except in CI
// (CI=true), where it fails: CI must run what it claims to. Under -short
// (make unit) the tests that start daemons are skipped.
package kubotest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/medshare/medshare/internal/kubo"
)

// Binary returns the ipfs binary (kubo.FindBinary). When there is none it
// skips the test, or fails it when the CI environment variable is true.
//
// Under -short (make unit: the tests that start no processes) it skips.
func Binary(tb testing.TB) string {
	tb.Helper()
	if testing.Short() {
		tb.Skip("starts kubo daemons: not with -short")
	}
	bin, err := kubo.FindBinary()
	if err != nil {
		if ci, _ := strconv.ParseBool(os.Getenv("CI")); ci {
			tb.Fatalf("%v: CI must run the IPFS tests", err)
		}
		tb.Skipf("%v", err)
	}
	return bin
}

// Options tune the daemons of a swarm.
type Options struct {
	// Datastore of every repository (default: kubo.DefaultConfig's).
	Datastore string
	// Env adds variables to every daemon's environment.
	Env []string
	// Configure, when set, adjusts daemon i's configuration before Init.
	Configure func(i int, c *kubo.Config)
}

// Swarm is a set of running daemons in one private swarm.
type Swarm struct {
	// Dir holds the swarm key and one repository per daemon.
	Dir string
	// Key is the swarm key file.
	Key string
	// Nodes are the daemons, in order.
	Nodes []*kubo.Node
}

// Start initialises n daemons that know each other through Peering.Peers,
// starts them, waits until each is connected to all the others, and stops
// them when the test ends. It fails the test on any error.
func Start(tb testing.TB, n int, opts Options) *Swarm {
	tb.Helper()
	bin := Binary(tb)
	s := &Swarm{Dir: tb.TempDir()}
	s.Key = filepath.Join(s.Dir, kubo.SwarmKeyFile)
	if err := kubo.WriteSwarmKey(s.Key, nil); err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for i := range n {
		cfg := kubo.DefaultConfig()
		cfg.Bin, cfg.SwarmKey, cfg.BindToParent = bin, s.Key, true
		cfg.Repo = filepath.Join(s.Dir, fmt.Sprintf("kubo%d", i))
		cfg.Env = opts.Env
		if opts.Datastore != "" {
			cfg.Datastore = opts.Datastore
		}
		if opts.Configure != nil {
			opts.Configure(i, &cfg)
		}
		node, err := kubo.Init(ctx, cfg)
		if err != nil {
			tb.Fatal(err)
		}
		s.Nodes = append(s.Nodes, node)
	}
	tb.Cleanup(func() {
		s.Stop()
		if tb.Failed() {
			for i, nd := range s.Nodes {
				tb.Logf("kubo %d log:\n%s", i, nd.Logs(30))
			}
		}
	})
	peers := s.Peers()
	for _, nd := range s.Nodes {
		if err := nd.SetPeers(peers); err != nil {
			tb.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, nd := range s.Nodes {
		wg.Go(func() { errs[i] = nd.Start(ctx) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			tb.Fatal(err)
		}
	}
	s.connect(ctx)
	if err := s.WaitConnected(ctx); err != nil {
		tb.Fatal(err)
	}
	return s
}

// Peers returns every daemon's Peer entry.
func (s *Swarm) Peers() []kubo.Peer {
	var peers []kubo.Peer
	for _, nd := range s.Nodes {
		peers = append(peers, nd.Peer())
	}
	return peers
}

// WaitConnected waits until every running daemon is connected to every
// other running daemon.
func (s *Swarm) WaitConnected(ctx context.Context) error {
	for {
		missing := ""
		for _, a := range s.Nodes {
			if !a.Running() {
				continue
			}
			ids, err := a.SwarmPeers(ctx)
			if err != nil {
				missing = err.Error()
				break
			}
			for _, b := range s.Nodes {
				if b != a && b.Running() && !slices.Contains(ids, b.ID()) {
					missing = fmt.Sprintf("%s is not connected to %s", a.ID(), b.ID())
				}
			}
		}
		if missing == "" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("kubotest: swarm not connected: %s: %w", missing, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// connect asks every running daemon to connect to the others now: Peering
// connects after a few seconds and then keeps the connections, so this only
// saves the tests time (best effort: WaitConnected decides).
func (s *Swarm) connect(ctx context.Context) {
	for _, a := range s.Nodes {
		for _, b := range s.Nodes {
			if a != b && a.Running() && b.Running() {
				a.Connect(ctx, b.Peer())
			}
		}
	}
}

// Restart starts daemon i again (after Stop or Kill) and waits until the
// swarm is connected.
func (s *Swarm) Restart(ctx context.Context, i int) error {
	if err := s.Nodes[i].Start(ctx); err != nil {
		return err
	}
	s.connect(ctx)
	return s.WaitConnected(ctx)
}

// Stop stops every daemon.
func (s *Swarm) Stop() {
	var wg sync.WaitGroup
	for _, nd := range s.Nodes {
		wg.Go(func() { nd.Stop() })
	}
	wg.Wait()
}
