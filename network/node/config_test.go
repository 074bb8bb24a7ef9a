package node_test

import (
	"strings"
	"testing"
	"time"

	"github.com/medshare/medshare/network/node"
)

func valid() node.Config {
	c := node.Default()
	c.Identity = "crypto/node0"
	c.APIAddress, c.ClusterAddress = "127.0.0.1:7051", "127.0.0.1:7052"
	return c
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(*node.Config)
		want string // substring of the error; "" for valid
	}{
		{"defaults with addresses", func(*node.Config) {}, ""},
		{"debug on IPv4 loopback", func(c *node.Config) { c.DebugAddress = "127.0.0.1:6060" }, ""},
		{"debug on localhost", func(c *node.Config) { c.DebugAddress = "localhost:6060" }, ""},
		{"debug on IPv6 loopback", func(c *node.Config) { c.DebugAddress = "[::1]:6060" }, ""},
		{"debug on every interface", func(c *node.Config) { c.DebugAddress = ":6060" }, `debugAddress: ":6060" must be a loopback host:port`},
		{"debug on a public address", func(c *node.Config) { c.DebugAddress = "10.0.0.1:6060" }, `debugAddress: "10.0.0.1:6060" must be a loopback`},
		{"no identity", func(c *node.Config) { c.Identity = "" }, "identity: directory of the node's certificates is required"},
		{"same addresses", func(c *node.Config) { c.ClusterAddress = c.APIAddress }, "apiAddress and clusterAddress must differ"},
		{"bad log level", func(c *node.Config) { c.LogLevel = "loud" }, `logLevel "loud"`},
		{"negative compare interval", func(c *node.Config) { c.CompareInterval = -time.Second }, "compareInterval must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid()
			tt.edit(&c)
			err := c.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Validate() = %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("Validate() = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestApplyEnv(t *testing.T) {
	env := map[string]string{
		"MEDSHARE_DEBUG_ADDRESS":    "127.0.0.1:6061",
		"MEDSHARE_LOG_LEVEL":        "debug",
		"MEDSHARE_COMPARE_INTERVAL": "2s",
	}
	c := valid()
	if err := c.ApplyEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
		t.Fatal(err)
	}
	if c.DebugAddress != "127.0.0.1:6061" || c.LogLevel != "debug" || c.CompareInterval != 2*time.Second {
		t.Fatalf("after ApplyEnv: %+v", c)
	}
	bad := func(k string) (string, bool) { return "soon", k == "MEDSHARE_COMPARE_INTERVAL" }
	if err := c.ApplyEnv(bad); err == nil || !strings.Contains(err.Error(), "MEDSHARE_COMPARE_INTERVAL") {
		t.Fatalf("ApplyEnv(bad interval) = %v", err)
	}
}
