// Package credential implements the attribute authority's tag credential with
// selective disclosure.
//
// The attribute authority (AA) gives each user, with the attribute key, a
// [Credential]: a Merkle root over the user's salted tag leaves, the user's
// public key (Subject), an epoch and a validity window, signed by the AA with
// ECDSA P-256. The user keeps a [Wallet] holding the credential, every tag
// and its random salt. To prove access the user builds a [Disclosure] that
// reveals only the tags a policy needs, each with its salt and a Merkle
// inclusion proof; the ledger's P-TL contract checks it with
// [Disclosure.Verify] (one ECDSA verification plus a few hashes) and
// evaluates the hidden policy over the disclosed tags.
//
// What a verifier learns: the subject key, the epoch, the validity window,
// the disclosed tags, and nothing about the undisclosed ones — not even how
// many there are, because the tree always has MaxTags leaves (unused leaves
// hold random dummies indistinguishable from salted leaves).
//
// A disclosure is a bearer proof: anyone who sees one can replay it. The
// contract must therefore also check a fresh request signed with the
// subject key (see [Credential.SubjectKey]); this package does not.
package credential

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/big"
	"time"

	"github.com/medshare/medshare/abe/internal/wire"
	"github.com/medshare/medshare/abe/tag"
)

// Limits and sizes.
const (
	// MaxTags is the number of leaves of every credential tree, and so the
	// largest number of tags one credential can certify.
	MaxTags = 1 << treeDepth
	// SaltSize is the size of the random salt of each tag leaf.
	SaltSize = 32
	// MaxSubjectLen bounds the PKIX encoding of the subject key.
	MaxSubjectLen = 256
	// MaxSignatureLen bounds the ASN.1 ECDSA P-256 signature.
	MaxSignatureLen = 72

	treeDepth = 6
)

var (
	// ErrBadSignature: the credential is not signed by the given AA key, or
	// the signature is not in canonical low-S DER form.
	ErrBadSignature = errors.New("credential: bad AA signature")
	// ErrExpired: the verification time is at or after NotAfter.
	ErrExpired = errors.New("credential: expired")
	// ErrNotYetValid: the verification time is before NotBefore.
	ErrNotYetValid = errors.New("credential: not yet valid")
	// ErrBadProof: a disclosed tag's inclusion proof does not lead to the
	// signed root, or a tag or leaf position is disclosed twice.
	ErrBadProof = errors.New("credential: bad inclusion proof")
	// ErrMalformed: an encoding is truncated, oversized, of an unknown
	// version or otherwise not canonical.
	ErrMalformed = errors.New("credential: malformed encoding")
	// ErrNotHeld: a tag asked to be disclosed is not in the wallet.
	ErrNotHeld = errors.New("credential: tag not held")
	// ErrInvalid: invalid arguments to Issue, Disclose or Verify.
	ErrInvalid = errors.New("credential: invalid argument")
)

// Domain-separation prefixes of every hash in this package.
const (
	domainSign  = "medshare/credential/v1/sign\x00"
	domainLeaf  = "medshare/credential/v1/leaf\x00"
	domainNode  = "medshare/credential/v1/node\x00"
	domainDummy = "medshare/credential/v1/dummy\x00"
)

// Credential is the AA-signed part: who it is for, when it is valid and the
// root of the salted tag tree.
type Credential struct {
	// Subject is the PKIX DER encoding of the holder's ECDSA P-256 public key.
	Subject []byte
	// Epoch is the AA epoch the credential was issued in.
	Epoch uint64
	// NotBefore and NotAfter bound the validity window [NotBefore, NotAfter),
	// with second precision (UTC).
	NotBefore, NotAfter time.Time
	// Root is the Merkle root over the MaxTags salted tag and dummy leaves.
	Root [32]byte
	// Signature is the AA's ECDSA P-256 signature (ASN.1 DER, low-S) over
	// SHA-256 of the canonical, domain-separated encoding of the fields above.
	Signature []byte
}

// digest returns SHA-256 of the canonical signed message without allocating.
func (c *Credential) digest() ([32]byte, error) {
	if len(c.Subject) == 0 || len(c.Subject) > MaxSubjectLen {
		return [32]byte{}, fmt.Errorf("%w: subject of %d bytes", ErrInvalid, len(c.Subject))
	}
	var buf [len(domainSign) + 2 + MaxSubjectLen + 8 + 8 + 8 + 32]byte
	b := append(buf[:0], domainSign...)
	b = wire.AppendU16(b, uint16(len(c.Subject)))
	b = append(b, c.Subject...)
	b = wire.AppendU64(b, c.Epoch)
	b = wire.AppendU64(b, uint64(c.NotBefore.Unix()))
	b = wire.AppendU64(b, uint64(c.NotAfter.Unix()))
	b = append(b, c.Root[:]...)
	return sha256.Sum256(b), nil
}

// VerifySignature checks that aa signed c, in canonical low-S DER form.
func (c *Credential) VerifySignature(aa *ecdsa.PublicKey) error {
	if aa == nil || aa.Curve != elliptic.P256() {
		return fmt.Errorf("%w: AA key is not ECDSA P-256", ErrInvalid)
	}
	d, err := c.digest()
	if err != nil {
		return err
	}
	if !canonicalLowS(c.Signature) {
		return fmt.Errorf("%w: signature is not canonical low-S DER", ErrBadSignature)
	}
	if !ecdsa.VerifyASN1(aa, d[:], c.Signature) {
		return ErrBadSignature
	}
	return nil
}

// checkWindow reports whether at lies in [NotBefore, NotAfter).
func (c *Credential) checkWindow(at time.Time) error {
	if at.Before(c.NotBefore) {
		return fmt.Errorf("%w: valid from %s", ErrNotYetValid, c.NotBefore.Format(time.RFC3339))
	}
	if !at.Before(c.NotAfter) {
		return fmt.Errorf("%w: valid until %s", ErrExpired, c.NotAfter.Format(time.RFC3339))
	}
	return nil
}

// SubjectKey parses Subject as an ECDSA P-256 public key.
func (c *Credential) SubjectKey() (*ecdsa.PublicKey, error) { return parseSubject(c.Subject) }

func parseSubject(der []byte) (*ecdsa.PublicKey, error) {
	if len(der) == 0 || len(der) > MaxSubjectLen {
		return nil, fmt.Errorf("%w: subject of %d bytes", ErrInvalid, len(der))
	}
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("%w: subject: %w", ErrInvalid, err)
	}
	ek, ok := k.(*ecdsa.PublicKey)
	if !ok || ek.Curve != elliptic.P256() {
		return nil, fmt.Errorf("%w: subject is not an ECDSA P-256 key", ErrInvalid)
	}
	return ek, nil
}

// Equal reports whether c and o are the same credential.
func (c *Credential) Equal(o *Credential) bool {
	return bytes.Equal(c.Subject, o.Subject) && c.Epoch == o.Epoch &&
		c.NotBefore.Equal(o.NotBefore) && c.NotAfter.Equal(o.NotAfter) &&
		c.Root == o.Root && bytes.Equal(c.Signature, o.Signature)
}

// --- signatures ---

// p256HalfOrder is (n-1)/2 of P-256, big-endian.
var p256HalfOrder = [32]byte{
	0x7f, 0xff, 0xff, 0xff, 0x80, 0x00, 0x00, 0x00, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xde, 0x73, 0x7d, 0x56, 0xd3, 0x8b, 0xcf, 0x42, 0x79, 0xdc, 0xe5, 0x61, 0x7e, 0x31, 0x92, 0xa8,
}

// derInt reads one minimally encoded positive DER INTEGER of at most 33
// bytes, returning its value without leading zero and the rest.
func derInt(b []byte) (v, rest []byte, ok bool) {
	if len(b) < 3 || b[0] != 0x02 {
		return nil, nil, false
	}
	n := int(b[1])
	if n < 1 || n > 33 || len(b) < 2+n {
		return nil, nil, false
	}
	v, rest = b[2:2+n], b[2+n:]
	if v[0]&0x80 != 0 { // negative
		return nil, nil, false
	}
	if v[0] == 0 {
		if n == 1 || v[1]&0x80 == 0 { // zero, or a non-minimal leading zero
			return nil, nil, false
		}
		v = v[1:]
	}
	if len(v) > 32 {
		return nil, nil, false
	}
	return v, rest, true
}

// canonicalLowS reports whether sig is SEQUENCE{INTEGER r, INTEGER s} in
// strict DER with s <= (n-1)/2.
func canonicalLowS(sig []byte) bool {
	if len(sig) < 8 || len(sig) > MaxSignatureLen || sig[0] != 0x30 || int(sig[1]) != len(sig)-2 {
		return false
	}
	_, rest, ok := derInt(sig[2:])
	if !ok {
		return false
	}
	s, rest, ok := derInt(rest)
	if !ok || len(rest) != 0 {
		return false
	}
	var s32 [32]byte
	copy(s32[32-len(s):], s)
	return bytes.Compare(s32[:], p256HalfOrder[:]) <= 0
}

// sign signs d with aa and normalises the signature to low-S.
func sign(rand io.Reader, aa *ecdsa.PrivateKey, d [32]byte) ([]byte, error) {
	sig, err := ecdsa.SignASN1(rand, aa, d[:])
	if err != nil {
		return nil, fmt.Errorf("credential: signing: %w", err)
	}
	if canonicalLowS(sig) {
		return sig, nil
	}
	r, rest, ok1 := derInt(sig[2:])
	s, _, ok2 := derInt(rest)
	if !ok1 || !ok2 {
		return nil, errors.New("credential: signer returned a non-DER signature")
	}
	n := elliptic.P256().Params().N
	sv := new(big.Int).Sub(n, new(big.Int).SetBytes(s))
	out := encodeSig(r, sv.Bytes())
	if !canonicalLowS(out) {
		return nil, errors.New("credential: cannot normalise signature")
	}
	return out, nil
}

func encodeSig(r, s []byte) []byte {
	enc := func(v []byte) []byte {
		if len(v) > 0 && v[0]&0x80 != 0 {
			v = append([]byte{0}, v...)
		}
		return append([]byte{0x02, byte(len(v))}, v...)
	}
	body := append(enc(r), enc(s)...)
	return append([]byte{0x30, byte(len(body))}, body...)
}

// --- Merkle tree ---

func leafHash(salt *[SaltSize]byte, t tag.Tag) [32]byte {
	var buf [len(domainLeaf) + SaltSize + tag.Size]byte
	b := append(buf[:0], domainLeaf...)
	b = append(b, salt[:]...)
	b = append(b, t[:]...)
	return sha256.Sum256(b)
}

func nodeHash(l, r *[32]byte) [32]byte {
	var buf [len(domainNode) + 64]byte
	b := append(buf[:0], domainNode...)
	b = append(b, l[:]...)
	b = append(b, r[:]...)
	return sha256.Sum256(b)
}

func dummyLeaf(seed *[32]byte, i int) [32]byte {
	var buf [len(domainDummy) + 32 + 1]byte
	b := append(buf[:0], domainDummy...)
	b = append(b, seed[:]...)
	b = append(b, byte(i))
	return sha256.Sum256(b)
}

// rootFromPath recomputes the root from a leaf, its position and its path.
func rootFromPath(leaf [32]byte, index uint8, path *[treeDepth][32]byte) [32]byte {
	h := leaf
	for lvl := 0; lvl < treeDepth; lvl++ {
		if index>>lvl&1 == 0 {
			h = nodeHash(&h, &path[lvl])
		} else {
			h = nodeHash(&path[lvl], &h)
		}
	}
	return h
}

// --- Issue ---

// Issue creates a credential for subject (PKIX DER of an ECDSA P-256 key)
// certifying tags, valid in [notBefore, notAfter) (truncated to seconds),
// signed by aa, and returns the holder's wallet. Salts and dummy leaves are
// drawn from rand (since Go 1.26 the ECDSA signature itself always uses the
// system's secure randomness). At least one and at most MaxTags distinct tags
// are required.
func Issue(rand io.Reader, aa *ecdsa.PrivateKey, subject []byte, epoch uint64, notBefore, notAfter time.Time, tags []tag.Tag) (*Wallet, error) {
	if rand == nil {
		return nil, fmt.Errorf("%w: nil random source", ErrInvalid)
	}
	if aa == nil || aa.Curve != elliptic.P256() {
		return nil, fmt.Errorf("%w: AA key is not ECDSA P-256", ErrInvalid)
	}
	if _, err := parseSubject(subject); err != nil {
		return nil, err
	}
	nb, na := time.Unix(notBefore.Unix(), 0).UTC(), time.Unix(notAfter.Unix(), 0).UTC()
	if !nb.Before(na) {
		return nil, fmt.Errorf("%w: empty validity window %s .. %s", ErrInvalid, nb, na)
	}
	if len(tags) == 0 || len(tags) > MaxTags {
		return nil, fmt.Errorf("%w: %d tags, want 1..%d", ErrInvalid, len(tags), MaxTags)
	}
	w := &Wallet{
		cred:  Credential{Subject: bytes.Clone(subject), Epoch: epoch, NotBefore: nb, NotAfter: na},
		tags:  make([]tag.Tag, len(tags)),
		salts: make([][SaltSize]byte, len(tags)),
	}
	for i, t := range tags {
		for _, u := range tags[:i] {
			if t == u {
				return nil, fmt.Errorf("%w: tag %s given twice", ErrInvalid, t)
			}
		}
		w.tags[i] = t
		if _, err := io.ReadFull(rand, w.salts[i][:]); err != nil {
			return nil, fmt.Errorf("credential: reading salt: %w", err)
		}
	}
	if _, err := io.ReadFull(rand, w.seed[:]); err != nil {
		return nil, fmt.Errorf("credential: reading seed: %w", err)
	}
	w.build()
	w.cred.Root = w.levels[treeDepth][0]
	d, err := w.cred.digest()
	if err != nil {
		return nil, err
	}
	if w.cred.Signature, err = sign(rand, aa, d); err != nil {
		return nil, err
	}
	return w, nil
}
