package policy_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/medshare/medshare/abe/policy"
	"github.com/medshare/medshare/abe/tag"
)

func mustParse(t testing.TB, s string) *policy.Tree {
	t.Helper()
	tr, err := policy.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func TestTreeEncoding(t *testing.T) {
	var k tag.Key
	for _, src := range []string{
		"a = x",
		"a = x and b >= 2",
		"2 of (a = x or b = y, c = z and d = w, e = v)",
		"#00112233445566778899aabbccddeeff",
	} {
		tr := mustParse(t, src)
		for _, v := range []*policy.Tree{tr, tr.Hide(k)} {
			b, err := v.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			back, err := policy.Unmarshal(b)
			if err != nil {
				t.Fatalf("%q: %v", src, err)
			}
			if !back.Equal(v) {
				t.Fatalf("%q: round trip changed the tree", src)
			}
			var viaMethod policy.Tree
			if err := viaMethod.UnmarshalBinary(b); err != nil || !viaMethod.Equal(v) {
				t.Fatalf("UnmarshalBinary: %v", err)
			}
		}
	}
	// A pinned encoding: "a = x and b >= 2".
	b, _ := mustParse(t, "a = x and b >= 2").MarshalBinary()
	if got := hex.EncodeToString(b); got != "0102000200020103613d780104623e3d32" {
		t.Fatalf("encoding changed: %s", got)
	}
}

func TestTreeDecodingErrors(t *testing.T) {
	good, _ := mustParse(t, "a = x and b >= 2").MarshalBinary()
	h := func(s string) []byte { b, _ := hex.DecodeString(s); return b }
	for _, tc := range []struct {
		name, in, why string
	}{
		{"empty", "", "truncated"},
		{"version", "02" + hex.EncodeToString(good[1:]), "version"},
		{"truncated", hex.EncodeToString(good[:len(good)-1]), "truncated"},
		{"trailing", hex.EncodeToString(good) + "00", "trailing"},
		{"unknown kind", "0109", "unknown node kind"},
		{"gate n=1", "01020001000100", "gate 1-of-1"},
		{"gate k=0", "0102000000020103613d780103613d78", "gate 0-of-2"},
		{"gate k>n", "0102000300020103613d780103613d78", "gate 3-of-2"},
		{"huge n", "010200010fff", "truncated"},
		{"bad attr", "010103414243", "invalid attribute"},
		{"attr too long", "0101ff", "truncated"},
		{"and in and", "01" + "0200020002" + "0200020002" + "0000000000000000000000000000000000" + "0000000000000000000000000000000000" + "0000000000000000000000000000000000", "non-canonical"},
		{"or in or", "01" + "0200010002" + "0200010002" + "0000000000000000000000000000000000" + "0000000000000000000000000000000000" + "0000000000000000000000000000000000", "non-canonical"},
		{"tag truncated", "0100001122", "truncated"},
	} {
		_, err := policy.Unmarshal(h(tc.in))
		if !errors.Is(err, policy.ErrMalformed) || !strings.Contains(err.Error(), tc.why) {
			t.Errorf("%s: Unmarshal = %v, want ErrMalformed about %q", tc.name, err, tc.why)
		}
	}
	// Depth bomb: nested 1-of-2 and 2-of-2 gates far beyond MaxDepth.
	var bomb []byte
	bomb = append(bomb, 1)
	for i := 0; i < 1000; i++ {
		if i%2 == 0 {
			bomb = append(bomb, 2, 0, 1, 0, 2, 0)
		} else {
			bomb = append(bomb, 2, 0, 2, 0, 2, 0)
		}
		bomb = append(bomb, make([]byte, 16)...)
	}
	if _, err := policy.Unmarshal(bomb); !errors.Is(err, policy.ErrMalformed) {
		t.Errorf("depth bomb: %v", err)
	}
	if _, err := policy.Unmarshal(make([]byte, policy.MaxEncodedLen+1)); !errors.Is(err, policy.ErrMalformed) {
		t.Errorf("oversized: %v", err)
	}
	var empty policy.Tree
	if _, err := empty.MarshalBinary(); err == nil {
		t.Error("zero Tree marshalled")
	}
}

func TestRecordEncoding(t *testing.T) {
	r, err := policy.ParseRecord(paperPolicy)
	if err != nil {
		t.Fatal(err)
	}
	var k tag.Key
	for _, v := range []*policy.Record{r, r.Hide(k)} {
		b, err := v.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		back, err := policy.UnmarshalRecord(b)
		if err != nil || !back.Equal(v) {
			t.Fatalf("record round trip: %v", err)
		}
		var m policy.Record
		if err := m.UnmarshalBinary(b); err != nil || !m.Equal(v) {
			t.Fatalf("record UnmarshalBinary: %v", err)
		}
		for i := range b {
			if _, err := policy.UnmarshalRecord(b[:i]); err == nil {
				t.Fatalf("truncated record (%d of %d bytes) accepted", i, len(b))
			}
		}
	}
	noMed, _ := policy.ParseRecord("low: a = b; high: c = d")
	b, _ := noMed.MarshalBinary()
	if b[1] != 2 {
		t.Fatalf("flags %d", b[1])
	}
	bad := bytes.Clone(b)
	bad[1] = 4
	if _, err := policy.UnmarshalRecord(bad); !errors.Is(err, policy.ErrMalformed) {
		t.Errorf("unknown flag: %v", err)
	}
	bad[1] = 3 // claims medium, so high's tree is read as medium and high is missing
	if _, err := policy.UnmarshalRecord(bad); !errors.Is(err, policy.ErrMalformed) {
		t.Errorf("wrong flags: %v", err)
	}
	bad = bytes.Clone(b)
	bad[0] = 9
	if _, err := policy.UnmarshalRecord(bad); !errors.Is(err, policy.ErrMalformed) {
		t.Errorf("version: %v", err)
	}
}
