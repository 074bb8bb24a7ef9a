package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/medshare/medshare/abe/tag"
	"github.com/medshare/medshare/chaincode/index"
	"github.com/medshare/medshare/chaincode/provenance"
	"github.com/medshare/medshare/chaincode/ptl"
	"github.com/medshare/medshare/chaincode/storage"
	"github.com/medshare/medshare/chaincode/txbuild"
	"github.com/medshare/medshare/network/client"
	"github.com/medshare/medshare/network/identity"
)

// demoPolicies are the hidden policies of the demo record's three levels,
// nested as MSC-CP-ABE nests them.
var demoPolicies = map[string]string{
	"low":    "(role=doctor or role=researcher) and trust>=1",
	"medium": "(role=doctor or role=researcher) and trust>=2",
	"high":   "role=doctor and trust>=2 and specialty=cardiology",
}

// demo is the state of one run of the flows.
type demo struct {
	ctx     context.Context
	out     io.Writer
	owner   *identity.Signer // hospital 1's gateway: the data owner
	gw      *client.Gateway  // through node 0
	fwd     *identity.Signer // hospital 2's gateway: forwards reports
	fwdGw   *client.Gateway  // through node 1
	auditor *client.Gateway  // the research institute's auditor, through node 1: every read-back
	name    string           // the run's name, demo-<unix time>-<random>
	id      string           // the record's id: hospital 1's identity hash and name
	recs    map[string]*storage.Record
	pols    map[string]*ptl.Policy
}

// runDemo drives flows 1-4 of docs/chaincode.md against a network started by
// scripts/network.sh up, printing each step, and reads every outcome back
// through another organisation's node.
func runDemo(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	cryptoDir := fs.String("crypto", "run/crypto", "crypto directory of the running network (scripts/network.sh up)")
	node0 := fs.String("node0", "127.0.0.1:7051", "hospital 1's node (the data owner's gateway submits here)")
	node1 := fs.String("node1", "127.0.0.1:8051", "hospital 2's node (reports are forwarded and outcomes read here)")
	timeout := fs.Duration("timeout", 2*time.Minute, "time limit for the whole demo")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	connect := func(node, org, user string) (*client.Gateway, *identity.Signer, error) {
		c := connFlags{node: node, crypto: *cryptoDir, id: filepath.Join(*cryptoDir, org, "users", user+"@"+org+".example")}
		gw, _, err := c.gateway()
		if err != nil {
			return nil, nil, fmt.Errorf("demo: %s of %s at %s: %w (is the network up? scripts/network.sh up)", user, org, node, err)
		}
		s, err := identity.Dir(c.id).LoadSigner()
		return gw, s, err
	}
	var suffix [3]byte
	if _, err := rand.Read(suffix[:]); err != nil {
		return err
	}
	d := &demo{ctx: ctx, out: stdout, recs: map[string]*storage.Record{}, pols: map[string]*ptl.Policy{}}
	var err error
	if d.gw, d.owner, err = connect(*node0, "hospital1", "gateway"); err != nil {
		return err
	}
	// Record ids belong to their owner: hospital 1's start with its
	// identity hash. The name is unique across runs, even within a second.
	d.name = fmt.Sprintf("demo-%d-%x", time.Now().Unix(), suffix)
	d.id = txbuild.RecordID(d.owner.ID(), d.name)
	if d.fwdGw, d.fwd, err = connect(*node1, "hospital2", "gateway"); err != nil {
		return err
	}
	// The configuration deploy_default sets names the auditor users of the
	// crypto material as the auditors: administrators read no audit data.
	if d.auditor, _, err = connect(*node1, "research", "auditor"); err != nil {
		return err
	}
	// The attribute authority enrols the data users' keys under their
	// enrolled identities: hospital 2's dr-bob and the research
	// institute's carol.
	enrolled := func(org, user string) (string, error) {
		s, err := identity.Dir(filepath.Join(*cryptoDir, org, "users", user+"@"+org+".example")).LoadSigner()
		if err != nil {
			return "", fmt.Errorf("demo: %s of %s: %w", user, org, err)
		}
		return s.ID(), nil
	}
	bob, err := enrolled("hospital2", "dr-bob")
	if err != nil {
		return err
	}
	carol, err := enrolled("research", "carol")
	if err != nil {
		return err
	}
	aa, err := identity.ReadKeyFile(filepath.Join(*cryptoDir, "authority", "key.pem"))
	if err != nil {
		return fmt.Errorf("demo: the attribute authority's key: %w", err)
	}
	tk, err := tag.NewKey(rand.Reader)
	if err != nil {
		return err
	}
	now := time.Now()
	from, until := now.Add(-time.Hour), now.Add(24*time.Hour)
	doctor, err := txbuild.IssueUser(rand.Reader, aa, tk, bob, 1, from, until, "role=doctor", "specialty=cardiology", "trust>=1", "trust>=2")
	if err != nil {
		return err
	}
	researcher, err := txbuild.IssueUser(rand.Reader, aa, tk, carol, 1, from, until, "role=researcher", "trust>=1")
	if err != nil {
		return err
	}
	d.printf("Attribute authority enrolled a key and issued credentials to a doctor (user %s) and a researcher (user %s).\n", doctor.ID(), researcher.ID())

	if err := d.store(tk, from, until); err != nil {
		return err
	}
	if err := d.accesses(doctor, researcher); err != nil {
		return err
	}
	return d.medshare(doctor)
}

func (d *demo) printf(format string, args ...any) { fmt.Fprintf(d.out, format, args...) }

// submit submits c through gw and returns the committed payload and tx id.
func (d *demo) submit(gw *client.Gateway, c txbuild.Call) ([]byte, string, error) {
	_, commit, err := gw.GetNetwork(c.Channel).GetContract(c.Chaincode).SubmitAsync(c.Fn, client.WithArguments(c.Args...))
	if err != nil {
		return nil, "", fmt.Errorf("demo: %s: %w", c, err)
	}
	st, err := commit.StatusContext(d.ctx)
	if err != nil {
		return nil, "", fmt.Errorf("demo: %s: %w", c, err)
	}
	if !st.Successful {
		return nil, st.TransactionID, fmt.Errorf("demo: %s committed invalid: %s", c, st.Message)
	}
	return st.Result, st.TransactionID, nil
}

// read evaluates a query through the auditor's node and decodes it.
func read[T any](d *demo, ch, cc, fn string, args ...string) (*T, error) {
	b, err := d.auditor.GetNetwork(ch).GetContract(cc).EvaluateTransaction(fn, args...)
	if err != nil {
		return nil, fmt.Errorf("demo: %s/%s:%s: %w", ch, cc, fn, err)
	}
	v := new(T)
	if err := json.Unmarshal(b, v); err != nil {
		return nil, fmt.Errorf("demo: %s/%s:%s: %w", ch, cc, fn, err)
	}
	return v, nil
}

// store is flow 1: Tx_sto on the three side chains, the levels' hidden
// policies, and the record in the index on main.
func (d *demo) store(tk tag.Key, from, until time.Time) error {
	d.printf("\n1. Tx_sto: hospital 1 stores record %s on the three side chains and indexes it on main\n", d.id)
	ciphertext := []byte("MSC-CP-ABE and AES-GCM ciphertext of " + d.id)
	var refs []index.LevelRef
	for _, sc := range txbuild.SideChannels {
		keys := []byte("wrapped " + sc.Level + " keys of " + d.id)
		call, err := txbuild.Store(d.owner, sc.Channel, txbuild.StoreInput{RecordID: d.id, Version: 1, Address: txbuild.RawCID(ciphertext), Keys: keys, CheckCode: sha256.Sum256(ciphertext)})
		if err != nil {
			return err
		}
		payload, txID, err := d.submit(d.gw, call)
		if err != nil {
			return err
		}
		var rec storage.Record
		if err := json.Unmarshal(payload, &rec); err != nil {
			return err
		}
		d.recs[sc.Level] = &rec
		hidden, err := txbuild.HidePolicy(tk, demoPolicies[sc.Level])
		if err != nil {
			return err
		}
		if call, err = txbuild.SetPolicy(sc.Channel, d.id, ptl.PolicyInput{HiddenPolicy: hidden,
			NotBefore: txbuild.FormatTime(from), NotAfter: txbuild.FormatTime(until)}); err != nil {
			return err
		}
		if _, _, err := d.submit(d.gw, call); err != nil {
			return err
		}
		refs = append(refs, index.LevelRef{Level: sc.Level, SideChain: sc.Channel, TxID: txID, Version: 1})
		d.printf("   %-11s Tx_sto %s, policy %q (stored as tags)\n", sc.Channel, txID, demoPolicies[sc.Level])
	}
	call, err := txbuild.IndexRecord(txbuild.MainChannel, d.id, index.RecordInput{Levels: refs, PolicyVersion: 1})
	if err != nil {
		return err
	}
	if _, _, err := d.submit(d.gw, call); err != nil {
		return err
	}
	for _, sc := range txbuild.SideChannels {
		pol, err := d.waitPolicy(sc.Channel)
		if err != nil {
			return err
		}
		d.pols[sc.Level] = pol
	}
	entry, err := d.waitIndex()
	if err != nil {
		return err
	}
	d.printf("   read back through node 1: index entry owner %s, %d levels\n", entry.OwnerMSP, len(entry.Levels))
	return nil
}

// waitPolicy reads a level's policy through node 1 once it has the block.
func (d *demo) waitPolicy(ch string) (*ptl.Policy, error) {
	return retry(d.ctx, func() (*ptl.Policy, error) { return read[ptl.Policy](d, ch, ptl.Name, "GetPolicy", d.id) })
}

func (d *demo) waitIndex() (*index.RecordEntry, error) {
	return retry(d.ctx, func() (*index.RecordEntry, error) {
		return read[index.RecordEntry](d, txbuild.MainChannel, index.Name, "GetRecord", d.id)
	})
}

// retry calls f until it succeeds or ctx ends: a read through another node
// may run before that node has committed the block.
func retry[T any](ctx context.Context, f func() (T, error)) (T, error) {
	for {
		v, err := f()
		if err == nil {
			return v, nil
		}
		select {
		case <-ctx.Done():
			return v, errors.Join(err, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// access submits one access through the owner's gateway and prints the
// decision.
func (d *demo) access(who string, u *txbuild.User, level string, p *ptl.Proof) (*ptl.Decision, error) {
	ch := d.recs[level].Channel
	if p == nil {
		var err error
		if p, err = u.ProofFor(rand.Reader, ch, d.pols[level], d.recs[level].Address, time.Now()); err != nil {
			if errors.Is(err, txbuild.ErrNotSatisfiable) {
				// Disclose everything held: P-TL must refuse it.
				p, err = u.Proof(rand.Reader, txbuild.ProofInput{Channel: ch, RecordID: d.id, Address: d.recs[level].Address,
					PolicyVersion: d.pols[level].Version, Time: time.Now(), Disclose: u.Wallet.Tags()})
			}
			if err != nil {
				return nil, err
			}
		}
	}
	call, err := txbuild.Access(ch, p, time.Now())
	if err != nil {
		return nil, err
	}
	payload, txID, err := d.submit(d.gw, call)
	if err != nil {
		return nil, err
	}
	var dec ptl.Decision
	if err := json.Unmarshal(payload, &dec); err != nil {
		return nil, err
	}
	outcome := "refused: " + dec.Reason
	if dec.Granted {
		m, err := d.keysFor(ch, &dec)
		if err != nil {
			return nil, err
		}
		outcome = fmt.Sprintf("granted: u and the %d bytes of m, checked against H(m)", len(m))
	}
	d.printf("   %-11s %-10s → %s (tx %s)\n", ch, who, outcome, txID)
	return &dec, nil
}

// keysFor is what the owner's gateway does after a grant: it hands the data
// user the wrapped keys m of the granted version, which it holds (here it
// reads them back from storage, as only the owner may) and which must hash
// to the decision's H(m).
func (d *demo) keysFor(ch string, dec *ptl.Decision) ([]byte, error) {
	b, err := d.gw.GetNetwork(ch).GetContract(storage.Name).EvaluateTransaction("GetRecord", dec.RecordID)
	if err != nil {
		return nil, fmt.Errorf("demo: the owner reads m: %w", err)
	}
	var rec storage.Record
	if err := json.Unmarshal(b, &rec); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(rec.Keys)
	if rec.Version != dec.Version || hex.EncodeToString(sum[:]) != dec.KeysHash {
		return nil, fmt.Errorf("demo: the stored keys of %s (version %d) do not match the grant's H(m) (version %d)", dec.RecordID, rec.Version, dec.Version)
	}
	return rec.Keys, nil
}

// accesses is flow 2: granted and refused accesses, then the violations as
// the owner lists them through another node.
func (d *demo) accesses(doctor, researcher *txbuild.User) error {
	d.printf("\n2. Proof → Tx_acc: data users ask hospital 1's gateway for the record's levels\n")
	high := d.recs["high"]
	first, err := doctor.ProofFor(rand.Reader, high.Channel, d.pols["high"], high.Address, time.Now())
	if err != nil {
		return err
	}
	steps := []struct {
		who   string
		u     *txbuild.User
		level string
		proof *ptl.Proof
	}{
		{"doctor", doctor, "high", first},
		{"doctor", doctor, "medium", nil},
		{"researcher", researcher, "low", nil},
		{"researcher", researcher, "high", nil},
		{"doctor", doctor, "high", first}, // the same proof again: a replay
	}
	for _, s := range steps {
		if _, err := d.access(s.who, s.u, s.level, s.proof); err != nil {
			return err
		}
	}
	vs, err := retry(d.ctx, func() (*struct{ Items []ptl.Violation }, error) {
		v, err := read[struct{ Items []ptl.Violation }](d, high.Channel, ptl.Name, "ListViolations", d.id, "100", "")
		if err == nil && len(v.Items) < 2 {
			err = errors.New("not yet committed on node 1")
		}
		return v, err
	})
	if err != nil {
		return err
	}
	for _, v := range vs.Items {
		d.printf("   violation on %s read through node 1: user %s, %s (%s), blamed on the %s\n", high.Channel, v.User, v.Reason, v.Detail, v.Blame)
	}
	return nil
}

// medshare is flows 3 and 4: a MeDShare request, a permitted and a
// forbidden action report, revocation on the next access, re-grant and
// recall.
func (d *demo) medshare(doctor *txbuild.User) error {
	const level = "high"
	ch := d.recs[level].Channel
	// Request ids belong to their requestor.
	reqID := txbuild.RequestID(doctor.ID(), d.name+"-req")
	d.printf("\n3. MeDShare request → parent block on %s\n", ch)
	// The doctor's client generates the report key: nobody else can sign
	// the request's reports.
	reportKey, err := txbuild.NewKey(rand.Reader)
	if err != nil {
		return err
	}
	now := time.Now()
	in, err := txbuild.SignRequest(doctor, ch, txbuild.Request{ID: reqID, RecordIDs: []string{d.id}, Purpose: "second opinion",
		Time: now.Add(-2 * time.Second), ReportKey: reportKey.DER})
	if err != nil {
		return err
	}
	pkg := txbuild.Package{Received: now.Add(-time.Second), Processed: now.Add(-time.Second / 2), Sent: now, DataID: d.name + "-pkg",
		Hash: sha256.Sum256([]byte("encrypted package of " + reqID)), Allowed: []string{provenance.ActionRead}}
	call, err := txbuild.RecordRequest(d.owner, ch, in, pkg)
	if err != nil {
		return err
	}
	if _, txID, err := d.submit(d.gw, call); err != nil {
		return err
	} else {
		d.printf("   parent block %s (tx %s): the usage contract allows read\n", reqID, txID)
	}

	// Reports go through hospital 2's node, which endorses them against its
	// own state: wait until it has committed the request.
	if _, err := retry(d.ctx, func() ([]byte, error) {
		return d.auditor.GetNetwork(ch).GetContract(provenance.Name).EvaluateTransaction("GetRequest", reqID)
	}); err != nil {
		return err
	}
	d.printf("\n4. Reports → side-blocks → violation → revocation → re-grant / recall\n")
	for i, actions := range [][]string{{provenance.ActionDecrypted, provenance.ActionRead}, {provenance.ActionCopy}} {
		var list []txbuild.Action
		for _, a := range actions {
			list = append(list, txbuild.Action{Name: a, At: time.Now()})
		}
		r, err := txbuild.SignReport(reportKey, ch, reqID, pkg.Hash, uint64(i+1), list)
		if err != nil {
			return err
		}
		call, err := txbuild.ForwardReport(d.fwd, ch, pkg.Hash, r)
		if err != nil {
			return err
		}
		if _, txID, err := d.submit(d.fwdGw, call); err != nil {
			return err
		} else {
			d.printf("   report %v forwarded by hospital 2's gateway → side-block %d (tx %s)\n", actions, i+1, txID)
		}
	}
	if _, err := d.access("doctor", doctor, level, nil); err != nil {
		return err
	}
	for _, step := range []struct {
		what string
		call func() (txbuild.Call, error)
	}{
		{"re-grants", func() (txbuild.Call, error) {
			return txbuild.Regrant(d.owner, ch, reqID, "the copy went to the patient's own file")
		}},
		{"recalls", func() (txbuild.Call, error) { return txbuild.Recall(d.owner, ch, reqID, "") }},
	} {
		call, err := step.call()
		if err != nil {
			return err
		}
		if _, txID, err := d.submit(d.gw, call); err != nil {
			return err
		} else {
			d.printf("   hospital 1 %s (tx %s)\n", step.what, txID)
		}
		if _, err := d.access("doctor", doctor, level, nil); err != nil {
			return err
		}
	}
	ver, err := retry(d.ctx, func() (*provenance.Verification, error) {
		v, err := read[provenance.Verification](d, ch, provenance.Name, "VerifyRequest", reqID)
		if err == nil && v.Checked < 5 {
			err = errors.New("not yet committed on node 1")
		}
		return v, err
	})
	if err != nil {
		return err
	}
	d.printf("   VerifyRequest through node 1: ok=%v, %d blocks re-walked\n", ver.OK, ver.Checked)
	return nil
}
