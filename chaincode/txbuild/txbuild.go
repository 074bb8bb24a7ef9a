// Package txbuild builds the arguments of the medshare transactions on the
// client side: what a hospital's gateway (the data owner, DO), a data user
// (DU) and a MeDShare requestor's client compute and sign before a
// transaction reaches the ledger.
//
// Every builder returns a Call — channel, chaincode, function and string
// arguments — ready for the client library:
//
//	call, err := txbuild.Store(owner, "side-high", txbuild.StoreInput{…})
//	payload, err := gw.GetNetwork(call.Channel).GetContract(call.Chaincode).
//		SubmitTransaction(call.Fn, call.Args...)
//
// The digests are the chaincodes' own exported functions (storage.Digest,
// ptl.ProofDigest, provenance.RequestDigest, FormDigest,
// ReportDigest, DecisionDigest), so a builder and the contract that verifies
// it cannot drift apart. Times are encoded as RFC 3339 with nanoseconds in
// UTC (FormatTime) and signed as the instant the chaincode parses back.
//
// Who signs what:
//
//   - the data owner's gateway, with the key of the certificate it submits
//     with (an *identity.Signer): Tx_sto (Store), Nsig of a MeDShare form
//     (RecordRequest), of a forwarded report (ForwardReport) and of the
//     owner's decisions (SetIgnored, Regrant, Recall); its sign_DO of an
//     access is the signature of the Access transaction itself;
//   - the attribute authority, with its credential key: a user's credential
//     and its enrolment, which binds each of the user's keys to the user id
//     of the identity it enrolled (IssueUser, Enrol);
//   - the data user, with BPK_DU (a *User): access proofs (User.Proof,
//     User.ProofFor) disclosing only the AA-certified tags the record's
//     hidden policy needs (Needed);
//   - the requestor, with RID (a *User's key): MeDShare requests
//     (SignRequest), which carry the public half of a report key its own
//     client generated;
//   - the requestor's client, with that report key (a *Key): action
//     reports (SignReport).
//
// Ids are scoped to who creates them: RecordID builds an owner's record
// id, RequestID a requestor's request id.
//
// The package never logs and never keeps keys beyond the values it is
// given.
package txbuild

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/medshare/medshare/chaincode/internal/statekey"
	"github.com/medshare/medshare/network/identity"
)

// Call is one chaincode invocation: the channel, the chaincode, the
// function and its string arguments, in the order the function takes them.
type Call struct {
	Channel   string
	Chaincode string
	Fn        string
	Args      []string
}

// String names the call without its arguments ("side-high/ptl:Access"), for
// messages: arguments may carry keys and signatures.
func (c Call) String() string { return c.Channel + "/" + c.Chaincode + ":" + c.Fn }

// Signer signs a SHA-256 digest with ECDSA P-256, returning an ASN.1 DER
// low-S signature. *identity.Signer (a gateway's certificate key) and *Key
// implement it.
type Signer interface {
	SignDigest(digest []byte) ([]byte, error)
}

// Key is an ECDSA P-256 key pair with its PKIX DER public key: a data user's
// BPK_DU, a requestor's RID or a package's report key.
type Key struct {
	// Private is the private key.
	Private *ecdsa.PrivateKey
	// DER is the PKIX DER encoding of the public key, as the chaincodes
	// take it.
	DER []byte
}

// NewKey generates a key from rnd (crypto/rand.Reader when nil).
func NewKey(rnd io.Reader) (*Key, error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rnd)
	if err != nil {
		return nil, fmt.Errorf("txbuild: generate key: %w", err)
	}
	return KeyOf(priv)
}

// KeyOf wraps an existing P-256 private key.
func KeyOf(priv *ecdsa.PrivateKey) (*Key, error) {
	if priv == nil || priv.Curve != elliptic.P256() {
		return nil, errors.New("txbuild: key: not an ECDSA P-256 private key")
	}
	der, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("txbuild: key: %w", err)
	}
	return &Key{Private: priv, DER: der}, nil
}

// SignDigest signs digest (low-S), implementing Signer.
func (k *Key) SignDigest(digest []byte) ([]byte, error) {
	return identity.SignDigest(rand.Reader, k.Private, digest)
}

// Hash is the key's key-hash, the name listings give the user: the first 16
// bytes of SHA-256(DER) in lowercase hex.
func (k *Key) Hash() string { return KeyHash(k.DER) }

// Base64 is the key as a user argument: standard base64 of its PKIX DER.
func (k *Key) Base64() string { return base64.StdEncoding.EncodeToString(k.DER) }

// KeyHash returns the key-hash of a PKIX DER public key.
func KeyHash(der []byte) string { return statekey.Key(der) }

// UserID returns the user id of an enrolled identity, given its unique
// name ("x509::<subject>::<issuer>", identity.Identity.ID): the identity
// hash the chaincodes name users by, and the one the attribute authority
// binds the user's keys to.
func UserID(enrolledID string) string { return statekey.Identity(enrolledID) }

// RecordID returns the record id name of the owner whose identity's
// unique name is ownerID: "<identity hash>:<name>". Record ids are scoped
// to their owner, so nobody else can take them.
func RecordID(ownerID, name string) string { return statekey.Identity(ownerID) + ":" + name }

// RequestID returns the MeDShare request id name of the requestor with
// user id user: "<user id>:<name>".
func RequestID(user, name string) string { return user + ":" + name }

// FormatTime renders t as the chaincodes parse it: RFC 3339 with
// nanoseconds, in UTC.
func FormatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// parseTime parses a time argument the way the chaincodes do.
func parseTime(name, s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("txbuild: %s: %w", name, err)
	}
	return t, nil
}

// RawCID returns the CIDv1 IPFS gives data stored as one raw block
// (sha2-256 multihash, raw codec, base32): what "ipfs add --cid-version 1
// --raw-leaves" prints for data up to one chunk (256 KiB).
func RawCID(data []byte) string {
	sum := sha256.Sum256(data)
	// version 1, codec raw (0x55), multihash sha2-256 (0x12) of 32 bytes.
	b := append([]byte{0x01, 0x55, 0x12, 0x20}, sum[:]...)
	return "b" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}

func sign(who string, s Signer, d [32]byte) (string, error) {
	if s == nil {
		return "", fmt.Errorf("txbuild: %s: no signer", who)
	}
	sig, err := s.SignDigest(d[:])
	if err != nil {
		return "", fmt.Errorf("txbuild: %s: %w", who, err)
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}

func signBytes(who string, s Signer, d [32]byte) ([]byte, error) {
	if s == nil {
		return nil, fmt.Errorf("txbuild: %s: no signer", who)
	}
	sig, err := s.SignDigest(d[:])
	if err != nil {
		return nil, fmt.Errorf("txbuild: %s: %w", who, err)
	}
	return sig, nil
}

func marshal(what string, v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("txbuild: %s: %w", what, err)
	}
	return string(b), nil
}
