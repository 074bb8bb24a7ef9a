// Package cctest builds side-channel and main-channel fixtures for the
// chaincode tests: an in-memory ledger with the chaincodes deployed and
// initialised, hospitals (data owners), data users with attribute-authority
// credentials, and correctly signed Tx_sto, proofs, requests and reports.
// It is used by tests only.
package cctest

import (
	"google.golang.org/protobuf/proto"

	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/medshare/medshare/abe/credential"
	"github.com/medshare/medshare/abe/policy"
	"github.com/medshare/medshare/abe/tag"
	"github.com/medshare/medshare/chaincode/index"
	"github.com/medshare/medshare/chaincode/provenance"
	"github.com/medshare/medshare/chaincode/ptl"
	"github.com/medshare/medshare/chaincode/storage"
	"github.com/medshare/medshare/chaincode/txbuild"
	"github.com/medshare/medshare/network/chaincode"
	"github.com/medshare/medshare/network/chaincode/chaincodetest"
	"github.com/medshare/medshare/network/identity"
	"github.com/medshare/medshare/network/lifecycle"
	"github.com/medshare/medshare/network/pb"
)

// B64 is standard base64.
func B64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// JSON marshals v or fails the test.
func JSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Decode unmarshals a payload into a new T or fails the test.
func Decode[T any](t testing.TB, b []byte) *T {
	t.Helper()
	v := new(T)
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return v
}

// CID returns a deterministic CIDv0-shaped address for name.
func CID(name string) string {
	const alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
	sum := sha256.Sum256([]byte(name))
	var b strings.Builder
	b.WriteString("Qm")
	for i := range 44 {
		b.WriteByte(alphabet[int(sum[i%32]+byte(i))%len(alphabet)])
	}
	return b.String()
}

// Key is an ECDSA P-256 key pair with its PKIX DER public key (DER) and
// key-hash (Hash).
type Key struct {
	*txbuild.Key
}

// NewKey generates a key.
func NewKey(t testing.TB) *Key {
	t.Helper()
	k, err := txbuild.NewKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &Key{Key: k}
}

// Sign signs a digest (low-S).
func (k *Key) Sign(t testing.TB, d [32]byte) []byte {
	t.Helper()
	sig, err := k.SignDigest(d[:])
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

// SignBy signs a digest with an identity.
func SignBy(t testing.TB, s *identity.Signer, d [32]byte) []byte {
	t.Helper()
	sig, err := s.SignDigest(d[:])
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

// Deploy builds a chaincode, deploys it and returns it, or fails the test.
func Deploy(t testing.TB, l *chaincodetest.Ledger, name string, build func() (*chaincode.Chaincode, error)) *chaincode.Chaincode {
	t.Helper()
	cc, err := build()
	if err != nil {
		t.Fatal(err)
	}
	l.Deploy(name, cc)
	return cc
}

// Orgs are the MSP ids of the test channels' three organisations.
var Orgs = []string{"Hospital1MSP", "Hospital2MSP", "ResearchMSP"}

// Consortium is what Side and Main share: an in-memory channel of three
// organisations with the lifecycle deployed, its membership, and the
// organisations' administrators.
type Consortium struct {
	T testing.TB
	L *chaincodetest.Ledger
	// Org1..Org3 are Hospital1MSP, Hospital2MSP and ResearchMSP; Admin,
	// Admin2 and Admin3 their administrators.
	Org1, Org2, Org3      *chaincodetest.Org
	Admin, Admin2, Admin3 *identity.Signer
}

// NewConsortium returns a channel of the three organisations with the
// lifecycle deployed and nothing else.
func NewConsortium(t testing.TB, name string) Consortium {
	t.Helper()
	c := Consortium{T: t, L: chaincodetest.New(name)}
	c.Org1, c.Org2, c.Org3 = chaincodetest.NewOrg(t, Orgs[0]), chaincodetest.NewOrg(t, Orgs[1]), chaincodetest.NewOrg(t, Orgs[2])
	var msps []*identity.MSP
	for _, o := range []*chaincodetest.Org{c.Org1, c.Org2, c.Org3} {
		msp, err := identity.NewMSP(o.CA.MSPID(), o.CA.Certificate())
		if err != nil {
			t.Fatal(err)
		}
		msps = append(msps, msp)
	}
	members, err := identity.NewMembership(msps...)
	if err != nil {
		t.Fatal(err)
	}
	c.L.SetMembers(members)
	c.L.Deploy(lifecycle.Name, lifecycle.New(members.IDs, func(string) bool { return true }))
	c.Admin, c.Admin2, c.Admin3 = c.Org1.Admin(t, "admin1"), c.Org2.Admin(t, "admin2"), c.Org3.Admin(t, "admin3")
	return c
}

// Configure runs config (a JSON string, or a value to marshal) as the Init
// of chaincode cc through the lifecycle, as a channel's organisations do: a
// definition with the next sequence is approved by each of approvers (the
// channel's admins; Admin and Admin2, a majority, when none are given) and
// committed by the first. It returns the commit's error.
func (c *Consortium) Configure(cc string, config any, approvers ...*identity.Signer) error {
	c.T.Helper()
	raw, ok := config.(string)
	if !ok {
		raw = JSON(c.T, config)
	}
	if len(approvers) == 0 {
		approvers = []*identity.Signer{c.Admin, c.Admin2}
	}
	seq := uint64(1)
	if b, err := c.L.Evaluate(approvers[0], lifecycle.Name, lifecycle.FnQueryCommitted, cc); err == nil {
		def := new(pb.ChaincodeDefinition)
		if err := proto.Unmarshal(b, def); err != nil {
			c.T.Fatal(err)
		}
		seq = def.GetSequence() + 1
	}
	def, err := lifecycle.EncodeDefinition(&pb.ChaincodeDefinition{Name: cc, Version: "1", Sequence: seq, InitFunction: "Init", InitArgs: [][]byte{[]byte(raw)}})
	if err != nil {
		c.T.Fatal(err)
	}
	for _, a := range approvers {
		if _, err := c.L.SubmitBytes(a, lifecycle.Name, lifecycle.FnApprove, def); err != nil {
			return err
		}
	}
	_, err = c.L.Submit(approvers[0], lifecycle.Name, lifecycle.FnCommit, cc)
	return err
}

// MustConfigure is Configure that must succeed.
func (c *Consortium) MustConfigure(cc string, config any, approvers ...*identity.Signer) {
	c.T.Helper()
	if err := c.Configure(cc, config, approvers...); err != nil {
		c.T.Fatalf("configure %s: %v", cc, err)
	}
}

// H1ID and H2ID are the unique names of the hospitals' gateways in every
// fixture (their certificates' names are fixed), so their record ids are
// constants: H1Rec and H2Rec.
const (
	H1ID = "x509::CN=gateway.hospital1,OU=client,O=Hospital1MSP::CN=ca.Hospital1MSP,O=Hospital1MSP"
	H2ID = "x509::CN=gateway.hospital2,OU=client,O=Hospital2MSP::CN=ca.Hospital2MSP,O=Hospital2MSP"
)

// H1Rec is hospital 1's record id name.
func H1Rec(name string) string { return txbuild.RecordID(H1ID, name) }

// H2Rec is hospital 2's record id name.
func H2Rec(name string) string { return txbuild.RecordID(H2ID, name) }

// RecordID returns owner's record id name ("<identity hash>:<name>").
func RecordID(owner *identity.Signer, name string) string { return txbuild.RecordID(owner.ID(), name) }

// Side is a side channel with storage, ptl and provenance deployed and
// configured by a majority of its organisations.
type Side struct {
	Consortium
	Channel string
	Level   string
	// H1 and H2 are the hospitals' gateways (data owners); Auditor a
	// client of hospital 2 that the configurations name as auditor;
	// Doctor a client of hospital 1 who owns nothing.
	H1, H2, Auditor, Doctor *identity.Signer
	// AA is the attribute authority's credential key; TagKey its tag key.
	AA     *Key
	TagKey tag.Key
	// CC are the deployed chaincode instances, by name.
	CC map[string]*chaincode.Chaincode

	users int
}

// Auditors are the configurations' auditors.
func (s *Side) Auditors() []string { return []string{s.Auditor.ID()} }

// PTLConfig is the default P-TL configuration for a side: monitoring with
// record threshold 3, owner threshold 5, rate 10 per minute.
func (s *Side) PTLConfig() ptl.Config {
	return ptl.Config{Level: s.Level, AAPublicKey: B64(s.AA.DER), DefaultMaxProofAge: "5m", MaxClockSkew: "30s",
		Monitor:  ptl.Monitor{Window: "1h", RecordThreshold: 3, OwnerThreshold: 5, RateLimit: 10, RatePeriod: "1m"},
		Auditors: s.Auditors()}
}

// NewSide deploys the three side chaincodes on channel "side-<level>" and
// configures them through the lifecycle.
func NewSide(t testing.TB, level string) *Side {
	t.Helper()
	s := &Side{Consortium: NewConsortium(t, "side-"+level), Channel: "side-" + level, Level: level}
	s.CC = map[string]*chaincode.Chaincode{
		storage.Name:    Deploy(t, s.L, storage.Name, storage.New),
		ptl.Name:        Deploy(t, s.L, ptl.Name, ptl.New),
		provenance.Name: Deploy(t, s.L, provenance.Name, provenance.New),
	}
	s.H1 = s.Org1.Client(t, "gateway.hospital1", nil)
	s.H2 = s.Org2.Client(t, "gateway.hospital2", nil)
	if s.H1.ID() != H1ID || s.H2.ID() != H2ID {
		t.Fatalf("the gateways' names changed: %s, %s", s.H1.ID(), s.H2.ID())
	}
	s.Auditor = s.Org2.Client(t, "auditor", nil)
	s.Doctor = s.Org1.Client(t, "dr-bob", nil)
	s.AA = NewKey(t)
	var err error
	if s.TagKey, err = tag.NewKey(rand.Reader); err != nil {
		t.Fatal(err)
	}
	s.MustConfigure(storage.Name, storage.Config{Level: level, Auditors: s.Auditors()})
	s.MustConfigure(ptl.Name, s.PTLConfig())
	s.MustConfigure(provenance.Name, provenance.Config{Level: level, Auditors: s.Auditors()})
	return s
}

// Must submits a transaction that must succeed and returns its payload.
func (s *Side) Must(who *identity.Signer, cc, fn string, args ...string) []byte {
	s.T.Helper()
	res, err := s.L.Submit(who, cc, fn, args...)
	if err != nil {
		s.T.Fatalf("%s %s: %v", cc, fn, err)
	}
	return res.Payload
}

// Query evaluates a query that must succeed and returns its payload.
func (s *Side) Query(who *identity.Signer, cc, fn string, args ...string) []byte {
	s.T.Helper()
	b, err := s.L.Evaluate(who, cc, fn, args...)
	if err != nil {
		s.T.Fatalf("%s %s: %v", cc, fn, err)
	}
	return b
}

// StoreArgs returns correctly signed Store arguments for version of record
// recordID owned by owner, with address and keys derived from tag.
func (s *Side) StoreArgs(owner *identity.Signer, recordID string, version uint64, tagName string) []string {
	s.T.Helper()
	call, err := txbuild.Store(owner, s.Channel, txbuild.StoreInput{
		RecordID: recordID, Version: version, Address: CID(recordID + tagName),
		Keys:      []byte("wrapped-keys:" + recordID + tagName),
		CheckCode: sha256.Sum256([]byte("ciphertext:" + recordID + tagName)),
	})
	if err != nil {
		s.T.Fatal(err)
	}
	return call.Args
}

// Store stores version 1 of a record for owner and returns it.
func (s *Side) Store(owner *identity.Signer, recordID string) *storage.Record {
	s.T.Helper()
	return Decode[storage.Record](s.T, s.Must(owner, storage.Name, "Store", s.StoreArgs(owner, recordID, 1, "")...))
}

// Tags maps attribute strings to tags with the AA's tag key.
func (s *Side) Tags(attrs ...string) []tag.Tag { return s.TagKey.Tags(attrs) }

// HiddenPolicy returns the AND of the attributes' tags, encoded.
func (s *Side) HiddenPolicy(attrs ...string) []byte {
	s.T.Helper()
	var trees []*policy.Tree
	for _, t := range s.Tags(attrs...) {
		leaf, err := policy.Leaf(t.String())
		if err != nil {
			s.T.Fatal(err)
		}
		trees = append(trees, leaf)
	}
	tree := trees[0]
	if len(trees) > 1 {
		var err error
		if tree, err = policy.And(trees...); err != nil {
			s.T.Fatal(err)
		}
	}
	b, err := tree.MarshalBinary()
	if err != nil {
		s.T.Fatal(err)
	}
	return b
}

// Policy is a policy valid through 2026 requiring attrs, without windows.
func (s *Side) Policy(attrs ...string) ptl.PolicyInput {
	return ptl.PolicyInput{HiddenPolicy: s.HiddenPolicy(attrs...), NotBefore: "2025-01-01T00:00:00Z", NotAfter: "2027-01-01T00:00:00Z"}
}

// SetPolicy sets a record's policy.
func (s *Side) SetPolicy(owner *identity.Signer, recordID string, p ptl.PolicyInput) {
	s.T.Helper()
	s.Must(owner, ptl.Name, "SetPolicy", recordID, JSON(s.T, p))
}

// User is a data user: its enrolled identity (a client certificate of
// hospital 2), a key, the attribute authority's enrolment of that key and
// the AA credential wallet for it.
type User struct {
	*Key
	Identity  *identity.Signer
	Enrolment ptl.Enrolment
	Wallet    *credential.Wallet
}

// ID is the user id: the identity hash of the user's enrolled identity.
func (u *User) ID() string { return u.Enrolment.User }

// UserIdentity is the unique name of the n-th person NewUser (or
// NewUserWith) enrols on a Side: client "user-n" of Hospital2MSP. Names are
// fixed, so user ids — and the ids of their MeDShare requests — are
// constants.
func UserIdentity(n int) string {
	return fmt.Sprintf("x509::CN=user-%d,OU=client,O=Hospital2MSP::CN=ca.Hospital2MSP,O=Hospital2MSP", n)
}

// UserRequest is request name of the n-th person NewUser enrols.
func UserRequest(n int, name string) string {
	return txbuild.RequestID(txbuild.UserID(UserIdentity(n)), name)
}

// NewUser enrols a new person (a new client identity) and issues a key and
// a credential for attrs, valid 2025–2030, epoch 1.
func (s *Side) NewUser(attrs ...string) *User {
	s.T.Helper()
	s.users++
	id := s.Org2.Client(s.T, fmt.Sprintf("user-%d", s.users), nil)
	return s.NewKeyFor(id, s.AA, 1, time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), attrs...)
}

// NewUserWith enrols a new person and issues a key and a credential with
// the given AA key (which also signs the enrolment), epoch and window.
func (s *Side) NewUserWith(aa *Key, epoch uint64, nb, na time.Time, attrs ...string) *User {
	s.T.Helper()
	s.users++
	return s.NewKeyFor(s.Org2.Client(s.T, fmt.Sprintf("user-%d", s.users), nil), aa, epoch, nb, na, attrs...)
}

// SecondKey gives the person of u a new key, enrolled under the same user
// id, with a credential for attrs: what the AA does when a user asks for
// another key.
func (s *Side) SecondKey(u *User, attrs ...string) *User {
	s.T.Helper()
	return s.NewKeyFor(u.Identity, s.AA, 1, time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), attrs...)
}

// NewKeyFor issues the enrolled identity id a new key, its enrolment and a
// credential, all signed by aa.
func (s *Side) NewKeyFor(id *identity.Signer, aa *Key, epoch uint64, nb, na time.Time, attrs ...string) *User {
	s.T.Helper()
	k := NewKey(s.T)
	e, err := txbuild.Enrol(aa.Key, txbuild.UserID(id.ID()), k.DER)
	if err != nil {
		s.T.Fatal(err)
	}
	w, err := credential.Issue(rand.Reader, aa.Private, k.DER, epoch, nb, na, s.Tags(attrs...))
	if err != nil {
		s.T.Fatal(err)
	}
	return &User{Key: k, Identity: id, Enrolment: e, Wallet: w}
}

// TxUser is the user as package txbuild takes it.
func (u *User) TxUser() *txbuild.User {
	return &txbuild.User{Key: u.Key.Key, Enrolment: u.Enrolment, Wallet: u.Wallet}
}

// Disclose returns the encoded disclosure of attrs.
func (s *Side) Disclose(u *User, attrs ...string) []byte {
	s.T.Helper()
	b, err := u.TxUser().Disclosure(s.Tags(attrs...))
	if err != nil {
		s.T.Fatal(err)
	}
	return b
}

// NewProof returns a signed proof by u for rec at the ledger's time, for
// its current policy version, disclosing attrs, with a fresh nonce. edit,
// if set, changes the proof before it is signed.
func (s *Side) NewProof(u *User, rec *storage.Record, attrs []string, edit func(*ptl.Proof)) ptl.Proof {
	s.T.Helper()
	nonce := make([]byte, 16)
	if _, err := rand.Read(nonce); err != nil {
		s.T.Fatal(err)
	}
	p := ptl.Proof{RecordID: rec.RecordID, PolicyVersion: s.PolicyVersion(rec.RecordID), Time: s.L.Now().Format(time.RFC3339Nano),
		Key: u.DER, User: u.ID(), Enrolment: u.Enrolment.Signature, Address: rec.Address, Nonce: nonce, Disclosure: s.Disclose(u, attrs...)}
	if edit != nil {
		edit(&p)
	}
	if err := u.TxUser().SignProof(s.Channel, &p); err != nil {
		s.T.Fatal(err)
	}
	return p
}

// PolicyVersion is the current version of a record's policy (1 when it has
// none yet).
// It reads the world state directly, so that it runs no transaction.
func (s *Side) PolicyVersion(recordID string) uint64 {
	k, err := chaincode.CreateCompositeKey("policy", []string{recordID})
	if err != nil {
		s.T.Fatal(err)
	}
	b, err := s.L.Store().Get(ptl.Name, k)
	if err != nil || b == nil {
		return 1
	}
	return Decode[ptl.Policy](s.T, b).Version
}

// AccessArgs returns the Access arguments for proof p, with the owner's
// stamp at the ledger's time.
func (s *Side) AccessArgs(p ptl.Proof) []string {
	s.T.Helper()
	call, err := txbuild.Access(s.Channel, &p, s.L.Now())
	if err != nil {
		s.T.Fatal(err)
	}
	return call.Args
}

// Access submits an access and returns its decision.
func (s *Side) Access(owner *identity.Signer, p ptl.Proof) *ptl.Decision {
	s.T.Helper()
	return Decode[ptl.Decision](s.T, s.Must(owner, ptl.Name, "Access", s.AccessArgs(p)...))
}

// Main is the main channel with the index deployed and configured by a
// majority of its organisations.
type Main struct {
	Consortium
	// H1 and H2 are the hospitals' gateways; Auditor a client of hospital 2
	// the configuration names as auditor.
	H1, H2, Auditor *identity.Signer
	// Chains are the side chains the configuration registers.
	Chains []index.SideChain
}

// Config is the index configuration NewMain sets.
func (m *Main) Config() index.Config {
	return index.Config{SideChains: m.Chains, Auditors: []string{m.Auditor.ID()}}
}

// NewMain deploys the index on channel "main" and registers the three side
// chains.
func NewMain(t testing.TB) *Main {
	t.Helper()
	m := &Main{Consortium: NewConsortium(t, "main")}
	Deploy(t, m.L, index.Name, index.New)
	m.H1 = m.Org1.Client(t, "gateway.hospital1", nil)
	m.H2 = m.Org2.Client(t, "gateway.hospital2", nil)
	m.Auditor = m.Org2.Client(t, "auditor", nil)
	for i, l := range []string{"high", "medium", "low"} {
		m.Chains = append(m.Chains, index.SideChain{Name: "side-" + l, Channel: "side-" + l, Level: l,
			Nodes: []index.Node{{Name: "node0.hospital1", Org: "Hospital1MSP", Address: fmt.Sprintf("127.0.0.1:%d", 7051+i)}}})
	}
	m.MustConfigure(index.Name, m.Config())
	return m
}

// DER returns the PKIX DER of an identity's public key.
func DER(t testing.TB, s *identity.Signer) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(s.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// Call is one chaincode function with its arity, for fuzzing.
type Call struct {
	Fn    string
	Arity int
}

// Calls parses "Fn/arity" words into calls.
func Calls(spec string) []Call {
	var out []Call
	for _, w := range strings.Fields(spec) {
		fn, n, _ := strings.Cut(w, "/")
		var arity int
		fmt.Sscan(n, &arity)
		out = append(out, Call{Fn: fn, Arity: arity})
	}
	return out
}

// FuzzSubmit submits calls[sel] with the first arguments of args by one of
// who (chosen by by), and fails the test if the chaincode panicked. Any
// other error is an accepted outcome of fuzzed input.
func FuzzSubmit(t *testing.T, l *chaincodetest.Ledger, cc string, calls []Call, who []*identity.Signer, sel, by uint8, args ...string) {
	t.Helper()
	c := calls[int(sel)%len(calls)]
	creator := who[int(by)%len(who)]
	_, err := l.Submit(creator, cc, c.Fn, args[:c.Arity]...)
	if err != nil && strings.Contains(err.Error(), "panicked") {
		t.Fatalf("%s %s%q: %v", cc, c.Fn, args[:c.Arity], err)
	}
}

// WantErr fails the test unless err has exactly the message msg and, when
// kind is set, is of that kind (errors.Is).
func WantErr(t testing.TB, err error, msg string, kind error) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %q", msg)
	}
	if err.Error() != msg {
		t.Fatalf("error = %q\n      want %q", err, msg)
	}
	if kind != nil && !errors.Is(err, kind) {
		t.Fatalf("error %q is not %v", err, kind)
	}
}
