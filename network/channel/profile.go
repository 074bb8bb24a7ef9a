package channel

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/medshare/medshare/network/identity"
	"github.com/medshare/medshare/network/pb"
)

// Profile is the YAML description of a network's channels (the equivalent
// of Fabric's configtx.yaml): the organisations and nodes, default block and
// limit settings, and each channel's members and ACL. ${VAR} and
// ${VAR:-default} in the file are replaced from the environment, so the same
// profile serves processes on loopback and containers.
type Profile struct {
	Organizations []ProfileOrg              `yaml:"organizations"`
	Nodes         []ProfileNode             `yaml:"nodes"`
	Batch         ProfileBatch              `yaml:"batch"`
	MaxTxBytes    uint32                    `yaml:"maxTxBytes"`
	MaxClockSkew  time.Duration             `yaml:"maxClockSkew"`
	MaxBlockAhead time.Duration             `yaml:"maxBlockAhead"`
	Channels      map[string]ProfileChannel `yaml:"channels"`

	dir string // the crypto directory CA files are relative to
}

// ProfileOrg is an organisation and where its CA certificate is.
type ProfileOrg struct {
	MSPID string `yaml:"mspID"`
	Name  string `yaml:"name"`
	// CAFile is relative to the crypto directory.
	CAFile string `yaml:"caFile"`
}

// ProfileNode is a node and its addresses.
type ProfileNode struct {
	ID             string `yaml:"id"`
	MSPID          string `yaml:"mspID"`
	APIAddress     string `yaml:"apiAddress"`
	ClusterAddress string `yaml:"clusterAddress"`
}

// ProfileBatch is the YAML form of BatchConfig.
type ProfileBatch struct {
	MaxMessageCount   uint32        `yaml:"maxMessageCount"`
	PreferredMaxBytes uint32        `yaml:"preferredMaxBytes"`
	Timeout           time.Duration `yaml:"timeout"`
}

// ProfileChannel is one channel: its member organisations (whose nodes serve
// it), and its ACL rules.
type ProfileChannel struct {
	Organizations []string      `yaml:"organizations"`
	ACL           []ProfileACL  `yaml:"acl"`
	Batch         *ProfileBatch `yaml:"batch"`
}

// ProfileACL is one ACL rule.
type ProfileACL struct {
	Resource   string   `yaml:"resource"`
	Principals []string `yaml:"principals"`
}

// LoadProfile reads a profile; CA files are resolved against cryptoDir.
func LoadProfile(path, cryptoDir string) (*Profile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("channel profile: %w", err)
	}
	expanded := os.Expand(string(data), func(v string) string {
		name, def, hasDef := strings.Cut(v, ":-")
		if val, ok := os.LookupEnv(name); ok && val != "" {
			return val
		}
		if hasDef {
			return def
		}
		return ""
	})
	var p Profile
	dec := yaml.NewDecoder(strings.NewReader(expanded))
	dec.KnownFields(true)
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("channel profile %s: %w", path, err)
	}
	p.dir = cryptoDir
	return &p, nil
}

// ChannelNames lists the profile's channels, sorted.
func (p *Profile) ChannelNames() []string {
	names := make([]string, 0, len(p.Channels))
	for n := range p.Channels {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Config builds the configuration of one channel and validates it.
func (p *Profile) Config(name string) (*pb.ChannelConfig, error) {
	ch, ok := p.Channels[name]
	if !ok {
		return nil, fmt.Errorf("channel profile: no channel %q (have %s)", name, strings.Join(p.ChannelNames(), ", "))
	}
	orgs := map[string]ProfileOrg{}
	for _, o := range p.Organizations {
		orgs[o.MSPID] = o
	}
	batch := p.Batch
	if ch.Batch != nil {
		batch = *ch.Batch
	}
	cfg := &pb.ChannelConfig{
		Channel: name,
		Batch: &pb.BatchConfig{
			MaxMessageCount:   batch.MaxMessageCount,
			PreferredMaxBytes: batch.PreferredMaxBytes,
			TimeoutMillis:     batch.Timeout.Milliseconds(),
		},
		MaxTxBytes:          p.MaxTxBytes,
		MaxClockSkewMillis:  p.MaxClockSkew.Milliseconds(),
		MaxBlockAheadMillis: p.MaxBlockAhead.Milliseconds(),
	}
	var errs []error
	members := map[string]bool{}
	for _, msp := range ch.Organizations {
		o, ok := orgs[msp]
		if !ok {
			errs = append(errs, fmt.Errorf("channel %s: organisation %q is not in the profile", name, msp))
			continue
		}
		members[msp] = true
		cert, err := identity.ReadCertFile(filepath.Join(p.dir, o.CAFile))
		if err != nil {
			errs = append(errs, fmt.Errorf("channel %s: organisation %s: %w", name, msp, err))
			continue
		}
		cfg.Organizations = append(cfg.Organizations, &pb.Organization{MspId: msp, Name: o.Name, RootCerts: [][]byte{cert.Raw}})
	}
	for _, n := range p.Nodes {
		if members[n.MSPID] {
			cfg.Nodes = append(cfg.Nodes, &pb.NodeInfo{Id: n.ID, MspId: n.MSPID, ApiAddress: n.APIAddress, ClusterAddress: n.ClusterAddress})
		}
	}
	for _, r := range ch.ACL {
		cfg.Acl = append(cfg.Acl, &pb.ACLRule{Resource: r.Resource, Principals: r.Principals})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if _, err := New(cfg); err != nil {
		return nil, err
	}
	return cfg, nil
}

// Node returns a node of the profile.
func (p *Profile) Node(id string) (ProfileNode, bool) {
	for _, n := range p.Nodes {
		if n.ID == id {
			return n, true
		}
	}
	return ProfileNode{}, false
}
