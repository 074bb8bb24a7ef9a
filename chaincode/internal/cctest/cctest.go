// Package cctest builds side-channel and main-channel fixtures for the
// chaincode tests: an in-memory ledger with the chaincodes deployed and
// initialised, hospitals (data owners), data users with attribute-authority
// credentials, and correctly signed Tx_sto, proofs, requests and reports.
// It is used by tests only.
package cctest

import (
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

// Side is a side channel with storage, ptl and provenance deployed and
// initialised.
type Side struct {
	T       testing.TB
	L       *chaincodetest.Ledger
	Channel string
	Level   string
	// Admin is the channel admin; H1 and H2 the hospitals' gateways (data
	// owners); Auditor a client with medshare.auditor=true; Doctor a
	// client of hospital 1 who owns nothing.
	Admin, H1, H2, Auditor, Doctor *identity.Signer
	Org1, Org2                     *chaincodetest.Org
	// AA is the attribute authority's credential key; TagKey its tag key.
	AA     *Key
	TagKey tag.Key
	// CC are the deployed chaincode instances, by name.
	CC map[string]*chaincode.Chaincode
}

// PTLConfig is the default P-TL configuration for a side: monitoring with
// record threshold 3, owner threshold 5, rate 10 per minute.
func (s *Side) PTLConfig() ptl.Config {
	return ptl.Config{Level: s.Level, AAPublicKey: B64(s.AA.DER), DefaultMaxProofAge: "5m", MaxClockSkew: "30s",
		Monitor: ptl.Monitor{Window: "1h", RecordThreshold: 3, OwnerThreshold: 5, RateLimit: 10, RatePeriod: "1m"}}
}

// NewSide deploys and initialises the three side chaincodes on channel
// "side-<level>".
func NewSide(t testing.TB, level string) *Side {
	t.Helper()
	s := &Side{T: t, Level: level, Channel: "side-" + level}
	s.L = chaincodetest.New(s.Channel)
	s.CC = map[string]*chaincode.Chaincode{
		storage.Name:    Deploy(t, s.L, storage.Name, storage.New),
		ptl.Name:        Deploy(t, s.L, ptl.Name, ptl.New),
		provenance.Name: Deploy(t, s.L, provenance.Name, provenance.New),
	}
	s.Org1, s.Org2 = chaincodetest.NewOrg(t, "Hospital1MSP"), chaincodetest.NewOrg(t, "Hospital2MSP")
	s.Admin = s.Org1.Admin(t, "admin1")
	s.H1 = s.Org1.Client(t, "gateway.hospital1", nil)
	s.H2 = s.Org2.Client(t, "gateway.hospital2", nil)
	s.Auditor = s.Org2.Client(t, "auditor", map[string]string{"medshare.auditor": "true"})
	s.Doctor = s.Org1.Client(t, "dr-bob", nil)
	s.AA = NewKey(t)
	var err error
	if s.TagKey, err = tag.NewKey(rand.Reader); err != nil {
		t.Fatal(err)
	}
	s.Must(s.Admin, storage.Name, "Init", fmt.Sprintf(`{"level":%q}`, level))
	s.Must(s.Admin, ptl.Name, "Init", JSON(t, s.PTLConfig()))
	s.Must(s.Admin, provenance.Name, "Init", fmt.Sprintf(`{"level":%q}`, level))
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

// User is a data user: a key and the AA credential wallet for it.
type User struct {
	*Key
	Wallet *credential.Wallet
}

// NewUser issues a user a credential for attrs, valid 2025–2030, epoch 1.
func (s *Side) NewUser(attrs ...string) *User {
	s.T.Helper()
	return s.NewUserWith(s.AA, 1, time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), attrs...)
}

// NewUserWith issues a credential with the given AA key, epoch and window.
func (s *Side) NewUserWith(aa *Key, epoch uint64, nb, na time.Time, attrs ...string) *User {
	s.T.Helper()
	k := NewKey(s.T)
	w, err := credential.Issue(rand.Reader, aa.Private, k.DER, epoch, nb, na, s.Tags(attrs...))
	if err != nil {
		s.T.Fatal(err)
	}
	return &User{Key: k, Wallet: w}
}

// TxUser is the user as package txbuild takes it.
func (u *User) TxUser() *txbuild.User { return &txbuild.User{Key: u.Key.Key, Wallet: u.Wallet} }

// Disclose returns the encoded disclosure of attrs.
func (s *Side) Disclose(u *User, attrs ...string) []byte {
	s.T.Helper()
	b, err := u.TxUser().Disclosure(s.Tags(attrs...))
	if err != nil {
		s.T.Fatal(err)
	}
	return b
}

// NewProof returns a signed proof by u for rec at the ledger's time,
// disclosing attrs, with a fresh nonce. edit, if set, changes the proof
// before it is signed.
func (s *Side) NewProof(u *User, rec *storage.Record, attrs []string, edit func(*ptl.Proof)) ptl.Proof {
	s.T.Helper()
	nonce := make([]byte, 16)
	if _, err := rand.Read(nonce); err != nil {
		s.T.Fatal(err)
	}
	p := ptl.Proof{RecordID: rec.RecordID, Time: s.L.Now().Format(time.RFC3339Nano), Key: u.DER, Address: rec.Address,
		Nonce: nonce, Disclosure: s.Disclose(u, attrs...)}
	if edit != nil {
		edit(&p)
	}
	if err := u.TxUser().SignProof(s.Channel, &p); err != nil {
		s.T.Fatal(err)
	}
	return p
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

// Main is the main channel with the index deployed and initialised.
type Main struct {
	T             testing.TB
	L             *chaincodetest.Ledger
	Admin, H1, H2 *identity.Signer
	Auditor       *identity.Signer
	Org1, Org2    *chaincodetest.Org
}

// NewMain deploys the index on channel "main" and registers the three side
// chains.
func NewMain(t testing.TB) *Main {
	t.Helper()
	m := &Main{T: t, L: chaincodetest.New("main")}
	Deploy(t, m.L, index.Name, index.New)
	m.Org1, m.Org2 = chaincodetest.NewOrg(t, "Hospital1MSP"), chaincodetest.NewOrg(t, "Hospital2MSP")
	m.Admin = m.Org1.Admin(t, "admin1")
	m.H1 = m.Org1.Client(t, "gateway.hospital1", nil)
	m.H2 = m.Org2.Client(t, "gateway.hospital2", nil)
	m.Auditor = m.Org2.Client(t, "auditor", map[string]string{"medshare.auditor": "true"})
	var chains []index.SideChain
	for i, l := range []string{"high", "medium", "low"} {
		chains = append(chains, index.SideChain{Name: "side-" + l, Channel: "side-" + l, Level: l,
			Nodes: []index.Node{{Name: "node0.hospital1", Org: "Hospital1MSP", Address: fmt.Sprintf("127.0.0.1:%d", 7051+i)}}})
	}
	if _, err := m.L.Submit(m.Admin, index.Name, "Init", JSON(t, index.Config{SideChains: chains})); err != nil {
		t.Fatal(err)
	}
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
