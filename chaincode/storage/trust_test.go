package storage_test

// Regression tests of issue 11's holes in the storage chaincode.

import (
	"testing"

	"github.com/medshare/medshare/chaincode/ccerr"
	"github.com/medshare/medshare/chaincode/internal/cctest"
	"github.com/medshare/medshare/chaincode/storage"
	"github.com/medshare/medshare/chaincode/txbuild"
	"github.com/medshare/medshare/network/identity"
)

// Hole 6: record ids went to whoever stored them first, so another
// hospital could take the id hospital 1 was about to use on one side chain
// and make its upload fail.
func TestRecordIDsBelongToTheirOwner(t *testing.T) {
	s := cctest.NewSide(t, "high")
	next := cctest.H1Rec("rec-next")
	// Hospital 2 tries to take it first, with a correctly signed Tx_sto.
	_, err := s.L.Submit(s.H2, storage.Name, "Store", s.StoreArgs(s.H2, next, 1, "")...)
	cctest.WantErr(t, err, "recordID: belongs to identity hash "+txbuild.UserID(cctest.H1ID)+"; ids of the caller (the record's owner) start with "+txbuild.UserID(cctest.H2ID)+":", ccerr.ErrForbidden)
	// Nor can anyone take an unscoped id.
	_, err = s.L.Submit(s.H2, storage.Name, "Store", s.StoreArgs(s.H2, "rec-next", 1, "")...)
	cctest.WantErr(t, err, `recordID: must be "<scope>:<name>": the identity hash of the caller (the record's owner) (32 lowercase hexadecimal characters), ":" and 1..95 characters of [A-Za-z0-9._:-]`, ccerr.ErrInvalidArgument)
	// Hospital 1's upload goes through.
	if rec := s.Store(s.H1, next); rec.Owner != s.H1.ID() || rec.RecordID != next {
		t.Fatalf("stored %+v", rec)
	}
}

// Hole 5: record histories and listings were readable by every
// organisation's admin and by any self-declared auditor.
func TestRecordAuditReadsAreScoped(t *testing.T) {
	s := cctest.NewSide(t, "high")
	s.Store(s.H1, rec1)
	selfMade := s.Org2.Client(t, "self-made-auditor", map[string]string{"medshare.auditor": "true"})
	for _, who := range []*identity.Signer{s.Admin, s.Admin2, selfMade, s.H2} {
		_, err := s.L.Evaluate(who, storage.Name, "History", rec1, "10", "")
		cctest.WantErr(t, err, "caller: only the owner or an auditor the channel's configuration names may read a record's history", ccerr.ErrForbidden)
		_, err = s.L.Evaluate(who, storage.Name, "ListByOwner", s.H1.ID(), "10", "")
		cctest.WantErr(t, err, "caller: only the owner or an auditor the channel's configuration names may list an owner's records", ccerr.ErrForbidden)
		_, err = s.L.Evaluate(who, storage.Name, "ListByTime", "2025-01-01T00:00:00Z", "2027-01-01T00:00:00Z", "10", "")
		cctest.WantErr(t, err, "caller: only an auditor the channel's configuration names may list records by time", ccerr.ErrForbidden)
	}
	for _, who := range []*identity.Signer{s.H1, s.Auditor} {
		if _, err := s.L.Evaluate(who, storage.Name, "History", rec1, "10", ""); err != nil {
			t.Errorf("History by %s: %v", who.ID(), err)
		}
	}
}
