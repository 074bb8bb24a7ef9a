package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/medshare/medshare/abe"
	"github.com/medshare/medshare/abe/authority"
	"github.com/medshare/medshare/abe/policy"
	"github.com/medshare/medshare/chaincode/ccerr"
	"github.com/medshare/medshare/chaincode/index"
	"github.com/medshare/medshare/chaincode/ptl"
	"github.com/medshare/medshare/chaincode/txbuild"
	"github.com/medshare/medshare/gateway/aa"
	"github.com/medshare/medshare/gateway/api"
	"github.com/medshare/medshare/gateway/envelope"
	"github.com/medshare/medshare/gateway/ledger"
)

// channelOf maps a level to its side channel, as the network deploys them.
func channelOf(l policy.Level) string {
	for _, sc := range txbuild.SideChannels {
		if sc.Level == l.String() {
			return sc.Channel
		}
	}
	return ""
}

func isNotFound(err error) bool { return errors.Is(err, ccerr.ErrNotFound) }

var recordIDRE = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// kindOfID returns the kind a record id's name starts with
// ("<owner hash>:Bundle.…" → Bundle).
func kindOfID(id string) string {
	if i := strings.LastIndexByte(id, ':'); i >= 0 {
		id = id[i+1:]
	}
	k, _, ok := strings.Cut(id, ".")
	if !ok {
		return ""
	}
	return k
}

var (
	kindRE = regexp.MustCompile(`[^A-Za-z0-9]`)
	typeRE = regexp.MustCompile(`^[A-Za-z0-9]{1,40}$`)
)

// newRecordID is "<gateway identity hash>:<kind>.<20 random hex digits>":
// record ids are scoped to their owner (txbuild.RecordID).
func (s *Server) newRecordID(kind string) (string, error) {
	k := kindRE.ReplaceAllString(kind, "")
	if k == "" {
		k = "json"
	}
	if len(k) > 40 {
		k = k[:40]
	}
	var b [10]byte
	if _, err := s.d.Rand.Read(b[:]); err != nil {
		return "", err
	}
	return txbuild.RecordID(s.d.Signer.ID(), k+"."+hex.EncodeToString(b[:])), nil
}

// terms are an upload's access terms, validated.
type terms struct {
	rp  *policy.Record
	acc api.Access
}

// parseUpload reads an upload body: a JSON UploadRequest, or a bare FHIR
// resource (application/fhir+json) with ?template=.
func (s *Server) parseUpload(c *gin.Context) ([]byte, *terms, error) {
	body, mt, err := readBody(c.Request, api.JSON, api.FHIRJSON)
	if err != nil {
		return nil, nil, err
	}
	var req api.UploadRequest
	if mt == api.FHIRJSON {
		req.Document, req.Template = body, c.Query("template")
	} else {
		if err := decodeStrict(body, &req); err != nil {
			return nil, nil, err
		}
	}
	if len(req.Document) == 0 || string(req.Document) == "null" {
		return nil, nil, invalid("document", "is required: a FHIR R4 resource or a JSON object")
	}
	t, err := s.terms(&req)
	if err != nil {
		return nil, nil, err
	}
	return req.Document, t, nil
}

// terms resolves the template and overrides of an upload.
func (s *Server) terms(req *api.UploadRequest) (*terms, error) {
	now := s.d.Now().UTC().Truncate(time.Second)
	name := req.Template
	if name == "" && req.Policy == nil {
		name = s.cfg.DefaultTemplate
	}
	var t *terms
	if name != "" {
		tpl, ok := s.cfg.Templates[name]
		if !ok {
			return nil, invalid("template", "no template %q is configured at this gateway", name)
		}
		rp, err := parsePolicy(tpl.Policy)
		if err != nil {
			return nil, err
		}
		t = &terms{rp: rp, acc: api.Access{NotBefore: now, NotAfter: now.Add(tpl.Validity), MaxProofAge: tpl.MaxProofAge, TimeZone: tpl.TimeZone, Windows: tpl.Windows}}
	}
	if req.Policy != nil {
		rp, err := parsePolicy(*req.Policy)
		if err != nil {
			return nil, err
		}
		if t == nil {
			t = &terms{}
		}
		t.rp = rp
	}
	if t == nil || t.rp == nil {
		return nil, invalid("policy", "a policy or a template is required")
	}
	if req.Access != nil {
		t.acc = *req.Access
	} else if name == "" {
		return nil, invalid("access", "access terms are required without a template")
	}
	if err := validateAccess(&t.acc); err != nil {
		return nil, err
	}
	return t, nil
}

var clockRE = regexp.MustCompile(`^([01][0-9]|2[0-4]):[0-5][0-9]$`)

// validateAccess checks access terms as P-TL will, before anything is
// stored, so that a policy P-TL refuses cannot leave a half-made record.
func validateAccess(a *api.Access) error {
	if a.NotBefore.IsZero() || a.NotAfter.IsZero() {
		return invalid("access.notBefore", "notBefore and notAfter are required")
	}
	if !a.NotBefore.Before(a.NotAfter) {
		return invalid("access.notAfter", "must be after notBefore")
	}
	if a.MaxProofAge != "" {
		d, err := time.ParseDuration(a.MaxProofAge)
		if err != nil || d < time.Second || d > 24*time.Hour {
			return invalid("access.maxProofAge", "must be a duration from 1s to 24h")
		}
	}
	if len(a.Windows) > ptl.MaxWindows {
		return invalid("access.windows", "at most %d windows", ptl.MaxWindows)
	}
	if len(a.Windows) > 0 || a.TimeZone != "" {
		if a.TimeZone == "" || a.TimeZone == "Local" || len(a.TimeZone) > 64 || strings.Contains(a.TimeZone, "..") {
			return invalid("access.timeZone", "must be an IANA time zone name such as Europe/Paris or UTC")
		}
		if _, err := time.LoadLocation(a.TimeZone); err != nil {
			return invalid("access.timeZone", "unknown time zone %q", a.TimeZone)
		}
	}
	days := map[string]bool{"mon": true, "tue": true, "wed": true, "thu": true, "fri": true, "sat": true, "sun": true}
	for i, w := range a.Windows {
		f := fmt.Sprintf("access.windows[%d]", i)
		if len(w.Days) == 0 || len(w.Days) > 7 {
			return invalid(f+".days", "1 to 7 days")
		}
		for _, d := range w.Days {
			if !days[d] {
				return invalid(f+".days", "days are mon, tue, wed, thu, fri, sat, sun; got %q", d)
			}
		}
		if !clockRE.MatchString(w.Start) || w.Start > "23:59" {
			return invalid(f+".start", "must be HH:MM before 24:00")
		}
		if !clockRE.MatchString(w.End) || (w.End > "24:00") {
			return invalid(f+".end", "must be HH:MM up to 24:00")
		}
		if w.Start == w.End {
			return invalid(f+".end", "must differ from start")
		}
	}
	return nil
}

func (s *Server) grade(doc []byte) (*Graded, error) {
	if s.d.Grader == nil {
		return nil, errNotConfigured("grading")
	}
	return s.d.Grader.Grade(doc)
}

func (s *Server) upload(c *gin.Context, _ *Principal) error {
	if s.d.Objects == nil || s.d.Keys == nil {
		return problem(http.StatusServiceUnavailable, ProblemUnavailable, "Service unavailable", "uploads need IPFS and the attribute authority")
	}
	doc, t, err := s.parseUpload(c)
	if err != nil {
		return err
	}
	g, err := s.grade(doc)
	if err != nil {
		return err
	}
	id, err := s.newRecordID(g.Kind)
	if err != nil {
		return err
	}
	up, err := s.storeVersion(c.Request.Context(), id, 1, g, t, nil)
	if err != nil {
		return err
	}
	c.Header("Location", api.Prefix+"/records/"+id)
	status := http.StatusCreated
	if !up.Indexed {
		status = http.StatusAccepted
	}
	return reply(c, status, up)
}

// ownedEntry reads a record's index entry and checks this gateway's
// organisation owns it; for another organisation's record it answers 421
// with the owner's gateway.
func (s *Server) ownedEntry(ctx context.Context, id string) (*index.RecordEntry, error) {
	return s.owned(ctx, id, false)
}

// owned is ownedEntry, from the index cache when cached is set.
func (s *Server) owned(ctx context.Context, id string, cached bool) (*index.RecordEntry, error) {
	e, err := s.lookup(ctx, id, cached)
	if err != nil {
		return nil, err
	}
	if e.OwnerMSP != s.cfg.MSPID {
		p := problem(http.StatusMisdirectedRequest, ProblemMisdirected, "Misdirected request",
			fmt.Sprintf("record %s belongs to %s: send this request to its gateway", id, e.OwnerMSP))
		p.RecordID, p.OwnerGateway = id, s.ownerGateway(ctx, e.OwnerMSP)
		return nil, p
	}
	if e.Owner != s.d.Signer.Identity.ID() {
		return nil, forbidden("record %s is owned by another identity of %s than this gateway", id, e.OwnerMSP)
	}
	return e, nil
}

func (s *Server) update(c *gin.Context, _ *Principal) error {
	if s.d.Objects == nil || s.d.Keys == nil {
		return problem(http.StatusServiceUnavailable, ProblemUnavailable, "Service unavailable", "uploads need IPFS and the attribute authority")
	}
	id := c.Param("id")
	if s.journal.isPending(id) {
		return conflict("record %s has a version whose index entry is still pending; retry when it is indexed", id)
	}
	prev, err := s.ownedEntry(c.Request.Context(), id)
	if err != nil {
		return err
	}
	doc, t, err := s.parseUpload(c)
	if err != nil {
		return err
	}
	g, err := s.grade(doc)
	if err != nil {
		return err
	}
	if k := kindRE.ReplaceAllString(g.Kind, ""); k != "" && kindOfID(id) != "" && !strings.HasPrefix(k, kindOfID(id)) {
		return invalid("document", "record %s holds a %s; a new version cannot be a %s", id, kindOfID(id), g.Kind)
	}
	up, err := s.storeVersion(c.Request.Context(), id, prev.PolicyVersion+1, g, t, prev)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if !up.Indexed {
		status = http.StatusAccepted
	}
	return reply(c, status, up)
}

// levelWork is one level of a version being stored.
type levelWork struct {
	level   policy.Level
	keys    []byte
	object  []byte
	sum     [32]byte
	cid     string
	version uint64
	txID    string
	stored  bool
	err     error
	// policy is the level's hidden P-TL policy tree (nil: none is set).
	policy []byte
	// supplied: the object's bytes came from the caller (a pre-sealed
	// upload) and may be another record's object, so a failed upload must
	// not unpin them if they were pinned before (Objects.AddTx).
	supplied bool
}

// storeVersion encrypts a graded document as version ver of record id and
// stores it: IPFS (every level's object, pinned), then on each side chain
// with data Tx_sto and the level's P-TL policy, then the index entry on
// main. Faults:
//
//   - IPFS unreachable: nothing was submitted; what was added is unpinned
//     (503).
//   - a side-chain transaction fails: everything added is unpinned, nothing
//     is indexed; side-chain transactions that did commit are journalled
//     as an orphan (503 when the ledger was unreachable).
//   - the index entry fails to commit: the version is complete on the side
//     chains and stays pinned; the entry is journalled and retried, and the
//     answer is 202 with Indexed false.
func (s *Server) storeVersion(ctx context.Context, id string, ver uint64, g *Graded, t *terms, prev *index.RecordEntry) (*api.Upload, error) {
	params, err := s.d.Keys.Params(ctx)
	if err != nil {
		return nil, err
	}
	tk, err := s.d.Keys.TagKey(ctx)
	if err != nil {
		return nil, err
	}
	owned, err := aa.OwnerPolicy(t.rp, s.cfg.MSPID)
	if err != nil {
		return nil, &FieldError{"policy", err}
	}
	hidden, err := authority.HidePolicy(owned, params.Schema, tk, params.Epoch)
	if err != nil {
		return nil, &FieldError{"policy", err}
	}
	ct, err := params.Scheme.Encrypt(s.d.Rand, params.PublicKey, hidden, envelope.Binding(id, ver), abe.Levels(g.Levels))
	if err != nil {
		return nil, err
	}
	var present [policy.NumLevels]bool
	for l := range present {
		present[l] = g.Levels[l] != nil
	}
	return s.storeCiphertext(ctx, id, ver, params.Epoch, g.Kind, present, g.Counts, ct, hidden, t.acc, prev)
}

// storeCiphertext stores an encrypted version (see storeVersion).
func (s *Server) storeCiphertext(ctx context.Context, id string, ver, epoch uint64, kind string, present [policy.NumLevels]bool, counts [policy.NumLevels]int, ct *abe.Ciphertext, hidden *policy.Record, acc api.Access, prev *index.RecordEntry) (*api.Upload, error) {
	header, err := ct.MarshalHeader()
	if err != nil {
		return nil, err
	}
	var work []*levelWork
	for _, l := range []policy.Level{policy.High, policy.Medium, policy.Low} {
		sealed := ct.Sealed(l)
		if !present[l] || sealed == nil {
			continue // a level with no data writes nothing
		}
		gate, err := envelope.NewGate(s.d.Rand)
		if err != nil {
			return nil, err
		}
		k := &envelope.Keys{RecordID: id, Version: ver, Epoch: epoch, Level: l, Gate: gate, Header: header}
		m, err := k.MarshalBinary()
		if err != nil {
			return nil, err
		}
		obj, err := envelope.Seal(s.d.Rand, k, sealed)
		if err != nil {
			return nil, err
		}
		work = append(work, &levelWork{level: l, keys: m, object: obj, sum: sha256.Sum256(obj)})
	}
	if len(work) == 0 {
		return nil, invalid("document", "the document holds no element to store")
	}
	for _, w := range work {
		if w.policy, err = hidden.Level(w.level).MarshalBinary(); err != nil {
			return nil, err
		}
	}
	return s.storeWork(ctx, id, ver, kind, counts, work, acc, prev)
}

// storeWork stores prepared levels (see storeVersion for the faults).
func (s *Server) storeWork(ctx context.Context, id string, ver uint64, kind string, counts [policy.NumLevels]int, work []*levelWork, acc api.Access, prev *index.RecordEntry) (*api.Upload, error) {
	// 1. IPFS: add and pin every level's object.
	var added addedObjects
	for _, w := range work {
		if err := added.add(ctx, s.d.Objects, w); err != nil {
			s.undoAll(added)
			return nil, err
		}
	}
	// 2. Side chains, in parallel: Tx_sto, then the level's policy.
	var wg sync.WaitGroup
	for _, w := range work {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.err = s.storeLevel(ctx, id, prev, w, acc)
		}()
	}
	wg.Wait()
	var refs []index.LevelRef
	var failed error
	for _, w := range work {
		if w.stored {
			refs = append(refs, index.LevelRef{Level: w.level.String(), SideChain: channelOf(w.level), TxID: w.txID, Version: w.version})
		}
		if w.err != nil && failed == nil {
			failed = w.err
		}
	}
	if failed != nil {
		s.undoAll(added)
		if len(refs) > 0 {
			_ = s.journal.addOrphan(&orphanEntry{RecordID: id, Version: ver, Levels: refs, Unpinned: added.cids, Reason: failed.Error(), At: s.d.Now()})
			s.log.Warn("upload failed after some side-chain transactions committed; recorded as an orphan", "record", id, "version", ver, "err", failed)
		}
		return nil, failed
	}
	up := &api.Upload{RecordID: id, Version: ver, Kind: kind,
		Counts: api.Counts{High: counts[policy.High], Medium: counts[policy.Medium], Low: counts[policy.Low]}}
	for _, w := range work {
		up.Levels = append(up.Levels, api.StoredLevel{Level: w.level.String(), SideChain: channelOf(w.level), Address: w.cid,
			CheckCode: hex.EncodeToString(w.sum[:]), TxID: w.txID, ChainVersion: w.version})
	}
	// 3. The index entry on main.
	in := index.RecordInput{Levels: refs, PolicyVersion: ver}
	_, txID, err := s.chain.PutRecord(ctx, id, in)
	s.indexed(id)
	var re *ledger.RefusedError
	switch {
	case err == nil:
		added.commit()
		up.IndexTxID, up.Indexed = txID, true
	case errors.As(err, &re):
		s.undoAll(added)
		_ = s.journal.addOrphan(&orphanEntry{RecordID: id, Version: ver, Levels: refs, Unpinned: added.cids, Reason: "index entry refused: " + re.Message, At: s.d.Now()})
		return nil, err
	default:
		// The version is complete; its entry is retried: the objects stay.
		added.commit()
		if jerr := s.journal.addPending(&pendingEntry{RecordID: id, Version: ver, Input: in, Since: s.d.Now()}); jerr != nil {
			s.log.Error("cannot journal a pending index entry", "record", id, "err", jerr)
			return nil, err
		}
		s.m.pending.Set(float64(s.journal.len()))
		s.log.Warn("index entry not committed; pending, retried in the background", "record", id, "version", ver, "err", err)
	}
	return up, nil
}

// storeLevel submits one level's Tx_sto and policy.
func (s *Server) storeLevel(ctx context.Context, id string, prev *index.RecordEntry, w *levelWork, acc api.Access) error {
	ch := channelOf(w.level)
	w.version = 1
	if prev != nil {
		cur, err := s.chain.StorageRecord(ctx, ch, id)
		switch {
		case err == nil:
			w.version = cur.Version + 1
		case isNotFound(err):
		default:
			return err
		}
	}
	_, txID, err := s.chain.Store(ctx, ch, txbuild.StoreInput{RecordID: id, Version: w.version, Address: w.cid, Keys: w.keys, CheckCode: w.sum})
	if err != nil {
		return err
	}
	w.txID, w.stored = txID, true
	s.keys.put(grantKey{channel: ch, recordID: id, version: w.version}, w.keys)
	if w.policy == nil {
		return nil // a pre-sealed level without a policy: set later
	}
	pin := ptl.PolicyInput{HiddenPolicy: w.policy, NotBefore: txbuild.FormatTime(acc.NotBefore), NotAfter: txbuild.FormatTime(acc.NotAfter),
		MaxProofAge: acc.MaxProofAge, TimeZone: acc.TimeZone, Windows: acc.Windows}
	_, _, err = s.chain.SetPolicy(ctx, ch, id, pin)
	return err
}

// addedObjects are the objects an upload added, with how to undo each
// (Unpin, or the undo of Objects.AddTx for supplied bytes) or commit it.
type addedObjects struct {
	cids    []string
	undos   []func(context.Context) error
	commits []func()
}

// add adds w's object and records its CID in w.
func (a *addedObjects) add(ctx context.Context, o Objects, w *levelWork) error {
	if !w.supplied {
		cid, err := o.Add(ctx, w.object)
		if err != nil {
			return err
		}
		w.cid = cid
		a.cids = append(a.cids, cid)
		a.undos = append(a.undos, func(ctx context.Context) error { return o.Unpin(ctx, cid) })
		return nil
	}
	cid, commit, undo, err := o.AddTx(ctx, w.object)
	if err != nil {
		return err
	}
	w.cid = cid
	a.cids = append(a.cids, cid)
	a.undos = append(a.undos, undo)
	a.commits = append(a.commits, commit)
	return nil
}

func (a *addedObjects) commit() {
	for _, c := range a.commits {
		c()
	}
}

// undoAll undoes what a failed upload added (or unpins a recalled
// version's objects), with its own time limit (the request's may be what
// ran out).
func (s *Server) undoAll(a addedObjects) {
	if len(a.undos) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	for i, undo := range a.undos {
		if err := undo(ctx); err != nil {
			s.log.Error("cannot unpin a ciphertext (of a failed upload or a recalled version)", "cid", a.cids[i], "err", err)
		}
	}
}

// unpinAll unpins what a failed upload or a recall added.
func (s *Server) unpinAll(cids []string) {
	var a addedObjects
	for _, cid := range cids {
		a.cids = append(a.cids, cid)
		a.undos = append(a.undos, func(ctx context.Context) error { return s.d.Objects.Unpin(ctx, cid) })
	}
	s.undoAll(a)
}

func (s *Server) recordView(ctx context.Context, e *index.RecordEntry) api.Record {
	r := api.Record{RecordID: e.RecordID, Kind: kindOfID(e.RecordID), Version: e.PolicyVersion, Owner: e.OwnerMSP,
		OwnerGateway: s.ownerGateway(ctx, e.OwnerMSP), CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt, TxID: e.TxID}
	for _, l := range e.Levels {
		r.Levels = append(r.Levels, api.LevelRef{Level: l.Level, SideChain: l.SideChain, TxID: l.TxID, ChainVersion: l.Version})
	}
	return r
}

// entry reads a record's index entry for a reader (record metadata, a
// level's references), from the index cache when the gateway has one.
func (s *Server) entry(ctx context.Context, id string) (*index.RecordEntry, error) {
	return s.lookup(ctx, id, true)
}

// lookup reads a record's index entry: from the node, or through the index
// cache when cached is set and the gateway has one (as fresh as main's
// events the gateway has applied: package gateway/indexcache). Writers and
// auditors read from the node.
func (s *Server) lookup(ctx context.Context, id string, cached bool) (*index.RecordEntry, error) {
	if !recordIDRE.MatchString(id) {
		return nil, badRequest("id", "a record id is 1..128 characters of [A-Za-z0-9._:-]")
	}
	load := func(ctx context.Context) (*index.RecordEntry, error) { return s.chain.IndexEntry(ctx, id) }
	var e *index.RecordEntry
	var err error
	if cached && s.idx != nil {
		e, err = s.idx.Get(ctx, id, load)
	} else {
		e, err = load(ctx)
	}
	if err != nil {
		return nil, s.notIndexed(id, err)
	}
	return e, nil
}

// indexed tells the index cache that this gateway wrote id's entry.
func (s *Server) indexed(id string) {
	if s.idx != nil {
		s.idx.Invalidate(id)
	}
}

// notIndexed explains a failed index read: 404, saying so when this
// gateway is still retrying the record's index entry.
func (s *Server) notIndexed(id string, err error) error {
	if !isNotFound(err) {
		return err
	}
	if s.journal.isPending(id) {
		p := notFound("record %s is not indexed yet: its index entry is pending at this gateway, which retries it", id)
		p.RecordID = id
		return p
	}
	return notFound("record %s is not indexed", id)
}

func (s *Server) getRecord(c *gin.Context, _ *Principal) error {
	e, err := s.entry(c.Request.Context(), c.Param("id"))
	if err != nil {
		return err
	}
	return reply(c, http.StatusOK, s.recordView(c.Request.Context(), e))
}

// MaxPageSize bounds pageSize in listings (the chaincodes' limit).
const MaxPageSize = 100

func pageSize(c *gin.Context) (int, error) {
	v := c.Query("pageSize")
	if v == "" {
		return 20, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > MaxPageSize {
		return 0, badRequest("pageSize", "must be an integer from 1 to %d", MaxPageSize)
	}
	return n, nil
}

func queryTime(c *gin.Context, name string) (time.Time, error) {
	v := c.Query(name)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, badRequest(name, "must be an RFC 3339 time")
	}
	return t, nil
}

// maxScan bounds the index pages one filtered search reads.
const maxScan = 20

// find lists an organisation's records from the index, filtered by kind
// (resource type) and creation time. Filters are applied to index pages
// read in order; a page may hold fewer items than pageSize, and the
// bookmark continues the scan.
func (s *Server) find(c *gin.Context, _ *Principal) error {
	owner := c.Query("owner")
	if owner == "" {
		owner = s.cfg.MSPID
	}
	if len(owner) > 64 {
		return badRequest("owner", "an MSP id of at most 64 characters")
	}
	size, err := pageSize(c)
	if err != nil {
		return err
	}
	kind := c.Query("type")
	if kind != "" && !typeRE.MatchString(kind) {
		return badRequest("type", "a resource type such as Bundle or Patient")
	}
	from, err := queryTime(c, "from")
	if err != nil {
		return err
	}
	to, err := queryTime(c, "to")
	if err != nil {
		return err
	}
	bookmark := c.Query("bookmark")
	if len(bookmark) > 1024 {
		return badRequest("bookmark", "is too long")
	}
	out := api.RecordPage{Items: []api.Record{}}
	for range maxScan {
		need := size - len(out.Items)
		pg, err := s.chain.RecordsByOrg(c.Request.Context(), owner, need, bookmark)
		if err != nil {
			var re *ledger.RefusedError
			if errors.As(err, &re) && errors.Is(err, ccerr.ErrInvalidArgument) {
				return badRequest("bookmark", "%s", re.Message)
			}
			return err
		}
		for i := range pg.Items {
			e := &pg.Items[i]
			if kind != "" && kindOfID(e.RecordID) != kind {
				continue
			}
			if (!from.IsZero() && e.CreatedAt.Before(from)) || (!to.IsZero() && !e.CreatedAt.Before(to)) {
				continue
			}
			out.Items = append(out.Items, s.recordView(c.Request.Context(), e))
		}
		bookmark = pg.Bookmark
		if bookmark == "" || len(out.Items) >= size {
			break
		}
	}
	out.Bookmark = bookmark
	return reply(c, http.StatusOK, out)
}

func parseLevel(c *gin.Context, field, v string) (policy.Level, error) {
	l, err := policy.ParseLevel(v)
	if err != nil {
		return 0, badRequest(field, "a level is low, medium or high")
	}
	return l, nil
}

// levelRef returns the index's reference for level l of entry e.
func levelRef(e *index.RecordEntry, l policy.Level) (*index.LevelRef, error) {
	for i := range e.Levels {
		if e.Levels[i].Level == l.String() {
			return &e.Levels[i], nil
		}
	}
	return nil, notFound("record %s holds no %s data in version %d", e.RecordID, l, e.PolicyVersion)
}

func (s *Server) getLevel(c *gin.Context, _ *Principal) error {
	ctx := c.Request.Context()
	l, err := parseLevel(c, "level", c.Param("level"))
	if err != nil {
		return err
	}
	e, err := s.entry(ctx, c.Param("id"))
	if err != nil {
		return err
	}
	ref, err := levelRef(e, l)
	if err != nil {
		return err
	}
	ch := channelOf(l)
	rec, err := s.chain.StorageRecord(ctx, ch, e.RecordID)
	if err != nil {
		return err
	}
	pol, err := s.chain.Policy(ctx, ch, e.RecordID)
	if err != nil {
		return err
	}
	if rec.Version != ref.Version {
		return conflict("the side chain holds version %d of %s's %s level, the index version %d: the record is being updated", rec.Version, e.RecordID, l, ref.Version)
	}
	return reply(c, http.StatusOK, api.Level{RecordID: e.RecordID, Level: l.String(), Channel: ch, ChainVersion: rec.Version,
		Address: rec.Address, CheckCode: rec.CheckCode, KeysHash: rec.KeysHash, HiddenPolicy: pol.HiddenPolicy, PolicyVersion: pol.Version,
		NotBefore: pol.NotBefore, NotAfter: pol.NotAfter, MaxProofAge: pol.MaxProofAge, TimeZone: pol.TimeZone, Windows: pol.Windows})
}
