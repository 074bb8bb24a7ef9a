// Package ledger is the gateway's seam to its organisation's node: the
// chaincode calls the gateway makes (built with chaincode/txbuild or by hand
// where txbuild has no builder), submitted or evaluated as the gateway's
// identity, with their results decoded into the chaincodes' own types.
//
// Everything the gateway knows about the contracts' functions, arguments and
// results is in this package, so that changes to the contracts (majority
// governance, identity-bound revocation, scoped audit reads) are adapted
// here. Two implementations of Ledger exist: Network, over
// network/client (a real node), and, for unit tests, the in-memory
// chaincodes of package gateway/internal/memledger.
package ledger

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/medshare/medshare/chaincode/ccerr"
	"github.com/medshare/medshare/chaincode/txbuild"
)

// Ledger submits and evaluates chaincode calls as one identity.
// Implementations are safe for concurrent use.
type Ledger interface {
	// Submit submits a transaction and waits until it is committed on the
	// connected node. It returns ErrUnavailable (wrapped) when the node
	// cannot be reached or the outcome is unknown, and a *RefusedError
	// when the chaincode refused the transaction (nothing was written).
	Submit(ctx context.Context, c txbuild.Call) (Result, error)
	// Evaluate runs a query on the connected node, with the same errors.
	Evaluate(ctx context.Context, c txbuild.Call) ([]byte, error)
}

// Result is a committed transaction's payload and id.
type Result struct {
	Payload []byte
	TxID    string
}

// ErrUnavailable means the ledger could not be reached, or a submission's
// outcome could not be learnt in time: the caller must not assume the
// transaction committed or failed.
var ErrUnavailable = errors.New("ledger: unavailable")

// RefusedError is a chaincode's refusal: the transaction failed and wrote
// nothing. Kind is one of the ccerr kinds (ccerr.ErrNotFound, …) when it
// is known; across the network only the message travels, and Kind is
// inferred from its stable form ("<argument>: <reason>").
type RefusedError struct {
	Call    string
	TxID    string
	Kind    error
	Message string
}

func (e *RefusedError) Error() string { return "ledger: " + e.Call + " refused: " + e.Message }

// Unwrap returns the kind, so errors.Is(err, ccerr.ErrNotFound) works.
func (e *RefusedError) Unwrap() error { return e.Kind }

// kindOf infers a refusal's kind from its message, as the chaincodes word
// them (docs/chaincode.md, "Errors").
func kindOf(msg string) error {
	switch {
	case strings.Contains(msg, "does not exist"), strings.Contains(msg, "is not indexed"),
		strings.Contains(msg, "is not registered"), strings.Contains(msg, "has no access policy"),
		strings.Contains(msg, "no block"), strings.Contains(msg, "not found"):
		return ccerr.ErrNotFound
	case strings.Contains(msg, "caller: "), strings.Contains(msg, "only the owner"):
		return ccerr.ErrForbidden
	case strings.Contains(msg, "already"):
		return ccerr.ErrConflict
	case strings.Contains(msg, "is blocked"), strings.Contains(msg, "revoked"):
		return ccerr.ErrRevoked
	case strings.Contains(msg, "not initialised"):
		return ccerr.ErrNotInitialised
	}
	return ccerr.ErrInvalidArgument
}

// Refused builds a *RefusedError for call from a chaincode error: its kind
// comes from the error when it is a *ccerr.Error, from its message
// otherwise.
func Refused(call txbuild.Call, txID string, err error) *RefusedError {
	var ce *ccerr.Error
	kind := kindOf(err.Error())
	if errors.As(err, &ce) {
		kind = ce.Kind
	}
	return &RefusedError{Call: call.String(), TxID: txID, Kind: kind, Message: err.Error()}
}

func unavailable(call txbuild.Call, err error) error {
	return fmt.Errorf("%w: %s: %w", ErrUnavailable, call, err)
}
