package kubo

import (
	"bytes"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSwarmKey(t *testing.T) {
	k1, err := NewSwarmKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	k2, _ := NewSwarmKey(rand.Reader)
	if bytes.Equal(k1, k2) {
		t.Fatal("two swarm keys are equal")
	}
	if !bytes.HasPrefix(k1, []byte("/key/swarm/psk/1.0.0/\n/base16/\n")) || len(k1) != len(swarmKeyHeader)+65 {
		t.Fatalf("swarm key %q is not a PSK v1 hex key", k1)
	}
	if err := CheckSwarmKey(k1); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"", "/key/swarm/psk/1.0.0/\n/base16/\nabcd\n", "/key/swarm/psk/1.0.0/\n/base16/\n" + strings.Repeat("zz", 32), "hello"} {
		if err := CheckSwarmKey([]byte(bad)); !errors.Is(err, ErrBadSwarmKey) {
			t.Errorf("CheckSwarmKey(%q) = %v, want ErrBadSwarmKey", bad, err)
		}
	}
	if _, err := NewSwarmKey(bytes.NewReader(make([]byte, 5))); err == nil {
		t.Error("a short random source gave a key")
	}

	path := filepath.Join(t.TempDir(), SwarmKeyFile)
	if err := WriteSwarmKey(path, nil); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("swarm key file mode = %v, %v; want 0600", fi.Mode(), err)
	}
	before, _ := os.ReadFile(path)
	if err := WriteSwarmKey(path, nil); err == nil {
		t.Fatal("WriteSwarmKey replaced an existing key")
	}
	after, err := ReadSwarmKey(path)
	if err != nil || !bytes.Equal(before, after) {
		t.Fatalf("the key changed or does not read back: %v", err)
	}
	os.WriteFile(path+".bad", []byte("not a key"), 0o600)
	if _, err := ReadSwarmKey(path + ".bad"); !errors.Is(err, ErrBadSwarmKey) {
		t.Fatalf("ReadSwarmKey of a bad file = %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	good := func() Config {
		c := DefaultConfig()
		c.Bin, c.Repo, c.SwarmKey = "/bin/ipfs", "/tmp/repo", "/tmp/swarm.key"
		return c
	}
	if c := good(); c.Validate() != nil {
		t.Fatal(c.Validate())
	}
	tests := []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"no binary", func(c *Config) { c.Bin = "" }, "bin: the ipfs binary is required"},
		{"no repo", func(c *Config) { c.Repo = "" }, "repo: a repository folder is required"},
		{"no key", func(c *Config) { c.SwarmKey = "" }, "swarmKey: the consortium's swarm key file is required"},
		{"API on all interfaces", func(c *Config) { c.API = "0.0.0.0:5001" }, `api: "0.0.0.0:5001" is not a loopback address`},
		{"gateway on a public address", func(c *Config) { c.Gateway = "192.0.2.1:8080" }, `gateway: "192.0.2.1:8080" is not a loopback address`},
		{"host name", func(c *Config) { c.Swarm = "localhost:4001" }, `swarm: "localhost:4001": the host must be an IP address`},
		{"bad port", func(c *Config) { c.Swarm = "127.0.0.1:99999" }, `swarm: "127.0.0.1:99999": bad port`},
		{"no port", func(c *Config) { c.API = "127.0.0.1" }, `api: "127.0.0.1" is not host:port`},
		{"unknown datastore", func(c *Config) { c.Datastore = "badgerds" }, `datastore: "badgerds" is neither`},
		{"peer without address", func(c *Config) { c.Peers = []Peer{{ID: "12D3Koo"}} }, "peers[0]: an ID and at least one address are required"},
		{"bad peer ID", func(c *Config) { c.Peers = []Peer{{ID: "12D3Koo", Addrs: []string{"/ip4/127.0.0.1/tcp/1"}}} }, `peers[0]: "12D3Koo" is not a peer ID`},
		{"bad peer address", func(c *Config) {
			c.Peers = []Peer{{ID: "12D3KooWABCLVQWeCTxjfqKsSEvYbTAWKdrW21x2Awo1CRmt4a96", Addrs: []string{"127.0.0.1:4001"}}}
		}, `peers[0]: "127.0.0.1:4001" is not a multiaddr`},
		{"zero timeout", func(c *Config) { c.StartTimeout = 0 }, "startTimeout and stopTimeout must be positive"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := good()
			tc.change(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v, want it to contain %q", err, tc.want)
			}
		})
	}
	c := good()
	c.AllowRemoteAPI, c.API, c.Gateway = true, "0.0.0.0:5001", "10.0.0.2:8080"
	if err := c.Validate(); err != nil {
		t.Fatalf("AllowRemoteAPI: %v", err)
	}
}

func TestMultiaddr(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:4001":        "/ip4/127.0.0.1/tcp/4001",
		"[::1]:4001":            "/ip6/::1/tcp/4001",
		"[::ffff:10.0.0.1]:443": "/ip4/10.0.0.1/tcp/443",
	} {
		if got, err := Multiaddr(in); err != nil || got != want {
			t.Errorf("Multiaddr(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"localhost:1", "1.2.3.4", ""} {
		if _, err := Multiaddr(bad); err == nil {
			t.Errorf("Multiaddr(%q) succeeded", bad)
		}
	}
}

func TestApplySettings(t *testing.T) {
	cfg := map[string]any{
		"Bootstrap": []any{"/dnsaddr/bootstrap.example"},
		"Swarm":     map[string]any{"ConnMgr": map[string]any{"Type": "basic"}},
		"Identity":  "not an object",
	}
	err := applySettings(cfg, []Setting{
		{"Bootstrap", []string{}},
		{"Swarm.Transports.Network.QUIC", false},
		{"Peering.Peers", []Peer{{ID: "p", Addrs: []string{"/ip4/127.0.0.1/tcp/1"}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if b := cfg["Bootstrap"].([]any); len(b) != 0 {
		t.Errorf("Bootstrap = %v", b)
	}
	sw := cfg["Swarm"].(map[string]any)
	if sw["ConnMgr"].(map[string]any)["Type"] != "basic" {
		t.Error("a sibling key was lost")
	}
	if sw["Transports"].(map[string]any)["Network"].(map[string]any)["QUIC"] != false {
		t.Error("nested objects were not created")
	}
	peers := cfg["Peering"].(map[string]any)["Peers"].([]any)
	if peers[0].(map[string]any)["ID"] != "p" {
		t.Errorf("Peering.Peers = %v", peers)
	}
	if err := applySettings(cfg, []Setting{{"Identity.PeerID", "x"}}); err == nil {
		t.Error("setting under a non-object succeeded")
	}
	s := Setting{"Routing.Type", "none"}
	if got := s.String(); got != `ipfs config --json Routing.Type '"none"'` {
		t.Errorf("String() = %s", got)
	}
}
