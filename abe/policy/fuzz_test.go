package policy_test

import (
	"bytes"
	"testing"

	"github.com/medshare/medshare/abe/policy"
	"github.com/medshare/medshare/abe/tag"
)

var fuzzPolicies = []string{
	"role = doctor",
	"trust > 1 and (specialty = cardiology or 2 of (org = a, identity >= 3, #00112233445566778899aabbccddeeff))",
	"a = x || b = y && c = z",
	"1 of (a = x)",
	"((a = b))",
	"trust <= 2",
	"not a = b",
}

// FuzzParse checks that Parse never panics and that every accepted policy
// survives String→Parse and MarshalBinary→Unmarshal unchanged.
func FuzzParse(f *testing.F) {
	for _, s := range fuzzPolicies {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		tr, err := policy.Parse(src)
		if err != nil {
			if _, ok := err.(*policy.SyntaxError); !ok {
				t.Fatalf("error %T is not *SyntaxError: %v", err, err)
			}
			return
		}
		again, err := policy.Parse(tr.String())
		if err != nil || !again.Equal(tr) {
			t.Fatalf("String round trip of %q via %q: %v", src, tr.String(), err)
		}
		b, err := tr.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		back, err := policy.Unmarshal(b)
		if err != nil || !back.Equal(tr) {
			t.Fatalf("binary round trip: %v", err)
		}
		var k tag.Key
		h := tr.Hide(k)
		if h.Depth() != tr.Depth() || h.NumLeaves() != tr.NumLeaves() {
			t.Fatal("Hide changed the shape")
		}
	})
}

// FuzzParseRecord checks that ParseRecord never panics and round-trips.
func FuzzParseRecord(f *testing.F) {
	f.Add(paperPolicy)
	f.Add("low: a = b; high: c >= 2")
	f.Add("medium: a = b")
	f.Fuzz(func(t *testing.T, src string) {
		r, err := policy.ParseRecord(src)
		if err != nil {
			return
		}
		again, err := policy.ParseRecord(r.String())
		if err != nil || !again.Equal(r) {
			t.Fatalf("String round trip of %q via %q: %v", src, r.String(), err)
		}
		for _, l := range policy.Levels {
			if r.Level(l) == nil {
				t.Fatal("nil level tree")
			}
		}
	})
}

// FuzzUnmarshal checks that the tree decoder never panics and that whatever
// it accepts re-encodes to the same bytes (the encoding is canonical).
func FuzzUnmarshal(f *testing.F) {
	for _, s := range fuzzPolicies[:5] {
		tr, _ := policy.Parse(s)
		b, _ := tr.MarshalBinary()
		f.Add(b)
	}
	f.Add([]byte{1, 2, 0, 1, 0, 2, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		tr, err := policy.Unmarshal(b)
		if err != nil {
			return
		}
		out, err := tr.MarshalBinary()
		if err != nil || !bytes.Equal(out, b) {
			t.Fatalf("re-encoding differs: %v", err)
		}
		if tr.Depth() > policy.MaxDepth || tr.NumLeaves() > policy.MaxLeaves {
			t.Fatal("limits not enforced")
		}
		tr.Satisfied(func(string) bool { return true })
	})
}

// FuzzUnmarshalRecord checks the record decoder likewise.
func FuzzUnmarshalRecord(f *testing.F) {
	r, _ := policy.ParseRecord(paperPolicy)
	b, _ := r.MarshalBinary()
	f.Add(b)
	var k tag.Key
	b, _ = r.Hide(k).MarshalBinary()
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := policy.UnmarshalRecord(b)
		if err != nil {
			return
		}
		out, err := r.MarshalBinary()
		if err != nil || !bytes.Equal(out, b) {
			t.Fatalf("re-encoding differs: %v", err)
		}
	})
}
