package storage_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/medshare/medshare/chaincode/ccerr"
	"github.com/medshare/medshare/chaincode/internal/cctest"
	"github.com/medshare/medshare/chaincode/storage"
	"github.com/medshare/medshare/chaincode/txbuild"
)

func TestStoreAndGetRecord(t *testing.T) {
	s := cctest.NewSide(t, "high")
	res, err := s.L.Submit(s.H1, storage.Name, "Store", s.StoreArgs(s.H1, rec1, 1, "")...)
	if err != nil {
		t.Fatal(err)
	}
	got := cctest.Decode[storage.Record](t, res.Payload)
	if got.Version != 1 || got.Owner != s.H1.ID() || got.OwnerMSP != "Hospital1MSP" || got.Level != "high" || got.Keys != nil {
		t.Errorf("Store returned %+v", got)
	}
	if len(res.Events) != 1 || res.Events[0].Name != storage.EventStored {
		t.Errorf("events = %v, want one Stored", res.Events)
	}
	owner := cctest.Decode[storage.Record](t, s.Query(s.H1, storage.Name, "GetRecord", rec1))
	if string(owner.Keys) != "wrapped-keys:"+rec1 {
		t.Errorf("owner sees keys %q", owner.Keys)
	}
	other := cctest.Decode[storage.Record](t, s.Query(s.H2, storage.Name, "GetRecord", rec1))
	if other.Keys != nil || other.Address != owner.Address || other.CheckCode != owner.CheckCode {
		t.Errorf("another member sees %+v", other)
	}
	// Records are decoded once and shared: hiding the keys from another
	// member must not hide them from the owner.
	if again := cctest.Decode[storage.Record](t, s.Query(s.H1, storage.Name, "GetRecord", rec1)); string(again.Keys) != "wrapped-keys:"+rec1 {
		t.Errorf("owner sees keys %q after another member's read", again.Keys)
	}
	_, err = s.L.Evaluate(s.H1, storage.Name, "GetRecord", rec2)
	cctest.WantErr(t, err, "recordID: record "+rec2+" does not exist on side-high", ccerr.ErrNotFound)
}

func TestStoreRejectsBadArguments(t *testing.T) {
	s := cctest.NewSide(t, "medium")
	good := s.StoreArgs(s.H1, rec1, 1, "")
	with := func(i int, v string) []string {
		a := append([]string(nil), good...)
		a[i] = v
		return a
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"empty id", with(0, ""), "recordID: must be 1..128 characters of [A-Za-z0-9._:-]"},
		{"id with slash", with(0, "a/b"), "recordID: must be 1..128 characters of [A-Za-z0-9._:-]"},
		{"long id", with(0, strings.Repeat("a", 129)), "recordID: must be 1..128 characters of [A-Za-z0-9._:-]"},
		{"version 0", with(1, "0"), "version: must be at least 1"},
		{"new record version 2", with(1, "2"), "version: must be 1 for a new record, got 2"},
		{"address", with(2, "http://x"), `address: must be an IPFS CID: CIDv0 ("Qm" and 44 base58 characters) or CIDv1 in base32 ("b" and 58..127 characters of [a-z2-7])`},
		{"address base58 0", with(2, "Qm0"+good[2][3:]), `address: must be an IPFS CID: CIDv0 ("Qm" and 44 base58 characters) or CIDv1 in base32 ("b" and 58..127 characters of [a-z2-7])`},
		{"keys not base64", with(3, "!!"), "keys: must be standard base64 with padding"},
		{"keys empty", with(3, ""), "keys: must be 1..65536 bytes, got 0"},
		{"checkCode short", with(4, "abcd"), "checkCode: must be a SHA-256 digest as 64 lowercase hexadecimal characters"},
		{"checkCode upper", with(4, "AB"+good[4][2:]), "checkCode: must be a SHA-256 digest as 64 lowercase hexadecimal characters"},
		{"signature not base64", with(5, "%%"), "signature: must be standard base64 with padding"},
		{"signature short", with(5, cctest.B64([]byte{1, 2})), "signature: must be 8..72 bytes, got 2"},
		{"signature over other keys", with(3, cctest.B64([]byte("other"))), "signature: does not verify against the creator's certificate key over the Tx_sto digest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.L.Submit(s.H1, storage.Name, "Store", tt.args...)
			cctest.WantErr(t, err, tt.want, ccerr.ErrInvalidArgument)
		})
	}
	if keys := s.L.Store().Keys(storage.Name, ""); len(keys) != 2 { // the config and its applied record only
		t.Errorf("failed transactions wrote %q", keys)
	}
	// Someone else's Tx_sto, by the wrong creator: the id is not its own.
	_, err := s.L.Submit(s.H2, storage.Name, "Store", good...)
	cctest.WantErr(t, err, "recordID: belongs to identity hash "+txbuild.UserID(cctest.H1ID)+"; ids of the caller (the record's owner) start with "+txbuild.UserID(cctest.H2ID)+":", ccerr.ErrForbidden)
	// Someone else's signature, on an id of the creator's.
	mine := s.StoreArgs(s.H1, cctest.H2Rec("rec-1"), 1, "")
	_, err = s.L.Submit(s.H2, storage.Name, "Store", mine...)
	cctest.WantErr(t, err, "signature: does not verify against the creator's certificate key over the Tx_sto digest", ccerr.ErrInvalidArgument)
}

func TestSignatureBindsChannelAndVersion(t *testing.T) {
	high, low := cctest.NewSide(t, "high"), cctest.NewSide(t, "low")
	low.H1 = high.H1
	// A Tx_sto signed for side-high cannot be replayed on side-low.
	_, err := low.L.Submit(high.H1, storage.Name, "Store", high.StoreArgs(high.H1, rec1, 1, "")...)
	cctest.WantErr(t, err, "signature: does not verify against the creator's certificate key over the Tx_sto digest", nil)
	// Nor a version-1 signature as version 2.
	high.Store(high.H1, rec1)
	v1 := high.StoreArgs(high.H1, rec1, 1, "b")
	v1[1] = "2"
	_, err = high.L.Submit(high.H1, storage.Name, "Store", v1...)
	cctest.WantErr(t, err, "signature: does not verify against the creator's certificate key over the Tx_sto digest", nil)
}

func TestUpdatesKeepHistoryAndOwnership(t *testing.T) {
	s := cctest.NewSide(t, "high")
	s.Store(s.H1, rec1)
	s.L.Advance(time.Hour)
	s.Must(s.H1, storage.Name, "Store", s.StoreArgs(s.H1, rec1, 2, "v2")...)
	s.L.Advance(time.Hour)
	s.Must(s.H1, storage.Name, "Store", s.StoreArgs(s.H1, rec1, 3, "v3")...)

	_, err := s.L.Submit(s.H1, storage.Name, "Store", s.StoreArgs(s.H1, rec1, 3, "again")...)
	cctest.WantErr(t, err, "version: must be 4 (the current version is 3), got 3", ccerr.ErrInvalidArgument)
	_, err = s.L.Submit(s.H2, storage.Name, "Store", s.StoreArgs(s.H2, rec1, 4, "theft")...)
	cctest.WantErr(t, err, "caller: only the owner may update record "+rec1, ccerr.ErrForbidden)
	// A doctor of the same organisation is not the owner either.
	_, err = s.L.Submit(s.Doctor, storage.Name, "Store", s.StoreArgs(s.Doctor, rec1, 4, "theft")...)
	cctest.WantErr(t, err, "caller: only the owner may update record "+rec1, ccerr.ErrForbidden)
	_, err = s.L.Submit(s.Admin, storage.Name, "Store", s.StoreArgs(s.Admin, rec2, 1, "")...)
	cctest.WantErr(t, err, "caller: only client identities may store records; the creator's role is admin", ccerr.ErrForbidden)

	cur := cctest.Decode[storage.Record](t, s.Query(s.H1, storage.Name, "GetRecord", rec1))
	if cur.Version != 3 || !cur.CreatedAt.Equal(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) || !cur.UpdatedAt.Equal(s.L.Now()) {
		t.Errorf("current = v%d created %s updated %s", cur.Version, cur.CreatedAt, cur.UpdatedAt)
	}
	type page struct {
		Items    []storage.Record
		Bookmark string
	}
	p1 := cctest.Decode[page](t, s.Query(s.H1, storage.Name, "History", rec1, "2", ""))
	p2 := cctest.Decode[page](t, s.Query(s.H1, storage.Name, "History", rec1, "2", p1.Bookmark))
	var versions []uint64
	for _, r := range append(p1.Items, p2.Items...) {
		versions = append(versions, r.Version)
		if r.Keys == nil {
			t.Errorf("owner's history of v%d lacks keys", r.Version)
		}
	}
	if fmt.Sprint(versions) != "[3 2 1]" || p1.Bookmark != "1" || p2.Bookmark != "" {
		t.Errorf("history = %v (bookmarks %q, %q)", versions, p1.Bookmark, p2.Bookmark)
	}
	audit := cctest.Decode[page](t, s.Query(s.Auditor, storage.Name, "History", rec1, "10", ""))
	if len(audit.Items) != 3 || audit.Items[0].Keys != nil {
		t.Errorf("auditor's history: %d versions, keys %q", len(audit.Items), audit.Items[0].Keys)
	}
	_, err = s.L.Evaluate(s.H2, storage.Name, "History", rec1, "10", "")
	cctest.WantErr(t, err, "caller: only the owner or an auditor the channel's configuration names may read a record's history", ccerr.ErrForbidden)
	_, err = s.L.Evaluate(s.H1, storage.Name, "History", rec1, "10", "9")
	cctest.WantErr(t, err, `bookmark: must be "" or a version number from 1 to 3`, ccerr.ErrInvalidArgument)
}

func TestListingsPaginate(t *testing.T) {
	s := cctest.NewSide(t, "low")
	for i := range 5 {
		s.Store(s.H1, cctest.H1Rec(fmt.Sprintf("rec-%d", i)))
		s.L.Advance(time.Minute)
	}
	s.Store(s.H2, other)
	type page struct {
		Items    []storage.Summary
		Bookmark string
	}
	var ids []string
	bookmark, pages := "", 0
	for {
		p := cctest.Decode[page](t, s.Query(s.H1, storage.Name, "ListByOwner", "", "2", bookmark))
		pages++
		for _, it := range p.Items {
			ids = append(ids, it.RecordID)
		}
		if bookmark = p.Bookmark; bookmark == "" {
			break
		}
	}
	if want := fmt.Sprint([]string{cctest.H1Rec("rec-0"), rec1, rec2, cctest.H1Rec("rec-3"), cctest.H1Rec("rec-4")}); fmt.Sprint(ids) != want || pages != 3 {
		t.Errorf("ListByOwner = %v in %d pages", ids, pages)
	}
	from := time.Date(2026, 1, 1, 0, 1, 0, 0, time.UTC).Format(time.RFC3339)
	to := time.Date(2026, 1, 1, 0, 3, 0, 0, time.UTC).Format(time.RFC3339)
	p := cctest.Decode[page](t, s.Query(s.Auditor, storage.Name, "ListByTime", from, to, "100", ""))
	if len(p.Items) != 2 || p.Items[0].RecordID != rec1 || p.Items[1].RecordID != rec2 {
		t.Errorf("ListByTime = %+v", p.Items)
	}
	tests := []struct {
		who  string
		fn   string
		args []string
		want string
	}{
		{"h1", "ListByOwner", []string{"", "0", ""}, "pageSize: must be 1..100, got 0"},
		{"h1", "ListByOwner", []string{"", "101", ""}, "pageSize: must be 1..100, got 101"},
		{"h1", "ListByOwner", []string{"", "2", "not a bookmark"}, `bookmark: is not a bookmark of this listing; pass the bookmark the previous page returned, or "" to start`},
		{"h1", "ListByOwner", []string{s.H2.ID(), "2", ""}, "caller: only the owner or an auditor the channel's configuration names may list an owner's records"},
		{"h1", "ListByTime", []string{from, to, "10", ""}, "caller: only an auditor the channel's configuration names may list records by time"},
		{"auditor", "ListByTime", []string{to, from, "10", ""}, "to: must be after from"},
		{"auditor", "ListByTime", []string{"yesterday", to, "10", ""}, "from: must be an RFC 3339 time between 1970 and 2200, such as 2026-01-02T15:04:05Z"},
	}
	for _, tt := range tests {
		who := s.H1
		if tt.who == "auditor" {
			who = s.Auditor
		}
		_, err := s.L.Evaluate(who, storage.Name, tt.fn, tt.args...)
		cctest.WantErr(t, err, tt.want, nil)
	}
	// A bookmark of another owner's listing is refused.
	first := cctest.Decode[page](t, s.Query(s.H1, storage.Name, "ListByOwner", "", "1", ""))
	_, err := s.L.Evaluate(s.H2, storage.Name, "ListByOwner", "", "1", first.Bookmark)
	cctest.WantErr(t, err, `bookmark: is not a bookmark of this listing; pass the bookmark the previous page returned, or "" to start`, ccerr.ErrInvalidArgument)
}

func TestInit(t *testing.T) {
	c := cctest.NewConsortium(t, "side-high")
	cctest.Deploy(t, c.L, storage.Name, storage.New)
	client := c.Org1.Client(t, "gw", nil)

	_, err := c.L.Submit(client, storage.Name, "Store", rec1, "1", cctest.CID("x"), "AA==", fmt.Sprintf("%064d", 0), "AAAAAAAAAAA=")
	cctest.WantErr(t, err, "storage is not initialised on this channel: the channel admin must call Init first", ccerr.ErrNotInitialised)
	for _, id := range []string{rec1, "bad id"} {
		_, err = c.L.Evaluate(client, storage.Name, "GetRecord", id)
		cctest.WantErr(t, err, "storage is not initialised on this channel: the channel admin must call Init first", ccerr.ErrNotInitialised)
	}

	tests := []struct {
		cfg  string
		want string
	}{
		{`{"level":"top"}`, "lifecycle: init of storage: chaincode storage: config.level: must be one of high, medium, low"},
		{`{"level":"high","extra":1}`, `lifecycle: init of storage: chaincode storage: config: invalid JSON: unknown field "extra"`},
		{`{"level":"high"} {}`, "lifecycle: init of storage: chaincode storage: config: invalid JSON: trailing data after the object"},
		{`{"level":"high","auditors":["nobody"]}`, `lifecycle: init of storage: chaincode storage: config.auditors[0]: must be an identity's unique name, "x509::<subject>::<issuer>"`},
		{`{"level":"high"}`, ""},
		{`{"level":"high","auditors":["` + client.ID() + `"]}`, ""}, // a majority may update
		{`{"level":"low"}`, "lifecycle: init of storage: chaincode storage: config.level: cannot change from high to low once set"},
	}
	for _, tt := range tests {
		err := c.Configure(storage.Name, tt.cfg)
		if tt.want == "" {
			if err != nil {
				t.Errorf("Init(%s): %v", tt.cfg, err)
			}
			continue
		}
		cctest.WantErr(t, err, tt.want, nil)
	}
}

var (
	rec1, rec2 = cctest.H1Rec("rec-1"), cctest.H1Rec("rec-2")
	other      = cctest.H2Rec("other")
)
