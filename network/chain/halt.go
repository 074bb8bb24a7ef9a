package chain

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/raft"
)

// HaltFile is the file in a channel's directory (DATA/channels/NAME) that
// records that this node halted the channel: its results disagreed with a
// block's header, or it could not commit a block. While the file exists the
// node keeps the channel halted across restarts: it does not start the
// channel's Raft member (it neither votes nor leads, and so cannot win an
// election it would then do nothing with) and it refuses every request on
// the channel but its status. The operator investigates, fixes the cause
// (a damaged store, a node binary that computes differently) and runs
// "medshare ledger recover", which repairs the store if needed and removes
// the file; the restarted node then catches up with the others.
const HaltFile = "HALTED"

// Halted reads the halt record in the channel directory dir: whether the
// channel is halted on this node, and why.
func Halted(dir string) (reason string, halted bool, err error) {
	b, err := os.ReadFile(filepath.Join(dir, HaltFile))
	if errors.Is(err, os.ErrNotExist) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("chain: halt record: %w", err)
	}
	return strings.TrimSpace(string(b)), true, nil
}

// writeHalt records the halt durably: the file is written, synced, and
// renamed into place, and the directory synced.
func writeHalt(dir, reason string, at time.Time) error {
	line := at.UTC().Format(time.RFC3339) + " " + strings.ReplaceAll(reason, "\n", " ") + "\n"
	tmp := filepath.Join(dir, HaltFile+".tmp")
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("chain: halt record: %w", err)
	}
	_, err = f.WriteString(line)
	if serr := f.Sync(); err == nil {
		err = serr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, HaltFile))
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		return fmt.Errorf("chain: halt record: %w", err)
	}
	return nil
}

// clearHalt removes the halt record durably.
func clearHalt(dir string) error {
	if err := os.Remove(filepath.Join(dir, HaltFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("chain: clear halt record: %w", err)
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// halt stops the channel on this node and raises an alert: it records the
// halt on disk, and stops the channel's Raft member, handing leadership
// over first if it leads. It is called from the Raft FSM, which Raft's
// shutdown waits for, so the member is stopped from another goroutine.
func (c *Chain) halt(reason string) {
	c.mu.Lock()
	first := !c.halted.Load()
	if first {
		c.alert = reason
		c.halted.Store(true)
		close(c.haltCh)
	}
	c.mu.Unlock()
	if !first {
		return
	}
	c.log.Error("ALERT: channel halted on this node; it stops voting until an operator runs \"medshare ledger recover\"", "reason", reason)
	if err := writeHalt(c.opts.Dir, reason, c.opts.Now()); err != nil {
		c.log.Error("cannot record the halt; the channel will restart unhalted", "err", err)
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.stopConsensus()
	}()
}

// stopConsensus stops the channel's Raft member for good (until the node
// restarts without a halt record). A leader first tries to hand its
// leadership to an up-to-date follower, so the channel does not wait for an
// election timeout.
func (c *Chain) stopConsensus() {
	c.stopOnce.Do(func() {
		g := c.group
		if g == nil {
			return
		}
		if g.Raft.State() == raft.Leader {
			if err := g.Raft.LeadershipTransfer().Error(); err != nil {
				c.log.Warn("halted leader could not hand over leadership; the others elect a new leader", "err", err)
			}
		}
		if err := g.Shutdown(); err != nil {
			c.log.Warn("stopping the channel's Raft member", "err", err)
		}
		c.layer.Close()
		c.log.Info("the channel's Raft member is stopped: this node neither votes nor leads on it")
	})
}
