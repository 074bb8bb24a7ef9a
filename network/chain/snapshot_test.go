package chain_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/medshare/medshare/network/block"
	"github.com/medshare/medshare/network/chain"
)

func TestCheckpointFormat(t *testing.T) {
	last := block.Hash{1, 2, 3}
	raw := chain.Checkpoint("side-high", 42, last, [32]byte{9})
	if !bytes.HasPrefix(raw, []byte("MSNP\x02")) {
		t.Fatalf("checkpoint starts %q, want the magic and version 2", raw[:5])
	}
	ch, h, got, err := chain.DecodeCheckpoint(raw)
	if err != nil || ch != "side-high" || h != 42 || got != last {
		t.Fatalf("round trip: %q %d %x %v", ch, h, got[:4], err)
	}
	for name, b := range map[string][]byte{
		"format 1 (whole store)": {0, 0, 0, 9, 'b', 0, 0, 0, 0, 0, 0, 0, 0},
		"other version":          append([]byte("MSNP\x03"), raw[5:]...),
		"truncated":              raw[:len(raw)-1],
		"trailing bytes":         append(bytes.Clone(raw), 0),
		"height 0":               chain.Checkpoint("side-high", 0, last, [32]byte{}),
		"bad channel name":       chain.Checkpoint("Bad Name", 1, last, [32]byte{}),
		"empty":                  nil,
	} {
		if _, _, _, err := chain.DecodeCheckpoint(b); !errors.Is(err, chain.ErrSnapshotFormat) {
			t.Errorf("%s: %v, want ErrSnapshotFormat", name, err)
		}
	}
}

// FuzzDecodeCheckpoint: any bytes decode or fail cleanly, and what decodes
// re-encodes to the same bytes.
func FuzzDecodeCheckpoint(f *testing.F) {
	f.Add(chain.Checkpoint("main", 7, block.Hash{1}, [32]byte{2}))
	f.Add([]byte("MSNP\x02\x00\x00"))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		ch, h, last, err := chain.DecodeCheckpoint(b)
		if err != nil {
			return
		}
		_, _, _, _ = ch, h, last, err
		re := chain.Checkpoint(ch, h, last, [32]byte(b[len(b)-32:]))
		if !bytes.Equal(re, b) {
			t.Fatalf("round trip: %x -> %x", b, re)
		}
	})
}
