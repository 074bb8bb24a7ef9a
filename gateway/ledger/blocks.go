package ledger

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"

	"github.com/medshare/medshare/chaincode/ccerr"
	"github.com/medshare/medshare/network/client"
	"github.com/medshare/medshare/network/pb"
)

// Blocks is what a node tells about its chains, beyond chaincode calls:
// where a transaction was committed, a channel's height and hashes, a
// block. The audit trail takes block numbers from it and verification
// compares nodes with it. Network implements it; a Ledger that does not
// (the in-memory one of the unit tests) gives trails without block numbers
// and verification of the connected node alone.
type Blocks interface {
	// Transaction returns a committed transaction with its block number
	// and result (its writes).
	Transaction(ctx context.Context, channel, txID string) (*pb.ProcessedTransaction, error)
	// ChainInfo returns a channel's height, last block hash and state hash.
	ChainInfo(ctx context.Context, channel string) (*pb.ChainInfo, error)
	// Block returns a committed block with its results.
	Block(ctx context.Context, channel string, number uint64) (*pb.Block, error)
}

// Transaction implements Blocks.
func (n *Network) Transaction(ctx context.Context, channel, txID string) (*pb.ProcessedTransaction, error) {
	tx, err := n.gw.GetNetwork(channel).Transaction(ctx, txID)
	if err != nil {
		return nil, classifyRead(channel, "transaction "+txID, err)
	}
	return tx, nil
}

// ChainInfo implements Blocks.
func (n *Network) ChainInfo(ctx context.Context, channel string) (*pb.ChainInfo, error) {
	info, err := n.gw.GetNetwork(channel).ChainInfo(ctx)
	if err != nil {
		return nil, classifyRead(channel, "chain info", err)
	}
	return info, nil
}

// Block implements Blocks.
func (n *Network) Block(ctx context.Context, channel string, number uint64) (*pb.Block, error) {
	b, err := n.gw.GetNetwork(channel).Block(ctx, number)
	if err != nil {
		return nil, classifyRead(channel, "block", err)
	}
	return b, nil
}

// classifyRead turns a block or transaction lookup error into ErrNotFound
// (a *RefusedError of kind ccerr.ErrNotFound) or ErrUnavailable.
func classifyRead(channel, what string, err error) error {
	var ge *client.GatewayError
	if errors.As(err, &ge) && ge.Code == codes.NotFound {
		return &RefusedError{Call: channel + " " + what, Kind: ccerr.ErrNotFound, Message: ge.Message}
	}
	return fmt.Errorf("%w: %s %s: %w", ErrUnavailable, channel, what, err)
}
