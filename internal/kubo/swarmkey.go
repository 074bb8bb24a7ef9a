package kubo

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/libp2p/go-libp2p/core/pnet"
)

// SwarmKeyFile is the file name of the swarm key, in a crypto folder beside
// the organisations' material and in every kubo repository.
const SwarmKeyFile = "swarm.key"

// swarmKeyHeader starts a libp2p private-network key file (PSK v1, hex).
const swarmKeyHeader = "/key/swarm/psk/1.0.0/\n/base16/\n"

// ErrBadSwarmKey means a swarm key file is not a libp2p PSK v1 key of 32
// bytes.
var ErrBadSwarmKey = errors.New("kubo: not a swarm key (libp2p PSK v1, 32 bytes in hex)")

// NewSwarmKey returns a fresh swarm key file: 32 random bytes from rnd
// (crypto/rand when nil) in the libp2p PSK v1 format kubo reads from
// <repo>/swarm.key. Every organisation's daemon gets the same key; it is a
// shared secret of the consortium: whoever holds it may join the swarm.
func NewSwarmKey(rnd io.Reader) ([]byte, error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	key := make([]byte, 32)
	if _, err := io.ReadFull(rnd, key); err != nil {
		return nil, fmt.Errorf("kubo: swarm key: %w", err)
	}
	return []byte(swarmKeyHeader + hex.EncodeToString(key) + "\n"), nil
}

// CheckSwarmKey checks that b is a swarm key as libp2p decodes it.
func CheckSwarmKey(b []byte) error {
	psk, err := pnet.DecodeV1PSK(bytes.NewReader(b))
	if err != nil || len(psk) != 32 {
		return ErrBadSwarmKey
	}
	return nil
}

// WriteSwarmKey writes a fresh swarm key to path with mode 0600. It refuses
// to replace an existing file: a consortium's daemons must share one key.
func WriteSwarmKey(path string, rnd io.Reader) error {
	key, err := NewSwarmKey(rnd)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("kubo: swarm key: %w", err)
	}
	if _, err := f.Write(key); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("kubo: swarm key: %w", err)
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return fmt.Errorf("kubo: swarm key: %w", err)
	}
	return nil
}

// ReadSwarmKey reads and checks a swarm key file.
func ReadSwarmKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("kubo: swarm key: %w", err)
	}
	if err := CheckSwarmKey(b); err != nil {
		return nil, fmt.Errorf("%w: %s", err, path)
	}
	return b, nil
}
