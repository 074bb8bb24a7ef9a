package ptl

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
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
	// EventBlocked: the Block after a cause was added (by monitoring,
	// provenance or a recall).
	EventBlocked = "Blocked"
	// EventRegranted: the Block with the causes the owner lifted.
	EventRegranted = "Regranted"
	// EventRecalled: the Block after the owner's recall; the owner's
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
	// StateRecalled by the owner's recalls. Both refuse access until lifted.
	StateRevoked  = "revoked"
	StateRecalled = "recalled"
	// Who set a cause.
	ByMonitor    = "monitor"
	ByProvenance = "provenance"
	ByOwner      = "owner"
)

// MaxCauses bounds the causes one block keeps. Beyond it, a new MeDShare
// request's cause is kept without its request id, so that only the owner's
// Regrant lifts it.
const MaxCauses = 32

// allRecords is the target of owner-wide blocks and listings. Record ids
// cannot contain "*".
const allRecords = "*"

// State layout: composite keys, listed by prefix.
const (
	objPolicy    = "policy" // (recordID) → Policy
	objNonce     = "nonce"  // (user, time T, hex nonce) → the key of the attempt's LogEntry
	objRate      = "rate"   // (user, recordID) → period start (8 bytes) ‖ attempts (4) ‖ attempts made in the period (4)
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
	User     string    `json:"user"`    // user id
	UserKey  []byte    `json:"userKey"` // BPK_DU
	Address  string    `json:"address"` // u
	KeysHash string    `json:"keysHash"`
	AccessID string    `json:"accessID"`
	Granted  bool      `json:"granted"`
	Reason   string    `json:"reason,omitempty"`
	Blame    string    `json:"blame,omitempty"`
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
// VIPR = T ‖ BPK_DU ‖ u, with its reason and whom it is blamed on.
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
	// Blame is BlameUser, BlameSubmitter or BlameNone; Submitter names the
	// submitting identity when the violation is blamed on it.
	Blame     string `json:"blame"`
	Submitter string `json:"submitter,omitempty"`
	// Counted tells whether it counts toward a block: the violations blamed
	// on the user.
	Counted bool `json:"counted"`
	// AccessID is A for access attempts; Evidence names the MeDShare
	// request and side-block of a forbidden action.
	AccessID string    `json:"accessID,omitempty"`
	Evidence string    `json:"evidence,omitempty"`
	At       time.Time `json:"at"`
	TxID     string    `json:"txID"`
}

// Block is a user's revoked access at one scope, with every cause that
// keeps it: the block lasts while any cause does.
type Block struct {
	User     string `json:"user"`
	Owner    string `json:"owner"` // owner key-hash
	Scope    string `json:"scope"`
	RecordID string `json:"recordID,omitempty"`
	// State is StateRecalled when a cause is a recall, else StateRevoked.
	State string `json:"state"`
	// Since is the time of the earliest cause.
	Since  time.Time `json:"since"`
	Causes []Cause   `json:"causes"`
}

// Cause is one reason a block holds.
type Cause struct {
	// By is ByMonitor, ByProvenance or ByOwner; State StateRevoked or
	// StateRecalled.
	By    string `json:"by"`
	State string `json:"state"`
	// RequestID is the MeDShare request the cause belongs to (a forbidden
	// action in its package, or the owner's recall of it): re-granting that
	// request lifts exactly its causes. Empty for monitoring and for the
	// owner's own recalls.
	RequestID string    `json:"requestID,omitempty"`
	Reason    string    `json:"reason"`
	Evidence  string    `json:"evidence,omitempty"`
	Since     time.Time `json:"since"`
	TxID      string    `json:"txID"`
}

func (b *Block) describe() string {
	what := "all of the owner's records"
	if b.Scope == ScopeRecord {
		what = "record " + b.RecordID
	}
	parts := make([]string, len(b.Causes))
	for i, c := range b.Causes {
		parts[i] = fmt.Sprintf("%s by %s since %s: %s", c.State, c.By, c.Since.Format(time.RFC3339), c.Reason)
	}
	return fmt.Sprintf("access to %s is %s (%s)", what, b.State, strings.Join(parts, "; "))
}

// settle recomputes a block's state and time from its causes.
func (b *Block) settle() {
	b.State, b.Since = StateRevoked, time.Time{}
	for _, c := range b.Causes {
		if c.State == StateRecalled {
			b.State = StateRecalled
		}
		if b.Since.IsZero() || c.Since.Before(b.Since) {
			b.Since = c.Since
		}
	}
}

func targetKey(recordID string) string {
	if recordID == "" {
		return allRecords
	}
	return recordID
}

func logKey(stub chaincode.Stub, a *attempt) (string, error) {
	return stub.CreateCompositeKey(objLog, []string{a.rec.RecordID, statekey.Time(a.now), a.txID})
}

// spendProof marks the proof spent — under the user, the proof's time and
// its nonce, pointing at the attempt's log entry, which also indexes the
// user's own log — and describes its earlier use when it was already spent.
func (c *PTL) spendProof(stub chaincode.Stub, a *attempt) (string, error) {
	key, err := stub.CreateCompositeKey(objNonce, []string{a.user, statekey.Time(a.t), hex.EncodeToString(a.proof.Nonce)})
	if err != nil {
		return "", err
	}
	prev, err := stub.GetState(key)
	if err != nil {
		return "", err
	}
	if prev != nil {
		_, attrs, err := stub.SplitCompositeKey(string(prev))
		if err != nil || len(attrs) != 3 {
			return "the proof was already submitted", nil
		}
		return fmt.Sprintf("the proof was already submitted, by transaction %s", attrs[2]), nil
	}
	lk, err := logKey(stub, a)
	if err != nil {
		return "", err
	}
	return "", stub.PutState(key, []byte(lk))
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
// record and describes the excess, if any; own tells whether the attempts
// the user made in the period (proof time T in it) exceed the limit by
// themselves, rather than proofs made earlier and submitted late.
func (c *PTL) countAttempt(stub chaincode.Stub, a *attempt) (over string, own bool, err error) {
	limit := a.cfg.Monitor.RateLimit
	if limit == 0 {
		return "", false, nil
	}
	key, err := stub.CreateCompositeKey(objRate, []string{a.user, a.rec.RecordID})
	if err != nil {
		return "", false, err
	}
	period := a.cfg.ratePeriod
	ns := max(a.now.UnixNano(), 0)
	start := ns - ns%int64(period) // periods are aligned to the Unix epoch
	var count, made uint32
	b, err := stub.GetState(key)
	if err != nil {
		return "", false, err
	}
	if len(b) == 16 && int64(binary.BigEndian.Uint64(b)) == start {
		count, made = binary.BigEndian.Uint32(b[8:]), binary.BigEndian.Uint32(b[12:])
	}
	count++
	if t := a.t.UnixNano(); t >= start && t < start+int64(period) {
		made++
	}
	var v [16]byte
	binary.BigEndian.PutUint64(v[:], uint64(start))
	binary.BigEndian.PutUint32(v[8:], count)
	binary.BigEndian.PutUint32(v[12:], made)
	if err := stub.PutState(key, v[:]); err != nil {
		return "", false, err
	}
	if int(count) > limit {
		return fmt.Sprintf("attempt %d on this record in the %s period from %s; at most %d are allowed", count, period, time.Unix(0, start).UTC().Format(time.RFC3339), limit), int(made) > limit, nil
	}
	return "", false, nil
}

// logAttempt writes the attempt's APR with its outcome.
func (c *PTL) logAttempt(stub chaincode.Stub, a *attempt, v verdict) error {
	e := &LogEntry{
		RecordID: a.rec.RecordID, Time: a.t, User: a.user, UserKey: a.proof.Key, Address: a.proof.Address,
		KeysHash: a.rec.KeysHash, AccessID: a.accessID, Granted: v.reason == "", Reason: v.reason, Blame: v.blame, At: a.now, TxID: a.txID,
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
		recordID := ""
		if s.scope == ScopeRecord {
			recordID = v.RecordID
		}
		cause := Cause{By: ByMonitor, State: StateRevoked, Since: now, TxID: v.TxID,
			Reason: fmt.Sprintf("%d violations within %s, the last %s", n, cfg.window, v.Reason)}
		added, err := addCause(stub, owner, v.User, recordID, cause, EventBlocked, false)
		if err != nil {
			return nil, err
		}
		if added != nil {
			blocked = append(blocked, s.scope)
		}
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

// sameCause reports whether two causes are the same decision: same author
// and request (a newer one replaces the older).
func sameCause(a, b *Cause) bool { return a.By == b.By && a.RequestID == b.RequestID }

// addCause adds cause to the user's block at (owner, recordID or "*"),
// creating the block if needed, and emits event with the block. A cause of
// the same author and request is replaced when replace is set, and left
// as it is (the call returning nil) when not. It returns the block.
func addCause(stub chaincode.Stub, owner, user, recordID string, cause Cause, event string, replace bool) (*Block, error) {
	attrs := []string{owner, user, targetKey(recordID)}
	var b Block
	ok, err := kv.Get(stub, objBlock, attrs, &b)
	if err != nil {
		return nil, err
	}
	if !ok {
		b = Block{User: user, Owner: owner, Scope: ScopeOwner, RecordID: recordID, Causes: []Cause{}}
		if recordID != "" {
			b.Scope = ScopeRecord
		}
	}
	i := slices.IndexFunc(b.Causes, func(c Cause) bool { return sameCause(&c, &cause) })
	switch {
	case i >= 0 && !replace:
		return nil, nil
	case i >= 0:
		b.Causes[i] = cause
	case len(b.Causes) >= MaxCauses && cause.RequestID != "":
		// Full: keep the cause without its request, so that only the
		// owner's Regrant lifts it (and it merges with later overflows).
		cause.Reason = fmt.Sprintf("%s (request %s; more than %d causes)", cause.Reason, cause.RequestID, MaxCauses)
		cause.RequestID = ""
		return addCause(stub, owner, user, recordID, cause, event, true)
	default:
		b.Causes = append(b.Causes, cause)
	}
	b.settle()
	if err := kv.Put(stub, objBlock, attrs, &b); err != nil {
		return nil, err
	}
	return &b, kv.Emit(stub, event, &b)
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
func (c *PTL) ownerCall(ctx chaincode.TransactionContext, user, tgt, what string) (who *caller.Caller, scope, recordID string, err error) {
	if _, who, err = c.cfg.Client(ctx, what); err != nil {
		return
	}
	if err = statekey.UserID("user", user); err != nil {
		return
	}
	scope, recordID, err = c.scopeOf(ctx, who, tgt, what)
	return
}

// Regrant lifts the caller's block of a user (a user id) for target: one of
// the caller's records, or "*" for the owner-wide block — every cause of
// it: monitoring, forbidden actions of any request, recalls. It also forgets
// the user's recent violations at that scope, and returns the lifted block
// (event Regranted). Blocks at the other scope stay. To lift only what one
// MeDShare request caused, the owner re-grants that request in the
// provenance chaincode.
func (c *PTL) Regrant(ctx chaincode.TransactionContext, user, target string) (*Block, error) {
	who, _, recordID, err := c.ownerCall(ctx, user, target, "re-grant access")
	if err != nil {
		return nil, err
	}
	stub := ctx.GetStub()
	attrs := []string{who.OwnerHash(), user, targetKey(recordID)}
	var b Block
	ok, err := kv.Get(stub, objBlock, attrs, &b)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, ccerr.NotFound("user", "%s is not blocked for %s", user, describeTarget(recordID))
	}
	if err := kv.Del(stub, objBlock, attrs); err != nil {
		return nil, err
	}
	if err := kv.Del(stub, objRing, attrs); err != nil {
		return nil, err
	}
	return &b, kv.Emit(stub, EventRegranted, &b)
}

// Recall revokes a user's (a user id) access to target (one of the caller's
// records, or "*" for all of them) by the owner's decision, as MeDShare's
// "retrieve the data back": a recall cause that only the owner's Regrant
// lifts. The Recalled event tells the owner's gateway to re-encrypt, since
// the user may hold the current keys.
func (c *PTL) Recall(ctx chaincode.TransactionContext, user, target, reason string) (*Block, error) {
	who, _, recordID, err := c.ownerCall(ctx, user, target, "recall access")
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
	return addCause(stub, who.OwnerHash(), user, recordID, Cause{By: ByOwner, State: StateRecalled, Reason: reason, Since: now, TxID: stub.GetTxID()}, EventRecalled, true)
}

func describeTarget(recordID string) string {
	if recordID == "" {
		return "all of your records"
	}
	return "record " + recordID
}

// Evidence kinds: what a provenance side-block records.
const (
	EvidenceReport  = "report"
	EvidenceRegrant = "regrant"
	EvidenceRecall  = "recall"
)

// Evidence is what the provenance chaincode's Evidence function returns for
// a side-block appended by the current transaction: a report with
// forbidden actions, or the owner's re-grant or recall of a request.
type Evidence struct {
	Kind      string `json:"kind"`
	RequestID string `json:"requestID"`
	Side      uint64 `json:"side"`
	SideID    string `json:"sideID"`
	TxID      string `json:"txID"`
	// Owner is the request's owner (identity); User the requestor's user
	// id and UserKey its key (RID).
	Owner     string   `json:"owner"`
	User      string   `json:"user"`
	UserKey   []byte   `json:"userKey"`
	RecordIDs []string `json:"recordIDs"`
	// Actions are a report's forbidden actions; Reason a decision's note.
	Actions []string  `json:"actions,omitempty"`
	Reason  string    `json:"reason,omitempty"`
	At      time.Time `json:"at"`
}

// evidence asks the provenance chaincode for side-block side of requestID,
// which must be of kind and have been appended by this very transaction, so
// that old evidence cannot be replayed (to undo an owner's re-grant, say)
// and nobody but the provenance chaincode's own checks can produce it.
func (c *PTL) evidence(stub chaincode.Stub, requestID string, side uint64, kind string) (*Evidence, error) {
	if err := arg.ID("requestID", requestID); err != nil {
		return nil, err
	}
	ev, err := invoke.Call[Evidence](stub, provenanceName, "Evidence", requestID, fmt.Sprint(side))
	if err != nil {
		return nil, err
	}
	if ev.TxID != stub.GetTxID() {
		return nil, ccerr.Forbidden("side", "side-block %d of request %s was appended by transaction %s, not this one; P-TL acts on it only in its own transaction", side, requestID, ev.TxID)
	}
	if ev.Kind != kind {
		return nil, ccerr.Conflict("side", "side-block %d of request %s records a %s, not a %s", side, requestID, ev.Kind, kind)
	}
	return ev, nil
}

// RevokeForViolation revokes, at once, the requestor's access to every record
// of a MeDShare package whose side-block side of request requestID records
// forbidden actions: it adds the request's cause to the requestor's block of
// each record (other causes, such as the owner's recall, stay) and records a
// forbidden_action violation per record, which counts toward monitoring's
// blocks. The provenance chaincode calls it in the transaction that appends
// that side-block. It returns the blocks.
func (c *PTL) RevokeForViolation(ctx chaincode.TransactionContext, requestID string, side uint64) ([]Block, error) {
	cfg, err := c.cfg.Load(ctx)
	if err != nil {
		return nil, err
	}
	stub := ctx.GetStub()
	ev, err := c.evidence(stub, requestID, side, EvidenceReport)
	if err != nil {
		return nil, err
	}
	now, err := stub.GetTxTimestamp()
	if err != nil {
		return nil, err
	}
	owner := statekey.Owner(ev.Owner)
	evidence := fmt.Sprintf("request %s side-block %d (%s)", ev.RequestID, ev.Side, ev.SideID)
	reason := fmt.Sprintf("forbidden actions %v", ev.Actions)
	blocks := []Block{}
	for _, rid := range ev.RecordIDs {
		b, err := addCause(stub, owner, ev.User, rid, Cause{By: ByProvenance, State: StateRevoked, RequestID: ev.RequestID,
			Reason: reason, Evidence: evidence, Since: now, TxID: stub.GetTxID()}, EventBlocked, true)
		if err != nil {
			return nil, err
		}
		v := &Violation{RecordID: rid, Owner: ev.Owner, Time: ev.At, User: ev.User, UserKey: ev.UserKey,
			Reason: ReasonForbiddenAction, Detail: reason, Blame: BlameUser, Counted: true, Evidence: evidence}
		if _, err := c.violate(stub, cfg, v); err != nil {
			return nil, err
		}
		blocks = append(blocks, *b)
	}
	return blocks, nil
}

// RegrantRequest lifts, for every record of a MeDShare request, the causes
// that request set — its forbidden actions and the owner's recall of it —
// and nothing else: blocks from other requests, from monitoring and the
// owner's own recalls stay. The provenance chaincode calls it in the
// transaction that appends the request's "regrant" side-block. It returns
// the blocks that still hold after it.
func (c *PTL) RegrantRequest(ctx chaincode.TransactionContext, requestID string, side uint64) ([]Block, error) {
	if _, err := c.cfg.Load(ctx); err != nil {
		return nil, err
	}
	stub := ctx.GetStub()
	ev, err := c.evidence(stub, requestID, side, EvidenceRegrant)
	if err != nil {
		return nil, err
	}
	owner := statekey.Owner(ev.Owner)
	remaining := []Block{}
	for _, rid := range ev.RecordIDs {
		attrs := []string{owner, ev.User, rid}
		var b Block
		ok, err := kv.Get(stub, objBlock, attrs, &b)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		lifted := b
		lifted.Causes = []Cause{}
		keep := b.Causes[:0:0]
		for _, c := range b.Causes {
			if c.RequestID == requestID {
				lifted.Causes = append(lifted.Causes, c)
			} else {
				keep = append(keep, c)
			}
		}
		if len(lifted.Causes) == 0 {
			remaining = append(remaining, b)
			continue
		}
		if len(keep) == 0 {
			if err := kv.Del(stub, objBlock, attrs); err != nil {
				return nil, err
			}
		} else {
			b.Causes = keep
			b.settle()
			if err := kv.Put(stub, objBlock, attrs, &b); err != nil {
				return nil, err
			}
			remaining = append(remaining, b)
		}
		if err := kv.Emit(stub, EventRegranted, &lifted); err != nil {
			return nil, err
		}
	}
	return remaining, nil
}

// RecallRequest blocks the requestor of a MeDShare request for every record
// of it, by the owner's decision, with a recall cause tied to the request
// (so that re-granting the request lifts it). The provenance chaincode calls
// it in the transaction that appends the request's "recall" side-block. It
// returns the blocks.
func (c *PTL) RecallRequest(ctx chaincode.TransactionContext, requestID string, side uint64) ([]Block, error) {
	if _, err := c.cfg.Load(ctx); err != nil {
		return nil, err
	}
	stub := ctx.GetStub()
	ev, err := c.evidence(stub, requestID, side, EvidenceRecall)
	if err != nil {
		return nil, err
	}
	now, err := stub.GetTxTimestamp()
	if err != nil {
		return nil, err
	}
	reason := ev.Reason
	if reason == "" {
		reason = "recalled by the owner"
	}
	owner := statekey.Owner(ev.Owner)
	blocks := []Block{}
	for _, rid := range ev.RecordIDs {
		b, err := addCause(stub, owner, ev.User, rid, Cause{By: ByOwner, State: StateRecalled, RequestID: requestID, Reason: reason,
			Evidence: fmt.Sprintf("request %s side-block %d (%s)", ev.RequestID, ev.Side, ev.SideID), Since: now, TxID: stub.GetTxID()}, EventRecalled, true)
		if err != nil {
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

// readableRecord reads a record and checks that the caller may read audit
// data about it concerning user ("" for data about every user): its owner,
// that user, or a configured auditor.
func (c *PTL) readableRecord(ctx chaincode.TransactionContext, recordID, user, what string) (*storage.Record, error) {
	cfg, who, err := c.cfg.Caller(ctx)
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
	if err := who.RequireReader(rec.Owner, user, cfg.Auditors, what); err != nil {
		return nil, err
	}
	return rec, nil
}

// Status returns a user's (a user id) standing on a record: the blocks that
// refuse their access. The record's owner, the user and the configured
// auditors may ask; the provenance chaincode asks before recording a
// request.
func (c *PTL) Status(ctx chaincode.TransactionContext, user, recordID string) (*Status, error) {
	rec, err := c.readableRecord(ctx, recordID, user, "read a user's status")
	if err != nil {
		return nil, err
	}
	if err := statekey.UserID("user", user); err != nil {
		return nil, err
	}
	stub := ctx.GetStub()
	st := &Status{User: user, RecordID: recordID, Blocks: []Block{}}
	owner := statekey.Owner(rec.Owner)
	for _, t := range []string{recordID, allRecords} {
		var b Block
		ok, err := kv.Get(stub, objBlock, []string{owner, user, t}, &b)
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
// record's owner and the configured auditors may list.
func (c *PTL) ListAccessLog(ctx chaincode.TransactionContext, recordID string, pageSize int32, bookmark string) (*page.Page[LogEntry], error) {
	if _, err := c.readableRecord(ctx, recordID, "", "list the access log"); err != nil {
		return nil, err
	}
	return page.Composite(ctx.GetStub(), objLog, []string{recordID}, pageSize, bookmark, kv.Decode[LogEntry])
}

// ListUserLog lists a user's (a user id) authenticated access attempts on
// the channel, across owners, in the order of the proofs' times T. The user
// and the configured auditors may list.
func (c *PTL) ListUserLog(ctx chaincode.TransactionContext, user string, pageSize int32, bookmark string) (*page.Page[LogEntry], error) {
	cfg, who, err := c.cfg.Caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := statekey.UserID("user", user); err != nil {
		return nil, err
	}
	if err := who.RequireReader("", user, cfg.Auditors, "list a user's access log"); err != nil {
		return nil, err
	}
	stub := ctx.GetStub()
	return page.Composite(stub, objNonce, []string{user}, pageSize, bookmark, func(_ string, _ []string, v []byte) (LogEntry, error) {
		var e LogEntry
		b, err := stub.GetState(string(v))
		if err != nil {
			return e, err
		}
		if b == nil {
			return e, fmt.Errorf("user %s: the log entry of a spent proof is missing", user)
		}
		return kv.Decode[LogEntry]("", nil, b)
	})
}

// ListAccesses lists a record's granted accesses (Tx_acc), oldest first.
func (c *PTL) ListAccesses(ctx chaincode.TransactionContext, recordID string, pageSize int32, bookmark string) (*page.Page[Access], error) {
	if _, err := c.readableRecord(ctx, recordID, "", "list accesses"); err != nil {
		return nil, err
	}
	return page.Composite(ctx.GetStub(), objAccess, []string{recordID}, pageSize, bookmark, kv.Decode[Access])
}

// ListViolations lists violations (VIPR) on target: one record (its owner
// and the configured auditors may list), or "*" for all of the caller's
// records.
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
		rec, err := c.readableRecord(ctx, target, "", "list violations")
		if err != nil {
			return nil, err
		}
		attrs = []string{statekey.Owner(rec.Owner), target}
	}
	return page.Composite(ctx.GetStub(), objViolation, attrs, pageSize, bookmark, kv.Decode[Violation])
}

// ListBlocks lists the caller's blocks: of one user (a user id), or of
// every user when user is "".
func (c *PTL) ListBlocks(ctx chaincode.TransactionContext, user string, pageSize int32, bookmark string) (*page.Page[Block], error) {
	_, who, err := c.cfg.Caller(ctx)
	if err != nil {
		return nil, err
	}
	attrs := []string{who.OwnerHash()}
	if user != "" {
		if err := statekey.UserID("user", user); err != nil {
			return nil, err
		}
		attrs = append(attrs, user)
	}
	return page.Composite(ctx.GetStub(), objBlock, attrs, pageSize, bookmark, kv.Decode[Block])
}
