// Package channel is a channel's configuration: its member organisations and
// their CAs, the nodes that order and store it, when blocks are cut, size and
// clock limits, and who may call which chaincode function. The configuration
// is fixed at genesis: a channel administrator signs the genesis block and
// every node verifies it before joining.
package channel

import (
	"crypto/x509"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/medshare/medshare/network/block"
	"github.com/medshare/medshare/network/identity"
	"github.com/medshare/medshare/network/pb"
)

// Default limits, used when the configuration leaves them at zero.
const (
	DefaultMaxMessageCount   = 500
	DefaultPreferredMaxBytes = 4 << 20
	DefaultBatchTimeout      = 20 * time.Millisecond
	DefaultMaxTxBytes        = 1 << 20
	DefaultMaxClockSkew      = 10 * time.Minute
	// DefaultMaxBlockAhead is the default of MaxBlockAhead, when the
	// channel's MaxClockSkew is not smaller.
	DefaultMaxBlockAhead = 30 * time.Second
)

// Config is a validated channel configuration. It is immutable.
type Config struct {
	proto      *pb.ChannelConfig
	membership *identity.Membership
	nodes      map[string]*pb.NodeInfo
	acl        []aclRule
}

// Batch says when the leader cuts a block: when it holds MaxMessageCount
// transactions or PreferredMaxBytes bytes, or Timeout after the first
// transaction of the batch arrived.
type Batch struct {
	MaxMessageCount   int
	PreferredMaxBytes int
	Timeout           time.Duration
}

// New validates a channel configuration.
func New(c *pb.ChannelConfig) (*Config, error) {
	if !block.ValidChannelName(c.GetChannel()) {
		return nil, fmt.Errorf("channel: invalid channel name %q", c.GetChannel())
	}
	if len(c.GetOrganizations()) == 0 {
		return nil, fmt.Errorf("channel %s: no organisations", c.GetChannel())
	}
	var msps []*identity.MSP
	for _, o := range c.GetOrganizations() {
		var roots []*x509.Certificate
		for i, der := range o.GetRootCerts() {
			cert, err := x509.ParseCertificate(der)
			if err != nil {
				return nil, fmt.Errorf("channel %s: organisation %s: root certificate %d: %w", c.GetChannel(), o.GetMspId(), i, err)
			}
			roots = append(roots, cert)
		}
		msp, err := identity.NewMSP(o.GetMspId(), roots...)
		if err != nil {
			return nil, fmt.Errorf("channel %s: %w", c.GetChannel(), err)
		}
		msps = append(msps, msp)
	}
	membership, err := identity.NewMembership(msps...)
	if err != nil {
		return nil, fmt.Errorf("channel %s: %w", c.GetChannel(), err)
	}
	cfg := &Config{proto: c, membership: membership, nodes: make(map[string]*pb.NodeInfo)}
	if len(c.GetNodes()) == 0 {
		return nil, fmt.Errorf("channel %s: no nodes", c.GetChannel())
	}
	for _, n := range c.GetNodes() {
		if n.GetId() == "" || n.GetApiAddress() == "" || n.GetClusterAddress() == "" {
			return nil, fmt.Errorf("channel %s: node %q needs an ID, an API address and a cluster address", c.GetChannel(), n.GetId())
		}
		if _, ok := membership.MSP(n.GetMspId()); !ok {
			return nil, fmt.Errorf("channel %s: node %s belongs to %q, which is not a member", c.GetChannel(), n.GetId(), n.GetMspId())
		}
		if _, dup := cfg.nodes[n.GetId()]; dup {
			return nil, fmt.Errorf("channel %s: node ID %s used twice", c.GetChannel(), n.GetId())
		}
		cfg.nodes[n.GetId()] = n
	}
	if b := c.GetBatch(); b != nil && (b.GetTimeoutMillis() < 0 || b.GetTimeoutMillis() > 60_000) {
		return nil, fmt.Errorf("channel %s: batch timeout %dms is outside 0..60000", c.GetChannel(), b.GetTimeoutMillis())
	}
	if c.GetMaxClockSkewMillis() < 0 {
		return nil, fmt.Errorf("channel %s: negative clock skew", c.GetChannel())
	}
	if ms := c.GetMaxBlockAheadMillis(); ms < 0 || time.Duration(ms)*time.Millisecond > cfg.MaxClockSkew() {
		// A block further ahead than the clock skew its transactions may
		// have would mark every transaction of a correct client BAD_TIMESTAMP.
		return nil, fmt.Errorf("channel %s: max block ahead %dms must be in 0..max clock skew (%s)", c.GetChannel(), ms, cfg.MaxClockSkew())
	}
	for _, r := range c.GetAcl() {
		rule, err := parseRule(r)
		if err != nil {
			return nil, fmt.Errorf("channel %s: %w", c.GetChannel(), err)
		}
		cfg.acl = append(cfg.acl, rule)
	}
	return cfg, nil
}

// Proto returns the configuration message. Callers must not modify it.
func (c *Config) Proto() *pb.ChannelConfig { return c.proto }

// Name is the channel name.
func (c *Config) Name() string { return c.proto.GetChannel() }

// Membership validates the identities of the channel's organisations.
func (c *Config) Membership() *identity.Membership { return c.membership }

// Nodes returns the channel's nodes sorted by ID.
func (c *Config) Nodes() []*pb.NodeInfo {
	out := slices.Clone(c.proto.GetNodes())
	sort.Slice(out, func(i, j int) bool { return out[i].GetId() < out[j].GetId() })
	return out
}

// Node returns the node with the given ID.
func (c *Config) Node(id string) (*pb.NodeInfo, bool) {
	n, ok := c.nodes[id]
	return n, ok
}

// IsNode reports whether an identity is the node of the channel it claims to
// be: a node-role certificate of the node's organisation whose common name is
// the node ID.
func (c *Config) IsNode(id *identity.Identity) bool {
	n, ok := c.nodes[id.Name()]
	return ok && id.Role() == identity.RoleNode && n.GetMspId() == id.MSPID()
}

// Batch returns the block-cutting parameters, with defaults applied.
func (c *Config) Batch() Batch {
	b := Batch{MaxMessageCount: DefaultMaxMessageCount, PreferredMaxBytes: DefaultPreferredMaxBytes, Timeout: DefaultBatchTimeout}
	if p := c.proto.GetBatch(); p != nil {
		if p.GetMaxMessageCount() > 0 {
			b.MaxMessageCount = int(p.GetMaxMessageCount())
		}
		if p.GetPreferredMaxBytes() > 0 {
			b.PreferredMaxBytes = int(p.GetPreferredMaxBytes())
		}
		if p.GetTimeoutMillis() > 0 {
			b.Timeout = time.Duration(p.GetTimeoutMillis()) * time.Millisecond
		}
	}
	return b
}

// MaxTxBytes is the largest accepted envelope.
func (c *Config) MaxTxBytes() int {
	if n := c.proto.GetMaxTxBytes(); n > 0 {
		return int(n)
	}
	return DefaultMaxTxBytes
}

// MaxClockSkew is the largest accepted difference between a transaction's
// timestamp and its block's (or, on submission, the node's clock).
func (c *Config) MaxClockSkew() time.Duration {
	if ms := c.proto.GetMaxClockSkewMillis(); ms > 0 {
		return time.Duration(ms) * time.Millisecond
	}
	return DefaultMaxClockSkew
}

// MaxBlockAhead is how far ahead of its own clock a block's timestamp may be
// for a node to store the block when the leader sends it, before the block
// is committed. A node refuses a block further ahead, so a leader whose
// clock runs ahead cannot commit blocks unless a majority of the nodes'
// clocks agree with it, and the refusing nodes replace it (see package
// chain). Without a configured value it is DefaultMaxBlockAhead, or
// MaxClockSkew when that is smaller.
func (c *Config) MaxBlockAhead() time.Duration {
	if ms := c.proto.GetMaxBlockAheadMillis(); ms > 0 {
		return time.Duration(ms) * time.Millisecond
	}
	return min(DefaultMaxBlockAhead, c.MaxClockSkew())
}

// aclRule is a parsed ACLRule.
type aclRule struct {
	chaincode, function string // "*" for any
	principals          []principal
}

type principal struct{ msp, role string }

func parseRule(r *pb.ACLRule) (aclRule, error) {
	var rule aclRule
	switch res := r.GetResource(); {
	case res == "*":
		rule.chaincode, rule.function = "*", "*"
	case strings.Count(res, "/") == 1:
		cc, fn, _ := strings.Cut(res, "/")
		if !block.ValidChaincodeName(cc) || !validRuleFunction(fn) {
			return rule, fmt.Errorf("ACL resource %q must be \"chaincode/Function\", \"chaincode/Contract:Function\", \"chaincode/*\" or \"*\"", res)
		}
		rule.chaincode, rule.function = cc, fn
	default:
		return rule, fmt.Errorf("ACL resource %q must be \"chaincode/Function\", \"chaincode/Contract:Function\", \"chaincode/*\" or \"*\"", res)
	}
	if len(r.GetPrincipals()) == 0 {
		return rule, fmt.Errorf("ACL resource %q has no principals", r.GetResource())
	}
	for _, p := range r.GetPrincipals() {
		msp, role, ok := strings.Cut(p, ".")
		if !ok || msp == "" || (role != "*" && !identity.Role(role).Valid()) {
			return rule, fmt.Errorf("ACL principal %q must be \"MSPID.role\" with role admin, client, node or *", p)
		}
		rule.principals = append(rule.principals, principal{msp: msp, role: role})
	}
	return rule, nil
}

// validRuleFunction reports whether a rule's function part is "*",
// "Function" or "Contract:Function": a rule that no call could match would
// silently leave the function to the default.
func validRuleFunction(fn string) bool {
	if fn == "*" {
		return true
	}
	contract, method, qualified := strings.Cut(fn, ":")
	if !qualified {
		method = contract
	}
	return method != "" && !strings.ContainsAny(method, ":*") && (!qualified || (contract != "" && !strings.Contains(contract, "*")))
}

// qualify is chaincode.QualifiedFunction for names and the contract that
// unqualified names go to ("" for chaincode without contracts).
func qualify(function, defaultContract string) string {
	if defaultContract == "" || strings.IndexByte(function, ':') >= 0 {
		return function
	}
	return defaultContract + ":" + function
}

// sameFunction reports whether qualify(rule, defaultContract) == call,
// without building the qualified name (it runs for every rule on every call).
func sameFunction(rule, call, defaultContract string) bool {
	if rule == call {
		return true
	}
	if defaultContract == "" || strings.IndexByte(rule, ':') >= 0 {
		return false
	}
	n := len(defaultContract)
	return len(call) == n+1+len(rule) && call[:n] == defaultContract && call[n] == ':' && call[n+1:] == rule
}

func (r aclRule) allows(id *identity.Identity) bool {
	for _, p := range r.principals {
		if (p.msp == "*" || p.msp == id.MSPID()) && (p.role == "*" || p.role == string(id.Role())) {
			return true
		}
	}
	return false
}

// Allowed reports whether an identity may call a chaincode function.
// function is the name the call gives; defaultContract is the contract the
// chaincode routes unqualified names to ("" when it has no contracts; see
// chaincode.QualifiedFunction). Calls and rules are compared in qualified
// form, "Contract:Function", so a rule for "cc/Contract:Fn" also governs a
// call of plain "Fn" when Contract is the default, and a rule for "cc/Fn"
// means the default contract's Fn — the function such a call reaches — not
// an Fn of another contract.
//
// The most specific matching rule decides ("cc/Fn", then "cc/*", then "*").
// System chaincode (names starting with '_') is for administrators only,
// whatever the rules say. Without a matching rule, any member's clients and
// administrators are allowed.
func (c *Config) Allowed(id *identity.Identity, chaincode, function, defaultContract string) bool {
	if strings.HasPrefix(chaincode, "_") {
		return id.Role() == identity.RoleAdmin
	}
	call := qualify(function, defaultContract)
	best, bestRank := -1, 0
	for i, r := range c.acl {
		rank := 0
		switch {
		case r.chaincode == chaincode && r.function != "*" && sameFunction(r.function, call, defaultContract):
			rank = 3
		case r.chaincode == chaincode && r.function == "*":
			rank = 2
		case r.chaincode == "*":
			rank = 1
		}
		if rank > bestRank {
			best, bestRank = i, rank
		}
	}
	if best >= 0 {
		return c.acl[best].allows(id)
	}
	return id.Role() == identity.RoleClient || id.Role() == identity.RoleAdmin
}
