package chain

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/medshare/medshare/network/ledger"
)

// RecoveryReport says what Recover found and did.
type RecoveryReport struct {
	// WasHalted and HaltReason are the halt record Recover found.
	WasHalted  bool
	HaltReason string
	// Verified is the verification of the store as it was.
	Verified *ledger.Report
	// Held is how many blocks the store held, Kept how many it holds now.
	Held, Kept uint64
	// Damaged is where the store was moved when it had to be rebuilt; the
	// operator may inspect it, then delete it.
	Damaged string
}

// Recover prepares a channel directory (DATA/channels/NAME) of a stopped
// node to rejoin the channel after a halt or a suspected damage:
//
//  1. It verifies the ledger from scratch (Store.Verify).
//  2. If anything fails, it rebuilds the ledger from the blocks before the
//     first failing one — the rebuilt store is verified too — and moves the
//     damaged store aside; the swap is two renames, and an interrupted
//     recovery is simply run again.
//  3. It removes the halt record.
//
// It leaves the channel's Raft state alone: the node's term, vote and log
// are Raft's safety and must survive. On its next start the node resumes
// Raft where it stopped; blocks it no longer holds — those after the kept
// ones, and all those the channel committed while it was halted — it
// re-executes from its log or fetches from its peers, checking each as any
// block. If the halt came from this node computing differently (a faulty
// binary or chaincode), the operator fixes that first: recovery does not,
// and the node would halt again at the same block.
func Recover(dir string, log *slog.Logger) (*RecoveryReport, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	rep := &RecoveryReport{}
	var err error
	if rep.HaltReason, rep.WasHalted, err = Halted(dir); err != nil {
		return nil, err
	}
	ledgerDir := filepath.Join(dir, "ledger")
	rebuilt := ledgerDir + ".recovered"
	if err := os.RemoveAll(rebuilt); err != nil { // left by an interrupted recovery
		return nil, err
	}
	s, err := ledger.OpenReadOnly(ledgerDir, log)
	if err != nil {
		return nil, err
	}
	defer func() {
		if s != nil {
			s.Close()
		}
	}()
	rep.Held = s.Height()
	if rep.Verified, err = s.Verify(context.Background()); err != nil {
		return nil, err
	}
	rep.Kept = rep.Held
	if !rep.Verified.OK() {
		rep.Kept = rep.Verified.Problems[0].Block
		if rep.Kept == 0 {
			return rep, fmt.Errorf("chain: recover: the genesis block fails verification (%s): remove the channel's directory and join the channel again", rep.Verified.Problems[0])
		}
		log.Info("rebuilding the ledger from its verified blocks", "keep", rep.Kept, "held", rep.Held)
		if err := s.Rebuild(rebuilt, rep.Kept); err != nil {
			return rep, err
		}
		if err := verifyDir(rebuilt, log); err != nil {
			os.RemoveAll(rebuilt)
			return rep, err
		}
		s.Close()
		s = nil
		rep.Damaged = ledgerDir + ".damaged-" + time.Now().UTC().Format("20060102T150405Z")
		if err := os.Rename(ledgerDir, rep.Damaged); err != nil {
			return rep, fmt.Errorf("chain: recover: %w", err)
		}
		if err := os.Rename(rebuilt, ledgerDir); err != nil {
			return rep, fmt.Errorf("chain: recover: %w (the damaged store is in %s, the rebuilt one in %s)", err, rep.Damaged, rebuilt)
		}
		if err := syncDir(dir); err != nil {
			return rep, fmt.Errorf("chain: recover: %w", err)
		}
	}
	if err := clearHalt(dir); err != nil {
		return rep, err
	}
	return rep, nil
}

func verifyDir(dir string, log *slog.Logger) error {
	s, err := ledger.OpenReadOnly(dir, log)
	if err != nil {
		return err
	}
	defer s.Close()
	rep, err := s.Verify(context.Background())
	if err != nil {
		return err
	}
	if !rep.OK() {
		return errors.New("chain: recover: the rebuilt ledger does not verify: " + rep.Problems[0].String())
	}
	return nil
}
