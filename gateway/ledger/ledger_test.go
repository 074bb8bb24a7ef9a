package ledger

import (
	"errors"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/medshare/medshare/chaincode/ccerr"
	"github.com/medshare/medshare/chaincode/txbuild"
	"github.com/medshare/medshare/network/client"
	"github.com/medshare/medshare/network/pb"
)

func TestClassify(t *testing.T) {
	call := txbuild.Call{Channel: "side-high", Chaincode: "storage", Fn: "Store"}
	ge := func(code codes.Code, v pb.ValidationCode, msg string) *client.GatewayError {
		return &client.GatewayError{Code: code, Validation: v, Message: msg, Stage: "endorse"}
	}
	for _, tc := range []struct {
		name        string
		err         error
		unavailable bool
		kind        error
	}{
		{"chaincode not found", &client.EndorseError{TransactionID: "tx1", GatewayError: ge(codes.Aborted, pb.ValidationCode_CHAINCODE_ERROR, "recordID: record r does not exist on side-high")}, false, ccerr.ErrNotFound},
		{"chaincode forbidden", &client.EndorseError{GatewayError: ge(codes.Aborted, pb.ValidationCode_CHAINCODE_ERROR, "caller: only the owner may update record r")}, false, ccerr.ErrForbidden},
		{"chaincode conflict", &client.EndorseError{GatewayError: ge(codes.Aborted, pb.ValidationCode_CHAINCODE_ERROR, "request.requestID: request x is already logged")}, false, ccerr.ErrConflict},
		{"chaincode invalid", &client.EndorseError{GatewayError: ge(codes.Aborted, pb.ValidationCode_CHAINCODE_ERROR, "version: must be 1 for a new record, got 2")}, false, ccerr.ErrInvalidArgument},
		{"no leader", &client.SubmitError{GatewayError: ge(codes.Unavailable, 0, "no leader")}, true, nil},
		{"deadline", &client.CommitStatusError{GatewayError: ge(codes.DeadlineExceeded, 0, "deadline")}, true, nil},
		{"transport", errors.New("connection refused"), true, nil},
	} {
		err := classify(call, tc.err)
		if got := errors.Is(err, ErrUnavailable); got != tc.unavailable {
			t.Errorf("%s: unavailable = %v (%v)", tc.name, got, err)
		}
		if tc.kind != nil {
			var re *RefusedError
			if !errors.As(err, &re) || !errors.Is(err, tc.kind) {
				t.Errorf("%s: %v, want a refusal of kind %v", tc.name, err, tc.kind)
			}
		}
	}
}

func TestRefusedKeepsTheChaincodeKind(t *testing.T) {
	call := txbuild.Call{Channel: "main", Chaincode: "index", Fn: "GetRecord"}
	re := Refused(call, "", ccerr.NotFound("recordID", "record r is not indexed"))
	if !errors.Is(re, ccerr.ErrNotFound) || re.Call != "main/index:GetRecord" {
		t.Fatalf("%+v", re)
	}
}
