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
	// ReasonReplay: the proof's nonce was used before.
	ReasonReplay = "replay"
	// ReasonBadSignature: the proof's signature does not verify under its
	// key. Such a violation is recorded but not counted toward a block: the
	// key it names is not authenticated.
	ReasonBadSignature = "bad_signature"
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

// Domains of the digests P-TL verifies.
const (
	ProofDomain = "medshare/ptl/proof/v1"
)

// Limits on proofs.
const (
	// MinNonceLen and MaxNonceLen bound the proof nonce.
	MinNonceLen = 16
	MaxNonceLen = 64
	// MaxProofLen bounds the Access proof argument.
	MaxProofLen = 32 << 10
)

// Proof is the data user's access proof, the Access argument. Byte fields
// are base64 in JSON.
type Proof struct {
	// RecordID is the record to access.
	RecordID string `json:"recordID"`
	// Time is T, when the proof was made (RFC 3339).
	Time string `json:"time"`
	// Key is BPK_DU: the PKIX DER of the user's ECDSA P-256 key, the key
	// the proof is signed with and the subject of the user's credential.
	Key []byte `json:"key"`
	// Address is u, the record's current IPFS address.
	Address string `json:"address"`
	// Nonce is 16..64 random bytes, never reused by the user.
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
//	lp("medshare/ptl/proof/v1") ‖ lp(channel) ‖ lp(recordID) ‖ i64(T in Unix ns)
//	‖ lp(BPK_DU) ‖ lp(u) ‖ lp(nonce) ‖ lp(disclosure)
//
// (lp = 4-byte big-endian length and the bytes; i64 = 8-byte big-endian).
// The channel binds the proof to one side chain, so it cannot be replayed on
// another level.
func ProofDigest(channel, recordID string, t time.Time, userKey []byte, address string, nonce, disclosure []byte) [32]byte {
	return enc.New(ProofDomain).String(channel).String(recordID).Time(t).
		Bytes(userKey).String(address).Bytes(nonce).Bytes(disclosure).Sum256()
}

// Digest is ProofDigest over the proof's fields, with Time parsed as RFC 3339.
func (p *Proof) Digest(channel string) ([32]byte, error) {
	t, err := time.Parse(time.RFC3339Nano, p.Time)
	if err != nil {
		return [32]byte{}, fmt.Errorf("proof time: %w", err)
	}
	return ProofDigest(channel, p.RecordID, t, p.Key, p.Address, p.Nonce, p.Disclosure), nil
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
	// RecordID and User (the key-hash of BPK_DU) say who asked for what.
	RecordID string `json:"recordID"`
	User     string `json:"user"`
	// Reason and Detail explain a refusal.
	Reason string `json:"reason,omitempty"`
	Detail string `json:"detail,omitempty"`
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
	cfg      *Config
	rec      *storage.Record
	pol      *compiled
	proof    Proof
	t        time.Time // T
	userKey  *ecdsa.PublicKey
	user     string // key-hash of BPK_DU
	digest   [32]byte
	accessID string
	stamp    time.Time
	owner    string // owner key-hash
	now      time.Time
	txID     string
}

// Access is the P-TL gate: it checks a data user's proof (JSON Proof) for a
// record the caller owns, with the owner's stamp T_stemp (RFC 3339, within
// maxClockSkew of the transaction time). The owner's signature sign_DO is
// the transaction's own: the creator — who must own the record — signs the
// proposal holding the proof (hence A, BPK_DU and u) and T_stemp, and every
// node verifies it before the chaincode runs. It logs the attempt and
// returns a Decision: on a grant it records Tx_acc and returns u and H(m)
// (Decision.KeysHash; the owner's gateway hands over m); on a
// refusal it records the violation and may block the user. Only bad
// arguments fail the transaction.
func (c *PTL) Access(ctx chaincode.TransactionContext, proof, stamp string) (*Decision, error) {
	a, err := c.parseAttempt(ctx, proof, stamp)
	if err != nil {
		return nil, err
	}
	stub := ctx.GetStub()
	reason, detail, counted, err := c.decide(stub, a)
	if err != nil {
		return nil, err
	}
	d := &Decision{Granted: reason == "", AccessID: a.accessID, RecordID: a.rec.RecordID, User: a.user, Reason: reason, Detail: detail}
	if err := c.logAttempt(stub, a, reason); err != nil {
		return nil, err
	}
	if d.Granted {
		if err := c.recordAccess(stub, a); err != nil {
			return nil, err
		}
		d.Address, d.KeysHash, d.CheckCode, d.Version = a.rec.Address, a.rec.KeysHash, a.rec.CheckCode, a.rec.Version
		return d, nil
	}
	v := &Violation{
		RecordID: a.rec.RecordID, Owner: a.rec.Owner, Time: a.t, User: a.user, UserKey: a.proof.Key,
		Address: a.proof.Address, Reason: reason, Detail: detail, Counted: counted, AccessID: a.accessID,
	}
	if d.Blocked, err = c.violate(stub, a.cfg, v); err != nil {
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
	a := &attempt{cfg: cfg, txID: stub.GetTxID()}
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
	if a.t, err = arg.Time("proof.time", p.Time); err != nil {
		return nil, err
	}
	if a.userKey, err = arg.PublicKey("proof.key", p.Key); err != nil {
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
	a.digest = ProofDigest(stub.GetChannelID(), p.RecordID, a.t, p.Key, p.Address, p.Nonce, p.Disclosure)
	a.accessID = AccessID(a.digest)
	if _, a.pol, err = c.loadPolicy(stub, p.RecordID); err != nil {
		return nil, err
	}
	if a.pol == nil {
		return nil, noPolicy(stub, p.RecordID)
	}
	a.user = statekey.User(p.Key)
	a.owner = who.OwnerHash()
	return a, nil
}

// decide runs the checks that judge the data user, in a fixed order, and
// returns the reason of the first that fails ("" when all pass) and whether
// the violation counts toward a block (it does once the proof's signature
// has verified). It records the nonce and the rate count.
func (c *PTL) decide(stub chaincode.Stub, a *attempt) (reason, detail string, counted bool, err error) {
	// 1. The proof's signature: who is asking.
	if err := c.sigs.Verify(a.userKey, a.digest, a.proof.Signature); err != nil {
		return ReasonBadSignature, "the proof's signature does not verify under proof.key", false, nil
	}
	// 2. Replay: the nonce is spent by every authenticated attempt.
	if used, err := c.spendNonce(stub, a); err != nil || used != "" {
		return ReasonReplay, used, true, err
	}
	// 3. Revocation: blocked for the record or for all of the owner's.
	if b, err := c.activeBlock(stub, a.owner, a.user, a.rec.RecordID); err != nil || b != nil {
		if err != nil {
			return "", "", false, err
		}
		return ReasonRevoked, b.describe(), true, nil
	}
	// 4. Rate.
	if over, err := c.countAttempt(stub, a); err != nil || over != "" {
		return ReasonRateExceeded, over, true, err
	}
	// 5. Freshness of T.
	maxAge := a.pol.maxProofAge
	if maxAge == 0 {
		maxAge = a.cfg.maxProofAge
	}
	if age := a.now.Sub(a.t); age > maxAge {
		return ReasonExpired, fmt.Sprintf("the proof is %s old; the policy accepts proofs up to %s old", age, maxAge), true, nil
	} else if -age > a.cfg.maxClockSkew {
		return ReasonExpired, fmt.Sprintf("the proof is dated %s ahead of the transaction time; at most %s is allowed", -age, a.cfg.maxClockSkew), true, nil
	}
	// 6. The policy's validity period.
	if a.now.Before(a.pol.notBefore) {
		return ReasonExpired, "the policy is valid from " + a.pol.notBefore.Format(time.RFC3339), true, nil
	}
	if !a.now.Before(a.pol.notAfter) {
		return ReasonExpired, "the policy expired at " + a.pol.notAfter.Format(time.RFC3339), true, nil
	}
	// 7. Access windows.
	if !a.pol.inWindow(a.now) {
		local := a.now.In(a.pol.loc)
		return ReasonOutsideWindow, fmt.Sprintf("%s %s in %s is outside the policy's access windows", local.Weekday(), local.Format("15:04"), a.pol.loc), true, nil
	}
	// 8. The credential.
	tags, bad := c.verifyDisclosure(a)
	if bad != "" {
		return ReasonBadCredential, bad, true, nil
	}
	// 9. The hidden policy.
	held := make(map[string]bool, len(tags))
	for _, t := range tags {
		held[t.String()] = true
	}
	if !a.pol.tree.Satisfied(func(leaf string) bool { return held[leaf] }) {
		return ReasonPolicyNotMet, fmt.Sprintf("the %d disclosed tags do not satisfy the record's policy", len(tags)), true, nil
	}
	return "", "", true, nil
}

// verifyDisclosure checks the user's credential disclosure and returns its
// tags, or why it is refused. The validity window and epoch are checked here,
// before the (cached) signature and inclusion proofs, so that a cache hit and
// a full verification always reach the same outcome.
func (c *PTL) verifyDisclosure(a *attempt) ([]tag.Tag, string) {
	d, err := credential.UnmarshalDisclosure(a.proof.Disclosure)
	if err != nil {
		return nil, "the disclosure is malformed: " + err.Error()
	}
	cred := &d.Credential
	if !bytes.Equal(cred.Subject, a.proof.Key) {
		return nil, "the credential's subject is not proof.key"
	}
	if cred.Epoch < a.cfg.MinEpoch {
		return nil, fmt.Sprintf("the credential's epoch %d is before the channel's minimum epoch %d", cred.Epoch, a.cfg.MinEpoch)
	}
	if a.now.Before(cred.NotBefore) {
		return nil, "the credential is valid from " + cred.NotBefore.Format(time.RFC3339)
	}
	if !a.now.Before(cred.NotAfter) {
		return nil, "the credential expired at " + cred.NotAfter.Format(time.RFC3339)
	}
	aa, err := a.cfg.aaKey.Bytes()
	if err != nil {
		return nil, "the attribute authority key is unusable"
	}
	h := sha256.New()
	h.Write(aa)
	h.Write(a.proof.Disclosure)
	var key [32]byte
	h.Sum(key[:0])
	if tags, ok := c.disclosures.Get(key); ok {
		return tags, ""
	}
	tags, err := d.Verify(a.cfg.aaKey, a.now)
	if err != nil {
		return nil, "the disclosure does not verify: " + err.Error()
	}
	c.disclosures.Add(key, tags)
	return tags, ""
}
