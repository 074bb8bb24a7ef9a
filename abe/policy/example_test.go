package policy_test

import (
	"fmt"

	"github.com/medshare/medshare/abe/policy"
	"github.com/medshare/medshare/abe/tag"
)

// A record policy names the extra conditions of each level; the predicate of
// a level includes those of the levels below.
func ExampleParseRecord() {
	r, err := policy.ParseRecord(`
		low:    role = doctor or role = researcher
		medium: trust >= 2
		high:   identity >= 3 and specialty = cardiology`)
	if err != nil {
		panic(err)
	}
	for _, l := range policy.Levels {
		fmt.Printf("%-6s %s\n", l, r.Level(l))
	}
	user := map[string]bool{"role=researcher": true, "trust>=1": true, "trust>=2": true}
	top, ok := r.Highest(func(leaf string) bool { return user[leaf] })
	fmt.Println("researcher at trust 2 reads up to:", top, ok)
	// Output:
	// low    role = doctor or role = researcher
	// medium (role = doctor or role = researcher) and trust >= 2
	// high   (role = doctor or role = researcher) and trust >= 2 and identity >= 3 and specialty = cardiology
	// researcher at trust 2 reads up to: medium true
}

// Errors say where and why.
func ExampleParse_error() {
	_, err := policy.Parse("role = doctor and trust < 2")
	fmt.Println(err)
	// Output:
	// policy: line 1, column 25: '<' is not supported: policies are monotone and a higher level includes the lower ones; use '>=' or '>'
}

// Hiding replaces every leaf with its tag; the ledger evaluates the hidden
// tree over tags a user discloses.
func ExampleTree_Hide() {
	var k tag.Key // the authority's tag key
	t, _ := policy.Parse("trust >= 2 and specialty = cardiology")
	h := t.Hide(k)
	fmt.Println(h)
	disclosed := map[string]bool{k.Tag("trust>=2").String(): true, k.Tag("specialty=cardiology").String(): true}
	fmt.Println(h.Satisfied(func(leaf string) bool { return disclosed[leaf] }))
	// Output:
	// #c8be48423aa5a5290313f1fac2264d82 and #5452788072c0a55ebc860022a3d1843c
	// true
}
