// Package ccerr holds the errors the medshare chaincodes return, so that
// callers in the same process (tests, the node, chaincode calling chaincode
// through InvokeChaincode) can classify them with errors.Is and errors.As.
//
// Every refusal is an *Error: its message names the argument at fault and
// says why ("recordID: must be 1..128 characters of [A-Za-z0-9._:-]"), and it
// unwraps to one of the sentinel kinds below. Across the network only the
// message travels; its form "<argument>: <reason>" is stable, so a gateway
// can show it to the user as it is.
package ccerr

import (
	"errors"
	"fmt"
)

// The kinds of refusal. Match them with errors.Is.
var (
	// ErrInvalidArgument: an argument is malformed, out of range or
	// inconsistent with the ledger (a wrong version, a signature that does
	// not verify).
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrNotInitialised: the chaincode's Init has not run on this channel.
	ErrNotInitialised = errors.New("not initialised")
	// ErrNotFound: the record, policy, block or entry named does not exist.
	ErrNotFound = errors.New("not found")
	// ErrForbidden: the caller's role or identity may not do this.
	ErrForbidden = errors.New("forbidden")
	// ErrConflict: the ledger's state does not allow this now (an id that is
	// already taken, a limit reached, a decision that does not apply).
	ErrConflict = errors.New("conflict")
	// ErrRevoked: the requestor's access is revoked (MeDShare requests are
	// refused as errors; P-TL access attempts are recorded as denials).
	ErrRevoked = errors.New("revoked")
)

// Error is a refusal: the argument at fault, the reason, and its kind.
type Error struct {
	// Kind is one of the sentinel errors of this package.
	Kind error
	// Arg names the argument (or "caller", "config", …) the refusal is about.
	Arg string
	// Reason says what is wrong, in words a user can act on.
	Reason string
}

// Error returns "<arg>: <reason>", or the reason alone when Arg is empty.
func (e *Error) Error() string {
	if e.Arg == "" {
		return e.Reason
	}
	return e.Arg + ": " + e.Reason
}

// Unwrap returns the error's kind, for errors.Is.
func (e *Error) Unwrap() error { return e.Kind }

func newError(kind error, arg, format string, a []any) error {
	return &Error{Kind: kind, Arg: arg, Reason: fmt.Sprintf(format, a...)}
}

// Invalid returns an ErrInvalidArgument refusal about arg.
func Invalid(arg, format string, a ...any) error {
	return newError(ErrInvalidArgument, arg, format, a)
}

// NotFound returns an ErrNotFound refusal about arg.
func NotFound(arg, format string, a ...any) error {
	return newError(ErrNotFound, arg, format, a)
}

// Forbidden returns an ErrForbidden refusal about arg (usually "caller").
func Forbidden(arg, format string, a ...any) error {
	return newError(ErrForbidden, arg, format, a)
}

// Conflict returns an ErrConflict refusal about arg.
func Conflict(arg, format string, a ...any) error {
	return newError(ErrConflict, arg, format, a)
}

// Revoked returns an ErrRevoked refusal about arg.
func Revoked(arg, format string, a ...any) error {
	return newError(ErrRevoked, arg, format, a)
}

// NotInitialised returns the refusal of every function of chaincode name
// before its Init has run.
func NotInitialised(name string) error {
	return &Error{Kind: ErrNotInitialised, Reason: name + " is not initialised on this channel: the channel admin must call Init first"}
}
