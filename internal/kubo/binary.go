package kubo

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// EnvBinary names the environment variable that overrides where FindBinary
// looks for the ipfs binary.
const EnvBinary = "MEDSHARE_KUBO"

// ErrNoBinary means no ipfs binary was found: run `make kubo`.
var ErrNoBinary = errors.New("kubo: no ipfs binary: run `make kubo` (or set " + EnvBinary + ")")

// FindBinary returns the ipfs binary to run: $MEDSHARE_KUBO when set,
// otherwise bin/ipfs in the repository that holds the working directory
// (the folder of the nearest go.mod that has a bin/ipfs above it), as
// `make kubo` builds it. It does not search PATH: another kubo version
// would behave differently.
func FindBinary() (string, error) {
	if p := os.Getenv(EnvBinary); p != "" {
		if err := executable(p); err != nil {
			return "", fmt.Errorf("%w: %s=%s: %v", ErrNoBinary, EnvBinary, p, err)
		}
		return p, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("kubo: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			p := filepath.Join(dir, "bin", "ipfs")
			if executable(p) == nil {
				return p, nil
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", ErrNoBinary
		}
		dir = parent
	}
}

func executable(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	if fi.IsDir() || fi.Mode()&0o111 == 0 {
		return fmt.Errorf("%s is not an executable file", p)
	}
	return nil
}

// Version runs `ipfs version --number` and returns what it prints.
func Version(bin string) (string, error) {
	out, err := exec.Command(bin, "version", "--number").Output()
	if err != nil {
		return "", fmt.Errorf("kubo: %s version: %w", bin, err)
	}
	return string(bytes.TrimSpace(out)), nil
}
