package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/medshare/medshare/abe/policy"
	"github.com/medshare/medshare/chaincode/ccerr"
	"github.com/medshare/medshare/gateway/api"
	"github.com/medshare/medshare/gateway/ledger"
)

// Problem type URNs (RFC 9457 "type"), one per kind of problem.
const (
	ProblemBadRequest      = "urn:medshare:problem:bad-request"
	ProblemUnauthenticated = "urn:medshare:problem:unauthenticated"
	ProblemForbidden       = "urn:medshare:problem:forbidden"
	ProblemNotFound        = "urn:medshare:problem:not-found"
	ProblemMethod          = "urn:medshare:problem:method-not-allowed"
	ProblemConflict        = "urn:medshare:problem:conflict"
	ProblemTooLarge        = "urn:medshare:problem:too-large"
	ProblemMediaType       = "urn:medshare:problem:unsupported-media-type"
	ProblemInvalid         = "urn:medshare:problem:invalid"
	ProblemAccessRefused   = "urn:medshare:problem:access-refused"
	ProblemMisdirected     = "urn:medshare:problem:misdirected"
	ProblemUnavailable     = "urn:medshare:problem:unavailable"
	ProblemIPFSUnavailable = "urn:medshare:problem:ipfs-unavailable"
	ProblemTampered        = "urn:medshare:problem:tampered"
	ProblemBadObject       = "urn:medshare:problem:bad-object"
	ProblemInternal        = "urn:medshare:problem:internal"
)

// Problem is the gateway's one HTTP error type: handlers return it (or an
// error the HTTP layer maps to one) and only the HTTP layer renders it.
type Problem struct {
	api.Problem
	// cause is logged, never rendered.
	cause error
}

func (p *Problem) Error() string {
	if p.Detail != "" {
		return p.Title + ": " + p.Detail
	}
	return p.Title
}

func (p *Problem) Unwrap() error { return p.cause }

func problem(status int, typ, title, detail string) *Problem {
	return &Problem{Problem: api.Problem{Type: typ, Title: title, Status: status, Detail: detail}}
}

func badRequest(field, format string, a ...any) *Problem {
	p := problem(http.StatusBadRequest, ProblemBadRequest, "Bad request", fmt.Sprintf(format, a...))
	p.Field = field
	return p
}

func invalid(field, format string, a ...any) *Problem {
	p := problem(http.StatusUnprocessableEntity, ProblemInvalid, "Invalid content", fmt.Sprintf(format, a...))
	p.Field = field
	return p
}

func notFound(format string, a ...any) *Problem {
	return problem(http.StatusNotFound, ProblemNotFound, "Not found", fmt.Sprintf(format, a...))
}

func forbidden(format string, a ...any) *Problem {
	return problem(http.StatusForbidden, ProblemForbidden, "Forbidden", fmt.Sprintf(format, a...))
}

func conflict(format string, a ...any) *Problem {
	return problem(http.StatusConflict, ProblemConflict, "Conflict", fmt.Sprintf(format, a...))
}

// Sentinels the domain code returns and toProblem maps.
var (
	// ErrIPFSUnavailable: the organisation's kubo cannot be reached (503).
	ErrIPFSUnavailable = errors.New("gateway: IPFS is unavailable")
	// ErrObjectNotFound: IPFS has no such object (404).
	ErrObjectNotFound = errors.New("gateway: IPFS object not found")
	// ErrObjectTooLarge: the object at an address is larger than any
	// record level can be, so it is not one (502).
	ErrObjectTooLarge = errors.New("gateway: the IPFS object is larger than a record level")
	// ErrAuthorityUnavailable: the attribute authority cannot be reached
	// (503).
	ErrAuthorityUnavailable = errors.New("gateway: the attribute authority is unavailable")
)

// toProblem maps any error to the problem the client sees. Unknown errors
// become a 500 without detail (the cause is logged).
func toProblem(err error) *Problem {
	var p *Problem
	if errors.As(err, &p) {
		return p
	}
	var fe *FieldError
	var se *policy.SyntaxError
	var re *ledger.RefusedError
	var out *Problem
	switch {
	case errors.As(err, &fe):
		out = invalid(fe.Field, "%v", fe.Err)
	case errors.As(err, &se):
		out = invalid("policy", "%v", se)
	case errors.Is(err, ErrIPFSUnavailable):
		out = problem(http.StatusServiceUnavailable, ProblemIPFSUnavailable, "IPFS unavailable", "the organisation's IPFS node cannot be reached; nothing was submitted")
	case errors.Is(err, ErrTampered):
		out = problem(http.StatusBadGateway, ProblemTampered, "Tampered object", "a stored object does not match its checkCode; it was not decrypted")
	case errors.Is(err, ErrObjectNotFound):
		out = notFound("no such object in IPFS")
	case errors.Is(err, ErrObjectTooLarge):
		out = problem(http.StatusBadGateway, ProblemBadObject, "Not a record object", "the object at this address is larger than any record level; it is not served")
	case errors.Is(err, ledger.ErrUnavailable), errors.Is(err, ErrAuthorityUnavailable), errors.Is(err, context.DeadlineExceeded):
		out = problem(http.StatusServiceUnavailable, ProblemUnavailable, "Service unavailable", "the ledger or the attribute authority cannot be reached; try again later")
	case errors.As(err, &re):
		out = refusedProblem(re)
	default:
		out = problem(http.StatusInternalServerError, ProblemInternal, "Internal error", "")
	}
	out.cause = err
	return out
}

// refusedProblem maps a chaincode refusal by its kind; its message is the
// chaincode's, which names the argument and never holds secrets.
func refusedProblem(re *ledger.RefusedError) *Problem {
	switch {
	case errors.Is(re, ccerr.ErrNotFound):
		return notFound("%s", re.Message)
	case errors.Is(re, ccerr.ErrForbidden), errors.Is(re, ccerr.ErrRevoked):
		return forbidden("%s", re.Message)
	case errors.Is(re, ccerr.ErrConflict):
		return conflict("%s", re.Message)
	case errors.Is(re, ccerr.ErrNotInitialised):
		return problem(http.StatusServiceUnavailable, ProblemUnavailable, "Service unavailable", re.Message)
	}
	return invalid("", "%s", re.Message)
}
