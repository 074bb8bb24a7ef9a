package txbuild_test

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/medshare/medshare/abe/credential"
	"github.com/medshare/medshare/abe/policy"
	"github.com/medshare/medshare/abe/tag"
	"github.com/medshare/medshare/chaincode/index"
	"github.com/medshare/medshare/chaincode/internal/cctest"
	"github.com/medshare/medshare/chaincode/internal/page"
	"github.com/medshare/medshare/chaincode/provenance"
	"github.com/medshare/medshare/chaincode/ptl"
	"github.com/medshare/medshare/chaincode/storage"
	"github.com/medshare/medshare/chaincode/txbuild"
	"github.com/medshare/medshare/network/identity"
)

var (
	rec1, rec2 = cctest.H1Rec("rec-1"), cctest.H1Rec("rec-2")
	validFrom  = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	validUntil = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	doctor     = []string{"role=doctor", "specialty=cardiology", "trust>=1", "trust>=2"}
)

// must(f())(t) returns f's value or fails the test with f's error.
func must[T any](v T, err error) func(testing.TB) T {
	return func(t testing.TB) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// submit runs a built call on the in-memory side ledger and returns its
// payload, failing the test on any error.
func submit(t testing.TB, s *cctest.Side, who *identity.Signer, c txbuild.Call) []byte {
	t.Helper()
	if c.Channel != s.Channel {
		t.Fatalf("%s: built for channel %s, ledger is %s", c, c.Channel, s.Channel)
	}
	return s.Must(who, c.Chaincode, c.Fn, c.Args...)
}

// store stores version 1 of recordID for owner and sets a doctor policy.
func store(t *testing.T, s *cctest.Side, owner *identity.Signer, recordID string) *storage.Record {
	t.Helper()
	ciphertext := []byte("ciphertext of " + recordID)
	call := must(txbuild.Store(owner, s.Channel, txbuild.StoreInput{RecordID: recordID, Version: 1,
		Address: txbuild.RawCID(ciphertext), Keys: []byte("wrapped keys"), CheckCode: sha256.Sum256(ciphertext)}))(t)
	rec := cctest.Decode[storage.Record](t, submit(t, s, owner, call))
	hidden := must(txbuild.HidePolicy(s.TagKey, "role=doctor and specialty=cardiology and trust>=2"))(t)
	submit(t, s, owner, must(txbuild.SetPolicy(s.Channel, recordID, ptl.PolicyInput{HiddenPolicy: hidden,
		NotBefore: "2025-01-01T00:00:00Z", NotAfter: "2027-01-01T00:00:00Z"}))(t))
	return rec
}

func hexSHA256(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func TestStoreIsAcceptedWithExactFields(t *testing.T) {
	s := cctest.NewSide(t, "high")
	ciphertext := []byte("C")
	in := txbuild.StoreInput{RecordID: rec1, Version: 1, Address: txbuild.RawCID(ciphertext), Keys: []byte{1, 2, 3}, CheckCode: sha256.Sum256(ciphertext)}
	call := must(txbuild.Store(s.H1, s.Channel, in))(t)
	if call.Chaincode != storage.Name || call.Fn != "Store" || call.String() != "side-high/storage:Store" {
		t.Fatalf("call = %s", call)
	}
	sum := sha256.Sum256(ciphertext)
	want := []string{rec1, "1", in.Address, "AQID", hex.EncodeToString(sum[:])}
	if !slices.Equal(call.Args[:5], want) {
		t.Errorf("args = %q, want %q and a signature", call.Args, want)
	}
	sig := must(base64.StdEncoding.DecodeString(call.Args[5]))(t)
	d := storage.Digest("side-high", rec1, 1, in.Address, in.Keys, in.CheckCode)
	if err := identity.VerifyDigest(s.H1.PublicKey(), d[:], sig); err != nil {
		t.Errorf("Tx_sto signature: %v", err)
	}
	rec := cctest.Decode[storage.Record](t, submit(t, s, s.H1, call))
	if rec.RecordID != rec1 || rec.Version != 1 || rec.Address != in.Address || rec.CheckCode != hex.EncodeToString(sum[:]) || rec.Owner != s.H1.ID() {
		t.Errorf("stored %+v", rec)
	}
	// The signature binds the channel: the same Tx_sto is refused on
	// another side chain.
	other := cctest.NewSide(t, "low")
	_, err := other.L.Submit(s.H1, call.Chaincode, call.Fn, call.Args...)
	cctest.WantErr(t, err, "signature: does not verify against the creator's certificate key over the Tx_sto digest", nil)
}

func TestAccessProofsAreJudgedAsBuilt(t *testing.T) {
	s := cctest.NewSide(t, "high")
	rec := store(t, s, s.H1, rec1)
	pol := cctest.Decode[ptl.Policy](t, s.Query(s.Doctor, ptl.Name, "GetPolicy", rec1))
	now := s.L.Now()
	dr := must(txbuild.IssueUser(nil, s.AA.Private, s.TagKey, s.Doctor.ID(), 1, validFrom, validUntil, append(doctor, "org=hospital1")...))(t)
	nurse := must(txbuild.IssueUser(nil, s.AA.Private, s.TagKey, "x509::CN=nurse::CN=ca", 1, validFrom, validUntil, "role=nurse", "specialty=cardiology", "trust>=1", "trust>=2"))(t)
	replayed := must(dr.ProofFor(nil, s.Channel, pol, rec.Address, now))(t)
	tests := []struct {
		name   string
		proof  func() *ptl.Proof
		reason string
	}{
		{name: "policy met, only the needed tags disclosed", proof: func() *ptl.Proof { return replayed }},
		{name: "replay", proof: func() *ptl.Proof { return replayed }, reason: ptl.ReasonReplay},
		{name: "expired", reason: ptl.ReasonExpired, proof: func() *ptl.Proof {
			return must(dr.ProofFor(nil, s.Channel, pol, rec.Address, now.Add(-6*time.Minute)))(t)
		}},
		{name: "policy not met", reason: ptl.ReasonPolicyNotMet, proof: func() *ptl.Proof {
			return must(nurse.Proof(nil, txbuild.ProofInput{Channel: s.Channel, RecordID: rec1, Address: rec.Address, PolicyVersion: pol.Version, Time: now, Disclose: nurse.Wallet.Tags()}))(t)
		}},
		{name: "signed for another channel", reason: ptl.ReasonBadSignature, proof: func() *ptl.Proof {
			return must(dr.ProofFor(nil, "side-low", pol, rec.Address, now))(t)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.proof()
			call := must(txbuild.Access(s.Channel, p, s.L.Now()))(t)
			d := cctest.Decode[ptl.Decision](t, submit(t, s, s.H1, call))
			wantID := must(txbuild.AccessID(s.Channel, p))(t)
			if d.Granted != (tc.reason == "") || d.Reason != tc.reason || d.AccessID != wantID || d.RecordID != rec1 || d.User != p.User || p.User != txbuild.UserID(s.Doctor.ID()) && p.User != txbuild.UserID("x509::CN=nurse::CN=ca") {
				t.Errorf("decision = %+v, want reason %q and access id %s", d, tc.reason, wantID)
			}
			if tc.reason == "" && (d.Address != rec.Address || d.KeysHash != hexSHA256("wrapped keys") || d.Version != 1) {
				t.Errorf("grant = %+v", d)
			}
		})
	}
	// The call carries the proof and T_stemp; sign_DO is the transaction's
	// signature.
	call := must(txbuild.Access(s.Channel, replayed, now))(t)
	stamp := must(time.Parse(time.RFC3339Nano, call.Args[1]))(t)
	if len(call.Args) != 2 || call.Args[0] != string(must(json.Marshal(replayed))(t)) || !stamp.Equal(now) {
		t.Errorf("Access args = %q, want the proof and the stamp %s", call.Args, now)
	}
	// Only the owner may submit it: another hospital's transaction fails.
	other := must(txbuild.Access(s.Channel, must(dr.ProofFor(nil, s.Channel, pol, rec.Address, now))(t), now))(t)
	_, err := s.L.Submit(s.H2, other.Chaincode, other.Fn, other.Args...)
	cctest.WantErr(t, err, "caller: only the owner of record "+rec1+" may submit access transactions for it", nil)
}

func TestProofForDisclosesOnlyWhatThePolicyNeeds(t *testing.T) {
	s := cctest.NewSide(t, "high")
	rec := store(t, s, s.H1, rec1)
	pol := cctest.Decode[ptl.Policy](t, s.Query(s.Doctor, ptl.Name, "GetPolicy", rec1))
	dr := must(txbuild.IssueUser(nil, s.AA.Private, s.TagKey, s.Doctor.ID(), 1, validFrom, validUntil, append(doctor, "org=hospital1", "trust>=3")...))(t)
	p := must(dr.ProofFor(nil, s.Channel, pol, rec.Address, s.L.Now()))(t)
	tags := decodeTags(t, s, p)
	if want := s.TagKey.Tags([]string{"role=doctor", "specialty=cardiology", "trust>=2"}); !slices.Equal(tags, want) {
		t.Errorf("disclosed %v, want %v", tags, want)
	}
	if len(p.Nonce) != ptl.MinNonceLen || !slices.Equal(p.Key, dr.DER) || p.RecordID != rec1 || p.Time != txbuild.FormatTime(s.L.Now()) ||
		p.PolicyVersion != pol.Version || p.User != dr.ID() || !slices.Equal(p.Enrolment, dr.Enrolment.Signature) {
		t.Errorf("proof = %+v", p)
	}
	again := must(dr.ProofFor(nil, s.Channel, pol, rec.Address, s.L.Now()))(t)
	if slices.Equal(again.Nonce, p.Nonce) || !slices.Equal(again.Disclosure, p.Disclosure) {
		t.Error("a second proof must have a fresh nonce and the same disclosure bytes")
	}
	nurse := must(txbuild.IssueUser(nil, s.AA.Private, s.TagKey, "x509::CN=nurse::CN=ca", 1, validFrom, validUntil, "role=nurse"))(t)
	if _, err := nurse.ProofFor(nil, s.Channel, pol, rec.Address, s.L.Now()); !errors.Is(err, txbuild.ErrNotSatisfiable) {
		t.Errorf("unsatisfiable policy: err = %v, want ErrNotSatisfiable", err)
	}
}

func decodeTags(t *testing.T, s *cctest.Side, p *ptl.Proof) []tag.Tag {
	t.Helper()
	disc := must(credential.UnmarshalDisclosure(p.Disclosure))(t)
	return must(disc.Verify(&s.AA.Private.PublicKey, s.L.Now()))(t)
}

func TestNeeded(t *testing.T) {
	tk := must(tag.NewKey(rand.Reader))(t)
	tests := []struct {
		policy string
		held   []string
		want   []string // nil: not satisfiable
	}{
		{"a=1", []string{"a=1", "b=2"}, []string{"a=1"}},
		{"a=1 and b=2", []string{"c=3", "b=2", "a=1"}, []string{"a=1", "b=2"}},
		{"a=1 and b=2", []string{"a=1"}, nil},
		{"a=1 or (b=2 and c=3)", []string{"a=1", "b=2", "c=3"}, []string{"a=1"}},
		{"(b=2 and c=3) or a=1", []string{"a=1", "b=2", "c=3"}, []string{"a=1"}},
		{"a=1 or (b=2 and c=3)", []string{"b=2", "c=3"}, []string{"b=2", "c=3"}},
		{"2 of (a=1, (b=2 and c=3), d=4)", []string{"a=1", "b=2", "c=3", "d=4"}, []string{"a=1", "d=4"}},
		{"2 of (a=1, (b=2 and c=3), d=4)", []string{"b=2", "c=3", "d=4"}, []string{"b=2", "c=3", "d=4"}},
		{"2 of (a=1, (b=2 and c=3), d=4)", []string{"a=1", "b=2"}, nil},
		{"trust>=2 and (a=1 or trust>=2)", []string{"trust>=1", "trust>=2"}, []string{"trust>=2"}},
	}
	for _, tc := range tests {
		t.Run(tc.policy, func(t *testing.T) {
			tree := must(policy.Parse(tc.policy))(t).Hide(tk)
			got, err := txbuild.Needed(tree, tk.Tags(tc.held))
			if tc.want == nil {
				if !errors.Is(err, txbuild.ErrNotSatisfiable) {
					t.Fatalf("Needed = %v, %v; want ErrNotSatisfiable", got, err)
				}
				return
			}
			if err != nil || !slices.Equal(got, tk.Tags(tc.want)) {
				t.Fatalf("Needed = %v, %v; want the tags of %v", got, err, tc.want)
			}
		})
	}
}

func TestMeDShareFlowIsAcceptedAsBuilt(t *testing.T) {
	s := cctest.NewSide(t, "low")
	store(t, s, s.H1, rec1)
	store(t, s, s.H1, rec2)
	requestor := must(txbuild.IssueUser(nil, s.AA.Private, s.TagKey, s.Doctor.ID(), 1, validFrom, validUntil, doctor...))(t)
	req1 := txbuild.RequestID(requestor.ID(), "req-1")
	reportKey := must(txbuild.NewKey(nil))(t) // the requestor's client makes it
	now := s.L.Now()
	in := must(txbuild.SignRequest(requestor, s.Channel, txbuild.Request{ID: req1, RecordIDs: []string{rec1, rec2}, Purpose: "cardiology research",
		Time: now.Add(-3 * time.Second), ReportKey: reportKey.DER}))(t)
	pkg := txbuild.Package{Received: now.Add(-2 * time.Second), Processed: now.Add(-time.Second), Sent: now, DataID: "pkg-1",
		Hash: sha256.Sum256([]byte("package")), Allowed: []string{provenance.ActionRead}}
	view := cctest.Decode[provenance.View](t, submit(t, s, s.H1, must(txbuild.RecordRequest(s.H1, s.Channel, in, pkg))(t)))
	if in.NodeSignature != nil || in.DataID != "" {
		t.Error("RecordRequest modified its input")
	}
	b := view.Block
	if b.ID != req1 || b.Height != 1 || b.Tx.Requestor != txbuild.UserID(s.Doctor.ID()) || !slices.Equal(b.Contract.ReportKey, reportKey.DER) || b.Tx.DataID != "pkg-1" || b.Tx.PackageHash != hex.EncodeToString(pkg.Hash[:]) ||
		!slices.Equal(b.Contract.Allowed, []string{"read", "decrypted"}) || !b.Tx.TTS.Equal(now) || b.Tx.DRP != "cardiology research" {
		t.Errorf("parent block = %+v", b)
	}

	report := func(seq uint64, actions ...string) *provenance.ReportResult {
		t.Helper()
		var list []txbuild.Action
		for _, a := range actions {
			list = append(list, txbuild.Action{Name: a, At: s.L.Now()})
		}
		r := must(txbuild.SignReport(reportKey, s.Channel, req1, pkg.Hash, seq, list))(t)
		// A gateway of another hospital forwards it.
		return cctest.Decode[provenance.ReportResult](t, submit(t, s, s.H2, must(txbuild.ForwardReport(s.H2, s.Channel, pkg.Hash, r))(t)))
	}
	steps := []struct {
		name       string
		run        func() any
		wantKind   string
		wantStatus string
		wantIndex  uint64
	}{
		{name: "permitted report", run: func() any { return report(1, "decrypted", "read") }, wantKind: provenance.KindReport, wantStatus: provenance.StatusActive, wantIndex: 1},
		{name: "ignore copy", run: func() any {
			return submit(t, s, s.H1, must(txbuild.SetIgnored(s.H1, s.Channel, req1, []string{"copy"}))(t))
		}, wantKind: provenance.KindIgnore, wantStatus: provenance.StatusActive, wantIndex: 2},
		{name: "forbidden report", run: func() any {
			res := report(2, "copy", "delete")
			if !slices.Equal(res.Violations, []string{"delete"}) || len(res.Revoked) != 2 {
				t.Errorf("report result = %+v", res)
			}
			return res
		}, wantKind: provenance.KindReport, wantStatus: provenance.StatusRevoked, wantIndex: 3},
		{name: "regrant", run: func() any {
			return submit(t, s, s.H1, must(txbuild.Regrant(s.H1, s.Channel, req1, "explained"))(t))
		}, wantKind: provenance.KindRegrant, wantStatus: provenance.StatusRegranted, wantIndex: 4},
		{name: "recall", run: func() any { return submit(t, s, s.H1, must(txbuild.Recall(s.H1, s.Channel, req1, ""))(t)) },
			wantKind: provenance.KindRecall, wantStatus: provenance.StatusRecalled, wantIndex: 5},
	}
	for _, st := range steps {
		st.run()
		v := cctest.Decode[provenance.View](t, s.Query(s.H1, provenance.Name, "GetRequest", req1))
		sb := cctest.Decode[provenance.SideBlock](t, s.Query(s.H1, provenance.Name, "GetSideBlock", req1, "1"))
		last := cctest.Decode[page.Page[provenance.SideBlock]](t, s.Query(s.H1, provenance.Name, "ListSideBlocks", req1, "100", ""))
		if v.State.Status != st.wantStatus || v.State.SideBlocks != st.wantIndex || len(last.Items) != int(st.wantIndex) ||
			last.Items[st.wantIndex-1].Tx.Kind != st.wantKind || sb.Tx.Kind != provenance.KindReport {
			t.Fatalf("%s: state %+v, side-blocks %d", st.name, v.State, len(last.Items))
		}
	}
	ver := cctest.Decode[provenance.Verification](t, s.Query(s.H1, provenance.Name, "VerifyRequest", req1))
	if !ver.OK {
		t.Errorf("verification = %+v", ver)
	}
}

func TestIndexCalls(t *testing.T) {
	m := cctest.NewMain(t)
	call := must(txbuild.IndexRecord("main", rec1, index.RecordInput{Levels: []index.LevelRef{{Level: "high", SideChain: "side-high", TxID: strings.Repeat("1", 64), Version: 1}}, PolicyVersion: 1}))(t)
	res, err := m.L.Submit(m.H1, call.Chaincode, call.Fn, call.Args...)
	if err != nil {
		t.Fatal(err)
	}
	e := cctest.Decode[index.RecordEntry](t, res.Payload)
	if e.RecordID != rec1 || e.OwnerMSP != "Hospital1MSP" || len(e.Levels) != 1 || e.Levels[0].TxID != strings.Repeat("1", 64) {
		t.Errorf("entry = %+v", e)
	}
	user := txbuild.UserID("x509::CN=dr::CN=ca")
	call = must(txbuild.LogRequest("main", index.RequestInput{RequestID: strings.Repeat("a", 64), Kind: index.KindAccess, RecordID: rec1,
		Requestor: user, Outcome: index.OutcomeGranted, Links: []index.Link{{SideChain: "side-high", Chaincode: "ptl", TxID: strings.Repeat("2", 64)}}}))(t)
	if res, err = m.L.Submit(m.H1, call.Chaincode, call.Fn, call.Args...); err != nil {
		t.Fatal(err)
	}
	if r := cctest.Decode[index.RequestEntry](t, res.Payload); r.Requestor != user || r.Outcome != "granted" {
		t.Errorf("request entry = %+v", r)
	}
}

func TestRawCID(t *testing.T) {
	for _, tc := range []struct{ data, want string }{
		{"", "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"},
		{"hello world", "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e"},
	} {
		if got := txbuild.RawCID([]byte(tc.data)); got != tc.want {
			t.Errorf("RawCID(%q) = %s, want %s", tc.data, got, tc.want)
		}
	}
}

func TestBuildersRefuseBadInput(t *testing.T) {
	k := must(txbuild.NewKey(nil))(t)
	other := must(txbuild.NewKey(nil))(t)
	u := must(txbuild.IssueUser(nil, k.Private, must(tag.NewKey(rand.Reader))(t), "x509::CN=dr::CN=ca", 1, validFrom, validUntil, "role=doctor"))(t)
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"no signer", second(txbuild.Store(nil, "side-high", txbuild.StoreInput{})), "txbuild: Tx_sto signature: no signer"},
		{"bad proof time", second(txbuild.Access("side-high", &ptl.Proof{Time: "yesterday"}, time.Now())),
			`txbuild: proof time: parsing time "yesterday" as "2006-01-02T15:04:05.999999999Z07:00": cannot parse "yesterday" as "2006"`},
		{"wallet of another key", second(txbuild.NewUser(other, u.Enrolment, u.Wallet)), "txbuild: user: the credential's subject is not the key"},
		{"no enrolment", second(txbuild.NewUser(u.Key, ptl.Enrolment{}, u.Wallet)), "txbuild: user: the enrolment needs a user id and the attribute authority's signature"},
		{"enrol a key, not a user id", second(txbuild.Enrol(k, "x509::CN=dr::CN=ca", u.DER)), `txbuild: enrol: "x509::CN=dr::CN=ca" is not a user id (32 lowercase hexadecimal characters)`},
		{"request without report key", second(txbuild.SignRequest(u, "side-high", txbuild.Request{})), "txbuild: request: no report key: the requestor's client generates one per request"},
		{"configuration call", second(txbuild.ConfigDefinition(txbuild.Call{Channel: "side-high", Chaincode: "ptl", Fn: "Access"}, "1", 2)), "txbuild: side-high/ptl:Access is not a configuration call (Init with one argument)"},
		{"undisclosable tag", second(u.Proof(nil, txbuild.ProofInput{Disclose: []tag.Tag{{1}}})), "txbuild: disclose: credential: tag not held: 01000000000000000000000000000000"},
		{"request without time", second(txbuild.RecordRequest(k, "side-high", &provenance.RequestInput{}, txbuild.Package{})),
			`txbuild: request time: parsing time "" as "2006-01-02T15:04:05.999999999Z07:00": cannot parse "" as "2006"`},
		{"no key", second(txbuild.KeyOf(nil)), "txbuild: key: not an ECDSA P-256 private key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.err == nil || tc.err.Error() != tc.want {
				t.Errorf("err = %v, want %q", tc.err, tc.want)
			}
		})
	}
}

func second[T any](_ T, err error) error { return err }

func TestDefaultInitsMirrorNetworkScript(t *testing.T) {
	aa := cctest.NewKey(t)
	nodes := []index.Node{{Name: "node0.hospital1.example", Org: "Hospital1MSP", Address: "127.0.0.1:7051"}}
	side := cctest.NewSide(t, "medium")
	auditors := side.Auditors()
	calls := must(txbuild.DefaultInits(aa.DER, nodes, txbuild.DefaultMonitor, auditors))(t)
	var got []string
	for _, c := range calls {
		got = append(got, c.String())
	}
	want := []string{"main/index:Init",
		"side-high/storage:Init", "side-high/ptl:Init", "side-high/provenance:Init",
		"side-medium/storage:Init", "side-medium/ptl:Init", "side-medium/provenance:Init",
		"side-low/storage:Init", "side-low/ptl:Init", "side-low/provenance:Init"}
	if !slices.Equal(got, want) {
		t.Fatalf("calls = %v, want %v", got, want)
	}
	// The configurations scripts/network.sh passes (deploy_default, through
	// "medshare chaincode init"), as the chaincodes store them.
	aud := `"auditors":["` + auditors[0] + `"]`
	wantArgs := map[string]string{
		"side-medium/storage:Init":    `{"level":"medium",` + aud + `}`,
		"side-medium/ptl:Init":        `{"level":"medium","aaPublicKey":"` + aa.Base64() + `","minEpoch":0,"defaultMaxProofAge":"","maxClockSkew":"30s","monitor":{"window":"1h","recordThreshold":3,"ownerThreshold":10,"rateLimit":60,"ratePeriod":"1m"},` + aud + `}`,
		"side-medium/provenance:Init": `{"level":"medium","maxClockSkew":"30s",` + aud + `}`,
	}
	for _, c := range calls {
		if w, ok := wantArgs[c.String()]; ok && (len(c.Args) != 1 || c.Args[0] != w) {
			t.Errorf("%s args = %q, want [%s]", c, c.Args, w)
		}
	}
	idx := cctest.Decode[index.Config](t, []byte(calls[0].Args[0]))
	if len(idx.SideChains) != 3 || idx.SideChains[2].Name != "side-low" || idx.SideChains[2].Level != "low" || !slices.Equal(idx.SideChains[2].Nodes, nodes) || !slices.Equal(idx.Auditors, auditors) {
		t.Errorf("index configuration = %+v", idx)
	}
	// Every call is accepted by its chaincode, as the init call of the next
	// definition a majority approves.
	for _, c := range calls[4:7] {
		def := must(txbuild.ConfigDefinition(c, "1", 2))(t)
		if def.GetName() != c.Chaincode || def.GetSequence() != 2 || def.GetInitFunction() != "Init" || string(def.GetInitArgs()[0]) != c.Args[0] {
			t.Errorf("definition of %s = %v", c, def)
		}
		side.MustConfigure(c.Chaincode, c.Args[0])
	}
	if cfg := cctest.Decode[ptl.Config](t, side.Query(side.H1, ptl.Name, "GetConfig")); cfg.DefaultMaxProofAge != "5m" || cfg.Monitor != txbuild.DefaultMonitor {
		t.Errorf("stored ptl configuration = %+v", cfg)
	}
	mc := cctest.NewMain(t)
	if err := mc.Configure(calls[0].Chaincode, calls[0].Args[0]); err != nil {
		t.Errorf("index Init: %v", err)
	}
}
