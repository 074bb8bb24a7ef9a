package abe_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/medshare/medshare/abe"
)

// TestVersion1Refused: ciphertexts and headers of format version 1 (the
// nested msc construction) are refused with an error that says why, never
// misread.
func TestVersion1Refused(t *testing.T) {
	b, err := os.ReadFile("testdata/ciphertext-v1.txt")
	if err != nil {
		t.Fatal(err)
	}
	var enc [][]byte
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		h, err := hex.DecodeString(line)
		if err != nil {
			t.Fatal(err)
		}
		enc = append(enc, h)
	}
	if len(enc) != 2 {
		t.Fatalf("%d encodings in testdata", len(enc))
	}
	_, err = abe.ParseCiphertext(enc[0])
	if !errors.Is(err, abe.ErrUnsupportedVersion) || !errors.Is(err, abe.ErrMalformed) || !strings.Contains(err.Error(), "re-encrypt") {
		t.Errorf("version 1 ciphertext: %v", err)
	}
	_, err = abe.JoinCiphertext(enc[1], abe.Levels{})
	if !errors.Is(err, abe.ErrUnsupportedVersion) || !strings.Contains(err.Error(), "re-encrypt") {
		t.Errorf("version 1 header: %v", err)
	}
	// The same bytes with the version byte set to 2 are not a valid
	// version 2 ciphertext either (the layout changed).
	bumped := bytes.Clone(enc[0])
	bumped[4] = 2
	if _, err := abe.ParseCiphertext(bumped); !errors.Is(err, abe.ErrMalformed) {
		t.Errorf("version 1 body under version 2: %v", err)
	}
	// Keys keep format version 1: their algebra did not change.
	s := newSystem(t, abe.MSC)
	pkb, _ := s.aa.PublicKey().MarshalBinary()
	if pkb[4] != 1 || s.ctb[4] != 2 {
		t.Errorf("versions: public key %d, ciphertext %d; want 1 and 2", pkb[4], s.ctb[4])
	}
	other := bytes.Clone(s.ctb)
	other[4] = 3
	if _, err := abe.ParseCiphertext(other); !errors.Is(err, abe.ErrUnsupportedVersion) {
		t.Errorf("version 3: %v", err)
	}
}
