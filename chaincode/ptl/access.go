package ptl

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/medshare/medshare/abe/credential"
	"github.com/medshare/medshare/abe/tag"
	"github.com/medshare/medshare/chaincode/ccerr"
	"github.com/medshare/medshare/chaincode/internal/arg"
	"github.com/medshare/medshare/chaincode/internal/enc"
	"github.com/medshare/medshare/chaincode/internal/setup"
	"github.com/medshare/medshare/chaincode/internal/statekey"
	"github.com/medshare/medshare/chaincode/storage"
	"github.com/medshare/medshare/network/chaincode"
)

// Why an attempt was refused: the reason of its violation.
const (
	// ReasonExpired: the proof is older than the policy's maximum proof age
	// or dated in the future, or the policy is outside its validity period.
	ReasonExpired = "expired"
	// ReasonOutsideWindow: the access falls outside the policy's windows.
	ReasonOutsideWindow = "outside_window"
	// ReasonPolicyNotMet: the disclosed tags do not satisfy the policy.
	ReasonPolicyNotMet = "policy_not_met"
	// ReasonPolicyChanged: the proof was made for another version of the
	// record's policy than the current one.
	ReasonPolicyChanged = "policy_changed"
	// ReasonReplay: the proof was submitted before.
	ReasonReplay = "replay"
	// ReasonBadSignature: the proof's signature does not verify under its
	// key. Such a violation is recorded but not counted toward a block: the
	// key it names is not authenticated.
	ReasonBadSignature = "bad_signature"
	// ReasonNotEnrolled: the attribute authority's enrolment in the proof
	// does not bind its key to the user id it names. Not counted: the user
	// is not authenticated.
	ReasonNotEnrolled = "not_enrolled"
	// ReasonBadCredential: the disclosure is malformed, not signed by the
	// attribute authority, not for the proof's key, outside its validity
	// window, or of a revoked epoch.
	ReasonBadCredential = "bad_credential"
	// ReasonRateExceeded: the user made more attempts on the record in the
	// current rate period than the channel allows.
	ReasonRateExceeded = "rate_exceeded"
	// ReasonRevoked: the user is blocked for the record or for the owner's
	// records (by monitoring, by the provenance chaincode, or recalled).
	ReasonRevoked = "revoked"
	// ReasonForbiddenAction: a MeDShare report showed an action the usage
	// contract forbids (recorded by RevokeForViolation).
	ReasonForbiddenAction = "forbidden_action"
)

// Who a refusal is blamed on (Violation.Blame). Only violations blamed on
// the user count toward blocks.
const (
	// BlameUser: the user's own signed proof shows the violation, judged at
	// the proof's time under the policy version it names.
	BlameUser = "user"
	// BlameSubmitter: the submission, not the proof, is at fault — a
	// replay, a proof submitted too late (or early), after a block set
	// since the proof was made, or after the policy changed. Recorded with
	// the submitter's identity, never counted against the user.
	BlameSubmitter = "submitter"
	// BlameNone: nobody is authenticated (bad signature, no enrolment).
	BlameNone = "none"
)

// Domains of the digests P-TL verifies.
const (
	// ProofDomain starts the digest a data user signs (version 2: with the
	// user id and the policy version).
	ProofDomain = "medshare/ptl/proof/v2"
	// EnrolmentDomain starts the digest the attribute authority signs to
	// bind a key to a user id.
	EnrolmentDomain = "medshare/ptl/enrolment/v1"
)

// Limits on proofs.
const (
	// MinNonceLen and MaxNonceLen bound the proof nonce.
	MinNonceLen = 16
	MaxNonceLen = 64
	// MaxProofLen bounds the Access proof argument.
	MaxProofLen = 32 << 10
)

// Enrolment is the attribute authority's statement that a key belongs to a
// user: the user id — the identity hash of the enrolled identity
// (certificate subject and issuer) the AA authenticated when it issued the
// user's credential — and the AA's signature over EnrolmentDigest(User,
// key). The AA gives every key of one person the same user id, so P-TL and
// the provenance chaincode block the person, not the key. Byte fields are
// base64 in JSON.
type Enrolment struct {
	// User is the user id: 32 lowercase hexadecimal characters.
	User string `json:"user"`
	// Signature is the AA's ECDSA P-256 signature (ASN.1 DER, low-S).
	Signature []byte `json:"signature"`
}

// EnrolmentDigest returns the digest the attribute authority signs to bind
// key (PKIX DER) to user: SHA-256 of
//
//	lp("medshare/ptl/enrolment/v1") ‖ lp(user) ‖ lp(key)
//
// It names no channel: one enrolment serves every side channel.
func EnrolmentDigest(user string, key []byte) [32]byte {
	return enc.New(EnrolmentDomain).String(user).Bytes(key).Sum256()
}

// Proof is the data user's access proof, the Access argument. Byte fields
// are base64 in JSON.
type Proof struct {
	// RecordID is the record to access; PolicyVersion the version of its
	// policy the proof was made for (GetPolicy).
	RecordID      string `json:"recordID"`
	PolicyVersion uint64 `json:"policyVersion"`
	// Time is T, when the proof was made (RFC 3339).
	Time string `json:"time"`
	// Key is BPK_DU: the PKIX DER of the user's ECDSA P-256 key, the key
	// the proof is signed with and the subject of the user's credential.
	Key []byte `json:"key"`
	// User is the user id the attribute authority bound Key to, and
	// Enrolment the AA's signature over EnrolmentDigest(User, Key).
	User      string `json:"user"`
	Enrolment []byte `json:"enrolment"`
	// Address is u, the record's current IPFS address.
	Address string `json:"address"`
	// Nonce is 16..64 random bytes, never reused by the user at the same
	// time T.
	Nonce []byte `json:"nonce"`
	// Disclosure is the user's credential disclosure
	// (credential.Disclosure.MarshalBinary): the AA-signed credential and
	// the tags the record's policy needs.
	Disclosure []byte `json:"disclosure"`
	// Signature is the user's signature over ProofDigest.
	Signature []byte `json:"signature"`
}

// ProofDigest returns the digest a data user signs for a proof: SHA-256 of
//
//	lp("medshare/ptl/proof/v2") ‖ lp(channel) ‖ lp(recordID) ‖ u64(policyVersion)
//	‖ i64(T in Unix ns) ‖ lp(BPK_DU) ‖ lp(user) ‖ lp(u) ‖ lp(nonce) ‖ lp(disclosure)
//
// (lp = 4-byte big-endian length and the bytes; u64, i64 = 8-byte
// big-endian). The channel binds the proof to one side chain, so it cannot
// be replayed on another level; the policy version to the policy the user
// read.
func ProofDigest(channel, recordID string, policyVersion uint64, t time.Time, userKey []byte, user, address string, nonce, disclosure []byte) [32]byte {
	return enc.New(ProofDomain).String(channel).String(recordID).Uint64(policyVersion).Time(t).
		Bytes(userKey).String(user).String(address).Bytes(nonce).Bytes(disclosure).Sum256()
}

// Digest is ProofDigest over the proof's fields, with Time parsed as RFC 3339.
func (p *Proof) Digest(channel string) ([32]byte, error) {
	t, err := time.Parse(time.RFC3339Nano, p.Time)
	if err != nil {
		return [32]byte{}, fmt.Errorf("proof time: %w", err)
	}
	return ProofDigest(channel, p.RecordID, p.PolicyVersion, t, p.Key, p.User, p.Address, p.Nonce, p.Disclosure), nil
}

// AccessID returns A, the access transaction's identifier: the proof digest
// in lowercase hex.
func AccessID(proofDigest [32]byte) string { return hex.EncodeToString(proofDigest[:]) }

// Decision is the result of Access.
type Decision struct {
	// Granted tells whether access was granted.
	Granted bool `json:"granted"`
	// AccessID is A.
	AccessID string `json:"accessID"`
	// RecordID and User (the user id the proof names) say who asked for
	// what.
	RecordID string `json:"recordID"`
	User     string `json:"user"`
	// Reason and Detail explain a refusal; Blame says who it is blamed on
	// (BlameUser, BlameSubmitter, BlameNone).
	Reason string `json:"reason,omitempty"`
	Detail string `json:"detail,omitempty"`
	Blame  string `json:"blame,omitempty"`
	// Blocked lists the scopes ("record", "owner") this refusal blocked.
	Blocked []string `json:"blocked,omitempty"`
	// Address (u), KeysHash (H(m), hex SHA-256 of the wrapped keys),
	// CheckCode and Version are returned on a grant. The owner's gateway
	// hands the data user m itself: it created m and holds it (the owner
	// also reads it with storage.GetRecord), and the user checks it against
	// KeysHash. m stays out of the ledger's permanent, replicated results.
	Address   string `json:"address,omitempty"`
	KeysHash  string `json:"keysHash,omitempty"`
	CheckCode string `json:"checkCode,omitempty"`
	Version   uint64 `json:"version,omitempty"`
}

// attempt is one access attempt with its arguments checked.
type attempt struct {
	cfg       *Config
	rec       *storage.Record
	pol       *compiled
	polVer    uint64
	proof     Proof
	t         time.Time // T
	userKey   *ecdsa.PublicKey
	user      string // user id
	digest    [32]byte
	accessID  string
	stamp     time.Time
	owner     string // owner key-hash
	submitter string // the creator's identity
	now       time.Time
	txID      string
}

// verdict is the outcome of the checks that judge the data user.
type verdict struct {
	reason, detail, blame string
}

func refuse(reason, blame, format string, a ...any) verdict {
	return verdict{reason: reason, blame: blame, detail: fmt.Sprintf(format, a...)}
}

// Access is the P-TL gate: it checks a data user's proof (JSON Proof) for a
// record the caller owns, with the owner's stamp T_stemp (RFC 3339, within
// maxClockSkew of the transaction time). The owner's signature sign_DO is
// the transaction's own: the creator — who must own the record — signs the
// proposal holding the proof (hence A, BPK_DU and u) and T_stemp, and every
// node verifies it before the chaincode runs. It logs the attempt and
// returns a Decision: on a grant it records Tx_acc and returns u and H(m)
// (Decision.KeysHash; the owner's gateway hands over m); on a
// refusal it records the violation, blamed on the user or the submitter,
// and may block the user. Only bad arguments fail the transaction.
func (c *PTL) Access(ctx chaincode.TransactionContext, proof, stamp string) (*Decision, error) {
	a, err := c.parseAttempt(ctx, proof, stamp)
	if err != nil {
		return nil, err
	}
	stub := ctx.GetStub()
	v, err := c.decide(stub, a)
	if err != nil {
		return nil, err
	}
	d := &Decision{Granted: v.reason == "", AccessID: a.accessID, RecordID: a.rec.RecordID, User: a.user, Reason: v.reason, Detail: v.detail, Blame: v.blame}
	if err := c.logAttempt(stub, a, v); err != nil {
		return nil, err
	}
	if d.Granted {
		if err := c.recordAccess(stub, a); err != nil {
			return nil, err
		}
		d.Address, d.KeysHash, d.CheckCode, d.Version = a.rec.Address, a.rec.KeysHash, a.rec.CheckCode, a.rec.Version
		return d, nil
	}
	vio := &Violation{
		RecordID: a.rec.RecordID, Owner: a.rec.Owner, Time: a.t, User: a.user, UserKey: a.proof.Key,
		Address: a.proof.Address, Reason: v.reason, Detail: v.detail, Counted: v.blame == BlameUser, Blame: v.blame,
		AccessID: a.accessID,
	}
	if v.blame == BlameSubmitter {
		vio.Submitter = a.submitter
	}
	if d.Blocked, err = c.violate(stub, a.cfg, vio); err != nil {
		return nil, err
	}
	return d, nil
}

// parseAttempt checks everything that does not depend on the data user:
// arguments, the record, the caller's ownership, the owner's signature and
// the policy. A failure here fails the transaction.
func (c *PTL) parseAttempt(ctx chaincode.TransactionContext, proofJSON, stamp string) (*attempt, error) {
	cfg, who, err := c.cfg.Client(ctx, "submit access transactions")
	if err != nil {
		return nil, err
	}
	stub := ctx.GetStub()
	a := &attempt{cfg: cfg, txID: stub.GetTxID(), submitter: who.ID}
	if a.now, err = stub.GetTxTimestamp(); err != nil {
		return nil, err
	}
	if len(proofJSON) > MaxProofLen {
		return nil, ccerr.Invalid("proof", "must be at most %d bytes of JSON", MaxProofLen)
	}
	if err := setup.DecodeStrict("proof", []byte(proofJSON), &a.proof); err != nil {
		return nil, err
	}
	p := &a.proof
	if err := arg.ID("proof.recordID", p.RecordID); err != nil {
		return nil, err
	}
	if p.PolicyVersion == 0 {
		return nil, ccerr.Invalid("proof.policyVersion", "must be the version of the record's policy the proof was made for (at least 1)")
	}
	if a.t, err = arg.Time("proof.time", p.Time); err != nil {
		return nil, err
	}
	if a.userKey, err = arg.PublicKey("proof.key", p.Key); err != nil {
		return nil, err
	}
	if err := statekey.UserID("proof.user", p.User); err != nil {
		return nil, err
	}
	if err := arg.Size("proof.enrolment", p.Enrolment, 8, arg.MaxSignatureLen); err != nil {
		return nil, err
	}
	if err := arg.CID("proof.address", p.Address); err != nil {
		return nil, err
	}
	if err := arg.Size("proof.nonce", p.Nonce, MinNonceLen, MaxNonceLen); err != nil {
		return nil, err
	}
	if err := arg.Size("proof.disclosure", p.Disclosure, 1, credential.MaxDisclosureLen); err != nil {
		return nil, err
	}
	if err := arg.Size("proof.signature", p.Signature, 8, arg.MaxSignatureLen); err != nil {
		return nil, err
	}
	if a.stamp, err = arg.Time("stamp", stamp); err != nil {
		return nil, err
	}
	if skew := a.stamp.Sub(a.now).Abs(); skew > cfg.maxClockSkew {
		return nil, ccerr.Invalid("stamp", "must be within %s of the transaction time %s, got %s", cfg.maxClockSkew, a.now.Format(time.RFC3339Nano), a.stamp.Format(time.RFC3339Nano))
	}
	if a.rec, err = c.ownedRecord(ctx, who, p.RecordID, "submit access transactions for it"); err != nil {
		return nil, err
	}
	if p.Address != a.rec.Address {
		return nil, ccerr.Invalid("proof.address", "is not the current address of record %s (version %d)", p.RecordID, a.rec.Version)
	}
	a.digest = ProofDigest(stub.GetChannelID(), p.RecordID, p.PolicyVersion, a.t, p.Key, p.User, p.Address, p.Nonce, p.Disclosure)
	a.accessID = AccessID(a.digest)
	pol, cp, err := c.loadPolicy(stub, p.RecordID)
	if err != nil {
		return nil, err
	}
	if pol == nil {
		return nil, noPolicy(stub, p.RecordID)
	}
	a.pol, a.polVer = cp, pol.Version
	a.user = p.User
	a.owner = who.OwnerHash()
	return a, nil
}

// decide runs the checks that judge the data user, in a fixed order, and
// returns the first that fails (a zero verdict when all pass), with whom it
// is blamed on. A check that depends on when the proof is judged fails
// against the user only when it also fails at the proof's own time T: the
// submitter chooses when to submit, the user only what to sign. It records
// the spent proof and the rate count.
func (c *PTL) decide(stub chaincode.Stub, a *attempt) (verdict, error) {
	// 1. The proof's signature: who is asking.
	if err := c.sigs.Verify(a.userKey, a.digest, a.proof.Signature); err != nil {
		return refuse(ReasonBadSignature, BlameNone, "the proof's signature does not verify under proof.key"), nil
	}
	// 2. The enrolment: which user the key belongs to.
	if !c.enrolled(a.cfg, a.user, a.proof.Key, a.proof.Enrolment) {
		return refuse(ReasonNotEnrolled, BlameNone, "the enrolment does not bind proof.key to user %s under the attribute authority's key", a.user), nil
	}
	// 3. Replay: every authenticated proof is spent once.
	if used, err := c.spendProof(stub, a); err != nil || used != "" {
		return refuse(ReasonReplay, BlameSubmitter, "%s", used), err
	}
	// 4. The policy version the proof was made for.
	if a.proof.PolicyVersion != a.polVer {
		blame := BlameSubmitter
		if a.proof.PolicyVersion > a.polVer {
			blame = BlameUser
		}
		return refuse(ReasonPolicyChanged, blame, "the proof was made for version %d of the record's policy; the current version is %d", a.proof.PolicyVersion, a.polVer), nil
	}
	// 5. Revocation: blocked for the record or for all of the owner's.
	if b, err := c.activeBlock(stub, a.owner, a.user, a.rec.RecordID); err != nil || b != nil {
		if err != nil {
			return verdict{}, err
		}
		blame := BlameUser
		if a.t.Before(b.Since) {
			blame = BlameSubmitter // made before the block: only its submission came after
		}
		return verdict{ReasonRevoked, b.describe(), blame}, nil
	}
	// 6. Rate.
	if over, own, err := c.countAttempt(stub, a); err != nil || over != "" {
		blame := BlameSubmitter
		if own {
			blame = BlameUser
		}
		return verdict{ReasonRateExceeded, over, blame}, err
	}
	// 7. Freshness of T: how old a proof is when judged is the submitter's
	// doing.
	maxAge := a.pol.maxProofAge
	if maxAge == 0 {
		maxAge = a.cfg.maxProofAge
	}
	if age := a.now.Sub(a.t); age > maxAge {
		return refuse(ReasonExpired, BlameSubmitter, "the proof is %s old; the policy accepts proofs up to %s old", age, maxAge), nil
	} else if -age > a.cfg.maxClockSkew {
		return refuse(ReasonExpired, BlameSubmitter, "the proof is dated %s ahead of the transaction time; at most %s is allowed", -age, a.cfg.maxClockSkew), nil
	}
	// 8. The policy's validity period.
	if v := a.pol.period(a.now); v != "" {
		return refuse(ReasonExpired, blameAt(a.pol.period(a.t) != ""), "%s", v), nil
	}
	// 9. Access windows.
	if !a.pol.inWindow(a.now) {
		local := a.now.In(a.pol.loc)
		return refuse(ReasonOutsideWindow, blameAt(!a.pol.inWindow(a.t)), "%s %s in %s is outside the policy's access windows", local.Weekday(), local.Format("15:04"), a.pol.loc), nil
	}
	// 10. The credential.
	tags, bad, timed := c.verifyDisclosure(a)
	if bad != "" {
		return refuse(ReasonBadCredential, blameAt(!timed || c.credentialWindowFails(a, a.t)), "%s", bad), nil
	}
	// 11. The hidden policy.
	held := make(map[string]bool, len(tags))
	for _, t := range tags {
		held[t.String()] = true
	}
	if !a.pol.tree.Satisfied(func(leaf string) bool { return held[leaf] }) {
		return refuse(ReasonPolicyNotMet, BlameUser, "the %d disclosed tags do not satisfy the record's policy", len(tags)), nil
	}
	return verdict{}, nil
}

// blameAt blames the user when a time-dependent check also fails at the
// proof's time, else the submitter.
func blameAt(failsAtT bool) string {
	if failsAtT {
		return BlameUser
	}
	return BlameSubmitter
}

// enrolled reports whether sig is the attribute authority's enrolment of
// key as user. Verified enrolments are cached (sigcheck), so a returning
// user costs no verification.
func (c *PTL) enrolled(cfg *Config, user string, key, sig []byte) bool {
	return c.sigs.Verify(cfg.aaKey, EnrolmentDigest(user, key), sig) == nil
}

// credentialWindowFails reports whether the disclosure's credential is
// outside its validity window at t.
func (c *PTL) credentialWindowFails(a *attempt, t time.Time) bool {
	d, err := credential.UnmarshalDisclosure(a.proof.Disclosure)
	if err != nil {
		return true
	}
	return t.Before(d.Credential.NotBefore) || !t.Before(d.Credential.NotAfter)
}

// verifyDisclosure checks the user's credential disclosure and returns its
// tags, or why it is refused and whether the refusal is only the
// credential's validity window at the transaction time. The validity window
// and epoch are checked here, before the (cached) signature and inclusion
// proofs, so that a cache hit and a full verification always reach the same
// outcome.
func (c *PTL) verifyDisclosure(a *attempt) (tags []tag.Tag, bad string, timed bool) {
	d, err := credential.UnmarshalDisclosure(a.proof.Disclosure)
	if err != nil {
		return nil, "the disclosure is malformed: " + err.Error(), false
	}
	cred := &d.Credential
	if !bytes.Equal(cred.Subject, a.proof.Key) {
		return nil, "the credential's subject is not proof.key", false
	}
	if cred.Epoch < a.cfg.MinEpoch {
		return nil, fmt.Sprintf("the credential's epoch %d is before the channel's minimum epoch %d", cred.Epoch, a.cfg.MinEpoch), false
	}
	if a.now.Before(cred.NotBefore) {
		return nil, "the credential is valid from " + cred.NotBefore.Format(time.RFC3339), true
	}
	if !a.now.Before(cred.NotAfter) {
		return nil, "the credential expired at " + cred.NotAfter.Format(time.RFC3339), true
	}
	aa, err := a.cfg.aaKey.Bytes()
	if err != nil {
		return nil, "the attribute authority key is unusable", false
	}
	h := sha256.New()
	h.Write(aa)
	h.Write(a.proof.Disclosure)
	var key [32]byte
	h.Sum(key[:0])
	if tags, ok := c.disclosures.Get(key); ok {
		return tags, "", false
	}
	tags, err = d.Verify(a.cfg.aaKey, a.now)
	if err != nil {
		return nil, "the disclosure does not verify: " + err.Error(), false
	}
	c.disclosures.Add(key, tags)
	return tags, "", false
}

// Enrolled is the result of CheckEnrolment.
type Enrolled struct {
	// User is the user id; Key the key-hash of the enrolled key.
	User string `json:"user"`
	Key  string `json:"key"`
}

// CheckEnrolment checks that signature (base64) is the attribute
// authority's enrolment of key (base64 PKIX DER) as user (a user id), under
// the channel's AA key. The provenance chaincode asks it for every
// MeDShare requestor, so that P-TL's configuration is the one place the AA
// key is governed. Any member may call it.
func (c *PTL) CheckEnrolment(ctx chaincode.TransactionContext, key, user, signature string) (*Enrolled, error) {
	cfg, err := c.cfg.Load(ctx)
	if err != nil {
		return nil, err
	}
	der, _, err := arg.PublicKeyBase64("key", key)
	if err != nil {
		return nil, err
	}
	if err := statekey.UserID("user", user); err != nil {
		return nil, err
	}
	sig, err := arg.Signature("signature", signature)
	if err != nil {
		return nil, err
	}
	if !c.enrolled(cfg, user, der, sig) {
		return nil, ccerr.Invalid("signature", "is not the attribute authority's enrolment of the key as user %s", user)
	}
	return &Enrolled{User: user, Key: statekey.Key(der)}, nil
}
