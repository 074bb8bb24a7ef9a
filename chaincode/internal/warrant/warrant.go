// Package warrant lets a relay — an organisation's gateway — read audit
// data on behalf of the person who asked it, with that person's rights, not
// its own: the contracts' audit reads are scoped to the data's owner, the
// user it concerns and the auditors the governed configuration names, and a
// gateway relaying an auditor's or a user's query is none of them.
//
// A warrant is the reader's signature, with the key of its enrolled
// certificate, over (its organisation, its certificate, the relay's
// identity, a validity period of at most MaxValidity). A chaincode's ReadAs
// function checks it — the relay is the query's creator, the reader's
// certificate is valid in the channel's membership (chaincode.ChannelMembers)
// and names a client, the signature verifies, the query's time lies in the
// period — and runs one of its read functions as the reader: the contract's
// own scoping decides what the reader sees, exactly as when the reader
// queries a node itself.
//
// A warrant grants nothing the reader could not read itself, and only to the
// relay it names, for at most an hour. A relay may use it for any of the
// reader's reads within that hour; a relay is an organisation's gateway,
// whose node operator can read the world state anyway (docs/chaincode.md,
// "Trust model"): the scoping protects the gateway API, and the warrant
// carries the API caller's identity to the contract that enforces it.
package warrant

import (
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/medshare/medshare/chaincode/ccerr"
	"github.com/medshare/medshare/chaincode/internal/caller"
	"github.com/medshare/medshare/chaincode/internal/enc"
	"github.com/medshare/medshare/chaincode/internal/setup"
	"github.com/medshare/medshare/network/chaincode"
	"github.com/medshare/medshare/network/identity"
)

// Domain is the domain of the warrant digest (version 1).
const Domain = "medshare/read-warrant/v1"

// Limits.
const (
	// MaxValidity bounds notAfter − notBefore.
	MaxValidity = time.Hour
	// MaxLen bounds a warrant's JSON.
	MaxLen = 16 << 10
	// MaxArgs bounds the arguments of the read a warrant runs.
	MaxArgs = 8
	// Skew is how far notBefore may lie ahead of the query's time.
	Skew = 30 * time.Second
)

// Warrant is the JSON form of a read warrant (byte fields base64).
type Warrant struct {
	// MSP is the reader's organisation; Reader its certificate (DER), the
	// one it signs with.
	MSP    string `json:"msp"`
	Reader []byte `json:"reader"`
	// Relay is the unique name ("x509::<subject>::<issuer>") of the identity
	// that may present the warrant: the gateway the reader asked.
	Relay string `json:"relay"`
	// NotBefore and NotAfter bound its use (RFC 3339), at most MaxValidity
	// apart.
	NotBefore string `json:"notBefore"`
	NotAfter  string `json:"notAfter"`
	// Signature is the reader's signature over Digest (low-S ASN.1 ECDSA).
	Signature []byte `json:"signature"`
}

// Digest is what the reader signs: SHA-256 of
//
//	lp("medshare/read-warrant/v1") ‖ lp(msp) ‖ lp(reader certificate DER) ‖ lp(relay)
//	‖ i64(notBefore ns) ‖ i64(notAfter ns)
//
// It names no channel: one warrant serves the side channels' contracts.
func Digest(msp string, reader []byte, relay string, notBefore, notAfter time.Time) [32]byte {
	return enc.New(Domain).String(msp).Bytes(reader).String(relay).Time(notBefore).Time(notAfter).Sum256()
}

// Verify checks a signature over a digest (a chaincode's cached verifier).
type Verify func(pub *ecdsa.PublicKey, digest [32]byte, sig []byte) error

// Check validates raw (a JSON Warrant) for the query in ctx and returns a
// context in which the reader is the creator.
func Check(ctx chaincode.TransactionContext, raw string, verify Verify) (chaincode.TransactionContext, error) {
	if len(raw) > MaxLen {
		return nil, ccerr.Invalid("warrant", "must be at most %d bytes of JSON", MaxLen)
	}
	var w Warrant
	if err := setup.DecodeStrict("warrant", []byte(raw), &w); err != nil {
		return nil, err
	}
	relay, err := caller.Of(ctx)
	if err != nil {
		return nil, err
	}
	if w.Relay != relay.ID {
		return nil, ccerr.Forbidden("warrant.relay", "names %s, not the creator of this query", truncate(w.Relay, 256))
	}
	nb, err := time.Parse(time.RFC3339Nano, w.NotBefore)
	if err != nil {
		return nil, ccerr.Invalid("warrant.notBefore", "must be an RFC 3339 time")
	}
	na, err := time.Parse(time.RFC3339Nano, w.NotAfter)
	if err != nil {
		return nil, ccerr.Invalid("warrant.notAfter", "must be an RFC 3339 time")
	}
	if !na.After(nb) || na.Sub(nb) > MaxValidity {
		return nil, ccerr.Invalid("warrant.notAfter", "must be after notBefore, at most %s later", MaxValidity)
	}
	now, err := ctx.GetStub().GetTxTimestamp()
	if err != nil {
		return nil, err
	}
	if nb.After(now.Add(Skew)) || !now.Before(na) {
		return nil, ccerr.Invalid("warrant.notAfter", "the warrant is not valid at %s (valid %s to %s)",
			now.UTC().Format(time.RFC3339), nb.UTC().Format(time.RFC3339), na.UTC().Format(time.RFC3339))
	}
	members, ok := chaincode.ChannelMembers(ctx.GetStub())
	if !ok {
		return nil, ccerr.Forbidden("warrant", "this ledger does not expose the channel's membership; warrants cannot be checked")
	}
	if len(w.Reader) == 0 || len(w.Reader) > 8<<10 {
		return nil, ccerr.Invalid("warrant.reader", "must be a DER certificate")
	}
	id, err := members.Validate(w.MSP, w.Reader, now)
	if err != nil {
		return nil, ccerr.Forbidden("warrant.reader", "is not a certificate of organisation %s valid now: %v", truncate(w.MSP, 64), err)
	}
	if id.Role() != identity.RoleClient {
		return nil, ccerr.Forbidden("warrant.reader", "only client identities read through a relay; the reader's role is %s", id.Role())
	}
	if err := verify(id.PublicKey(), Digest(w.MSP, w.Reader, w.Relay, nb, na), w.Signature); err != nil {
		return nil, ccerr.Invalid("warrant.signature", "does not verify under the reader's certificate key over the warrant digest")
	}
	return &readerContext{TransactionContext: ctx, id: readerIdentity{id}}, nil
}

// Read is one read function a chaincode serves through a warrant: it gets
// the reader's context and the arguments, and returns the result to encode
// as JSON.
type Read func(ctx chaincode.TransactionContext, args []string) (any, error)

// Serve checks the warrant and runs reads[fn] with args (a JSON array of
// strings) as the reader, returning its result as JSON.
func Serve(ctx chaincode.TransactionContext, raw, fn, args string, verify Verify, reads map[string]Read) ([]byte, error) {
	read, ok := reads[fn]
	if !ok {
		names := make([]string, 0, len(reads))
		for n := range reads {
			names = append(names, n)
		}
		slices.Sort(names)
		return nil, ccerr.Invalid("fn", "%q is not a read this chaincode serves through a warrant (%v)", truncate(fn, 64), names)
	}
	var list []string
	if err := setup.DecodeStrict("args", []byte(args), &list); err != nil {
		return nil, err
	}
	if len(list) > MaxArgs {
		return nil, ccerr.Invalid("args", "at most %d arguments", MaxArgs)
	}
	rctx, err := Check(ctx, raw, verify)
	if err != nil {
		return nil, err
	}
	v, err := read(rctx, list)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("warrant: %s: the result cannot be encoded: %w", fn, err)
	}
	return b, nil
}

// Want checks that a read got n arguments.
func Want(fn string, args []string, n int) error {
	if len(args) != n {
		return ccerr.Invalid("args", "%s takes %d arguments, got %d", fn, n, len(args))
	}
	return nil
}

// readerContext is the query's context with the reader as its creator.
type readerContext struct {
	chaincode.TransactionContext
	id readerIdentity
}

func (r *readerContext) GetClientIdentity() chaincode.ClientIdentity { return r.id }

// readerIdentity is a validated certificate as a ClientIdentity.
type readerIdentity struct{ id *identity.Identity }

func (r readerIdentity) GetID() (string, error)    { return r.id.ID(), nil }
func (r readerIdentity) GetMSPID() (string, error) { return r.id.MSPID(), nil }
func (r readerIdentity) GetAttributeValue(name string) (string, bool, error) {
	v, ok := r.id.Attribute(name)
	return v, ok, nil
}
func (r readerIdentity) AssertAttributeValue(name, value string) error {
	if v, ok := r.id.Attribute(name); !ok || v != value {
		return fmt.Errorf("attribute %s is not %q", name, value)
	}
	return nil
}
func (r readerIdentity) GetX509Certificate() (*x509.Certificate, error) {
	return r.id.Certificate(), nil
}
func (r readerIdentity) GetRole() identity.Role { return r.id.Role() }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
