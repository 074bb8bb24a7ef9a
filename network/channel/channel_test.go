package channel_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/medshare/medshare/network/block"
	"github.com/medshare/medshare/network/channel"
	"github.com/medshare/medshare/network/identity"
	"github.com/medshare/medshare/network/internal/fixture"
	"github.com/medshare/medshare/network/pb"
)

func TestACL(t *testing.T) {
	f := fixture.New(t, "main", []string{"H1MSP", "H2MSP"})
	f.Config.Acl = []*pb.ACLRule{
		{Resource: "storage/*", Principals: []string{"H1MSP.client"}},
		{Resource: "storage/Query", Principals: []string{"*.client"}},
		{Resource: "*", Principals: []string{"*.admin"}},
	}
	cfg, err := channel.New(f.Config)
	if err != nil {
		t.Fatal(err)
	}
	h1, h2 := f.Orgs[0], f.Orgs[1]
	tests := []struct {
		who     *identity.Signer
		cc, fn  string
		allowed bool
	}{
		{h1.Client, "storage", "Store", true},
		{h2.Client, "storage", "Store", false},        // cc/* names H1 only
		{h2.Client, "storage", "Query", true},         // cc/Fn is more specific
		{h2.Client, "storage", "Storage:Query", true}, // contract-qualified name
		{h2.Client, "index", "Register", false},       // "*" is admins only
		{h2.Admin, "index", "Register", true},
		{h1.Client, "_lifecycle", "Commit", false}, // system chaincode: admins
		{h1.Admin, "_lifecycle", "Commit", true},
		{h1.Nodes[0], "storage", "Store", false},
	}
	for _, tt := range tests {
		if got := cfg.Allowed(tt.who.Identity, tt.cc, tt.fn, "Storage"); got != tt.allowed {
			t.Errorf("%s (%s) calling %s/%s: allowed = %v, want %v", tt.who, tt.who.Role(), tt.cc, tt.fn, got, tt.allowed)
		}
	}
	// Without rules: clients and administrators of members, not nodes.
	f.Config.Acl = nil
	cfg, _ = channel.New(f.Config)
	if !cfg.Allowed(h2.Client.Identity, "kv", "Put", "KV") || cfg.Allowed(h2.Nodes[0].Identity, "kv", "Put", "KV") {
		t.Error("default ACL")
	}
}

// TestACLComparesQualifiedNames is the regression test for a rule on
// "cc/Contract:Fn" that a call of plain "Fn" (routed to the same function,
// Contract being the default contract) walked around, and for a rule on
// "cc/Fn" that also opened another contract's Fn.
func TestACLComparesQualifiedNames(t *testing.T) {
	f := fixture.New(t, "main", []string{"H1MSP"})
	f.Config.Acl = []*pb.ACLRule{
		{Resource: "records/*", Principals: []string{"*.client", "*.admin"}},
		{Resource: "records/Records:Erase", Principals: []string{"*.admin"}},
		{Resource: "records/Read", Principals: []string{"*.client"}},
	}
	cfg, err := channel.New(f.Config)
	if err != nil {
		t.Fatal(err)
	}
	client, admin := f.Orgs[0].Client.Identity, f.Orgs[0].Admin.Identity
	tests := []struct {
		name    string
		fn      string
		def     string
		who     *identity.Identity
		allowed bool
	}{
		{"qualified name, as the rule is written", "Records:Erase", "Records", client, false},
		{"plain name reaching the same function", "Erase", "Records", client, false},
		{"administrator", "Erase", "Records", admin, true},
		{"plain rule, qualified call", "Records:Read", "Records", client, true},
		{"plain rule, plain call", "Read", "Records", client, true},
		{"plain rule, administrator", "Read", "Records", admin, false},
		{"another contract's Read is not the default's", "Audit:Read", "Records", admin, true},
		{"another contract's Erase falls to records/*", "Audit:Erase", "Records", client, true},
	}
	for _, tt := range tests {
		if got := cfg.Allowed(tt.who, "records", tt.fn, tt.def); got != tt.allowed {
			t.Errorf("%s: %s (%s) calling records/%s: allowed = %v, want %v", tt.name, tt.who, tt.who.Role(), tt.fn, got, tt.allowed)
		}
	}
	for _, bad := range []string{"records/Records:", "records/:Erase", "records/A:B:C", "records/Records:*", "records/*:Erase"} {
		f.Config.Acl = []*pb.ACLRule{{Resource: bad, Principals: []string{"*.admin"}}}
		if _, err := channel.New(f.Config); err == nil {
			t.Errorf("rule %q accepted; no call can match it", bad)
		}
	}
}

func TestConfigValidation(t *testing.T) {
	tests := []struct {
		name string
		mut  func(c *pb.ChannelConfig)
		want string
	}{
		{"bad name", func(c *pb.ChannelConfig) { c.Channel = "Bad_Name" }, "invalid channel name"},
		{"no orgs", func(c *pb.ChannelConfig) { c.Organizations = nil }, "no organisations"},
		{"bad root", func(c *pb.ChannelConfig) { c.Organizations[0].RootCerts = [][]byte{{1, 2}} }, "root certificate 0"},
		{"foreign node", func(c *pb.ChannelConfig) { c.Nodes[0].MspId = "XMSP" }, "not a member"},
		{"dup node", func(c *pb.ChannelConfig) { c.Nodes[1].Id = c.Nodes[0].Id }, "used twice"},
		{"no nodes", func(c *pb.ChannelConfig) { c.Nodes = nil }, "no nodes"},
		{"bad ACL resource", func(c *pb.ChannelConfig) {
			c.Acl = []*pb.ACLRule{{Resource: "a/b/c", Principals: []string{"*.client"}}}
		}, "ACL resource"},
		{"bad ACL role", func(c *pb.ChannelConfig) { c.Acl = []*pb.ACLRule{{Resource: "*", Principals: []string{"H1MSP.king"}}} }, "ACL principal"},
		{"huge timeout", func(c *pb.ChannelConfig) { c.Batch = &pb.BatchConfig{TimeoutMillis: 120_000} }, "batch timeout"},
		{"negative block lead", func(c *pb.ChannelConfig) { c.MaxBlockAheadMillis = -1 }, "max block ahead"},
		{"block lead beyond the clock skew", func(c *pb.ChannelConfig) {
			c.MaxClockSkewMillis, c.MaxBlockAheadMillis = 5_000, 6_000
		}, "max block ahead 6000ms must be in 0..max clock skew (5s)"},
	}
	for _, tt := range tests {
		f := fixture.New(t, "main", []string{"H1MSP", "H2MSP"})
		tt.mut(f.Config)
		_, err := channel.New(f.Config)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want it to mention %q", tt.name, err, tt.want)
		}
	}
}

func TestMaxBlockAhead(t *testing.T) {
	f := fixture.New(t, "main", []string{"H1MSP"})
	for _, tt := range []struct {
		skew, ahead int64
		want        time.Duration
	}{
		{0, 0, channel.DefaultMaxBlockAhead},
		{10_000, 0, 10 * time.Second}, // never beyond the clock skew
		{0, 2_000, 2 * time.Second},
	} {
		f.Config.MaxClockSkewMillis, f.Config.MaxBlockAheadMillis = tt.skew, tt.ahead
		cfg, err := channel.New(f.Config)
		if err != nil {
			t.Fatal(err)
		}
		if got := cfg.MaxBlockAhead(); got != tt.want {
			t.Errorf("skew %dms, ahead %dms: MaxBlockAhead() = %s, want %s", tt.skew, tt.ahead, got, tt.want)
		}
	}
}

// TestGenesisVersions: a channel created before BlockVersion 2 can still be
// joined and verified (its genesis executes nothing); a version this code
// does not know cannot.
func TestGenesisVersions(t *testing.T) {
	f := fixture.New(t, "main", []string{"H1MSP"})
	g := f.MakeGenesis(t)
	if g.GetHeader().GetVersion() != channel.BlockVersion {
		t.Fatalf("genesis version %d, want %d", g.GetHeader().GetVersion(), channel.BlockVersion)
	}
	for v, ok := range map[uint32]bool{0: false, channel.MinBlockVersion: true, channel.BlockVersion: true, channel.BlockVersion + 1: false} {
		b := proto.Clone(g).(*pb.Block)
		b.Header.Version = v
		h := block.HeaderHash(b.Header)
		sig, err := f.Orgs[0].Admin.SignDigest(h[:])
		if err != nil {
			t.Fatal(err)
		}
		b.Signature = sig
		if _, err := channel.VerifyGenesis(b); (err == nil) != ok {
			t.Errorf("genesis of version %d: %v, want accepted = %v", v, err, ok)
		}
	}
}

func TestGenesisVerification(t *testing.T) {
	f := fixture.New(t, "side-high", []string{"H1MSP", "H2MSP"})
	g := f.MakeGenesis(t)
	cfg, err := channel.VerifyGenesis(g)
	if err != nil || cfg.Name() != "side-high" || len(cfg.Nodes()) != 2 {
		t.Fatalf("VerifyGenesis = %v, %v", cfg, err)
	}
	if _, err := channel.Genesis(f.Config, f.Orgs[0].Client, time.Now()); err == nil {
		t.Error("a client signed a genesis block")
	}
	outsider := fixture.New(t, "side-high", []string{"H1MSP"})
	if _, err := channel.Genesis(f.Config, outsider.Orgs[0].Admin, time.Now()); err == nil {
		t.Error("an administrator of a foreign CA signed a genesis block")
	}
	for name, mut := range map[string]func(b *pb.Block){
		"header number": func(b *pb.Block) { b.Header.Number = 1 },
		"header signature": func(b *pb.Block) {
			b.Signature[len(b.Signature)-1] ^= 1
		},
		"state hash":  func(b *pb.Block) { b.Header.StateHash[0] ^= 1 },
		"result":      func(b *pb.Block) { b.Results[0].Writes[0].Value = []byte("other config") },
		"transaction": func(b *pb.Block) { b.Transactions[0][len(b.Transactions[0])-5] ^= 1 },
		"two txs":     func(b *pb.Block) { b.Transactions = append(b.Transactions, b.Transactions[0]) },
	} {
		b := proto.Clone(g).(*pb.Block)
		mut(b)
		if _, err := channel.VerifyGenesis(b); err == nil {
			t.Errorf("genesis with altered %s verifies", name)
		}
	}
}

func TestProfile(t *testing.T) {
	dir := t.TempDir()
	f := fixture.New(t, "main", []string{"H1MSP", "H2MSP"})
	for _, o := range f.Orgs {
		if err := identity.WriteCertFile(filepath.Join(dir, o.MSPID, "ca.pem"), o.CA.Certificate()); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("N0_API", "10.0.0.1:7051")
	profile := `
organizations:
  - {mspID: H1MSP, name: One, caFile: H1MSP/ca.pem}
  - {mspID: H2MSP, name: Two, caFile: H2MSP/ca.pem}
nodes:
  - {id: node0, mspID: H1MSP, apiAddress: "${N0_API:-127.0.0.1:1}", clusterAddress: "${N0_CLUSTER:-127.0.0.1:2}"}
  - {id: node1, mspID: H2MSP, apiAddress: 127.0.0.1:3, clusterAddress: 127.0.0.1:4}
batch: {maxMessageCount: 10, timeout: 20ms}
channels:
  main: {organizations: [H1MSP, H2MSP], acl: [{resource: "kv/*", principals: [H1MSP.client]}]}
  solo: {organizations: [H1MSP]}
  broken: {organizations: [H9MSP]}
`
	path := filepath.Join(dir, "configtx.yaml")
	os.WriteFile(path, []byte(profile), 0o644)
	p, err := channel.LoadProfile(path, dir)
	if err != nil {
		t.Fatal(err)
	}
	c, err := p.Config("main")
	if err != nil {
		t.Fatal(err)
	}
	if c.GetNodes()[0].GetApiAddress() != "10.0.0.1:7051" || c.GetNodes()[0].GetClusterAddress() != "127.0.0.1:2" {
		t.Errorf("environment expansion: %v", c.GetNodes()[0])
	}
	if c.GetBatch().GetTimeoutMillis() != 20 || len(c.GetAcl()) != 1 || len(c.GetOrganizations()) != 2 {
		t.Errorf("config = %v", c)
	}
	solo, err := p.Config("solo")
	if err != nil || len(solo.GetNodes()) != 1 {
		t.Errorf("solo: only H1's node serves it: %v %v", solo.GetNodes(), err)
	}
	if _, err := p.Config("broken"); err == nil || !strings.Contains(err.Error(), "H9MSP") {
		t.Errorf("broken: %v", err)
	}
	if _, err := p.Config("nope"); err == nil {
		t.Error("unknown channel")
	}
}

func FuzzVerifyGenesis(f *testing.F) {
	fx := fixture.New(f, "main", []string{"H1MSP"})
	raw, _ := proto.Marshal(fx.MakeGenesis(f))
	f.Add(raw)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		blk := new(pb.Block)
		if proto.Unmarshal(b, blk) != nil {
			return
		}
		cfg, err := channel.VerifyGenesis(blk)
		if err != nil {
			return
		}
		// Whatever verifies is self-consistent: its header names the
		// configured channel and its configuration is the one it stores.
		stored, err := channel.ConfigFromState(blk.GetResults()[0].GetWrites()[0].GetValue())
		if blk.GetHeader().GetChannel() != cfg.Name() || err != nil || stored.Name() != cfg.Name() {
			t.Fatalf("verified genesis is inconsistent: %v", err)
		}
	})
}
