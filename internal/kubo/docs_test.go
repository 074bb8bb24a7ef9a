package kubo_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/medshare/medshare/internal/kubo"
	"github.com/medshare/medshare/internal/kubo/kubotest"
)

// docs/ipfs.md lists the settings as `ipfs config` commands for scripts;
// they must be exactly Settings, and applying them with the ipfs binary must
// give the configuration Init writes.
func TestDocumentedCommandsAreTheSettings(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "ipfs.md"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := kubo.DefaultConfig()
	cfg.API, cfg.Gateway, cfg.Swarm = "127.0.0.1:5001", "127.0.0.1:8080", "127.0.0.1:4001"
	cfg.Peers = []kubo.Peer{{ID: "12D3KooWABCLVQWeCTxjfqKsSEvYbTAWKdrW21x2Awo1CRmt4a96", Addrs: []string{"/ip4/127.0.0.1/tcp/4002"}}}
	settings, err := kubo.Settings(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var documented []string
	for _, line := range strings.Split(string(doc), "\n") {
		if strings.HasPrefix(line, "ipfs config --json ") {
			documented = append(documented, line)
		}
	}
	var want []string
	for _, s := range settings {
		want = append(want, s.String())
	}
	if !reflect.DeepEqual(documented, want) {
		t.Fatalf("docs/ipfs.md lists\n%s\nwant\n%s", strings.Join(documented, "\n"), strings.Join(want, "\n"))
	}

	// The script path: ipfs init + the commands, against Init's output.
	bin := kubotest.Binary(t)
	dir := t.TempDir()
	key := filepath.Join(dir, kubo.SwarmKeyFile)
	if err := kubo.WriteSwarmKey(key, nil); err != nil {
		t.Fatal(err)
	}
	c := cfg
	c.Bin, c.SwarmKey, c.Repo = bin, key, filepath.Join(dir, "init")
	nd, err := kubo.Init(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(dir, "script")
	env := append(os.Environ(), "IPFS_PATH="+script, "IPFS_TELEMETRY=off")
	if out, err := (&exec.Cmd{Path: bin, Args: []string{"ipfs", "init", "--empty-repo", "--profile", "test," + kubo.DefaultConfig().Datastore}, Env: env}).CombinedOutput(); err != nil {
		t.Fatalf("ipfs init: %v\n%s", err, out)
	}
	for _, line := range want {
		cmd := exec.Command("bash", "-c", strings.Replace(line, "ipfs ", `"$IPFS_BIN" `, 1))
		cmd.Env = append(env, "IPFS_BIN="+bin)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", line, err, out)
		}
	}
	read := func(repo string) map[string]any {
		raw, err := os.ReadFile(filepath.Join(repo, "config"))
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		delete(m, "Identity")
		return m
	}
	if a, b := read(nd.Config().Repo), read(script); !reflect.DeepEqual(a, b) {
		ja, _ := json.MarshalIndent(a, "", " ")
		jb, _ := json.MarshalIndent(b, "", " ")
		t.Fatalf("Init wrote\n%s\nthe documented commands give\n%s", ja, jb)
	}
}
