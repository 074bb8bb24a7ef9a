package policy_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/medshare/medshare/abe/policy"
	"github.com/medshare/medshare/abe/tag"
)

const paperPolicy = `
low:    role = doctor or role = researcher
medium: trust >= 2
high:   identity >= 3 and specialty = cardiology
`

func TestRecord(t *testing.T) {
	r, err := policy.ParseRecord(paperPolicy)
	if err != nil {
		t.Fatal(err)
	}
	want := map[policy.Level]string{
		policy.Low:    "role = doctor or role = researcher",
		policy.Medium: "(role = doctor or role = researcher) and trust >= 2",
		policy.High:   "(role = doctor or role = researcher) and trust >= 2 and identity >= 3 and specialty = cardiology",
	}
	for l, w := range want {
		if got := r.Level(l).String(); got != w {
			t.Errorf("Level(%v) = %q, want %q", l, got, w)
		}
	}
	if r.Level(policy.Level(5)) != nil || r.Extra(policy.Level(5)) != nil {
		t.Error("invalid level gave a tree")
	}
	users := []struct {
		attrs []string
		top   policy.Level
		ok    bool
	}{
		{[]string{"role=nurse"}, 0, false},
		{[]string{"role=doctor"}, policy.Low, true},
		{[]string{"role=doctor", "identity>=3", "specialty=cardiology"}, policy.Low, true},
		{[]string{"role=researcher", "trust>=2"}, policy.Medium, true},
		{[]string{"role=doctor", "trust>=2", "identity>=3", "specialty=cardiology"}, policy.High, true},
	}
	for _, u := range users {
		top, ok := r.Highest(has(u.attrs...))
		if ok != u.ok || ok && top != u.top {
			t.Errorf("Highest(%q) = %v %v, want %v %v", u.attrs, top, ok, u.top, u.ok)
		}
		for _, l := range policy.Levels {
			want := u.ok && l <= u.top
			if got := r.Satisfied(l, has(u.attrs...)); got != want {
				t.Errorf("Satisfied(%v, %q) = %v", l, u.attrs, got)
			}
			if got := r.Level(l).Satisfied(has(u.attrs...)); got != want {
				t.Errorf("Level(%v).Satisfied(%q) = %v", l, u.attrs, got)
			}
		}
	}
	if r.NumLeaves() != 5 || len(r.Leaves()) != 5 {
		t.Errorf("NumLeaves %d Leaves %q", r.NumLeaves(), r.Leaves())
	}
	again, err := policy.ParseRecord(r.String())
	if err != nil || !again.Equal(r) {
		t.Fatalf("ParseRecord(String()) = %v, %v", again, err)
	}
	if err := r.Validate(tag.DefaultSchema()); err != nil {
		t.Fatal(err)
	}

	var k tag.Key
	h := r.Hide(k)
	if !h.Hidden() || r.Hidden() || strings.Contains(h.String(), "doctor") {
		t.Fatal("Hide")
	}
	ep, _ := policy.Leaf(tag.Epoch(9))
	withEpoch, err := r.WithExtra(policy.Low, ep)
	if err != nil {
		t.Fatal(err)
	}
	if withEpoch.Satisfied(policy.Low, has("role=doctor")) || !withEpoch.Satisfied(policy.Low, has("role=doctor", "epoch=9")) {
		t.Fatal("WithExtra(epoch) not required")
	}
	if !r.Satisfied(policy.Low, has("role=doctor")) {
		t.Fatal("WithExtra modified the original")
	}
}

func TestRecordMediumEmpty(t *testing.T) {
	r, err := policy.ParseRecord("high: trust >= 3; low: role = doctor")
	if err != nil {
		t.Fatal(err)
	}
	if r.Extra(policy.Medium) != nil {
		t.Fatal("medium has extras")
	}
	if top, _ := r.Highest(has("role=doctor")); top != policy.Medium {
		t.Fatalf("Highest = %v, want medium", top)
	}
	if r.String() != "low: role = doctor; high: trust >= 3" {
		t.Fatalf("String = %q", r.String())
	}
}

func TestParseRecordErrors(t *testing.T) {
	for _, tc := range []struct {
		src      string
		col      int
		contains string
	}{
		{"", 1, "needs a \"low:\""},
		{"medium: a = b", 14, "needs a \"low:\""},
		{"low: a = b; low: c = d", 13, "twice"},
		{"top: a = b", 1, "level label"},
		{"low a = b", 1, "level label"},
		{"low: a = b c = d", 12, "next level label"},
		{"low: a = b; medium:", 20, "end of policy"},
	} {
		_, err := policy.ParseRecord(tc.src)
		var se *policy.SyntaxError
		if !errors.As(err, &se) || se.Column != tc.col || !strings.Contains(se.Msg, tc.contains) {
			t.Errorf("ParseRecord(%q) = %v; want column %d containing %q", tc.src, err, tc.col, tc.contains)
		}
	}
	big := "low: " + strings.Repeat("a = b and ", 130) + "a = b; high: " + strings.Repeat("a = b and ", 130) + "a = b"
	if _, err := policy.ParseRecord(big); err == nil || !strings.Contains(err.Error(), "more than") {
		t.Errorf("record over MaxLeaves: %v", err)
	}
	if _, err := policy.NewRecord(nil, nil, nil); !errors.Is(err, policy.ErrInvalidRecord) {
		t.Errorf("NewRecord(nil) = %v", err)
	}
}
