// Package client is the Go client of the medshare ledger, shaped after
// Hyperledger Fabric's fabric-gateway Go API:
//
//	gw, err := client.Connect(id, client.WithSign(sign), client.WithClientConnection(conn))
//	contract := gw.GetNetwork("side-high").GetContract("storage")
//	result, err := contract.SubmitTransaction("Store", "rec-1", "...")
//
// A submission is endorsed (validated and simulated) by the node the client
// is connected to, ordered by the channel's Raft leader, and committed by
// every node; SubmitTransaction waits for the commit on the connected node.
// Errors say which stage failed: *EndorseError, *SubmitError,
// *CommitStatusError or *CommitError, each carrying the transaction ID.
package client

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/medshare/medshare/network/block"
	"github.com/medshare/medshare/network/pb"
)

// Identity is the client's identity: its organisation and certificate.
type Identity interface {
	MspID() string
	Credentials() []byte
}

// Sign signs a SHA-256 digest with the identity's private key.
type Sign func(digest []byte) ([]byte, error)

// Default timeouts, as in fabric-gateway.
const (
	DefaultEvaluateTimeout     = 5 * time.Second
	DefaultEndorseTimeout      = 15 * time.Second
	DefaultCommitStatusTimeout = time.Minute
)

// Gateway is a connection to one node, acting as one identity.
type Gateway struct {
	id             Identity
	sign           Sign
	conn           grpc.ClientConnInterface
	closer         io.Closer
	gateway        pb.GatewayClient
	deliver        pb.DeliverClient
	evaluateTO     time.Duration
	endorseTO      time.Duration
	commitStatusTO time.Duration
	now            func() time.Time
}

// ConnectOption configures a Gateway.
type ConnectOption func(*Gateway) error

// WithSign sets the signing function. It is required to submit or evaluate.
func WithSign(sign Sign) ConnectOption {
	return func(g *Gateway) error { g.sign = sign; return nil }
}

// WithClientConnection sets the gRPC connection to the node. The Gateway
// does not close it.
func WithClientConnection(conn grpc.ClientConnInterface) ConnectOption {
	return func(g *Gateway) error { g.conn = conn; return nil }
}

// WithEvaluateTimeout bounds EvaluateTransaction.
func WithEvaluateTimeout(d time.Duration) ConnectOption {
	return func(g *Gateway) error { g.evaluateTO = d; return nil }
}

// WithEndorseTimeout bounds the endorse-and-submit call.
func WithEndorseTimeout(d time.Duration) ConnectOption {
	return func(g *Gateway) error { g.endorseTO = d; return nil }
}

// WithCommitStatusTimeout bounds the wait for a commit.
func WithCommitStatusTimeout(d time.Duration) ConnectOption {
	return func(g *Gateway) error { g.commitStatusTO = d; return nil }
}

// WithClock sets the clock that timestamps proposals (tests).
func WithClock(now func() time.Time) ConnectOption {
	return func(g *Gateway) error { g.now = now; return nil }
}

// Connect returns a Gateway for id over a connection given with
// WithClientConnection.
func Connect(id Identity, options ...ConnectOption) (*Gateway, error) {
	g := &Gateway{id: id, evaluateTO: DefaultEvaluateTimeout, endorseTO: DefaultEndorseTimeout, commitStatusTO: DefaultCommitStatusTimeout, now: time.Now}
	for _, o := range options {
		if err := o(g); err != nil {
			return nil, err
		}
	}
	if g.conn == nil {
		return nil, errors.New("client: no connection: use WithClientConnection")
	}
	if id == nil {
		return nil, errors.New("client: no identity")
	}
	g.gateway = pb.NewGatewayClient(g.conn)
	g.deliver = pb.NewDeliverClient(g.conn)
	return g, nil
}

// Close releases the Gateway. The connection given to it stays open.
func (g *Gateway) Close() error { return nil }

// Identity is the Gateway's identity.
func (g *Gateway) Identity() Identity { return g.id }

// GetNetwork returns a channel.
func (g *Gateway) GetNetwork(name string) *Network { return &Network{g: g, name: name} }

// Network is a channel seen through a Gateway.
type Network struct {
	g    *Gateway
	name string
}

// Name is the channel name.
func (n *Network) Name() string { return n.name }

// GetContract returns a chaincode's default contract.
func (n *Network) GetContract(chaincode string) *Contract {
	return &Contract{n: n, chaincode: chaincode}
}

// GetContractWithName returns a named contract of a chaincode; its functions
// are called as "contract:Function".
func (n *Network) GetContractWithName(chaincode, contract string) *Contract {
	return &Contract{n: n, chaincode: chaincode, contract: contract}
}

// Contract calls one contract's functions.
type Contract struct {
	n         *Network
	chaincode string
	contract  string
}

// ChaincodeName is the chaincode the contract belongs to.
func (c *Contract) ChaincodeName() string { return c.chaincode }

// ProposalOption configures a transaction proposal.
type ProposalOption func(*proposal)

type proposal struct{ args [][]byte }

// WithArguments sets string arguments.
func WithArguments(args ...string) ProposalOption {
	return func(p *proposal) {
		for _, a := range args {
			p.args = append(p.args, []byte(a))
		}
	}
}

// WithBytesArguments sets binary arguments.
func WithBytesArguments(args ...[]byte) ProposalOption {
	return func(p *proposal) { p.args = append(p.args, args...) }
}

func (c *Contract) envelope(fn string, options []ProposalOption) (*pb.Envelope, string, error) {
	var p proposal
	for _, o := range options {
		o(&p)
	}
	if c.contract != "" {
		fn = c.contract + ":" + fn
	}
	if c.n.g.sign == nil {
		return nil, "", errors.New("client: no signing function: use WithSign")
	}
	nonce := make([]byte, 24)
	if _, err := rand.Read(nonce); err != nil {
		return nil, "", fmt.Errorf("client: nonce: %w", err)
	}
	return block.SignProposal(signer{c.n.g}, block.Proposal{
		Channel: c.n.name, Chaincode: c.chaincode, Function: fn, Args: p.args,
		Nonce: nonce, Timestamp: c.n.g.now(),
	})
}

// signer adapts the Gateway's identity and Sign to block.Signer.
type signer struct{ g *Gateway }

func (s signer) MSPID() string { return s.g.id.MspID() }
func (s signer) Bytes() []byte { return s.g.id.Credentials() }
func (s signer) Sign(msg []byte) ([]byte, error) {
	d := sha256.Sum256(msg)
	return s.g.sign(d[:])
}

// EvaluateTransaction runs a query and returns its result.
func (c *Contract) EvaluateTransaction(fn string, args ...string) ([]byte, error) {
	return c.Evaluate(fn, WithArguments(args...))
}

// Evaluate runs a query with options and returns its result.
func (c *Contract) Evaluate(fn string, options ...ProposalOption) ([]byte, error) {
	env, _, err := c.envelope(fn, options)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.n.g.evaluateTO)
	defer cancel()
	resp, err := c.n.g.gateway.Evaluate(ctx, &pb.EvaluateRequest{Envelope: env})
	if err != nil {
		return nil, newGatewayError(err, "")
	}
	return resp.GetPayload(), nil
}

// SubmitTransaction submits a transaction, waits for it to commit, and
// returns its committed result.
func (c *Contract) SubmitTransaction(fn string, args ...string) ([]byte, error) {
	return c.Submit(fn, WithArguments(args...))
}

// Submit is SubmitTransaction with options.
func (c *Contract) Submit(fn string, options ...ProposalOption) ([]byte, error) {
	_, commit, err := c.SubmitAsync(fn, options...)
	if err != nil {
		return nil, err
	}
	st, err := commit.Status()
	if err != nil {
		return nil, err
	}
	if !st.Successful {
		return nil, &CommitError{TransactionID: st.TransactionID, Code: st.Code, Message: st.Message}
	}
	return st.Result, nil
}

// SubmitAsync submits a transaction and returns once it is ordered, with
// the simulated result and a Commit to wait for its outcome.
//
// While the channel has no reachable leader (an election after a node
// failure), ordering fails with codes.Unavailable; SubmitAsync then sends the
// same signed envelope again, with backoff, until the endorse timeout. This
// is safe: the transaction ID is bound to the envelope, so a copy that was
// ordered after all is committed once and the other is rejected as a
// duplicate.
func (c *Contract) SubmitAsync(fn string, options ...ProposalOption) ([]byte, *Commit, error) {
	env, txID, err := c.envelope(fn, options)
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.n.g.endorseTO)
	defer cancel()
	backoff := 50 * time.Millisecond
	for attempt := 0; ; attempt++ {
		resp, err := c.n.g.gateway.Submit(ctx, &pb.SubmitRequest{Envelope: env})
		if err == nil {
			return resp.GetPayload(), &Commit{n: c.n, txID: txID}, nil
		}
		ge := newGatewayError(err, txID)
		if attempt > 0 && ge.Validation == pb.ValidationCode_DUPLICATE_TXID {
			// An earlier attempt reached the leader after all.
			return nil, &Commit{n: c.n, txID: txID}, nil
		}
		if ge.Code != codes.Unavailable || ge.Stage == "endorse" {
			if ge.Stage == "submit" {
				return nil, nil, &SubmitError{TransactionID: txID, GatewayError: ge}
			}
			return nil, nil, &EndorseError{TransactionID: txID, GatewayError: ge}
		}
		select {
		case <-ctx.Done():
			return nil, nil, &SubmitError{TransactionID: txID, GatewayError: ge}
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Second)
	}
}

// Commit is a submitted transaction whose outcome can be awaited.
type Commit struct {
	n    *Network
	txID string
}

// TransactionID is the submitted transaction's ID.
func (c *Commit) TransactionID() string { return c.txID }

// Status is the outcome of a committed transaction.
type Status struct {
	TransactionID string
	BlockNumber   uint64
	Code          pb.ValidationCode
	Successful    bool
	// Result is the committed chaincode response; Message says why an
	// invalid transaction is invalid.
	Result  []byte
	Message string
}

// Status waits until the transaction is committed on the connected node.
func (c *Commit) Status() (*Status, error) {
	ctx, cancel := context.WithTimeout(context.Background(), c.n.g.commitStatusTO)
	defer cancel()
	return c.StatusContext(ctx)
}

// StatusContext is Status with a caller's context.
func (c *Commit) StatusContext(ctx context.Context) (*Status, error) {
	resp, err := c.n.g.gateway.CommitStatus(ctx, &pb.CommitStatusRequest{Channel: c.n.name, TxId: c.txID})
	if err != nil {
		return nil, &CommitStatusError{TransactionID: c.txID, GatewayError: newGatewayError(err, c.txID)}
	}
	return &Status{
		TransactionID: c.txID,
		BlockNumber:   resp.GetBlockNumber(),
		Code:          resp.GetCode(),
		Successful:    resp.GetCode() == pb.ValidationCode_VALID,
		Result:        resp.GetPayload(),
		Message:       resp.GetMessage(),
	}, nil
}

// ChaincodeEvent is an event set by a committed, valid transaction.
type ChaincodeEvent struct {
	BlockNumber   uint64
	TransactionID string
	ChaincodeName string
	EventName     string
	Payload       []byte
}

// ChaincodeEventsOption configures ChaincodeEvents.
type ChaincodeEventsOption func(*pb.ChaincodeEventsRequest)

// WithStartBlock reads events from a block on, rather than from the next
// block to commit.
func WithStartBlock(n uint64) ChaincodeEventsOption {
	return func(r *pb.ChaincodeEventsRequest) { r.StartBlock = proto.Uint64(n) }
}

// ChaincodeEvents delivers a chaincode's events, in commit order, until ctx
// ends or the stream fails; then the channel closes.
func (n *Network) ChaincodeEvents(ctx context.Context, chaincode string, options ...ChaincodeEventsOption) (<-chan *ChaincodeEvent, error) {
	req := &pb.ChaincodeEventsRequest{Channel: n.name, Chaincode: chaincode}
	for _, o := range options {
		o(req)
	}
	stream, err := n.g.gateway.ChaincodeEvents(ctx, req)
	if err != nil {
		return nil, newGatewayError(err, "")
	}
	out := make(chan *ChaincodeEvent, 64)
	go func() {
		defer close(out)
		for {
			resp, err := stream.Recv()
			if err != nil {
				return
			}
			for _, r := range resp.GetEvents() {
				ev := &ChaincodeEvent{
					BlockNumber: resp.GetBlockNumber(), TransactionID: r.GetTxId(),
					ChaincodeName: r.GetEvent().GetChaincode(), EventName: r.GetEvent().GetName(), Payload: r.GetEvent().GetPayload(),
				}
				select {
				case out <- ev:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out, nil
}

// BlockEvents delivers committed blocks (with their results) from start on,
// until ctx ends.
func (n *Network) BlockEvents(ctx context.Context, start uint64) (<-chan *pb.Block, error) {
	stream, err := n.g.deliver.Blocks(ctx, &pb.BlocksRequest{Channel: n.name, Start: start, Follow: true})
	if err != nil {
		return nil, newGatewayError(err, "")
	}
	out := make(chan *pb.Block, 16)
	go func() {
		defer close(out)
		for {
			b, err := stream.Recv()
			if err != nil {
				return
			}
			select {
			case out <- b:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

// ChainInfo returns the channel's height and hashes on the connected node.
func (n *Network) ChainInfo(ctx context.Context) (*pb.ChainInfo, error) {
	info, err := n.g.deliver.GetChainInfo(ctx, &pb.ChainInfoRequest{Channel: n.name})
	if err != nil {
		return nil, newGatewayError(err, "")
	}
	return info, nil
}

// Block returns a committed block.
func (n *Network) Block(ctx context.Context, number uint64) (*pb.Block, error) {
	b, err := n.g.deliver.GetBlock(ctx, &pb.GetBlockRequest{Channel: n.name, Number: number})
	if err != nil {
		return nil, newGatewayError(err, "")
	}
	return b, nil
}

// Transaction returns a committed transaction with its result.
func (n *Network) Transaction(ctx context.Context, txID string) (*pb.ProcessedTransaction, error) {
	tx, err := n.g.deliver.GetTransaction(ctx, &pb.GetTransactionRequest{Channel: n.name, TxId: txID})
	if err != nil {
		return nil, newGatewayError(err, txID)
	}
	return tx, nil
}
