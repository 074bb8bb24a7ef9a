package node

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/medshare/medshare/network/block"
	"github.com/medshare/medshare/network/chain"
	"github.com/medshare/medshare/network/identity"
	"github.com/medshare/medshare/network/ledger"
	"github.com/medshare/medshare/network/pb"
)

// services implements the node's gRPC services. Handlers decode, check who
// is calling, call the chain, and turn errors into gRPC statuses here only.
type services struct {
	pb.UnimplementedGatewayServer
	pb.UnimplementedDeliverServer
	pb.UnimplementedAdminServer
	pb.UnimplementedClusterServer
	n *Node
}

func blockHash(b *pb.Block) []byte {
	h := block.HeaderHash(b.GetHeader())
	return h[:]
}

// channel finds a joined channel and checks that the TLS client belongs to
// one of its organisations.
func (s *services) channel(ctx context.Context, name string) (*chain.Chain, *identity.Identity, error) {
	c, ok := s.n.Chain(name)
	if !ok {
		return nil, nil, status.Errorf(codes.NotFound, "channel %q is not joined by node %s", name, s.n.ID())
	}
	cert, err := peerCertificate(ctx)
	if err != nil {
		return nil, nil, status.Error(codes.Unauthenticated, err.Error())
	}
	id, err := c.Config().Membership().Identify(cert.Raw, timeNow())
	if err != nil {
		return nil, nil, status.Errorf(codes.PermissionDenied, "not a member of channel %s", name)
	}
	return c, id, nil
}

// serving is channel for the calls a halted node refuses: everything but
// its status. Its blocks and state may be what made it halt.
func (s *services) serving(ctx context.Context, name string) (*chain.Chain, *identity.Identity, error) {
	c, id, err := s.channel(ctx, name)
	if err != nil {
		return nil, nil, err
	}
	if c.Halted() {
		return nil, nil, status.Errorf(codes.Unavailable, "%v: channel %s on node %s", chain.ErrHalted, name, s.n.ID())
	}
	return c, id, nil
}

// envelopeChannel reads the channel an envelope is for, to route it.
func envelopeChannel(env *pb.Envelope) (string, error) {
	tx, err := block.TxFromEnvelope(env, 0)
	if err != nil {
		return "", err
	}
	return tx.Proposal.GetChannel(), nil
}

// Submit implements pb.GatewayServer.
func (s *services) Submit(ctx context.Context, req *pb.SubmitRequest) (*pb.SubmitResponse, error) {
	name, err := envelopeChannel(req.GetEnvelope())
	if err != nil {
		return nil, stageStatus("endorse", "", err)
	}
	c, _, err := s.channel(ctx, name)
	if err != nil {
		return nil, err
	}
	id, payload, err := c.Submit(ctx, req.GetEnvelope())
	if err != nil {
		var se *chain.StageError
		if errors.As(err, &se) {
			return nil, stageStatus(se.Stage, se.TxID, se.Err)
		}
		return nil, stageStatus("submit", id, err)
	}
	return &pb.SubmitResponse{TxId: id, Payload: payload}, nil
}

// Evaluate implements pb.GatewayServer.
func (s *services) Evaluate(ctx context.Context, req *pb.EvaluateRequest) (*pb.EvaluateResponse, error) {
	name, err := envelopeChannel(req.GetEnvelope())
	if err != nil {
		return nil, stageStatus("evaluate", "", err)
	}
	c, _, err := s.serving(ctx, name)
	if err != nil {
		return nil, err
	}
	payload, height, err := c.Evaluate(ctx, req.GetEnvelope(), chain.ReadOptions{MinHeight: req.GetMinHeight(), Linearizable: req.GetLinearizable()})
	if err != nil {
		return nil, stageStatus("evaluate", "", err)
	}
	return &pb.EvaluateResponse{Payload: payload, Height: height}, nil
}

// CommitStatus implements pb.GatewayServer.
func (s *services) CommitStatus(ctx context.Context, req *pb.CommitStatusRequest) (*pb.CommitStatusResponse, error) {
	c, _, err := s.serving(ctx, req.GetChannel())
	if err != nil {
		return nil, err
	}
	r, err := c.WaitCommit(ctx, req.GetTxId())
	if errors.Is(err, chain.ErrHalted) {
		return nil, status.Errorf(codes.Unavailable, "%v: the transaction's outcome is unknown to this node", err)
	}
	if err != nil {
		return nil, status.FromContextError(err).Err()
	}
	return &pb.CommitStatusResponse{
		Code:        r.Result.GetCode(),
		BlockNumber: r.Block,
		Payload:     r.Result.GetPayload(),
		Message:     r.Result.GetMessage(),
	}, nil
}

// ChaincodeEvents implements pb.GatewayServer.
func (s *services) ChaincodeEvents(req *pb.ChaincodeEventsRequest, stream pb.Gateway_ChaincodeEventsServer) error {
	ctx := stream.Context()
	c, _, err := s.serving(ctx, req.GetChannel())
	if err != nil {
		return err
	}
	next := c.Store().Height()
	if req.StartBlock != nil {
		next = req.GetStartBlock()
	}
	for {
		if err := c.WaitHeight(ctx, next); err != nil {
			return status.FromContextError(err).Err()
		}
		b, err := c.Store().Block(next)
		if err != nil {
			return status.Error(codes.Internal, err.Error())
		}
		var evs []*pb.ChaincodeEventRecord
		for _, r := range b.GetResults() {
			if r.GetCode() != pb.ValidationCode_VALID {
				continue
			}
			for _, ev := range r.GetEvents() {
				if ev.GetChaincode() == req.GetChaincode() {
					evs = append(evs, &pb.ChaincodeEventRecord{TxId: r.GetTxId(), Event: ev})
				}
			}
		}
		if len(evs) > 0 {
			if err := stream.Send(&pb.ChaincodeEventsResponse{BlockNumber: next, Events: evs}); err != nil {
				return err
			}
		}
		next++
	}
}

// Blocks implements pb.DeliverServer.
func (s *services) Blocks(req *pb.BlocksRequest, stream pb.Deliver_BlocksServer) error {
	ctx := stream.Context()
	c, _, err := s.serving(ctx, req.GetChannel())
	if err != nil {
		return err
	}
	for n := req.GetStart(); ; n++ {
		if n >= c.Store().Height() {
			if !req.GetFollow() {
				return nil
			}
			if err := c.WaitHeight(ctx, n); err != nil {
				return status.FromContextError(err).Err()
			}
		}
		b, err := c.Store().Block(n)
		if err != nil {
			return status.Error(codes.Internal, err.Error())
		}
		if err := stream.Send(b); err != nil {
			return err
		}
	}
}

// GetBlock implements pb.DeliverServer.
func (s *services) GetBlock(ctx context.Context, req *pb.GetBlockRequest) (*pb.Block, error) {
	c, _, err := s.serving(ctx, req.GetChannel())
	if err != nil {
		return nil, err
	}
	b, err := c.Store().Block(req.GetNumber())
	if errors.Is(err, ledger.ErrNotFound) {
		return nil, status.Errorf(codes.NotFound, "block %d not found", req.GetNumber())
	}
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	if req.GetHeaderOnly() {
		return &pb.Block{Header: b.GetHeader(), Signature: b.GetSignature(), CutterMsp: b.GetCutterMsp(), CutterCert: b.GetCutterCert()}, nil
	}
	return b, nil
}

// GetTransaction implements pb.DeliverServer.
func (s *services) GetTransaction(ctx context.Context, req *pb.GetTransactionRequest) (*pb.ProcessedTransaction, error) {
	c, _, err := s.serving(ctx, req.GetChannel())
	if err != nil {
		return nil, err
	}
	loc, err := c.Store().FindTx(req.GetTxId())
	if errors.Is(err, ledger.ErrNotFound) {
		return nil, status.Errorf(codes.NotFound, "transaction %s not found", req.GetTxId())
	}
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	b, err := c.Store().Block(loc.Block)
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	tx, err := block.ParseTx(b.GetTransactions()[loc.Index], 0)
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	return &pb.ProcessedTransaction{BlockNumber: loc.Block, Index: loc.Index, Envelope: tx.Envelope, Result: b.GetResults()[loc.Index]}, nil
}

// GetChainInfo implements pb.DeliverServer.
func (s *services) GetChainInfo(ctx context.Context, req *pb.ChainInfoRequest) (*pb.ChainInfo, error) {
	c, _, err := s.channel(ctx, req.GetChannel())
	if err != nil {
		return nil, err
	}
	if req.GetReadIndex() {
		h, err := c.ReadIndex(ctx)
		if errors.Is(err, chain.ErrNotLeader) {
			return nil, status.Errorf(codes.FailedPrecondition, "node %s does not lead channel %s", s.n.ID(), c.Name())
		}
		if err != nil {
			return nil, status.Error(codes.Unavailable, err.Error())
		}
		info := c.Info()
		info.Height = h
		return info, nil
	}
	return c.Info(), nil
}

// admin checks that the TLS client is an administrator of this node's own
// organisation.
func (s *services) admin(ctx context.Context) error {
	cert, err := peerCertificate(ctx)
	if err != nil {
		return status.Error(codes.Unauthenticated, err.Error())
	}
	id, err := s.n.ownMSP.Validate(cert.Raw, timeNow())
	if err != nil || id.Role() != identity.RoleAdmin {
		return status.Errorf(codes.PermissionDenied, "only administrators of %s may do this", s.n.ownMSP.ID())
	}
	return nil
}

// JoinChannel implements pb.AdminServer.
func (s *services) JoinChannel(ctx context.Context, req *pb.JoinChannelRequest) (*pb.JoinChannelResponse, error) {
	if err := s.admin(ctx); err != nil {
		return nil, err
	}
	c, err := s.n.Join(req.GetGenesis())
	if err != nil {
		return nil, status.Error(codes.FailedPrecondition, err.Error())
	}
	return &pb.JoinChannelResponse{Channel: c.Name()}, nil
}

// ListChannels implements pb.AdminServer.
func (s *services) ListChannels(ctx context.Context, _ *pb.ListChannelsRequest) (*pb.ListChannelsResponse, error) {
	if _, err := peerCertificate(ctx); err != nil {
		return nil, status.Error(codes.Unauthenticated, err.Error())
	}
	return &pb.ListChannelsResponse{Channels: s.n.Channels()}, nil
}

// Health implements pb.AdminServer. Any authenticated client may ask.
func (s *services) Health(ctx context.Context, _ *pb.HealthRequest) (*pb.HealthResponse, error) {
	if _, err := peerCertificate(ctx); err != nil {
		return nil, status.Error(codes.Unauthenticated, err.Error())
	}
	resp := &pb.HealthResponse{NodeId: s.n.ID(), Alerts: s.n.Alerts()}
	for _, name := range s.n.Channels() {
		if c, ok := s.n.Chain(name); ok {
			resp.Channels = append(resp.Channels, c.Info())
		}
	}
	return resp, nil
}

// Forward implements pb.ClusterServer: only nodes of the channel may call it.
func (s *services) Forward(ctx context.Context, req *pb.ForwardRequest) (*pb.ForwardResponse, error) {
	c, id, err := s.channel(ctx, req.GetChannel())
	if err != nil {
		return nil, err
	}
	if !c.Config().IsNode(id) {
		return nil, status.Errorf(codes.PermissionDenied, "%s is not a node of channel %s", id, c.Name())
	}
	resp := &pb.ForwardResponse{Errors: make([]string, len(req.GetEnvelopes()))}
	for i, err := range c.Enqueue(req.GetEnvelopes()) {
		if err != nil {
			resp.Errors[i] = err.Error()
		}
	}
	return resp, nil
}

// stageStatus turns a submission error into a gRPC status carrying an
// ErrorDetail with the stage, transaction ID and validation code.
func stageStatus(stage, txID string, err error) error {
	code := codes.Internal
	detail := &pb.ErrorDetail{TxId: txID, Stage: stage, Message: err.Error()}
	var ve *block.ValidationError
	switch {
	case errors.As(err, &ve):
		detail.Code = ve.Code
		detail.Message = ve.Msg
		switch ve.Code {
		case pb.ValidationCode_BAD_SIGNATURE, pb.ValidationCode_UNKNOWN_CREATOR:
			code = codes.Unauthenticated
		case pb.ValidationCode_ACCESS_DENIED:
			code = codes.PermissionDenied
		case pb.ValidationCode_DUPLICATE_TXID:
			code = codes.AlreadyExists
		case pb.ValidationCode_CHAINCODE_ERROR:
			code = codes.Aborted
		case pb.ValidationCode_UNKNOWN_CHAINCODE, pb.ValidationCode_WRONG_CHANNEL:
			code = codes.NotFound
		default:
			code = codes.InvalidArgument
		}
	case errors.Is(err, chain.ErrNoLeader), errors.Is(err, chain.ErrLeaderUnreachable), errors.Is(err, chain.ErrQueueFull), errors.Is(err, chain.ErrHalted),
		errors.Is(err, chain.ErrNotLeader), errors.Is(err, chain.ErrCatchingUp):
		code = codes.Unavailable
	case errors.Is(err, context.DeadlineExceeded):
		code = codes.DeadlineExceeded
	case errors.Is(err, context.Canceled):
		code = codes.Canceled
	}
	if stage == "submit" && !chain.NotOrdered(err) {
		// The leader may have queued it: say so, so the client does not
		// report "not ordered".
		detail.OutcomeUnknown = true
	}
	st := status.New(code, err.Error())
	if withDetail, derr := st.WithDetails(detail); derr == nil {
		st = withDetail
	}
	return st.Err()
}
