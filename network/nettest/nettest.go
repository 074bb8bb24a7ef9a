// Package nettest starts real medshare networks for integration tests and
// benchmarks: node processes of the medshare binary on loopback, with
// generated crypto material, channels created and joined through the admin
// API, and chaincode enabled through the lifecycle. Nodes can be killed with
// SIGKILL and restarted from their data.
package nettest

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"gopkg.in/yaml.v3"

	"github.com/medshare/medshare/network/channel"
	"github.com/medshare/medshare/network/client"
	"github.com/medshare/medshare/network/cryptogen"
	"github.com/medshare/medshare/network/identity"
	"github.com/medshare/medshare/network/lifecycle"
	"github.com/medshare/medshare/network/node"
	"github.com/medshare/medshare/network/pb"
)

// Chaincode is a chaincode to enable on channels when the network starts.
type Chaincode struct {
	Name     string
	Channels []string
	InitFn   string
	InitArgs [][]byte
}

// Options describe a network.
type Options struct {
	// Bin is the medshare binary the nodes run.
	Bin string
	// Dir holds everything the network writes.
	Dir string
	// Channels to create; default main, side-high, side-medium, side-low.
	Channels []string
	// Chaincodes to enable; default kv on every channel.
	Chaincodes []Chaincode
	// Batch sets the channels' block cutting; zero values take defaults.
	Batch *pb.BatchConfig
	// Users adds client identities, per organisation index, with attributes.
	Users map[int][]cryptogen.User
	// Raft overrides the nodes' Raft settings when non-zero.
	Raft node.RaftConfig
	// CompareInterval for the nodes' cross-checks (default 1s).
	CompareInterval time.Duration
	// LogLevel of the nodes (default info).
	LogLevel string
	// Debug gives every node a loopback pprof endpoint (Node.Debug).
	Debug bool
	// Env adds variables (KEY=value) to the nodes' environment, e.g.
	// GOMAXPROCS when the nodes share a machine's cores.
	Env []string
	// ACLProfile, when set, is a channel profile (network/configtx.yaml)
	// whose access rules the channels get.
	ACLProfile string
	// Crypto, when set, is the consortium's crypto configuration (as
	// network/crypto-config.yaml): its organisations, one node each, and
	// their users replace Orgs and Users. Start adds no "client" user then.
	Crypto *cryptogen.Config
	// Addresses, when set, fix each node's API and cluster addresses (one
	// entry per organisation, in order) instead of free loopback ports:
	// scripts/network.sh's well-known ports.
	Addresses []NodeAddresses
}

// NodeAddresses are a node's listening addresses (host:port).
type NodeAddresses struct {
	API, Cluster string
}

// Org describes the fixed three organisations.
var Orgs = []cryptogen.Organization{
	{Name: "hospital1", MSPID: "Hospital1MSP", Domain: "hospital1.example"},
	{Name: "hospital2", MSPID: "Hospital2MSP", Domain: "hospital2.example"},
	{Name: "research", MSPID: "ResearchMSP", Domain: "research.example"},
}

// Network is a running network.
type Network struct {
	Opts    Options
	Crypto  string
	Config  *cryptogen.Config
	Nodes   []*Node
	Genesis map[string]*pb.Block

	mu    sync.Mutex
	conns map[string]*grpc.ClientConn
}

// Node is one node process.
type Node struct {
	Index   int
	ID      string
	Org     cryptogen.Organization
	API     string
	Cluster string
	// Debug is the node's pprof address when Options.Debug is set.
	Debug   string
	Dir     string
	LogPath string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// Pid returns the node's process id, or 0 when it is not running.
func (nd *Node) Pid() int {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	if nd.cmd == nil || nd.cmd.Process == nil {
		return 0
	}
	return nd.cmd.Process.Pid
}

// DefaultChannels are the channels of the medshare network.
var DefaultChannels = []string{"main", "side-high", "side-medium", "side-low"}

// freePorts returns n distinct free loopback addresses: it holds all n
// listeners open at once, so the kernel cannot hand out one port twice.
func freePorts(n int) ([]string, error) {
	var addrs []string
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close()
		addrs = append(addrs, l.Addr().String())
	}
	return addrs, nil
}

// Main is a TestMain for packages whose tests start networks: it builds the
// medshare binary once into a temporary directory, stores its path in *bin,
// runs the tests and exits with their status.
func Main(m interface{ Run() int }, bin *string) {
	dir, err := os.MkdirTemp("", "medshare-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if *bin, err = BuildBinary(dir); err != nil {
		os.RemoveAll(dir)
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// BuildBinary builds the medshare binary into dir and returns its path.
func BuildBinary(dir string) (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("nettest: go env GOMOD: %w", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(out)))
	bin := filepath.Join(dir, "medshare")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/medshare")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("nettest: build medshare: %v\n%s", err, b)
	}
	return bin, nil
}

// Start generates crypto material, starts three nodes (one per
// organisation), creates and joins the channels, and enables the chaincode.
func Start(ctx context.Context, opts Options) (*Network, error) {
	if opts.Bin == "" || opts.Dir == "" {
		return nil, errors.New("nettest: Bin and Dir are required")
	}
	if opts.Channels == nil {
		opts.Channels = DefaultChannels
	}
	if opts.Chaincodes == nil {
		opts.Chaincodes = []Chaincode{{Name: "kv", Channels: opts.Channels}}
	}
	if opts.CompareInterval == 0 {
		opts.CompareInterval = time.Second
	}
	if opts.LogLevel == "" {
		opts.LogLevel = "info"
	}
	n := &Network{Opts: opts, Crypto: filepath.Join(opts.Dir, "crypto"), Genesis: map[string]*pb.Block{}}
	cfg := &cryptogen.Config{Authority: "attribute-authority"}
	if opts.Crypto != nil {
		cfg = opts.Crypto
		for _, o := range cfg.Organizations {
			if len(o.Nodes) != 1 || !slices.Contains(o.Admins, "admin") {
				return nil, fmt.Errorf("nettest: organisation %s needs exactly one node and an admin", o.Name)
			}
		}
	} else {
		for i, o := range Orgs {
			o.Nodes = []cryptogen.Node{{Name: fmt.Sprintf("node%d", i), Hosts: []string{"127.0.0.1", "localhost"}}}
			o.Admins = []string{"admin"}
			o.Users = append([]cryptogen.User{{Name: "client"}}, opts.Users[i]...)
			cfg.Organizations = append(cfg.Organizations, o)
		}
	}
	n.Config = cfg
	if err := cryptogen.Generate(cfg, n.Crypto, rand.Reader, time.Now()); err != nil {
		return nil, err
	}
	perNode := 2 // API and cluster
	if opts.Debug {
		perNode++
	}
	ports, err := freePorts(perNode * len(cfg.Organizations))
	if err != nil {
		return nil, err
	}
	if opts.Addresses != nil && len(opts.Addresses) != len(cfg.Organizations) {
		return nil, fmt.Errorf("nettest: %d node addresses for %d organisations", len(opts.Addresses), len(cfg.Organizations))
	}
	for i, o := range cfg.Organizations {
		p := ports[i*perNode:]
		if opts.Addresses != nil {
			p = append([]string{opts.Addresses[i].API, opts.Addresses[i].Cluster}, p[2:]...)
		}
		dir := filepath.Join(opts.Dir, fmt.Sprintf("node%d", i))
		nd := &Node{Index: i, ID: cryptogen.NodeID(o, o.Nodes[0].Name), Org: o, API: p[0], Cluster: p[1], Dir: dir, LogPath: filepath.Join(dir, "node.log")}
		if opts.Debug {
			nd.Debug = p[2]
		}
		if err := n.writeNodeConfig(nd); err != nil {
			return nil, err
		}
		n.Nodes = append(n.Nodes, nd)
	}
	for _, nd := range n.Nodes {
		if err := n.startNode(nd); err != nil {
			n.Stop()
			return nil, err
		}
	}
	for _, nd := range n.Nodes {
		if err := n.WaitReady(ctx, nd.Index); err != nil {
			n.Stop()
			return nil, err
		}
	}
	for _, ch := range opts.Channels {
		if err := n.CreateChannel(ctx, ch); err != nil {
			n.Stop()
			return nil, err
		}
	}
	if err := n.DeployAll(ctx, opts.Chaincodes); err != nil {
		n.Stop()
		return nil, err
	}
	return n, nil
}

func (n *Network) writeNodeConfig(nd *Node) error {
	c := node.Default()
	c.Identity = string(cryptogen.NodeDir(n.Crypto, nd.Org, nd.Org.Nodes[0].Name))
	c.APIAddress, c.ClusterAddress = nd.API, nd.Cluster
	c.DataDir = filepath.Join(nd.Dir, "data")
	c.CompareInterval = n.Opts.CompareInterval
	c.LogLevel = n.Opts.LogLevel
	c.DebugAddress = nd.Debug
	r := n.Opts.Raft
	for dst, src := range map[*time.Duration]time.Duration{
		&c.Raft.HeartbeatTimeout: r.HeartbeatTimeout, &c.Raft.ElectionTimeout: r.ElectionTimeout,
		&c.Raft.LeaderLeaseTimeout: r.LeaderLeaseTimeout, &c.Raft.CommitTimeout: r.CommitTimeout,
	} {
		if src != 0 {
			*dst = src
		}
	}
	if r.SnapshotThreshold != 0 {
		c.Raft.SnapshotThreshold = r.SnapshotThreshold
	}
	if r.TrailingLogs != 0 {
		c.Raft.TrailingLogs = r.TrailingLogs
	}
	if r.SnapshotInterval != 0 {
		c.Raft.SnapshotInterval = r.SnapshotInterval
	}
	if err := c.Validate(); err != nil {
		return err
	}
	raw, err := yaml.Marshal(c)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(nd.Dir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(nd.Dir, "node.yaml"), raw, 0o644)
}

func (n *Network) startNode(nd *Node) error {
	logf, err := os.OpenFile(nd.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(n.Opts.Bin, "node", "--config", filepath.Join(nd.Dir, "node.yaml"))
	cmd.Stdout, cmd.Stderr = logf, logf
	bindToParent(cmd)
	if len(n.Opts.Env) > 0 {
		cmd.Env = append(os.Environ(), n.Opts.Env...)
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("nettest: start %s: %w", nd.ID, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); logf.Close(); close(done) }()
	nd.mu.Lock()
	nd.cmd, nd.done = cmd, done
	nd.mu.Unlock()
	return nil
}

// Running reports whether node i's process is alive.
func (n *Network) Running(i int) bool {
	nd := n.Nodes[i]
	nd.mu.Lock()
	defer nd.mu.Unlock()
	if nd.done == nil {
		return false
	}
	select {
	case <-nd.done:
		return false
	default:
		return true
	}
}

// Kill stops node i with SIGKILL, as a crash would.
func (n *Network) Kill(i int) error { return n.signal(i, syscall.SIGKILL) }

// Pause stops node i with SIGSTOP: it keeps its sockets and memory but
// does nothing, as a node stalled by its host (swapping, a VM pause, a long
// GC) would. Resume continues it.
func (n *Network) Pause(i int) error { return n.sendOnly(i, syscall.SIGSTOP) }

// Resume continues node i after Pause.
func (n *Network) Resume(i int) error { return n.sendOnly(i, syscall.SIGCONT) }

func (n *Network) sendOnly(i int, sig syscall.Signal) error {
	nd := n.Nodes[i]
	nd.mu.Lock()
	cmd := nd.cmd
	nd.mu.Unlock()
	if cmd == nil {
		return fmt.Errorf("nettest: node %d was never started", i)
	}
	return cmd.Process.Signal(sig)
}

// Terminate stops node i with SIGTERM and waits for it to exit.
func (n *Network) Terminate(i int) error { return n.signal(i, syscall.SIGTERM) }

func (n *Network) signal(i int, sig syscall.Signal) error {
	nd := n.Nodes[i]
	nd.mu.Lock()
	cmd, done := nd.cmd, nd.done
	nd.mu.Unlock()
	if cmd == nil {
		return nil
	}
	if err := cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	if sig == syscall.SIGTERM {
		cmd.Process.Signal(syscall.SIGCONT) // a paused node must run to exit
	}
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		cmd.Process.Kill()
		<-done
	}
	return nil
}

// Restart starts node i again from its data and waits until it serves.
func (n *Network) Restart(ctx context.Context, i int) error {
	if n.Running(i) {
		return fmt.Errorf("nettest: node %d is running", i)
	}
	if err := n.startNode(n.Nodes[i]); err != nil {
		return err
	}
	return n.WaitReady(ctx, i)
}

// Stop terminates every node and closes client connections.
func (n *Network) Stop() {
	n.mu.Lock()
	for _, c := range n.conns {
		c.Close()
	}
	n.conns = nil
	n.mu.Unlock()

	var wg sync.WaitGroup
	for i := range n.Nodes {
		wg.Add(1)
		go func() { defer wg.Done(); n.Terminate(i) }()
	}
	wg.Wait()
}

// Logs returns node i's log, for test failure messages.
func (n *Network) Logs(i int) string {
	b, _ := os.ReadFile(n.Nodes[i].LogPath)
	return string(b)
}

// Identity returns the identity directory of user (or "admin") of org i.
func (n *Network) Identity(org int, user string) identity.Dir {
	return cryptogen.UserDir(n.Crypto, n.Config.Organizations[org], user)
}

// Dial connects to node i as a user of org. Connections are cached per node
// and identity; they reconnect by themselves after a node restarts.
func (n *Network) Dial(i, org int, user string) (*grpc.ClientConn, *identity.Signer, error) {
	dir := n.Identity(org, user)
	s, err := dir.LoadSigner()
	if err != nil {
		return nil, nil, err
	}
	key := fmt.Sprintf("%d/%d/%s", i, org, user)
	n.mu.Lock()
	defer n.mu.Unlock()
	if c, ok := n.conns[key]; ok {
		return c, s, nil
	}
	conn, err := client.DialIdentity(n.Nodes[i].API, dir, n.roots()...)
	if err != nil {
		return nil, nil, err
	}
	if n.conns == nil {
		n.conns = map[string]*grpc.ClientConn{}
	}
	n.conns[key] = conn
	return conn, s, nil
}

// NewConn opens a fresh, uncached connection to node i as a user of org;
// the caller closes it. Load generators use one per client.
func (n *Network) NewConn(i, org int, user string) (*grpc.ClientConn, *identity.Signer, error) {
	dir := n.Identity(org, user)
	s, err := dir.LoadSigner()
	if err != nil {
		return nil, nil, err
	}
	conn, err := client.DialIdentity(n.Nodes[i].API, dir, n.roots()...)
	return conn, s, err
}

func (n *Network) roots() []*x509.Certificate {
	var out []*x509.Certificate
	for _, o := range n.Config.Organizations {
		if c, err := identity.ReadCertFile(cryptogen.CAFile(n.Crypto, o)); err == nil {
			out = append(out, c)
		}
	}
	return out
}

// Gateway connects to node i as a user of org.
func (n *Network) Gateway(i, org int, user string, opts ...client.ConnectOption) (*client.Gateway, error) {
	conn, s, err := n.Dial(i, org, user)
	if err != nil {
		return nil, err
	}
	id := client.Signer{S: s}
	return client.Connect(id, append([]client.ConnectOption{client.WithSign(id.Sign), client.WithClientConnection(conn)}, opts...)...)
}

// WaitReady waits until node i answers health checks.
func (n *Network) WaitReady(ctx context.Context, i int) error {
	conn, _, err := n.Dial(i, i, "admin")
	if err != nil {
		return err
	}
	adm := pb.NewAdminClient(conn)
	for {
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		_, err := adm.Health(cctx, &pb.HealthRequest{})
		cancel()
		if err == nil {
			return nil
		}
		if !n.Running(i) {
			return fmt.Errorf("nettest: node %d exited:\n%s", i, tail(n.Logs(i), 30))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("nettest: node %d not ready: %w", i, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func tail(s string, lines int) string {
	parts := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(parts) > lines {
		parts = parts[len(parts)-lines:]
	}
	return strings.Join(parts, "\n")
}

// ChannelConfig builds a channel's configuration with all three
// organisations and nodes.
func (n *Network) ChannelConfig(name string) (*pb.ChannelConfig, error) {
	cfg := &pb.ChannelConfig{Channel: name, Batch: n.Opts.Batch}
	for _, o := range n.Config.Organizations {
		ca, err := identity.ReadCertFile(cryptogen.CAFile(n.Crypto, o))
		if err != nil {
			return nil, err
		}
		cfg.Organizations = append(cfg.Organizations, &pb.Organization{MspId: o.MSPID, Name: o.Name, RootCerts: [][]byte{ca.Raw}})
	}
	for _, nd := range n.Nodes {
		cfg.Nodes = append(cfg.Nodes, &pb.NodeInfo{Id: nd.ID, MspId: nd.Org.MSPID, ApiAddress: nd.API, ClusterAddress: nd.Cluster})
	}
	if n.Opts.ACLProfile != "" {
		acl, err := profileACL(n.Opts.ACLProfile, name)
		if err != nil {
			return nil, err
		}
		cfg.Acl = acl
	}
	return cfg, nil
}

// CreateChannel signs a channel's genesis as hospital1's administrator and
// has every node join it through its own organisation's administrator.
func (n *Network) CreateChannel(ctx context.Context, name string) error {
	cfg, err := n.ChannelConfig(name)
	if err != nil {
		return err
	}
	admin, err := n.Identity(0, "admin").LoadSigner()
	if err != nil {
		return err
	}
	g, err := channel.Genesis(cfg, admin, time.Now())
	if err != nil {
		return err
	}
	n.Genesis[name] = g
	for i := range n.Nodes {
		conn, _, err := n.Dial(i, i, "admin")
		if err != nil {
			return err
		}
		if _, err := pb.NewAdminClient(conn).JoinChannel(ctx, &pb.JoinChannelRequest{Genesis: g}); err != nil {
			return fmt.Errorf("nettest: node %d join %s: %w", i, name, err)
		}
	}
	return nil
}

// DeployAll deploys every chaincode on each of its channels, all at once.
func (n *Network) DeployAll(ctx context.Context, ccs []Chaincode) error {
	var jobs int
	errs := make(chan error)
	for _, cc := range ccs {
		for _, ch := range cc.Channels {
			jobs++
			go func() { errs <- n.Deploy(ctx, ch, cc) }()
		}
	}
	var all []error
	for range jobs {
		all = append(all, <-errs)
	}
	return errors.Join(all...)
}

// Deploy enables a chaincode on a channel: every organisation's
// administrator approves on its own node, then hospital1's commits.
func (n *Network) Deploy(ctx context.Context, ch string, cc Chaincode) error {
	def := &pb.ChaincodeDefinition{Name: cc.Name, Version: "1", Sequence: 1, InitFunction: cc.InitFn, InitArgs: cc.InitArgs}
	raw, err := lifecycle.EncodeDefinition(def)
	if err != nil {
		return err
	}
	for i := range n.Nodes {
		gw, err := n.Gateway(i, i, "admin")
		if err != nil {
			return err
		}
		if _, err := gw.GetNetwork(ch).GetContract(lifecycle.Name).Submit(lifecycle.FnApprove, client.WithBytesArguments(raw)); err != nil {
			return fmt.Errorf("nettest: approve %s on %s by org %d: %w", cc.Name, ch, i, err)
		}
	}
	// Each approval is committed on its own organisation's node; the
	// committing node must have applied them all before it endorses the
	// commit, or it sees no majority.
	if _, err := n.WaitConverged(ctx, ch); err != nil {
		return err
	}
	gw, err := n.Gateway(0, 0, "admin")
	if err != nil {
		return err
	}
	if _, err := gw.GetNetwork(ch).GetContract(lifecycle.Name).SubmitTransaction(lifecycle.FnCommit, cc.Name); err != nil {
		return fmt.Errorf("nettest: commit %s on %s: %w", cc.Name, ch, err)
	}
	// Every node must have applied the definition before clients use it.
	_, err = n.WaitConverged(ctx, ch)
	return err
}

// Info returns a channel's info on node i.
func (n *Network) Info(ctx context.Context, i int, ch string) (*pb.ChainInfo, error) {
	conn, _, err := n.Dial(i, i, "admin")
	if err != nil {
		return nil, err
	}
	return pb.NewDeliverClient(conn).GetChainInfo(ctx, &pb.ChainInfoRequest{Channel: ch})
}

// WaitConverged waits until every running node holds the same height, block
// hash and state hash on the channel, and returns that info.
func (n *Network) WaitConverged(ctx context.Context, ch string) (*pb.ChainInfo, error) {
	var last string
	for {
		var first *pb.ChainInfo
		same := true
		var desc []string
		for i := range n.Nodes {
			if !n.Running(i) {
				continue
			}
			cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			info, err := n.Info(cctx, i, ch)
			cancel()
			if err != nil {
				same = false
				desc = append(desc, fmt.Sprintf("node%d: %v", i, err))
				continue
			}
			desc = append(desc, fmt.Sprintf("node%d: height %d hash %x state %x halted %v %s", i, info.GetHeight(), info.GetCurrentHash()[:6], info.GetStateHash()[:6], info.GetHalted(), info.GetAlert()))
			if first == nil {
				first = info
			} else if info.GetHeight() != first.GetHeight() || string(info.GetCurrentHash()) != string(first.GetCurrentHash()) || string(info.GetStateHash()) != string(first.GetStateHash()) {
				same = false
			}
		}
		if same && first != nil {
			return first, nil
		}
		last = strings.Join(desc, "; ")
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("nettest: channel %s did not converge: %s", ch, last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// LedgerDir is node i's ledger directory of a channel.
func (n *Network) LedgerDir(i int, ch string) string {
	return filepath.Join(n.Nodes[i].Dir, "data", "channels", ch, "ledger")
}

// Verify runs "medshare ledger verify" on a stopped node's channel and
// returns its output and exit error.
func (n *Network) Verify(i int, ch string) (string, error) {
	out, err := exec.Command(n.Opts.Bin, "ledger", "verify", "--dir", n.LedgerDir(i, ch)).CombinedOutput()
	return string(out), err
}

// GatewayVia connects to address (a Proxy in front of a node) as a user of
// org, over a new connection that the caller closes.
func (n *Network) GatewayVia(address string, org int, user string, opts ...client.ConnectOption) (*client.Gateway, *grpc.ClientConn, error) {
	dir := n.Identity(org, user)
	s, err := dir.LoadSigner()
	if err != nil {
		return nil, nil, err
	}
	conn, err := client.DialIdentity(address, dir, n.roots()...)
	if err != nil {
		return nil, nil, err
	}
	id := client.Signer{S: s}
	gw, err := client.Connect(id, append([]client.ConnectOption{client.WithSign(id.Sign), client.WithClientConnection(conn)}, opts...)...)
	if err != nil {
		conn.Close()
		return nil, nil, err
	}
	return gw, conn, nil
}

// Health returns node i's health report.
func (n *Network) Health(ctx context.Context, i int) (*pb.HealthResponse, error) {
	conn, _, err := n.Dial(i, i, "admin")
	if err != nil {
		return nil, err
	}
	return pb.NewAdminClient(conn).Health(ctx, &pb.HealthRequest{})
}

// Recover runs "medshare ledger recover" on a stopped node's channel and
// returns its output and exit error.
func (n *Network) Recover(i int, ch string) (string, error) {
	out, err := exec.Command(n.Opts.Bin, "ledger", "recover", "--dir", filepath.Dir(n.LedgerDir(i, ch))).CombinedOutput()
	return string(out), err
}
