package node

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/medshare/medshare/network/consensus"
)

// Config is a node's configuration: read from YAML, overridden by MEDSHARE_*
// environment variables, then validated.
type Config struct {
	// Identity is the directory holding the node's signing and TLS
	// certificates and keys, as the crypto generator writes it.
	Identity string `yaml:"identity"`
	// APIAddress is where clients, administrators and other nodes reach the
	// node's gRPC API (mutual TLS).
	APIAddress string `yaml:"apiAddress"`
	// ClusterAddress is where the channels' Raft traffic arrives (mutual TLS).
	ClusterAddress string `yaml:"clusterAddress"`
	// DataDir holds every channel's ledger and Raft state.
	DataDir string `yaml:"dataDir"`
	// Raft tunes the channels' Raft members.
	Raft RaftConfig `yaml:"raft"`
	// CompareInterval is how often the node compares block and state hashes
	// with its peers; 0 disables the comparison.
	CompareInterval time.Duration `yaml:"compareInterval"`
	// DebugAddress, when set, is a loopback host:port serving Go's
	// net/http/pprof profiles (CPU, heap, goroutines) for diagnosing a slow
	// node. It must be a loopback address: profiles reveal memory contents.
	DebugAddress string `yaml:"debugAddress,omitempty"`
	// LogLevel is debug, info, warn or error; LogFormat is text or json.
	LogLevel  string `yaml:"logLevel"`
	LogFormat string `yaml:"logFormat"`
	// FaultClockOffset shifts the clock this node stamps blocks and checks
	// transaction times with. It is fault injection, for tests of a node
	// whose clock is wrong (the system clock is shared); leave it unset.
	FaultClockOffset time.Duration `yaml:"faultClockOffset,omitempty"`
}

// RaftConfig is the YAML form of consensus.Config.
type RaftConfig struct {
	HeartbeatTimeout   time.Duration `yaml:"heartbeatTimeout"`
	ElectionTimeout    time.Duration `yaml:"electionTimeout"`
	LeaderLeaseTimeout time.Duration `yaml:"leaderLeaseTimeout"`
	CommitTimeout      time.Duration `yaml:"commitTimeout"`
	SnapshotThreshold  uint64        `yaml:"snapshotThreshold"`
	TrailingLogs       uint64        `yaml:"trailingLogs"`
	// SnapshotInterval is how often Raft checks whether SnapshotThreshold
	// new entries call for a snapshot (it waits a random time between one
	// and two intervals).
	SnapshotInterval time.Duration `yaml:"snapshotInterval"`
	LogLevel         string        `yaml:"logLevel"`
}

// Default returns a configuration for a node on one machine, with the
// identity and addresses left for the caller to fill in.
func Default() Config {
	rc := consensus.DefaultConfig()
	return Config{
		DataDir: "data",
		Raft: RaftConfig{
			HeartbeatTimeout:   rc.HeartbeatTimeout,
			ElectionTimeout:    rc.ElectionTimeout,
			LeaderLeaseTimeout: rc.LeaderLeaseTimeout,
			CommitTimeout:      rc.CommitTimeout,
			SnapshotThreshold:  rc.SnapshotThreshold,
			TrailingLogs:       rc.TrailingLogs,
			SnapshotInterval:   rc.SnapshotInterval,
			LogLevel:           rc.LogLevel,
		},
		CompareInterval: 5 * time.Second,
		LogLevel:        "info",
		LogFormat:       "text",
	}
}

// Load reads a YAML file over the defaults, then applies the environment.
func Load(path string) (Config, error) {
	cfg := Default()
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return cfg, fmt.Errorf("node config: %w", err)
		}
		dec := yaml.NewDecoder(strings.NewReader(string(data)))
		dec.KnownFields(true)
		if err := dec.Decode(&cfg); err != nil {
			return cfg, fmt.Errorf("node config %s: %w", path, err)
		}
	}
	if err := cfg.ApplyEnv(os.LookupEnv); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// ApplyEnv overrides fields from MEDSHARE_* variables: MEDSHARE_IDENTITY,
// MEDSHARE_API_ADDRESS, MEDSHARE_CLUSTER_ADDRESS, MEDSHARE_DATA_DIR,
// MEDSHARE_LOG_LEVEL, MEDSHARE_LOG_FORMAT, MEDSHARE_DEBUG_ADDRESS,
// MEDSHARE_COMPARE_INTERVAL.
func (c *Config) ApplyEnv(lookup func(string) (string, bool)) error {
	str := map[string]*string{
		"MEDSHARE_IDENTITY":        &c.Identity,
		"MEDSHARE_API_ADDRESS":     &c.APIAddress,
		"MEDSHARE_CLUSTER_ADDRESS": &c.ClusterAddress,
		"MEDSHARE_DATA_DIR":        &c.DataDir,
		"MEDSHARE_LOG_LEVEL":       &c.LogLevel,
		"MEDSHARE_LOG_FORMAT":      &c.LogFormat,
		"MEDSHARE_DEBUG_ADDRESS":   &c.DebugAddress,
	}
	for k, p := range str {
		if v, ok := lookup(k); ok {
			*p = v
		}
	}
	if v, ok := lookup("MEDSHARE_COMPARE_INTERVAL"); ok {
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("MEDSHARE_COMPARE_INTERVAL: %w", err)
		}
		c.CompareInterval = d
	}
	return nil
}

// Consensus converts the Raft settings.
func (c Config) Consensus() consensus.Config {
	rc := consensus.DefaultConfig()
	r := c.Raft
	rc.HeartbeatTimeout, rc.ElectionTimeout, rc.LeaderLeaseTimeout, rc.CommitTimeout = r.HeartbeatTimeout, r.ElectionTimeout, r.LeaderLeaseTimeout, r.CommitTimeout
	rc.SnapshotThreshold, rc.TrailingLogs, rc.LogLevel = r.SnapshotThreshold, r.TrailingLogs, r.LogLevel
	if r.SnapshotInterval > 0 {
		rc.SnapshotInterval = r.SnapshotInterval
	}
	return rc
}

// Validate reports every problem with the configuration at once.
func (c Config) Validate() error {
	var errs []error
	if c.Identity == "" {
		errs = append(errs, errors.New("identity: directory of the node's certificates is required"))
	}
	for name, addr := range map[string]string{"apiAddress": c.APIAddress, "clusterAddress": c.ClusterAddress} {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			errs = append(errs, fmt.Errorf("%s: %q is not host:port", name, addr))
		}
	}
	if c.APIAddress == c.ClusterAddress && c.APIAddress != "" {
		errs = append(errs, errors.New("apiAddress and clusterAddress must differ"))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("dataDir is required"))
	}
	if c.DebugAddress != "" && !isLoopback(c.DebugAddress) {
		errs = append(errs, fmt.Errorf("debugAddress: %q must be a loopback host:port (127.0.0.1, ::1 or localhost)", c.DebugAddress))
	}
	if c.CompareInterval < 0 {
		errs = append(errs, errors.New("compareInterval must not be negative"))
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("logLevel %q: want debug, info, warn or error", c.LogLevel))
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		errs = append(errs, fmt.Errorf("logFormat %q: want text or json", c.LogFormat))
	}
	if err := c.Consensus().Validate(); err != nil {
		errs = append(errs, fmt.Errorf("raft: %w", err))
	}
	return errors.Join(errs...)
}

// isLoopback reports whether addr is host:port with a loopback host.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
