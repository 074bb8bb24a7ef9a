package node

import (
	"context"
	"errors"
	"io"

	"github.com/medshare/medshare/network/pb"
)

// chainPeers implements chain.Peers over the node API of the channel's
// other nodes, through the node's peer connections (mutual TLS with the
// node's own certificate, each end checked against the channel's MSPs).
type chainPeers struct{ n *Node }

// ChainInfo implements chain.Peers.
func (p chainPeers) ChainInfo(ctx context.Context, node *pb.NodeInfo, channel string) (*pb.ChainInfo, error) {
	cl, err := p.n.peers.deliver(channel, node)
	if err != nil {
		return nil, err
	}
	return cl.GetChainInfo(ctx, &pb.ChainInfoRequest{Channel: channel})
}

// ReadIndex implements chain.Peers.
func (p chainPeers) ReadIndex(ctx context.Context, leader *pb.NodeInfo, channel string) (uint64, error) {
	cl, err := p.n.peers.deliver(channel, leader)
	if err != nil {
		return 0, err
	}
	info, err := cl.GetChainInfo(ctx, &pb.ChainInfoRequest{Channel: channel, ReadIndex: true})
	if err != nil {
		return 0, err
	}
	return info.GetHeight(), nil
}

// Blocks implements chain.Peers with the Deliver service's block stream.
func (p chainPeers) Blocks(ctx context.Context, node *pb.NodeInfo, channel string, from, to uint64, fn func(*pb.Block) error) error {
	cl, err := p.n.peers.deliver(channel, node)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := cl.Blocks(ctx, &pb.BlocksRequest{Channel: channel, Start: from})
	if err != nil {
		return err
	}
	for next := from; next < to; next++ {
		b, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil // the peer holds no more
		}
		if err != nil {
			return err
		}
		if b.GetHeader().GetNumber() != next {
			return errors.New("node: peer sent blocks out of order")
		}
		if err := fn(b); err != nil {
			return err
		}
	}
	return nil
}
