package grade

import (
	"errors"
	"fmt"
)

// ErrInvalidDocument matches (errors.Is) every *InputError: the document was
// refused, nothing was graded.
var ErrInvalidDocument = errors.New("grade: invalid document")

// ErrTooLarge matches (errors.Is) an *InputError for a document over one of
// the Grader's Limits. It also matches ErrInvalidDocument.
var ErrTooLarge = errors.New("grade: document over the limits")

// ErrInvalidLevels is returned (wrapped) by Assemble for level plaintexts
// that are not well-formed or do not belong together.
var ErrInvalidLevels = errors.New("grade: invalid level plaintexts")

// InputError says why a document was refused and where. It matches
// ErrInvalidDocument, and ErrTooLarge when a limit was exceeded.
type InputError struct {
	// Path is the JSON path of the offending element ("entry[3].resource.status"),
	// "" for the document itself. It names keys of the document, never values.
	Path string
	// Offset is the byte offset of a syntax error, -1 when not a syntax error.
	Offset int
	// Reason says what is wrong. It never quotes a whole value of the
	// document (codes are quoted truncated to 40 bytes).
	Reason string
	limit  bool
}

// Error implements error.
func (e *InputError) Error() string {
	switch {
	case e.Offset >= 0:
		return fmt.Sprintf("grade: invalid document at byte %d: %s", e.Offset, e.Reason)
	case e.Path != "":
		return fmt.Sprintf("grade: invalid document at %s: %s", e.Path, e.Reason)
	}
	return "grade: invalid document: " + e.Reason
}

// Is reports whether target is ErrInvalidDocument, or ErrTooLarge for a limit.
func (e *InputError) Is(target error) bool {
	return target == ErrInvalidDocument || (e.limit && target == ErrTooLarge)
}
