// Package provenance is MeDShare's provenance chaincode on each side channel:
// per-requestor threads of parent blocks, one per data request, and the
// side-blocks appended to a parent for every action report and owner
// decision, with revocation through P-TL when a report shows an action the
// package's usage contract forbids.
//
// A parent block records a request and the package answering it: the
// format/id, size, a header (version, the previous parent's hash in the
// requestor's thread, the Merkle root of the block's transactions,
// timestamp), the action counter (violations so far), the transaction (TTR,
// TTP, TTS, OID, RID, Dsens, DRP, NID, Nsig, the records, data id and
// package hash, and the requestor's signed request), the usage contract
// (allowed actions, ignored actions, report key) and the locktime.
//
// A side-block records one report or decision: its id derives from the
// parent's hash; its header links to the previous side-block (the first to
// the parent) and carries the Merkle root over the transactions of all the
// parent's side-blocks so far; its transaction holds TSV, OID, RID, VLN (the
// forbidden actions), NID and Nsig with the reported actions.
//
// Headers are hashed with sha256d as the paper does. The paper's
// proof-of-work fields (target difficulty, nonce) are dropped: a permissioned
// ledger orders blocks by consensus among known nodes, not by work.
//
// Reports are "sealed" with the request's report key, an ECDSA P-256 key pair
// the requestor's client generates: its public half is in the request the
// requestor signs (and so in the usage contract), its private half never
// leaves the requestor's client, which signs each report; the chaincode
// verifies it, so reports are authenticated, bound to the package, and
// cannot be forged by the owner or any node.
//
// Requestors are their enrolled identities: a request carries the attribute
// authority's enrolment binding the requestor's key (RID) to a user id, the
// thread is the user's, and a forbidden action revokes the user in P-TL,
// whatever key it presents next. Request ids are scoped to the requestor's
// user id, so that nobody can take an id a requestor is about to use. The actions themselves are
// necessarily visible to the nodes that enforce the contract, and actions
// taken outside the cooperating client cannot be observed by any system.
//
// # Determinism
//
// Times come from the transaction timestamp and the signed arguments only;
// action sets are bit masks in a fixed order; the signature cache holds pure
// results.
package provenance

import (
	"time"

	"github.com/medshare/medshare/chaincode/ccerr"
	"github.com/medshare/medshare/chaincode/internal/arg"
	"github.com/medshare/medshare/chaincode/internal/caller"
	"github.com/medshare/medshare/chaincode/internal/setup"
	"github.com/medshare/medshare/chaincode/internal/sigcheck"
	"github.com/medshare/medshare/network/chaincode"
)

// Name is the chaincode's name on every side channel.
const Name = "provenance"

// The chaincodes provenance calls on its channel.
const (
	storageName = "storage"
	ptlName     = "ptl"
)

// Limits.
const (
	// MaxRecords bounds the records of one request.
	MaxRecords = 16
	// MaxActions bounds the actions of one report.
	MaxActions = 32
	// MaxSideBlocks bounds the side-blocks of one parent block.
	MaxSideBlocks = 4096
	// MaxVerifyBlocks bounds the blocks one verification call checks.
	MaxVerifyBlocks = 1000
	// MaxArgLen bounds the JSON arguments.
	MaxArgLen = 64 << 10
)

// Events the chaincode emits; payloads are JSON.
const (
	// EventParentBlock: the new parent block's Summary.
	EventParentBlock = "ParentBlock"
	// EventSideBlock: {requestID, index, id, kind, violations}.
	EventSideBlock = "SideBlock"
)

// Config is the Init argument of the provenance chaincode.
type Config struct {
	// Level is the channel's sensitivity level (the parent blocks' Dsens):
	// high, medium or low. Only on low may owners ignore actions.
	Level string `json:"level"`
	// MaxClockSkew is how far signed times may lie ahead of the transaction
	// time ["30s"].
	MaxClockSkew string `json:"maxClockSkew"`
	// Auditors are the identities (unique names) that may read and verify
	// every owner's requests and every requestor's thread.
	Auditors caller.Auditors `json:"auditors,omitempty"`

	maxClockSkew time.Duration
}

func checkConfig(c *Config) error {
	if err := arg.Level("config.level", c.Level); err != nil {
		return err
	}
	if c.MaxClockSkew == "" {
		c.MaxClockSkew = "30s"
	}
	var err error
	if c.maxClockSkew, err = arg.Duration("config.maxClockSkew", c.MaxClockSkew, 0, 10*time.Minute); err != nil {
		return err
	}
	return c.Auditors.Check("config.auditors")
}

func updateConfig(old, c *Config) error {
	if old.Level != c.Level {
		return ccerr.Invalid("config.level", "cannot change from %s to %s once set", old.Level, c.Level)
	}
	return nil
}

// Provenance is the provenance contract.
type Provenance struct {
	chaincode.Contract
	cfg  *setup.Config[Config]
	sigs *sigcheck.Verifier
}

// New returns the provenance chaincode, ready to be deployed on a side
// channel under the name "provenance" next to "storage" and "ptl".
func New() (*chaincode.Chaincode, error) {
	return chaincode.New(&Provenance{
		Contract: chaincode.Contract{Name: Name},
		cfg:      &setup.Config[Config]{Name: Name, Check: checkConfig, Update: updateConfig},
		sigs:     sigcheck.New(sigcheck.DefaultCacheSize),
	})
}

// Init sets the channel's configuration, a JSON Config such as
// {"level":"low"}. It runs only as the init call of a chaincode definition a
// majority of the channel's organisations approved (package setup): in the
// deploy transaction, and in later definitions that change the
// configuration (the level is fixed).
func (p *Provenance) Init(ctx chaincode.TransactionContext, config string) (*Config, error) {
	return p.cfg.Init(ctx, config)
}

// GetConfig returns the channel's configuration.
func (p *Provenance) GetConfig(ctx chaincode.TransactionContext) (*Config, error) {
	return p.cfg.Load(ctx)
}
