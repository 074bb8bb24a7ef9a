package deid

import (
	"errors"
	"fmt"
)

// Sentinel errors, for errors.Is.
var (
	// ErrInvalidRules is returned (wrapped) for a rule set that cannot be used.
	ErrInvalidRules = errors.New("deid: invalid rules")
	// ErrUnknownPurpose matches a *PurposeError for a code that is not an
	// HL7 v3 PurposeOfUse code.
	ErrUnknownPurpose = errors.New("deid: unknown purpose of use")
	// ErrPurposeNotAllowed matches a *PurposeError for a PurposeOfUse code
	// the rule set maps to no profile (data is not shared for it).
	ErrPurposeNotAllowed = errors.New("deid: purpose of use not allowed")
	// ErrInvalidRequest is returned (wrapped) for a bad level, secret or time.
	ErrInvalidRequest = errors.New("deid: invalid request")
	// ErrInvalidDocument is returned (wrapped) for a document that is not a
	// valid FHIR R4 resource or Bundle; the grader's *grade.InputError is
	// kept in the chain.
	ErrInvalidDocument = errors.New("deid: invalid document")
	// ErrNothingToShare is returned when no element of the document may be
	// shared with the requestor.
	ErrNothingToShare = errors.New("deid: nothing to share")
)

// PurposeError is a refused purpose of use. It matches ErrUnknownPurpose or
// ErrPurposeNotAllowed.
type PurposeError struct {
	// Code is the purpose as requested (truncated to 32 bytes).
	Code string
	// Known is whether Code is an HL7 v3 PurposeOfUse code.
	Known bool
}

func (e *PurposeError) Error() string {
	if !e.Known {
		return fmt.Sprintf("deid: %q is not an HL7 v3 PurposeOfUse code (e.g. TREAT, HRESCH, PUBHLTH, HOPERAT)", e.Code)
	}
	return fmt.Sprintf("deid: purpose of use %s is not allowed by the de-identification rules", e.Code)
}

// Is matches ErrUnknownPurpose or ErrPurposeNotAllowed.
func (e *PurposeError) Is(target error) bool {
	if e.Known {
		return target == ErrPurposeNotAllowed
	}
	return target == ErrUnknownPurpose
}

func purposeError(code string) *PurposeError {
	if len(code) > 32 {
		code = code[:32]
	}
	return &PurposeError{Code: code, Known: KnownPurpose(code)}
}
