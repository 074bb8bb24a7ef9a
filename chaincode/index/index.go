// Package index is the chaincode of the main channel: the registry of the
// side chains (name, channel, sensitivity level, and where their nodes are —
// the "location and name" of the paper's main chain, nothing private), the
// record index (record id → owner organisation, the side chains holding its
// levels, policy version, created/updated), and the request log linking each
// P-TL access and each MeDShare request to its side-chain transactions.
//
// The main channel cannot read the side channels (chaincode calls stay on
// one channel), so the index holds what the data owner's gateway declares:
// auditors cross-check each link against the side chain it names.
//
// The side-chain registry is configuration: Init, which runs only as the
// init call of a chaincode definition a majority of the channel's
// organisations approved (package setup), sets it, so no organisation alone
// can add, replace or redirect a side chain. Record ids are scoped to their
// owner ("<owner's identity hash>:<name>").
//
// # Determinism
//
// Times come from the transaction timestamp; listings are in key order.
package index

import (
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/medshare/medshare/chaincode/ccerr"
	"github.com/medshare/medshare/chaincode/internal/arg"
	"github.com/medshare/medshare/chaincode/internal/caller"
	"github.com/medshare/medshare/chaincode/internal/kv"
	"github.com/medshare/medshare/chaincode/internal/page"
	"github.com/medshare/medshare/chaincode/internal/setup"
	"github.com/medshare/medshare/chaincode/internal/statekey"
	"github.com/medshare/medshare/network/chaincode"
)

// Name is the chaincode's name on the main channel.
const Name = "index"

// Limits.
const (
	// MaxNodes bounds the nodes listed for one side chain.
	MaxNodes = 32
	// MaxLinks bounds the side-chain transactions one request links.
	MaxLinks = 16
	// MaxArgLen bounds the JSON arguments.
	MaxArgLen = 16 << 10
)

// Events the chaincode emits; payloads are the stored JSON.
const (
	EventSideChain        = "SideChainRegistered"
	EventSideChainRemoved = "SideChainRemoved"
	EventRecord           = "RecordIndexed"
	EventRequest          = "RequestLogged"
)

// Request kinds and outcomes.
const (
	KindAccess   = "access"
	KindMeDShare = "medshare"

	OutcomeGranted  = "granted"
	OutcomeDenied   = "denied"
	OutcomeRecorded = "recorded"
	OutcomeRefused  = "refused"
)

// SideChain is a registered side chain.
type SideChain struct {
	// Name identifies the side chain; Channel is its ledger channel.
	Name    string `json:"name"`
	Channel string `json:"channel"`
	// Level is the sensitivity level it stores: high, medium or low.
	Level string `json:"level"`
	// Nodes are where its nodes are.
	Nodes []Node `json:"nodes"`
	// RegisteredAt and TxID are set by the chaincode.
	RegisteredAt time.Time `json:"registeredAt"`
	TxID         string    `json:"txID"`
}

// Node is one node of a side chain.
type Node struct {
	// Name is the node's name, Org its organisation (MSP id).
	Name string `json:"name"`
	Org  string `json:"org"`
	// Address is its host:port.
	Address string `json:"address"`
}

// Config is the Init argument: the side chains of the registry, and the
// auditors.
type Config struct {
	// SideChains are the registered side chains: Init registers these
	// (again) and removes the others.
	SideChains []SideChain `json:"sideChains,omitempty"`
	// Auditors are the identities (unique names) that may read every
	// owner's request log.
	Auditors caller.Auditors `json:"auditors,omitempty"`
}

func checkSideChain(name string, sc *SideChain) error {
	if err := arg.Name(name+".name", sc.Name); err != nil {
		return err
	}
	if err := arg.Name(name+".channel", sc.Channel); err != nil {
		return err
	}
	if err := arg.Level(name+".level", sc.Level); err != nil {
		return err
	}
	if err := arg.Count(name+".nodes", len(sc.Nodes), 0, MaxNodes); err != nil {
		return err
	}
	for i, n := range sc.Nodes {
		nn := fmt.Sprintf("%s.nodes[%d]", name, i)
		if err := arg.Text(nn+".name", n.Name, 1, 128); err != nil {
			return err
		}
		if err := arg.Text(nn+".org", n.Org, 1, 64); err != nil {
			return err
		}
		host, port, err := net.SplitHostPort(n.Address)
		p, perr := strconv.Atoi(port)
		if err != nil || host == "" || len(n.Address) > 255 || perr != nil || p < 1 || p > 65535 {
			return ccerr.Invalid(nn+".address", "must be host:port with a port from 1 to 65535")
		}
	}
	return nil
}

func checkConfig(c *Config) error {
	if err := arg.Count("config.sideChains", len(c.SideChains), 0, 64); err != nil {
		return err
	}
	for i := range c.SideChains {
		name := fmt.Sprintf("config.sideChains[%d]", i)
		if err := checkSideChain(name, &c.SideChains[i]); err != nil {
			return err
		}
		if !c.SideChains[i].RegisteredAt.IsZero() || c.SideChains[i].TxID != "" {
			return ccerr.Invalid(name, "registeredAt and txID are set by the chaincode")
		}
		for _, prev := range c.SideChains[:i] {
			if prev.Name == c.SideChains[i].Name {
				return ccerr.Invalid(name+".name", "side chain %s is listed twice", prev.Name)
			}
		}
	}
	return c.Auditors.Check("config.auditors")
}

// Index is the index contract.
type Index struct {
	chaincode.Contract
	cfg *setup.Config[Config]
}

// New returns the index chaincode, ready to be deployed on the main channel
// under the name "index".
func New() (*chaincode.Chaincode, error) {
	return chaincode.New(&Index{
		Contract: chaincode.Contract{Name: Name},
		cfg:      &setup.Config[Config]{Name: Name, Check: checkConfig},
	})
}

// State layout (composite keys).
const (
	objChain     = "chain"             // (name) → SideChain
	objRecord    = "record"            // (recordID) → RecordEntry
	objOrg       = "org~record"        // (ownerMSP, recordID) → RecordEntry
	objRequest   = "request"           // (recordID, requestID) → RequestEntry (ids scoped by record: see GetRequest)
	objByRecord  = "record~request"    // (recordID, time, requestID) → RequestEntry
	objByRequest = "requestor~request" // (requestor, time, requestID) → RequestEntry
)

// Init sets the configuration, a JSON Config: {} or
// {"sideChains":[{"name":"side-high","channel":"side-high","level":"high",
// "nodes":[{"name":"node0","org":"Hospital1MSP","address":"127.0.0.1:7051"}]}],
// "auditors":["x509::…"]}: the side chains it lists become the registry
// (registered again, the others removed). It runs only as the init call of
// a chaincode definition a majority of the channel's organisations approved:
// in the deploy transaction, and in later definitions that change the
// registry or the auditors.
func (x *Index) Init(ctx chaincode.TransactionContext, config string) (*Config, error) {
	cfg, err := x.cfg.Init(ctx, config)
	if err != nil {
		return nil, err
	}
	stub := ctx.GetStub()
	listed := make(map[string]bool, len(cfg.SideChains))
	for i := range cfg.SideChains {
		listed[cfg.SideChains[i].Name] = true
		if err := registerSideChain(stub, cfg.SideChains[i]); err != nil {
			return nil, err
		}
	}
	var gone []string
	it, err := stub.GetStateByPartialCompositeKey(objChain, nil)
	if err != nil {
		return nil, err
	}
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			it.Close()
			return nil, err
		}
		_, attrs, err := stub.SplitCompositeKey(e.Key)
		if err == nil && len(attrs) == 1 && !listed[attrs[0]] {
			gone = append(gone, attrs[0])
		}
	}
	it.Close()
	for _, name := range gone {
		if err := kv.Del(stub, objChain, []string{name}); err != nil {
			return nil, err
		}
		if err := kv.Emit(stub, EventSideChainRemoved, map[string]string{"name": name}); err != nil {
			return nil, err
		}
	}
	return cfg, nil
}

// GetConfig returns the configuration Init stored.
func (x *Index) GetConfig(ctx chaincode.TransactionContext) (*Config, error) {
	return x.cfg.Load(ctx)
}

func registerSideChain(stub chaincode.Stub, sc SideChain) error {
	now, err := stub.GetTxTimestamp()
	if err != nil {
		return err
	}
	sc.RegisteredAt, sc.TxID = now, stub.GetTxID()
	if sc.Nodes == nil {
		sc.Nodes = []Node{}
	}
	b, err := json.Marshal(sc)
	if err != nil {
		return err
	}
	if err := kv.PutRaw(stub, objChain, []string{sc.Name}, b); err != nil {
		return err
	}
	return stub.SetEvent(EventSideChain, b)
}

// GetSideChain returns a registered side chain.
func (x *Index) GetSideChain(ctx chaincode.TransactionContext, name string) (*SideChain, error) {
	if _, err := x.cfg.Load(ctx); err != nil {
		return nil, err
	}
	if err := arg.Name("name", name); err != nil {
		return nil, err
	}
	var sc SideChain
	ok, err := kv.Get(ctx.GetStub(), objChain, []string{name}, &sc)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, ccerr.NotFound("name", "side chain %s is not registered", name)
	}
	return &sc, nil
}

// ListSideChains lists the registered side chains by name.
func (x *Index) ListSideChains(ctx chaincode.TransactionContext, pageSize int32, bookmark string) (*page.Page[SideChain], error) {
	if _, err := x.cfg.Load(ctx); err != nil {
		return nil, err
	}
	return page.Composite(ctx.GetStub(), objChain, nil, pageSize, bookmark, kv.Decode[SideChain])
}

// LevelRef says where one level of a record is stored.
type LevelRef struct {
	// Level is high, medium or low; SideChain a registered side chain of
	// that level.
	Level     string `json:"level"`
	SideChain string `json:"sideChain"`
	// TxID is the Tx_sto transaction on the side chain; Version the record
	// version it stored.
	TxID    string `json:"txID"`
	Version uint64 `json:"version"`
}

// RecordInput is the PutRecord argument.
type RecordInput struct {
	// Levels are the record's stored levels, each at most once.
	Levels []LevelRef `json:"levels"`
	// PolicyVersion is the version of the record's access policy.
	PolicyVersion uint64 `json:"policyVersion"`
}

// RecordEntry is a record's index entry.
type RecordEntry struct {
	RecordID string `json:"recordID"`
	// Owner is the owner's identity and OwnerMSP its organisation.
	Owner         string     `json:"owner"`
	OwnerMSP      string     `json:"ownerMSP"`
	Levels        []LevelRef `json:"levels"`
	PolicyVersion uint64     `json:"policyVersion"`
	CreatedAt     time.Time  `json:"createdAt"`
	UpdatedAt     time.Time  `json:"updatedAt"`
	TxID          string     `json:"txID"`
}

// PutRecord indexes a record (a JSON RecordInput): a new record becomes the
// caller's; an indexed one may only be updated by its owner. Every level must
// name a registered side chain of that level.
func (x *Index) PutRecord(ctx chaincode.TransactionContext, recordID, entry string) (*RecordEntry, error) {
	_, who, err := x.cfg.Client(ctx, "index records")
	if err != nil {
		return nil, err
	}
	if err := arg.ID("recordID", recordID); err != nil {
		return nil, err
	}
	if len(entry) > MaxArgLen {
		return nil, ccerr.Invalid("entry", "must be at most %d bytes of JSON", MaxArgLen)
	}
	var in RecordInput
	if err := setup.DecodeStrict("entry", []byte(entry), &in); err != nil {
		return nil, err
	}
	stub := ctx.GetStub()
	if err := arg.Count("entry.levels", len(in.Levels), 1, len(arg.Levels)); err != nil {
		return nil, err
	}
	for i, l := range in.Levels {
		name := fmt.Sprintf("entry.levels[%d]", i)
		if err := arg.Level(name+".level", l.Level); err != nil {
			return nil, err
		}
		for _, prev := range in.Levels[:i] {
			if prev.Level == l.Level {
				return nil, ccerr.Invalid(name+".level", "%s is listed twice", l.Level)
			}
		}
		if err := arg.Name(name+".sideChain", l.SideChain); err != nil {
			return nil, err
		}
		if err := arg.TxID(name+".txID", l.TxID); err != nil {
			return nil, err
		}
		if l.Version == 0 {
			return nil, ccerr.Invalid(name+".version", "must be at least 1")
		}
		var sc SideChain
		ok, err := kv.Get(stub, objChain, []string{l.SideChain}, &sc)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, ccerr.NotFound(name+".sideChain", "side chain %s is not registered", l.SideChain)
		}
		if sc.Level != l.Level {
			return nil, ccerr.Invalid(name+".sideChain", "side chain %s stores %s records, not %s", l.SideChain, sc.Level, l.Level)
		}
	}
	now, err := stub.GetTxTimestamp()
	if err != nil {
		return nil, err
	}
	var e RecordEntry
	ok, err := kv.Get(stub, objRecord, []string{recordID}, &e)
	if err != nil {
		return nil, err
	}
	if ok && e.Owner != who.ID {
		return nil, ccerr.Forbidden("caller", "only the owner may update the index entry of record %s", recordID)
	}
	if !ok {
		if err := arg.ScopedID("recordID", recordID, who.OwnerHash(), "the caller (the record's owner)"); err != nil {
			return nil, err
		}
		e = RecordEntry{RecordID: recordID, Owner: who.ID, OwnerMSP: who.MSP, CreatedAt: now}
	}
	e.Levels, e.PolicyVersion, e.UpdatedAt, e.TxID = in.Levels, in.PolicyVersion, now, stub.GetTxID()
	b, err := json.Marshal(&e)
	if err != nil {
		return nil, err
	}
	if err := kv.PutRaw(stub, objRecord, []string{recordID}, b); err != nil {
		return nil, err
	}
	if err := kv.PutRaw(stub, objOrg, []string{e.OwnerMSP, recordID}, b); err != nil {
		return nil, err
	}
	return &e, stub.SetEvent(EventRecord, b)
}

// GetRecord returns a record's index entry. The index holds nothing private:
// any channel member may read it.
func (x *Index) GetRecord(ctx chaincode.TransactionContext, recordID string) (*RecordEntry, error) {
	if _, err := x.cfg.Load(ctx); err != nil {
		return nil, err
	}
	if err := arg.ID("recordID", recordID); err != nil {
		return nil, err
	}
	var e RecordEntry
	ok, err := kv.Get(ctx.GetStub(), objRecord, []string{recordID}, &e)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, ccerr.NotFound("recordID", "record %s is not indexed", recordID)
	}
	return &e, nil
}

// ListRecordsByOrg lists the records an organisation (MSP id) owns, by id.
func (x *Index) ListRecordsByOrg(ctx chaincode.TransactionContext, org string, pageSize int32, bookmark string) (*page.Page[RecordEntry], error) {
	if _, err := x.cfg.Load(ctx); err != nil {
		return nil, err
	}
	if err := arg.Text("org", org, 1, 64); err != nil {
		return nil, err
	}
	return page.Composite(ctx.GetStub(), objOrg, []string{org}, pageSize, bookmark, kv.Decode[RecordEntry])
}

// Link is one side-chain transaction of a request.
type Link struct {
	// SideChain is a registered side chain; Chaincode the chaincode called
	// there (storage, ptl or provenance); TxID the transaction.
	SideChain string `json:"sideChain"`
	Chaincode string `json:"chaincode"`
	TxID      string `json:"txID"`
}

// RequestInput is the LogRequest argument.
type RequestInput struct {
	// RequestID is the access id A for accesses, the MeDShare request id
	// for requests; it must be new for the record.
	RequestID string `json:"requestID"`
	// Kind is "access" or "medshare".
	Kind string `json:"kind"`
	// RecordID is the record asked for.
	RecordID string `json:"recordID"`
	// Requestor is the requestor's user id (the identity hash of its
	// enrolled identity, as P-TL's decisions and the provenance chaincode
	// name it).
	Requestor string `json:"requestor"`
	// Outcome is granted, denied, recorded or refused.
	Outcome string `json:"outcome"`
	// Links are the side-chain transactions (1..16).
	Links []Link `json:"links"`
}

// RequestEntry is a logged request.
type RequestEntry struct {
	RequestID string    `json:"requestID"`
	Kind      string    `json:"kind"`
	RecordID  string    `json:"recordID"`
	Requestor string    `json:"requestor"`
	Outcome   string    `json:"outcome"`
	Links     []Link    `json:"links"`
	Owner     string    `json:"owner"`
	OwnerMSP  string    `json:"ownerMSP"`
	At        time.Time `json:"at"`
	TxID      string    `json:"txID"`
}

// LogRequest logs a request (a JSON RequestInput) for a record the caller
// owns in the index, linking it to its side-chain transactions.
func (x *Index) LogRequest(ctx chaincode.TransactionContext, request string) (*RequestEntry, error) {
	_, who, err := x.cfg.Client(ctx, "log requests")
	if err != nil {
		return nil, err
	}
	if len(request) > MaxArgLen {
		return nil, ccerr.Invalid("request", "must be at most %d bytes of JSON", MaxArgLen)
	}
	var in RequestInput
	if err := setup.DecodeStrict("request", []byte(request), &in); err != nil {
		return nil, err
	}
	if err := arg.ID("request.requestID", in.RequestID); err != nil {
		return nil, err
	}
	if err := arg.OneOf("request.kind", in.Kind, KindAccess, KindMeDShare); err != nil {
		return nil, err
	}
	if err := arg.ID("request.recordID", in.RecordID); err != nil {
		return nil, err
	}
	if err := statekey.UserID("request.requestor", in.Requestor); err != nil {
		return nil, err
	}
	rh := in.Requestor
	if err := arg.OneOf("request.outcome", in.Outcome, OutcomeGranted, OutcomeDenied, OutcomeRecorded, OutcomeRefused); err != nil {
		return nil, err
	}
	if err := arg.Count("request.links", len(in.Links), 1, MaxLinks); err != nil {
		return nil, err
	}
	stub := ctx.GetStub()
	for i, l := range in.Links {
		name := fmt.Sprintf("request.links[%d]", i)
		if err := arg.Name(name+".sideChain", l.SideChain); err != nil {
			return nil, err
		}
		if err := arg.OneOf(name+".chaincode", l.Chaincode, "storage", "ptl", "provenance"); err != nil {
			return nil, err
		}
		if err := arg.TxID(name+".txID", l.TxID); err != nil {
			return nil, err
		}
		var sc SideChain
		if ok, err := kv.Get(stub, objChain, []string{l.SideChain}, &sc); err != nil || !ok {
			if err == nil {
				err = ccerr.NotFound(name+".sideChain", "side chain %s is not registered", l.SideChain)
			}
			return nil, err
		}
	}
	var rec RecordEntry
	ok, err := kv.Get(stub, objRecord, []string{in.RecordID}, &rec)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, ccerr.NotFound("request.recordID", "record %s is not indexed", in.RecordID)
	}
	if rec.Owner != who.ID {
		return nil, ccerr.Forbidden("caller", "only the owner of record %s may log its requests", in.RecordID)
	}
	var prev RequestEntry
	if ok, err := kv.Get(stub, objRequest, []string{in.RecordID, in.RequestID}, &prev); err != nil || ok {
		if err == nil {
			err = ccerr.Conflict("request.requestID", "request %s is already logged for record %s", in.RequestID, in.RecordID)
		}
		return nil, err
	}
	now, err := stub.GetTxTimestamp()
	if err != nil {
		return nil, err
	}
	e := &RequestEntry{RequestID: in.RequestID, Kind: in.Kind, RecordID: in.RecordID, Requestor: rh, Outcome: in.Outcome,
		Links: in.Links, Owner: who.ID, OwnerMSP: who.MSP, At: now, TxID: stub.GetTxID()}
	b, err := json.Marshal(e)
	if err != nil {
		return nil, err
	}
	ts := statekey.Time(now)
	for _, k := range []struct {
		obj   string
		attrs []string
	}{
		{objRequest, []string{in.RecordID, in.RequestID}},
		{objByRecord, []string{in.RecordID, ts, in.RequestID}},
		{objByRequest, []string{rh, ts, in.RequestID}},
	} {
		if err := kv.PutRaw(stub, k.obj, k.attrs, b); err != nil {
			return nil, err
		}
	}
	return e, stub.SetEvent(EventRequest, b)
}

// GetRequest returns the request logged under requestID for a record.
// Request ids are scoped by record (and so by owner): an owner cannot take
// the id of a request on another owner's record before it is logged. Its
// owner, its requestor and the configured auditors may read it.
func (x *Index) GetRequest(ctx chaincode.TransactionContext, recordID, requestID string) (*RequestEntry, error) {
	cfg, who, err := x.cfg.Caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := arg.ID("recordID", recordID); err != nil {
		return nil, err
	}
	if err := arg.ID("requestID", requestID); err != nil {
		return nil, err
	}
	var e RequestEntry
	ok, err := kv.Get(ctx.GetStub(), objRequest, []string{recordID, requestID}, &e)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, ccerr.NotFound("requestID", "request %s is not logged for record %s", requestID, recordID)
	}
	if err := who.RequireReader(e.Owner, e.Requestor, cfg.Auditors, "read request "+requestID); err != nil {
		return nil, err
	}
	return &e, nil
}

// ListRequestsByRecord lists a record's logged requests, oldest first. The
// record's owner and the configured auditors may list them.
func (x *Index) ListRequestsByRecord(ctx chaincode.TransactionContext, recordID string, pageSize int32, bookmark string) (*page.Page[RequestEntry], error) {
	rec, err := x.GetRecord(ctx, recordID)
	if err != nil {
		return nil, err
	}
	cfg, who, err := x.cfg.Caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := who.RequireReader(rec.Owner, "", cfg.Auditors, "list a record's requests"); err != nil {
		return nil, err
	}
	return page.Composite(ctx.GetStub(), objByRecord, []string{recordID}, pageSize, bookmark, kv.Decode[RequestEntry])
}

// ListRequestsByRequestor lists a requestor's (a user id) logged requests
// across owners, oldest first: the requestor and the configured auditors
// may.
func (x *Index) ListRequestsByRequestor(ctx chaincode.TransactionContext, requestor string, pageSize int32, bookmark string) (*page.Page[RequestEntry], error) {
	cfg, who, err := x.cfg.Caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := statekey.UserID("requestor", requestor); err != nil {
		return nil, err
	}
	if err := who.RequireReader("", requestor, cfg.Auditors, "list a requestor's requests"); err != nil {
		return nil, err
	}
	return page.Composite(ctx.GetStub(), objByRequest, []string{requestor}, pageSize, bookmark, kv.Decode[RequestEntry])
}
