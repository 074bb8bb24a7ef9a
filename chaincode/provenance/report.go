package provenance

import (
	"fmt"
	"time"

	"github.com/medshare/medshare/chaincode/ccerr"
	"github.com/medshare/medshare/chaincode/internal/arg"
	"github.com/medshare/medshare/chaincode/internal/caller"
	"github.com/medshare/medshare/chaincode/internal/enc"
	"github.com/medshare/medshare/chaincode/internal/invoke"
	"github.com/medshare/medshare/chaincode/internal/kv"
	"github.com/medshare/medshare/chaincode/internal/setup"
	"github.com/medshare/medshare/chaincode/ptl"
	"github.com/medshare/medshare/network/chaincode"
)

// ReportedAction is one action in a report.
type ReportedAction struct {
	// Action is one of Actions.
	Action string `json:"action"`
	// At is when the client saw it (RFC 3339).
	At string `json:"at"`
}

// ReportInput is the Report argument (JSON; byte fields in base64).
type ReportInput struct {
	RequestID string `json:"requestID"`
	// Seq numbers the package's reports; each must exceed the last one
	// recorded (reports cannot be replayed).
	Seq uint64 `json:"seq"`
	// Actions are the reported actions (1..32).
	Actions []ReportedAction `json:"actions"`
	// Signature is the report key's signature over ReportDigest.
	Signature []byte `json:"signature"`
	// NodeSignature is Nsig: the forwarding node's (the caller's) signature
	// over the same ReportDigest.
	NodeSignature []byte `json:"nodeSignature"`
}

// ReportDigest is what the requestor's client signs with the package's
// report key, and the forwarding node signs as Nsig: SHA-256 of
//
//	lp("medshare/provenance/report/v1") ‖ lp(channel) ‖ lp(requestID) ‖ lp(packageHash[32])
//	‖ u64(seq) ‖ u32(n) ‖ (lp(action_i) ‖ i64(at_i ns)) for each action
func ReportDigest(channel, requestID string, packageHash [32]byte, seq uint64, actions []string, at []time.Time) [32]byte {
	e := enc.New(ReportDomain).String(channel).String(requestID).Bytes(packageHash[:]).Uint64(seq).Uint32(uint32(len(actions)))
	for i, a := range actions {
		e.String(a).Time(at[i])
	}
	return e.Sum256()
}

// DecisionDigest is what the owner's node signs as Nsig for a decision
// side-block (kind "ignore", "regrant" or "recall"): SHA-256 of
//
//	lp("medshare/provenance/decision/v1") ‖ lp(channel) ‖ lp(requestID) ‖ lp(kind)
//	‖ u32(ignored mask) ‖ lp(reason)
func DecisionDigest(channel, requestID, kind string, ignored Mask, reason string) [32]byte {
	return enc.New(DecisionDomain).String(channel).String(requestID).String(kind).Uint32(uint32(ignored)).String(reason).Sum256()
}

// ReportResult is the outcome of a report.
type ReportResult struct {
	// SideBlock is the appended side-block; nil when every reported action
	// was ignored.
	SideBlock *SideBlock `json:"sideBlock"`
	// Ignored counts the actions dropped as ignored.
	Ignored int `json:"ignored"`
	// Violations are the forbidden actions; Revoked the P-TL blocks they
	// caused.
	Violations []string    `json:"violations"`
	Revoked    []ptl.Block `json:"revoked"`
}

// request loads a request's parent block and state.
func (p *Provenance) request(stub chaincode.Stub, name, requestID string) (*ParentBlock, *State, error) {
	if err := arg.ID(name, requestID); err != nil {
		return nil, nil, err
	}
	var st State
	ok, err := kv.Get(stub, objState, []string{requestID}, &st)
	if err != nil {
		return nil, nil, err
	}
	if !ok {
		return nil, nil, ccerr.NotFound(name, "request %s does not exist on %s", requestID, stub.GetChannelID())
	}
	var b ParentBlock
	if ok, err := kv.Get(stub, objParent, []string{st.Requestor, seq(st.Height)}, &b); err != nil || !ok {
		if err == nil {
			err = fmt.Errorf("request %s: parent block %d of thread %s is missing", requestID, st.Height, st.Requestor)
		}
		return nil, nil, err
	}
	return &b, &st, nil
}

// Report records an action report (a JSON ReportInput) forwarded by the
// caller as a side-block of the request's parent block. The report must be
// signed with the package's report key and by the caller (Nsig), and its seq
// must exceed the last. Ignored actions are dropped (no side-block when all
// are); an action the usage contract does not allow is a violation, and the
// requestor's access to the package's records is revoked through P-TL in this
// same transaction.
func (p *Provenance) Report(ctx chaincode.TransactionContext, report string) (*ReportResult, error) {
	cfg, who, err := p.cfg.Client(ctx, "forward reports")
	if err != nil {
		return nil, err
	}
	if len(report) > MaxArgLen {
		return nil, ccerr.Invalid("report", "must be at most %d bytes of JSON", MaxArgLen)
	}
	var in ReportInput
	if err := setup.DecodeStrict("report", []byte(report), &in); err != nil {
		return nil, err
	}
	if err := arg.ID("report.requestID", in.RequestID); err != nil {
		return nil, err
	}
	if in.Seq == 0 {
		return nil, ccerr.Invalid("report.seq", "must be at least 1")
	}
	if err := arg.Count("report.actions", len(in.Actions), 1, MaxActions); err != nil {
		return nil, err
	}
	stub := ctx.GetStub()
	now, err := stub.GetTxTimestamp()
	if err != nil {
		return nil, err
	}
	names := make([]string, len(in.Actions))
	times := make([]time.Time, len(in.Actions))
	for i, a := range in.Actions {
		name := fmt.Sprintf("report.actions[%d]", i)
		if _, ok := actionBit(a.Action); !ok {
			return nil, ccerr.Invalid(name+".action", "unknown action %q; actions are read, write, delete, duplicate, move, copy, decrypted", a.Action)
		}
		if times[i], err = arg.Time(name+".at", a.At); err != nil {
			return nil, err
		}
		if ahead := times[i].Sub(now); ahead > cfg.maxClockSkew {
			return nil, ccerr.Invalid(name+".at", "is %s ahead of the transaction time; at most %s is allowed", ahead, cfg.maxClockSkew)
		}
		names[i] = a.Action
	}
	if err := arg.Size("report.signature", in.Signature, 8, arg.MaxSignatureLen); err != nil {
		return nil, err
	}
	if err := arg.Size("report.nodeSignature", in.NodeSignature, 8, arg.MaxSignatureLen); err != nil {
		return nil, err
	}
	parent, st, err := p.request(stub, "report.requestID", in.RequestID)
	if err != nil {
		return nil, err
	}
	if in.Seq <= st.LastSeq {
		return nil, ccerr.Invalid("report.seq", "must be greater than %d, the last report's", st.LastSeq)
	}
	for i, t := range times {
		if t.Before(parent.Tx.TTS.Add(-cfg.maxClockSkew)) {
			return nil, ccerr.Invalid(fmt.Sprintf("report.actions[%d].at", i), "is before the package was sent (%s)", parent.Tx.TTS.Format(time.RFC3339Nano))
		}
	}
	pkg, err := decodeHash(parent.Tx.PackageHash)
	if err != nil {
		return nil, err
	}
	digest := ReportDigest(stub.GetChannelID(), in.RequestID, pkg, in.Seq, names, times)
	reportKey, err := arg.PublicKey("contract.reportKey", parent.Contract.ReportKey)
	if err != nil {
		return nil, err
	}
	if err := p.sigs.Verify(reportKey, digest, in.Signature); err != nil {
		return nil, ccerr.Invalid("report.signature", "does not verify under the package's report key over the report digest")
	}
	if err := p.sigs.Verify(who.Key, digest, in.NodeSignature); err != nil {
		return nil, ccerr.Invalid("report.nodeSignature", "does not verify against the creator's certificate key over the report digest")
	}
	allowed, ignored := MaskOf(parent.Contract.Allowed), MaskOf(st.Ignored)
	res := &ReportResult{Violations: []string{}, Revoked: []ptl.Block{}}
	tx := SideTx{Kind: KindReport, OID: parent.Tx.OID, Requestor: st.Requestor, Seq: in.Seq, VLN: []string{}, ReportSignature: in.Signature, Nsig: in.NodeSignature}
	for i, a := range names {
		rec := ActionRecord{Action: a, At: times[i], Status: classify(a, allowed, ignored)}
		tx.Actions = append(tx.Actions, rec)
		switch rec.Status {
		case StatusIgnored:
			res.Ignored++
		case StatusViolation:
			tx.VLN = append(tx.VLN, a)
			if len(tx.VLN) == 1 {
				tx.TSV = rec.At
			}
		}
	}
	st.LastSeq = in.Seq
	if res.Ignored == len(names) {
		return res, kv.Put(stub, objState, []string{in.RequestID}, st)
	}
	if len(tx.VLN) == 0 {
		tx.TSV = times[0]
	}
	sb, err := p.appendSide(stub, who, parent, st, tx)
	if err != nil {
		return nil, err
	}
	res.SideBlock, res.Violations = sb, tx.VLN
	if len(tx.VLN) == 0 {
		return res, nil
	}
	blocks, err := invoke.Call[[]ptl.Block](stub, ptlName, "RevokeForViolation", in.RequestID, fmt.Sprint(sb.Index))
	if err != nil {
		return nil, err
	}
	res.Revoked = *blocks
	return res, nil
}

// classify judges one reported action under the contract.
func classify(action string, allowed, ignored Mask) string {
	switch {
	case ignored.Has(action):
		return StatusIgnored
	case allowed.Has(action):
		return StatusPermitted
	}
	return StatusViolation
}

// appendSide appends a side-block with transaction tx to the parent, updates
// and stores the request's state (status revoked on violations) and emits
// SideBlock.
func (p *Provenance) appendSide(stub chaincode.Stub, who *caller.Caller, parent *ParentBlock, st *State, tx SideTx) (*SideBlock, error) {
	if st.SideBlocks >= MaxSideBlocks {
		return nil, ccerr.Conflict("requestID", "request %s has reached its limit of %d side-blocks", st.RequestID, MaxSideBlocks)
	}
	now, err := stub.GetTxTimestamp()
	if err != nil {
		return nil, err
	}
	tx.NID, tx.NodeMSP, tx.NodeCert, tx.TxID = who.ID, who.MSP, who.Cert, stub.GetTxID()
	if tx.VLN == nil {
		tx.VLN = []string{}
	}
	if tx.Actions == nil {
		tx.Actions = []ActionRecord{}
	}
	f, err := st.frontier()
	if err != nil {
		return nil, fmt.Errorf("request %s: stored state: %w", st.RequestID, err)
	}
	index := st.SideBlocks + 1
	sb := &SideBlock{
		Format: SideFormat, ID: SideID(parent.Hash, index), ParentID: st.RequestID, Index: index,
		Header:        Header{Version: HeaderVersion, PrevHash: st.LastHash, Timestamp: now},
		ActionCounter: len(tx.VLN), Tx: tx, Locktime: now,
	}
	f.Append(sb.txHash())
	sb.Header.MerkleRoot = hexHash(f.Root())
	hash, size, err := sb.digest()
	if err != nil {
		return nil, err
	}
	sb.Hash, sb.Size = hexHash(hash), size
	st.SideBlocks, st.LastHash, st.Frontier = index, sb.Hash, peaks(&f)
	st.ActionCounter += uint64(sb.ActionCounter)
	if sb.ActionCounter > 0 && st.Status != StatusRecalled {
		st.Status = StatusRevoked
	}
	if err := kv.Put(stub, objSide, []string{st.RequestID, seq(index)}, sb); err != nil {
		return nil, err
	}
	if err := kv.Put(stub, objState, []string{st.RequestID}, st); err != nil {
		return nil, err
	}
	return sb, kv.Emit(stub, EventSideBlock, map[string]any{"requestID": st.RequestID, "index": index, "id": sb.ID, "kind": tx.Kind, "violations": tx.VLN})
}

// Evidence returns what P-TL acts on when the provenance chaincode revokes,
// re-grants or recalls: side-block side of request requestID, which must
// have been appended by the current transaction and be a report with
// violations or an owner's re-grant or recall.
func (p *Provenance) Evidence(ctx chaincode.TransactionContext, requestID string, side uint64) (*ptl.Evidence, error) {
	if _, err := p.cfg.Load(ctx); err != nil {
		return nil, err
	}
	stub := ctx.GetStub()
	parent, _, err := p.request(stub, "requestID", requestID)
	if err != nil {
		return nil, err
	}
	var sb SideBlock
	ok, err := kv.Get(stub, objSide, []string{requestID, seq(side)}, &sb)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, ccerr.NotFound("side", "request %s has no side-block %d", requestID, side)
	}
	if sb.Tx.TxID != stub.GetTxID() {
		return nil, ccerr.Forbidden("side", "side-block %d of request %s is evidence only within the transaction that appended it", side, requestID)
	}
	ev := &ptl.Evidence{
		RequestID: requestID, Side: side, SideID: sb.ID, TxID: sb.Tx.TxID, Owner: parent.Tx.OID,
		User: parent.Tx.Requestor, UserKey: parent.Tx.RID, RecordIDs: parent.Tx.RecordIDs, At: sb.Tx.TSV,
	}
	switch sb.Tx.Kind {
	case KindReport:
		if sb.ActionCounter == 0 {
			return nil, ccerr.Conflict("side", "side-block %d of request %s records no violation", side, requestID)
		}
		ev.Kind, ev.Actions = ptl.EvidenceReport, sb.Tx.VLN
	case KindRegrant:
		ev.Kind, ev.Reason = ptl.EvidenceRegrant, sb.Tx.Reason
	case KindRecall:
		ev.Kind, ev.Reason = ptl.EvidenceRecall, sb.Tx.Reason
	default:
		return nil, ccerr.Conflict("side", "side-block %d of request %s records a %s, which P-TL does not act on", side, requestID, sb.Tx.Kind)
	}
	return ev, nil
}

// ownRequest loads a request for a decision by its owner.
func (p *Provenance) ownRequest(ctx chaincode.TransactionContext, requestID string) (*caller.Caller, *ParentBlock, *State, error) {
	_, who, err := p.cfg.Client(ctx, "decide on requests")
	if err != nil {
		return nil, nil, nil, err
	}
	parent, st, err := p.request(ctx.GetStub(), "requestID", requestID)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := who.RequireOwner(parent.Tx.OID, "decide on request "+requestID); err != nil {
		return nil, nil, nil, err
	}
	return who, parent, st, nil
}

// decide appends an owner's decision side-block once the owner's signature
// (Nsig over DecisionDigest) verifies.
func (p *Provenance) decide(stub chaincode.Stub, who *caller.Caller, parent *ParentBlock, st *State, kind string, ignored Mask, reason, nodeSignature string) (*SideBlock, error) {
	if err := arg.Text("reason", reason, 0, 512); err != nil {
		return nil, err
	}
	sig, err := arg.Signature("nodeSignature", nodeSignature)
	if err != nil {
		return nil, err
	}
	if err := p.sigs.Verify(who.Key, DecisionDigest(stub.GetChannelID(), st.RequestID, kind, ignored, reason), sig); err != nil {
		return nil, ccerr.Invalid("nodeSignature", "does not verify against the creator's certificate key over the decision digest")
	}
	now, err := stub.GetTxTimestamp()
	if err != nil {
		return nil, err
	}
	tx := SideTx{Kind: kind, TSV: now, OID: parent.Tx.OID, Requestor: st.Requestor, Reason: reason, Nsig: sig}
	if kind == KindIgnore {
		tx.Ignored = ignored.Names()
		st.Ignored = tx.Ignored
	}
	return p.appendSide(stub, who, parent, st, tx)
}

// SetIgnored replaces the actions the chaincode ignores for a request (a
// JSON list such as ["read","copy"]; [] ignores none), on low sensitivity
// channels only, by the request's owner with Nsig over DecisionDigest (with
// an empty reason). The change is recorded as an "ignore" side-block.
func (p *Provenance) SetIgnored(ctx chaincode.TransactionContext, requestID, actions, nodeSignature string) (*SideBlock, error) {
	who, parent, st, err := p.ownRequest(ctx, requestID)
	if err != nil {
		return nil, err
	}
	var list []string
	if err := setup.DecodeStrict("actions", []byte(actions), &list); err != nil {
		return nil, err
	}
	mask, err := parseActions("actions", list, 0)
	if err != nil {
		return nil, err
	}
	cfg, err := p.cfg.Load(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkIgnored(cfg, "actions", mask); err != nil {
		return nil, err
	}
	return p.decide(ctx.GetStub(), who, parent, st, KindIgnore, mask, "", nodeSignature)
}

// Regrant records the owner's decision to re-grant a revoked or recalled
// requestor's access after this request: it appends a "regrant" side-block
// and lifts, through P-TL's RegrantRequest, exactly the causes this request
// set on the requestor's blocks — its forbidden actions and its recall.
// Blocks from other requests, from monitoring and the owner's own P-TL
// recalls stay (the owner lifts those with ptl Regrant).
func (p *Provenance) Regrant(ctx chaincode.TransactionContext, requestID, reason, nodeSignature string) (*SideBlock, error) {
	who, parent, st, err := p.ownRequest(ctx, requestID)
	if err != nil {
		return nil, err
	}
	if st.Status != StatusRevoked && st.Status != StatusRecalled {
		return nil, ccerr.Conflict("requestID", "request %s is %s, not revoked or recalled", requestID, st.Status)
	}
	stub := ctx.GetStub()
	sb, err := p.decide(stub, who, parent, st, KindRegrant, 0, reason, nodeSignature)
	if err != nil {
		return nil, err
	}
	if _, err := invoke.Call[[]ptl.Block](stub, ptlName, "RegrantRequest", requestID, fmt.Sprint(sb.Index)); err != nil {
		return nil, err
	}
	st.Status = StatusRegranted
	return sb, kv.Put(stub, objState, []string{requestID}, st)
}

// Recall records the owner's decision to recall the package (MeDShare's
// "retrieve the data back"): a "recall" side-block is appended and the
// requestor is blocked for every record of the request through P-TL's
// RecallRequest, until the request is re-granted.
func (p *Provenance) Recall(ctx chaincode.TransactionContext, requestID, reason, nodeSignature string) (*SideBlock, error) {
	who, parent, st, err := p.ownRequest(ctx, requestID)
	if err != nil {
		return nil, err
	}
	stub := ctx.GetStub()
	sb, err := p.decide(stub, who, parent, st, KindRecall, 0, reason, nodeSignature)
	if err != nil {
		return nil, err
	}
	if _, err := invoke.Call[[]ptl.Block](stub, ptlName, "RecallRequest", requestID, fmt.Sprint(sb.Index)); err != nil {
		return nil, err
	}
	st.Status = StatusRecalled
	return sb, kv.Put(stub, objState, []string{requestID}, st)
}
