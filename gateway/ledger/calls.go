package ledger

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/medshare/medshare/chaincode/index"
	"github.com/medshare/medshare/chaincode/ptl"
	"github.com/medshare/medshare/chaincode/storage"
	"github.com/medshare/medshare/chaincode/txbuild"
)

// Page is a chaincode listing's page.
type Page[T any] struct {
	Items    []T    `json:"items"`
	Bookmark string `json:"bookmark"`
}

// Chain makes the gateway's typed calls over a Ledger; Signer signs what
// the contracts verify (Tx_sto), with the key of the identity the Ledger
// submits as.
type Chain struct {
	L      Ledger
	Signer txbuild.Signer
	// Main is the index channel (txbuild.MainChannel when empty).
	Main string
}

func (c *Chain) main() string {
	if c.Main == "" {
		return txbuild.MainChannel
	}
	return c.Main
}

func decode[T any](call txbuild.Call, b []byte) (*T, error) {
	v := new(T)
	if err := json.Unmarshal(b, v); err != nil {
		return nil, fmt.Errorf("ledger: %s: result: %w", call, err)
	}
	return v, nil
}

func submit[T any](ctx context.Context, l Ledger, call txbuild.Call) (*T, string, error) {
	res, err := l.Submit(ctx, call)
	if err != nil {
		return nil, res.TxID, err
	}
	v, err := decode[T](call, res.Payload)
	return v, res.TxID, err
}

func evaluate[T any](ctx context.Context, l Ledger, call txbuild.Call) (*T, error) {
	b, err := l.Evaluate(ctx, call)
	if err != nil {
		return nil, err
	}
	return decode[T](call, b)
}

// Store submits a signed Tx_sto on channel.
func (c *Chain) Store(ctx context.Context, channel string, in txbuild.StoreInput) (*storage.Record, string, error) {
	call, err := txbuild.Store(c.Signer, channel, in)
	if err != nil {
		return nil, "", err
	}
	return submit[storage.Record](ctx, c.L, call)
}

// SetPolicy sets a record's P-TL policy on channel.
func (c *Chain) SetPolicy(ctx context.Context, channel, recordID string, p ptl.PolicyInput) (*ptl.Policy, string, error) {
	call, err := txbuild.SetPolicy(channel, recordID, p)
	if err != nil {
		return nil, "", err
	}
	return submit[ptl.Policy](ctx, c.L, call)
}

// PutRecord writes a record's index entry on main.
func (c *Chain) PutRecord(ctx context.Context, recordID string, in index.RecordInput) (*index.RecordEntry, string, error) {
	call, err := txbuild.IndexRecord(c.main(), recordID, in)
	if err != nil {
		return nil, "", err
	}
	return submit[index.RecordEntry](ctx, c.L, call)
}

// Auditors returns the identities (unique names) the index's
// configuration on main names as auditors: approved by a majority of the
// organisations, it decides who may read all audit data.
func (c *Chain) Auditors(ctx context.Context) ([]string, error) {
	cfg, err := evaluate[struct {
		Auditors []string `json:"auditors"`
	}](ctx, c.L, txbuild.Call{Channel: c.main(), Chaincode: index.Name, Fn: "GetConfig"})
	if err != nil {
		return nil, err
	}
	return cfg.Auditors, nil
}

// LogRequest logs an access on main.
func (c *Chain) LogRequest(ctx context.Context, in index.RequestInput) (string, error) {
	call, err := txbuild.LogRequest(c.main(), in)
	if err != nil {
		return "", err
	}
	res, err := c.L.Submit(ctx, call)
	return res.TxID, err
}

// IndexEntry reads a record's index entry.
func (c *Chain) IndexEntry(ctx context.Context, recordID string) (*index.RecordEntry, error) {
	return evaluate[index.RecordEntry](ctx, c.L, txbuild.Call{Channel: c.main(), Chaincode: index.Name, Fn: "GetRecord", Args: []string{recordID}})
}

// RecordsByOrg lists an organisation's index entries by record id.
func (c *Chain) RecordsByOrg(ctx context.Context, org string, pageSize int, bookmark string) (*Page[index.RecordEntry], error) {
	return evaluate[Page[index.RecordEntry]](ctx, c.L, txbuild.Call{Channel: c.main(), Chaincode: index.Name, Fn: "ListRecordsByOrg",
		Args: []string{org, strconv.Itoa(pageSize), bookmark}})
}

// StorageRecord reads a record's current Tx_sto on channel; its keys are
// there only when the caller owns it.
func (c *Chain) StorageRecord(ctx context.Context, channel, recordID string) (*storage.Record, error) {
	return evaluate[storage.Record](ctx, c.L, txbuild.Call{Channel: channel, Chaincode: storage.Name, Fn: "GetRecord", Args: []string{recordID}})
}

// StorageHistory lists a record's versions on channel, newest first.
func (c *Chain) StorageHistory(ctx context.Context, channel, recordID string, pageSize int, bookmark string) (*Page[storage.Record], error) {
	return evaluate[Page[storage.Record]](ctx, c.L, txbuild.Call{Channel: channel, Chaincode: storage.Name, Fn: "History",
		Args: []string{recordID, strconv.Itoa(pageSize), bookmark}})
}

// Policy reads a record's P-TL policy on channel (leaves are tags).
func (c *Chain) Policy(ctx context.Context, channel, recordID string) (*ptl.Policy, error) {
	return evaluate[ptl.Policy](ctx, c.L, txbuild.Call{Channel: channel, Chaincode: ptl.Name, Fn: "GetPolicy", Args: []string{recordID}})
}

// Access submits a data user's proof to P-TL on channel, stamped now.
func (c *Chain) Access(ctx context.Context, channel string, p *ptl.Proof, stamp time.Time) (*ptl.Decision, string, error) {
	call, err := txbuild.Access(channel, p, stamp)
	if err != nil {
		return nil, "", err
	}
	return submit[ptl.Decision](ctx, c.L, call)
}

// Violations lists the violations on a record (or "*": all of the
// caller's records) on channel.
func (c *Chain) Violations(ctx context.Context, channel, target string, pageSize int, bookmark string) (*Page[ptl.Violation], error) {
	return evaluate[Page[ptl.Violation]](ctx, c.L, txbuild.Call{Channel: channel, Chaincode: ptl.Name, Fn: "ListViolations",
		Args: []string{target, strconv.Itoa(pageSize), bookmark}})
}

// Regrant lifts a user's block for target (a record id, or "*" for all of
// the owner's records) on channel.
func (c *Chain) Regrant(ctx context.Context, channel, user, target string) (*ptl.Block, string, error) {
	return submit[ptl.Block](ctx, c.L, txbuild.Call{Channel: channel, Chaincode: ptl.Name, Fn: "Regrant", Args: []string{user, target}})
}

// Recall blocks a user as recalled for target on channel.
func (c *Chain) Recall(ctx context.Context, channel, user, target, reason string) (*ptl.Block, string, error) {
	return submit[ptl.Block](ctx, c.L, txbuild.Call{Channel: channel, Chaincode: ptl.Name, Fn: "Recall", Args: []string{user, target, reason}})
}

// Gateway reads an organisation's registered gateway from the index on
// main (ccerr.ErrNotFound when it registered none).
func (c *Chain) Gateway(ctx context.Context, org string) (*index.Gateway, error) {
	return evaluate[index.Gateway](ctx, c.L, txbuild.Call{Channel: c.main(), Chaincode: index.Name, Fn: "GetGateway", Args: []string{org}})
}

// Gateways lists the registered gateways by organisation.
func (c *Chain) Gateways(ctx context.Context, pageSize int, bookmark string) (*Page[index.Gateway], error) {
	return evaluate[Page[index.Gateway]](ctx, c.L, txbuild.Call{Channel: c.main(), Chaincode: index.Name, Fn: "ListGateways",
		Args: []string{strconv.Itoa(pageSize), bookmark}})
}

// SetGateway registers org's gateway URL; the Ledger must submit as an
// administrator of org (the contract refuses anyone else).
func (c *Chain) SetGateway(ctx context.Context, org, url string) (*index.Gateway, string, error) {
	return submit[index.Gateway](ctx, c.L, txbuild.Call{Channel: c.main(), Chaincode: index.Name, Fn: "SetGateway", Args: []string{org, url}})
}
