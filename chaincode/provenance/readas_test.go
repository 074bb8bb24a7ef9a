package provenance_test

import (
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"github.com/medshare/medshare/chaincode/ccerr"
	"github.com/medshare/medshare/chaincode/internal/cctest"
	"github.com/medshare/medshare/chaincode/provenance"
	"github.com/medshare/medshare/chaincode/ptl"
	"github.com/medshare/medshare/chaincode/storage"
	"github.com/medshare/medshare/chaincode/txbuild"
	"github.com/medshare/medshare/network/identity"
)

// warrantFor signs a warrant of reader for relay valid from nb for d.
func warrantFor(t *testing.T, reader *identity.Signer, relay string, nb time.Time, d time.Duration) string {
	t.Helper()
	w, err := txbuild.SignWarrant(reader, txbuild.WarrantInput{MSP: reader.MSPID(), Certificate: reader.Bytes(), Relay: relay, NotBefore: nb, NotAfter: nb.Add(d)})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func readAs(f *fixture, relay *identity.Signer, cc, w, fn string, args ...string) ([]byte, error) {
	call, err := txbuild.ReadAs(f.Channel, cc, w, fn, args...)
	if err != nil {
		f.T.Fatal(err)
	}
	return f.L.Evaluate(relay, call.Chaincode, call.Fn, call.Args...)
}

// TestReadAsCarriesTheReadersRights: a gateway that may not read a
// requestor's thread reads it with the warrant of an auditor the
// configuration names, or of the requestor itself, and with nothing more
// than that reader's rights.
func TestReadAsCarriesTheReadersRights(t *testing.T) {
	f := newFixture(t, "medium")
	in := f.request(f.requestor, f.H1, req1, []string{"read"}, nil, nil)
	f.Request(in)
	f.Must(f.H2, provenance.Name, "Report", cctest.JSON(t, f.report(f.H2, in, 1, "decrypted", "read")))
	now := f.L.Now()
	user := f.requestor.ID()

	// Hospital 2's gateway alone may not read the thread.
	_, err := f.L.Evaluate(f.H2, provenance.Name, "ListThread", user, "10", "")
	cctest.WantErr(t, err, "caller: only the user it concerns or an auditor the channel's configuration names may list a requestor's thread", ccerr.ErrForbidden)

	// With the auditor's warrant it reads what the auditor reads.
	aw := warrantFor(t, f.Auditor, f.H2.ID(), now.Add(-time.Minute), 10*time.Minute)
	b, err := readAs(f, f.H2, provenance.Name, aw, "ListThread", user, "10", "")
	if err != nil {
		t.Fatal(err)
	}
	pg := cctest.Decode[struct {
		Items []provenance.ParentBlock `json:"items"`
	}](t, b)
	if len(pg.Items) != 1 || pg.Items[0].ID != req1 {
		t.Fatalf("thread through the warrant = %+v", pg.Items)
	}
	b, err = readAs(f, f.H2, provenance.Name, aw, "ListSideBlocks", req1, "10", "")
	if err != nil {
		t.Fatal(err)
	}
	if sb := cctest.Decode[struct {
		Items []provenance.SideBlock `json:"items"`
	}](t, b); len(sb.Items) != 1 {
		t.Fatalf("side-blocks through the warrant = %+v", sb.Items)
	}
	b, err = readAs(f, f.H2, provenance.Name, aw, "VerifyThread", user, "", "100")
	if err != nil {
		t.Fatal(err)
	}
	if v := cctest.Decode[provenance.Verification](t, b); !v.OK {
		t.Fatalf("verification through the warrant = %+v", v)
	}

	// The requestor's own warrant reads its own thread, not another's.
	other := f.NewUser(doctor...)
	rw := warrantFor(t, f.requestor.Identity, f.H2.ID(), now, time.Hour)
	if _, err := readAs(f, f.H2, provenance.Name, rw, "GetRequest", req1); err != nil {
		t.Fatalf("the requestor reads its request through a gateway: %v", err)
	}
	_, err = readAs(f, f.H2, provenance.Name, rw, "ListThread", other.ID(), "10", "")
	cctest.WantErr(t, err, "caller: only the user it concerns or an auditor the channel's configuration names may list a requestor's thread", ccerr.ErrForbidden)

	// A reader with no right gains none from the relay's (hospital 1 owns
	// the request; its doctor does not).
	dw := warrantFor(t, f.Doctor, f.H1.ID(), now, time.Hour)
	_, err = readAs(f, f.H1, provenance.Name, dw, "GetRequest", req1)
	cctest.WantErr(t, err, "caller: only the owner, the user it concerns or an auditor the channel's configuration names may read request "+req1, ccerr.ErrForbidden)
}

// TestReadAsRefusesBadWarrants: each malformed, misdirected, stale or
// forged warrant is refused with the field at fault.
func TestReadAsRefusesBadWarrants(t *testing.T) {
	f := newFixture(t, "medium")
	in := f.request(f.requestor, f.H1, req1, []string{"read"}, nil, nil)
	f.Request(in)
	now := f.L.Now()
	good := warrantFor(t, f.Auditor, f.H2.ID(), now.Add(-time.Minute), 10*time.Minute)
	forger := f.Org2.Client(t, "forger", nil)
	forged := func() string {
		w := cctest.Decode[txbuild.Warrant](t, []byte(good))
		other := cctest.Decode[txbuild.Warrant](t, []byte(warrantFor(t, forger, f.H2.ID(), now.Add(-time.Minute), 10*time.Minute)))
		w.Signature = other.Signature
		return cctest.JSON(t, w)
	}()
	outsider := func() string {
		ca, err := identity.NewCA(rand.Reader, "EvilMSP", "evil", "ca.evil", now.Add(-time.Hour), now.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		s, err := ca.IssueSigner(rand.Reader, identity.Request{CommonName: "mallory", Role: identity.RoleClient, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		return warrantFor(t, s, f.H2.ID(), now, time.Hour)
	}()
	for _, tc := range []struct {
		name, w, fn string
		relay       *identity.Signer
		msg         string
		kind        error
	}{
		{"another relay presents it", good, "GetRequest", f.H1, "warrant.relay: names " + f.H2.ID() + ", not the creator of this query", ccerr.ErrForbidden},
		{"expired", warrantFor(t, f.Auditor, f.H2.ID(), now.Add(-2*time.Hour), time.Hour), "GetRequest", f.H2, "", ccerr.ErrInvalidArgument},
		{"not yet valid", warrantFor(t, f.Auditor, f.H2.ID(), now.Add(10*time.Minute), time.Hour), "GetRequest", f.H2, "", ccerr.ErrInvalidArgument},
		{"valid too long", func() string {
			w := cctest.Decode[txbuild.Warrant](t, []byte(good))
			w.NotAfter = txbuild.FormatTime(now.Add(3 * time.Hour))
			return cctest.JSON(t, w)
		}(), "GetRequest", f.H2, "warrant.notAfter: must be after notBefore, at most 1h0m0s later", ccerr.ErrInvalidArgument},
		{"another key signed", forged, "GetRequest", f.H2, "warrant.signature: does not verify under the reader's certificate key over the warrant digest", ccerr.ErrInvalidArgument},
		{"a certificate of no member", outsider, "GetRequest", f.H2, "", ccerr.ErrForbidden},
		{"an admin reads through a relay", warrantFor(t, f.Admin2, f.H2.ID(), now, time.Hour), "GetRequest", f.H2, "warrant.reader: only client identities read through a relay; the reader's role is admin", ccerr.ErrForbidden},
		{"unknown field", `{"msp":"x","extra":1}`, "GetRequest", f.H2, "", ccerr.ErrInvalidArgument},
		{"not JSON", "x", "GetRequest", f.H2, "", ccerr.ErrInvalidArgument},
		{"a write through a warrant", good, "Request", f.H2, "", ccerr.ErrInvalidArgument},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := readAs(f, tc.relay, provenance.Name, tc.w, tc.fn, req1)
			if tc.msg != "" {
				cctest.WantErr(t, err, tc.msg, tc.kind)
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			if !errors.Is(err, tc.kind) {
				t.Fatalf("%v is not %v", err, tc.kind)
			}
		})
	}
	// Wrong arity.
	_, err := readAs(f, f.H2, provenance.Name, good, "ListThread", f.requestor.ID())
	cctest.WantErr(t, err, "args: ListThread takes 3 arguments, got 1", ccerr.ErrInvalidArgument)
}

// TestReadAsOnPTLAndStorage: the same warrant reads a user's access log on
// P-TL and a record's history on storage, as the auditor.
func TestReadAsOnPTLAndStorage(t *testing.T) {
	f := newFixture(t, "medium")
	p := f.NewProof(f.requestor, f.recs[0], doctor, nil)
	f.Access(f.H1, p)
	now := f.L.Now()
	aw := warrantFor(t, f.Auditor, f.H2.ID(), now, time.Hour)
	_, err := f.L.Evaluate(f.H2, ptl.Name, "ListUserLog", f.requestor.ID(), "10", "")
	if err == nil {
		t.Fatal("hospital 2's gateway read a user's log by itself")
	}
	b, err := readAs(f, f.H2, ptl.Name, aw, "ListUserLog", f.requestor.ID(), "10", "")
	if err != nil {
		t.Fatal(err)
	}
	if lg := cctest.Decode[struct {
		Items []ptl.LogEntry `json:"items"`
	}](t, b); len(lg.Items) != 1 || !lg.Items[0].Granted {
		t.Fatalf("user log through the warrant = %+v", lg.Items)
	}
	_, err = readAs(f, f.H2, ptl.Name, aw, "ListViolations", "*", "10", "")
	cctest.WantErr(t, err, "target: through a warrant, name the record", ccerr.ErrInvalidArgument)
	b, err = readAs(f, f.H2, storage.Name, aw, "History", rec1, "10", "")
	if err != nil {
		t.Fatal(err)
	}
	if h := cctest.Decode[struct {
		Items []storage.Record `json:"items"`
	}](t, b); len(h.Items) != 1 || h.Items[0].RecordID != rec1 {
		t.Fatalf("history through the warrant = %+v", h.Items)
	}
	dw := warrantFor(t, f.Doctor, f.H2.ID(), now, time.Hour)
	_, err = readAs(f, f.H2, storage.Name, dw, "History", rec1, "10", "")
	if err == nil {
		t.Fatal("a doctor read a record's history through a warrant")
	}
}
