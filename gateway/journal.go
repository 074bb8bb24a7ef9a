package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/medshare/medshare/chaincode/index"
	"github.com/medshare/medshare/gateway/ledger"
)

// journal records, durably, what an upload left between the side chains
// and the index:
//
//   - pending: every side-chain transaction of a version committed but its
//     index entry did not (the ledger's main channel was unreachable, or
//     the outcome unknown). The version is complete and pinned; the gateway
//     retries the index entry until it commits. Until then readers do not
//     find the version (the index is what they search), and the owner's
//     gateway refuses accesses to it as not indexed.
//   - orphans: some side-chain transactions committed but the upload
//     failed before all did. Ledger history cannot be undone; the
//     ciphertext is unpinned, nothing is indexed, and the orphan is kept
//     here for the owner and auditors (docs/gateway.md).
type journal struct {
	dir string

	mu      sync.Mutex
	pending map[string]*pendingEntry
}

type pendingEntry struct {
	RecordID string            `json:"recordId"`
	Version  uint64            `json:"version"`
	Input    index.RecordInput `json:"input"`
	Since    time.Time         `json:"since"`
	Attempts int               `json:"attempts"`
	LastErr  string            `json:"lastError,omitempty"`
}

type orphanEntry struct {
	RecordID string            `json:"recordId"`
	Version  uint64            `json:"version"`
	Levels   []index.LevelRef  `json:"levels"`
	Unpinned []string          `json:"unpinned"`
	Reason   string            `json:"reason"`
	At       time.Time         `json:"at"`
	Extra    map[string]string `json:"extra,omitempty"`
}

func openJournal(dataDir string) (*journal, error) {
	j := &journal{dir: dataDir, pending: map[string]*pendingEntry{}}
	for _, d := range []string{"pending", "orphans"} {
		if err := os.MkdirAll(filepath.Join(dataDir, d), 0o700); err != nil {
			return nil, fmt.Errorf("gateway: journal: %w", err)
		}
	}
	entries, err := os.ReadDir(filepath.Join(dataDir, "pending"))
	if err != nil {
		return nil, fmt.Errorf("gateway: journal: %w", err)
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		raw, err := os.ReadFile(filepath.Join(dataDir, "pending", e.Name()))
		if err != nil {
			return nil, fmt.Errorf("gateway: journal: %w", err)
		}
		var p pendingEntry
		if err := json.Unmarshal(raw, &p); err != nil {
			return nil, fmt.Errorf("gateway: journal %s: %w", e.Name(), err)
		}
		j.pending[p.RecordID] = &p
	}
	return j, nil
}

func writeAtomic(path string, v any) error {
	raw, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path+".tmp", raw, 0o600); err != nil {
		return err
	}
	return os.Rename(path+".tmp", path)
}

func (j *journal) addPending(p *pendingEntry) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.pending[p.RecordID] = p
	return writeAtomic(filepath.Join(j.dir, "pending", p.RecordID+".json"), p)
}

func (j *journal) donePending(recordID string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	delete(j.pending, recordID)
	os.Remove(filepath.Join(j.dir, "pending", recordID+".json"))
}

func (j *journal) isPending(recordID string) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	_, ok := j.pending[recordID]
	return ok
}

func (j *journal) len() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return len(j.pending)
}

func (j *journal) snapshot() []pendingEntry {
	j.mu.Lock()
	defer j.mu.Unlock()
	out := make([]pendingEntry, 0, len(j.pending))
	for _, p := range j.pending {
		out = append(out, *p)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Since.Before(out[b].Since) })
	return out
}

func (j *journal) addOrphan(o *orphanEntry) error {
	name := fmt.Sprintf("%s-v%d-%d.json", o.RecordID, o.Version, o.At.UnixNano())
	return writeAtomic(filepath.Join(j.dir, "orphans", name), o)
}

// retryInterval is how often pending index entries are retried.
const retryInterval = 2 * time.Second

// retryPending writes pending index entries until they commit. A refusal
// (not an unreachable ledger) turns the entry into an orphan.
func (s *Server) retryPending() {
	defer s.bg.Done()
	t := time.NewTicker(retryInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		for _, p := range s.journal.snapshot() {
			ctx, cancel := context.WithTimeout(context.Background(), s.cfg.RequestTimeout)
			_, txID, err := s.chain.PutRecord(ctx, p.RecordID, p.Input)
			s.indexed(p.RecordID)
			cancel()
			var re *ledger.RefusedError
			switch {
			case err == nil:
				s.journal.donePending(p.RecordID)
				s.log.Info("pending index entry written", "record", p.RecordID, "version", p.Version, "tx", txID, "attempts", p.Attempts+1)
			case errors.As(err, &re):
				s.journal.donePending(p.RecordID)
				_ = s.journal.addOrphan(&orphanEntry{RecordID: p.RecordID, Version: p.Version, Levels: p.Input.Levels, Reason: "index entry refused: " + re.Message, At: s.d.Now()})
				s.log.Error("pending index entry refused; recorded as an orphan", "record", p.RecordID, "err", err)
			default:
				p.Attempts++
				p.LastErr = err.Error()
				_ = s.journal.addPending(&p)
			}
		}
		s.m.pending.Set(float64(s.journal.len()))
	}
}
