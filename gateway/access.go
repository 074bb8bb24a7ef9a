package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"regexp"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/medshare/medshare/abe/policy"
	"github.com/medshare/medshare/chaincode/index"
	"github.com/medshare/medshare/chaincode/ptl"
	"github.com/medshare/medshare/chaincode/txbuild"
	"github.com/medshare/medshare/gateway/api"
	"github.com/medshare/medshare/gateway/envelope"
)

// access submits a data user's proof for one level of a record this
// gateway's organisation owns to P-TL. On a grant it answers u, m and
// checkCode of the granted version (m read from the side chain as the
// owner, checked against the decision's H(m)); on a refusal a 403 problem
// with P-TL's reason and the violation's transaction.
func (s *Server) access(c *gin.Context, p *Principal) error {
	ctx := c.Request.Context()
	id := c.Param("id")
	b, _, err := readBody(c.Request, api.JSON)
	if err != nil {
		return err
	}
	var req api.AccessRequest
	if err := decodeStrict(b, &req); err != nil {
		return err
	}
	l, err := parseLevel(c, "level", req.Level)
	if err != nil {
		return err
	}
	if req.Proof == nil {
		return invalid("proof", "is required: the proof the data user signed")
	}
	if req.Proof.RecordID != id {
		return invalid("proof.recordID", "names %q, not the record of the path", req.Proof.RecordID)
	}
	// A proof is submitted by the user who made it: another caller holding
	// it (a copy seen on the way, a proof sent to the wrong gateway) cannot
	// spend its nonce, be answered its m, or have it logged as the user's.
	if me := txbuild.UserID(p.ID.ID()); req.Proof.User != me {
		pr := forbidden("the proof names user %s; the caller's certificate is user %s: a proof is submitted by its own user", req.Proof.User, me)
		pr.Field = "proof.user"
		return pr
	}
	if len(b) > ptl.MaxProofLen*2 {
		return invalid("proof", "is larger than P-TL accepts")
	}
	e, ref, err := s.accessRef(ctx, id, l, true)
	if err != nil {
		return err
	}
	ch := channelOf(l)
	dec, txID, err := s.chain.Access(ctx, ch, req.Proof, s.d.Now())
	if err != nil {
		return err
	}
	user := req.Proof.User
	if !dec.Granted {
		s.m.accesses.WithLabelValues(l.String(), dec.Reason).Inc()
		s.queueAccessLog(e.RecordID, dec.AccessID, user, index.OutcomeDenied, ch, txID)
		pr := problem(http.StatusForbidden, ProblemAccessRefused, "Access refused", dec.Detail)
		pr.Reason, pr.ViolationID, pr.AccessID, pr.Blocked, pr.RecordID = dec.Reason, txID, dec.AccessID, dec.Blocked, id
		return pr
	}
	s.m.accesses.WithLabelValues(l.String(), "granted").Inc()
	s.queueAccessLog(e.RecordID, dec.AccessID, user, index.OutcomeGranted, ch, txID)
	keys, err := s.grantedKeys(ctx, ch, id, dec)
	if err != nil {
		return err
	}
	if dec.Version != ref.Version {
		// The cached index entry may trail the ledger by an event: ask the
		// node before calling it a conflict.
		if _, ref, err = s.accessRef(ctx, id, l, false); err != nil {
			return err
		}
		if dec.Version != ref.Version {
			return conflict("the granted version %d of %s's %s level is not the indexed version %d", dec.Version, id, l, ref.Version)
		}
	}
	return reply(c, http.StatusOK, api.Grant{RecordID: id, Level: l.String(), Channel: ch, ChainVersion: dec.Version,
		Address: dec.Address, CheckCode: dec.CheckCode, Keys: keys, KeysHash: dec.KeysHash, AccessID: dec.AccessID, TxID: txID})
}

// accessRef returns the index entry of a record this gateway owns and its
// reference for level l, through the index cache when cached is set; a
// level the cached entry does not hold is asked of the node before it is
// called missing.
func (s *Server) accessRef(ctx context.Context, id string, l policy.Level, cached bool) (*index.RecordEntry, *index.LevelRef, error) {
	e, err := s.owned(ctx, id, cached)
	if err != nil {
		return nil, nil, err
	}
	ref, err := levelRef(e, l)
	if err != nil && cached && s.idx != nil {
		return s.accessRef(ctx, id, l, false)
	}
	return e, ref, err
}

// grantedKeys returns the wrapped keys m a grant answers: those of the
// granted version, whose hash the decision carries — from the gateway's
// cache of the keys it stored or served, else read from the side chain as
// the owner.
func (s *Server) grantedKeys(ctx context.Context, ch, id string, dec *ptl.Decision) ([]byte, error) {
	k := grantKey{channel: ch, recordID: id, version: dec.Version}
	if m, ok := s.keys.get(k, dec.KeysHash); ok {
		return m, nil
	}
	rec, err := s.chain.StorageRecord(ctx, ch, id)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(rec.Keys)
	if rec.Version != dec.Version || hex.EncodeToString(sum[:]) != dec.KeysHash || len(rec.Keys) == 0 {
		// The record changed between the decision and the read: the user
		// proves again against the new version.
		return nil, conflict("record %s changed while the access was decided (version %d granted, %d stored); prove again", id, dec.Version, rec.Version)
	}
	s.keys.put(k, rec.Keys)
	return rec.Keys, nil
}

// accessLogEntry is an access to log on main after the answer.
type accessLogEntry struct{ in index.RequestInput }

func (s *Server) queueAccessLog(recordID, accessID, user, outcome, ch, txID string) {
	if !s.cfg.AccessLog {
		return
	}
	e := accessLogEntry{in: index.RequestInput{RequestID: accessID, Kind: index.KindAccess, RecordID: recordID, Requestor: user,
		Outcome: outcome, Links: []index.Link{{SideChain: ch, Chaincode: ptl.Name, TxID: txID}}}}
	select {
	case s.logQ <- e:
	default:
		s.log.Warn("access log queue full; the access stays recorded by P-TL only", "record", recordID, "access", accessID)
	}
}

// logAccesses writes queued accesses to the index's request log: every
// access is recorded by P-TL on its side chain; this links it from main.
func (s *Server) logAccesses() {
	defer s.bg.Done()
	for {
		select {
		case e := <-s.logQ:
			s.writeAccessLog(e)
		case <-s.stop:
			for {
				select {
				case e := <-s.logQ:
					s.writeAccessLog(e)
				default:
					return
				}
			}
		}
	}
}

func (s *Server) writeAccessLog(e accessLogEntry) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := s.chain.LogRequest(ctx, e.in); err != nil {
		s.log.Warn("cannot log an access on main", "record", e.in.RecordID, "access", e.in.RequestID, "err", err)
	}
}

var cidRE = regexp.MustCompile(`^(Qm[1-9A-HJ-NP-Za-km-z]{44}|b[a-z2-7]{58,127})$`)

// object serves a stored object from this organisation's IPFS node. The
// gateway does not decrypt it; the reader checks it against checkCode.
func (s *Server) object(c *gin.Context, _ *Principal) error {
	cid := c.Param("cid")
	if !cidRE.MatchString(cid) {
		return badRequest("cid", "not a CID (CIDv0 Qm…, or CIDv1 in base32)")
	}
	if s.d.Objects == nil {
		return errNotConfigured("IPFS")
	}
	b, err := s.d.Objects.Cat(c.Request.Context(), cid)
	if err != nil {
		return err
	}
	if len(b) > envelope.MaxObjectLen {
		return ErrObjectTooLarge
	}
	c.Header("Cache-Control", "no-store")
	c.Data(http.StatusOK, api.Binary, b)
	return nil
}
