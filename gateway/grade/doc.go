// Package grade grades the elements of a medical record high, medium or low
// and splits the record into one plaintext per level, for the gateway to
// seal each level under its own key; Assemble rebuilds, from the levels a
// reader could open, the record with only those elements.
//
// A record is a FHIR R4 Bundle, a single FHIR R4 resource, or a plain JSON
// object. FHIR documents are parsed strictly and checked against the R4
// schema compiled into github.com/google/fhir/go (unknown or miscased
// elements, wrong JSON kinds, two values of a choice element, missing
// required elements, invalid codes and primitive values are refused with an
// *InputError naming the element's path); WithLibraryValidation adds
// google/fhir's own validating unmarshaller.
//
// Every element (a primitive value, or an empty object or array in plain
// JSON) gets the level of the most specific rule of a versioned YAML rule
// set (Rules; DefaultRules is the embedded default, in the spirit of the
// HIPAA Safe Harbor identifiers), or the rule set's default level, which is
// never low. Walk exposes the graded elements to tools that transform them
// (the de-identifier).
//
// A level's plaintext lists its elements with their paths and document
// positions (docs/grading.md has the format), so that Assemble can merge any
// set of levels back in document order. The result of Assemble is valid
// FHIR: resources that lost elements carry the HL7 REDACTED security label,
// and required elements that were withheld are replaced by a
// data-absent-reason "masked" extension. Grader.Filter computes the same
// view directly from the original document, for tests that compare what a
// reader decrypted with what it should see.
package grade
