package provenance

import (
	"encoding/base64"
	"fmt"
	"time"

	"github.com/medshare/medshare/chaincode/ccerr"
	"github.com/medshare/medshare/chaincode/internal/arg"
	"github.com/medshare/medshare/chaincode/internal/chainhash"
	"github.com/medshare/medshare/chaincode/internal/enc"
	"github.com/medshare/medshare/chaincode/internal/invoke"
	"github.com/medshare/medshare/chaincode/internal/kv"
	"github.com/medshare/medshare/chaincode/internal/setup"
	"github.com/medshare/medshare/chaincode/internal/statekey"
	"github.com/medshare/medshare/chaincode/ptl"
	"github.com/medshare/medshare/chaincode/storage"
	"github.com/medshare/medshare/network/chaincode"
)

// Domains of the digests clients sign. Version 2 of the request and form
// digests: the requestor signs its user id and the report key it generated.
const (
	RequestDomain  = "medshare/provenance/request/v2"
	FormDomain     = "medshare/provenance/form/v2"
	ReportDomain   = "medshare/provenance/report/v1"
	DecisionDomain = "medshare/provenance/decision/v1"
)

// RequestDigest is what the requestor signs with the key RID when asking for
// data: SHA-256 of
//
//	lp("medshare/provenance/request/v2") ‖ lp(channel) ‖ lp(requestID) ‖ lp(RID)
//	‖ lp(user) ‖ u32(n) lp(recordID_1) … lp(recordID_n) ‖ lp(purpose)
//	‖ i64(requestTime ns) ‖ lp(reportKey)
//
// user is the requestor's user id (its enrolment's) and reportKey the PKIX
// DER public half of the report key the requestor's client generated: only
// the holder of its private half can sign the request's reports.
func RequestDigest(channel, requestID string, requestorKey []byte, user string, recordIDs []string, purpose string, t time.Time, reportKey []byte) [32]byte {
	return enc.New(RequestDomain).String(channel).String(requestID).Bytes(requestorKey).String(user).
		Strings(recordIDs).String(purpose).Time(t).Bytes(reportKey).Sum256()
}

// FormDigest is what the processing node (the owner's gateway, the creator
// of the Request transaction) signs as Nsig: SHA-256 of
//
//	lp("medshare/provenance/form/v2") ‖ lp(channel) ‖ lp(requestID) ‖ lp(RequestDigest)
//	‖ i64(TTR) ‖ i64(TTP) ‖ i64(TTS) ‖ lp(dataID) ‖ lp(packageHash[32])
//	‖ u32(allowed mask) ‖ u32(ignored mask)
//
// where a mask has bit i set for Actions[i] (read=1, write=2, delete=4,
// duplicate=8, move=16, copy=32, decrypted=64) and allowed always includes
// decrypted. The report key is in the request digest.
func FormDigest(channel, requestID string, request [32]byte, ttr, ttp, tts time.Time, dataID string, packageHash [32]byte, allowed, ignored Mask) [32]byte {
	return enc.New(FormDomain).String(channel).String(requestID).Bytes(request[:]).
		Time(ttr).Time(ttp).Time(tts).String(dataID).Bytes(packageHash[:]).
		Uint32(uint32(allowed)).Uint32(uint32(ignored)).Sum256()
}

// RequestInput is the Request argument (JSON; byte fields in base64).
type RequestInput struct {
	// RequestID names the request: "<requestor's user id>:<name>" (request
	// ids are scoped to their requestor); it must be new on the channel.
	RequestID string `json:"requestID"`
	// RequestorKey is RID, the PKIX DER of the requestor's P-256 key;
	// Requestor the user id the attribute authority bound it to, and
	// Enrolment the AA's signature over ptl.EnrolmentDigest(Requestor, RID).
	RequestorKey []byte `json:"requestorKey"`
	Requestor    string `json:"requestor"`
	Enrolment    []byte `json:"enrolment"`
	// RecordIDs are the records the request is answered from (1..16), all
	// owned by the caller.
	RecordIDs []string `json:"recordIDs"`
	// Purpose is DRP, the purpose of the request.
	Purpose string `json:"purpose"`
	// RequestTime is when the requestor signed (RFC 3339).
	RequestTime string `json:"requestTime"`
	// ReportKey is the PKIX DER public half of the report key the
	// requestor's client generated; it becomes the usage contract's.
	ReportKey []byte `json:"reportKey"`
	// RequestSignature is the requestor's signature over RequestDigest.
	RequestSignature []byte `json:"requestSignature"`
	// Received, Processed, Sent are TTR, TTP, TTS (RFC 3339), in order.
	Received  string `json:"received"`
	Processed string `json:"processed"`
	Sent      string `json:"sent"`
	// DataID is the package's data id; PackageHash SHA-256 of the
	// encrypted package (hex).
	DataID      string `json:"dataID"`
	PackageHash string `json:"packageHash"`
	// Contract is the package's usage contract as the owner sets it.
	Contract ContractInput `json:"contract"`
	// NodeSignature is Nsig, the caller's signature over FormDigest.
	NodeSignature []byte `json:"nodeSignature"`
}

// ContractInput is the owner's part of a usage contract: the permitted and
// the ignored actions. The report key is the requestor's (RequestInput).
type ContractInput struct {
	Allowed []string `json:"allowed"`
	Ignored []string `json:"ignored,omitempty"`
}

// View is a parent block with its request's current state.
type View struct {
	Block ParentBlock `json:"block"`
	State State       `json:"state"`
}

// Summary describes a request in listings and the ParentBlock event.
type Summary struct {
	RequestID string    `json:"requestID"`
	Requestor string    `json:"requestor"`
	Height    uint64    `json:"height"`
	Hash      string    `json:"hash"`
	OID       string    `json:"oid"`
	RecordIDs []string  `json:"recordIDs"`
	DataID    string    `json:"dataID"`
	At        time.Time `json:"at"`
}

// State layout (composite keys).
const (
	objParent = "pb"        // (requestor, height) → ParentBlock
	objState  = "ps"        // (requestID) → State
	objSide   = "sb"        // (requestID, index) → SideBlock
	objThread = "thread"    // (requestor) → Thread
	objOwner  = "owner~req" // (owner, requestID) → Summary
)

// Thread is the head of a requestor's thread.
type Thread struct {
	Requestor string `json:"requestor"`
	Height    uint64 `json:"height"`
	Hash      string `json:"hash"`
}

func seq(n uint64) string { return fmt.Sprintf("%020d", n) }

// checkOrder checks a ≤ b for times named an and bn.
func checkOrder(an string, a time.Time, bn string, b time.Time) error {
	if b.Before(a) {
		return ccerr.Invalid(bn, "must not be before %s", an)
	}
	return nil
}

// parsedRequest is a RequestInput with its fields checked.
type parsedRequest struct {
	in               RequestInput
	t, ttr, ttp, tts time.Time
	pkg              [32]byte
	allowed, ignored Mask
	requestor        string
	requestDigest    [32]byte
	formDigest       [32]byte
}

func (p *Provenance) parseRequest(stub chaincode.Stub, cfg *Config, now time.Time, raw string) (*parsedRequest, error) {
	if len(raw) > MaxArgLen {
		return nil, ccerr.Invalid("request", "must be at most %d bytes of JSON", MaxArgLen)
	}
	r := &parsedRequest{}
	in := &r.in
	if err := setup.DecodeStrict("request", []byte(raw), in); err != nil {
		return nil, err
	}
	rkey, err := arg.PublicKey("request.requestorKey", in.RequestorKey)
	if err != nil {
		return nil, err
	}
	if err := statekey.UserID("request.requestor", in.Requestor); err != nil {
		return nil, err
	}
	if err := arg.ScopedID("request.requestID", in.RequestID, in.Requestor, "the requestor"); err != nil {
		return nil, err
	}
	if err := arg.Size("request.enrolment", in.Enrolment, 8, arg.MaxSignatureLen); err != nil {
		return nil, err
	}
	if _, err := arg.PublicKey("request.reportKey", in.ReportKey); err != nil {
		return nil, err
	}
	if err := arg.Count("request.recordIDs", len(in.RecordIDs), 1, MaxRecords); err != nil {
		return nil, err
	}
	for i, id := range in.RecordIDs {
		if err := arg.ID(fmt.Sprintf("request.recordIDs[%d]", i), id); err != nil {
			return nil, err
		}
		for _, prev := range in.RecordIDs[:i] {
			if prev == id {
				return nil, ccerr.Invalid("request.recordIDs", "lists %s twice", id)
			}
		}
	}
	if err := arg.Text("request.purpose", in.Purpose, 1, 256); err != nil {
		return nil, err
	}
	if r.t, err = arg.Time("request.requestTime", in.RequestTime); err != nil {
		return nil, err
	}
	if err := arg.Size("request.requestSignature", in.RequestSignature, 8, arg.MaxSignatureLen); err != nil {
		return nil, err
	}
	if r.ttr, err = arg.Time("request.received", in.Received); err != nil {
		return nil, err
	}
	if r.ttp, err = arg.Time("request.processed", in.Processed); err != nil {
		return nil, err
	}
	if r.tts, err = arg.Time("request.sent", in.Sent); err != nil {
		return nil, err
	}
	if err := checkOrder("request.requestTime", r.t, "request.received", r.ttr); err != nil {
		return nil, err
	}
	if err := checkOrder("request.received", r.ttr, "request.processed", r.ttp); err != nil {
		return nil, err
	}
	if err := checkOrder("request.processed", r.ttp, "request.sent", r.tts); err != nil {
		return nil, err
	}
	if ahead := r.tts.Sub(now); ahead > cfg.maxClockSkew {
		return nil, ccerr.Invalid("request.sent", "is %s ahead of the transaction time; at most %s is allowed", ahead, cfg.maxClockSkew)
	}
	if err := arg.ID("request.dataID", in.DataID); err != nil {
		return nil, err
	}
	if r.pkg, err = arg.Hash("request.packageHash", in.PackageHash); err != nil {
		return nil, err
	}
	if r.allowed, err = parseActions("request.contract.allowed", in.Contract.Allowed, 0); err != nil {
		return nil, err
	}
	r.allowed |= MaskOf([]string{ActionDecrypted})
	if r.ignored, err = parseActions("request.contract.ignored", in.Contract.Ignored, 0); err != nil {
		return nil, err
	}
	if err := checkIgnored(cfg, "request.contract.ignored", r.ignored); err != nil {
		return nil, err
	}
	if err := arg.Size("request.nodeSignature", in.NodeSignature, 8, arg.MaxSignatureLen); err != nil {
		return nil, err
	}
	ch := stub.GetChannelID()
	r.requestDigest = RequestDigest(ch, in.RequestID, in.RequestorKey, in.Requestor, in.RecordIDs, in.Purpose, r.t, in.ReportKey)
	if err := p.sigs.Verify(rkey, r.requestDigest, in.RequestSignature); err != nil {
		return nil, ccerr.Invalid("request.requestSignature", "does not verify under requestorKey over the request digest")
	}
	r.formDigest = FormDigest(ch, in.RequestID, r.requestDigest, r.ttr, r.ttp, r.tts, in.DataID, r.pkg, r.allowed, r.ignored)
	r.requestor = in.Requestor
	return r, nil
}

// checkIgnored refuses ignored actions except on low sensitivity channels,
// and never lets "decrypted" be ignored.
func checkIgnored(cfg *Config, name string, ignored Mask) error {
	if ignored == 0 {
		return nil
	}
	if cfg.Level != "low" {
		return ccerr.Invalid(name, "actions may be ignored only on low sensitivity channels; this channel is %s", cfg.Level)
	}
	if ignored.Has(ActionDecrypted) {
		return ccerr.Invalid(name, "decrypted cannot be ignored: its report shows the client's contract is running")
	}
	return nil
}

// Request records a MeDShare request and the package answering it as a new
// parent block at the head of the requestor's thread (a JSON RequestInput).
// The caller is the processing node, the owner's gateway: it must own every
// record, and sign the form (Nsig); the requestor's signature and its
// enrolment (through P-TL's CheckEnrolment) must verify, and the requestor
// — the user, whatever its key — must not be blocked for any of the
// records. It returns the block and state and emits ParentBlock.
func (p *Provenance) Request(ctx chaincode.TransactionContext, request string) (*View, error) {
	cfg, who, err := p.cfg.Client(ctx, "record requests")
	if err != nil {
		return nil, err
	}
	stub := ctx.GetStub()
	now, err := stub.GetTxTimestamp()
	if err != nil {
		return nil, err
	}
	r, err := p.parseRequest(stub, cfg, now, request)
	if err != nil {
		return nil, err
	}
	in := &r.in
	if _, err := invoke.Call[ptl.Enrolled](stub, ptlName, "CheckEnrolment", b64(in.RequestorKey), in.Requestor, b64(in.Enrolment)); err != nil {
		return nil, ccerr.Invalid("request.enrolment", "the attribute authority did not bind requestorKey to user %s: %v", in.Requestor, err)
	}
	var existing State
	if ok, err := kv.Get(stub, objState, []string{in.RequestID}, &existing); err != nil || ok {
		if err != nil {
			return nil, err
		}
		return nil, ccerr.Conflict("request.requestID", "request %s is already recorded", in.RequestID)
	}
	for _, id := range in.RecordIDs {
		rec, err := invoke.Call[storage.Record](stub, storageName, "GetRecord", id)
		if err != nil {
			return nil, err
		}
		if rec.Owner != who.ID {
			return nil, ccerr.Forbidden("caller", "only the owner of record %s may record requests for it", id)
		}
		if rec.Level != cfg.Level {
			return nil, ccerr.Conflict("config.level", "the storage chaincode stores %s records, the provenance chaincode is configured for %s", rec.Level, cfg.Level)
		}
		st, err := invoke.Call[ptl.Status](stub, ptlName, "Status", r.requestor, id)
		if err != nil {
			return nil, err
		}
		if st.Blocked {
			return nil, ccerr.Revoked("request.requestor", "requestor %s is blocked for record %s (%s)", r.requestor, id, st.Blocks[0].State)
		}
	}
	if err := p.sigs.Verify(who.Key, r.formDigest, in.NodeSignature); err != nil {
		return nil, ccerr.Invalid("request.nodeSignature", "does not verify against the creator's certificate key over the form digest")
	}
	var th Thread
	if _, err := kv.Get(stub, objThread, []string{r.requestor}, &th); err != nil {
		return nil, err
	}
	prev := th.Hash
	if th.Height == 0 {
		prev = hexHash(chainhash.Hash{})
	}
	b := &ParentBlock{
		Format: ParentFormat, ID: in.RequestID, Height: th.Height + 1,
		Header: Header{Version: HeaderVersion, PrevHash: prev, Timestamp: r.ttr},
		Tx: ParentTx{
			RequestID: in.RequestID, TTR: r.ttr, TTP: r.ttp, TTS: r.tts, OID: who.ID, OwnerMSP: who.MSP,
			RID: in.RequestorKey, Requestor: r.requestor, Enrolment: in.Enrolment, Dsens: cfg.Level, DRP: in.Purpose,
			NID: who.ID, NodeCert: who.Cert, Nsig: in.NodeSignature,
			RecordIDs: in.RecordIDs, DataID: in.DataID, PackageHash: in.PackageHash,
			RequestTime: r.t, RequestSignature: in.RequestSignature, TxID: stub.GetTxID(),
		},
		Contract: Contract{Allowed: r.allowed.Names(), Ignored: r.ignored.Names(), ReportKey: in.ReportKey},
		Locktime: now,
	}
	if err := b.Seal(); err != nil {
		return nil, err
	}
	st := State{RequestID: in.RequestID, Requestor: r.requestor, Height: b.Height, Hash: b.Hash, Status: StatusActive,
		LastHash: b.Hash, Frontier: []string{}, Ignored: r.ignored.Names()}
	sum := Summary{RequestID: in.RequestID, Requestor: r.requestor, Height: b.Height, Hash: b.Hash, OID: who.ID,
		RecordIDs: in.RecordIDs, DataID: in.DataID, At: now}
	for _, w := range []struct {
		obj   string
		attrs []string
		v     any
	}{
		{objParent, []string{r.requestor, seq(b.Height)}, b},
		{objState, []string{in.RequestID}, &st},
		{objThread, []string{r.requestor}, &Thread{Requestor: r.requestor, Height: b.Height, Hash: b.Hash}},
		{objOwner, []string{who.OwnerHash(), in.RequestID}, &sum},
	} {
		if err := kv.Put(stub, w.obj, w.attrs, w.v); err != nil {
			return nil, err
		}
	}
	return &View{Block: *b, State: st}, kv.Emit(stub, EventParentBlock, &sum)
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
