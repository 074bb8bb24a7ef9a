package abe_test

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/medshare/medshare/abe"
	"github.com/medshare/medshare/abe/policy"
)

// TestPartialDecrypt: a level that fails authentication or was not fetched
// does not keep Decrypt from the levels that are intact; the failed levels
// are named in a *PartialError that still matches ErrAuthentication or
// ErrMissingLevel, so callers that treat any error as failure keep working.
func TestPartialDecrypt(t *testing.T) {
	for _, name := range []string{abe.MSC, abe.TKN20} {
		t.Run(name, func(t *testing.T) {
			s := newSystem(t, name)
			uk := s.user(t, epoch, "role=doctor", "trust=3", "identity=3", "specialty=cardiology")
			hdr, sealed := split(t, s.ct)
			for _, tc := range []struct {
				name   string
				damage func(*abe.Levels)
				failed []policy.Level
				is     error
			}{
				{"medium corrupted", func(lv *abe.Levels) { lv[policy.Medium][3] ^= 1 }, []policy.Level{policy.Medium}, abe.ErrAuthentication},
				{"low corrupted", func(lv *abe.Levels) { lv[policy.Low][0] ^= 1 }, []policy.Level{policy.Low}, abe.ErrAuthentication},
				{"high not fetched", func(lv *abe.Levels) { lv[policy.High] = nil }, []policy.Level{policy.High}, abe.ErrMissingLevel},
				{"low and high not fetched", func(lv *abe.Levels) { lv[policy.Low], lv[policy.High] = nil, nil }, []policy.Level{policy.Low, policy.High}, abe.ErrMissingLevel},
				{"all corrupted", func(lv *abe.Levels) {
					for l := range lv {
						lv[l][1] ^= 1
					}
				}, policy.Levels[:], abe.ErrAuthentication},
			} {
				var lv abe.Levels
				for l := range sealed {
					lv[l] = bytes.Clone(sealed[l])
				}
				tc.damage(&lv)
				ct, err := abe.JoinCiphertext(hdr, lv)
				if err != nil {
					t.Fatal(err)
				}
				o, err := s.scheme.Decrypt(uk, ct, []byte(recordID))
				var pe *abe.PartialError
				if !errors.As(err, &pe) || !errors.Is(err, tc.is) {
					t.Fatalf("%s: %v, want a *PartialError matching %v", tc.name, err, tc.is)
				}
				if !slices.Equal(pe.Levels(), tc.failed) {
					t.Errorf("%s: failed levels %v, want %v", tc.name, pe.Levels(), tc.failed)
				}
				for _, l := range tc.failed {
					if !strings.Contains(err.Error(), "level "+l.String()) {
						t.Errorf("%s: error %q does not name level %s", tc.name, err, l)
					}
				}
				if o.Top != policy.High {
					t.Errorf("%s: Top = %s, want high", tc.name, o.Top)
				}
				for _, l := range policy.Levels {
					if slices.Contains(tc.failed, l) {
						if o.Data[l] != nil {
							t.Errorf("%s: failed level %s has data", tc.name, l)
						}
					} else if !bytes.Equal(o.Data[l], data[l]) {
						t.Errorf("%s: intact level %s = %q, %v", tc.name, l, o.Data[l], err)
					}
				}
			}

			// A wrong record id changes every level's key: nothing opens.
			o, err := s.scheme.Decrypt(uk, s.ct, []byte("record-0002"))
			var pe *abe.PartialError
			if !errors.As(err, &pe) || len(pe.Levels()) != 3 || slices.ContainsFunc(o.Data[:], func(d []byte) bool { return d != nil }) {
				t.Errorf("wrong record id: %v, opened %q", err, o.Data)
			}
			// A key that opens low only is not told about higher levels.
			low := s.user(t, epoch, "role=doctor", "trust=1")
			part, err := abe.JoinCiphertext(hdr, abe.Levels{nil, sealed[policy.Medium], sealed[policy.High]})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.scheme.Decrypt(low, part, []byte(recordID)); !errors.As(err, &pe) || !slices.Equal(pe.Levels(), []policy.Level{policy.Low}) {
				t.Errorf("low-only key, low missing: %v", err)
			}
		})
	}
}
