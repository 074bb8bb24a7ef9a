package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/medshare/medshare/abe"
	"github.com/medshare/medshare/abe/policy"
	"github.com/medshare/medshare/chaincode/index"
	"github.com/medshare/medshare/chaincode/ptl"
	"github.com/medshare/medshare/gateway/api"
	"github.com/medshare/medshare/gateway/envelope"
)

// ErrTampered: a stored object does not match its checkCode; it is never
// decrypted.
var ErrTampered = errors.New("gateway: the object does not match its checkCode")

// violationBookmark is the bookmark of a listing over several side
// chains: each chain's own bookmark, "" for a chain not started, and done
// chains left out.
type violationBookmark map[string]string

func decodeBookmark(s string) (violationBookmark, error) {
	if s == "" {
		return nil, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(raw) > 4096 {
		return nil, badRequest("bookmark", "not a bookmark this gateway returned")
	}
	var b violationBookmark
	if err := json.Unmarshal(raw, &b); err != nil {
		return nil, badRequest("bookmark", "not a bookmark this gateway returned")
	}
	return b, nil
}

func (b violationBookmark) encode() string {
	if len(b) == 0 {
		return ""
	}
	raw, _ := json.Marshal(b)
	return base64.RawURLEncoding.EncodeToString(raw)
}

// listViolations lists violations of target (a record, or "*") on the
// given levels, pageSize per level and page.
func (s *Server) listViolations(c *gin.Context, target string, levels []policy.Level) error {
	size, err := pageSize(c)
	if err != nil {
		return err
	}
	bm, err := decodeBookmark(c.Query("bookmark"))
	if err != nil {
		return err
	}
	out := api.ViolationPage{Items: []api.Violation{}}
	next := violationBookmark{}
	for _, l := range levels {
		cur, started := bm[l.String()]
		if bm != nil && !started {
			continue // this chain was listed to its end
		}
		pg, err := s.chain.Violations(c.Request.Context(), channelOf(l), target, size, cur)
		if err != nil {
			if isNotFound(err) {
				continue
			}
			return err
		}
		for _, v := range pg.Items {
			out.Items = append(out.Items, api.Violation{Level: l.String(), Violation: v})
		}
		if pg.Bookmark != "" {
			next[l.String()] = pg.Bookmark
		}
	}
	out.Bookmark = next.encode()
	return reply(c, http.StatusOK, out)
}

func levelsOf(e *index.RecordEntry) []policy.Level {
	var out []policy.Level
	for _, r := range e.Levels {
		if l, err := policy.ParseLevel(r.Level); err == nil {
			out = append(out, l)
		}
	}
	return out
}

func (s *Server) recordViolations(c *gin.Context, _ *Principal) error {
	e, err := s.ownedEntry(c.Request.Context(), c.Param("id"))
	if err != nil {
		return err
	}
	return s.listViolations(c, e.RecordID, levelsOf(e))
}

func (s *Server) violations(c *gin.Context, _ *Principal) error {
	return s.listViolations(c, "*", []policy.Level{policy.High, policy.Medium, policy.Low})
}

func decodeBody(c *gin.Context, v any) error {
	b, _, err := readBody(c.Request, api.JSON)
	if err != nil {
		return err
	}
	return decodeStrict(b, v)
}

func checkUser(u string) error {
	if u == "" || len(u) > 512 {
		return invalid("user", "is required: the user's user id (32 hex digits, as violations and whoami show it)")
	}
	return nil
}

// regrant lifts a user's block on the record's levels (scope record) or on
// all of the owner's records (scope owner).
func (s *Server) regrant(c *gin.Context, _ *Principal) error {
	ctx := c.Request.Context()
	e, err := s.ownedEntry(ctx, c.Param("id"))
	if err != nil {
		return err
	}
	var req api.RegrantRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	if err := checkUser(req.User); err != nil {
		return err
	}
	target := e.RecordID
	switch req.Scope {
	case "", "record":
	case "owner":
		target = "*"
	default:
		return invalid("scope", "is record or owner")
	}
	levels := levelsOf(e)
	if len(req.Levels) > policy.NumLevels {
		return invalid("levels", "at most %d levels", policy.NumLevels)
	}
	if len(req.Levels) > 0 {
		levels = nil
		for i, v := range req.Levels {
			f := fmt.Sprintf("levels[%d]", i)
			l, err := parseLevel(c, f, v)
			if err != nil {
				return err
			}
			if slices.Contains(levels, l) {
				return invalid(f, "%s is given twice", l)
			}
			levels = append(levels, l)
		}
	}
	out := api.Regrant{RecordID: e.RecordID, User: req.User, TxIDs: map[string]string{}}
	for _, l := range levels {
		_, txID, err := s.chain.Regrant(ctx, channelOf(l), req.User, target)
		if err != nil {
			if isNotFound(err) {
				continue // no block on this level
			}
			return err
		}
		out.TxIDs[l.String()] = txID
	}
	if len(out.TxIDs) == 0 {
		return notFound("user %s is not blocked for %s on any of its levels", req.User, e.RecordID)
	}
	return reply(c, http.StatusOK, out)
}

// opened is a version of an owned record, decrypted with the custodian
// key.
type opened struct {
	ct     *abe.Ciphertext
	data   [policy.NumLevels][]byte
	cids   []string
	epoch  uint64
	policy *ptl.Policy
}

// openOwned fetches and decrypts the current version of an owned record:
// for each level, m from the side chain (as the owner), the object from
// IPFS checked against checkCode, opened with the gate key, then the ABE
// ciphertext with the custodian key of the version's epoch.
func (s *Server) openOwned(ctx context.Context, e *index.RecordEntry) (*opened, error) {
	var sealed abe.Levels
	var header []byte
	o := &opened{}
	for _, l := range levelsOf(e) {
		ch := channelOf(l)
		rec, err := s.chain.StorageRecord(ctx, ch, e.RecordID)
		if err != nil {
			return nil, err
		}
		k, err := envelope.ParseKeys(rec.Keys)
		if err != nil {
			return nil, fmt.Errorf("gateway: %s level of %s: %w", l, e.RecordID, err)
		}
		obj, err := s.d.Objects.Cat(ctx, rec.Address)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(obj)
		if hex.EncodeToString(sum[:]) != rec.CheckCode {
			return nil, fmt.Errorf("%w: %s level of %s at %s", ErrTampered, l, e.RecordID, rec.Address)
		}
		if sealed[l], err = envelope.Open(k, obj); err != nil {
			return nil, err
		}
		if header != nil && string(header) != string(k.Header) {
			return nil, fmt.Errorf("gateway: the levels of %s carry different ABE headers", e.RecordID)
		}
		header, o.epoch = k.Header, k.Epoch
		o.cids = append(o.cids, rec.Address)
		if o.policy == nil {
			if o.policy, err = s.chain.Policy(ctx, ch, e.RecordID); err != nil {
				return nil, err
			}
		}
	}
	ct, err := abe.JoinCiphertext(header, sealed)
	if err != nil {
		return nil, err
	}
	params, err := s.d.Keys.Params(ctx)
	if err != nil {
		return nil, err
	}
	uk, err := s.d.Keys.CustodianKey(ctx, o.epoch)
	if err != nil {
		return nil, err
	}
	for _, l := range levelsOf(e) {
		if o.data[l], err = params.Scheme.DecryptLevel(uk, ct, envelope.Binding(e.RecordID, e.PolicyVersion), l); err != nil {
			return nil, fmt.Errorf("gateway: opening %s level of %s: %w", l, e.RecordID, err)
		}
	}
	o.ct = ct
	return o, nil
}

// recall re-encrypts the record under fresh keys as a new version (new u
// on every level), blocks User as recalled on every level, and unpins the
// old version's objects here; the other organisations' followers unpin
// them when they see the new version's Tx_sto.
func (s *Server) recall(c *gin.Context, _ *Principal) error {
	ctx := c.Request.Context()
	e, err := s.ownedEntry(ctx, c.Param("id"))
	if err != nil {
		return err
	}
	var req api.RecallRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	if len(req.Reason) > 512 {
		return invalid("reason", "at most 512 bytes")
	}
	if s.d.Objects == nil || s.d.Keys == nil {
		return errNotConfigured("IPFS or the attribute authority")
	}
	out := &api.Recall{Blocked: map[string]string{}}
	if req.User != "" {
		for _, l := range levelsOf(e) {
			_, txID, err := s.chain.Recall(ctx, channelOf(l), req.User, e.RecordID, req.Reason)
			if err != nil {
				return err
			}
			out.Blocked[l.String()] = txID
		}
	}
	o, err := s.openOwned(ctx, e)
	if err != nil {
		return err
	}
	params, err := s.d.Keys.Params(ctx)
	if err != nil {
		return err
	}
	ver := e.PolicyVersion + 1
	hidden := o.ct.Policy()
	ct, err := params.Scheme.Encrypt(s.d.Rand, params.PublicKey, hidden, envelope.Binding(e.RecordID, ver), abe.Levels(o.data))
	if err != nil {
		return err
	}
	var present [policy.NumLevels]bool
	var counts [policy.NumLevels]int
	for l := range o.data {
		present[l] = o.data[l] != nil
	}
	acc := api.Access{MaxProofAge: o.policy.MaxProofAge, TimeZone: o.policy.TimeZone, Windows: o.policy.Windows}
	if acc.NotBefore, err = time.Parse(time.RFC3339Nano, o.policy.NotBefore); err != nil {
		return err
	}
	if acc.NotAfter, err = time.Parse(time.RFC3339Nano, o.policy.NotAfter); err != nil {
		return err
	}
	up, err := s.storeCiphertext(ctx, e.RecordID, ver, o.epoch, kindOfID(e.RecordID), present, counts, ct, hidden, acc, e)
	if err != nil {
		return err
	}
	out.Upload = *up
	if up.Indexed {
		// Unpin the old version only once the new one is what readers find.
		s.unpinAll(o.cids)
		out.Unpinned = o.cids
	}
	if out.Unpinned == nil {
		out.Unpinned = []string{}
	}
	s.log.Info("record recalled", "record", e.RecordID, "version", ver, "blocked", len(out.Blocked))
	return reply(c, http.StatusOK, out)
}
