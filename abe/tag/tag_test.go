package tag_test

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/medshare/medshare/abe/tag"
)

func testKey() tag.Key {
	var k tag.Key
	for i := range k {
		k[i] = byte(i)
	}
	return k
}

// TestTagVectors pins the tag construction to values computed independently
// (Python: hmac.new(bytes(range(32)), b"medshare/abe/tag/v1\0"+attr, sha256)[:16]).
func TestTagVectors(t *testing.T) {
	k := testKey()
	for _, tc := range []struct{ attr, want string }{
		{"trust>=2", "ac1b78656a3e780718dc9c1fe644ff1d"},
		{"specialty=cardiology", "03ab908f7ace52d0cbe5c80d0fb8e0a7"},
	} {
		if got := k.Tag(tc.attr).String(); got != tc.want {
			t.Errorf("Tag(%q) = %s, want %s", tc.attr, got, tc.want)
		}
	}
}

func TestTagKeyed(t *testing.T) {
	k1 := testKey()
	k2, err := tag.NewKey(rand.NewChaCha8([32]byte{1}))
	if err != nil {
		t.Fatal(err)
	}
	if k1.Tag("role=doctor") == k2.Tag("role=doctor") {
		t.Fatal("tags under different keys collide")
	}
	if k1.Tag("role=doctor") == k1.Tag("role=nurse") {
		t.Fatal("different attributes give the same tag")
	}
	if k1.Tag("role=doctor") != k1.Tag("role=doctor") {
		t.Fatal("tags are not deterministic")
	}
	if _, err := tag.NewKey(nil); err == nil {
		t.Fatal("NewKey(nil) succeeded")
	}
	if _, err := tag.NewKey(bytes.NewReader(make([]byte, 5))); err == nil {
		t.Fatal("NewKey on a short reader succeeded")
	}
}

func TestParseTag(t *testing.T) {
	good := testKey().Tag("x=y")
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{good.String(), true},
		{"00000000000000000000000000000000", true},
		{"", false},
		{strings.ToUpper(good.String()), false},
		{good.String()[:31], false},
		{good.String() + "0", false},
		{"0000000000000000000000000000000g", false},
		{"trust>=2", false},
	} {
		got, err := tag.ParseTag(tc.in)
		if tc.ok != (err == nil) {
			t.Errorf("ParseTag(%q) error = %v, want ok=%v", tc.in, err, tc.ok)
			continue
		}
		if !tc.ok && !errors.Is(err, tag.ErrMalformedTag) {
			t.Errorf("ParseTag(%q) error %v is not ErrMalformedTag", tc.in, err)
		}
		if tc.ok && got.String() != tc.in {
			t.Errorf("round trip %q -> %q", tc.in, got)
		}
	}
	var tt tag.Tag
	txt, _ := good.MarshalText()
	if err := tt.UnmarshalText(txt); err != nil || tt != good {
		t.Fatalf("text round trip: %v", err)
	}
	if good.Compare(good) != 0 || (tag.Tag{}).Compare(good) != -1 || good.Compare(tag.Tag{}) != 1 {
		t.Fatal("Compare is wrong")
	}
}

func TestCondition(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"trust>=2", true},
		{"specialty=cardiology", true},
		{"org=hospital-a.unit_2", true},
		{"epoch=17", true},
		{"trust>=0", false},
		{"trust>=02", false},
		{"trust>=65", false},
		{"trust>=x", false},
		{"Trust>=2", false},
		{"specialty=Cardiology", false},
		{"specialty=", false},
		{"=x", false},
		{"1a=x", false},
		{"a=-x", false},
		{"a b=x", false},
		{"noop", false},
		{strings.Repeat("a", 33) + "=x", false},
		{"a=" + strings.Repeat("x", 65), false},
	} {
		c, err := tag.ParseCondition(tc.in)
		if tc.ok != (err == nil) {
			t.Errorf("ParseCondition(%q) error = %v, want ok=%v", tc.in, err, tc.ok)
			continue
		}
		if err != nil && !errors.Is(err, tag.ErrInvalidAttribute) {
			t.Errorf("ParseCondition(%q): %v is not ErrInvalidAttribute", tc.in, err)
		}
		if tc.ok && c.String() != tc.in {
			t.Errorf("round trip %q -> %q", tc.in, c.String())
		}
	}
	if s, err := tag.Eq("Specialty", "Cardiology"); err != nil || s != "specialty=cardiology" {
		t.Errorf("Eq = %q, %v", s, err)
	}
	if s, err := tag.AtLeast("TRUST", 3); err != nil || s != "trust>=3" {
		t.Errorf("AtLeast = %q, %v", s, err)
	}
	if _, err := tag.AtLeast("trust", 0); err == nil {
		t.Error("AtLeast(0) succeeded")
	}
	if _, err := tag.Eq("specialty", "heart surgery"); err == nil {
		t.Error("Eq accepted a space")
	}
	if tag.Epoch(42) != "epoch=42" {
		t.Error("Epoch(42)")
	}
}

func TestSchemaExpand(t *testing.T) {
	s := tag.DefaultSchema()
	got, err := s.Expand(
		tag.Attribute{Name: "trust", Value: "3"},
		tag.Attribute{Name: "identity", Value: "1"},
		tag.Attribute{Name: "Specialty", Value: "Cardiology"},
		tag.Attribute{Name: "specialty", Value: "oncology"},
		tag.Attribute{Name: "specialty", Value: "oncology"},
	)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"identity>=1", "specialty=cardiology", "specialty=oncology", "trust>=1", "trust>=2", "trust>=3"}
	if !slices.Equal(got, want) {
		t.Fatalf("Expand = %q, want %q", got, want)
	}
	for _, tc := range []struct {
		name string
		in   []tag.Attribute
		want error
	}{
		{"unknown", []tag.Attribute{{"colour", "red"}}, tag.ErrUnknownAttribute},
		{"level above max", []tag.Attribute{{"trust", "4"}}, tag.ErrInvalidAttribute},
		{"level zero", []tag.Attribute{{"trust", "0"}}, tag.ErrInvalidAttribute},
		{"ordered twice", []tag.Attribute{{"trust", "1"}, {"trust", "2"}}, tag.ErrInvalidAttribute},
		{"epoch reserved", []tag.Attribute{{"epoch", "1"}}, tag.ErrInvalidAttribute},
		{"bad value", []tag.Attribute{{"role", "a b"}}, tag.ErrInvalidAttribute},
	} {
		if _, err := s.Expand(tc.in...); !errors.Is(err, tc.want) {
			t.Errorf("%s: Expand error = %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestSchemaCheck(t *testing.T) {
	s, err := tag.NewSchema(
		tag.Spec{Name: "trust", Ordered: true, Max: 3},
		tag.Spec{Name: "role", Values: []string{"nurse", "doctor"}},
		tag.Spec{Name: "specialty"},
	)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		leaf string
		want error
	}{
		{"trust>=1", nil},
		{"trust>=3", nil},
		{"role=doctor", nil},
		{"specialty=anything", nil},
		{"epoch=0", nil},
		{"epoch=18446744073709551615", nil},
		{"trust>=4", tag.ErrInvalidAttribute},
		{"trust=2", tag.ErrInvalidAttribute},
		{"role>=1", tag.ErrInvalidAttribute},
		{"role=surgeon", tag.ErrInvalidAttribute},
		{"epoch=01", tag.ErrInvalidAttribute},
		{"epoch=18446744073709551616", tag.ErrInvalidAttribute},
		{"epoch>=1", tag.ErrInvalidAttribute},
		{"age=3", tag.ErrUnknownAttribute},
		{"bogus", tag.ErrInvalidAttribute},
	} {
		err := s.Check(tc.leaf)
		if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("Check(%q) = %v, want %v", tc.leaf, err, tc.want)
		}
	}
	if _, err := s.Expand(tag.Attribute{Name: "role", Value: "surgeon"}); !errors.Is(err, tag.ErrInvalidAttribute) {
		t.Errorf("Expand with a disallowed value: %v", err)
	}
	if !slices.Equal(s.Names(), []string{"role", "specialty", "trust"}) {
		t.Errorf("Names = %q", s.Names())
	}
	if sp, ok := s.Spec("trust"); !ok || !sp.Ordered || sp.Max != 3 {
		t.Errorf("Spec(trust) = %+v, %v", sp, ok)
	}
}

func TestNewSchemaErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		specs []tag.Spec
	}{
		{"epoch", []tag.Spec{{Name: "epoch"}}},
		{"dup", []tag.Spec{{Name: "a"}, {Name: "a"}}},
		{"bad name", []tag.Spec{{Name: "A b"}}},
		{"ordered max 0", []tag.Spec{{Name: "a", Ordered: true}}},
		{"ordered max big", []tag.Spec{{Name: "a", Ordered: true, Max: tag.MaxLevel + 1}}},
		{"ordered values", []tag.Spec{{Name: "a", Ordered: true, Max: 2, Values: []string{"x"}}}},
		{"unordered max", []tag.Spec{{Name: "a", Max: 2}}},
		{"bad value", []tag.Spec{{Name: "a", Values: []string{"X Y"}}}},
		{"dup value", []tag.Spec{{Name: "a", Values: []string{"x", "x"}}}},
	} {
		if _, err := tag.NewSchema(tc.specs...); err == nil {
			t.Errorf("%s: NewSchema succeeded", tc.name)
		}
	}
}
