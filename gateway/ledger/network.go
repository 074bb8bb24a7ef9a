package ledger

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"

	"github.com/medshare/medshare/chaincode/txbuild"
	"github.com/medshare/medshare/network/client"
	"github.com/medshare/medshare/network/pb"
)

// Network is a Ledger over a real node, through network/client.
type Network struct {
	gw *client.Gateway
}

// NewNetwork returns a Ledger submitting through gw (connected as the
// gateway's identity).
func NewNetwork(gw *client.Gateway) *Network { return &Network{gw: gw} }

// Submit implements Ledger.
func (n *Network) Submit(ctx context.Context, c txbuild.Call) (Result, error) {
	contract := n.gw.GetNetwork(c.Channel).GetContract(c.Chaincode)
	_, commit, err := contract.SubmitAsync(c.Fn, client.WithArguments(c.Args...))
	if err != nil {
		return Result{}, classify(c, err)
	}
	st, err := commit.StatusContext(ctx)
	if err != nil {
		return Result{TxID: commit.TransactionID()}, unavailable(c, err)
	}
	if !st.Successful {
		return Result{TxID: st.TransactionID}, &RefusedError{Call: c.String(), TxID: st.TransactionID, Kind: kindOf(st.Message), Message: st.Message}
	}
	return Result{Payload: st.Result, TxID: st.TransactionID}, nil
}

// Evaluate implements Ledger.
func (n *Network) Evaluate(ctx context.Context, c txbuild.Call) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, unavailable(c, err)
	}
	b, err := n.gw.GetNetwork(c.Channel).GetContract(c.Chaincode).EvaluateTransaction(c.Fn, c.Args...)
	if err != nil {
		return nil, classify(c, err)
	}
	return b, nil
}

// classify turns a client error into ErrUnavailable or a *RefusedError. A
// chaincode refusal is reported by the node with the CHAINCODE_ERROR
// validation code (gRPC Aborted); everything about reaching the node or an
// ordering leader is unavailability.
func classify(c txbuild.Call, err error) error {
	var ge *client.GatewayError
	if !errors.As(err, &ge) {
		return unavailable(c, err)
	}
	var txID string
	var ee *client.EndorseError
	if errors.As(err, &ee) {
		txID = ee.TransactionID
	}
	switch {
	case ge.Validation == pb.ValidationCode_CHAINCODE_ERROR, ge.Code == codes.Aborted:
		return &RefusedError{Call: c.String(), TxID: txID, Kind: kindOf(ge.Message), Message: ge.Message}
	case ge.Code == codes.Unavailable, ge.Code == codes.DeadlineExceeded, ge.Code == codes.Canceled,
		ge.Code == codes.Internal, ge.Code == codes.Unknown, ge.Code == codes.ResourceExhausted:
		return unavailable(c, err)
	}
	// Membership, ACL, channel or chaincode not found: the gateway is
	// misconfigured; report it as a refusal with its message.
	return &RefusedError{Call: c.String(), TxID: txID, Kind: kindOf(ge.Message), Message: ge.Message}
}
