// Package node is a medshare ledger node: the process that serves the node
// API over gRPC with mutual TLS, runs every channel it joined (package
// chain), forwards submissions to channel leaders, and compares its block and
// state hashes with its peers.
package node

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"

	"github.com/medshare/medshare/network/block"
	"github.com/medshare/medshare/network/chain"
	"github.com/medshare/medshare/network/channel"
	"github.com/medshare/medshare/network/consensus"
	"github.com/medshare/medshare/network/executor"
	"github.com/medshare/medshare/network/identity"
	"github.com/medshare/medshare/network/pb"
)

// MaxMessageSize bounds gRPC messages (a block, a batch of forwarded
// transactions).
const MaxMessageSize = 64 << 20

// maxAlerts bounds the alerts a node remembers for its health report.
const maxAlerts = 100

// Node is a running ledger node.
type Node struct {
	cfg      Config
	log      *slog.Logger
	signer   *identity.Signer
	tlsCert  tls.Certificate
	ownMSP   *identity.MSP
	registry executor.Registry

	mux    *consensus.Mux
	server *grpc.Server
	apiLn  net.Listener
	peers  *peerPool

	mu     sync.RWMutex
	chains map[string]*chain.Chain
	alerts []string

	stop     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup
}

// New loads the node's identity, reopens the channels it joined before and
// starts listening. Serve must be called to handle requests.
func New(cfg Config, registry executor.Registry, log *slog.Logger) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	dir := identity.Dir(cfg.Identity)
	signer, err := dir.LoadSigner()
	if err != nil {
		return nil, fmt.Errorf("node identity: %w", err)
	}
	if signer.Role() != identity.RoleNode {
		return nil, fmt.Errorf("node identity %s has role %s, want node", signer, signer.Role())
	}
	tlsCert, err := tls.LoadX509KeyPair(dir.TLSCertFile(), dir.TLSKeyFile())
	if err != nil {
		return nil, fmt.Errorf("node TLS identity: %w", err)
	}
	ca, err := identity.ReadCertFile(dir.CAFile())
	if err != nil {
		return nil, fmt.Errorf("node CA: %w", err)
	}
	ownMSP, err := identity.NewMSP(signer.MSPID(), ca)
	if err != nil {
		return nil, err
	}
	if _, err := ownMSP.Validate(signer.Bytes(), time.Now()); err != nil {
		return nil, fmt.Errorf("node identity is not valid for its own MSP: %w", err)
	}
	n := &Node{
		cfg:      cfg,
		log:      log.With("node", signer.Name()),
		signer:   signer,
		tlsCert:  tlsCert,
		ownMSP:   ownMSP,
		registry: registry,
		chains:   make(map[string]*chain.Chain),
		stop:     make(chan struct{}),
	}
	n.peers = newPeerPool(n)
	n.mux, err = consensus.Listen(cfg.ClusterAddress, tlsCert, n.authorizeCluster, n.log)
	if err != nil {
		return nil, err
	}
	if err := n.openChannels(); err != nil {
		n.closeChains()
		n.mux.Close()
		return nil, err
	}
	n.apiLn, err = net.Listen("tcp", cfg.APIAddress)
	if err != nil {
		n.closeChains()
		n.mux.Close()
		return nil, fmt.Errorf("node: listen %s: %w", cfg.APIAddress, err)
	}
	n.server = grpc.NewServer(
		grpc.Creds(credentials.NewTLS(n.serverTLS())),
		grpc.MaxRecvMsgSize(MaxMessageSize),
		grpc.MaxSendMsgSize(MaxMessageSize),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 5 * time.Second, PermitWithoutStream: true}),
	)
	svc := &services{n: n}
	pb.RegisterGatewayServer(n.server, svc)
	pb.RegisterDeliverServer(n.server, svc)
	pb.RegisterAdminServer(n.server, svc)
	pb.RegisterClusterServer(n.server, svc)
	return n, nil
}

// ID is the node's ID: its certificates' common name.
func (n *Node) ID() string { return n.signer.Name() }

// APIAddr is the address the API listens on.
func (n *Node) APIAddr() net.Addr { return n.apiLn.Addr() }

func (n *Node) channelsDir() string { return filepath.Join(n.cfg.DataDir, "channels") }

func (n *Node) chainOptions(name string) chain.Options {
	return chain.Options{
		Dir:       filepath.Join(n.channelsDir(), name),
		Signer:    n.signer,
		Registry:  n.registry,
		Raft:      n.cfg.Consensus(),
		Mux:       n.mux,
		Forwarder: n.peers,
		Peers:     chainPeers{n},
		Log:       n.log,
		Now:       n.clock(),
	}
}

// clock is the node's clock for its channels: the system's, unless
// FaultClockOffset shifts it (nil means the system's).
func (n *Node) clock() func() time.Time {
	if off := n.cfg.FaultClockOffset; off != 0 {
		return func() time.Time { return time.Now().Add(off) }
	}
	return nil
}

// openChannels restarts every channel found in the data directory.
func (n *Node) openChannels() error {
	entries, err := os.ReadDir(n.channelsDir())
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("node: %w", err)
	}
	for _, e := range entries {
		if !e.IsDir() || !block.ValidChannelName(e.Name()) {
			continue
		}
		c, err := chain.Open(n.chainOptions(e.Name()))
		if err != nil {
			return fmt.Errorf("node: reopen channel %s: %w", e.Name(), err)
		}
		n.mu.Lock()
		n.chains[c.Name()] = c
		n.mu.Unlock()
		n.log.Info("channel reopened", "channel", c.Name(), "height", c.Store().Height())
	}
	return nil
}

// Join makes the node a member of a channel from its genesis block.
func (n *Node) Join(genesis *pb.Block) (*chain.Chain, error) {
	name := genesis.GetHeader().GetChannel()
	if !block.ValidChannelName(name) {
		return nil, fmt.Errorf("node: invalid channel name %q", name)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, ok := n.chains[name]; ok {
		return nil, fmt.Errorf("node: already a member of channel %s", name)
	}
	c, err := chain.Join(genesis, n.chainOptions(name))
	if err != nil {
		return nil, err
	}
	n.chains[name] = c
	n.log.Info("joined channel", "channel", name)
	return c, nil
}

// Chain returns a joined channel.
func (n *Node) Chain(name string) (*chain.Chain, bool) {
	n.mu.RLock()
	defer n.mu.RUnlock()
	c, ok := n.chains[name]
	return c, ok
}

// Channels lists the joined channels, sorted.
func (n *Node) Channels() []string {
	n.mu.RLock()
	defer n.mu.RUnlock()
	names := make([]string, 0, len(n.chains))
	for name := range n.chains {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// configs returns the configurations of the joined channels.
func (n *Node) configs() []*channel.Config {
	n.mu.RLock()
	defer n.mu.RUnlock()
	out := make([]*channel.Config, 0, len(n.chains))
	for _, c := range n.chains {
		out = append(out, c.Config())
	}
	return out
}

// alert records and logs a cross-node inconsistency.
func (n *Node) alert(msg string, args ...any) {
	n.log.Error("ALERT: "+msg, args...)
	var b strings.Builder
	b.WriteString(time.Now().UTC().Format(time.RFC3339) + " " + msg)
	for i := 0; i+1 < len(args); i += 2 {
		fmt.Fprintf(&b, " %v=%v", args[i], args[i+1])
	}
	line := b.String()
	n.mu.Lock()
	n.alerts = append(n.alerts, line)
	if len(n.alerts) > maxAlerts {
		n.alerts = n.alerts[len(n.alerts)-maxAlerts:]
	}
	n.mu.Unlock()
}

// Alerts returns the remembered alerts, oldest first.
func (n *Node) Alerts() []string {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return append([]string(nil), n.alerts...)
}

// authorizeCluster admits a Raft peer for a channel.
func (n *Node) authorizeCluster(ch, addr string, der []byte) error {
	c, ok := n.Chain(ch)
	if !ok {
		return fmt.Errorf("channel %s is not open on this node", ch)
	}
	return chain.AuthorizeNode(c.Config(), addr, der, time.Now())
}

// identify finds which known organisation issued a TLS client certificate:
// the node's own, or a member of a joined channel.
func (n *Node) identify(der []byte) (*identity.Identity, error) {
	now := time.Now()
	if id, err := n.ownMSP.Validate(der, now); err == nil {
		return id, nil
	}
	for _, cfg := range n.configs() {
		if id, err := cfg.Membership().Identify(der, now); err == nil {
			return id, nil
		}
	}
	return nil, errors.New("certificate not issued by a known organisation")
}

func (n *Node) serverTLS() *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{n.tlsCert},
		// Client certificates are verified against the MSPs of the node's
		// own organisation and of its channels, which change as it joins
		// channels; the system roots play no part.
		ClientAuth: tls.RequireAnyClientCert,
		MinVersion: tls.VersionTLS13,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("client certificate required")
			}
			_, err := n.identify(cs.PeerCertificates[0].Raw)
			return err
		},
	}
}

// Serve handles API requests until Stop.
func (n *Node) Serve() error {
	n.wg.Add(1)
	go n.compareLoop()
	n.log.Info("node serving", "api", n.apiLn.Addr().String(), "cluster", n.mux.Addr().String(), "channels", n.Channels())
	err := n.server.Serve(n.apiLn)
	if errors.Is(err, grpc.ErrServerStopped) {
		return nil
	}
	return err
}

// Stop stops serving, closes every channel and releases the listeners.
func (n *Node) Stop() {
	n.stopOnce.Do(func() {
		close(n.stop)
		done := make(chan struct{})
		go func() { n.server.GracefulStop(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			n.server.Stop()
		}
		n.wg.Wait()
		n.peers.close()
		n.closeChains()
		n.mux.Close()
		n.log.Info("node stopped")
	})
}

func (n *Node) closeChains() {
	n.mu.Lock()
	chains := n.chains
	n.chains = map[string]*chain.Chain{}
	n.mu.Unlock()
	for _, c := range chains {
		if err := c.Close(); err != nil {
			n.log.Warn("closing channel", "channel", c.Name(), "err", err)
		}
	}
}

// timeNow is the node's clock for certificate validity checks.
func timeNow() time.Time { return time.Now() }
