package gateway

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func validConfig() Config {
	c := Default()
	c.MSPID, c.Identity = "Hospital1MSP", "id"
	c.CAs = map[string]string{"Hospital1MSP": "ca.pem"}
	c.Authority.URL = "https://127.0.0.1:9443"
	return c
}

func TestConfigValidate(t *testing.T) {
	if d := Default(); d.Validate() == nil {
		t.Fatal("the defaults alone validated: mspID, identity, cas and the authority are required")
	}
	c := validConfig()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, mod := range map[string]func(*Config){
		"listen":            func(c *Config) { c.Listen = "nowhere" },
		"cas":               func(c *Config) { c.CAs = map[string]string{"Other": "x"} },
		"gateways.X":        func(c *Config) { c.Gateways = map[string]string{"X": "http://plain"} },
		"maxBodyBytes":      func(c *Config) { c.MaxBodyBytes = 1 },
		"templates.bad":     func(c *Config) { c.Templates["bad"] = Template{Validity: time.Hour} },
		"defaultTemplate":   func(c *Config) { c.DefaultTemplate = "none" },
		"authority":         func(c *Config) { c.Authority.URL = "" },
		"authority.scheme":  func(c *Config) { c.Authority.Serve, c.Authority.SigningKey, c.Authority.Scheme = true, "k", "rsa" },
		"logFormat":         func(c *Config) { c.LogFormat = "xml" },
		"requestTimeout":    func(c *Config) { c.RequestTimeout = time.Millisecond },
		"authority.url":     func(c *Config) { c.Authority.URL = "ftp://x" },
		"authority.signing": func(c *Config) { c.Authority.Serve, c.Authority.SigningKey = true, "" },
		"authority.msp":     func(c *Config) { c.Authority.MSP = "EvilMSP" },
		"readTimeout":       func(c *Config) { c.ReadTimeout = 0 },
		"readHeaderTimeout": func(c *Config) { c.ReadHeaderTimeout = time.Hour },
		"maxHeaderBytes":    func(c *Config) { c.MaxHeaderBytes = 10 << 20 },
		"maxReplicationLag": func(c *Config) { c.MaxReplicationLag = 0 },
	} {
		c := validConfig()
		mod(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

func TestLoadConfigYAMLAndEnv(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	yml := "mspID: Hospital1MSP\nidentity: id\ncas: {Hospital1MSP: ca.pem}\nauthority: {url: \"https://127.0.0.1:9443\"}\nlisten: 127.0.0.1:9000\n"
	if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := LoadConfig(path, []string{"MEDSHARE_GATEWAY_LISTEN=127.0.0.1:9001", "MEDSHARE_GATEWAY_REQUESTTIMEOUT=45s",
		"MEDSHARE_GATEWAY_AUTHORITY_URL=https://127.0.0.1:9999", "MEDSHARE_GATEWAY_ACCESSLOG=false", "PATH=/bin"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:9001" || c.RequestTimeout != 45*time.Second || c.Authority.URL != "https://127.0.0.1:9999" || c.AccessLog {
		t.Fatalf("config = %+v", c)
	}
	if _, err := LoadConfig(path, []string{"MEDSHARE_GATEWAY_NOPE=1"}); err == nil || !strings.Contains(err.Error(), "no such setting") {
		t.Fatalf("unknown variable: %v", err)
	}
	if _, err := LoadConfig(path, []string{"MEDSHARE_GATEWAY_MAXBODYBYTES=lots"}); err == nil {
		t.Fatal("a bad number was accepted")
	}
	if err := os.WriteFile(path, []byte(yml+"colour: blue\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadConfig(path, nil); err == nil || !strings.Contains(err.Error(), "colour") {
		t.Fatalf("unknown YAML key: %v", err)
	}
}
