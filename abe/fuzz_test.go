package abe_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/medshare/medshare/abe"
	"github.com/medshare/medshare/abe/policy"
	"github.com/medshare/medshare/abe/tag"
)

// The fuzz targets below start from small seeds: a three-level policy with
// one leaf per level, one-byte levels and a one-attribute key where a key
// is the input. Every input that parses costs point decompressions and
// subgroup checks (and a ciphertext a decryption), so small seeds are what
// lets a target run tens of thousands of inputs in `make fuzz` (which also
// bounds minimisation with -fuzzminimizetime).

// fuzzSystem is one scheme's small fuzzing fixture.
type fuzzSystem struct {
	scheme abe.Scheme
	pk     []byte
	key    *abe.UserKey // opens every level of ct
	small  []byte       // a one-attribute user key
	ct     []byte
	header []byte
	sealed abe.Levels
}

var fuzzData = abe.Levels{[]byte("l"), []byte("m"), []byte("h")}

const fuzzRecord = "r"

func newFuzzSystem(tb testing.TB, name string) *fuzzSystem {
	tb.Helper()
	s, err := abe.New(name)
	if err != nil {
		tb.Fatal(err)
	}
	pk, msk, err := s.Setup(rng(11))
	if err != nil {
		tb.Fatal(err)
	}
	tk := tag.Key{7}
	rp, err := policy.ParseRecord("low: a = x; medium: b = y; high: c = z")
	if err != nil {
		tb.Fatal(err)
	}
	ct, err := s.Encrypt(rng(12), pk, rp.Hide(tk), []byte(fuzzRecord), fuzzData)
	if err != nil {
		tb.Fatal(err)
	}
	key, err := s.KeyGen(rng(13), msk, tk.Tags([]string{"a=x", "b=y", "c=z"}))
	if err != nil {
		tb.Fatal(err)
	}
	small, err := s.KeyGen(rng(14), msk, tk.Tags([]string{"a=x"}))
	if err != nil {
		tb.Fatal(err)
	}
	fs := &fuzzSystem{scheme: s, key: key}
	if fs.pk, err = pk.MarshalBinary(); err != nil {
		tb.Fatal(err)
	}
	if fs.small, err = small.MarshalBinary(); err != nil {
		tb.Fatal(err)
	}
	if fs.ct, err = ct.MarshalBinary(); err != nil {
		tb.Fatal(err)
	}
	if fs.header, err = ct.MarshalHeader(); err != nil {
		tb.Fatal(err)
	}
	for _, l := range policy.Levels {
		fs.sealed[l] = ct.Sealed(l)
	}
	return fs
}

func fuzzSystems(tb testing.TB) map[string]*fuzzSystem {
	return map[string]*fuzzSystem{abe.MSC: newFuzzSystem(tb, abe.MSC), abe.TKN20: newFuzzSystem(tb, abe.TKN20)}
}

// checkOpened fails unless every level Decrypt returned is the original
// data, and every level it did not return is named in a *PartialError.
func checkOpened(t *testing.T, o abe.Opened, err error) {
	t.Helper()
	var pe *abe.PartialError
	if err != nil && !errors.As(err, &pe) {
		return
	}
	for l := policy.Low; l <= o.Top; l++ {
		switch {
		case o.Data[l] != nil && !bytes.Equal(o.Data[l], fuzzData[l]):
			t.Fatalf("level %s decrypted to different data", l)
		case o.Data[l] == nil && (pe == nil || pe.Failed[l] == nil):
			t.Fatalf("level %s neither opened nor reported", l)
		}
	}
}

// FuzzParseCiphertext: the ciphertext and header parsers never panic (msc
// and tkn20), accept only canonical encodings, and a parsed ciphertext —
// or a header joined with the seed's sealed levels — opens each level to
// the original data or reports it as failed.
func FuzzParseCiphertext(f *testing.F) {
	systems := fuzzSystems(f)
	for _, fs := range systems {
		f.Add(fs.ct)
		f.Add(fs.header)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if ct, err := abe.ParseCiphertext(b); err == nil {
			out, err := ct.MarshalBinary()
			if err != nil || !bytes.Equal(out, b) {
				t.Fatalf("re-encoding differs: %v", err)
			}
			fs := systems[ct.Scheme()]
			o, err := fs.scheme.Decrypt(fs.key, ct, []byte(fuzzRecord))
			checkOpened(t, o, err)
		}
		for _, fs := range systems {
			ct, err := abe.JoinCiphertext(b, fs.sealed)
			if err != nil {
				continue
			}
			out, err := ct.MarshalHeader()
			if err != nil || !bytes.Equal(out, b) {
				t.Fatalf("header re-encoding differs: %v", err)
			}
			if ct.Scheme() == fs.scheme.Name() {
				o, err := fs.scheme.Decrypt(fs.key, ct, []byte(fuzzRecord))
				checkOpened(t, o, err)
			}
		}
	})
}

// FuzzParseUserKey: the user-key parser never panics and accepts only
// canonical encodings.
func FuzzParseUserKey(f *testing.F) {
	for _, fs := range fuzzSystems(f) {
		f.Add(fs.small)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		uk, err := abe.ParseUserKey(b)
		if err != nil {
			return
		}
		out, err := uk.MarshalBinary()
		if err != nil || !bytes.Equal(out, b) {
			t.Fatalf("re-encoding differs: %v", err)
		}
	})
}

// FuzzParsePublicKey: the public-key parser never panics and accepts only
// canonical encodings.
func FuzzParsePublicKey(f *testing.F) {
	for _, fs := range fuzzSystems(f) {
		f.Add(fs.pk)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		pk, err := abe.ParsePublicKey(b)
		if err != nil {
			return
		}
		out, err := pk.MarshalBinary()
		if err != nil || !bytes.Equal(out, b) {
			t.Fatalf("re-encoding differs: %v", err)
		}
	})
}
