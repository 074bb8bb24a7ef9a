package tag_test

import (
	"fmt"

	"github.com/medshare/medshare/abe/tag"
)

// A user at trust level 2 holds "trust>=1" and "trust>=2"; the authority maps
// each canonical attribute to an opaque tag.
func Example() {
	schema := tag.DefaultSchema()
	attrs, err := schema.Expand(
		tag.Attribute{Name: "trust", Value: "2"},
		tag.Attribute{Name: "specialty", Value: "cardiology"},
	)
	if err != nil {
		panic(err)
	}
	var k tag.Key // in practice tag.NewKey(crypto/rand.Reader)
	for _, a := range attrs {
		fmt.Println(a, k.Tag(a))
	}
	// Output:
	// specialty=cardiology 5452788072c0a55ebc860022a3d1843c
	// trust>=1 8df08bcf04cfd6be304784a53bc8b1ca
	// trust>=2 c8be48423aa5a5290313f1fac2264d82
}
