package abe_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/medshare/medshare/abe"
	"github.com/medshare/medshare/abe/policy"
)

// TestSplitJoin: a ciphertext stored as its header (the ledger's m) and its
// sealed levels (IPFS) joins back into one that opens exactly as before; a
// level left out is reported missing, the others still open; a header of
// another record or a changed byte of a sealed level opens nothing.
func TestSplitJoin(t *testing.T) {
	for _, name := range []string{abe.MSC, abe.TKN20} {
		t.Run(name, func(t *testing.T) {
			s := newSystem(t, name)
			uk := s.user(t, epoch, "role=doctor", "trust=3", "identity=3", "specialty=cardiology")
			hdr, sealed := split(t, s.ct)
			all, err := abe.JoinCiphertext(hdr, sealed)
			if err != nil {
				t.Fatal(err)
			}
			if !all.Equal(s.ct) {
				t.Fatal("joined ciphertext differs from the original")
			}

			// Only the low level fetched: low opens, medium is missing.
			part, err := abe.JoinCiphertext(hdr, abe.Levels{sealed[policy.Low]})
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.scheme.DecryptLevel(uk, part, []byte(recordID), policy.Low)
			if err != nil || !bytes.Equal(got, data[policy.Low]) {
				t.Fatalf("low: %q, %v", got, err)
			}
			if _, err := s.scheme.DecryptLevel(uk, part, []byte(recordID), policy.Medium); !errors.Is(err, abe.ErrMissingLevel) {
				t.Fatalf("medium not fetched: got %v, want ErrMissingLevel", err)
			}

			// A changed byte of a sealed level fails authentication.
			bad := sealed
			bad[policy.Low] = append([]byte(nil), sealed[policy.Low]...)
			bad[policy.Low][0] ^= 1
			tampered, err := abe.JoinCiphertext(hdr, bad)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.scheme.DecryptLevel(uk, tampered, []byte(recordID), policy.Low); !errors.Is(err, abe.ErrAuthentication) {
				t.Fatalf("tampered low: got %v, want ErrAuthentication", err)
			}

			// Malformed inputs are refused, not misread.
			ctb, _ := s.ct.MarshalBinary()
			for _, h := range [][]byte{nil, hdr[:len(hdr)-1], ctb, append(append([]byte(nil), hdr...), 0)} {
				if _, err := abe.JoinCiphertext(h, sealed); !errors.Is(err, abe.ErrMalformed) {
					t.Errorf("header of %d bytes: got %v, want ErrMalformed", len(h), err)
				}
			}
			if _, err := abe.JoinCiphertext(hdr, abe.Levels{[]byte("short")}); !errors.Is(err, abe.ErrMalformed) {
				t.Errorf("short sealed level: got %v, want ErrMalformed", err)
			}
		})
	}
}

// split returns ct's header encoding and its sealed levels, as a record is
// stored (ledger and IPFS).
func split(t *testing.T, ct *abe.Ciphertext) ([]byte, abe.Levels) {
	t.Helper()
	hdr, err := ct.MarshalHeader()
	if err != nil {
		t.Fatal(err)
	}
	var sealed abe.Levels
	for _, l := range policy.Levels {
		if sealed[l] = ct.Sealed(l); len(sealed[l]) == 0 {
			t.Fatalf("level %s: no sealed data", l)
		}
	}
	return hdr, sealed
}
