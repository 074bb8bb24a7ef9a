package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// PackageStore keeps a requestor's held packages in a directory, one
// subdirectory per request (mode 0700) holding held.json (mode 0600: it
// holds the request's private keys). It is the client's store that the
// usage contract's actions refer to: duplicate makes a second copy in it,
// move moves a package out of it, delete removes a package's data.
type PackageStore struct{ Dir string }

// name maps a request id ("<user id>:<name>") to its directory name.
func name(requestID string) string { return strings.ReplaceAll(requestID, ":", "_") }

// Path is the directory of a request's package.
func (s PackageStore) Path(requestID string) string { return filepath.Join(s.Dir, name(requestID)) }

// Save writes h atomically.
func (s PackageStore) Save(h *Held) error {
	dir := s.Path(h.Package.RequestID)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	raw, err := json.MarshalIndent(h, "", "  ")
	if err != nil {
		return err
	}
	path := filepath.Join(dir, "held.json")
	if err := os.WriteFile(path+".tmp", raw, 0o600); err != nil {
		return err
	}
	return os.Rename(path+".tmp", path)
}

// ErrNoPackage: the store holds no package for the request.
var ErrNoPackage = errors.New("client: no such package in the store")

// Load reads a request's held package.
func (s PackageStore) Load(requestID string) (*Held, error) {
	h, err := loadHeld(s.Path(requestID))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNoPackage, requestID)
	}
	return h, err
}

func loadHeld(dir string) (*Held, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "held.json"))
	if err != nil {
		return nil, err
	}
	var h Held
	if err := json.Unmarshal(raw, &h); err != nil {
		return nil, fmt.Errorf("client: %s: %w", dir, err)
	}
	return &h, nil
}

// List returns the request ids of the held packages, sorted.
func (s PackageStore) List() ([]string, error) {
	ents, err := os.ReadDir(s.Dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if h, err := loadHeld(filepath.Join(s.Dir, e.Name())); err == nil && e.Name() == name(h.Package.RequestID) {
			out = append(out, h.Package.RequestID)
		}
	}
	sort.Strings(out)
	return out, nil
}
