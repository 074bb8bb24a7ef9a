package gateway

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/medshare/medshare/abe/policy"
	"github.com/medshare/medshare/abe/tag"
	"github.com/medshare/medshare/chaincode/ccerr"
	"github.com/medshare/medshare/chaincode/index"
	"github.com/medshare/medshare/chaincode/provenance"
	"github.com/medshare/medshare/chaincode/txbuild"
	"github.com/medshare/medshare/gateway/aa"
	"github.com/medshare/medshare/gateway/api"
	"github.com/medshare/medshare/gateway/deid"
	"github.com/medshare/medshare/gateway/ledger"
	"github.com/medshare/medshare/gateway/medpkg"
	"github.com/medshare/medshare/network/identity"
)

// MeDShare at the owner's gateway (docs/medshare.md): a requestor signs a
// request for records of this gateway's organisation, with a purpose of
// use and the public halves of the package and report keys its client
// generated; the gateway checks the signatures and the requestor's
// standing, opens its own records with its custodian key, de-identifies
// them for the purpose (gateway/deid) up to what the requestor's
// attributes open and the channel's level, seals the package to the
// requestor's package key (gateway/medpkg), records the parent block
// (provenance Request) and delivers the envelope. Reports of actions on the
// package are countersigned by any gateway and recorded as side-blocks.

// Refusal reasons of MeDShare problems (Problem.Reason), beside P-TL's.
const (
	ReasonNotRequestor      = "not_requestor"
	ReasonNotEnrolled       = "not_enrolled"
	ReasonRevoked           = "revoked"
	ReasonPolicyNotMet      = "policy_not_met"
	ReasonUnknownPurpose    = "unknown_purpose"
	ReasonPurposeNotAllowed = "purpose_not_allowed"
	ReasonWarrantRequired   = "warrant_required"
	ReasonReadRefused       = "read_refused"
)

// levelOfChannel maps a side channel to its level.
func levelOfChannel(ch string) (policy.Level, bool) {
	for _, sc := range txbuild.SideChannels {
		if sc.Channel == ch {
			l, err := policy.ParseLevel(sc.Level)
			return l, err == nil
		}
	}
	return 0, false
}

// sideChannels lists the side channels, high first.
func sideChannels() []string {
	return []string{channelOf(policy.High), channelOf(policy.Medium), channelOf(policy.Low)}
}

// refusal is a 403 problem with a reason code.
func refusal(typ, reason, field, format string, a ...any) *Problem {
	title := "Forbidden"
	if typ == ProblemAccessRefused {
		title = "Access refused"
	}
	p := problem(http.StatusForbidden, typ, title, fmt.Sprintf(format, a...))
	p.Reason, p.Field = reason, field
	return p
}

var chaincodeFieldRE = regexp.MustCompile(`(?:^|: )((?:request|report|warrant|requestID|reason|nodeSignature|args|fn|index|pageSize|bookmark|cursor|limit|target|user|recordID)[A-Za-z0-9_.\[\]]*): `)

// chaincodeProblem maps a contract's refusal to a problem naming the
// argument at fault (the contracts word refusals "<argument>: <reason>").
func chaincodeProblem(err error) error {
	var re *ledger.RefusedError
	if !errors.As(err, &re) {
		return err
	}
	p := refusedProblem(re)
	if m := chaincodeFieldRE.FindStringSubmatch(re.Message); m != nil {
		p.Field = m[1]
	}
	switch {
	case errors.Is(re, ccerr.ErrRevoked):
		p.Type, p.Title, p.Reason = ProblemAccessRefused, "Access refused", ReasonRevoked
	case errors.Is(re, ccerr.ErrForbidden):
		p.Reason = ReasonReadRefused
	}
	p.cause = err
	return p
}

// callerUser is the caller's user id (the identity hash of its
// certificate's subject and issuer).
func callerUser(p *Principal) string { return txbuild.UserID(p.ID.ID()) }

// requireRequestor refuses a caller that is not the requestor a request id
// is scoped to ("<user id>:<name>").
func requireRequestor(p *Principal, field, requestID string) error {
	user, _, ok := strings.Cut(requestID, ":")
	if !ok || user != callerUser(p) {
		return refusal(ProblemForbidden, ReasonNotRequestor, field,
			"request %s is not yours: request ids are \"<the requestor's user id>:<name>\" and yours is %s", truncate(requestID, 140), callerUser(p))
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// openedRecord is an owned record's current version, opened with the
// custodian key and assembled, with its hidden policy and epoch.
type openedRecord struct {
	id      string
	version uint64
	doc     []byte
	hidden  *policy.Record
	epoch   uint64
	levels  []policy.Level
}

// openForPackage returns an owned record's current version opened, from
// the cache when that version was opened before.
func (s *Server) openForPackage(ctx context.Context, ms *MedShare, e *index.RecordEntry) (*openedRecord, error) {
	key := fmt.Sprintf("%s#v%d", e.RecordID, e.PolicyVersion)
	if o, ok := ms.opened.Get(key); ok {
		return o, nil
	}
	if s.d.Objects == nil || s.d.Keys == nil {
		return nil, errNotConfigured("IPFS or the attribute authority")
	}
	o, err := s.openOwned(ctx, e)
	if err != nil {
		return nil, err
	}
	doc, err := ms.Assemble(o.data)
	if err != nil {
		return nil, fmt.Errorf("gateway: assembling record %s: %w", e.RecordID, err)
	}
	rec := &openedRecord{id: e.RecordID, version: e.PolicyVersion, doc: doc, hidden: o.ct.Policy(), epoch: o.epoch, levels: levelsOf(e)}
	ms.opened.Add(key, rec)
	return rec, nil
}

// requestorTop is the highest level of rec whose (hidden) policy the
// requestor's certificate attributes satisfy — what its attributes would
// open — computed with the authority's tag key as the authority would
// certify them; ok is false when they open no level.
func requestorTop(p *Principal, rec *openedRecord, params *Params, tk tag.Key) (policy.Level, bool) {
	attrs, err := params.Schema.Expand(aa.UserAttributes(p.ID, params.Schema)...)
	if err != nil {
		return 0, false
	}
	held := map[string]bool{tk.Tag(tag.Epoch(rec.epoch)).String(): true}
	for _, t := range tk.Tags(attrs) {
		held[t.String()] = true
	}
	return rec.hidden.Highest(func(leaf string) bool { return held[leaf] })
}

// parseRequestorKey checks a PKIX DER ECDSA P-256 key.
func parseRequestorKey(field string, der []byte) (*ecdsa.PublicKey, error) {
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, invalid(field, "must be a PKIX DER public key")
	}
	ek, ok := k.(*ecdsa.PublicKey)
	if !ok || ek.Curve != elliptic.P256() {
		return nil, invalid(field, "must be an ECDSA P-256 key")
	}
	return ek, nil
}

// checkSignedRequest validates the requestor's half of a request and its
// signature over the request digest for channel.
func checkSignedRequest(channel string, r *api.SignedRequest, now time.Time) ([32]byte, error) {
	var rd [32]byte
	if r == nil {
		return rd, invalid("request", "is required: the request the requestor signed")
	}
	if !recordIDRE.MatchString(r.RequestID) {
		return rd, invalid("request.requestID", "must be 1..128 characters of [A-Za-z0-9._:-]")
	}
	if user, _, ok := strings.Cut(r.RequestID, ":"); !ok || user != r.Requestor {
		return rd, invalid("request.requestID", "must be \"<the requestor's user id>:<name>\"")
	}
	key, err := parseRequestorKey("request.requestorKey", r.RequestorKey)
	if err != nil {
		return rd, err
	}
	if _, err := parseRequestorKey("request.reportKey", r.ReportKey); err != nil {
		return rd, err
	}
	if len(r.Enrolment) == 0 || len(r.Enrolment) > 72 {
		return rd, invalid("request.enrolment", "is required: the attribute authority's enrolment of requestorKey")
	}
	if len(r.RecordIDs) == 0 || len(r.RecordIDs) > provenance.MaxRecords {
		return rd, invalid("request.recordIDs", "must name 1 to %d records", provenance.MaxRecords)
	}
	for i, id := range r.RecordIDs {
		if !recordIDRE.MatchString(id) || slices.Contains(r.RecordIDs[:i], id) {
			return rd, invalid(fmt.Sprintf("request.recordIDs[%d]", i), "must be distinct record ids")
		}
	}
	if r.Purpose == "" || len(r.Purpose) > 256 {
		return rd, invalid("request.purpose", "is required: an HL7 v3 PurposeOfUse code such as HRESCH or TREAT")
	}
	if r.RequestTime.IsZero() {
		return rd, invalid("request.requestTime", "is required")
	}
	if r.RequestTime.After(now.Add(30*time.Second)) || r.RequestTime.Before(now.Add(-10*time.Minute)) {
		return rd, invalid("request.requestTime", "must lie within the last 10 minutes (and not ahead of the gateway's clock by more than 30s)")
	}
	if len(r.RequestSignature) == 0 {
		return rd, invalid("request.requestSignature", "is required: the requestor's signature over the request digest")
	}
	rd = provenance.RequestDigest(channel, r.RequestID, r.RequestorKey, r.Requestor, r.RecordIDs, r.Purpose, r.RequestTime, r.ReportKey)
	if err := identity.VerifyDigest(key, rd[:], r.RequestSignature); err != nil {
		return rd, invalid("request.requestSignature", "does not verify under requestorKey over the request digest of channel %s", channel)
	}
	return rd, nil
}

// medshareRequest answers a signed MeDShare request with a package (POST
// /api/v1/medshare/requests).
func (s *Server) medshareRequest(c *gin.Context, p *Principal) error {
	ttr := s.d.Now().UTC()
	ctx := c.Request.Context()
	var req api.PackageRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	level, ok := levelOfChannel(req.Channel)
	if !ok {
		return invalid("channel", "must be a side channel: side-high, side-medium or side-low")
	}
	r := req.Request
	rd, err := checkSignedRequest(req.Channel, r, ttr)
	if err != nil {
		return err
	}
	if r.Requestor != callerUser(p) {
		return refusal(ProblemForbidden, ReasonNotRequestor, "request.requestor",
			"the request names requestor %s; you are %s: requestors send their own requests", truncate(r.Requestor, 64), callerUser(p))
	}
	ms := s.d.MedShare
	if ms == nil {
		return problem(http.StatusServiceUnavailable, ProblemUnavailable, "Service unavailable", "this gateway does not answer MeDShare requests")
	}
	pkgKey, err := medpkg.VerifyKeyBinding(r.RequestorKey, req.Channel, r.RequestID, rd, req.PackageKey, req.KeyBinding)
	switch {
	case errors.Is(err, medpkg.ErrKeyBinding):
		return invalid("keyBinding", "does not verify: the requestor must sign its package key with its request key (medpkg.KeyBindingDigest)")
	case err != nil:
		return invalid("packageKey", "%v", err)
	}
	profile, err := ms.Deid.Profile(r.Purpose)
	if err != nil {
		var pe *deid.PurposeError
		if errors.As(err, &pe) && pe.Known {
			return refusal(ProblemForbidden, ReasonPurposeNotAllowed, "request.purpose", "purpose of use %s is not one this gateway shares data for", pe.Code)
		}
		pr := invalid("request.purpose", "%q is not an HL7 v3 PurposeOfUse code (e.g. TREAT, HRESCH, PUBHLTH, HOPERAT)", truncate(r.Purpose, 32))
		pr.Reason = ReasonUnknownPurpose
		return pr
	}
	if err := s.chain.CheckEnrolment(ctx, req.Channel, r.RequestorKey, r.Requestor, r.Enrolment); err != nil {
		if errors.Is(err, ledger.ErrUnavailable) {
			return err
		}
		return refusal(ProblemForbidden, ReasonNotEnrolled, "request.enrolment", "the attribute authority did not bind requestorKey to user %s", r.Requestor)
	}
	// The records: this organisation's, holding data at the channel's level,
	// and the requestor not blocked for any.
	entries := make([]*index.RecordEntry, len(r.RecordIDs))
	for i, id := range r.RecordIDs {
		e, err := s.ownedEntry(ctx, id)
		if err != nil {
			return err
		}
		if _, err := levelRef(e, level); err != nil {
			return invalid(fmt.Sprintf("request.recordIDs[%d]", i), "record %s holds no %s data: ask on the channel of a level it holds", id, level)
		}
		st, err := s.chain.UserStatus(ctx, req.Channel, r.Requestor, id)
		if err != nil {
			return chaincodeProblem(err)
		}
		if st.Blocked {
			return refusal(ProblemAccessRefused, ReasonRevoked, "request.requestor", "requestor %s is blocked for record %s on %s (%s): the owner must re-grant",
				r.Requestor, id, req.Channel, st.Blocks[0].State)
		}
		entries[i] = e
	}
	params, err := s.d.Keys.Params(ctx)
	if err != nil {
		return err
	}
	tk, err := s.d.Keys.TagKey(ctx)
	if err != nil {
		return err
	}
	prepared := make([]*deid.Document, len(entries))
	tops := make([]policy.Level, len(entries))
	for i, e := range entries {
		rec, err := s.openForPackage(ctx, ms, e)
		if err != nil {
			return err
		}
		top, ok := requestorTop(p, rec, params, tk)
		if !ok {
			return refusal(ProblemAccessRefused, ReasonPolicyNotMet, fmt.Sprintf("request.recordIDs[%d]", i),
				"your attributes open no level of record %s, so no part of it may be shared with you", e.RecordID)
		}
		tops[i] = min(top, level)
		if prepared[i], err = ms.prepared.Prepare(rec.doc, r.Purpose, tops[i]); err != nil {
			if errors.Is(err, deid.ErrNothingToShare) {
				return refusal(ProblemAccessRefused, ReasonPolicyNotMet, fmt.Sprintf("request.recordIDs[%d]", i),
					"no element of record %s up to level %s may be shared for %s", e.RecordID, tops[i], r.Purpose)
			}
			if errors.Is(err, deid.ErrInvalidDocument) {
				return invalid(fmt.Sprintf("request.recordIDs[%d]", i), "record %s is not a FHIR document the de-identifier accepts", e.RecordID)
			}
			return err
		}
	}
	// One secret per package, discarded once the package is sealed: then
	// nobody, the owner included, can map its pseudonyms back.
	secret := make([]byte, 32)
	if _, err := s.d.Rand.Read(secret); err != nil {
		return err
	}
	issued := s.d.Now().UTC()
	pkg := &medpkg.Package{Format: medpkg.Format, RequestID: r.RequestID, Channel: req.Channel, Owner: s.d.Signer.ID(), OwnerMSP: s.cfg.MSPID,
		Requestor: r.Requestor, NodeID: s.d.Signer.ID(), Purpose: r.Purpose, Sensitivity: level.String(),
		RulesVersion: ms.Deid.RulesVersion(), IssuedAt: issued, ExpiresAt: issued.Add(ms.Validity),
		Contract: medpkg.Contract{Allowed: slices.Clone(ms.Allowed), Ignored: []string{}, ReportKey: r.ReportKey}}
	if level == policy.Low {
		pkg.Contract.Ignored = append([]string{}, ms.Ignored...)
	}
	out := api.Package{RequestID: r.RequestID, Channel: req.Channel, Requestor: r.Requestor, Owner: s.cfg.MSPID, Purpose: r.Purpose,
		Profile: profile, Sensitivity: level.String(), RulesVersion: pkg.RulesVersion, Allowed: pkg.Contract.Allowed, Ignored: pkg.Contract.Ignored}
	for i, d := range prepared {
		res, err := d.Apply(secret, issued)
		if err != nil {
			clear(secret)
			return err
		}
		pkg.GradingVersion = res.GradingVersion
		pkg.Records = append(pkg.Records, medpkg.Record{RecordID: entries[i].RecordID, Version: entries[i].PolicyVersion, FHIR: res.FHIR})
		out.Records = append(out.Records, api.PackagedRecord{RecordID: entries[i].RecordID, Version: entries[i].PolicyVersion, Level: res.Level.String()})
	}
	clear(secret)
	var idb [10]byte
	if _, err := s.d.Rand.Read(idb[:]); err != nil {
		return err
	}
	pkg.DataID = "pkg." + hex.EncodeToString(idb[:])
	sealed, err := medpkg.Seal(s.d.Rand, pkg, pkgKey)
	if err != nil {
		return err
	}
	ttp := s.d.Now().UTC()
	ttr = maxTime(ttr, r.RequestTime.UTC())
	ttp = maxTime(ttp, ttr)
	in := &provenance.RequestInput{RequestID: r.RequestID, RequestorKey: r.RequestorKey, Requestor: r.Requestor, Enrolment: r.Enrolment,
		RecordIDs: r.RecordIDs, Purpose: r.Purpose, RequestTime: txbuild.FormatTime(r.RequestTime), ReportKey: r.ReportKey,
		RequestSignature: r.RequestSignature}
	tts := maxTime(s.d.Now().UTC(), ttp)
	call, err := txbuild.RecordRequest(s.d.Signer, req.Channel, in, txbuild.Package{Received: ttr, Processed: ttp, Sent: tts,
		DataID: pkg.DataID, Hash: sealed.Hash, Allowed: pkg.Contract.Allowed, Ignored: pkg.Contract.Ignored})
	if err != nil {
		return err
	}
	_, txID, err := s.chain.SubmitRequest(ctx, call)
	if err != nil {
		return chaincodeProblem(err)
	}
	if err := s.storePackage(r.RequestID, sealed.Bytes); err != nil {
		s.log.Warn("cannot keep a delivered package for re-delivery", "request", r.RequestID, "err", err)
	}
	out.DataID, out.PackageHash, out.Envelope, out.TxID = pkg.DataID, hex.EncodeToString(sealed.Hash[:]), sealed.Bytes, txID
	out.GradingVersion, out.IssuedAt, out.ExpiresAt = pkg.GradingVersion, pkg.IssuedAt, pkg.ExpiresAt
	out.Received, out.Processed, out.Sent = ttr, ttp, tts
	s.log.Info("MeDShare package delivered", "request", r.RequestID, "channel", req.Channel, "records", len(pkg.Records), "profile", profile)
	c.Header("Location", api.Prefix+"/medshare/packages/"+r.RequestID)
	return reply(c, http.StatusCreated, out)
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// packagePath is where the owner's gateway keeps a delivered envelope
// (sealed to the requestor: the owner cannot open it) for re-delivery and
// for auditors checking its hash.
func (s *Server) packagePath(requestID string) string {
	sum := sha256.Sum256([]byte(requestID))
	return filepath.Join(s.cfg.DataDir, "packages", hex.EncodeToString(sum[:16])+".pkg")
}

func (s *Server) storePackage(requestID string, env []byte) error {
	path := s.packagePath(requestID)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, env, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// medsharePackage re-delivers a package to its requestor (GET
// /api/v1/medshare/packages/{requestID}).
func (s *Server) medsharePackage(c *gin.Context, p *Principal) error {
	id := c.Param("requestID")
	if !recordIDRE.MatchString(id) {
		return badRequest("requestID", "a request id is 1..128 characters of [A-Za-z0-9._:-]")
	}
	if err := requireRequestor(p, "requestID", id); err != nil {
		return err
	}
	b, err := os.ReadFile(s.packagePath(id))
	if errors.Is(err, os.ErrNotExist) {
		return notFound("this gateway delivered no package for request %s", id)
	}
	if err != nil {
		return err
	}
	c.Header("Cache-Control", "no-store")
	c.Data(http.StatusOK, api.Binary, b)
	return nil
}

// medshareReport countersigns a requestor's signed report and records it
// as a side-block (POST /api/v1/medshare/reports). Any gateway forwards
// reports; a forbidden action revokes the requestor in the same
// transaction.
func (s *Server) medshareReport(c *gin.Context, p *Principal) error {
	var req api.ReportRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	in, hash, err := parseReport(&req)
	if err != nil {
		return err
	}
	if err := requireRequestor(p, "report.requestID", in.RequestID); err != nil {
		return err
	}
	res, txID, err := s.chain.ForwardReport(c.Request.Context(), req.Channel, hash, in)
	if err != nil {
		return chaincodeProblem(err)
	}
	out := api.ReportResult{RequestID: in.RequestID, Channel: req.Channel, Ignored: res.Ignored, Violations: res.Violations, Revoked: res.Revoked, TxID: txID}
	if res.SideBlock != nil {
		out.SideBlock, out.Index = res.SideBlock.ID, res.SideBlock.Index
	}
	if len(res.Violations) > 0 {
		s.log.Info("MeDShare violation reported; the requestor is revoked", "request", in.RequestID, "actions", strings.Join(res.Violations, ","))
	}
	return reply(c, http.StatusOK, out)
}

// parseReport validates a report body and returns the contract's input
// (without the countersignature) and the package hash.
func parseReport(req *api.ReportRequest) (*provenance.ReportInput, [32]byte, error) {
	var hash [32]byte
	if _, ok := levelOfChannel(req.Channel); !ok {
		return nil, hash, invalid("channel", "must be a side channel: side-high, side-medium or side-low")
	}
	raw, err := hex.DecodeString(req.PackageHash)
	if err != nil || len(raw) != 32 {
		return nil, hash, invalid("packageHash", "must be the package's SHA-256 in hex (64 digits)")
	}
	copy(hash[:], raw)
	r := req.Report
	if r == nil {
		return nil, hash, invalid("report", "is required: the report the requestor's client signed")
	}
	if !recordIDRE.MatchString(r.RequestID) {
		return nil, hash, invalid("report.requestID", "must be 1..128 characters of [A-Za-z0-9._:-]")
	}
	if r.Seq == 0 {
		return nil, hash, invalid("report.seq", "must be at least 1")
	}
	if len(r.Actions) == 0 || len(r.Actions) > provenance.MaxActions {
		return nil, hash, invalid("report.actions", "must hold 1 to %d actions", provenance.MaxActions)
	}
	in := &provenance.ReportInput{RequestID: r.RequestID, Seq: r.Seq, Signature: r.Signature}
	for i, a := range r.Actions {
		if provenance.MaskOf([]string{a.Action}) == 0 {
			return nil, hash, invalid(fmt.Sprintf("report.actions[%d].action", i), "%q is not one of read, write, delete, duplicate, move, copy, decrypted", truncate(a.Action, 32))
		}
		if a.At.IsZero() {
			return nil, hash, invalid(fmt.Sprintf("report.actions[%d].at", i), "is required")
		}
		in.Actions = append(in.Actions, provenance.ReportedAction{Action: a.Action, At: txbuild.FormatTime(a.At)})
	}
	if len(r.Signature) == 0 || len(r.Signature) > 72 {
		return nil, hash, invalid("report.signature", "is required: the report key's signature over the report digest")
	}
	return in, hash, nil
}

// findRequest locates a request on the side channels, reading as the
// gateway (warrant "") or as the warrant's reader.
func (s *Server) findRequest(ctx context.Context, warrant, requestID string) (string, *provenance.View, error) {
	var firstErr error
	for _, ch := range sideChannels() {
		v, err := s.chain.GetRequest(ctx, ch, warrant, requestID)
		if err == nil {
			return ch, v, nil
		}
		if !isNotFound(err) {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
	}
	if firstErr != nil {
		return "", nil, chaincodeProblem(firstErr)
	}
	return "", nil, notFound("request %s is on no side channel", requestID)
}

// medshareRequests lists the requests this gateway recorded as owner
// (GET /api/v1/medshare/requests).
func (s *Server) medshareRequests(c *gin.Context, _ *Principal) error {
	size, err := pageSize(c)
	if err != nil {
		return err
	}
	bm, err := decodeBookmark(c.Query("bookmark"))
	if err != nil {
		return err
	}
	out := api.RequestPage{Items: []api.RequestSummary{}}
	next := violationBookmark{}
	for _, ch := range sideChannels() {
		cur, started := bm[ch]
		if bm != nil && !started {
			continue
		}
		pg, err := s.chain.OwnRequests(c.Request.Context(), ch, size, cur)
		if err != nil {
			return chaincodeProblem(err)
		}
		for _, sum := range pg.Items {
			out.Items = append(out.Items, api.RequestSummary{Channel: ch, Summary: sum})
		}
		if pg.Bookmark != "" {
			next[ch] = pg.Bookmark
		}
	}
	out.Bookmark = next.encode()
	return reply(c, http.StatusOK, out)
}

// medshareRequestView shows a request's parent block, state and
// side-blocks (GET /api/v1/medshare/requests/{requestID}) to those the
// provenance contract lets read it.
func (s *Server) medshareRequestView(c *gin.Context, p *Principal) error {
	id := c.Param("requestID")
	if !recordIDRE.MatchString(id) {
		return badRequest("requestID", "a request id is 1..128 characters of [A-Za-z0-9._:-]")
	}
	w, err := s.readWarrant(c, p)
	if err != nil {
		return err
	}
	ctx := c.Request.Context()
	ch, v, err := s.findRequest(ctx, w, id)
	if err != nil {
		return err
	}
	out := api.RequestView{Channel: ch, Block: v.Block, State: v.State, SideBlocks: []provenance.SideBlock{}}
	sides, err := s.allSideBlocks(ctx, ch, w, id)
	if err != nil {
		return err
	}
	out.SideBlocks = append(out.SideBlocks, sides...)
	return reply(c, http.StatusOK, out)
}

// allSideBlocks lists every side-block of a request (at most the
// contract's limit).
func (s *Server) allSideBlocks(ctx context.Context, ch, w, id string) ([]provenance.SideBlock, error) {
	var out []provenance.SideBlock
	bm := ""
	for range provenance.MaxSideBlocks/MaxPageSize + 1 {
		pg, err := s.chain.SideBlocks(ctx, ch, w, id, MaxPageSize, bm)
		if err != nil {
			return nil, chaincodeProblem(err)
		}
		out = append(out, pg.Items...)
		if bm = pg.Bookmark; bm == "" {
			break
		}
	}
	return out, nil
}

// medshareDecide records the owner's re-grant or recall of a request
// (POST /api/v1/medshare/requests/{requestID}/regrant|recall).
func (s *Server) medshareDecide(kind string) func(c *gin.Context, p *Principal) error {
	return func(c *gin.Context, _ *Principal) error {
		id := c.Param("requestID")
		if !recordIDRE.MatchString(id) {
			return badRequest("requestID", "a request id is 1..128 characters of [A-Za-z0-9._:-]")
		}
		var req api.DecisionRequest
		if err := decodeBody(c, &req); err != nil {
			return err
		}
		if len(req.Reason) > 512 {
			return invalid("reason", "at most 512 bytes")
		}
		ctx := c.Request.Context()
		ch, v, err := s.findRequest(ctx, "", id)
		if err != nil {
			return err
		}
		if v.Block.Tx.OID != s.d.Signer.ID() {
			return refusal(ProblemForbidden, ReasonReadRefused, "requestID", "request %s was answered by another identity than this gateway's", id)
		}
		var sb *provenance.SideBlock
		var txID string
		if kind == provenance.KindRegrant {
			sb, txID, err = s.chain.RegrantRequest(ctx, ch, id, req.Reason)
		} else {
			sb, txID, err = s.chain.RecallRequest(ctx, ch, id, req.Reason)
		}
		if err != nil {
			return chaincodeProblem(err)
		}
		s.log.Info("MeDShare decision recorded", "request", id, "kind", kind)
		return reply(c, http.StatusOK, api.Decision{RequestID: id, Channel: ch, SideBlock: *sb, TxID: txID})
	}
}

// readWarrant returns the read warrant of the caller, "" to read as the
// gateway. Data owners of the gateway's own organisation read its records
// and requests as the gateway (the owner identity of its records); every
// other caller — users, auditors, other organisations' owners — presents a
// warrant it signed naming this gateway (header Medshare-Read-Warrant), so
// the contracts decide with the caller's own rights.
func (s *Server) readWarrant(c *gin.Context, p *Principal) (string, error) {
	raw := c.GetHeader(api.WarrantHeader)
	if raw == "" {
		if p.Role == RoleOwner && p.ID.MSPID() == s.cfg.MSPID {
			return "", nil
		}
		return "", refusal(ProblemForbidden, ReasonWarrantRequired, api.WarrantHeader,
			"audit reads through a gateway carry a read warrant you sign (header %s; medshare audit warrant): the contracts then decide with your rights", api.WarrantHeader)
	}
	if len(raw) > 16<<10 {
		return "", badRequest(api.WarrantHeader, "is too long")
	}
	var w txbuild.Warrant
	if err := json.Unmarshal([]byte(raw), &w); err != nil {
		return "", badRequest(api.WarrantHeader, "is not a read warrant (JSON)")
	}
	id, err := s.d.Membership.Identify(w.Reader, s.d.Now())
	if err != nil || id.ID() != p.ID.ID() {
		return "", refusal(ProblemForbidden, ReasonReadRefused, api.WarrantHeader, "the warrant is not yours: its reader must be the identity of your certificate")
	}
	if w.Relay != s.d.Signer.ID() {
		return "", invalid(api.WarrantHeader, "names relay %s, not this gateway (%s)", truncate(w.Relay, 200), s.d.Signer.ID())
	}
	return raw, nil
}
