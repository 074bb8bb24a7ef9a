package gateway

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/medshare/medshare/abe/policy"
	"github.com/medshare/medshare/chaincode/provenance"
	"github.com/medshare/medshare/chaincode/ptl"
	"github.com/medshare/medshare/chaincode/storage"
	"github.com/medshare/medshare/gateway/api"
	"github.com/medshare/medshare/gateway/audit"
)

// The audit trail (GET /api/v1/audit/trail): every upload, access attempt,
// MeDShare request and delivery, action report, violation, revocation,
// re-grant and recall the contracts recorded about a user, a record or the
// gateway's own organisation, in time order, as JSON or as FHIR R4
// (AuditEvent, Provenance, Bundle searchset). The gateway reads with the
// caller's rights (readWarrant): each party sees what the contracts let it.

// MaxTrailEntries bounds the entries one trail assembles; a longer trail is
// narrowed with from and to.
const MaxTrailEntries = 20000

// maxTrailPages bounds the contract pages read per listing.
const maxTrailPages = 200

var userIDRE = regexp.MustCompile(`^[0-9a-f]{32}$`)

// trailQuery is a parsed trail or verification query.
type trailQuery struct {
	subject, id string
	from, to    time.Time
	fhir        bool
}

func parseSubject(c *gin.Context, allowed ...string) (subject, id string, err error) {
	for _, s := range allowed {
		if v, ok := c.GetQuery(s); ok {
			if subject != "" {
				return "", "", badRequest(s, "name one subject: %s", strings.Join(allowed, ", "))
			}
			subject, id = s, v
		}
	}
	if subject == "" {
		return "", "", badRequest("", "name the trail's subject: one of %s", strings.Join(allowed, ", "))
	}
	switch subject {
	case "user":
		if !userIDRE.MatchString(id) {
			return "", "", badRequest("user", "a user id is 32 lowercase hex digits (medshare whoami shows yours)")
		}
	case "record", "request":
		if !recordIDRE.MatchString(id) {
			return "", "", badRequest(subject, "an id is 1..128 characters of [A-Za-z0-9._:-]")
		}
	}
	return subject, id, nil
}

// trail is a trail being assembled.
type trail struct {
	s       *Server
	ctx     context.Context
	w       string
	node    string
	entries []audit.Entry
}

func (t *trail) add(e audit.Entry) error {
	if len(t.entries) >= MaxTrailEntries {
		return problem(http.StatusUnprocessableEntity, ProblemInvalid, "Trail too long",
			fmt.Sprintf("the trail holds more than %d entries: narrow it with from and to", MaxTrailEntries))
	}
	e.Node = t.node
	t.entries = append(t.entries, e)
	return nil
}

func levelOfCh(ch string) string {
	if l, ok := levelOfChannel(ch); ok {
		return l.String()
	}
	return ""
}

// addRequest adds a request's parent block (request and delivery), and its
// side-blocks (reports, violations, revocations, re-grants, recalls).
func (t *trail) addRequest(ch string, b *provenance.ParentBlock) error {
	tx := &b.Tx
	owner := audit.Party{ID: tx.OID, MSP: tx.OwnerMSP, Role: audit.RoleOwner}
	node := audit.Party{ID: tx.NID, MSP: tx.OwnerMSP, Role: audit.RoleGateway}
	req := audit.Party{KeyHash: tx.Requestor, Role: audit.RoleRequestor}
	base := audit.Entry{TxID: tx.TxID, Time: b.Locktime, Channel: ch, RecordIDs: tx.RecordIDs, Level: tx.Dsens,
		RequestID: tx.RequestID, PackageID: tx.DataID, PackageHash: tx.PackageHash, Purpose: tx.DRP, Subject: req}
	e := base
	e.Kind, e.Actor, e.Submitter, e.Received, e.Processed, e.Sent, e.Signature, e.SignedBy = audit.KindRequest, owner, node, tx.TTR, tx.TTP, tx.TTS, tx.Nsig, node
	if err := t.add(e); err != nil {
		return err
	}
	e = base
	e.Kind, e.Actor, e.Submitter, e.Sent = audit.KindDelivery, req, node, tx.TTS
	if err := t.add(e); err != nil {
		return err
	}
	sides, err := t.s.allSideBlocks(t.ctx, ch, t.w, b.ID)
	if err != nil {
		return err
	}
	for i := range sides {
		if err := t.addSide(ch, b, &sides[i]); err != nil {
			return err
		}
	}
	return nil
}

func (t *trail) addSide(ch string, b *provenance.ParentBlock, sb *provenance.SideBlock) error {
	tx := &sb.Tx
	fwd := audit.Party{ID: tx.NID, MSP: tx.NodeMSP, Role: audit.RoleGateway}
	req := audit.Party{KeyHash: b.Tx.Requestor, Role: audit.RoleRequestor}
	owner := audit.Party{ID: b.Tx.OID, MSP: b.Tx.OwnerMSP, Role: audit.RoleOwner}
	base := audit.Entry{TxID: tx.TxID, Time: sb.Locktime, Channel: ch, RecordIDs: b.Tx.RecordIDs, Level: b.Tx.Dsens, RequestID: b.ID,
		PackageID: b.Tx.DataID, PackageHash: b.Tx.PackageHash, Purpose: b.Tx.DRP, SideBlock: sb.ID, Subject: req, Submitter: fwd}
	switch tx.Kind {
	case provenance.KindReport:
		e := base
		e.Kind, e.Actor, e.Seq = audit.KindReport, req, tx.Seq
		for _, a := range tx.Actions {
			e.Actions = append(e.Actions, audit.Action{Name: a.Action, At: a.At, Status: a.Status})
		}
		if err := t.add(e); err != nil {
			return err
		}
		if len(tx.VLN) == 0 {
			return nil
		}
		e = base
		e.Kind, e.Actor, e.Outcome, e.Reason = audit.KindViolation, req, audit.Failed, ptl.ReasonForbiddenAction
		e.Detail = "forbidden action reported: " + strings.Join(tx.VLN, ", ")
		if err := t.add(e); err != nil {
			return err
		}
		e = base
		e.Kind, e.Actor, e.Scope, e.Reason = audit.KindRevocation, req, ptl.ScopeRecord, ptl.ReasonForbiddenAction
		e.Detail = "the requestor is blocked for the package's records until the owner re-grants"
		return t.add(e)
	case provenance.KindRegrant, provenance.KindRecall:
		e := base
		e.Kind, e.Actor, e.Submitter, e.Detail = audit.KindRegrant, owner, fwd, tx.Reason
		if tx.Kind == provenance.KindRecall {
			e.Kind = audit.KindRecall
		}
		return t.add(e)
	}
	return nil // an owner's change of ignored actions is in the request's view
}

// addLog adds P-TL log entries: each access attempt, and for a refused one
// the violation the same transaction recorded.
func (t *trail) addLog(ch string, items []ptl.LogEntry) error {
	for _, le := range items {
		user := audit.Party{KeyHash: le.User, Role: audit.RoleDataUser}
		e := audit.Entry{Kind: audit.KindAccess, TxID: le.TxID, Time: le.At, Channel: ch, Actor: user, RecordIDs: []string{le.RecordID},
			Level: levelOfCh(ch), AccessID: le.AccessID}
		if !le.Granted {
			e.Outcome, e.Reason = audit.Refused, le.Reason
			if e.Reason == "" {
				e.Reason = "refused"
			}
		}
		if err := t.add(e); err != nil {
			return err
		}
		if !le.Granted {
			v := e
			v.Kind = audit.KindViolation
			if le.Blame != "" {
				v.Detail = "blamed on the " + le.Blame
			}
			if err := t.add(v); err != nil {
				return err
			}
		}
	}
	return nil
}

// addUser assembles a user's trail: its MeDShare threads and its access
// attempts on every side channel.
func (t *trail) addUser(user string) error {
	for _, ch := range sideChannels() {
		bm := ""
		for range maxTrailPages {
			pg, err := t.s.chain.Thread(t.ctx, ch, t.w, user, MaxPageSize, bm)
			if err != nil {
				return chaincodeProblem(err)
			}
			for i := range pg.Items {
				if err := t.addRequest(ch, &pg.Items[i]); err != nil {
					return err
				}
			}
			if bm = pg.Bookmark; bm == "" {
				break
			}
		}
		bm = ""
		for range maxTrailPages {
			pg, err := t.s.chain.UserLog(t.ctx, ch, t.w, user, MaxPageSize, bm)
			if err != nil {
				return chaincodeProblem(err)
			}
			if err := t.addLog(ch, pg.Items); err != nil {
				return err
			}
			if bm = pg.Bookmark; bm == "" {
				break
			}
		}
	}
	return nil
}

func (t *trail) addUploads(ch string, items []storage.Record) error {
	for _, r := range items {
		owner := audit.Party{ID: r.Owner, MSP: r.OwnerMSP, Role: audit.RoleOwner}
		e := audit.Entry{Kind: audit.KindUpload, TxID: r.TxID, Time: r.UpdatedAt, Channel: ch, Actor: owner, Submitter: owner,
			RecordIDs: []string{r.RecordID}, Version: r.Version, Level: r.Level, Signature: r.Signature, SignedBy: owner}
		if err := t.add(e); err != nil {
			return err
		}
	}
	return nil
}

func (t *trail) addViolations(ch string, items []ptl.Violation) error {
	for _, v := range items {
		e := audit.Entry{Kind: audit.KindViolation, TxID: v.TxID, Time: v.At, Channel: ch, Actor: audit.Party{KeyHash: v.User, Role: audit.RoleDataUser},
			RecordIDs: []string{v.RecordID}, Level: levelOfCh(ch), Outcome: audit.Refused, Reason: v.Reason, Detail: v.Detail, AccessID: v.AccessID}
		if v.Reason == ptl.ReasonForbiddenAction {
			e.Outcome = audit.Failed
		}
		if v.Submitter != "" {
			e.Submitter = audit.Party{ID: v.Submitter, Role: audit.RoleGateway}
		}
		if err := t.add(e); err != nil {
			return err
		}
	}
	return nil
}

// addRecord assembles a record's trail: its versions, access attempts and
// violations on each level's side channel and, read by its owner, the
// MeDShare requests that named it.
func (t *trail) addRecord(id string) error {
	e, err := t.s.lookup(t.ctx, id, false)
	if err != nil {
		return err
	}
	for _, l := range levelsOf(e) {
		ch := channelOf(l)
		if err := pages(func(bm string) (string, error) {
			pg, err := t.s.chain.History(t.ctx, ch, t.w, id, MaxPageSize, bm)
			if err != nil {
				return "", err
			}
			return pg.Bookmark, t.addUploads(ch, pg.Items)
		}); err != nil {
			return err
		}
		if err := pages(func(bm string) (string, error) {
			pg, err := t.s.chain.AccessLog(t.ctx, ch, t.w, id, MaxPageSize, bm)
			if err != nil {
				return "", err
			}
			return pg.Bookmark, t.addLog(ch, onlyGranted(pg.Items))
		}); err != nil {
			return err
		}
		if err := pages(func(bm string) (string, error) {
			pg, err := t.s.chain.RecordViolations(t.ctx, ch, t.w, id, MaxPageSize, bm)
			if err != nil {
				return "", err
			}
			return pg.Bookmark, t.addViolationsAsAccesses(ch, pg.Items)
		}); err != nil {
			return err
		}
	}
	if t.w == "" && e.Owner == t.s.d.Signer.ID() {
		return t.addOwnRequests(func(s provenance.Summary) bool {
			for _, r := range s.RecordIDs {
				if r == id {
					return true
				}
			}
			return false
		})
	}
	return nil
}

// onlyGranted keeps the granted attempts: a record's refused attempts come
// with their violations (addViolationsAsAccesses), which say more.
func onlyGranted(items []ptl.LogEntry) []ptl.LogEntry {
	var out []ptl.LogEntry
	for _, le := range items {
		if le.Granted {
			out = append(out, le)
		}
	}
	return out
}

// addViolationsAsAccesses adds a record's violations: a refused access
// attempt (with its access id) is the attempt and its violation; a
// forbidden action is the violation alone.
func (t *trail) addViolationsAsAccesses(ch string, items []ptl.Violation) error {
	for _, v := range items {
		if v.AccessID != "" {
			e := audit.Entry{Kind: audit.KindAccess, TxID: v.TxID, Time: v.At, Channel: ch, Actor: audit.Party{KeyHash: v.User, Role: audit.RoleDataUser},
				RecordIDs: []string{v.RecordID}, Level: levelOfCh(ch), Outcome: audit.Refused, Reason: v.Reason, Detail: v.Detail, AccessID: v.AccessID}
			if err := t.add(e); err != nil {
				return err
			}
		}
	}
	return t.addViolations(ch, items)
}

// addOwnRequests adds the gateway's own MeDShare requests that keep says.
func (t *trail) addOwnRequests(keep func(provenance.Summary) bool) error {
	for _, ch := range sideChannels() {
		if err := pages(func(bm string) (string, error) {
			pg, err := t.s.chain.OwnRequests(t.ctx, ch, MaxPageSize, bm)
			if err != nil {
				return "", err
			}
			for _, sum := range pg.Items {
				if !keep(sum) {
					continue
				}
				v, err := t.s.chain.GetRequest(t.ctx, ch, "", sum.RequestID)
				if err != nil {
					return "", err
				}
				if err := t.addRequest(ch, &v.Block); err != nil {
					return "", err
				}
			}
			return pg.Bookmark, nil
		}); err != nil {
			return err
		}
	}
	return nil
}

// addOwner assembles the trail of the gateway's own organisation: the
// versions of its records, the violations on them and its MeDShare
// requests with their side-blocks.
func (t *trail) addOwner() error {
	for _, l := range []policy.Level{policy.High, policy.Medium, policy.Low} {
		ch := channelOf(l)
		if err := pages(func(bm string) (string, error) {
			pg, err := t.s.chain.OwnRecords(t.ctx, ch, MaxPageSize, bm)
			if err != nil {
				return "", err
			}
			for _, sum := range pg.Items {
				if err := pages(func(hb string) (string, error) {
					h, err := t.s.chain.History(t.ctx, ch, "", sum.RecordID, MaxPageSize, hb)
					if err != nil {
						return "", err
					}
					return h.Bookmark, t.addUploads(ch, h.Items)
				}); err != nil {
					return "", err
				}
			}
			return pg.Bookmark, nil
		}); err != nil {
			return err
		}
		if err := pages(func(bm string) (string, error) {
			pg, err := t.s.chain.Violations(t.ctx, ch, "*", MaxPageSize, bm)
			if err != nil {
				return "", err
			}
			return pg.Bookmark, t.addViolationsAsAccesses(ch, pg.Items)
		}); err != nil {
			return err
		}
	}
	return t.addOwnRequests(func(provenance.Summary) bool { return true })
}

// pages calls list with each bookmark until it returns "" (a chaincode
// listing), mapping refusals to problems.
func pages(list func(bookmark string) (string, error)) error {
	bm := ""
	for range maxTrailPages {
		next, err := list(bm)
		if err != nil {
			if isNotFound(err) {
				return nil // nothing on this channel
			}
			return chaincodeProblem(err)
		}
		if bm = next; bm == "" {
			return nil
		}
	}
	return nil
}

// nodeName names the gateway's node as the side-chain registry does, or by
// its address.
func (s *Server) nodeName(ctx context.Context) string {
	if reg, err := s.chain.Registry(ctx); err == nil {
		for _, sc := range reg {
			for _, n := range sc.Nodes {
				if n.Address == s.cfg.Node {
					return n.Name
				}
			}
		}
	}
	return s.cfg.Node
}

// trailBookmark is a trail page's continuation: the offset of the next
// entry in the time-ordered trail.
type trailBookmark struct {
	Offset int `json:"o"`
}

func (s *Server) buildTrail(c *gin.Context, p *Principal, q *trailQuery) ([]audit.Entry, error) {
	w, err := s.readWarrant(c, p)
	if err != nil {
		return nil, err
	}
	ctx := c.Request.Context()
	t := &trail{s: s, ctx: ctx, w: w, node: s.nodeName(ctx)}
	switch q.subject {
	case "user":
		err = t.addUser(q.id)
	case "record":
		err = t.addRecord(q.id)
	case "owner":
		if q.id != "" && q.id != s.cfg.MSPID {
			return nil, badRequest("owner", "this gateway serves the trail of its own organisation, %s; ask %s's gateway", s.cfg.MSPID, truncate(q.id, 64))
		}
		if w != "" || p.Role != RoleOwner || p.ID.MSPID() != s.cfg.MSPID {
			return nil, refusal(ProblemForbidden, ReasonReadRefused, "owner", "an organisation's trail is for its own data owners, at its own gateway")
		}
		err = t.addOwner()
	}
	if err != nil {
		return nil, err
	}
	out := t.entries[:0]
	for _, e := range t.entries {
		if (!q.from.IsZero() && e.Time.Before(q.from)) || (!q.to.IsZero() && !e.Time.Before(q.to)) {
			continue
		}
		out = append(out, e)
	}
	// Time order; one transaction's entries keep the order they were added
	// in (request before delivery, report before violation and
	// revocation).
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out, nil
}

// fillBlocks sets the ledger block number of each entry.
func (s *Server) fillBlocks(ctx context.Context, es []audit.Entry) {
	if s.d.Blocks == nil {
		return
	}
	seen := map[string]uint64{}
	for i := range es {
		k := es[i].Channel + "/" + es[i].TxID
		if n, ok := seen[k]; ok {
			es[i].Block = n
			continue
		}
		tx, err := s.d.Blocks.Transaction(ctx, es[i].Channel, es[i].TxID)
		if err != nil {
			continue
		}
		seen[k] = tx.GetBlockNumber()
		es[i].Block = seen[k]
	}
}

// wantsFHIR reads the format: format=json|fhir, or without it an Accept
// header that names FHIR's media type and not JSON's.
func wantsFHIR(c *gin.Context) (bool, error) {
	switch c.Query("format") {
	case "json":
		return false, nil
	case "fhir":
		return true, nil
	case "":
		fhir, plain := false, false
		for _, part := range strings.Split(c.GetHeader("Accept"), ",") {
			mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
			fhir = fhir || err == nil && mt == api.FHIRJSON
			plain = plain || err == nil && mt == api.JSON
		}
		return fhir && !plain, nil
	}
	return false, badRequest("format", "is json or fhir")
}

// auditTrail serves a trail page (GET /api/v1/audit/trail).
func (s *Server) auditTrail(c *gin.Context, p *Principal) error {
	subject, id, err := parseSubject(c, "user", "record", "owner")
	if err != nil {
		return err
	}
	q := &trailQuery{subject: subject, id: id}
	if q.from, err = queryTime(c, "from"); err != nil {
		return err
	}
	if q.to, err = queryTime(c, "to"); err != nil {
		return err
	}
	if q.fhir, err = wantsFHIR(c); err != nil {
		return err
	}
	size, err := pageSize(c)
	if err != nil {
		return err
	}
	var bm trailBookmark
	if v := c.Query("bookmark"); v != "" {
		raw, err := base64.RawURLEncoding.DecodeString(v)
		if err != nil || len(raw) > 64 || json.Unmarshal(raw, &bm) != nil || bm.Offset < 0 {
			return badRequest("bookmark", "not a bookmark this gateway returned")
		}
	}
	all, err := s.buildTrail(c, p, q)
	if err != nil {
		return err
	}
	start := min(bm.Offset, len(all))
	end := min(start+size, len(all))
	page := append([]audit.Entry(nil), all[start:end]...)
	s.fillBlocks(c.Request.Context(), page)
	next := ""
	if end < len(all) {
		raw, _ := json.Marshal(trailBookmark{Offset: end})
		next = base64.RawURLEncoding.EncodeToString(raw)
	}
	if q.fhir {
		return s.trailBundle(c, page, len(all), next)
	}
	out := api.Trail{Subject: subject, ID: id, Total: len(all), Items: []api.TrailEntry{}, Bookmark: next}
	for i := range page {
		out.Items = append(out.Items, trailEntry(&page[i]))
	}
	return reply(c, http.StatusOK, out)
}

// trailBundle renders a page as a FHIR searchset Bundle with self and next
// links.
func (s *Server) trailBundle(c *gin.Context, page []audit.Entry, total int, next string) error {
	conv, err := audit.New(audit.DefaultConfig())
	if err != nil {
		return err
	}
	self := *c.Request.URL
	self.Scheme, self.Host = "https", c.Request.Host
	links := []audit.Link{{Relation: "self", URL: self.String()}}
	if next != "" {
		u := self
		v := u.Query()
		v.Set("bookmark", next)
		u.RawQuery = v.Encode()
		links = append(links, audit.Link{Relation: "next", URL: u.String()})
	}
	b, err := conv.Bundle(page, audit.BundleOptions{Type: audit.Searchset, Timestamp: s.d.Now(), Total: total, Links: links})
	if err != nil {
		return err
	}
	c.Header("Content-Type", api.FHIRJSON)
	c.Header("Cache-Control", "no-store")
	c.Status(http.StatusOK)
	_, err = c.Writer.Write(b)
	return err
}

func partyOf(p audit.Party) api.Party {
	return api.Party{ID: p.ID, KeyHash: p.KeyHash, MSP: p.MSP, Name: p.Name, Role: string(p.Role)}
}

func optParty(p audit.Party) *api.Party {
	if p.ID == "" && p.KeyHash == "" {
		return nil
	}
	v := partyOf(p)
	return &v
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// trailEntry is an entry as the JSON trail shows it.
func trailEntry(e *audit.Entry) api.TrailEntry {
	out := api.TrailEntry{Kind: string(e.Kind), TxID: e.TxID, Block: e.Block, Time: e.Time, Channel: e.Channel, Node: e.Node,
		Actor: partyOf(e.Actor), Submitter: optParty(e.Submitter), Subject: optParty(e.Subject), RecordIDs: e.RecordIDs,
		Version: e.Version, Level: e.Level, RequestID: e.RequestID, PackageID: e.PackageID, PackageHash: e.PackageHash,
		Purpose: e.Purpose, Received: optTime(e.Received), Processed: optTime(e.Processed), Sent: optTime(e.Sent),
		Outcome: []string{"success", "refused", "failed"}[e.Outcome], Reason: e.Reason, Detail: e.Detail, AccessID: e.AccessID,
		Scope: e.Scope, Seq: e.Seq, SideBlock: e.SideBlock}
	for _, a := range e.Actions {
		out.Actions = append(out.Actions, api.TrailAction{Action: a.Name, At: a.At, Status: a.Status})
	}
	return out
}
