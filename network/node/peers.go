package node

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"

	"github.com/medshare/medshare/network/chain"
	"github.com/medshare/medshare/network/channel"
	"github.com/medshare/medshare/network/identity"
	"github.com/medshare/medshare/network/pb"
)

// peerPool keeps one gRPC connection per channel and peer node,
// authenticated both ways with the nodes' TLS certificates. It implements
// chain.Forwarder.
type peerPool struct {
	n     *Node
	mu    sync.Mutex
	conns map[string]*grpc.ClientConn // channel 0x00 node ID → connection
}

func newPeerPool(n *Node) *peerPool { return &peerPool{n: n, conns: make(map[string]*grpc.ClientConn)} }

// conn returns the connection to the node info describes as a node of
// channel ch. The server is authenticated against that channel's
// configuration (see verifyNode), which is why connections are per channel.
func (p *peerPool) conn(ch string, info *pb.NodeInfo) (*grpc.ClientConn, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	key := ch + "\x00" + info.GetId()
	if c, ok := p.conns[key]; ok {
		return c, nil
	}
	id := info.GetId()
	cfg := &tls.Config{
		Certificates: []tls.Certificate{p.n.tlsCert},
		// The server must be the channel's node named id; the channel's
		// CAs, not the system roots, are the trust anchors.
		InsecureSkipVerify: true,
		MinVersion:         tls.VersionTLS13,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("no server certificate")
			}
			return p.n.verifyNode(ch, id, cs.PeerCertificates[0].Raw)
		},
	}
	c, err := grpc.NewClient(info.GetApiAddress(),
		grpc.WithTransportCredentials(credentials.NewTLS(cfg)),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxMessageSize), grpc.MaxCallSendMsgSize(MaxMessageSize)),
	)
	if err != nil {
		return nil, fmt.Errorf("node: dial %s: %w", id, err)
	}
	p.conns[key] = c
	return c, nil
}

// verifyNode checks that a TLS certificate is that of node id of channel
// ch: issued by the CA of the organisation the channel's configuration says
// runs the node, with the node role, and the node ID as its common name.
// The common name alone proves nothing: every member organisation's CA —
// any member's administrator — can issue a certificate with any name.
func (n *Node) verifyNode(ch, id string, der []byte) error {
	c, ok := n.Chain(ch)
	if !ok {
		return fmt.Errorf("channel %s is not open on this node", ch)
	}
	return nodeCertificate(c.Config(), id, der, timeNow())
}

// nodeCertificate is verifyNode for a channel configuration.
func nodeCertificate(cfg *channel.Config, id string, der []byte, now time.Time) error {
	info, ok := cfg.Node(id)
	if !ok {
		return fmt.Errorf("%s is not a node of channel %s", id, cfg.Name())
	}
	msp, ok := cfg.Membership().MSP(info.GetMspId())
	if !ok {
		return fmt.Errorf("node %s's organisation %s is not a member of channel %s", id, info.GetMspId(), cfg.Name())
	}
	ident, err := msp.Validate(der, now)
	if err != nil {
		return fmt.Errorf("expected node %s of %s: %w", id, info.GetMspId(), err)
	}
	if ident.Role() != identity.RoleNode || ident.Name() != id {
		return fmt.Errorf("expected node %s of %s, reached %s with role %s", id, info.GetMspId(), ident, ident.Role())
	}
	return nil
}

// Forward implements chain.Forwarder.
func (p *peerPool) Forward(ctx context.Context, leader *pb.NodeInfo, ch string, envs []*pb.Envelope) ([]error, error) {
	c, err := p.conn(ch, leader)
	if err != nil {
		return nil, err
	}
	resp, err := pb.NewClusterClient(c).Forward(ctx, &pb.ForwardRequest{Channel: ch, Envelopes: envs})
	if err != nil {
		return nil, fmt.Errorf("forward to %s: %w", leader.GetId(), err)
	}
	errs := make([]error, len(envs))
	for i := range envs {
		if i >= len(resp.GetErrors()) {
			errs[i] = chain.ErrNoLeader
			continue
		}
		switch msg := resp.GetErrors()[i]; msg {
		case "":
		case chain.ErrNotLeader.Error():
			errs[i] = chain.ErrNoLeader
		case chain.ErrQueueFull.Error():
			errs[i] = chain.ErrQueueFull
		default:
			errs[i] = errors.New(msg)
		}
	}
	return errs, nil
}

func (p *peerPool) deliver(ch string, info *pb.NodeInfo) (pb.DeliverClient, error) {
	c, err := p.conn(ch, info)
	if err != nil {
		return nil, err
	}
	return pb.NewDeliverClient(c), nil
}

func (p *peerPool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = map[string]*grpc.ClientConn{}
}

// peerCertificate returns the TLS client certificate of a request.
func peerCertificate(ctx context.Context) (*x509.Certificate, error) {
	pr, ok := peer.FromContext(ctx)
	if !ok {
		return nil, errors.New("no peer")
	}
	info, ok := pr.AuthInfo.(credentials.TLSInfo)
	if !ok || len(info.State.PeerCertificates) == 0 {
		return nil, errors.New("no client certificate")
	}
	return info.State.PeerCertificates[0], nil
}

// compareLoop periodically compares this node's blocks and state with each
// peer's, per channel, and raises an alert on any difference.
func (n *Node) compareLoop() {
	defer n.wg.Done()
	if n.cfg.CompareInterval <= 0 {
		return
	}
	t := time.NewTicker(n.cfg.CompareInterval)
	defer t.Stop()
	for {
		select {
		case <-n.stop:
			return
		case <-t.C:
		}
		for _, name := range n.Channels() {
			c, ok := n.Chain(name)
			if !ok {
				continue
			}
			for _, info := range c.Config().Nodes() {
				if info.GetId() == n.ID() {
					continue
				}
				n.compareWith(c, info)
			}
		}
	}
}

// compareWith checks the last block both nodes hold: same hash, and — when
// both are at the same height — the same state hash.
func (n *Node) compareWith(c *chain.Chain, info *pb.NodeInfo) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	cl, err := n.peers.deliver(c.Name(), info)
	if err != nil {
		return
	}
	theirs, err := cl.GetChainInfo(ctx, &pb.ChainInfoRequest{Channel: c.Name()})
	if err != nil {
		return // unreachable peers are Raft's business, not an inconsistency
	}
	mine := c.Info()
	h := min(mine.GetHeight(), theirs.GetHeight())
	if h == 0 {
		return
	}
	if mine.GetHeight() == theirs.GetHeight() {
		if string(mine.GetCurrentHash()) != string(theirs.GetCurrentHash()) || string(mine.GetStateHash()) != string(theirs.GetStateHash()) {
			n.alert("block or state hash differs from peer", "channel", c.Name(), "block", h-1, "peer", info.GetId(),
				"mine", fmt.Sprintf("%x/%x", mine.GetCurrentHash()[:8], mine.GetStateHash()[:8]),
				"theirs", fmt.Sprintf("%x/%x", theirs.GetCurrentHash()[:min(8, len(theirs.GetCurrentHash()))], theirs.GetStateHash()[:min(8, len(theirs.GetStateHash()))]))
		}
		return
	}
	hdr, err := cl.GetBlock(ctx, &pb.GetBlockRequest{Channel: c.Name(), Number: h - 1, HeaderOnly: true})
	if err != nil {
		return
	}
	own, err := c.Store().Block(h - 1)
	if err != nil {
		return
	}
	if string(blockHash(own)) != string(blockHash(hdr)) {
		n.alert("block hash differs from peer", "channel", c.Name(), "block", h-1, "peer", info.GetId())
	}
}
