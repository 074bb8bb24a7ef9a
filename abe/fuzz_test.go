package abe_test

import (
	"bytes"
	"testing"

	"github.com/medshare/medshare/abe"
)

// fuzzSystems returns the msc and tkn20 test systems and a key of each that
// opens every level of their ciphertext.
func fuzzSystems(f *testing.F) map[string]*abe.UserKey {
	keys := map[string]*abe.UserKey{}
	for _, name := range []string{abe.MSC, abe.TKN20} {
		s := newSystem(f, name)
		keys[name] = s.user(f, epoch, "role=doctor", "trust=3", "identity=3", "specialty=cardiology")
	}
	return keys
}

// FuzzParseCiphertext: the ciphertext parser never panics, accepts only
// canonical encodings, and a parsed ciphertext either fails to decrypt or
// yields the original data.
func FuzzParseCiphertext(f *testing.F) {
	keys := fuzzSystems(f)
	for _, name := range []string{abe.MSC, abe.TKN20} {
		s := newSystem(f, name)
		f.Add(s.ctb)
		f.Add(s.ctb[:40])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ct, err := abe.ParseCiphertext(b)
		if err != nil {
			return
		}
		out, err := ct.MarshalBinary()
		if err != nil || !bytes.Equal(out, b) {
			t.Fatalf("re-encoding differs: %v", err)
		}
		sch, err := abe.New(ct.Scheme())
		if err != nil {
			t.Fatal(err)
		}
		o, err := sch.Decrypt(keys[ct.Scheme()], ct, []byte(recordID))
		if err != nil {
			return
		}
		for l := 0; l <= int(o.Top); l++ {
			if !bytes.Equal(o.Data[l], data[l]) {
				t.Fatalf("level %d decrypted to different data", l)
			}
		}
	})
}

// FuzzParseUserKey: the user-key parser never panics and accepts only
// canonical encodings.
func FuzzParseUserKey(f *testing.F) {
	keys := fuzzSystems(f)
	for _, k := range keys {
		b, _ := k.MarshalBinary()
		f.Add(b)
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
	for _, name := range []string{abe.MSC, abe.TKN20} {
		b, _ := newSystem(f, name).aa.PublicKey().MarshalBinary()
		f.Add(b)
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
