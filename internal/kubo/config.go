package kubo

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/multiformats/go-multiaddr"
)

// Datastores a repository can be created with (kubo's init profiles).
const (
	// DatastoreFlatfs stores each block as a file (kubo's own default) and
	// pins and metadata in leveldb: every block costs a file creation.
	DatastoreFlatfs = "flatfs"
	// DatastorePebble keeps blocks, pins and metadata in one pebble store,
	// the storage engine of the ledger itself: medshare's default, because
	// the followers' fetches and the gateways' adds of small objects cost a
	// fifth less kubo CPU than with flatfs (docs/ipfs.md).
	DatastorePebble = "pebbleds"
)

// Config describes one kubo daemon.
type Config struct {
	// Bin is the ipfs binary (see FindBinary).
	Bin string
	// Repo is the repository folder (IPFS_PATH). Init creates it when it
	// holds no repository yet.
	Repo string
	// SwarmKey is the consortium's swarm key file (WriteSwarmKey); Init
	// copies it into Repo.
	SwarmKey string
	// API, Gateway and Swarm are the host:port addresses of the RPC API, the
	// HTTP gateway and the libp2p swarm (TCP). The host is an IP literal; a
	// port of 0 makes Init choose a free one. API and Gateway must be on a
	// loopback address unless AllowRemoteAPI is set.
	API, Gateway, Swarm string
	// AllowRemoteAPI permits a non-loopback API or gateway address (a
	// container network). The RPC API has no authentication and controls
	// the daemon (pins, garbage collection, shutdown): never expose it
	// beyond the organisation.
	AllowRemoteAPI bool
	// Peers are the other organisations' daemons, kept connected through
	// Peering.Peers.
	Peers []Peer
	// Datastore is the datastore profile Init creates a repository with:
	// DatastoreFlatfs or DatastorePebble. It cannot change afterwards.
	Datastore string
	// StorageMax bounds the repository's size (Datastore.StorageMax), e.g.
	// "10GB"; empty keeps kubo's default.
	StorageMax string
	// Log is the file the daemon's output is appended to; default
	// <Repo>/daemon.log.
	Log string
	// StartTimeout bounds Start's wait for the API to answer.
	StartTimeout time.Duration
	// StopTimeout is how long Stop waits after SIGTERM before SIGKILL.
	StopTimeout time.Duration
	// Env adds KEY=value variables to the daemon's environment (for
	// example GOMAXPROCS or GOLOG_LOG_LEVEL).
	Env []string
	// BindToParent makes the kernel kill the daemon when the process that
	// started it dies (tests and benchmarks must not leave daemons behind).
	BindToParent bool
}

// Peer is another daemon of the swarm: its peer ID and libp2p multiaddrs.
type Peer struct {
	ID    string   `json:"ID"`
	Addrs []string `json:"Addrs"`
}

// DefaultConfig returns a configuration with free loopback ports, the
// pebble datastore and generous timeouts for a loaded machine. Bin, Repo and
// SwarmKey must still be set.
func DefaultConfig() Config {
	return Config{
		API:          "127.0.0.1:0",
		Gateway:      "127.0.0.1:0",
		Swarm:        "127.0.0.1:0",
		Datastore:    DatastorePebble,
		StartTimeout: 2 * time.Minute,
		StopTimeout:  15 * time.Second,
	}
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	var errs []error
	if c.Bin == "" {
		errs = append(errs, errors.New("bin: the ipfs binary is required (make kubo)"))
	}
	if c.Repo == "" {
		errs = append(errs, errors.New("repo: a repository folder is required"))
	}
	if c.SwarmKey == "" {
		errs = append(errs, errors.New("swarmKey: the consortium's swarm key file is required"))
	}
	for _, a := range []struct {
		name, addr string
		local      bool
	}{{"api", c.API, !c.AllowRemoteAPI}, {"gateway", c.Gateway, !c.AllowRemoteAPI}, {"swarm", c.Swarm, false}} {
		if err := checkAddr(a.addr, a.local); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", a.name, err))
		}
	}
	switch c.Datastore {
	case DatastoreFlatfs, DatastorePebble:
	default:
		errs = append(errs, fmt.Errorf("datastore: %q is neither %q nor %q", c.Datastore, DatastoreFlatfs, DatastorePebble))
	}
	for i, p := range c.Peers {
		if p.ID == "" || len(p.Addrs) == 0 {
			errs = append(errs, fmt.Errorf("peers[%d]: an ID and at least one address are required", i))
			continue
		}
		if _, err := peer.Decode(p.ID); err != nil {
			errs = append(errs, fmt.Errorf("peers[%d]: %q is not a peer ID", i, p.ID))
		}
		for _, a := range p.Addrs {
			if _, err := multiaddr.NewMultiaddr(a); err != nil {
				errs = append(errs, fmt.Errorf("peers[%d]: %q is not a multiaddr", i, a))
			}
		}
	}
	if c.StartTimeout <= 0 || c.StopTimeout <= 0 {
		errs = append(errs, errors.New("startTimeout and stopTimeout must be positive"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("kubo: config: %w", err)
	}
	return nil
}

func checkAddr(hostport string, loopback bool) error {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return fmt.Errorf("%q is not host:port", hostport)
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return fmt.Errorf("%q: the host must be an IP address", hostport)
	}
	if loopback && !ip.IsLoopback() {
		return fmt.Errorf("%q is not a loopback address", hostport)
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || (n == 0 && port != "0") {
		return fmt.Errorf("%q: bad port", hostport)
	}
	return nil
}

// Multiaddr returns the TCP multiaddr of a host:port address, as kubo's
// configuration writes addresses: "/ip4/127.0.0.1/tcp/4001".
func Multiaddr(hostport string) (string, error) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return "", fmt.Errorf("kubo: %q is not host:port", hostport)
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return "", fmt.Errorf("kubo: %q: the host must be an IP address", hostport)
	}
	proto := "ip4"
	if ip.Is6() && !ip.Is4In6() {
		proto = "ip6"
	}
	return "/" + proto + "/" + ip.Unmap().String() + "/tcp/" + port, nil
}
