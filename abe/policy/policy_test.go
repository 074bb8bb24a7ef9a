package policy_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/medshare/medshare/abe/policy"
	"github.com/medshare/medshare/abe/tag"
)

func has(attrs ...string) func(string) bool {
	return func(l string) bool { return slices.Contains(attrs, l) }
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		src, want string
		leaves    []string
	}{
		{"role = doctor", "role = doctor", []string{"role=doctor"}},
		{"Role == Doctor", "role = doctor", []string{"role=doctor"}},
		{"trust >= 2", "trust >= 2", []string{"trust>=2"}},
		{"trust > 2", "trust >= 3", []string{"trust>=3"}},
		{"trust>=02", "trust >= 2", []string{"trust>=2"}},
		{"a = x and b = y and c = z", "a = x and b = y and c = z", []string{"a=x", "b=y", "c=z"}},
		{"a = x && (b = y && c = z)", "a = x and b = y and c = z", nil},
		{"a = x or b = y and c = z", "a = x or (b = y and c = z)", nil},
		{"(a = x or b = y) and c = z", "(a = x or b = y) and c = z", nil},
		{"a = x || b = y || (c = z OR d = w)", "a = x or b = y or c = z or d = w", nil},
		{"2 of (a = x, b = y, c >= 1)", "2 of (a = x, b = y, c >= 1)", nil},
		{"3 of (a = x, b = y, c >= 1)", "a = x and b = y and c >= 1", nil},
		{"1 of (a = x, b = y)", "a = x or b = y", nil},
		{"1 of (a = x)", "a = x", nil},
		{"2 of (a = x or b = y, c = z and d = w, e = v)", "2 of (a = x or b = y, c = z and d = w, e = v)", nil},
		{"specialty = internal-medicine.v2", "specialty = internal-medicine.v2", nil},
		{"#00112233445566778899aabbccddeeff and a = b", "#00112233445566778899aabbccddeeff and a = b", []string{"00112233445566778899aabbccddeeff", "a=b"}},
		{"a = x and a = x", "a = x and a = x", []string{"a=x"}},
		{"\n  low = x\n", "low = x", nil},
	} {
		tr, err := policy.Parse(tc.src)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.src, err)
			continue
		}
		if got := tr.String(); got != tc.want {
			t.Errorf("Parse(%q).String() = %q, want %q", tc.src, got, tc.want)
		}
		if tc.leaves != nil && !slices.Equal(tr.Leaves(), tc.leaves) {
			t.Errorf("Parse(%q).Leaves() = %q, want %q", tc.src, tr.Leaves(), tc.leaves)
		}
		again, err := policy.Parse(tr.String())
		if err != nil || !again.Equal(tr) {
			t.Errorf("Parse(String()) of %q: %v, equal=%v", tc.src, err, err == nil && again.Equal(tr))
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		src      string
		line     int
		col      int
		contains string
	}{
		{"", 1, 1, "end of policy"},
		{"role", 1, 5, "'=', '>=' or '>'"},
		{"role =", 1, 7, "a value"},
		{"role = doctor and", 1, 18, "end of policy"},
		{"role = doctor or or", 1, 18, "keyword"},
		{"trust < 2", 1, 7, "monotone"},
		{"trust <= 2", 1, 7, "monotone"},
		{"trust != 2", 1, 7, "monotone"},
		{"not role = x", 1, 1, "negation"},
		{"!role = x", 1, 1, "negation"},
		{"trust >= 0", 1, 10, "levels start at 1"},
		{"trust >= x", 1, 10, "not a number"},
		{"trust >= 65", 1, 10, "above"},
		{"(role = x", 1, 10, "')'"},
		{"role = x)", 1, 9, "end of the policy"},
		{"role = x\n  and @", 2, 7, "unexpected character"},
		{"role = x é", 1, 10, "non-ASCII"},
		{"3 of (a = b, c = d)", 1, 1, "exceeds the 2"},
		{"0 of (a = b)", 1, 1, "at least 1"},
		{"2 (a = b)", 1, 3, "\"of\""},
		{"2 of a = b", 1, 6, "'('"},
		{"2 of (a = b; c = d)", 1, 12, "',' or ')'"},
		{"a.b = c", 1, 1, "invalid attribute name"},
		{"a = -c", 1, 5, "invalid value"},
		{"a = or", 1, 5, "keyword"},
		{"#abc", 1, 1, "32 lowercase hex"},
		{"a = b c = d", 1, 7, "operator"},
		{strings.Repeat("(", 40) + "a = b" + strings.Repeat(")", 40), 1, 33, "nesting"},
		{strings.Repeat("a = b and ", policy.MaxLeaves) + "a = b", 1, 10*policy.MaxLeaves + 1, "more than"},
	} {
		_, err := policy.Parse(tc.src)
		var se *policy.SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("Parse(%q) = %v, want *SyntaxError", tc.src, err)
			continue
		}
		if se.Line != tc.line || se.Column != tc.col || !strings.Contains(se.Msg, tc.contains) {
			t.Errorf("Parse(%q) = line %d col %d %q; want line %d col %d containing %q", tc.src, se.Line, se.Column, se.Msg, tc.line, tc.col, tc.contains)
		}
		if !strings.HasPrefix(err.Error(), "policy: line ") {
			t.Errorf("error text %q", err)
		}
	}
	if _, err := policy.Parse(strings.Repeat(" ", policy.MaxSourceLen+1)); err == nil {
		t.Error("oversized source accepted")
	}
}

func TestSatisfied(t *testing.T) {
	tr, err := policy.Parse("role = doctor and (trust >= 2 or 2 of (specialty = cardiology, org = a, identity >= 3))")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		attrs []string
		want  bool
	}{
		{[]string{"role=doctor", "trust>=2"}, true},
		{[]string{"role=doctor", "specialty=cardiology", "identity>=3"}, true},
		{[]string{"role=doctor", "specialty=cardiology"}, false},
		{[]string{"trust>=2", "specialty=cardiology", "org=a"}, false},
		{nil, false},
	} {
		if got := tr.Satisfied(has(tc.attrs...)); got != tc.want {
			t.Errorf("Satisfied(%q) = %v, want %v", tc.attrs, got, tc.want)
		}
	}
}

func TestHide(t *testing.T) {
	var k tag.Key
	k[0] = 7
	tr, _ := policy.Parse("role = doctor and 2 of (trust >= 2, org = a, #00112233445566778899aabbccddeeff)")
	h := tr.Hide(k)
	if tr.Hidden() || !h.Hidden() {
		t.Fatal("Hidden() wrong")
	}
	want := []string{k.Tag("role=doctor").String(), k.Tag("trust>=2").String(), k.Tag("org=a").String(), "00112233445566778899aabbccddeeff"}
	if !slices.Equal(h.Leaves(), want) {
		t.Fatalf("hidden leaves %q, want %q", h.Leaves(), want)
	}
	if strings.Contains(h.String(), "doctor") {
		t.Fatal("hidden tree leaks an attribute")
	}
	// Satisfaction is preserved under the tag map.
	user := has(k.Tag("role=doctor").String(), k.Tag("org=a").String(), "00112233445566778899aabbccddeeff")
	if !h.Satisfied(user) {
		t.Fatal("hidden tree not satisfied by the tags of a satisfying set")
	}
	tags, err := h.Tags()
	if err != nil || len(tags) != 4 || tags[0] != k.Tag("role=doctor") {
		t.Fatalf("Tags() = %v, %v", tags, err)
	}
	if _, err := tr.Tags(); err == nil {
		t.Fatal("Tags() of a clear tree succeeded")
	}
	if !h.Hide(k).Equal(h) {
		t.Fatal("hiding twice changes the tree")
	}
}

func TestConstructors(t *testing.T) {
	a, _ := policy.Leaf("a=x")
	b, _ := policy.Leaf("b>=2")
	c, _ := policy.Leaf("00112233445566778899aabbccddeeff")
	if _, err := policy.Leaf("A=x"); !errors.Is(err, policy.ErrInvalidTree) {
		t.Errorf("Leaf(A=x) = %v", err)
	}
	ab, _ := policy.And(a, b)
	abc, err := policy.And(ab, c)
	if err != nil || abc.String() != "a = x and b >= 2 and #00112233445566778899aabbccddeeff" {
		t.Fatalf("And flattening: %v %v", abc, err)
	}
	if _, err := policy.Threshold(3, a, b); !errors.Is(err, policy.ErrInvalidTree) {
		t.Errorf("Threshold(3 of 2) = %v", err)
	}
	if _, err := policy.Or(); !errors.Is(err, policy.ErrInvalidTree) {
		t.Errorf("Or() = %v", err)
	}
	if _, err := policy.And(a, nil); !errors.Is(err, policy.ErrInvalidTree) {
		t.Errorf("And(nil) = %v", err)
	}
	// Too many leaves.
	many := make([]*policy.Tree, policy.MaxLeaves+1)
	for i := range many {
		many[i] = a
	}
	if _, err := policy.Or(many...); !errors.Is(err, policy.ErrTooLarge) {
		t.Errorf("Or(257 leaves) = %v", err)
	}
	// Too deep: alternate AND and OR so nothing flattens.
	d := a
	for i := 1; i < policy.MaxDepth; i++ {
		var err error
		if i%2 == 0 {
			d, err = policy.Or(d, b)
		} else {
			d, err = policy.And(d, b)
		}
		if err != nil {
			t.Fatalf("depth %d: %v", i+1, err)
		}
	}
	if d.Depth() != policy.MaxDepth {
		t.Fatalf("depth %d", d.Depth())
	}
	if _, err := policy.Or(d, b); !errors.Is(err, policy.ErrTooLarge) {
		t.Fatalf("depth %d accepted: %v", policy.MaxDepth+1, err)
	}
}

func TestValidate(t *testing.T) {
	s := tag.DefaultSchema()
	good, _ := policy.Parse("trust >= 2 and specialty = x and epoch = 3 and #00112233445566778899aabbccddeeff")
	if err := good.Validate(s); err != nil {
		t.Fatal(err)
	}
	bad, _ := policy.Parse("trust >= 4")
	if err := bad.Validate(s); !errors.Is(err, tag.ErrInvalidAttribute) {
		t.Fatalf("Validate(trust >= 4) = %v", err)
	}
	unknown, _ := policy.Parse("age = 3")
	if err := unknown.Validate(s); !errors.Is(err, tag.ErrUnknownAttribute) {
		t.Fatalf("Validate(age = 3) = %v", err)
	}
}

func TestLevel(t *testing.T) {
	for _, l := range policy.Levels {
		txt, err := l.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back policy.Level
		if err := back.UnmarshalText(txt); err != nil || back != l {
			t.Fatalf("level %v round trip: %v", l, err)
		}
	}
	if l, err := policy.ParseLevel("HIGH"); err != nil || l != policy.High {
		t.Fatal("ParseLevel(HIGH)")
	}
	if _, err := policy.ParseLevel("top"); !errors.Is(err, policy.ErrInvalidLevel) {
		t.Fatal("ParseLevel(top)")
	}
	if _, err := policy.Level(3).MarshalText(); err == nil {
		t.Fatal("Level(3).MarshalText succeeded")
	}
	if policy.Level(3).Valid() || policy.Level(3).String() != "Level(3)" {
		t.Fatal("Level(3)")
	}
}

// TestZeroValues: methods on zero trees and records do not panic.
func TestZeroValues(t *testing.T) {
	var tr policy.Tree
	var k tag.Key
	if tr.Satisfied(func(string) bool { return true }) || tr.Hidden() || tr.NumLeaves() != 0 || tr.Depth() != 0 ||
		tr.Leaves() != nil || tr.String() != "" || tr.Root() != nil || tr.Hide(k).Root() != nil {
		t.Fatal("zero Tree")
	}
	if _, err := tr.Tags(); err == nil {
		t.Fatal("zero Tree Tags")
	}
	if err := tr.Validate(tag.DefaultSchema()); err == nil {
		t.Fatal("zero Tree Validate")
	}
	if !tr.Equal(&policy.Tree{}) || tr.Equal(mustParse(t, "a = b")) {
		t.Fatal("zero Tree Equal")
	}
	var r policy.Record
	if r.Level(policy.Low) != nil || r.Satisfied(policy.Low, func(string) bool { return true }) || r.Hidden() || r.String() != "" {
		t.Fatal("zero Record")
	}
	if _, ok := r.Highest(func(string) bool { return true }); ok {
		t.Fatal("zero Record Highest")
	}
	if _, err := r.MarshalBinary(); err == nil {
		t.Fatal("zero Record marshalled")
	}
	if err := r.Validate(tag.DefaultSchema()); err == nil {
		t.Fatal("zero Record validated")
	}
	var nilRec *policy.Record
	if nilRec.NumLeaves() != 0 || nilRec.Leaves() != nil || nilRec.Extra(policy.Low) != nil {
		t.Fatal("nil Record")
	}
	if _, err := nilRec.WithExtra(policy.Low, mustParse(t, "a = b")); err == nil {
		t.Fatal("nil Record WithExtra")
	}
}

func TestWitness(t *testing.T) {
	tr := mustParse(t, "role = doctor and (trust >= 2 or 2 of (specialty = c, org = a, identity >= 3)) and (org = a or trust >= 2)")
	for _, tc := range []struct {
		attrs []string
		want  []string
	}{
		{[]string{"role=doctor", "trust>=2", "org=a", "specialty=c", "identity>=3"}, []string{"role=doctor", "trust>=2"}},
		{[]string{"role=doctor", "org=a", "specialty=c", "identity>=3"}, []string{"role=doctor", "org=a", "specialty=c"}},
		{[]string{"role=doctor", "org=a", "identity>=3"}, []string{"role=doctor", "org=a", "identity>=3"}},
		{[]string{"role=doctor", "specialty=c"}, nil},
	} {
		got, ok := tr.Witness(has(tc.attrs...))
		if ok != (tc.want != nil) || !slices.Equal(got, tc.want) {
			t.Errorf("Witness(%q) = %q %v, want %q", tc.attrs, got, ok, tc.want)
		}
		if ok && !tr.Satisfied(has(got...)) {
			t.Errorf("witness %q does not satisfy", got)
		}
	}
	r, _ := policy.ParseRecord("low: role = doctor; medium: trust >= 2 or org = a")
	got, ok := r.Witness(policy.Medium, has("role=doctor", "org=a", "trust>=2", "x=y"))
	if !ok || len(got) != 2 || got[0] != "role=doctor" {
		t.Errorf("Record.Witness = %q %v", got, ok)
	}
	var zero policy.Tree
	if _, ok := zero.Witness(has("a=b")); ok {
		t.Error("zero tree witness")
	}
}
