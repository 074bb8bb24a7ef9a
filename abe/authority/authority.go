// Package authority is the attribute authority (AA): it holds the ABE master
// key, the tag key and an ECDSA P-256 signing key, and for each user issues,
// in one step, an ABE user key and a signed tag credential for the same
// attribute set and epoch.
//
// Epochs make keys expire and revocation work going forward. Every user key
// carries the epoch attribute "epoch=<e>" of the epoch it was issued in, and
// every record policy requires the epoch it was encrypted in (HidePolicy adds
// it to the low level, so every level requires it). When the AA rotates to
// epoch e+1 it re-issues keys to the users who keep their attributes; a
// revoked user, left without an epoch e+1 key, cannot open any record
// encrypted after the rotation. Records encrypted earlier stay readable with
// the old key: revocation is forward-only, as with any ABE scheme without
// re-encryption.
//
// Blinded key issuance, as in the MSC-CP-ABE paper (the data owner blinds
// g^x and the AA returns D' = g^(x(β+r)/γ)), is deliberately not implemented:
// the AA holds the master key, so it can derive any user's key anyway and
// the blinding protects nothing from it.
package authority

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/medshare/medshare/abe"
	"github.com/medshare/medshare/abe/credential"
	"github.com/medshare/medshare/abe/internal/wire"
	"github.com/medshare/medshare/abe/policy"
	"github.com/medshare/medshare/abe/tag"
)

// ErrInvalid is returned (wrapped) for invalid requests and arguments.
var ErrInvalid = errors.New("authority: invalid argument")

// Authority holds the AA's secrets. It is safe for concurrent use.
type Authority struct {
	scheme abe.Scheme
	pk     *abe.PublicKey
	msk    *abe.MasterKey
	tagKey tag.Key
	schema *tag.Schema
	signer *ecdsa.PrivateKey
}

// New assembles an authority from existing keys. The scheme must match the
// keys' scheme, and the tag key must not be all zero (anyone could compute
// the tags of a known key, and policies would be hidden from no one).
func New(scheme abe.Scheme, pk *abe.PublicKey, msk *abe.MasterKey, tagKey tag.Key, schema *tag.Schema, signer *ecdsa.PrivateKey) (*Authority, error) {
	switch {
	case scheme == nil || pk == nil || msk == nil || schema == nil || signer == nil:
		return nil, fmt.Errorf("%w: nil component", ErrInvalid)
	case tagKey == tag.Key{}:
		return nil, fmt.Errorf("%w: all-zero tag key", ErrInvalid)
	case pk.Scheme() != scheme.Name() || msk.Scheme() != scheme.Name():
		return nil, fmt.Errorf("%w: keys are for %s/%s, scheme is %s", ErrInvalid, pk.Scheme(), msk.Scheme(), scheme.Name())
	case signer.Curve != elliptic.P256():
		return nil, fmt.Errorf("%w: signing key is not ECDSA P-256", ErrInvalid)
	}
	return &Authority{scheme, pk, msk, tagKey, schema, signer}, nil
}

// Setup creates a new authority: ABE keys for scheme, a tag key and an
// ECDSA P-256 signing key. (Since Go 1.26 crypto/ecdsa always uses its own
// secure randomness for key generation; rand feeds everything else.)
func Setup(rand io.Reader, scheme abe.Scheme, schema *tag.Schema) (*Authority, error) {
	if rand == nil || scheme == nil || schema == nil {
		return nil, fmt.Errorf("%w: nil random source, scheme or schema", ErrInvalid)
	}
	pk, msk, err := scheme.Setup(rand)
	if err != nil {
		return nil, err
	}
	tk, err := tag.NewKey(rand)
	if err != nil {
		return nil, err
	}
	signer, err := ecdsa.GenerateKey(elliptic.P256(), rand)
	if err != nil {
		return nil, fmt.Errorf("authority: signing key: %w", err)
	}
	return New(scheme, pk, msk, tk, schema, signer)
}

// PublicKey returns the ABE public key, which data owners encrypt with.
func (a *Authority) PublicKey() *abe.PublicKey { return a.pk }

// VerifyKey returns the public half of the credential signing key, which the
// P-TL contract verifies disclosures with.
func (a *Authority) VerifyKey() *ecdsa.PublicKey { return &a.signer.PublicKey }

// TagKey returns the tag key. Share it only with data owners (who hide
// policies); whoever holds it can map every tag back to its attribute.
func (a *Authority) TagKey() tag.Key { return a.tagKey }

// Schema returns the attribute schema.
func (a *Authority) Schema() *tag.Schema { return a.schema }

// Scheme returns the ABE scheme.
func (a *Authority) Scheme() abe.Scheme { return a.scheme }

// Request asks for a user key and credential.
type Request struct {
	// Subject is the PKIX DER encoding of the user's ECDSA P-256 public key.
	Subject []byte
	// Attributes are the user's attributes (ordered ones with their level).
	Attributes []tag.Attribute
	// Epoch is the epoch the key and credential are for.
	Epoch uint64
	// NotBefore and NotAfter bound the credential's validity.
	NotBefore, NotAfter time.Time
}

// Grant is what the user receives: the ABE key and the credential wallet,
// for the same tags.
type Grant struct {
	// Epoch is the epoch the key and credential were issued for.
	Epoch uint64
	// Tags are the certified tags, in the order of Authority.Attributes
	// (sorted canonical attributes, then the epoch), so a user who knows its
	// attributes can tell which tag is which.
	Tags []tag.Tag
	// Key is the ABE user key.
	Key *abe.UserKey
	// Wallet holds the credential and the salts for selective disclosure.
	Wallet *credential.Wallet
}

// Attributes returns the canonical attribute strings a request expands to,
// epoch included.
func (a *Authority) Attributes(req Request) ([]string, error) {
	attrs, err := a.schema.Expand(req.Attributes...)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return append(attrs, tag.Epoch(req.Epoch)), nil
}

// Issue expands the request's attributes with the schema, adds the epoch,
// maps everything to tags and issues the ABE key and the credential.
func (a *Authority) Issue(rand io.Reader, req Request) (*Grant, error) {
	attrs, err := a.Attributes(req)
	if err != nil {
		return nil, err
	}
	if len(attrs) > credential.MaxTags {
		return nil, fmt.Errorf("%w: %d attributes, a credential holds at most %d", ErrInvalid, len(attrs), credential.MaxTags)
	}
	tags := a.tagKey.Tags(attrs)
	uk, err := a.scheme.KeyGen(rand, a.msk, tags)
	if err != nil {
		return nil, err
	}
	w, err := credential.Issue(rand, a.signer, req.Subject, req.Epoch, req.NotBefore, req.NotAfter, tags)
	if err != nil {
		return nil, err
	}
	return &Grant{Epoch: req.Epoch, Tags: tags, Key: uk, Wallet: w}, nil
}

// HidePolicy prepares a data owner's record policy for encryption and for
// the ledger: it checks every leaf against the schema, adds "epoch = e" to
// the low level (so every level requires the current epoch) and replaces
// every leaf with its tag. It refuses the all-zero tag key.
func HidePolicy(rp *policy.Record, schema *tag.Schema, tk tag.Key, epoch uint64) (*policy.Record, error) {
	if rp == nil || schema == nil {
		return nil, fmt.Errorf("%w: nil policy or schema", ErrInvalid)
	}
	if tk == (tag.Key{}) {
		return nil, fmt.Errorf("%w: all-zero tag key", ErrInvalid)
	}
	if err := rp.Validate(schema); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	ep, err := policy.Leaf(tag.Epoch(epoch))
	if err != nil {
		return nil, err
	}
	withEpoch, err := rp.WithExtra(policy.Low, ep)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return withEpoch.Hide(tk), nil
}

// HidePolicy is HidePolicy with the authority's schema and tag key.
func (a *Authority) HidePolicy(rp *policy.Record, epoch uint64) (*policy.Record, error) {
	return HidePolicy(rp, a.schema, a.tagKey, epoch)
}

// State format, version 1 (secret!):
//
//	0x01 pk:len32 msk:len32 tagkey[32] signer-pkcs8:len32
const stateVersion = 0x01

// MarshalBinary encodes the authority's keys (not the schema). The result
// contains every secret of the system: store it encrypted.
func (a *Authority) MarshalBinary() ([]byte, error) {
	pkb, err := a.pk.MarshalBinary()
	if err != nil {
		return nil, err
	}
	mskb, err := a.msk.MarshalBinary()
	if err != nil {
		return nil, err
	}
	sk, err := x509.MarshalPKCS8PrivateKey(a.signer)
	if err != nil {
		return nil, err
	}
	b := []byte{stateVersion}
	b = wire.AppendVarBytes32(b, pkb)
	b = wire.AppendVarBytes32(b, mskb)
	b = append(b, a.tagKey[:]...)
	return wire.AppendVarBytes32(b, sk), nil
}

// Unmarshal restores an authority encoded by MarshalBinary, with the given
// schema; the scheme is the one the keys were made for.
func Unmarshal(b []byte, schema *tag.Schema, opts ...abe.Option) (*Authority, error) {
	r := wire.NewReader(b)
	if v := r.U8(); r.Err() == nil && v != stateVersion {
		return nil, fmt.Errorf("%w: unknown state version %d", ErrInvalid, v)
	}
	pkb := r.VarBytes32(1 << 20)
	mskb := r.VarBytes32(1 << 20)
	var tk tag.Key
	copy(tk[:], r.Bytes(tag.KeySize))
	skb := r.VarBytes32(1 << 12)
	if err := r.Done(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	pk, err := abe.ParsePublicKey(pkb)
	if err != nil {
		return nil, err
	}
	msk, err := abe.ParseMasterKey(mskb)
	if err != nil {
		return nil, err
	}
	k, err := x509.ParsePKCS8PrivateKey(skb)
	if err != nil {
		return nil, fmt.Errorf("%w: signing key: %w", ErrInvalid, err)
	}
	signer, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%w: signing key is not ECDSA", ErrInvalid)
	}
	scheme, err := abe.New(msk.Scheme(), opts...)
	if err != nil {
		return nil, err
	}
	return New(scheme, pk, msk, tk, schema, signer)
}
