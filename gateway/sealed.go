package gateway

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/medshare/medshare/abe/policy"
	"github.com/medshare/medshare/chaincode/txbuild"
	"github.com/medshare/medshare/gateway/api"
	"github.com/medshare/medshare/gateway/envelope"
)

// uploadSealed stores a record its owner sealed on its own side: the
// gateway checks that each level's m names the record, version 1 and the
// level, and that each hidden policy is a policy of tags, then stores it as
// any upload (IPFS, Tx_sto and policies, index), without grading or
// encrypting anything.
func (s *Server) uploadSealed(c *gin.Context, _ *Principal) error {
	if s.d.Objects == nil {
		return errNotConfigured("IPFS")
	}
	var req api.SealedUpload
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	work, acc, err := s.sealedWork(&req)
	if err != nil {
		return err
	}
	if _, err := s.chain.IndexEntry(c.Request.Context(), req.RecordID); err == nil {
		return conflict("record %s exists; pre-sealed uploads create new records", req.RecordID)
	} else if !isNotFound(err) {
		return err
	}
	up, err := s.storeWork(c.Request.Context(), req.RecordID, 1, kindOfID(req.RecordID), [policy.NumLevels]int{}, work, acc, nil)
	if err != nil {
		return err
	}
	status := http.StatusCreated
	if !up.Indexed {
		status = http.StatusAccepted
	}
	return reply(c, status, up)
}

// sealedWork validates a pre-sealed upload and returns its levels and
// access terms.
func (s *Server) sealedWork(req *api.SealedUpload) ([]*levelWork, api.Access, error) {
	var acc api.Access
	bad := func(field, format string, a ...any) ([]*levelWork, api.Access, error) {
		return nil, acc, invalid(field, format, a...)
	}
	if !recordIDRE.MatchString(req.RecordID) {
		return bad("recordId", "a record id is 1..128 characters of [A-Za-z0-9._:-]")
	}
	if prefix := txbuild.RecordID(s.d.Signer.ID(), ""); !strings.HasPrefix(req.RecordID, prefix) || len(req.RecordID) == len(prefix) {
		return bad("recordId", "the ids of this gateway's records are %s<name> (GET /api/v1/whoami: recordPrefix)", prefix)
	}
	if len(req.Levels) == 0 || len(req.Levels) > policy.NumLevels {
		return bad("levels", "1 to 3 levels")
	}
	var work []*levelWork
	withPolicy := false
	seen := map[policy.Level]bool{}
	for i, sl := range req.Levels {
		f := fmt.Sprintf("levels[%d]", i)
		l, err := policy.ParseLevel(sl.Level)
		if err != nil {
			return bad(f+".level", "low, medium or high")
		}
		if seen[l] {
			return bad(f+".level", "%s is given twice", l)
		}
		seen[l] = true
		k, err := envelope.ParseKeys(sl.Keys)
		if err != nil {
			return bad(f+".keys", "%v", err)
		}
		if k.RecordID != req.RecordID || k.Version != 1 || k.Level != l {
			return bad(f+".keys", "m must name record %s, version 1, level %s", req.RecordID, l)
		}
		if len(sl.Object) == 0 || len(sl.Object) > envelope.MaxObjectLen || !bytes.HasPrefix(sl.Object, []byte("mGWO")) {
			return bad(f+".object", "not a sealed level object")
		}
		if sl.HiddenPolicy != nil {
			t, err := policy.Unmarshal(sl.HiddenPolicy)
			if err != nil || !t.Hidden() {
				return bad(f+".hiddenPolicy", "must be a policy tree whose leaves are tags")
			}
			withPolicy = true
		}
		work = append(work, &levelWork{level: l, keys: sl.Keys, object: sl.Object, sum: sha256.Sum256(sl.Object), policy: sl.HiddenPolicy, supplied: true})
	}
	if withPolicy {
		if req.Access == nil {
			return bad("access", "access terms are required with a policy")
		}
		acc = *req.Access
		if err := validateAccess(&acc); err != nil {
			return nil, acc, err
		}
	}
	return work, acc, nil
}
