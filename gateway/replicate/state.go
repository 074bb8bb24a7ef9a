package replicate

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// stateVersion is the state file's format version.
const stateVersion = 1

// state is what the follower keeps across restarts: where each stream
// resumes, the work not done yet, and the addresses unpinned for good.
type state struct {
	Version int `json:"version"`
	// Next is, per stream, the block to resume reading from: the block of
	// the last event taken into Pending (its events are read again, which
	// is harmless).
	Next map[string]uint64 `json:"next"`
	// Pending are the decisions not carried out yet.
	Pending []pendingItem `json:"pending"`
	// Unpinned are addresses never to pin again.
	Unpinned []string `json:"unpinned"`
}

type pendingItem struct {
	CID    string    `json:"cid"`
	Action Action    `json:"action"`
	First  time.Time `json:"first"`
}

// loadState reads the state file; a missing file is a fresh start.
func loadState(path string) (*state, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return &state{Version: stateVersion, Next: map[string]uint64{}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("replicate: state: %w", err)
	}
	var s state
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("replicate: state %s: %w", path, err)
	}
	if s.Version != stateVersion {
		return nil, fmt.Errorf("replicate: state %s: version %d, want %d", path, s.Version, stateVersion)
	}
	if s.Next == nil {
		s.Next = map[string]uint64{}
	}
	for _, p := range s.Pending {
		if p.CID == "" || (p.Action != Pin && p.Action != Unpin) {
			return nil, fmt.Errorf("replicate: state %s: bad pending item %+v", path, p)
		}
	}
	return &s, nil
}

// save writes the state atomically: a crash leaves the old or the new file.
func (s *state) save(path string) error {
	b, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("replicate: state: %w", err)
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("replicate: state: %w", err)
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("replicate: state: %w", err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
