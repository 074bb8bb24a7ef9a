package chaincode_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/medshare/medshare/abe/policy"
	"github.com/medshare/medshare/abe/tag"
	"github.com/medshare/medshare/chaincode/index"
	"github.com/medshare/medshare/chaincode/internal/page"
	"github.com/medshare/medshare/chaincode/provenance"
	"github.com/medshare/medshare/chaincode/ptl"
	"github.com/medshare/medshare/chaincode/storage"
	"github.com/medshare/medshare/chaincode/txbuild"
	"github.com/medshare/medshare/network/client"
	"github.com/medshare/medshare/network/cryptogen"
	"github.com/medshare/medshare/network/identity"
	"github.com/medshare/medshare/network/nettest"
	"github.com/medshare/medshare/network/pb"
)

var bin string

func TestMain(m *testing.M) { nettest.Main(m, &bin) }

var levels = []string{"high", "medium", "low"}

// Hidden policies of the three levels of rec-1, nested as MSC-CP-ABE nests
// them: the high tree includes the medium one, which includes the low one.
var levelPolicies = map[string]string{
	"low":    "(role=doctor or role=researcher) and trust>=1",
	"medium": "(role=doctor or role=researcher) and trust>=1 and trust>=2",
	"high":   "(role=doctor or role=researcher) and trust>=1 and trust>=2 and specialty=cardiology",
}

// suite is a running network with the medshare chaincodes deployed as
// scripts/network.sh deploys them, and the parties of the flows.
type suite struct {
	t   *testing.T
	ctx context.Context
	n   *nettest.Network
	// h1 is hospital 1's gateway identity (the data owner), submitting
	// through node 0 (owner). research is the research institute's gateway
	// on node 2 (forwards reports; reads as a channel member). auditor is
	// hospital 2's auditor on node 1, the auditor the chaincodes'
	// configuration names: every assertion reads through it. doctor is
	// hospital 2's enrolled doctor, whose keys the attribute authority
	// enrols under its identity.
	h1        *identity.Signer
	owner     *client.Gateway
	research  *client.Gateway
	rsigner   *identity.Signer
	auditor   *client.Gateway
	auditorID string
	doctorID  *identity.Signer
	aa        *ecdsa.PrivateKey
	tagKey    tag.Key
	validity  [2]time.Time
}

func must[T any](v T, err error) func(testing.TB) T {
	return func(t testing.TB) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func newSuite(t *testing.T) *suite {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	n, err := nettest.Start(ctx, nettest.Options{
		Bin: bin, Dir: t.TempDir(), Chaincodes: []nettest.Chaincode{}, LogLevel: "warn",
		Batch: &pb.BatchConfig{MaxMessageCount: 100, TimeoutMillis: 10},
		// The flows run under the access rules the network ships with.
		ACLProfile: "../network/configtx.yaml",
		Users:      map[int][]cryptogen.User{1: {{Name: "auditor"}, {Name: "dr-doctor"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	s := &suite{t: t, ctx: ctx, n: n}
	t.Cleanup(func() {
		if t.Failed() {
			for i := range n.Nodes {
				t.Logf("node %d log:\n%s", i, tailLines(n.Logs(i), 30))
			}
		}
		n.Stop()
	})
	s.aa = must(identity.ReadKeyFile(filepath.Join(cryptogen.AuthorityDir(n.Crypto), "key.pem")))(t)
	s.tagKey = must(tag.NewKey(rand.Reader))(t)
	s.h1 = must(n.Identity(0, "client").LoadSigner())(t)
	s.rsigner = must(n.Identity(2, "client").LoadSigner())(t)
	s.owner = must(n.Gateway(0, 0, "client"))(t)
	s.research = must(n.Gateway(2, 2, "client"))(t)
	s.auditor = must(n.Gateway(1, 1, "auditor"))(t)
	s.auditorID = must(n.Identity(1, "auditor").LoadSigner())(t).ID()
	s.doctorID = must(n.Identity(1, "dr-doctor").LoadSigner())(t)
	now := time.Now().UTC().Truncate(time.Second)
	s.validity = [2]time.Time{now.Add(-time.Hour), now.Add(24 * time.Hour)}
	s.deploy()
	return s
}

// run runs f as a subtest; the suite's helpers fail the subtest.
func (s *suite) run(name string, f func(t *testing.T)) {
	parent := s.t
	parent.Run(name, func(t *testing.T) {
		s.t = t
		defer func() { s.t = parent }()
		f(t)
	})
}

func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// deploy enables the chaincodes with the Init configurations of
// scripts/network.sh (deploy_default), which need the network's node
// addresses, attribute authority key and auditor, so they are deployed
// after start. Every organisation approves each definition.
func (s *suite) deploy() {
	t := s.t
	aaDER := must(x509.MarshalPKIXPublicKey(&s.aa.PublicKey))(t)
	var nodes []index.Node
	for _, nd := range s.n.Nodes {
		nodes = append(nodes, index.Node{Name: nd.ID, Org: nd.Org.MSPID, Address: nd.API})
	}
	var ccs []nettest.Chaincode
	for _, c := range must(txbuild.DefaultInits(aaDER, nodes, txbuild.DefaultMonitor, []string{s.auditorID}))(t) {
		ccs = append(ccs, nettest.Chaincode{Name: c.Chaincode, Channels: []string{c.Channel}, InitFn: c.Fn, InitArgs: [][]byte{[]byte(c.Args[0])}})
	}
	if err := s.n.DeployAll(s.ctx, ccs); err != nil {
		t.Fatal(err)
	}
}

// submit submits a built call through gw and returns the committed result
// and transaction id; the transaction must commit as valid.
func (s *suite) submit(gw *client.Gateway, c txbuild.Call) ([]byte, string) {
	s.t.Helper()
	payload, txID, err := s.trySubmit(gw, c)
	if err != nil {
		s.t.Fatalf("%s: %v", c, err)
	}
	return payload, txID
}

func (s *suite) trySubmit(gw *client.Gateway, c txbuild.Call) ([]byte, string, error) {
	_, commit, err := gw.GetNetwork(c.Channel).GetContract(c.Chaincode).SubmitAsync(c.Fn, client.WithArguments(c.Args...))
	if err != nil {
		return nil, "", err
	}
	st, err := commit.StatusContext(s.ctx)
	if err != nil {
		return nil, "", err
	}
	if !st.Successful {
		return nil, st.TransactionID, fmt.Errorf("committed invalid: %s", st.Message)
	}
	return st.Result, st.TransactionID, nil
}

// converged waits until every node holds the same blocks and state of ch.
func (s *suite) converged(ch string) {
	s.t.Helper()
	if _, err := s.n.WaitConverged(s.ctx, ch); err != nil {
		s.t.Fatal(err)
	}
}

// read evaluates a query through gw and decodes its JSON result.
func read[T any](s *suite, gw *client.Gateway, ch, cc, fn string, args ...string) *T {
	s.t.Helper()
	b, err := gw.GetNetwork(ch).GetContract(cc).EvaluateTransaction(fn, args...)
	if err != nil {
		s.t.Fatalf("%s/%s:%s%q: %v", ch, cc, fn, args, err)
	}
	v := new(T)
	if err := json.Unmarshal(b, v); err != nil {
		s.t.Fatalf("%s/%s:%s: decode %s: %v", ch, cc, fn, b, err)
	}
	return v
}

// readAll pages through a listing whose last two arguments are pageSize and
// bookmark.
func readAll[T any](s *suite, gw *client.Gateway, ch, cc, fn string, args ...string) []T {
	s.t.Helper()
	var out []T
	bookmark := ""
	for {
		p := read[page.Page[T]](s, gw, ch, cc, fn, append(slices.Clone(args), "100", bookmark)...)
		out = append(out, p.Items...)
		if bookmark = p.Bookmark; bookmark == "" {
			return out
		}
	}
}

// user has the attribute authority enrol a new key for the person whose
// enrolled identity's unique name is enrolledID, with a credential for
// attrs.
func (s *suite) user(enrolledID string, attrs ...string) *txbuild.User {
	return must(txbuild.IssueUser(rand.Reader, s.aa, s.tagKey, enrolledID, 1, s.validity[0], s.validity[1], attrs...))(s.t)
}

// access is one access attempt and what P-TL must decide.
type access struct {
	name    string
	level   string
	user    *txbuild.User
	proof   func() *ptl.Proof // nil: a fresh proof disclosing what the policy needs
	granted bool
	reason  string
	blame   string
}

// stored is a record level as the owner stored it.
type stored struct {
	rec  *storage.Record
	keys []byte
	pol  *ptl.Policy
}

func TestContractsOnTheNetwork(t *testing.T) {
	s := newSuite(t)
	rec1 := txbuild.RecordID(s.h1.ID(), "rec-1")
	recs := s.storeRecord(rec1)

	doctor := s.user(s.doctorID.ID(), "role=doctor", "specialty=cardiology", "trust>=1", "trust>=2", "trust>=3", "org=hospital2")
	researcher := s.user("x509::CN=researcher::CN=ca.research", "role=researcher", "specialty=epidemiology", "trust>=1")
	late := s.user("x509::CN=late::CN=ca.hospital2", "role=doctor", "specialty=cardiology", "trust>=1", "trust>=2")
	var replayed *ptl.Proof
	accesses := []access{
		{name: "doctor reads high", level: "high", user: doctor, granted: true, proof: func() *ptl.Proof {
			replayed = s.proof(doctor, recs["high"], time.Now())
			return replayed
		}},
		{name: "doctor reads medium", level: "medium", user: doctor, granted: true},
		{name: "doctor reads low", level: "low", user: doctor, granted: true},
		{name: "researcher reads low", level: "low", user: researcher, granted: true},
		{name: "researcher's tags do not meet the high policy", level: "high", user: researcher, reason: ptl.ReasonPolicyNotMet, blame: ptl.BlameUser, proof: func() *ptl.Proof {
			return must(researcher.Proof(rand.Reader, txbuild.ProofInput{Channel: "side-high", RecordID: rec1, Address: recs["high"].rec.Address,
				PolicyVersion: recs["high"].pol.Version, Time: time.Now(), Disclose: researcher.Wallet.Tags()}))(s.t)
		}},
		{name: "a replayed proof is refused, blamed on its submitter", level: "high", user: doctor, reason: ptl.ReasonReplay, blame: ptl.BlameSubmitter, proof: func() *ptl.Proof { return replayed }},
		{name: "a proof older than maxProofAge has expired, blamed on its submitter", level: "medium", user: late, reason: ptl.ReasonExpired, blame: ptl.BlameSubmitter, proof: func() *ptl.Proof {
			return s.proof(late, recs["medium"], time.Now().Add(-6*time.Minute))
		}},
	}
	for _, a := range accesses {
		s.run("access/"+a.name, func(t *testing.T) { s.checkAccess(recs, a) })
	}

	s.run("only the owner may submit an access", func(t *testing.T) {
		gw := must(s.n.Gateway(1, 1, "client"))(t)
		call := must(txbuild.Access("side-low", s.proof(doctor, recs["low"], time.Now()), time.Now()))(t)
		_, _, err := s.trySubmit(gw, call)
		var ee *client.EndorseError
		if !errors.As(err, &ee) || !strings.Contains(err.Error(), "caller: only the owner of record "+rec1+" may submit access transactions for it") {
			t.Fatalf("err = %v, want an endorsement refusal naming the owner rule", err)
		}
		s.converged("side-low")
		if n := len(readAll[ptl.LogEntry](s, s.auditor, "side-low", ptl.Name, "ListAccessLog", rec1)); n != 2 {
			t.Errorf("side-low access log has %d entries, want the 2 logged attempts only", n)
		}
	})

	s.run("MeDShare report of a forbidden action revokes, re-grant restores, recall revokes", func(t *testing.T) {
		s.medshare(recs, doctor)
	})

	s.run("the doctor reads its own access log, another hospital's gateway cannot", func(t *testing.T) {
		mine := must(s.n.Gateway(1, 1, "dr-doctor"))(t)
		log := readAll[ptl.LogEntry](s, mine, "side-high", ptl.Name, "ListUserLog", doctor.ID())
		if len(log) == 0 || log[0].User != doctor.ID() || log[0].RecordID != rec1 {
			t.Fatalf("the doctor's own log = %+v", log)
		}
		_, err := s.research.GetNetwork("side-high").GetContract(ptl.Name).EvaluateTransaction("ListUserLog", doctor.ID(), "10", "")
		if err == nil || !strings.Contains(err.Error(), "caller: only the user it concerns or an auditor the channel's configuration names may list a user's access log") {
			t.Fatalf("another organisation's gateway read the doctor's log: %v", err)
		}
	})
}

// storeRecord stores the three levels of a record (Tx_sto on each side
// chain), sets each level's hidden policy, indexes it on main, and checks it
// all through other organisations' nodes.
func (s *suite) storeRecord(id string) map[string]*stored {
	t := s.t
	ciphertext := []byte("MSC-CP-ABE and AES-GCM ciphertext of " + id)
	cid, check := txbuild.RawCID(ciphertext), sha256.Sum256(ciphertext)
	recs := map[string]*stored{}
	var refs []index.LevelRef
	for _, l := range levels {
		ch := "side-" + l
		keys := []byte("wrapped " + l + " keys of " + id)
		payload, txID := s.submit(s.owner, must(txbuild.Store(s.h1, ch, txbuild.StoreInput{RecordID: id, Version: 1, Address: cid, Keys: keys, CheckCode: check}))(t))
		rec := must(decode[storage.Record](payload))(t)
		if rec.TxID != txID {
			t.Fatalf("Store on %s returned tx %s, committed as %s", ch, rec.TxID, txID)
		}
		hidden := must(txbuild.HidePolicy(s.tagKey, levelPolicies[l]))(t)
		s.submit(s.owner, must(txbuild.SetPolicy(ch, id, ptl.PolicyInput{HiddenPolicy: hidden,
			NotBefore: txbuild.FormatTime(s.validity[0]), NotAfter: txbuild.FormatTime(s.validity[1]),
			TimeZone: "Europe/Paris", Windows: []ptl.Window{{Days: []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}, Start: "00:00", End: "24:00"}}}))(t))
		recs[l] = &stored{rec: rec, keys: keys}
		refs = append(refs, index.LevelRef{Level: l, SideChain: ch, TxID: txID, Version: 1})
	}
	s.submit(s.owner, must(txbuild.IndexRecord("main", id, index.RecordInput{Levels: refs, PolicyVersion: 1}))(t))

	s.converged("main")
	entry := read[index.RecordEntry](s, s.auditor, "main", index.Name, "GetRecord", id)
	if entry.Owner != s.h1.ID() || entry.OwnerMSP != "Hospital1MSP" || entry.PolicyVersion != 1 || !slices.Equal(entry.Levels, refs) {
		t.Fatalf("index entry read through node 1 = %+v, want levels %+v", entry, refs)
	}
	chains := readAll[index.SideChain](s, s.auditor, "main", index.Name, "ListSideChains")
	if len(chains) != 3 || chains[0].Name != "side-high" || len(chains[0].Nodes) != 3 || chains[0].Nodes[1].Address != s.n.Nodes[1].API {
		t.Fatalf("side chains = %+v", chains)
	}
	for _, l := range levels {
		ch := "side-" + l
		s.converged(ch)
		// A member of another organisation sees the record without its keys.
		got := read[storage.Record](s, s.research, ch, storage.Name, "GetRecord", id)
		if got.Address != cid || got.CheckCode != hex.EncodeToString(check[:]) || got.Version != 1 || got.Level != l || got.Owner != s.h1.ID() ||
			got.Keys != nil || got.KeysHash != hexSum(recs[l].keys) {
			t.Fatalf("%s record read through node 2 = %+v", ch, got)
		}
		pol := read[ptl.Policy](s, s.research, ch, ptl.Name, "GetPolicy", id)
		tree := must(policy.Unmarshal(pol.HiddenPolicy))(t)
		if pol.Version != 1 || !tree.Hidden() || !tree.Equal(must(policy.Parse(levelPolicies[l]))(t).Hide(s.tagKey)) {
			t.Fatalf("%s policy read through node 2 = %+v (%s)", ch, pol, tree)
		}
		recs[l].pol = pol
	}
	return recs
}

func hexSum(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func decode[T any](b []byte) (*T, error) {
	v := new(T)
	if err := json.Unmarshal(b, v); err != nil {
		return nil, fmt.Errorf("decode %s: %w", b, err)
	}
	return v, nil
}

// proof is a fresh proof by u for a stored level at t, disclosing only what
// the level's policy needs.
func (s *suite) proof(u *txbuild.User, st *stored, at time.Time) *ptl.Proof {
	s.t.Helper()
	return must(u.ProofFor(rand.Reader, st.rec.Channel, st.pol, st.rec.Address, at))(s.t)
}

// accessOnce submits one access for the owner, logs it on main (request id
// A; a replayed proof has the A of its first use, already logged, so the
// gateway logs no second entry: P-TL's own log has the attempt), and returns
// the committed decision and the access's transaction id.
func (s *suite) accessOnce(st *stored, p *ptl.Proof) (*ptl.Decision, string) {
	t := s.t
	ch := st.rec.Channel
	payload, txID := s.submit(s.owner, must(txbuild.Access(ch, p, time.Now()))(t))
	d := must(decode[ptl.Decision](payload))(t)
	if d.Reason == ptl.ReasonReplay {
		return d, txID
	}
	outcome := index.OutcomeGranted
	if !d.Granted {
		outcome = index.OutcomeDenied
	}
	s.submit(s.owner, must(txbuild.LogRequest("main", index.RequestInput{RequestID: d.AccessID, Kind: index.KindAccess, RecordID: p.RecordID,
		Requestor: d.User, Outcome: outcome, Links: []index.Link{{SideChain: ch, Chaincode: ptl.Name, TxID: txID}}}))(t))
	return d, txID
}

// checkAccess runs one access attempt and checks, through node 1, the
// attempt's log entry, its Tx_acc or violation, and its index entry.
func (s *suite) checkAccess(recs map[string]*stored, a access) {
	t := s.t
	st := recs[a.level]
	var p *ptl.Proof
	if a.proof != nil {
		p = a.proof()
	} else {
		p = s.proof(a.user, st, time.Now())
	}
	wantID := must(txbuild.AccessID(st.rec.Channel, p))(t)
	_, txID := s.accessOnce(st, p)
	s.checkLogged(st, a.user, wantID, txID, a.granted, a.reason, a.blame)
}

// checkLogged reads, through hospital 2's auditor on node 1, what P-TL and
// the index recorded for the access attempt txID and checks it.
func (s *suite) checkLogged(st *stored, u *txbuild.User, accessID, txID string, granted bool, reason, blame string) {
	t := s.t
	ch := st.rec.Channel
	s.converged(ch)
	s.converged("main")
	var entry *ptl.LogEntry
	for _, e := range readAll[ptl.LogEntry](s, s.auditor, ch, ptl.Name, "ListAccessLog", st.rec.RecordID) {
		if e.TxID == txID {
			entry = &e
		}
	}
	if entry == nil || entry.AccessID != accessID || entry.Granted != granted || entry.Reason != reason || entry.User != u.ID() ||
		!slices.Equal(entry.UserKey, u.DER) || entry.Address != st.rec.Address || entry.KeysHash != hexSum(st.keys) {
		t.Fatalf("access log entry of tx %s read through node 1 = %+v, want access %s granted %v reason %q", txID, entry, accessID, granted, reason)
	}
	var acc *ptl.Access
	for _, x := range readAll[ptl.Access](s, s.auditor, ch, ptl.Name, "ListAccesses", st.rec.RecordID) {
		if x.TxID == txID {
			acc = &x
		}
	}
	var vio *ptl.Violation
	for _, v := range readAll[ptl.Violation](s, s.auditor, ch, ptl.Name, "ListViolations", st.rec.RecordID) {
		if v.TxID == txID {
			vio = &v
		}
	}
	if granted {
		if acc == nil || acc.AccessID != accessID || acc.User != u.ID() || acc.Owner != st.rec.Owner || acc.Version != 1 || vio != nil {
			t.Fatalf("Tx_acc of tx %s = %+v, violation %+v; want a Tx_acc for %s and no violation", txID, acc, vio, accessID)
		}
	} else if acc != nil || vio == nil || vio.Reason != reason || vio.AccessID != accessID || vio.Counted != (blame == ptl.BlameUser) || vio.Blame != blame || vio.User != u.ID() {
		t.Fatalf("refusal of tx %s: Tx_acc %+v, violation %+v; want a %s violation blamed on the %s", txID, acc, vio, reason, blame)
	}
	logged := read[index.RequestEntry](s, s.auditor, "main", index.Name, "GetRequest", st.rec.RecordID, accessID)
	want, wantTx := index.OutcomeGranted, txID
	if !granted {
		want = index.OutcomeDenied
	}
	if reason == ptl.ReasonReplay {
		// The index keeps the proof's first, granted use.
		if len(logged.Links) != 1 {
			t.Fatalf("index request %s = %+v", accessID, logged)
		}
		want, wantTx = index.OutcomeGranted, logged.Links[0].TxID
		if wantTx == txID {
			t.Fatalf("index request %s links the replay %s", accessID, txID)
		}
	}
	if logged.Outcome != want || logged.Kind != index.KindAccess || logged.Requestor != u.ID() || len(logged.Links) != 1 || logged.Links[0].TxID != wantTx {
		t.Fatalf("index request %s = %+v", accessID, logged)
	}
}

// medshare runs flows 4 and 5: the doctor requests rec-1's high level with
// a report key its own client generated, hospital 1 records the package
// (parent block), a gateway of the research institute forwards a permitted
// report (side-block) and then a forbidden one (violation → revocation); the
// doctor's next access is refused as revoked, hospital 1 re-grants and
// access works again; then it recalls, and access is refused again.
func (s *suite) medshare(recs map[string]*stored, doctor *txbuild.User) {
	t := s.t
	high := recs["high"]
	rec1 := high.rec.RecordID
	ch, reqID := "side-high", txbuild.RequestID(doctor.ID(), "req-1")
	reportKey := must(txbuild.NewKey(rand.Reader))(t) // the doctor's client's
	now := time.Now()
	in := must(txbuild.SignRequest(doctor, ch, txbuild.Request{ID: reqID, RecordIDs: []string{rec1}, Purpose: "second opinion",
		Time: now.Add(-2 * time.Second), ReportKey: reportKey.DER}))(t)
	pkg := txbuild.Package{Received: now.Add(-time.Second), Processed: now.Add(-time.Second / 2), Sent: now, DataID: "pkg-1",
		Hash: sha256.Sum256([]byte("encrypted package 1")), Allowed: []string{provenance.ActionRead}}
	s.submit(s.owner, must(txbuild.RecordRequest(s.h1, ch, in, pkg))(t))
	s.converged(ch)
	view := read[provenance.View](s, s.auditor, ch, provenance.Name, "GetRequest", reqID)
	if b := view.Block; b.ID != reqID || b.Height != 1 || b.Tx.Requestor != doctor.ID() || b.Tx.OID != s.h1.ID() || b.Tx.Dsens != "high" ||
		b.Tx.DRP != "second opinion" || !slices.Equal(b.Contract.Allowed, []string{"read", "decrypted"}) || view.State.Status != provenance.StatusActive {
		t.Fatalf("parent block read through node 1 = %+v, state %+v", b, view.State)
	}
	thread := readAll[provenance.ParentBlock](s, s.auditor, ch, provenance.Name, "ListThread", doctor.ID())
	if len(thread) != 1 || thread[0].Hash != view.Block.Hash {
		t.Fatalf("doctor's thread = %+v", thread)
	}

	seq := uint64(0)
	report := func(actions ...string) {
		t.Helper()
		seq++
		var list []txbuild.Action
		for _, a := range actions {
			list = append(list, txbuild.Action{Name: a, At: time.Now()})
		}
		r := must(txbuild.SignReport(reportKey, ch, reqID, pkg.Hash, seq, list))(t)
		s.submit(s.research, must(txbuild.ForwardReport(s.rsigner, ch, pkg.Hash, r))(t))
		s.converged(ch)
	}
	status := func() *ptl.Status {
		return read[ptl.Status](s, s.auditor, ch, ptl.Name, "Status", doctor.ID(), rec1)
	}
	tryAccess := func(granted bool, reason, blame string) {
		t.Helper()
		p := s.proof(doctor, high, time.Now())
		_, txID := s.accessOnce(high, p)
		s.checkLogged(high, doctor, must(txbuild.AccessID(ch, p))(t), txID, granted, reason, blame)
	}

	report(provenance.ActionDecrypted, provenance.ActionRead)
	sb := read[provenance.SideBlock](s, s.auditor, ch, provenance.Name, "GetSideBlock", reqID, "1")
	if sb.Tx.Kind != provenance.KindReport || len(sb.Tx.VLN) != 0 || len(sb.Tx.Actions) != 2 || sb.Tx.Actions[0].Status != "permitted" ||
		sb.Tx.Actions[1].Status != "permitted" || sb.Tx.NID != s.rsigner.ID() || sb.Tx.NodeMSP != "ResearchMSP" {
		t.Fatalf("permitted side-block read through node 1 = %+v", sb)
	}
	if st := status(); st.Blocked {
		t.Fatalf("blocked after a permitted report: %+v", st)
	}
	tryAccess(true, "", "")

	report(provenance.ActionCopy)
	sb = read[provenance.SideBlock](s, s.auditor, ch, provenance.Name, "GetSideBlock", reqID, "2")
	view = read[provenance.View](s, s.auditor, ch, provenance.Name, "GetRequest", reqID)
	if !slices.Equal(sb.Tx.VLN, []string{"copy"}) || sb.ActionCounter != 1 || view.State.Status != provenance.StatusRevoked || view.State.ActionCounter != 1 {
		t.Fatalf("forbidden side-block = %+v, state %+v", sb, view.State)
	}
	st := status()
	if !st.Blocked || len(st.Blocks) != 1 || st.Blocks[0].Causes[0].By != ptl.ByProvenance || st.Blocks[0].Causes[0].RequestID != reqID ||
		st.Blocks[0].State != ptl.StateRevoked || st.Blocks[0].Scope != ptl.ScopeRecord {
		t.Fatalf("P-TL status after the violation = %+v", st)
	}
	var forbidden []ptl.Violation
	for _, v := range readAll[ptl.Violation](s, s.auditor, ch, ptl.Name, "ListViolations", rec1) {
		if v.Reason == ptl.ReasonForbiddenAction {
			forbidden = append(forbidden, v)
		}
	}
	if len(forbidden) != 1 || forbidden[0].User != doctor.ID() || !strings.Contains(forbidden[0].Evidence, reqID) {
		t.Fatalf("forbidden-action violations = %+v", forbidden)
	}
	tryAccess(false, ptl.ReasonRevoked, ptl.BlameUser)
	// Blocks do not cross channels: the doctor still reads the low level.
	low := recs["low"]
	p := s.proof(doctor, low, time.Now())
	_, txID := s.accessOnce(low, p)
	s.checkLogged(low, doctor, must(txbuild.AccessID("side-low", p))(t), txID, true, "", "")

	s.submit(s.owner, must(txbuild.Regrant(s.h1, ch, reqID, "the copy was to the patient's own file"))(t))
	s.converged(ch)
	if st := status(); st.Blocked {
		t.Fatalf("blocked after the re-grant: %+v", st)
	}
	if v := read[provenance.View](s, s.auditor, ch, provenance.Name, "GetRequest", reqID); v.State.Status != provenance.StatusRegranted || v.State.SideBlocks != 3 {
		t.Fatalf("state after the re-grant = %+v", v.State)
	}
	tryAccess(true, "", "")

	s.submit(s.owner, must(txbuild.Recall(s.h1, ch, reqID, ""))(t))
	s.converged(ch)
	if st := status(); !st.Blocked || st.Blocks[0].State != ptl.StateRecalled || st.Blocks[0].Causes[0].By != ptl.ByOwner || st.Blocks[0].Causes[0].RequestID != reqID {
		t.Fatalf("P-TL status after the recall = %+v", st)
	}
	tryAccess(false, ptl.ReasonRevoked, ptl.BlameUser)

	ver := read[provenance.Verification](s, s.auditor, ch, provenance.Name, "VerifyRequest", reqID)
	if !ver.OK || ver.Checked != 5 {
		t.Fatalf("VerifyRequest through node 1 = %+v, want the parent and 4 side-blocks intact", ver)
	}
}
