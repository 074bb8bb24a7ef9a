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
// Reports are "sealed" with the package's report key, an ECDSA P-256 key pair
// whose public half is in the usage contract and whose private half travels
// inside the package, encrypted to the requestor: the requestor's client
// signs each report and the chaincode verifies it, so reports are
// authenticated and bound to the package. The actions themselves are
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
	"github.com/medshare/medshare/chaincode/ccerr"
	"github.com/medshare/medshare/chaincode/internal/arg"
	"github.com/medshare/medshare/chaincode/internal/setup"
	"github.com/medshare/medshare/chaincode/internal/sigcheck"
	"github.com/medshare/medshare/network/chaincode"
	"time"
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
	c.maxClockSkew, err = arg.Duration("config.maxClockSkew", c.MaxClockSkew, 0, 10*time.Minute)
	return err
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
// {"level":"low"}. Only a channel admin may call it, first in the deploy
// transaction; later calls update the configuration (the level is fixed).
func (p *Provenance) Init(ctx chaincode.TransactionContext, config string) (*Config, error) {
	return p.cfg.Init(ctx, config)
}

// GetConfig returns the channel's configuration.
func (p *Provenance) GetConfig(ctx chaincode.TransactionContext) (*Config, error) {
	return p.cfg.Load(ctx)
}
