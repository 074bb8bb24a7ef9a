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
// *OutcomeUnknownError, *CommitStatusError or *CommitError, each carrying
// the transaction ID. errors.Is(err, ErrOutcomeUnknown) holds whenever the
// transaction may have committed or may still commit; the retry is to
// submit the same signed Transaction again, which is idempotent.
//
// Reads (EvaluateTransaction) are served by the connected node from its
// committed state while it is caught up with the channel's leader; a
// Session makes them read-your-writes and monotonic, WithMinHeight asks for
// a given height, and WithLinearizableRead for a linearizable read (see
// docs/ledger.md, "Read freshness").
package client

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
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
	session        *Session
}

// Session remembers, per channel, the highest block height its Gateways
// saw: the block a submission committed in, or the state a read was served
// from. Every read through a Gateway of the session asks for at least that
// height, so a session reads its own writes and never reads an older state
// than it read before — also across Gateways connected to different nodes,
// when they share the session (WithSession). It is safe for concurrent use.
type Session struct {
	mu      sync.Mutex
	heights map[string]uint64
}

// NewSession returns an empty session.
func NewSession() *Session { return &Session{heights: make(map[string]uint64)} }

// Height is the highest block height seen on a channel: a read asks for a
// state holding at least that many blocks.
func (s *Session) Height(channel string) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.heights[channel]
}

// Observe records that a channel's state of height h was seen.
func (s *Session) Observe(channel string, h uint64) {
	s.mu.Lock()
	if h > s.heights[channel] {
		s.heights[channel] = h
	}
	s.mu.Unlock()
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

// WithSession makes the Gateway record what it sees in s and read no older
// than s has seen. Without it, each Gateway has a session of its own.
func WithSession(s *Session) ConnectOption {
	return func(g *Gateway) error { g.session = s; return nil }
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
	if g.session == nil {
		g.session = NewSession()
	}
	g.gateway = pb.NewGatewayClient(g.conn)
	g.deliver = pb.NewDeliverClient(g.conn)
	return g, nil
}

// Close releases the Gateway. The connection given to it stays open.
func (g *Gateway) Close() error { return nil }

// Identity is the Gateway's identity.
func (g *Gateway) Identity() Identity { return g.id }

// Session is the Gateway's session.
func (g *Gateway) Session() *Session { return g.session }

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

type proposal struct {
	args         [][]byte
	minHeight    uint64
	linearizable bool
}

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

// WithMinHeight makes a read (Evaluate) wait until the node's state holds
// at least h blocks: pass a submission's Status.BlockNumber+1 to read that
// write from any node. The Gateway's session asks for its own height
// anyway. Submissions ignore it.
func WithMinHeight(h uint64) ProposalOption {
	return func(p *proposal) { p.minHeight = max(p.minHeight, h) }
}

// WithLinearizableRead makes a read (Evaluate) linearizable: it sees every
// transaction committed before it was called. The node asks the channel's
// leader for its read index (a round trip and a heartbeat round), so it
// costs more than a plain read. Submissions ignore it.
func WithLinearizableRead() ProposalOption {
	return func(p *proposal) { p.linearizable = true }
}

func (c *Contract) envelope(fn string, options []ProposalOption) (*pb.Envelope, string, error) {
	_, env, id, err := c.proposal(fn, options)
	return env, id, err
}

func (c *Contract) proposal(fn string, options []ProposalOption) (proposal, *pb.Envelope, string, error) {
	var p proposal
	for _, o := range options {
		o(&p)
	}
	if c.contract != "" {
		fn = c.contract + ":" + fn
	}
	if c.n.g.sign == nil {
		return p, nil, "", errors.New("client: no signing function: use WithSign")
	}
	nonce := make([]byte, 24)
	if _, err := rand.Read(nonce); err != nil {
		return p, nil, "", fmt.Errorf("client: nonce: %w", err)
	}
	env, id, err := block.SignProposal(signer{c.n.g}, block.Proposal{
		Channel: c.n.name, Chaincode: c.chaincode, Function: fn, Args: p.args,
		Nonce: nonce, Timestamp: c.n.g.now(),
	})
	return p, env, id, err
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

// Evaluate runs a query with options and returns its result. The node
// answers from a state at least as new as the Gateway's session has seen
// (and WithMinHeight or WithLinearizableRead ask); a node that is behind
// waits for it within the evaluate timeout, then refuses with
// codes.Unavailable.
func (c *Contract) Evaluate(fn string, options ...ProposalOption) ([]byte, error) {
	p, env, _, err := c.proposal(fn, options)
	if err != nil {
		return nil, err
	}
	g := c.n.g
	ctx, cancel := context.WithTimeout(context.Background(), g.evaluateTO)
	defer cancel()
	resp, err := g.gateway.Evaluate(ctx, &pb.EvaluateRequest{
		Envelope:     env,
		MinHeight:    max(p.minHeight, g.session.Height(c.n.name)),
		Linearizable: p.linearizable,
	})
	if err != nil {
		return nil, newGatewayError(err, "")
	}
	g.session.Observe(c.n.name, resp.GetHeight())
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
// the simulated result and a Commit to wait for its outcome. It is
// NewTransaction followed by Transaction.Submit.
func (c *Contract) SubmitAsync(fn string, options ...ProposalOption) ([]byte, *Commit, error) {
	tx, err := c.NewTransaction(fn, options...)
	if err != nil {
		return nil, nil, err
	}
	return tx.Submit()
}

// Transaction is a signed transaction proposal. Its ID is fixed when it is
// signed, and a copy of it that reaches the ledger after the first one is
// refused as a duplicate there and changes nothing: submitting the same
// Transaction again is the idempotent retry after an error whose outcome is
// unknown (ErrOutcomeUnknown), also after a restart of the application
// (keep its Bytes; see Network.NewSignedTransaction).
type Transaction struct {
	n   *Network
	env *pb.Envelope
	id  string
	// mayBeOrdered is set once a Submit attempt may have been ordered:
	// from then on a refusal of a later attempt is not conclusive.
	mayBeOrdered atomic.Bool
}

// NewTransaction signs a transaction proposal without submitting it.
func (c *Contract) NewTransaction(fn string, options ...ProposalOption) (*Transaction, error) {
	env, id, err := c.envelope(fn, options)
	if err != nil {
		return nil, err
	}
	return &Transaction{n: c.n, env: env, id: id}, nil
}

// NewSignedTransaction rebuilds a Transaction from its Bytes, to submit it
// again through this network (the channel must be the transaction's). It
// does not know what happened to earlier submissions: if one had an unknown
// outcome, a refusal of this one (other than as a duplicate, which means
// committed) does not mean the transaction failed.
func (n *Network) NewSignedTransaction(signed []byte) (*Transaction, error) {
	env := new(pb.Envelope)
	if err := proto.Unmarshal(signed, env); err != nil {
		return nil, fmt.Errorf("client: signed transaction: %w", err)
	}
	tx, err := block.TxFromEnvelope(env, 0)
	if err != nil {
		return nil, fmt.Errorf("client: signed transaction: %w", err)
	}
	if ch := tx.Proposal.GetChannel(); ch != n.name {
		return nil, fmt.Errorf("client: signed transaction is for channel %q, not %q", ch, n.name)
	}
	return &Transaction{n: n, env: env, id: tx.TxID}, nil
}

// TransactionID is the transaction's ID.
func (t *Transaction) TransactionID() string { return t.id }

// Bytes is the signed envelope, for keeping the transaction to retry it
// later (NewSignedTransaction).
func (t *Transaction) Bytes() ([]byte, error) { return proto.Marshal(t.env) }

// Submit sends the signed transaction to the connected node, which endorses
// it and has it ordered, and returns once it is ordered, with the simulated
// result and a Commit to wait for its outcome. If the transaction was
// committed already (an earlier Submit got through), it returns a Commit
// whose Status is that outcome.
//
// While the channel has no reachable leader, or the node cannot be
// reached, Submit sends the same envelope again, with backoff, until the
// endorse timeout. Its errors:
//
//   - *EndorseError: the node refused the transaction before ordering it
//     (validation or simulation failed); nothing was written.
//   - *SubmitError: the node says it did not order the transaction (no
//     leader, queue full); nothing was written.
//   - *OutcomeUnknownError (ErrOutcomeUnknown): an attempt may have been
//     ordered — the node could not reach the leader, the reply was lost,
//     the call timed out. The transaction may commit. Submit the same
//     Transaction again (idempotent), or ask Network.Transaction.
func (t *Transaction) Submit() ([]byte, *Commit, error) {
	g := t.n.g
	ctx, cancel := context.WithTimeout(context.Background(), g.endorseTO)
	defer cancel()
	commit := &Commit{n: t.n, txID: t.id, tx: t}
	unknown := t.mayBeOrdered.Load() // some attempt may have been ordered
	backoff := 50 * time.Millisecond
	for {
		resp, err := g.gateway.Submit(ctx, &pb.SubmitRequest{Envelope: t.env})
		if err == nil {
			t.mayBeOrdered.Store(true)
			return resp.GetPayload(), commit, nil
		}
		ge := newGatewayError(err, t.id)
		if ge.Stage == "endorse" && ge.Validation == pb.ValidationCode_DUPLICATE_TXID {
			// Committed already: by an earlier attempt, or by an earlier
			// Submit of this transaction.
			return nil, commit, nil
		}
		switch {
		case ge.Stage == "endorse":
			if unknown {
				return nil, nil, &OutcomeUnknownError{TransactionID: t.id, Transaction: t, GatewayError: ge}
			}
			return nil, nil, &EndorseError{TransactionID: t.id, GatewayError: ge}
		case ge.Stage == "submit" && !ge.OutcomeUnknown:
			// This attempt was certainly not ordered.
		default:
			// The node may have passed it on: a lost reply, an unreachable
			// leader, a timeout or a transport failure.
			unknown = true
			t.mayBeOrdered.Store(true)
		}
		retry := ge.Code == codes.Unavailable
		if retry {
			select {
			case <-ctx.Done():
				retry = false
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, time.Second)
		}
		if !retry {
			if unknown {
				return nil, nil, &OutcomeUnknownError{TransactionID: t.id, Transaction: t, GatewayError: ge}
			}
			return nil, nil, &SubmitError{TransactionID: t.id, GatewayError: ge}
		}
	}
}

// Commit is a submitted transaction whose outcome can be awaited.
type Commit struct {
	n    *Network
	txID string
	tx   *Transaction
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
		return nil, &CommitStatusError{TransactionID: c.txID, Transaction: c.tx, GatewayError: newGatewayError(err, c.txID)}
	}
	c.n.g.session.Observe(c.n.name, resp.GetBlockNumber()+1)
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
