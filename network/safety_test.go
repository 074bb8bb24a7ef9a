package network_test

// Safety tests on real node processes: a hostile client, a hostile
// organisation administrator and a faulty node against the ledger (issue
// 10). docs/ledger.md, "Trust assumptions", names each of them.

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"gopkg.in/yaml.v3"

	"github.com/medshare/medshare/network/block"
	"github.com/medshare/medshare/network/channel"
	"github.com/medshare/medshare/network/client"
	"github.com/medshare/medshare/network/cryptogen"
	"github.com/medshare/medshare/network/identity"
	"github.com/medshare/medshare/network/lifecycle"
	"github.com/medshare/medshare/network/nettest"
	"github.com/medshare/medshare/network/node"
	"github.com/medshare/medshare/network/pb"
)

// leaderIndex returns the index of channel ch's leader, once there is one.
func leaderIndex(t *testing.T, ctx context.Context, n *nettest.Network, ch string) int {
	t.Helper()
	for {
		for i := range n.Nodes {
			if !n.Running(i) {
				continue
			}
			info, err := n.Info(ctx, i, ch)
			if err != nil || info.GetLeader() == "" {
				continue
			}
			for j, nd := range n.Nodes {
				if nd.ID == info.GetLeader() && n.Running(j) {
					return j
				}
			}
		}
		if ctx.Err() != nil {
			t.Fatalf("no leader on %s", ch)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// signEnvelope signs a kv call on ch as s.
func signEnvelope(t *testing.T, s *identity.Signer, ch, fn string, args ...string) *pb.Envelope {
	t.Helper()
	nonce := make([]byte, 24)
	if _, err := rand.Read(nonce); err != nil {
		t.Fatal(err)
	}
	var bargs [][]byte
	for _, a := range args {
		bargs = append(bargs, []byte(a))
	}
	env, _, err := block.SignProposal(s, block.Proposal{Channel: ch, Chaincode: "kv", Function: fn, Args: bargs, Nonce: nonce, Timestamp: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// healthy checks that no node halted ch or raised an alert, and that a new
// transaction commits and every node converges on it.
func healthy(t *testing.T, ctx context.Context, n *nettest.Network, ch string) {
	t.Helper()
	gw, err := n.Gateway(0, 0, "client")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gw.GetNetwork(ch).GetContract("kv").SubmitTransaction("Put", "after", time.Now().String()); err != nil {
		t.Fatalf("a transaction after the attack: %v", err)
	}
	if _, err := n.WaitConverged(ctx, ch); err != nil {
		t.Fatal(err)
	}
	for i := range n.Nodes {
		conn, _, err := n.Dial(i, i, "admin")
		if err != nil {
			t.Fatal(err)
		}
		h, err := pb.NewAdminClient(conn).Health(ctx, &pb.HealthRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if len(h.GetAlerts()) > 0 {
			t.Errorf("node%d raised alerts: %v", i, h.GetAlerts())
		}
		for _, c := range h.GetChannels() {
			if c.GetHalted() || c.GetAlert() != "" {
				t.Errorf("node%d: channel %s halted %v, alert %q", i, c.GetChannel(), c.GetHalted(), c.GetAlert())
			}
		}
	}
}

// TestShiftedSignatureIsRefusedEverywhere is hole 1 on real nodes: a
// client evaluates a genuine envelope on node X, so X has verified its
// signature, then submits to X a copy whose signature's first bytes are
// moved to the end of the proposal. The old executor cache, keyed on
// SHA-256(proposal ‖ signature) and blind to the move, endorsed it on X
// while nodes without the entry found the signature bad: a follower X
// halted, a leader X made both followers halt while it went on alone. The
// copy must be refused on X, and every node must stay in agreement.
func TestShiftedSignatureIsRefusedEverywhere(t *testing.T) {
	const ch = "main"
	n := startNetwork(t, nettest.Options{Channels: []string{ch}})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	leader := leaderIndex(t, ctx, n, ch)
	follower := (leader + 1) % len(n.Nodes)
	for _, x := range []struct {
		name string
		i    int
	}{{"follower", follower}, {"leader", leader}} {
		conn, signer, err := n.Dial(x.i, x.i, "client")
		if err != nil {
			t.Fatal(err)
		}
		gwc := pb.NewGatewayClient(conn)
		genuine := signEnvelope(t, signer, ch, "Put", "shifted-"+x.name, "v")
		// Evaluating a Put verifies its signature, then fails read-only.
		if _, err := gwc.Evaluate(ctx, &pb.EvaluateRequest{Envelope: genuine}); err == nil || !strings.Contains(err.Error(), "read-only") {
			t.Fatalf("%s: Evaluate(genuine Put) = %v, want the read-only refusal", x.name, err)
		}
		shifted := &pb.Envelope{
			Proposal:  append(bytes.Clone(genuine.Proposal), genuine.Signature[:2]...),
			Signature: bytes.Clone(genuine.Signature[2:]),
		}
		_, err = gwc.Submit(ctx, &pb.SubmitRequest{Envelope: shifted})
		if err == nil {
			t.Fatalf("%s node%d endorsed the shifted copy", x.name, x.i)
		}
		var detail *pb.ErrorDetail
		for _, d := range status.Convert(err).Details() {
			if e, ok := d.(*pb.ErrorDetail); ok {
				detail = e
			}
		}
		if detail == nil || detail.GetStage() != "endorse" || detail.GetCode() != pb.ValidationCode_BAD_PAYLOAD {
			t.Fatalf("%s: Submit(shifted) = %v, want BAD_PAYLOAD at endorse", x.name, err)
		}
		// The genuine envelope is still good.
		if _, err := gwc.Submit(ctx, &pb.SubmitRequest{Envelope: genuine}); err != nil {
			t.Fatalf("%s: Submit(genuine) = %v", x.name, err)
		}
	}
	healthy(t, ctx, n, ch)
}

// TestForwardedJunkNeverReachesABlock is hole 9's Forward path on real
// nodes: a node (here node credentials used directly, as a faulty or
// hostile node would) forwards envelopes that are unsigned, wrongly signed,
// signed by a creator whose certificate does not parse, or do not decode.
// The leader used to queue whatever decoded, so blocks stored them with
// library error texts (crypto/x509's, protobuf's) in their results, which
// differ between builds. The leader now authenticates forwarded envelopes
// and refuses them; none reaches a block.
func TestForwardedJunkNeverReachesABlock(t *testing.T) {
	const ch = "main"
	n := startNetwork(t, nettest.Options{Channels: []string{ch}})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	leader := leaderIndex(t, ctx, n, ch)
	other := (leader + 1) % len(n.Nodes)
	o := n.Config.Organizations[other]
	var roots []*x509.Certificate
	for _, org := range n.Config.Organizations {
		c, err := identity.ReadCertFile(cryptogen.CAFile(n.Crypto, org))
		if err != nil {
			t.Fatal(err)
		}
		roots = append(roots, c)
	}
	conn, err := client.DialIdentity(n.Nodes[leader].API, cryptogen.NodeDir(n.Crypto, o, o.Nodes[0].Name), roots...)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, signer, err := n.Dial(other, other, "client")
	if err != nil {
		t.Fatal(err)
	}
	badSig := signEnvelope(t, signer, ch, "Put", "junk", "1")
	badSig.Signature[len(badSig.Signature)-1] ^= 1
	unsigned := signEnvelope(t, signer, ch, "Put", "junk", "2")
	unsigned.Signature = nil
	badCert := signEnvelope(t, signer, ch, "Put", "junk", "3")
	var p pb.Proposal
	if err := proto.Unmarshal(badCert.Proposal, &p); err != nil {
		t.Fatal(err)
	}
	p.Creator = append(bytes.Clone(p.Creator[:40]), 0xff)
	badCert.Proposal, _ = proto.Marshal(&p)
	undecodable := &pb.Envelope{Proposal: []byte{0x12, 0x05, 'm'}, Signature: []byte{1}}
	junk := []*pb.Envelope{badSig, unsigned, badCert, undecodable}
	resp, err := pb.NewClusterClient(conn).Forward(ctx, &pb.ForwardRequest{Channel: ch, Envelopes: junk})
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range resp.GetErrors() {
		if e == "" {
			t.Errorf("the leader queued forwarded junk envelope %d", i)
		}
	}
	healthy(t, ctx, n, ch)
	info, err := n.Info(ctx, leader, ch)
	if err != nil {
		t.Fatal(err)
	}
	lc, _, err := n.Dial(leader, leader, "admin")
	if err != nil {
		t.Fatal(err)
	}
	for b := range info.GetHeight() {
		blk, err := pb.NewDeliverClient(lc).GetBlock(ctx, &pb.GetBlockRequest{Channel: ch, Number: b})
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range blk.GetResults() {
			if r.GetCode() != pb.ValidationCode_VALID {
				t.Errorf("block %d transaction %d: %s %q reached a block", b, i, r.GetCode(), r.GetMessage())
			}
		}
	}
}

// fakeNode is a gRPC server that presents a forged TLS certificate for a
// node's ID and records every call that reaches it.
type fakeNode struct {
	pb.UnimplementedClusterServer
	pb.UnimplementedDeliverServer
	addr  string
	mu    sync.Mutex
	calls []string
}

func (f *fakeNode) record(call string) {
	f.mu.Lock()
	f.calls = append(f.calls, call)
	f.mu.Unlock()
}

func (f *fakeNode) Forward(_ context.Context, req *pb.ForwardRequest) (*pb.ForwardResponse, error) {
	f.record(fmt.Sprintf("Forward(%d envelopes)", len(req.GetEnvelopes())))
	return &pb.ForwardResponse{Errors: make([]string, len(req.GetEnvelopes()))}, nil
}

func (f *fakeNode) GetChainInfo(_ context.Context, req *pb.ChainInfoRequest) (*pb.ChainInfo, error) {
	f.record("GetChainInfo")
	return &pb.ChainInfo{Channel: req.GetChannel(), Height: 1, CurrentHash: make([]byte, 32), StateHash: make([]byte, 32)}, nil
}

func startFakeNode(t *testing.T, cert tls.Certificate) *fakeNode {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeNode{addr: ln.Addr().String()}
	srv := grpc.NewServer(grpc.Creds(credentials.NewTLS(&tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequireAnyClientCert,
		MinVersion:   tls.VersionTLS13,
	})))
	pb.RegisterClusterServer(srv, f)
	pb.RegisterDeliverServer(srv, f)
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)
	return f
}

// TestPeerTLSChecksOrganisationAndRole is hole 7 on real nodes: nodes
// authenticated each other by the certificate's common name only, so
// another member's CA — a hostile organisation administrator — could issue
// a certificate in a node's name and receive what the other nodes forward
// to it, or answer their consistency checks. Here every node of a channel
// is listed at an address where an impostor answers: one with a
// certificate in node0's name issued by Hospital2's CA, one in node1's name
// by the research institute's CA, and one in node2's name by its own CA but
// for a client, not a node. No node may talk to any of them.
func TestPeerTLSChecksOrganisationAndRole(t *testing.T) {
	const ch = "impostors"
	n := startNetwork(t, nettest.Options{Channels: []string{}, CompareInterval: 200 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	orgs := n.Config.Organizations
	loadCA := func(o cryptogen.Organization) *identity.CA {
		dir := filepath.Join(n.Crypto, o.Name, "ca")
		cert, err := identity.ReadCertFile(filepath.Join(dir, "cert.pem"))
		if err != nil {
			t.Fatal(err)
		}
		key, err := identity.ReadKeyFile(filepath.Join(dir, "key.pem"))
		if err != nil {
			t.Fatal(err)
		}
		ca, err := identity.LoadCA(o.MSPID, cert, key)
		if err != nil {
			t.Fatal(err)
		}
		return ca
	}
	forge := func(ca *identity.CA, name string, role identity.Role) tls.Certificate {
		cert, key, err := ca.Issue(rand.Reader, identity.Request{CommonName: name, Role: role, TLS: true, Hosts: []string{"127.0.0.1", "localhost"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		return tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}
	}
	fakes := []*fakeNode{
		startFakeNode(t, forge(loadCA(orgs[1]), n.Nodes[0].ID, identity.RoleNode)),   // another organisation's CA
		startFakeNode(t, forge(loadCA(orgs[2]), n.Nodes[1].ID, identity.RoleNode)),   // another organisation's CA
		startFakeNode(t, forge(loadCA(orgs[2]), n.Nodes[2].ID, identity.RoleClient)), // the right CA, the wrong role
	}
	cfg, err := n.ChannelConfig(ch)
	if err != nil {
		t.Fatal(err)
	}
	for i, nd := range cfg.Nodes {
		nd.ApiAddress = fakes[i].addr
	}
	admin, err := n.Identity(0, "admin").LoadSigner()
	if err != nil {
		t.Fatal(err)
	}
	g, err := channel.Genesis(cfg, admin, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for i := range n.Nodes {
		conn, _, err := n.Dial(i, i, "admin")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pb.NewAdminClient(conn).JoinChannel(ctx, &pb.JoinChannelRequest{Genesis: g}); err != nil {
			t.Fatal(err)
		}
	}
	leader := leaderIndex(t, ctx, n, ch)
	// Every follower hands an approval to "the leader", at its listed address.
	raw, err := proto.Marshal(&pb.ChaincodeDefinition{Name: "kv", Version: "1", Sequence: 1})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n.Nodes {
		if i == leader {
			continue
		}
		gw, err := n.Gateway(i, i, "admin")
		if err != nil {
			t.Fatal(err)
		}
		_, err = gw.GetNetwork(ch).GetContract(lifecycle.Name).Submit(lifecycle.FnApprove, client.WithBytesArguments(raw))
		t.Logf("node%d (follower) submitting: %v", i, err)
	}
	// Give the nodes' consistency checks time to reach the impostors too.
	time.Sleep(2 * time.Second)
	for i, f := range fakes {
		f.mu.Lock()
		calls := f.calls
		f.mu.Unlock()
		if len(calls) > 0 {
			t.Errorf("the impostor of node%d was accepted as that node: %v", i, calls)
		}
	}
}

// setNodeConfig rewrites node i's configuration file; it takes effect when
// the node (re)starts.
func setNodeConfig(t *testing.T, n *nettest.Network, i int, edit func(*node.Config)) {
	t.Helper()
	path := filepath.Join(n.Nodes[i].Dir, "node.yaml")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var c node.Config
	if err := yaml.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	edit(&c)
	if raw, err = yaml.Marshal(c); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestSkewedLeaderIsRefusedAndReplaced is hole 6 on real nodes: block time
// had no upper bound, so a leader whose clock ran hours ahead stamped its
// blocks in the future, every later leader had to stamp later still, and
// every transaction of a client with a correct clock was committed as
// BAD_TIMESTAMP, its ID used up. Here node2's clock runs two hours ahead and
// it is made the leader; a transaction is submitted through a correct
// node. The other nodes must refuse node2's block (it is stamped beyond
// MaxBlockAhead of their clocks), replace node2 as leader, and go on: no
// committed block is stamped ahead, no transaction is BAD_TIMESTAMP.
func TestSkewedLeaderIsRefusedAndReplaced(t *testing.T) {
	const ch = "main"
	const skewed = 2
	n := startNetwork(t, nettest.Options{Channels: []string{ch}, Raft: fastRaft})
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	// Restart the network with node2's clock two hours ahead and node2
	// quicker to stand for election than the others, then start node2 and
	// node0 alone, so that node2 becomes the leader.
	for i := range n.Nodes {
		if err := n.Terminate(i); err != nil {
			t.Fatal(err)
		}
		setNodeConfig(t, n, i, func(c *node.Config) {
			if i == skewed {
				c.FaultClockOffset = 2 * time.Hour
				c.Raft.HeartbeatTimeout, c.Raft.ElectionTimeout, c.Raft.LeaderLeaseTimeout = 200*time.Millisecond, 200*time.Millisecond, 100*time.Millisecond
			} else {
				c.Raft.HeartbeatTimeout, c.Raft.ElectionTimeout, c.Raft.LeaderLeaseTimeout = 2*time.Second, 2*time.Second, time.Second
			}
		})
	}
	for _, i := range []int{skewed, 0} {
		if err := n.Restart(ctx, i); err != nil {
			t.Fatal(err)
		}
	}
	if l := leaderIndex(t, ctx, n, ch); l != skewed {
		t.Fatalf("node%d leads, not node2", l)
	}
	if err := n.Restart(ctx, 1); err != nil {
		t.Fatal(err)
	}
	t.Logf("node2, two hours ahead, leads %s", ch)
	const correct = 0
	gw, err := n.Gateway(correct, correct, "client")
	if err != nil {
		t.Fatal(err)
	}
	kv := gw.GetNetwork(ch).GetContract("kv")
	_, commit, err := kv.SubmitAsync("Put", client.WithArguments("during-skew", "1"))
	if err != nil {
		t.Logf("submitting while node2 leads: %v", err)
	}
	start := time.Now()
	for {
		info, err := n.Info(ctx, correct, ch)
		if err == nil && info.GetLeader() != "" && info.GetLeader() != n.Nodes[skewed].ID {
			t.Logf("node2 replaced by %s after %s", info.GetLeader(), time.Since(start).Round(time.Millisecond))
			break
		}
		if time.Since(start) > time.Minute {
			t.Fatalf("node2 still leads a minute after its block: %v %v", info, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The transaction submitted meanwhile commits valid, or not at all
	// (the old leader may hold it); it must not be used up as BAD_TIMESTAMP.
	if commit != nil {
		cctx, ccancel := context.WithTimeout(ctx, 15*time.Second)
		st, err := commit.StatusContext(cctx)
		ccancel()
		switch {
		case err != nil:
			t.Logf("the transaction submitted while node2 led did not commit: %v", err)
		case !st.Successful:
			t.Fatalf("the transaction submitted while node2 led committed as %s: %s", st.Code, st.Message)
		}
	}
	if _, err := kv.SubmitTransaction("Put", "after-skew", "2"); err != nil {
		t.Fatalf("a transaction after node2 was replaced: %v", err)
	}
	info, err := n.WaitConverged(ctx, ch)
	if err != nil {
		t.Fatal(err)
	}
	// No committed block is stamped ahead of the correct clocks.
	conn, _, err := n.Dial(correct, correct, "admin")
	if err != nil {
		t.Fatal(err)
	}
	limit := time.Now().Add(channel.DefaultMaxBlockAhead)
	for b := range info.GetHeight() {
		blk, err := pb.NewDeliverClient(conn).GetBlock(ctx, &pb.GetBlockRequest{Channel: ch, Number: b, HeaderOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		if at := time.Unix(0, blk.GetHeader().GetTimestamp()); at.After(limit) {
			t.Errorf("block %d is stamped %s, %s ahead of the correct clocks", b, at.UTC().Format(time.RFC3339), time.Until(at).Round(time.Second))
		}
	}
	// The refusal was the reason, and the operators are told.
	var alerts []string
	for i := range n.Nodes {
		if i == skewed {
			continue
		}
		if inf, err := n.Info(ctx, i, ch); err == nil && strings.Contains(inf.GetAlert(), "ahead of") {
			alerts = append(alerts, inf.GetAlert())
		}
	}
	if len(alerts) == 0 {
		t.Fatal("no correct node reports refusing node2's block")
	}
	t.Logf("alert: %s", alerts[0])
}
