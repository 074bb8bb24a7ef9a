package kubo_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/medshare/medshare/internal/kubo"
	"github.com/medshare/medshare/internal/kubo/kubotest"
)

// call posts to a daemon's RPC API and returns the body of a 200 answer.
func call(ctx context.Context, api, cmd string, body []byte) ([]byte, error) {
	var rd io.Reader
	ctype := ""
	if body != nil {
		var buf bytes.Buffer
		w := multipart.NewWriter(&buf)
		part, _ := w.CreateFormFile("file", "blob")
		part.Write(body)
		w.Close()
		rd, ctype = &buf, w.FormDataContentType()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+api+"/api/v0/"+cmd, rd)
	if err != nil {
		return nil, err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: HTTP %d: %s", cmd, resp.StatusCode, b)
	}
	return b, nil
}

// putBlock stores data as a raw block and returns its CID.
func putBlock(t *testing.T, api string, data []byte) string {
	t.Helper()
	b, err := call(context.Background(), api, "block/put?cid-codec=raw", data)
	if err != nil {
		t.Fatal(err)
	}
	var out struct{ Key string }
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out.Key
}

func TestSwarmExchangesBlocks(t *testing.T) {
	s := kubotest.Start(t, 2, kubotest.Options{})
	data := []byte("a block only the consortium may fetch " + t.Name() + time.Now().String())
	cid := putBlock(t, s.Nodes[0].APIAddr(), data)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	got, err := call(ctx, s.Nodes[1].APIAddr(), "block/get?arg="+cid, nil)
	if err != nil {
		t.Fatalf("daemon 1 could not fetch daemon 0's block: %v", err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("daemon 1 fetched %q, want %q", got, data)
	}
}

func TestConfigurationIsPrivate(t *testing.T) {
	s := kubotest.Start(t, 1, kubotest.Options{})
	nd := s.Nodes[0]
	raw, err := os.ReadFile(filepath.Join(nd.Config().Repo, "config"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	settings, err := kubo.Settings(nd.Config())
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range settings {
		var v any = cfg
		for _, k := range strings.Split(st.Key, ".") {
			m, _ := v.(map[string]any)
			v = m[k]
		}
		want, _ := json.Marshal(st.Value)
		got, _ := json.Marshal(v)
		if !bytes.Equal(got, want) {
			t.Errorf("%s = %s, want %s", st.Key, got, want)
		}
	}
	// What the running daemon reports, not only what the file says.
	b, err := call(context.Background(), nd.APIAddr(), "config/show", nil)
	if err != nil {
		t.Fatal(err)
	}
	var running struct {
		Bootstrap []string
		Routing   struct{ Type string }
		Addresses struct{ Swarm []string }
	}
	if err := json.Unmarshal(b, &running); err != nil {
		t.Fatal(err)
	}
	if len(running.Bootstrap) != 0 || running.Routing.Type != "none" || len(running.Addresses.Swarm) != 1 || !strings.HasPrefix(running.Addresses.Swarm[0], "/ip4/127.0.0.1/tcp/") {
		t.Errorf("running config: bootstrap %v, routing %q, swarm %v", running.Bootstrap, running.Routing.Type, running.Addresses.Swarm)
	}
}

// An outsider — a daemon with another swarm key that knows the consortium's
// addresses and peer IDs — can neither connect nor fetch a block.
func TestOutsiderWithAnotherKeyCannotJoin(t *testing.T) {
	s := kubotest.Start(t, 1, kubotest.Options{})
	insider := s.Nodes[0]
	cid := putBlock(t, insider.APIAddr(), []byte("ciphertext of "+t.Name()))

	out := kubotest.Start(t, 1, kubotest.Options{}) // its own, different key
	outsider := out.Nodes[0]
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := outsider.Connect(ctx, insider.Peer()); err == nil {
		t.Fatal("an outsider with another swarm key connected to the consortium's daemon")
	}
	if _, err := call(ctx, outsider.APIAddr(), "block/get?arg="+cid, nil); err == nil {
		t.Fatal("an outsider fetched the consortium's block")
	}
	if ids, err := insider.SwarmPeers(context.Background()); err != nil || len(ids) != 0 {
		t.Fatalf("insider's peers = %v, %v; want none", ids, err)
	}
}

// With LIBP2P_FORCE_PNET=1 a daemon whose repository lost its swarm key
// refuses to start rather than join the public network.
func TestDaemonWithoutSwarmKeyDoesNotStart(t *testing.T) {
	bin := kubotest.Binary(t)
	dir := t.TempDir()
	key := filepath.Join(dir, kubo.SwarmKeyFile)
	if err := kubo.WriteSwarmKey(key, nil); err != nil {
		t.Fatal(err)
	}
	cfg := kubo.DefaultConfig()
	cfg.Bin, cfg.Repo, cfg.SwarmKey, cfg.BindToParent = bin, filepath.Join(dir, "repo"), key, true
	cfg.StartTimeout = 30 * time.Second
	nd, err := kubo.Init(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nd.Stop() })
	if err := os.Remove(filepath.Join(cfg.Repo, kubo.SwarmKeyFile)); err != nil {
		t.Fatal(err)
	}
	err = nd.Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), "private network") {
		t.Fatalf("Start without a swarm key: %v; want a refusal naming the private network", err)
	}
	if nd.Running() {
		t.Fatal("the daemon runs without a swarm key")
	}
}

// Init on an existing repository keeps its identity and data and applies
// new settings; the daemon starts again and still holds its blocks.
func TestRestartKeepsIdentityAndData(t *testing.T) {
	s := kubotest.Start(t, 1, kubotest.Options{})
	nd := s.Nodes[0]
	data := []byte("kept across restarts " + t.Name())
	cid := putBlock(t, nd.APIAddr(), data)
	if err := nd.Stop(); err != nil {
		t.Fatal(err)
	}
	if nd.Running() {
		t.Fatal("still running after Stop")
	}
	cfg := nd.Config()
	cfg.API = "127.0.0.1:0" // a new port
	again, err := kubo.Init(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { again.Stop() })
	if again.ID() != nd.ID() {
		t.Fatalf("identity changed: %s, was %s", again.ID(), nd.ID())
	}
	if again.APIAddr() == nd.APIAddr() {
		t.Fatalf("API address %s was not re-chosen", again.APIAddr())
	}
	if err := again.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	got, err := call(ctx, again.APIAddr(), "block/get?arg="+cid+"&offline=true", nil)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("block after restart = %q, %v", got, err)
	}
}

// Kill ends the daemon at once; Start after a crash works (the stale api
// file is removed).
func TestStartAfterKill(t *testing.T) {
	s := kubotest.Start(t, 1, kubotest.Options{})
	nd := s.Nodes[0]
	if err := nd.Kill(); err != nil {
		t.Fatal(err)
	}
	if nd.Running() {
		t.Fatal("running after Kill")
	}
	if err := nd.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := nd.Start(context.Background()); err == nil {
		t.Fatal("a second Start of a running daemon succeeded")
	}
}
