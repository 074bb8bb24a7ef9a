package txbuild

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/medshare/medshare/abe/credential"
	"github.com/medshare/medshare/abe/policy"
	"github.com/medshare/medshare/abe/tag"
	"github.com/medshare/medshare/chaincode/internal/statekey"
	"github.com/medshare/medshare/chaincode/ptl"
)

// ErrNotSatisfiable is returned (wrapped) when a user's certified tags
// cannot satisfy a record's hidden policy, so no disclosure can succeed.
var ErrNotSatisfiable = errors.New("txbuild: the credential's tags do not satisfy the policy")

// User is a data user (DU) or MeDShare requestor: BPK_DU (or RID), the key
// proofs and requests are signed with; the attribute authority's enrolment
// binding that key to the user's id; and the AA's credential wallet
// certifying the user's tags for that key (nil for a requestor that only
// signs requests).
type User struct {
	*Key
	// Enrolment is the AA's binding of Key to the user id.
	Enrolment ptl.Enrolment
	// Wallet holds the AA-signed credential, the tags and their salts. It
	// is secret to the user.
	Wallet *credential.Wallet
}

// ID returns the user id the user's enrolment names.
func (u *User) ID() string { return u.Enrolment.User }

// NewUser pairs a key with its enrolment and the wallet of a credential
// issued for it (w may be nil for a requestor without one).
func NewUser(k *Key, e ptl.Enrolment, w *credential.Wallet) (*User, error) {
	if k == nil {
		return nil, errors.New("txbuild: user: a key is required")
	}
	if !statekey.IsHash(e.User) || len(e.Signature) == 0 {
		return nil, errors.New("txbuild: user: the enrolment needs a user id and the attribute authority's signature")
	}
	if w != nil {
		if c := w.Credential(); !bytes.Equal(c.Subject, k.DER) {
			return nil, errors.New("txbuild: user: the credential's subject is not the key")
		}
	}
	return &User{Key: k, Enrolment: e, Wallet: w}, nil
}

// Enrol is what the attribute authority signs, with its credential key aa,
// for a key (PKIX DER) of the user whose enrolled identity has user id user
// (UserID of the identity's unique name): the binding P-TL and the
// provenance chaincode check. The AA must give every key of one person the
// same user id: revocation follows the id.
func Enrol(aa Signer, user string, key []byte) (ptl.Enrolment, error) {
	if !statekey.IsHash(user) {
		return ptl.Enrolment{}, fmt.Errorf("txbuild: enrol: %q is not a user id (32 lowercase hexadecimal characters)", user)
	}
	sig, err := signBytes("enrolment", aa, ptl.EnrolmentDigest(user, key))
	if err != nil {
		return ptl.Enrolment{}, err
	}
	return ptl.Enrolment{User: user, Signature: sig}, nil
}

// IssueUser does what the attribute authority does for a data user in
// demonstrations, tests and benchmarks: a fresh key from rnd
// (crypto/rand.Reader when nil), its enrolment as the user whose enrolled
// identity's unique name is enrolledID, and a credential signed by aa for
// the tags of attrs (canonical attribute strings such as "role=doctor" or
// "trust>=2", mapped with the tag key tk), of epoch, valid in [notBefore,
// notAfter). Issuing again for the same enrolledID gives the same person a
// second key, under the same user id.
func IssueUser(rnd io.Reader, aa *ecdsa.PrivateKey, tk tag.Key, enrolledID string, epoch uint64, notBefore, notAfter time.Time, attrs ...string) (*User, error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	k, err := NewKey(rnd)
	if err != nil {
		return nil, err
	}
	aaKey, err := KeyOf(aa)
	if err != nil {
		return nil, err
	}
	e, err := Enrol(aaKey, UserID(enrolledID), k.DER)
	if err != nil {
		return nil, err
	}
	w, err := credential.Issue(rnd, aa, k.DER, epoch, notBefore, notAfter, tk.Tags(attrs))
	if err != nil {
		return nil, fmt.Errorf("txbuild: issue credential: %w", err)
	}
	return &User{Key: k, Enrolment: e, Wallet: w}, nil
}

// Needed returns the tags of held that a hidden policy tree needs: for each
// k-of-n gate, the k satisfiable children needing the fewest tags, so the
// user discloses no more than the policy asks for. The tags are in the
// order the tree first names them. It fails with ErrNotSatisfiable when
// held cannot satisfy the tree.
func Needed(tree *policy.Tree, held []tag.Tag) ([]tag.Tag, error) {
	if tree == nil || tree.Root() == nil {
		return nil, errors.New("txbuild: no policy tree")
	}
	have := make(map[string]tag.Tag, len(held))
	for _, t := range held {
		have[t.String()] = t
	}
	set, ok := needed(tree.Root(), have)
	if !ok {
		return nil, ErrNotSatisfiable
	}
	var out []tag.Tag
	for _, leaf := range tree.Leaves() {
		if set[leaf] {
			out = append(out, have[leaf])
		}
	}
	return out, nil
}

// needed returns a small set of held leaves satisfying n.
func needed(n *policy.Node, have map[string]tag.Tag) (map[string]bool, bool) {
	if n.IsLeaf() {
		if _, ok := have[n.Leaf()]; !ok {
			return nil, false
		}
		return map[string]bool{n.Leaf(): true}, true
	}
	var subs []map[string]bool
	for i := range n.NumChildren() {
		if s, ok := needed(n.Child(i), have); ok {
			subs = append(subs, s)
		}
	}
	k := n.Threshold()
	if len(subs) < k {
		return nil, false
	}
	slices.SortStableFunc(subs, func(a, b map[string]bool) int { return len(a) - len(b) })
	out := map[string]bool{}
	for _, s := range subs[:k] {
		for l := range s {
			out[l] = true
		}
	}
	return out, true
}

// Disclosure returns the encoded credential disclosure of tags
// (credential.Disclosure.MarshalBinary), the bytes a proof carries. A user
// who discloses the same tags again gets the same bytes, which the P-TL
// contract verifies once and then recognises.
func (u *User) Disclosure(tags []tag.Tag) ([]byte, error) {
	if u.Wallet == nil {
		return nil, errors.New("txbuild: disclose: the user holds no credential")
	}
	d, err := u.Wallet.Disclose(tags)
	if err != nil {
		return nil, fmt.Errorf("txbuild: disclose: %w", err)
	}
	b, err := d.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("txbuild: disclose: %w", err)
	}
	return b, nil
}

// ProofInput says what an access proof is for.
type ProofInput struct {
	// Channel is the side channel of the record's level; RecordID the
	// record; Address its current address u (from storage GetRecord or the
	// owner's gateway); PolicyVersion the version of the record's policy
	// (ptl GetPolicy) the proof is made for.
	Channel       string
	RecordID      string
	Address       string
	PolicyVersion uint64
	// Time is T, when the proof is made; it must be fresh when the access
	// is submitted (the policy's maxProofAge).
	Time time.Time
	// Disclosure is the encoded disclosure to carry (User.Disclosure); when
	// nil, Disclose is disclosed.
	Disclosure []byte
	Disclose   []tag.Tag
	// Nonce is 16..64 bytes never used by the user before; when nil, 16
	// fresh random bytes are drawn.
	Nonce []byte
}

// Proof returns the user's access proof, signed with BPK_DU over
// ptl.ProofDigest. Random bytes come from rnd (crypto/rand.Reader when nil).
func (u *User) Proof(rnd io.Reader, in ProofInput) (*ptl.Proof, error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	disclosure := in.Disclosure
	if disclosure == nil {
		var err error
		if disclosure, err = u.Disclosure(in.Disclose); err != nil {
			return nil, err
		}
	}
	nonce := in.Nonce
	if nonce == nil {
		nonce = make([]byte, ptl.MinNonceLen)
		if _, err := io.ReadFull(rnd, nonce); err != nil {
			return nil, fmt.Errorf("txbuild: proof nonce: %w", err)
		}
	}
	p := &ptl.Proof{RecordID: in.RecordID, PolicyVersion: in.PolicyVersion, Time: FormatTime(in.Time), Key: u.DER,
		User: u.Enrolment.User, Enrolment: u.Enrolment.Signature, Address: in.Address, Nonce: nonce, Disclosure: disclosure}
	if err := u.SignProof(in.Channel, p); err != nil {
		return nil, err
	}
	return p, nil
}

// SignProof signs a proof assembled by the caller: it sets p.Signature to
// the user's signature over ptl.ProofDigest of p's fields on channel (Time
// parsed as RFC 3339). p.Key should be the user's key; it is not checked,
// so that tests can build proofs P-TL refuses.
func (u *User) SignProof(channel string, p *ptl.Proof) error {
	d, err := p.Digest(channel)
	if err != nil {
		return fmt.Errorf("txbuild: %w", err)
	}
	sig, err := signBytes("proof", u.Key, d)
	if err != nil {
		return err
	}
	p.Signature = sig
	return nil
}

// ProofFor returns a proof for a record whose policy (from ptl GetPolicy)
// and address are given, for that policy's version, disclosing only the
// tags Needed by its hidden policy, made at t with a fresh nonce.
func (u *User) ProofFor(rnd io.Reader, channel string, pol *ptl.Policy, address string, t time.Time) (*ptl.Proof, error) {
	if u.Wallet == nil {
		return nil, errors.New("txbuild: proof: the user holds no credential")
	}
	tree, err := policy.Unmarshal(pol.HiddenPolicy)
	if err != nil {
		return nil, fmt.Errorf("txbuild: policy of %s: %w", pol.RecordID, err)
	}
	tags, err := Needed(tree, u.Wallet.Tags())
	if err != nil {
		return nil, fmt.Errorf("%w (record %s)", err, pol.RecordID)
	}
	return u.Proof(rnd, ProofInput{Channel: channel, RecordID: pol.RecordID, Address: address, PolicyVersion: pol.Version, Time: t, Disclose: tags})
}

// AccessID returns A, the access id of proof p on channel: its proof digest
// in hex. The owner's gateway uses it as the request id when it logs the
// access on the main channel.
func AccessID(channel string, p *ptl.Proof) (string, error) {
	d, err := p.Digest(channel)
	if err != nil {
		return "", fmt.Errorf("txbuild: %w", err)
	}
	return ptl.AccessID(d), nil
}

// Access returns the P-TL Access call that submits proof p on channel for
// the record's owner, stamped with T_stemp = stamp (the owner's clock; it
// must lie within the channel's maxClockSkew of the transaction time). The
// owner's sign_DO is the signature of the transaction it submits the call
// in, so the call itself carries no signature.
func Access(channel string, p *ptl.Proof, stamp time.Time) (Call, error) {
	if _, err := AccessID(channel, p); err != nil {
		return Call{}, err
	}
	js, err := marshal("proof", p)
	if err != nil {
		return Call{}, err
	}
	return Call{Channel: channel, Chaincode: ptl.Name, Fn: "Access", Args: []string{js, FormatTime(stamp)}}, nil
}

// RegrantUser returns the P-TL Regrant call by which a record's owner lifts
// its block of a user (a user id) on channel for target — one of its
// records, or "*" for the owner-wide block — with every cause of it
// (monitoring, forbidden actions of any request, recalls). To lift only
// what one MeDShare request caused, use Regrant.
func RegrantUser(channel, user, target string) Call {
	return Call{Channel: channel, Chaincode: ptl.Name, Fn: "Regrant", Args: []string{user, target}}
}

// RecallUser returns the P-TL Recall call by which a record's owner blocks
// a user (a user id) on channel for target (one of its records, or "*"),
// until it re-grants with RegrantUser; reason "" says "recalled by the
// owner".
func RecallUser(channel, user, target, reason string) Call {
	return Call{Channel: channel, Chaincode: ptl.Name, Fn: "Recall", Args: []string{user, target, reason}}
}
