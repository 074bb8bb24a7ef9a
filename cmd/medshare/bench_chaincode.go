package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/medshare/medshare/abe/policy"
	"github.com/medshare/medshare/abe/tag"
	"github.com/medshare/medshare/chaincode/index"
	"github.com/medshare/medshare/chaincode/ptl"
	"github.com/medshare/medshare/chaincode/storage"
	"github.com/medshare/medshare/chaincode/txbuild"
	"github.com/medshare/medshare/network/client"
	"github.com/medshare/medshare/network/cryptogen"
	"github.com/medshare/medshare/network/identity"
	"github.com/medshare/medshare/network/nettest"
)

// benchPolicy is every benchmark record's policy, hidden with the tag key,
// with an access window covering the whole week so that the window check
// runs on every access.
const benchPolicy = "role=doctor and specialty=cardiology and trust>=2"

// benchAttrs are the attributes every benchmark data user is certified for
// (more than the policy needs: a proof discloses only what it needs).
var benchAttrs = []string{"role=doctor", "specialty=cardiology", "trust>=1", "trust>=2", "trust>=3", "org=hospital1"}

// benchOrgs is the number of organisations: load client i submits through
// node i mod 3 as organisation i mod 3's client, which owns that
// organisation's records.
const benchOrgs = 3

// benchChaincode measures Tx_sto (storage Store) and Tx_acc (the full P-TL
// Access path) on the three-node network, deployed as scripts/network.sh
// deploys the chaincodes.
func benchChaincode(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("bench chaincode", flag.ContinueOnError)
	var b benchFlags
	b.register(fs)
	chans := fs.String("channels", "side-high,side-medium,side-low", "comma-separated side channels the transactions are spread over")
	nUsers := fs.Int("users", 256, "data users, each with its own key and AA credential")
	nRecords := fs.Int("records", 32, "records per organisation and side channel that accesses go to")
	keysSize := fs.Int("keys-size", 2048, "bytes of wrapped keys (m) per Tx_sto")
	which := fs.String("tx", "sto,acc", "transactions to measure: sto, acc or both")
	if err := fs.Parse(args); err != nil {
		return err
	}
	levels, err := b.levels()
	if err != nil {
		return err
	}
	channels := strings.Split(*chans, ",")
	for _, ch := range channels {
		if !isSideChannel(ch) {
			return fmt.Errorf("bench chaincode: %q is not a side channel", ch)
		}
	}
	if *nUsers < 1 || *nRecords < 1 || *keysSize < 1 || *keysSize > storage.MaxKeysLen {
		return errors.New("bench chaincode: -users and -records must be positive, -keys-size 1..65536")
	}
	doSto, doAcc := strings.Contains(*which, "sto"), strings.Contains(*which, "acc")

	ctx := context.Background()
	// Hospital 2's auditor, whom the chaincodes' configuration names,
	// reads the sampled grants back.
	n, cleanup, err := b.startNetwork(ctx, nettest.Options{Chaincodes: []nettest.Chaincode{}, Users: map[int][]cryptogen.User{1: {{Name: "auditor"}}}})
	if err != nil {
		return err
	}
	defer cleanup()
	bn, err := setupChaincodeBench(ctx, n, channels, *nUsers, *nRecords, *keysSize)
	if err != nil {
		return err
	}
	user := func(int) string { return "client" }

	if doSto {
		if b.warmup > 0 {
			if _, err := n.Load(ctx, 50, b.warmup, b.duration, user, bn.store); err != nil {
				return err
			}
		}
		benchHeader(stdout, "Chaincode: Tx_sto (storage Store), submit → commit", &b)
		for _, c := range levels {
			loadNote()
			r, err := n.Load(ctx, c, b.txs, b.duration, user, bn.store)
			if err != nil {
				return err
			}
			fmt.Fprintln(stdout, r)
			reportFirstError(c, r)
		}
		fmt.Fprintf(stdout, "\nEach Tx_sto stores a new record (version 1) with %d random bytes of wrapped keys on one of %s in turn; the owner's signature over the Tx_sto digest is made in the timed loop.\n\n",
			*keysSize, strings.Join(channels, ", "))
	}

	if doAcc {
		if b.warmup > 0 {
			bn.fill(50, b.warmup)
			if _, err := n.Load(ctx, 50, b.warmup, b.duration, user, bn.access); err != nil {
				return err
			}
			bn.granted.Store(0)
			bn.refused.Store(0)
		}
		benchHeader(stdout, "Chaincode: Tx_acc (ptl Access, full P-TL checks), submit → commit", &b)
		var notes []string
		for _, c := range levels {
			bn.fill(c, b.txs)
			bn.resetSample()
			loadNote()
			r, err := n.Load(ctx, c, b.txs, b.duration, user, bn.access)
			if err != nil {
				return err
			}
			fmt.Fprintln(stdout, r)
			reportFirstError(c, r)
			found, err := bn.verifySample(ctx)
			if err != nil {
				return err
			}
			notes = append(notes, fmt.Sprintf("concurrency %d: %d grants, %d refusals; %s", c, bn.granted.Swap(0), bn.refused.Swap(0), found))
		}
		fmt.Fprintf(stdout, "\nEach Tx_acc is one data user's access to one record on one of %s in turn, through every P-TL check: the proof's signature, "+
			"nonce (replay), blocks, rate limit (deployed at 60 attempts per user, record and minute, as scripts/network.sh does), freshness, validity period, "+
			"an access window, the AA credential disclosure and the hidden policy; it writes the APR log entry, the nonce, the rate count and Tx_acc. "+
			"%d users × %d records per owner and channel keep every (user, record) pair far below the rate limit. "+
			"Proofs (the data user's signature) are made before each run, outside the timed loop; the owner's transaction signature (sign_DO) is made in it. "+
			"The AA credential is verified once per user and node and then recognised (P-TL's cache of verified disclosures); the warmup makes every user a returning one. "+
			"A refusal counts as a failure.\n\n", strings.Join(channels, ", "), *nUsers, *nRecords)
		for _, s := range notes {
			fmt.Fprintf(stdout, "- %s\n", s)
		}
		fmt.Fprintln(stdout)
	}
	return nil
}

func isSideChannel(ch string) bool {
	for _, sc := range txbuild.SideChannels {
		if sc.Channel == ch {
			return true
		}
	}
	return false
}

func reportFirstError(c int, r nettest.LoadResult) {
	if r.FirstError != nil {
		fmt.Fprintf(os.Stderr, "concurrency %d: first error: %v\n", c, r.FirstError)
	}
}

// loadNote prints, on stderr before a run, the machine's load average and
// how long one P-256 signature verification takes right now (the nodes'
// largest single cost): on a shared virtual machine the host's load moves
// throughput by tens of percent between identical runs, and these two
// figures tell a slow run from a slow build.
func loadNote() {
	var parts []string
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) >= 3 {
			parts = append(parts, fmt.Sprintf("load average %s %s %s", f[0], f[1], f[2]))
		}
	}
	if d, err := verifyProbe(200); err == nil {
		parts = append(parts, fmt.Sprintf("one P-256 verification %.0f µs", float64(d.Nanoseconds())/1000))
	}
	if len(parts) > 0 {
		fmt.Fprintf(os.Stderr, "before the run: %s\n", strings.Join(parts, "; "))
	}
}

// verifyProbe returns the mean time of n P-256 signature verifications.
func verifyProbe(n int) (time.Duration, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return 0, err
	}
	digest := sha256.Sum256([]byte("medshare bench probe"))
	sig, err := ecdsa.SignASN1(rand.Reader, key, digest[:])
	if err != nil {
		return 0, err
	}
	start := time.Now()
	for range n {
		if !ecdsa.VerifyASN1(&key.PublicKey, digest[:], sig) {
			return 0, errors.New("bench: probe signature does not verify")
		}
	}
	return time.Since(start) / time.Duration(n), nil
}

// chaincodeBench holds the parties, records and pre-made proofs of the
// benchmark.
type chaincodeBench struct {
	channels []string
	owners   [benchOrgs]*identity.Signer
	users    []*txbuild.User
	// disclosures are each user's encoded disclosure of the tags the
	// policy needs (the same bytes for every proof of the user).
	disclosures [][]byte
	// records[o][c] are organisation o's records on channels[c].
	records  [benchOrgs][][]*storage.Record
	keysSize int
	stoSeq   atomic.Int64

	// pools[o] are the proofs organisation o's clients submit, made before
	// each run; seq[o] continues across runs so that (user, record) pairs
	// keep rotating.
	pools [benchOrgs]*proofPool
	seq   [benchOrgs]int

	granted, refused atomic.Int64
	sampleMu         sync.Mutex
	sample           []grant
	auditor          *client.Gateway
	net              *nettest.Network
}

type grant struct{ channel, recordID, accessID string }

type proofItem struct {
	channel string
	proof   *ptl.Proof
	err     error // making the proof failed (only a broken random source)
}

type proofPool struct {
	items []proofItem
	next  atomic.Int64
}

func (p *proofPool) take() (proofItem, bool) {
	i := p.next.Add(1) - 1
	if i >= int64(len(p.items)) {
		return proofItem{}, false
	}
	return p.items[i], true
}

// setupChaincodeBench deploys the chaincodes, issues the data users'
// credentials and stores and sets the policies of the records accesses go
// to. None of it is timed.
func setupChaincodeBench(ctx context.Context, n *nettest.Network, channels []string, nUsers, nRecords, keysSize int) (*chaincodeBench, error) {
	aa, err := identity.ReadKeyFile(filepath.Join(cryptogen.AuthorityDir(n.Crypto), "key.pem"))
	if err != nil {
		return nil, fmt.Errorf("bench chaincode: attribute authority key: %w", err)
	}
	auditor, err := n.Identity(1, "auditor").LoadSigner()
	if err != nil {
		return nil, err
	}
	if err := deployMedshare(ctx, n, aa, []string{auditor.ID()}); err != nil {
		return nil, err
	}
	bn := &chaincodeBench{channels: channels, keysSize: keysSize, net: n}
	gws := make([]*client.Gateway, benchOrgs)
	for o := range benchOrgs {
		if bn.owners[o], err = n.Identity(o, "client").LoadSigner(); err != nil {
			return nil, err
		}
		if gws[o], err = n.Gateway(o, o, "client"); err != nil {
			return nil, err
		}
	}
	if bn.auditor, err = n.Gateway(1, 1, "auditor"); err != nil {
		return nil, err
	}
	tk, err := tag.NewKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now().UTC().Truncate(time.Second)
	from, until := now.Add(-time.Hour), now.Add(24*time.Hour)
	tree, err := policy.Parse(benchPolicy)
	if err != nil {
		return nil, err
	}
	hidden := tree.Hide(tk)
	for i := range nUsers {
		// Each data user is a person the attribute authority enrolled
		// (the enrolment binds the user's key to its user id).
		enrolled := fmt.Sprintf("x509::CN=bench-user-%d,OU=client,O=Hospital2MSP::CN=ca.hospital2.example", i)
		u, err := txbuild.IssueUser(rand.Reader, aa, tk, enrolled, 1, from, until, benchAttrs...)
		if err != nil {
			return nil, err
		}
		tags, err := txbuild.Needed(hidden, u.Wallet.Tags())
		if err != nil {
			return nil, err
		}
		d, err := u.Disclosure(tags)
		if err != nil {
			return nil, err
		}
		bn.users, bn.disclosures = append(bn.users, u), append(bn.disclosures, d)
	}
	hiddenBytes, err := hidden.MarshalBinary()
	if err != nil {
		return nil, err
	}
	pol := ptl.PolicyInput{HiddenPolicy: hiddenBytes, NotBefore: txbuild.FormatTime(from), NotAfter: txbuild.FormatTime(until), TimeZone: "Europe/Paris",
		Windows: []ptl.Window{{Days: []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}, Start: "00:00", End: "24:00"}}}

	type job struct{ o, c, r int }
	jobs := make(chan job)
	errs := make(chan error, 1)
	var mu sync.Mutex
	for o := range benchOrgs {
		bn.records[o] = make([][]*storage.Record, len(channels))
		for c := range channels {
			bn.records[o][c] = make([]*storage.Record, nRecords)
		}
	}
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				rec, err := bn.storeWithPolicy(gws[j.o], bn.owners[j.o], channels[j.c], txbuild.RecordID(bn.owners[j.o].ID(), fmt.Sprintf("acc-%d-%04d", j.o, j.r)), pol)
				if err != nil {
					select {
					case errs <- err:
					default:
					}
					continue
				}
				mu.Lock()
				bn.records[j.o][j.c][j.r] = rec
				mu.Unlock()
			}
		}()
	}
	for o := range benchOrgs {
		for c := range channels {
			for r := range nRecords {
				jobs <- job{o, c, r}
			}
		}
	}
	close(jobs)
	wg.Wait()
	select {
	case err := <-errs:
		return nil, fmt.Errorf("bench chaincode: setting up records: %w", err)
	default:
	}
	for _, ch := range channels {
		if _, err := n.WaitConverged(ctx, ch); err != nil {
			return nil, err
		}
	}
	return bn, nil
}

// deployMedshare enables the chaincodes with scripts/network.sh's Init
// configurations, naming auditors (identities' unique names) as the
// auditors; every organisation approves each definition.
func deployMedshare(ctx context.Context, n *nettest.Network, aa *ecdsa.PrivateKey, auditors []string) error {
	der, err := x509.MarshalPKIXPublicKey(&aa.PublicKey)
	if err != nil {
		return err
	}
	var nodes []index.Node
	for _, nd := range n.Nodes {
		nodes = append(nodes, index.Node{Name: nd.ID, Org: nd.Org.MSPID, Address: nd.API})
	}
	calls, err := txbuild.DefaultInits(der, nodes, txbuild.DefaultMonitor, auditors)
	if err != nil {
		return err
	}
	var ccs []nettest.Chaincode
	for _, c := range calls {
		ccs = append(ccs, nettest.Chaincode{Name: c.Chaincode, Channels: []string{c.Channel}, InitFn: c.Fn, InitArgs: [][]byte{[]byte(c.Args[0])}})
	}
	if err := n.DeployAll(ctx, ccs); err != nil {
		return fmt.Errorf("deploy: %w", err)
	}
	return nil
}

func (bn *chaincodeBench) storeWithPolicy(gw *client.Gateway, owner *identity.Signer, ch, id string, pol ptl.PolicyInput) (*storage.Record, error) {
	keys := make([]byte, bn.keysSize)
	rand.Read(keys)
	ct := []byte("ciphertext of " + id)
	call, err := txbuild.Store(owner, ch, txbuild.StoreInput{RecordID: id, Version: 1, Address: txbuild.RawCID(ct), Keys: keys, CheckCode: sha256.Sum256(ct)})
	if err != nil {
		return nil, err
	}
	out, err := gw.GetNetwork(ch).GetContract(call.Chaincode).SubmitTransaction(call.Fn, call.Args...)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", call, id, err)
	}
	var rec storage.Record
	if err := json.Unmarshal(out, &rec); err != nil {
		return nil, err
	}
	if call, err = txbuild.SetPolicy(ch, id, pol); err != nil {
		return nil, err
	}
	if _, err := gw.GetNetwork(ch).GetContract(call.Chaincode).SubmitTransaction(call.Fn, call.Args...); err != nil {
		return nil, fmt.Errorf("%s %s: %w", call, id, err)
	}
	return &rec, nil
}

// store is the Tx_sto workload: a new record on the next channel, signed by
// the client's organisation's owner identity.
func (bn *chaincodeBench) store(_ context.Context, gw *client.Gateway, ci, _ int) error {
	j := bn.stoSeq.Add(1)
	ch := bn.channels[int(j)%len(bn.channels)]
	owner := bn.owners[ci%benchOrgs]
	id := txbuild.RecordID(owner.ID(), fmt.Sprintf("sto-%08d", j))
	keys := make([]byte, bn.keysSize)
	rand.Read(keys)
	ct := []byte("ciphertext of " + id)
	call, err := txbuild.Store(owner, ch, txbuild.StoreInput{RecordID: id, Version: 1, Address: txbuild.RawCID(ct), Keys: keys, CheckCode: sha256.Sum256(ct)})
	if err != nil {
		return err
	}
	out, err := gw.GetNetwork(ch).GetContract(call.Chaincode).SubmitTransaction(call.Fn, call.Args...)
	if err != nil {
		return err
	}
	var rec storage.Record
	if err := json.Unmarshal(out, &rec); err != nil {
		return err
	}
	if rec.RecordID != id || rec.Version != 1 {
		return fmt.Errorf("Store %s returned %s version %d", id, rec.RecordID, rec.Version)
	}
	return nil
}

// fill makes the proofs of the next run: as many per organisation as its
// share of total at concurrency c, and a quarter more. Proof j of an
// organisation goes to channel j mod C, by user (j / C) mod U, to record
// (j / (C·U)) mod R of the organisation, so that consecutive accesses
// rotate over channels and users.
func (bn *chaincodeBench) fill(c, total int) {
	perOrg := (c + benchOrgs - 1) / benchOrgs
	size := total*perOrg/c + total*perOrg/c/4 + 64
	now := time.Now()
	for o := range benchOrgs {
		p := &proofPool{items: make([]proofItem, 0, size)}
		for range size {
			p.items = append(p.items, bn.makeProof(o, bn.seq[o], now))
			bn.seq[o]++
		}
		bn.pools[o] = p
	}
}

func (bn *chaincodeBench) makeProof(o, j int, now time.Time) proofItem {
	nc, nu := len(bn.channels), len(bn.users)
	c, u := j%nc, (j/nc)%nu
	recs := bn.records[o][c]
	rec := recs[(j/(nc*nu))%len(recs)]
	// Every record's policy is set once: version 1.
	p, err := bn.users[u].Proof(rand.Reader, txbuild.ProofInput{Channel: rec.Channel, RecordID: rec.RecordID, Address: rec.Address, PolicyVersion: 1, Time: now, Disclosure: bn.disclosures[u]})
	return proofItem{channel: rec.Channel, proof: p, err: err}
}

// access is the Tx_acc workload: the next pre-made proof of the client's
// organisation, stamped by its owner and submitted in a transaction the
// owner signs (sign_DO); a refusal is a failure.
func (bn *chaincodeBench) access(_ context.Context, gw *client.Gateway, ci, _ int) error {
	o := ci % benchOrgs
	it, ok := bn.pools[o].take()
	if !ok {
		bn.sampleMu.Lock()
		it = bn.makeProof(o, bn.seq[o], time.Now())
		bn.seq[o]++
		bn.sampleMu.Unlock()
	}
	if it.err != nil {
		return fmt.Errorf("bench chaincode: proof: %w", it.err)
	}
	call, err := txbuild.Access(it.channel, it.proof, time.Now())
	if err != nil {
		return err
	}
	out, err := gw.GetNetwork(it.channel).GetContract(call.Chaincode).SubmitTransaction(call.Fn, call.Args...)
	if err != nil {
		return err
	}
	var d ptl.Decision
	if err := json.Unmarshal(out, &d); err != nil {
		return err
	}
	if !d.Granted {
		bn.refused.Add(1)
		return fmt.Errorf("access to %s on %s refused: %s: %s", d.RecordID, it.channel, d.Reason, d.Detail)
	}
	bn.granted.Add(1)
	bn.sampleMu.Lock()
	if len(bn.sample) < 16 {
		bn.sample = append(bn.sample, grant{channel: it.channel, recordID: d.RecordID, accessID: d.AccessID})
	}
	bn.sampleMu.Unlock()
	return nil
}

func (bn *chaincodeBench) resetSample() {
	bn.sampleMu.Lock()
	bn.sample = nil
	bn.sampleMu.Unlock()
}

// verifySample reads the sampled grants' Tx_acc back through node 1, as
// hospital 2's auditor, once the channels have converged.
func (bn *chaincodeBench) verifySample(ctx context.Context) (string, error) {
	for _, ch := range bn.channels {
		if _, err := bn.net.WaitConverged(ctx, ch); err != nil {
			return "", err
		}
	}
	bn.sampleMu.Lock()
	sample := bn.sample
	bn.sampleMu.Unlock()
	for _, g := range sample {
		found, err := bn.findAccess(g)
		if err != nil {
			return "", err
		}
		if !found {
			return "", fmt.Errorf("bench chaincode: granted access %s to %s on %s is not in the ledger read through node 1", g.accessID, g.recordID, g.channel)
		}
	}
	return fmt.Sprintf("%d sampled grants found as Tx_acc through node 1 (Hospital2MSP auditor)", len(sample)), nil
}

func (bn *chaincodeBench) findAccess(g grant) (bool, error) {
	contract := bn.auditor.GetNetwork(g.channel).GetContract(ptl.Name)
	bookmark := ""
	for {
		out, err := contract.EvaluateTransaction("ListAccesses", g.recordID, "100", bookmark)
		if err != nil {
			return false, fmt.Errorf("bench chaincode: ListAccesses %s: %w", g.recordID, err)
		}
		var page struct {
			Items    []ptl.Access `json:"items"`
			Bookmark string       `json:"bookmark"`
		}
		if err := json.Unmarshal(out, &page); err != nil {
			return false, err
		}
		for _, a := range page.Items {
			if a.AccessID == g.accessID {
				return true, nil
			}
		}
		if bookmark = page.Bookmark; bookmark == "" {
			return false, nil
		}
	}
}
