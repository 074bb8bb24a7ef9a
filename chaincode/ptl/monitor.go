package ptl

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/medshare/medshare/chaincode/ccerr"
	"github.com/medshare/medshare/chaincode/internal/arg"
	"github.com/medshare/medshare/chaincode/internal/caller"
	"github.com/medshare/medshare/chaincode/internal/invoke"
	"github.com/medshare/medshare/chaincode/internal/kv"
	"github.com/medshare/medshare/chaincode/internal/page"
	"github.com/medshare/medshare/chaincode/internal/statekey"
	"github.com/medshare/medshare/chaincode/storage"
	"github.com/medshare/medshare/network/chaincode"
)

// Events the chaincode emits; payloads are JSON.
const (
	// EventPolicySet: {recordID, version, txID}.
	EventPolicySet = "PolicySet"
	// EventAccessGranted: {accessID, recordID, user, version}.
	EventAccessGranted = "AccessGranted"
	// EventViolation: the Violation recorded (for every refused access and
	// every forbidden action).
	EventViolation = "Violation"
	// EventBlocked: the Block set (by monitoring, provenance or the owner's
	// recall).
	EventBlocked = "Blocked"
	// EventRegranted: the Block the owner lifted.
	EventRegranted = "Regranted"
	// EventRecalled: the Block the owner set by recalling; the owner's
	// gateway should re-encrypt the record (a new Tx_sto version with new
	// keys), since the user may hold the old ones.
	EventRecalled = "Recalled"
)

// Block scopes and states.
const (
	// ScopeRecord blocks a user for one record; ScopeOwner for all of an
	// owner's records on the channel.
	ScopeRecord = "record"
	ScopeOwner  = "owner"
	// StateRevoked is set by monitoring and by provenance violations;
	// StateRecalled by the owner's Recall. Both refuse access until the
	// owner re-grants.
	StateRevoked  = "revoked"
	StateRecalled = "recalled"
	// Who set a block.
	ByMonitor    = "monitor"
	ByProvenance = "provenance"
	ByOwner      = "owner"
)

// allRecords is the target of owner-wide blocks and listings. Record ids
// cannot contain "*".
const allRecords = "*"

// State layout: composite keys, listed by prefix.
const (
	objPolicy    = "policy" // (recordID) → Policy
	objNonce     = "nonce"  // (user, hex nonce) → txID that spent it
	objRate      = "rate"   // (user, recordID) → period start (8 bytes) ‖ count (4 bytes)
	objLog       = "apr"    // (recordID, time, txID) → LogEntry (APR)
	objAccess    = "acc"    // (recordID, time, accessID) → Access (Tx_acc)
	objViolation = "vio"    // (owner, recordID, time, txID) → Violation (VIPR)
	objRing      = "ring"   // (owner, user, recordID | "*") → recent violation times
	objBlock     = "block"  // (owner, user, recordID | "*") → Block
)

// LogEntry is an access attempt, the paper's APR = T ‖ BPK_DU ‖ u ‖ m, with
// m recorded as its hash (m itself is in the storage chaincode) and the
// attempt's outcome.
type LogEntry struct {
	RecordID string    `json:"recordID"`
	Time     time.Time `json:"time"`    // T
	User     string    `json:"user"`    // key-hash of BPK_DU
	UserKey  []byte    `json:"userKey"` // BPK_DU
	Address  string    `json:"address"` // u
	KeysHash string    `json:"keysHash"`
	AccessID string    `json:"accessID"`
	Granted  bool      `json:"granted"`
	Reason   string    `json:"reason,omitempty"`
	At       time.Time `json:"at"`
	TxID     string    `json:"txID"`
}

// Access is a granted access, the paper's Tx_acc = (A, BPK_DU, u, T_stemp,
// sign_DO). sign_DO is the signature of transaction TxID, made by the owner
// over a proposal holding the proof and T_stemp (docs/chaincode.md).
type Access struct {
	AccessID string    `json:"accessID"` // A
	RecordID string    `json:"recordID"`
	Version  uint64    `json:"version"`
	User     string    `json:"user"`
	UserKey  []byte    `json:"userKey"` // BPK_DU
	Address  string    `json:"address"` // u
	Stamp    time.Time `json:"stamp"`   // T_stemp
	Owner    string    `json:"owner"`
	TxID     string    `json:"txID"` // the transaction whose signature is sign_DO
}

// Violation is a refused attempt or a forbidden action, the paper's
// VIPR = T ‖ BPK_DU ‖ u, with its reason.
type Violation struct {
	RecordID string `json:"recordID"`
	Owner    string `json:"owner"`
	// Time is T: the proof's time, or the time of the reported action.
	Time    time.Time `json:"time"`
	User    string    `json:"user"`
	UserKey []byte    `json:"userKey"`
	Address string    `json:"address,omitempty"`
	Reason  string    `json:"reason"`
	Detail  string    `json:"detail,omitempty"`
	// Counted tells whether it counts toward a block: every violation whose
	// user is authenticated (all but bad_signature).
	Counted bool `json:"counted"`
	// AccessID is A for access attempts; Evidence names the MeDShare
	// request and side-block of a forbidden action.
	AccessID string    `json:"accessID,omitempty"`
	Evidence string    `json:"evidence,omitempty"`
	At       time.Time `json:"at"`
	TxID     string    `json:"txID"`
}

// Block is a user's revoked access.
type Block struct {
	User     string    `json:"user"`
	Owner    string    `json:"owner"` // owner key-hash
	Scope    string    `json:"scope"`
	RecordID string    `json:"recordID,omitempty"`
	State    string    `json:"state"`
	By       string    `json:"by"`
	Reason   string    `json:"reason"`
	Evidence string    `json:"evidence,omitempty"`
	Since    time.Time `json:"since"`
	TxID     string    `json:"txID"`
}

func (b *Block) describe() string {
	what := "all of the owner's records"
	if b.Scope == ScopeRecord {
		what = "record " + b.RecordID
	}
	return fmt.Sprintf("access to %s is %s by %s since %s: %s", what, b.State, b.By, b.Since.Format(time.RFC3339), b.Reason)
}

func targetKey(recordID string) string {
	if recordID == "" {
		return allRecords
	}
	return recordID
}

// spendNonce marks the proof's nonce used and returns a description of its
// earlier use when it was already spent.
func (c *PTL) spendNonce(stub chaincode.Stub, a *attempt) (string, error) {
	key, err := stub.CreateCompositeKey(objNonce, []string{a.user, hex.EncodeToString(a.proof.Nonce)})
	if err != nil {
		return "", err
	}
	prev, err := stub.GetState(key)
	if err != nil {
		return "", err
	}
	if prev != nil {
		return fmt.Sprintf("the proof's nonce was already used by transaction %s", prev), nil
	}
	return "", stub.PutState(key, []byte(a.txID))
}

// activeBlock returns the user's block for the record, else for all of the
// owner's records, else nil.
func (c *PTL) activeBlock(stub chaincode.Stub, owner, user, recordID string) (*Block, error) {
	for _, t := range []string{recordID, allRecords} {
		var b Block
		ok, err := kv.Get(stub, objBlock, []string{owner, user, t}, &b)
		if err != nil || ok {
			return &b, err
		}
	}
	return nil, nil
}

// countAttempt counts the attempt in the user's current rate period for the
// record and describes the excess, if any.
func (c *PTL) countAttempt(stub chaincode.Stub, a *attempt) (string, error) {
	limit := a.cfg.Monitor.RateLimit
	if limit == 0 {
		return "", nil
	}
	key, err := stub.CreateCompositeKey(objRate, []string{a.user, a.rec.RecordID})
	if err != nil {
		return "", err
	}
	period := a.cfg.ratePeriod
	ns := max(a.now.UnixNano(), 0)
	start := ns - ns%int64(period) // periods are aligned to the Unix epoch
	var count uint32
	b, err := stub.GetState(key)
	if err != nil {
		return "", err
	}
	if len(b) == 12 && int64(binary.BigEndian.Uint64(b)) == start {
		count = binary.BigEndian.Uint32(b[8:])
	}
	count++
	var v [12]byte
	binary.BigEndian.PutUint64(v[:], uint64(start))
	binary.BigEndian.PutUint32(v[8:], count)
	if err := stub.PutState(key, v[:]); err != nil {
		return "", err
	}
	if int(count) > limit {
		return fmt.Sprintf("attempt %d on this record in the %s period from %s; at most %d are allowed", count, period, time.Unix(0, start).UTC().Format(time.RFC3339), limit), nil
	}
	return "", nil
}

// logAttempt writes the attempt's APR with its outcome.
func (c *PTL) logAttempt(stub chaincode.Stub, a *attempt, reason string) error {
	e := &LogEntry{
		RecordID: a.rec.RecordID, Time: a.t, User: a.user, UserKey: a.proof.Key, Address: a.proof.Address,
		KeysHash: a.rec.KeysHash, AccessID: a.accessID, Granted: reason == "", Reason: reason, At: a.now, TxID: a.txID,
	}
	return kv.Put(stub, objLog, []string{a.rec.RecordID, statekey.Time(a.now), a.txID}, e)
}

// recordAccess writes Tx_acc and emits AccessGranted.
func (c *PTL) recordAccess(stub chaincode.Stub, a *attempt) error {
	acc := &Access{
		AccessID: a.accessID, RecordID: a.rec.RecordID, Version: a.rec.Version, User: a.user, UserKey: a.proof.Key,
		Address: a.rec.Address, Stamp: a.stamp, Owner: a.rec.Owner, TxID: a.txID,
	}
	if err := kv.Put(stub, objAccess, []string{a.rec.RecordID, statekey.Time(a.now), a.accessID}, acc); err != nil {
		return err
	}
	return kv.Emit(stub, EventAccessGranted, map[string]any{"accessID": a.accessID, "recordID": a.rec.RecordID, "user": a.user, "version": a.rec.Version})
}

// violate records a violation (VIPR), emits Violation and, when it counts,
// adds it to the user's recent violations for the record and for the owner,
// blocking the user at each scope whose threshold is reached. It returns the
// scopes it blocked.
func (c *PTL) violate(stub chaincode.Stub, cfg *Config, v *Violation) ([]string, error) {
	now, err := stub.GetTxTimestamp()
	if err != nil {
		return nil, err
	}
	v.At, v.TxID = now, stub.GetTxID()
	owner := statekey.Owner(v.Owner)
	if err := kv.Put(stub, objViolation, []string{owner, v.RecordID, statekey.Time(now), v.TxID}, v); err != nil {
		return nil, err
	}
	if err := kv.Emit(stub, EventViolation, v); err != nil {
		return nil, err
	}
	if !v.Counted {
		return nil, nil
	}
	var blocked []string
	for _, s := range []struct {
		scope, target string
		threshold     int
	}{{ScopeRecord, v.RecordID, cfg.Monitor.RecordThreshold}, {ScopeOwner, allRecords, cfg.Monitor.OwnerThreshold}} {
		if s.threshold == 0 {
			continue
		}
		n, err := c.addToRing(stub, owner, v.User, s.target, now, cfg.window, s.threshold)
		if err != nil {
			return nil, err
		}
		if n < s.threshold {
			continue
		}
		var existing Block
		if ok, err := kv.Get(stub, objBlock, []string{owner, v.User, s.target}, &existing); err != nil || ok {
			if err != nil {
				return nil, err
			}
			continue
		}
		b := &Block{User: v.User, Owner: owner, Scope: s.scope, State: StateRevoked, By: ByMonitor,
			Reason: fmt.Sprintf("%d violations within %s, the last %s", n, cfg.window, v.Reason), Since: now, TxID: v.TxID}
		if s.scope == ScopeRecord {
			b.RecordID = v.RecordID
		}
		if err := setBlock(stub, b, EventBlocked); err != nil {
			return nil, err
		}
		blocked = append(blocked, s.scope)
	}
	return blocked, nil
}

// addToRing appends now to the violation times of (owner, user, target),
// keeping only those within the window and at most threshold of them, and
// returns how many remain.
func (c *PTL) addToRing(stub chaincode.Stub, owner, user, target string, now time.Time, window time.Duration, threshold int) (int, error) {
	key, err := stub.CreateCompositeKey(objRing, []string{owner, user, target})
	if err != nil {
		return 0, err
	}
	b, err := stub.GetState(key)
	if err != nil {
		return 0, err
	}
	cutoff := now.Add(-window).UnixNano()
	times := make([]int64, 0, threshold)
	for i := 0; i+8 <= len(b); i += 8 {
		if t := int64(binary.BigEndian.Uint64(b[i:])); t > cutoff {
			times = append(times, t)
		}
	}
	times = append(times, now.UnixNano())
	if len(times) > threshold {
		times = times[len(times)-threshold:]
	}
	out := make([]byte, 0, 8*len(times))
	for _, t := range times {
		out = binary.BigEndian.AppendUint64(out, uint64(t))
	}
	return len(times), stub.PutState(key, out)
}

func setBlock(stub chaincode.Stub, b *Block, event string) error {
	if err := kv.Put(stub, objBlock, []string{b.Owner, b.User, targetKey(b.RecordID)}, b); err != nil {
		return err
	}
	return kv.Emit(stub, event, b)
}

// scopeOf resolves a Regrant or Recall target: "*" for all of the caller's
// records, or a record the caller owns.
func (c *PTL) scopeOf(ctx chaincode.TransactionContext, who *caller.Caller, tgt, what string) (scope, recordID string, err error) {
	if tgt == allRecords {
		return ScopeOwner, "", nil
	}
	if err := arg.ID("target", tgt); err != nil {
		return "", "", ccerr.Invalid("target", "must be a record id or \"*\" for all of your records")
	}
	if _, err := c.ownedRecord(ctx, who, tgt, what); err != nil {
		return "", "", err
	}
	return ScopeRecord, tgt, nil
}

// ownerCall checks the common arguments of Regrant and Recall.
func (c *PTL) ownerCall(ctx chaincode.TransactionContext, user, tgt, what string) (who *caller.Caller, userHash, scope, recordID string, err error) {
	if _, who, err = c.cfg.Client(ctx, what); err != nil {
		return
	}
	if userHash, _, err = statekey.UserRef("user", user); err != nil {
		return
	}
	scope, recordID, err = c.scopeOf(ctx, who, tgt, what)
	return
}

// Regrant lifts the caller's block of a user (key-hash or base64 key) for
// target: one of the caller's records, or "*" for the owner-wide block. It
// also forgets the user's recent violations at that scope, and returns the
// lifted block. Blocks at the other scope stay.
func (c *PTL) Regrant(ctx chaincode.TransactionContext, user, target string) (*Block, error) {
	who, u, _, recordID, err := c.ownerCall(ctx, user, target, "re-grant access")
	if err != nil {
		return nil, err
	}
	stub := ctx.GetStub()
	attrs := []string{who.OwnerHash(), u, targetKey(recordID)}
	var b Block
	ok, err := kv.Get(stub, objBlock, attrs, &b)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, ccerr.NotFound("user", "%s is not blocked for %s", u, describeTarget(recordID))
	}
	if err := kv.Del(stub, objBlock, attrs); err != nil {
		return nil, err
	}
	if err := kv.Del(stub, objRing, attrs); err != nil {
		return nil, err
	}
	return &b, kv.Emit(stub, EventRegranted, &b)
}

// Recall revokes a user's access to target (one of the caller's records, or
// "*" for all of them) by the owner's decision, as MeDShare's "retrieve the
// data back": the block stays until the owner re-grants, and the Recalled
// event tells the owner's gateway to re-encrypt, since the user may hold
// the current keys.
func (c *PTL) Recall(ctx chaincode.TransactionContext, user, target, reason string) (*Block, error) {
	who, u, scope, recordID, err := c.ownerCall(ctx, user, target, "recall access")
	if err != nil {
		return nil, err
	}
	if err := arg.Text("reason", reason, 0, 512); err != nil {
		return nil, err
	}
	stub := ctx.GetStub()
	now, err := stub.GetTxTimestamp()
	if err != nil {
		return nil, err
	}
	if reason == "" {
		reason = "recalled by the owner"
	}
	b := &Block{User: u, Owner: who.OwnerHash(), Scope: scope, RecordID: recordID, State: StateRecalled, By: ByOwner,
		Reason: reason, Since: now, TxID: stub.GetTxID()}
	return b, setBlock(stub, b, EventRecalled)
}

func describeTarget(recordID string) string {
	if recordID == "" {
		return "all of your records"
	}
	return "record " + recordID
}

// Evidence is what the provenance chaincode's ViolationEvidence returns for
// a side-block that recorded forbidden actions.
type Evidence struct {
	RequestID string    `json:"requestID"`
	Side      uint64    `json:"side"`
	SideID    string    `json:"sideID"`
	TxID      string    `json:"txID"`
	Owner     string    `json:"owner"`
	UserKey   []byte    `json:"userKey"`
	RecordIDs []string  `json:"recordIDs"`
	Actions   []string  `json:"actions"`
	At        time.Time `json:"at"`
}

// RevokeForViolation revokes, at once, the requestor's access to every record
// of a MeDShare package whose side-block side of request requestID records
// forbidden actions. The provenance chaincode calls it in the transaction
// that appends that side-block; the side-block must have been appended by
// this very transaction, so old evidence cannot undo an owner's re-grant.
// It records a forbidden_action violation per record and returns the blocks.
func (c *PTL) RevokeForViolation(ctx chaincode.TransactionContext, requestID string, side uint64) ([]Block, error) {
	cfg, err := c.cfg.Load(ctx)
	if err != nil {
		return nil, err
	}
	if err := arg.ID("requestID", requestID); err != nil {
		return nil, err
	}
	stub := ctx.GetStub()
	ev, err := invoke.Call[Evidence](stub, provenanceName, "ViolationEvidence", requestID, fmt.Sprint(side))
	if err != nil {
		return nil, err
	}
	if ev.TxID != stub.GetTxID() {
		return nil, ccerr.Forbidden("side", "side-block %d of request %s was appended by transaction %s, not this one; revocation happens only in the report's own transaction", side, requestID, ev.TxID)
	}
	now, err := stub.GetTxTimestamp()
	if err != nil {
		return nil, err
	}
	user, owner := statekey.User(ev.UserKey), statekey.Owner(ev.Owner)
	evidence := fmt.Sprintf("request %s side-block %d (%s)", ev.RequestID, ev.Side, ev.SideID)
	blocks := []Block{}
	for _, rid := range ev.RecordIDs {
		b := &Block{User: user, Owner: owner, Scope: ScopeRecord, RecordID: rid, State: StateRevoked, By: ByProvenance,
			Reason: fmt.Sprintf("forbidden actions %v", ev.Actions), Evidence: evidence, Since: now, TxID: stub.GetTxID()}
		var existing Block
		ok, err := kv.Get(stub, objBlock, []string{owner, user, rid}, &existing)
		if err != nil {
			return nil, err
		}
		if !ok || existing.State != StateRecalled {
			if err := setBlock(stub, b, EventBlocked); err != nil {
				return nil, err
			}
		} else {
			b = &existing
		}
		v := &Violation{RecordID: rid, Owner: ev.Owner, Time: ev.At, User: user, UserKey: ev.UserKey,
			Reason: ReasonForbiddenAction, Detail: b.Reason, Counted: true, Evidence: evidence}
		if _, err := c.violate(stub, cfg, v); err != nil {
			return nil, err
		}
		blocks = append(blocks, *b)
	}
	return blocks, nil
}

// Status is a user's standing on a record.
type Status struct {
	User     string `json:"user"`
	RecordID string `json:"recordID"`
	// Blocked is true when access is refused; Blocks are the blocks at
	// record and owner scope that refuse it.
	Blocked bool    `json:"blocked"`
	Blocks  []Block `json:"blocks"`
}

// readableRecord reads a record and checks that the caller may read its
// audit data (its owner, an admin or an auditor).
func (c *PTL) readableRecord(ctx chaincode.TransactionContext, recordID, what string) (*storage.Record, error) {
	_, who, err := c.cfg.Caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := arg.ID("recordID", recordID); err != nil {
		return nil, err
	}
	rec, err := invoke.Call[storage.Record](ctx.GetStub(), storageName, "GetRecord", recordID)
	if err != nil {
		return nil, err
	}
	if err := who.RequireReader(rec.Owner, what); err != nil {
		return nil, err
	}
	return rec, nil
}

// Status returns a user's (key-hash or base64 key) standing on a record: the
// blocks that refuse their access. The record's owner, admins and auditors
// may ask; the provenance chaincode asks before recording a request.
func (c *PTL) Status(ctx chaincode.TransactionContext, user, recordID string) (*Status, error) {
	rec, err := c.readableRecord(ctx, recordID, "read a user's status")
	if err != nil {
		return nil, err
	}
	u, _, err := statekey.UserRef("user", user)
	if err != nil {
		return nil, err
	}
	stub := ctx.GetStub()
	st := &Status{User: u, RecordID: recordID, Blocks: []Block{}}
	owner := statekey.Owner(rec.Owner)
	for _, t := range []string{recordID, allRecords} {
		var b Block
		ok, err := kv.Get(stub, objBlock, []string{owner, u, t}, &b)
		if err != nil {
			return nil, err
		}
		if ok {
			st.Blocks = append(st.Blocks, b)
		}
	}
	st.Blocked = len(st.Blocks) > 0
	return st, nil
}

// ListAccessLog lists a record's access attempts (APR), oldest first. The
// record's owner, admins and auditors may list.
func (c *PTL) ListAccessLog(ctx chaincode.TransactionContext, recordID string, pageSize int32, bookmark string) (*page.Page[LogEntry], error) {
	if _, err := c.readableRecord(ctx, recordID, "list the access log"); err != nil {
		return nil, err
	}
	return page.Composite(ctx.GetStub(), objLog, []string{recordID}, pageSize, bookmark, kv.Decode[LogEntry])
}

// ListAccesses lists a record's granted accesses (Tx_acc), oldest first.
func (c *PTL) ListAccesses(ctx chaincode.TransactionContext, recordID string, pageSize int32, bookmark string) (*page.Page[Access], error) {
	if _, err := c.readableRecord(ctx, recordID, "list accesses"); err != nil {
		return nil, err
	}
	return page.Composite(ctx.GetStub(), objAccess, []string{recordID}, pageSize, bookmark, kv.Decode[Access])
}

// ListViolations lists violations (VIPR) on target: one record (its owner,
// admins and auditors may list), or "*" for all of the caller's records.
func (c *PTL) ListViolations(ctx chaincode.TransactionContext, target string, pageSize int32, bookmark string) (*page.Page[Violation], error) {
	var attrs []string
	if target == allRecords {
		_, who, err := c.cfg.Caller(ctx)
		if err != nil {
			return nil, err
		}
		attrs = []string{who.OwnerHash()}
	} else {
		if err := arg.ID("target", target); err != nil {
			return nil, ccerr.Invalid("target", "must be a record id or \"*\" for all of your records")
		}
		rec, err := c.readableRecord(ctx, target, "list violations")
		if err != nil {
			return nil, err
		}
		attrs = []string{statekey.Owner(rec.Owner), target}
	}
	return page.Composite(ctx.GetStub(), objViolation, attrs, pageSize, bookmark, kv.Decode[Violation])
}

// ListBlocks lists the caller's blocks: of one user (key-hash or base64 key),
// or of every user when user is "".
func (c *PTL) ListBlocks(ctx chaincode.TransactionContext, user string, pageSize int32, bookmark string) (*page.Page[Block], error) {
	_, who, err := c.cfg.Caller(ctx)
	if err != nil {
		return nil, err
	}
	attrs := []string{who.OwnerHash()}
	if user != "" {
		u, _, err := statekey.UserRef("user", user)
		if err != nil {
			return nil, err
		}
		attrs = append(attrs, u)
	}
	return page.Composite(ctx.GetStub(), objBlock, attrs, pageSize, bookmark, kv.Decode[Block])
}
