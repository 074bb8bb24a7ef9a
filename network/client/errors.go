package client

import (
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/medshare/medshare/network/pb"
)

// GatewayError is an error returned by the node: its gRPC code and message,
// and, for submissions, the validation code and the stage that failed.
type GatewayError struct {
	Code       codes.Code
	Message    string
	Validation pb.ValidationCode
	TxID       string
	Stage      string
	// OutcomeUnknown is set by the node on a "submit" failure after which
	// the transaction may still have been ordered.
	OutcomeUnknown bool
	err            error
}

func (e *GatewayError) Error() string {
	if e.Stage != "" {
		return fmt.Sprintf("%s failed: %s (%s)", e.Stage, e.Message, e.Code)
	}
	return fmt.Sprintf("%s (%s)", e.Message, e.Code)
}

// Unwrap returns the underlying gRPC error.
func (e *GatewayError) Unwrap() error { return e.err }

// GRPCStatus lets status.FromError see through the error.
func (e *GatewayError) GRPCStatus() *status.Status { return status.Convert(e.err) }

func newGatewayError(err error, txID string) *GatewayError {
	st := status.Convert(err)
	ge := &GatewayError{Code: st.Code(), Message: st.Message(), TxID: txID, err: err}
	for _, d := range st.Details() {
		if det, ok := d.(*pb.ErrorDetail); ok {
			ge.Validation = det.GetCode()
			ge.Stage = det.GetStage()
			ge.Message = det.GetMessage()
			ge.OutcomeUnknown = det.GetOutcomeUnknown()
			if det.GetTxId() != "" {
				ge.TxID = det.GetTxId()
			}
		}
	}
	return ge
}

// EndorseError means the node refused the transaction before ordering it:
// it failed validation (signature, membership, ACL, clock, duplicate ID) or
// its simulation returned an error. Nothing was written.
type EndorseError struct {
	TransactionID string
	*GatewayError
}

func (e *EndorseError) Error() string {
	return "endorse " + e.TransactionID + ": " + e.GatewayError.Error()
}
func (e *EndorseError) Unwrap() error { return e.GatewayError }

// ErrOutcomeUnknown is matched (errors.Is) by every error after which the
// transaction may have been committed or may still be: *OutcomeUnknownError
// and *CommitStatusError. Do not submit a new transaction for the same
// change: submit the same Transaction again, which commits it at most once,
// or look it up (Network.Transaction) once its timestamp is more than the
// channel's maxClockSkew in the past, after which no later block can
// commit it as valid.
var ErrOutcomeUnknown = errors.New("client: transaction outcome unknown")

// SubmitError means the transaction was endorsed but the node says it was
// not ordered (no leader, leader queue full). It was not committed; it may
// be retried, with the same or a new transaction.
type SubmitError struct {
	TransactionID string
	*GatewayError
}

func (e *SubmitError) Error() string {
	return "submit " + e.TransactionID + ": " + e.GatewayError.Error()
}
func (e *SubmitError) Unwrap() error { return e.GatewayError }

// OutcomeUnknownError means the transaction may have been ordered, but the
// client could not learn whether: the node could not reach the leader, the
// reply was lost, the call timed out. It may commit. Submit Transaction
// again to retry idempotently. It matches ErrOutcomeUnknown.
type OutcomeUnknownError struct {
	TransactionID string
	// Transaction is the signed transaction, to submit again.
	Transaction *Transaction
	*GatewayError
}

func (e *OutcomeUnknownError) Error() string {
	return "submit " + e.TransactionID + ": outcome unknown: " + e.GatewayError.Error()
}
func (e *OutcomeUnknownError) Unwrap() error { return e.GatewayError }

// Is makes errors.Is(err, ErrOutcomeUnknown) hold.
func (e *OutcomeUnknownError) Is(target error) bool { return target == ErrOutcomeUnknown }

// CommitStatusError means the client could not learn the outcome (timeout,
// node unreachable). The transaction may or may not have committed. It
// matches ErrOutcomeUnknown.
type CommitStatusError struct {
	TransactionID string
	// Transaction is the signed transaction, to submit again; nil when the
	// Commit did not come from a Transaction of this client.
	Transaction *Transaction
	*GatewayError
}

func (e *CommitStatusError) Error() string {
	return "commit status " + e.TransactionID + ": " + e.GatewayError.Error()
}
func (e *CommitStatusError) Unwrap() error { return e.GatewayError }

// Is makes errors.Is(err, ErrOutcomeUnknown) hold.
func (e *CommitStatusError) Is(target error) bool { return target == ErrOutcomeUnknown }

// CommitError means the transaction was committed as invalid, with its
// validation code; it changed nothing.
type CommitError struct {
	TransactionID string
	Code          pb.ValidationCode
	Message       string
}

func (e *CommitError) Error() string {
	return fmt.Sprintf("transaction %s committed as invalid: %s: %s", e.TransactionID, e.Code, e.Message)
}
