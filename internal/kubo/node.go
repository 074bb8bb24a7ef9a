package kubo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// EnvForcePNet makes libp2p refuse to start without a swarm key.
const EnvForcePNet = "LIBP2P_FORCE_PNET"

// Node is one kubo daemon: its repository and, once started, its process.
type Node struct {
	cfg Config
	id  string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// Init prepares the repository of cfg and returns the daemon, not started.
// A folder without a repository gets one (`ipfs init --empty-repo` with the
// configured datastore profile); an existing repository keeps its identity
// and data. Either way Init copies the swarm key in, chooses free ports for
// the addresses whose port is 0, and writes Settings into the config file,
// so a changed address or peer list takes effect at the next Start.
func Init(ctx context.Context, cfg Config) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	key, err := ReadSwarmKey(cfg.SwarmKey)
	if err != nil {
		return nil, err
	}
	if cfg.Log == "" {
		cfg.Log = filepath.Join(cfg.Repo, "daemon.log")
	}
	if err := os.MkdirAll(cfg.Repo, 0o700); err != nil {
		return nil, fmt.Errorf("kubo: %w", err)
	}
	if _, err := os.Stat(filepath.Join(cfg.Repo, "config")); errors.Is(err, os.ErrNotExist) {
		// The key must be in place before init: with LIBP2P_FORCE_PNET set,
		// nothing of the repository is used without it.
		if err := writeFileAtomic(filepath.Join(cfg.Repo, SwarmKeyFile), key, 0o600); err != nil {
			return nil, err
		}
		cmd := exec.CommandContext(ctx, cfg.Bin, "init", "--empty-repo", "--profile", "test,"+cfg.Datastore)
		cmd.Env = daemonEnv(cfg)
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("kubo: ipfs init %s: %w\n%s", cfg.Repo, err, out)
		}
	} else if err != nil {
		return nil, fmt.Errorf("kubo: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(cfg.Repo, SwarmKeyFile), key, 0o600); err != nil {
		return nil, err
	}
	if err := pickPorts(&cfg.API, &cfg.Gateway, &cfg.Swarm); err != nil {
		return nil, err
	}
	n := &Node{cfg: cfg}
	if err := n.writeConfig(); err != nil {
		return nil, err
	}
	return n, nil
}

// writeConfig applies Settings to the repository's config file and reads
// the daemon's peer ID from it.
func (n *Node) writeConfig() error {
	settings, err := Settings(n.cfg)
	if err != nil {
		return err
	}
	path := filepath.Join(n.cfg.Repo, "config")
	raw, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("kubo: %w", err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return fmt.Errorf("kubo: %s: %w", path, err)
	}
	if err := applySettings(doc, settings); err != nil {
		return err
	}
	id, _ := doc["Identity"].(map[string]any)
	n.id, _ = id["PeerID"].(string)
	if n.id == "" {
		return fmt.Errorf("kubo: %s has no Identity.PeerID", path)
	}
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return fmt.Errorf("kubo: %w", err)
	}
	return writeFileAtomic(path, append(out, '\n'), 0o600)
}

func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return fmt.Errorf("kubo: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("kubo: %w", err)
	}
	return nil
}

// pickPorts replaces port 0 in each address with a free port. It holds all
// the listeners open at once, so no port is handed out twice.
func pickPorts(addrs ...*string) error {
	for _, a := range addrs {
		host, port, err := net.SplitHostPort(*a)
		if err != nil {
			return fmt.Errorf("kubo: %q is not host:port", *a)
		}
		if port != "0" {
			continue
		}
		l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			return fmt.Errorf("kubo: no free port on %s: %w", host, err)
		}
		defer l.Close()
		*a = l.Addr().String()
	}
	return nil
}

func daemonEnv(cfg Config) []string {
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, "IPFS_PATH=") || strings.HasPrefix(kv, EnvForcePNet+"=")
	})
	env = append(env, "IPFS_PATH="+cfg.Repo, EnvForcePNet+"=1", "IPFS_TELEMETRY=off")
	return append(env, cfg.Env...)
}

// Config returns the daemon's configuration, with the ports Init chose.
func (n *Node) Config() Config { return n.cfg }

// ID is the daemon's libp2p peer ID.
func (n *Node) ID() string { return n.id }

// APIAddr is the RPC API's host:port, what ipfs.New takes.
func (n *Node) APIAddr() string { return n.cfg.API }

// GatewayURL is the HTTP gateway's base URL.
func (n *Node) GatewayURL() string { return "http://" + n.cfg.Gateway }

// Peer describes the daemon for the other daemons' Peering.Peers.
func (n *Node) Peer() Peer {
	ma, _ := Multiaddr(n.cfg.Swarm) // validated by Init
	return Peer{ID: n.id, Addrs: []string{ma}}
}

// SetPeers replaces the daemon's Peering.Peers (its own entry, if there, is
// left out). It takes effect at the next Start.
func (n *Node) SetPeers(peers []Peer) error {
	cfg := n.cfg
	cfg.Peers = slices.DeleteFunc(slices.Clone(peers), func(p Peer) bool { return p.ID == n.id })
	if err := cfg.Validate(); err != nil {
		return err
	}
	n.cfg = cfg
	return n.writeConfig()
}

// LogPath is the file the daemon's output goes to.
func (n *Node) LogPath() string { return n.cfg.Log }

// Start runs `ipfs daemon` on the repository and waits until the API
// answers with the daemon's own peer ID, the process exits, ctx ends or
// StartTimeout passes.
func (n *Node) Start(ctx context.Context) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.running() {
		return fmt.Errorf("kubo: %s is already running", n.id)
	}
	// A daemon that crashed leaves its api file behind; kubo would take it
	// for a running daemon.
	os.Remove(filepath.Join(n.cfg.Repo, "api"))
	logf, err := os.OpenFile(n.cfg.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("kubo: %w", err)
	}
	cmd := exec.Command(n.cfg.Bin, "daemon", "--migrate=false")
	cmd.Env = daemonEnv(n.cfg)
	cmd.Stdout, cmd.Stderr = logf, logf
	if n.cfg.BindToParent {
		bindToParent(cmd)
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("kubo: start %s: %w", n.cfg.Bin, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); logf.Close(); close(done) }()
	n.cmd, n.done = cmd, done

	ctx, cancel := context.WithTimeout(ctx, n.cfg.StartTimeout)
	defer cancel()
	err = n.waitReady(ctx, done)
	if err != nil {
		n.stopLocked(syscall.SIGKILL)
		return fmt.Errorf("kubo: daemon %s did not start: %w\n%s", n.cfg.Repo, err, tailFile(n.cfg.Log, 20))
	}
	return nil
}

// waitReady polls the API until it answers as this daemon.
func (n *Node) waitReady(ctx context.Context, done <-chan struct{}) error {
	hc := &http.Client{Timeout: 5 * time.Second}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		id, err := apiID(ctx, hc, n.cfg.API)
		if err == nil {
			if id != n.id {
				return fmt.Errorf("the API at %s answers as peer %s, not %s: another daemon holds the port", n.cfg.API, id, n.id)
			}
			return nil
		}
		select {
		case <-done:
			return errors.New("the daemon exited")
		case <-ctx.Done():
			return fmt.Errorf("%w (last error: %v)", ctx.Err(), err)
		case <-tick.C:
		}
	}
}

// apiID asks the RPC API at addr for its peer ID.
func apiID(ctx context.Context, hc *http.Client, addr string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/api/v0/id", nil)
	if err != nil {
		return "", err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("id: HTTP %d", resp.StatusCode)
	}
	var out struct{ ID string }
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&out); err != nil {
		return "", err
	}
	return out.ID, nil
}

// Running reports whether the daemon's process is alive.
func (n *Node) Running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.running()
}

// Pid returns the daemon's process id, or 0 when it is not running.
func (n *Node) Pid() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.running() || n.cmd == nil || n.cmd.Process == nil {
		return 0
	}
	return n.cmd.Process.Pid
}

func (n *Node) running() bool {
	if n.done == nil {
		return false
	}
	select {
	case <-n.done:
		return false
	default:
		return true
	}
}

// Stop ends the daemon with SIGTERM, as Ctrl-C does, and waits for it;
// after StopTimeout it sends SIGKILL. Stopping a stopped daemon does
// nothing.
func (n *Node) Stop() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.stopLocked(syscall.SIGTERM)
}

// Kill ends the daemon with SIGKILL, as a crash would, and waits for it.
func (n *Node) Kill() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.stopLocked(syscall.SIGKILL)
}

func (n *Node) stopLocked(sig syscall.Signal) error {
	if n.cmd == nil {
		return nil
	}
	cmd, done := n.cmd, n.done
	if err := cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("kubo: stop %s: %w", n.id, err)
	}
	select {
	case <-done:
	case <-time.After(n.cfg.StopTimeout):
		cmd.Process.Kill()
		<-done
	}
	n.cmd = nil
	return nil
}

// Logs returns the end of the daemon's log, for failure messages.
func (n *Node) Logs(lines int) string { return tailFile(n.cfg.Log, lines) }

func tailFile(path string, lines int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	ls := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(ls[max(0, len(ls)-lines):], "\n")
}

// Connect asks the running daemon to connect to a peer now (Peering
// connects on its own, a few seconds after start, and reconnects with
// backoff).
func (n *Node) Connect(ctx context.Context, p Peer) error {
	for _, a := range p.Addrs {
		if _, err := n.post(ctx, "swarm/connect?arg="+url.QueryEscape(a+"/p2p/"+p.ID)); err != nil {
			return err
		}
	}
	return nil
}

// post calls the running daemon's RPC API and returns a 200 answer's body.
func (n *Node) post(ctx context.Context, cmd string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+n.cfg.API+"/api/v0/"+cmd, nil)
	if err != nil {
		return nil, fmt.Errorf("kubo: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("kubo: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("kubo: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("kubo: %s: HTTP %d: %s", strings.SplitN(cmd, "?", 2)[0], resp.StatusCode, bytes.TrimSpace(b))
	}
	return b, nil
}

// SwarmPeers returns the peer IDs the running daemon is connected to.
func (n *Node) SwarmPeers(ctx context.Context) ([]string, error) {
	b, err := n.post(ctx, "swarm/peers")
	if err != nil {
		return nil, err
	}
	var out struct{ Peers []struct{ Peer string } }
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("kubo: swarm peers: %w", err)
	}
	ids := make([]string, 0, len(out.Peers))
	for _, p := range out.Peers {
		ids = append(ids, p.Peer)
	}
	return ids, nil
}
