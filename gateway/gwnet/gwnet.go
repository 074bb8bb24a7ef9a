// Package gwnet starts a whole local medshare system on loopback for the
// end-to-end tests and the gateway benchmark: three ledger nodes with the
// medshare contracts deployed (network/nettest), three kubo daemons in one
// private swarm (internal/kubo), and three `medshare gateway` processes
// serving HTTPS with mutual TLS, hospital 1's also serving the attribute
// authority. Every port is free and chosen at start; every process dies with
// the one that started it.
package gwnet

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/medshare/medshare/chaincode/index"
	"github.com/medshare/medshare/chaincode/ptl"
	"github.com/medshare/medshare/chaincode/txbuild"
	"github.com/medshare/medshare/gateway"
	"github.com/medshare/medshare/gateway/api"
	"github.com/medshare/medshare/gateway/client"
	"github.com/medshare/medshare/gateway/ledger"
	"github.com/medshare/medshare/internal/kubo"
	"github.com/medshare/medshare/network/cryptogen"
	"github.com/medshare/medshare/network/identity"
	"github.com/medshare/medshare/network/nettest"
	"github.com/medshare/medshare/network/pb"
)

// Orgs are the MSP ids of the three organisations, in order.
var Orgs = []string{"Hospital1MSP", "Hospital2MSP", "ResearchMSP"}

// GatewayUser is the identity each organisation's gateway runs as.
const GatewayUser = "gateway"

// Options describe a system.
type Options struct {
	// Bin is the medshare binary (nodes and gateways); Dir holds everything.
	Bin string
	Dir string
	// Users are client identities per organisation index, besides each
	// organisation's gateway identity (which gwnet adds).
	Users map[int][]cryptogen.User
	// Monitor is P-TL's monitoring (default txbuild.DefaultMonitor).
	Monitor *ptl.Monitor
	// Auditors are users (of Users) the contracts' configurations name as
	// auditors.
	Auditors []UserRef
	// LogLevel of the nodes and gateways (default warn).
	LogLevel string
	// NodeEnv and GatewayEnv add environment variables to those processes
	// (GOMAXPROCS when they share a machine's cores).
	NodeEnv, GatewayEnv []string
	// Configure adjusts gateway i's configuration before it starts.
	Configure func(i int, c *gateway.Config)
	// Crypto, when set, is the consortium's crypto configuration
	// (network/crypto-config.yaml, what `make run` uses): its organisations
	// and users replace Users. An organisation without a gateway user gets
	// one.
	Crypto *cryptogen.Config
	// Layout fixes every listening address (FixedLayout: `make run`); nil
	// chooses free loopback ports.
	Layout Layout
	// ACLProfile is a channel profile (network/configtx.yaml) whose access
	// rules the channels get; empty leaves the channels without rules.
	ACLProfile string
	// Progress, when set, is told each stage as it starts.
	Progress func(stage string)
	// Chaincodes are deployed besides the medshare contracts (kv, the
	// ledger's test chaincode, for `make run`).
	Chaincodes []nettest.Chaincode
}

// Layout is where each organisation's processes listen, one entry per
// organisation in the order of Orgs.
type Layout []OrgAddresses

// OrgAddresses are one organisation's listening addresses (host:port).
type OrgAddresses struct {
	NodeAPI, NodeCluster            string
	KuboAPI, KuboGateway, KuboSwarm string
	Gateway                         string
}

// FixedLayout is the local system's well-known addresses, those
// scripts/network.sh, the README and the docs use: organisation i's node at
// 127.0.0.1:7051+1000i (cluster +1), its kubo's API at 5001+i, HTTP gateway
// at 8080+i and swarm at 4001+i, its gateway at https://127.0.0.1:8443+i.
func FixedLayout() Layout {
	var l Layout
	for i := range Orgs {
		at := func(port int) string { return fmt.Sprintf("127.0.0.1:%d", port) }
		l = append(l, OrgAddresses{
			NodeAPI: at(7051 + 1000*i), NodeCluster: at(7052 + 1000*i),
			KuboAPI: at(5001 + i), KuboGateway: at(8080 + i), KuboSwarm: at(4001 + i),
			Gateway: at(8443 + i),
		})
	}
	return l
}

func (s *System) progress(stage string) {
	if s.Opts.Progress != nil {
		s.Opts.Progress(stage)
	}
}

// UserRef names a user of an organisation (by index).
type UserRef struct {
	Org  int
	Name string
}

// System is a running system.
type System struct {
	Opts  Options
	Net   *nettest.Network
	Kubo  []*kubo.Node
	URLs  []string
	Logs  []string
	procs []*exec.Cmd
	mu    sync.Mutex
}

// Start starts the system: nodes and contracts, kubo, gateways, and waits
// until every gateway is ready.
func Start(ctx context.Context, o Options) (*System, error) {
	if o.LogLevel == "" {
		o.LogLevel = "warn"
	}
	owner := map[string]string{gateway.RoleAttribute: string(gateway.RoleOwner)}
	gwUser := cryptogen.User{Name: GatewayUser, Attributes: owner, Hosts: []string{"127.0.0.1", "localhost"}}
	users := map[int][]cryptogen.User{}
	for i := range Orgs {
		users[i] = append([]cryptogen.User{gwUser}, o.Users[i]...)
	}
	var crypto *cryptogen.Config
	if o.Crypto != nil {
		if len(o.Crypto.Organizations) != len(Orgs) {
			return nil, fmt.Errorf("gwnet: the crypto configuration has %d organisations, want %d", len(o.Crypto.Organizations), len(Orgs))
		}
		c := *o.Crypto
		c.Organizations = slices.Clone(c.Organizations)
		for i, org := range c.Organizations {
			if org.MSPID != Orgs[i] {
				return nil, fmt.Errorf("gwnet: organisation %d is %s, want %s", i, org.MSPID, Orgs[i])
			}
			if !slices.ContainsFunc(org.Users, func(u cryptogen.User) bool { return u.Name == GatewayUser }) {
				c.Organizations[i].Users = append([]cryptogen.User{gwUser}, org.Users...)
			}
		}
		crypto = &c
	}
	if o.Layout != nil && len(o.Layout) != len(Orgs) {
		return nil, fmt.Errorf("gwnet: a layout of %d organisations, want %d", len(o.Layout), len(Orgs))
	}
	var addrs []nettest.NodeAddresses
	for _, a := range o.Layout {
		addrs = append(addrs, nettest.NodeAddresses{API: a.NodeAPI, Cluster: a.NodeCluster})
	}
	s := &System{Opts: o}
	s.progress("generating crypto material, starting 3 nodes, creating 4 channels")
	n, err := nettest.Start(ctx, nettest.Options{Bin: o.Bin, Dir: o.Dir, Chaincodes: []nettest.Chaincode{}, LogLevel: o.LogLevel,
		Batch: &pb.BatchConfig{MaxMessageCount: 500, TimeoutMillis: 10}, Users: users, Env: o.NodeEnv,
		Crypto: crypto, Addresses: addrs, ACLProfile: o.ACLProfile})
	if err != nil {
		return nil, err
	}
	s.Net = n
	s.progress("deploying and configuring the contracts (every organisation approves each definition)")
	if err := s.deploy(ctx); err != nil {
		s.Stop()
		return nil, err
	}
	s.progress("starting 3 kubo daemons in one private swarm")
	if err := s.startKubo(ctx); err != nil {
		s.Stop()
		return nil, err
	}
	s.progress("starting 3 gateways (hospital 1's serves the attribute authority)")
	if err := s.startGateways(ctx); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

func (s *System) deploy(ctx context.Context) error {
	aaKey, err := identity.ReadKeyFile(filepath.Join(cryptogen.AuthorityDir(s.Net.Crypto), "key.pem"))
	if err != nil {
		return err
	}
	aaDER, err := x509.MarshalPKIXPublicKey(&aaKey.PublicKey)
	if err != nil {
		return err
	}
	var nodes []index.Node
	for _, nd := range s.Net.Nodes {
		nodes = append(nodes, index.Node{Name: nd.ID, Org: nd.Org.MSPID, Address: nd.API})
	}
	mon := txbuild.DefaultMonitor
	if s.Opts.Monitor != nil {
		mon = *s.Opts.Monitor
	}
	var auditors []string
	for _, a := range s.Opts.Auditors {
		sg, err := s.Net.Identity(a.Org, a.Name).LoadSigner()
		if err != nil {
			return err
		}
		auditors = append(auditors, sg.ID())
	}
	inits, err := txbuild.DefaultInits(aaDER, nodes, mon, auditors)
	if err != nil {
		return err
	}
	var ccs []nettest.Chaincode
	for _, c := range inits {
		ccs = append(ccs, nettest.Chaincode{Name: c.Chaincode, Channels: []string{c.Channel}, InitFn: c.Fn, InitArgs: [][]byte{[]byte(c.Args[0])}})
	}
	ccs = append(ccs, s.Opts.Chaincodes...)
	return s.Net.DeployAll(ctx, ccs)
}

func (s *System) startKubo(ctx context.Context) error {
	bin, err := kubo.FindBinary()
	if err != nil {
		return err
	}
	dir := filepath.Join(s.Opts.Dir, "kubo")
	// The swarm key lives with the crypto material, where `medshare crypto
	// generate` writes it: it is exchanged with the CA certificates.
	key := filepath.Join(s.Net.Crypto, kubo.SwarmKeyFile)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if err := kubo.WriteSwarmKey(key, nil); err != nil {
		return err
	}
	// Every daemon's three ports are chosen at once, all listeners held
	// together: chosen one daemon at a time, a port released by the first
	// could be handed to the second.
	free, err := freeAddrs(3 * len(Orgs))
	if err != nil {
		return err
	}
	for i := range Orgs {
		cfg := kubo.DefaultConfig()
		cfg.Bin, cfg.SwarmKey, cfg.BindToParent = bin, key, true
		cfg.API, cfg.Gateway, cfg.Swarm = free[3*i], free[3*i+1], free[3*i+2]
		if s.Opts.Layout != nil {
			cfg.API, cfg.Gateway, cfg.Swarm = s.Opts.Layout[i].KuboAPI, s.Opts.Layout[i].KuboGateway, s.Opts.Layout[i].KuboSwarm
		}
		cfg.Repo = filepath.Join(dir, fmt.Sprintf("kubo%d", i))
		nd, err := kubo.Init(ctx, cfg)
		if err != nil {
			return err
		}
		s.Kubo = append(s.Kubo, nd)
	}
	var peers []kubo.Peer
	for _, nd := range s.Kubo {
		peers = append(peers, nd.Peer())
	}
	for _, nd := range s.Kubo {
		if err := nd.SetPeers(peers); err != nil {
			return err
		}
		if err := nd.Start(ctx); err != nil {
			return err
		}
	}
	return s.WaitSwarm(ctx)
}

// WaitSwarm connects the running kubo daemons to each other and waits until
// they are.
func (s *System) WaitSwarm(ctx context.Context) error {
	for {
		missing := ""
		for _, a := range s.Kubo {
			if !a.Running() {
				continue
			}
			ids, err := a.SwarmPeers(ctx)
			if err != nil {
				missing = err.Error()
				continue
			}
			for _, b := range s.Kubo {
				if a != b && b.Running() && !slices.Contains(ids, b.ID()) {
					missing = a.ID() + " not connected to " + b.ID()
					a.Connect(ctx, b.Peer())
				}
			}
		}
		if missing == "" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("gwnet: kubo swarm: %s: %w", missing, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// RestartKubo starts kubo i again and waits for the swarm.
func (s *System) RestartKubo(ctx context.Context, i int) error {
	if err := s.Kubo[i].Start(ctx); err != nil {
		return err
	}
	return s.WaitSwarm(ctx)
}

func freeAddrs(n int) ([]string, error) {
	var out []string
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		out = append(out, l.Addr().String())
	}
	return out, nil
}

// GatewayConfig is gateway i's configuration as Start writes it.
func (s *System) GatewayConfig(i int, listen string, urls []string) gateway.Config {
	n := s.Net
	cas := map[string]string{}
	for _, o := range n.Config.Organizations {
		cas[o.MSPID] = cryptogen.CAFile(n.Crypto, o)
	}
	cfg := gateway.Default()
	cfg.MSPID, cfg.Listen = n.Config.Organizations[i].MSPID, listen
	cfg.Identity = string(n.Identity(i, GatewayUser))
	// Gateways find each other in the registry on main (RegisterGateway);
	// the configuration overrides nothing.
	cfg.CAs = cas
	cfg.Node, cfg.IPFS = n.Nodes[i].API, s.Kubo[i].APIAddr()
	cfg.DataDir = filepath.Join(s.Opts.Dir, fmt.Sprintf("gateway%d", i), "data")
	cfg.RequestTimeout = time.Minute
	cfg.LogLevel = s.Opts.LogLevel
	if i == 0 {
		cfg.Authority.Serve = true
		cfg.Authority.SigningKey = filepath.Join(cryptogen.AuthorityDir(n.Crypto), "key.pem")
	} else {
		cfg.Authority.URL, cfg.Authority.MSP = urls[0], n.Config.Organizations[0].MSPID
	}
	return cfg
}

func (s *System) startGateways(ctx context.Context) error {
	addrs, err := freeAddrs(len(Orgs))
	if err != nil {
		return err
	}
	for i, a := range s.Opts.Layout {
		addrs[i] = a.Gateway
	}
	for _, a := range addrs {
		s.URLs = append(s.URLs, "https://"+a)
	}
	for i := range Orgs {
		if err := s.RegisterGateway(ctx, i, s.URLs[i]); err != nil {
			return err
		}
	}
	for i := range Orgs {
		cfg := s.GatewayConfig(i, addrs[i], s.URLs)
		if s.Opts.Configure != nil {
			s.Opts.Configure(i, &cfg)
		}
		if err := cfg.Validate(); err != nil {
			return err
		}
		raw, err := yaml.Marshal(cfg)
		if err != nil {
			return err
		}
		dir := filepath.Join(s.Opts.Dir, fmt.Sprintf("gateway%d", i))
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
		path := filepath.Join(dir, "gateway.yaml")
		if err := os.WriteFile(path, raw, 0o600); err != nil {
			return err
		}
		s.Logs = append(s.Logs, filepath.Join(dir, "gateway.log"))
		s.procs = append(s.procs, nil)
		if err := s.startGateway(i, path); err != nil {
			return err
		}
	}
	for i := range Orgs {
		if err := s.WaitReady(ctx, i); err != nil {
			return err
		}
	}
	return nil
}

func (s *System) startGateway(i int, config string) error {
	logf, err := os.OpenFile(s.Logs[i], os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(s.Opts.Bin, "gateway", "--config", config)
	cmd.Stdout, cmd.Stderr = logf, logf
	bindToParent(cmd)
	if len(s.Opts.GatewayEnv) > 0 {
		cmd.Env = append(os.Environ(), s.Opts.GatewayEnv...)
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	go func() { cmd.Wait(); logf.Close() }()
	s.mu.Lock()
	s.procs[i] = cmd
	s.mu.Unlock()
	return nil
}

// RegisterGateway has organisation org's administrator register url as
// its gateway in the index on main (index SetGateway), through its own
// node, as an organisation's administrator does with
// `medshare tx submit --channel main --chaincode index SetGateway MSP URL`.
func (s *System) RegisterGateway(ctx context.Context, org int, url string) error {
	gw, err := s.Net.Gateway(org, org, "admin") // a cached connection: not closed here
	if err != nil {
		return err
	}
	ch := &ledger.Chain{L: ledger.NewNetwork(gw)}
	if _, _, err := ch.SetGateway(ctx, Orgs[org], url); err != nil {
		return fmt.Errorf("gwnet: register %s's gateway: %w", Orgs[org], err)
	}
	return nil
}

// Identity loads a user of organisation org, trusting every CA.
func (s *System) Identity(org int, user string) (*client.Identity, error) {
	var cas []string
	for _, o := range s.Net.Config.Organizations {
		cas = append(cas, cryptogen.CAFile(s.Net.Crypto, o))
	}
	return client.LoadIdentity(string(s.Net.Identity(org, user)), cas...)
}

// Client returns a client of gateway gw acting as user of organisation org.
func (s *System) Client(gw, org int, user string) (*client.Client, error) {
	id, err := s.Identity(org, user)
	if err != nil {
		return nil, err
	}
	return client.New(s.URLs[gw], id)
}

// WaitReady waits until gateway i answers /readyz with 200.
func (s *System) WaitReady(ctx context.Context, i int) error {
	c, err := s.Client(i, i, GatewayUser)
	if err != nil {
		return err
	}
	for {
		var h api.Health
		status, err := c.Do(ctx, http.MethodGet, "/readyz", "", nil, &h)
		if err == nil && status == http.StatusOK {
			return nil
		}
		select {
		case <-ctx.Done():
			b, _ := os.ReadFile(s.Logs[i])
			return fmt.Errorf("gwnet: gateway %d not ready (%d %v %+v):\n%s", i, status, err, h, Tail(string(b), 20))
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Tail returns the last n lines of s.
func Tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// GatewayLog returns gateway i's log.
func (s *System) GatewayLog(i int) string {
	b, _ := os.ReadFile(s.Logs[i])
	return string(b)
}

// Process kinds, the keys of Pids.
const (
	KindNode    = "nodes"
	KindKubo    = "kubo"
	KindGateway = "gateways"
)

// Pids returns the process ids of the running nodes, kubo daemons and
// gateways, by kind (KindNode, KindKubo, KindGateway): the nodes and kubo
// daemons that are running, and every gateway started (one that exited
// since has no /proc entry, which readers of its CPU time notice).
func (s *System) Pids() map[string][]int {
	out := map[string][]int{}
	if s.Net != nil {
		for _, nd := range s.Net.Nodes {
			if pid := nd.Pid(); pid > 0 {
				out[KindNode] = append(out[KindNode], pid)
			}
		}
	}
	for _, k := range s.Kubo {
		if pid := k.Pid(); pid > 0 {
			out[KindKubo] = append(out[KindKubo], pid)
		}
	}
	s.mu.Lock()
	for _, p := range s.procs {
		if p != nil && p.Process != nil {
			out[KindGateway] = append(out[KindGateway], p.Process.Pid)
		}
	}
	s.mu.Unlock()
	return out
}

// Stop stops the gateways, kubo and the nodes.
func (s *System) Stop() {
	s.mu.Lock()
	procs := s.procs
	s.procs = nil
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range procs {
		if p == nil || p.Process == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.Process.Signal(syscall.SIGTERM)
			deadline := time.Now().Add(20 * time.Second)
			for time.Now().Before(deadline) {
				if err := p.Process.Signal(syscall.Signal(0)); errors.Is(err, os.ErrProcessDone) {
					return
				}
				time.Sleep(100 * time.Millisecond)
			}
			p.Process.Kill()
		}()
	}
	wg.Wait()
	for _, k := range s.Kubo {
		k.Stop()
	}
	if s.Net != nil {
		s.Net.Stop()
	}
}
