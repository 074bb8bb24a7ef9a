package grade_test

import (
	"fmt"

	"github.com/medshare/medshare/abe/policy"
	"github.com/medshare/medshare/gateway/grade"
)

func Example() {
	g, err := grade.New(grade.DefaultRules())
	if err != nil {
		panic(err)
	}
	doc := []byte(`{"resourceType":"Patient","id":"p1",
		"name":[{"family":"Smith","given":["Ann"]}],
		"gender":"female","birthDate":"2001-02-03",
		"address":[{"line":["1 Main St"],"city":"Boston","country":"US"}]}`)

	graded, err := g.Grade(doc)
	if err != nil {
		panic(err)
	}
	for _, l := range policy.Levels {
		fmt.Printf("%s: %d elements\n", l, graded.Counts[l])
	}

	// A reader whose attributes open the low and medium levels.
	opened := graded.Levels
	opened[policy.High] = nil
	view, err := grade.Assemble(opened)
	if err != nil {
		panic(err)
	}
	fmt.Println(string(view))
	// Output:
	// low: 3 elements
	// medium: 2 elements
	// high: 4 elements
	// {"resourceType":"Patient","meta":{"security":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ObservationValue","code":"REDACTED","display":"redacted"}]},"gender":"female","birthDate":"2001-02-03","address":[{"city":"Boston","country":"US"}]}
}
