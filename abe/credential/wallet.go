package credential

import (
	"bytes"
	"crypto/ecdsa"
	"fmt"
	"slices"
	"time"

	"github.com/medshare/medshare/abe/internal/wire"
	"github.com/medshare/medshare/abe/tag"
)

// Wallet is what the holder keeps: the credential, every certified tag with
// its salt, and the seed of the dummy leaves. It is secret to the holder (the
// salts are what keep undisclosed tags hidden).
type Wallet struct {
	cred  Credential
	seed  [32]byte
	tags  []tag.Tag
	salts [][SaltSize]byte

	pos    []uint8                   // leaf position of tags[i]
	levels [treeDepth + 1][][32]byte // levels[0]: sorted leaves; levels[treeDepth]: {root}
}

// build computes the sorted leaves, every tag's position and all tree levels.
func (w *Wallet) build() {
	type leaf struct {
		h     [32]byte
		owner int // index into tags, or -1 for a dummy
	}
	ls := make([]leaf, 0, MaxTags)
	for i, t := range w.tags {
		ls = append(ls, leaf{leafHash(&w.salts[i], t), i})
	}
	for i := 0; len(ls) < MaxTags; i++ {
		ls = append(ls, leaf{dummyLeaf(&w.seed, i), -1})
	}
	slices.SortFunc(ls, func(a, b leaf) int { return bytes.Compare(a.h[:], b.h[:]) })
	w.pos = make([]uint8, len(w.tags))
	w.levels[0] = make([][32]byte, MaxTags)
	for i, l := range ls {
		w.levels[0][i] = l.h
		if l.owner >= 0 {
			w.pos[l.owner] = uint8(i)
		}
	}
	for lvl := 1; lvl <= treeDepth; lvl++ {
		prev := w.levels[lvl-1]
		cur := make([][32]byte, len(prev)/2)
		for i := range cur {
			cur[i] = nodeHash(&prev[2*i], &prev[2*i+1])
		}
		w.levels[lvl] = cur
	}
}

// Credential returns a copy of the signed credential.
func (w *Wallet) Credential() Credential {
	c := w.cred
	c.Subject = bytes.Clone(c.Subject)
	c.Signature = bytes.Clone(c.Signature)
	return c
}

// Tags returns the certified tags in issuance order.
func (w *Wallet) Tags() []tag.Tag { return slices.Clone(w.tags) }

// Disclose returns a disclosure revealing exactly tags (each with its salt
// and inclusion proof), in the order given. Every tag must be held and
// appear once.
func (w *Wallet) Disclose(tags []tag.Tag) (*Disclosure, error) {
	if len(tags) == 0 || len(tags) > MaxTags {
		return nil, fmt.Errorf("%w: disclose 1..%d tags, not %d", ErrInvalid, MaxTags, len(tags))
	}
	d := &Disclosure{Credential: w.Credential(), Proofs: make([]Proof, len(tags))}
	for j, t := range tags {
		if slices.Contains(tags[:j], t) {
			return nil, fmt.Errorf("%w: tag %s requested twice", ErrInvalid, t)
		}
		i := slices.Index(w.tags, t)
		if i < 0 {
			return nil, fmt.Errorf("%w: %s", ErrNotHeld, t)
		}
		p := Proof{Tag: t, Salt: w.salts[i], Index: w.pos[i]}
		for lvl := 0; lvl < treeDepth; lvl++ {
			p.Path[lvl] = w.levels[lvl][int(p.Index>>lvl)^1]
		}
		d.Proofs[j] = p
	}
	return d, nil
}

// Verify checks the wallet's credential against the AA key at time at, the
// same way a verifier checks a disclosure of all tags.
func (w *Wallet) Verify(aa *ecdsa.PublicKey, at time.Time) error {
	if err := w.cred.VerifySignature(aa); err != nil {
		return err
	}
	return w.cred.checkWindow(at)
}

// Wallet format, version 1:
//
//	0x01 credential seed[32] n:u8 (tag[16] salt[32]){n}
const walletVersion = 0x01

// MarshalBinary encodes the wallet. The encoding contains the salts: keep it
// secret.
func (w *Wallet) MarshalBinary() ([]byte, error) {
	b := []byte{walletVersion}
	b, err := w.cred.appendBinary(b)
	if err != nil {
		return nil, err
	}
	b = append(b, w.seed[:]...)
	b = append(b, byte(len(w.tags)))
	for i, t := range w.tags {
		b = append(b, t[:]...)
		b = append(b, w.salts[i][:]...)
	}
	return b, nil
}

// UnmarshalBinary decodes a wallet, replacing w. It rebuilds the tree and
// rejects the wallet if the root differs from the credential's.
func (w *Wallet) UnmarshalBinary(b []byte) error {
	u, err := UnmarshalWallet(b)
	if err != nil {
		return err
	}
	*w = *u
	return nil
}

// UnmarshalWallet decodes a wallet encoded by [Wallet.MarshalBinary].
func UnmarshalWallet(b []byte) (*Wallet, error) {
	r := wire.NewReader(b)
	if v := r.U8(); r.Err() == nil && v != walletVersion {
		return nil, fmt.Errorf("%w: unknown wallet version %d", ErrMalformed, v)
	}
	w := &Wallet{}
	readCredential(r, &w.cred)
	copy(w.seed[:], r.Bytes(32))
	n := int(r.U8())
	if err := r.Err(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if n < 1 || n > MaxTags {
		return nil, fmt.Errorf("%w: %d tags, want 1..%d", ErrMalformed, n, MaxTags)
	}
	// From here on every read below is in bounds.
	if r.Remaining() != n*(tag.Size+SaltSize) {
		return nil, fmt.Errorf("%w: %d bytes for %d tags", ErrMalformed, r.Remaining(), n)
	}
	w.tags = make([]tag.Tag, 0, n)
	w.salts = make([][SaltSize]byte, 0, n)
	for range n {
		t := tag.Tag(r.Bytes(tag.Size))
		if slices.Contains(w.tags, t) {
			return nil, fmt.Errorf("%w: tag %s twice", ErrMalformed, t)
		}
		w.tags = append(w.tags, t)
		w.salts = append(w.salts, [SaltSize]byte(r.Bytes(SaltSize)))
	}
	if err := r.Done(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	w.build()
	if w.levels[treeDepth][0] != w.cred.Root {
		return nil, fmt.Errorf("%w: tags and salts do not match the credential root", ErrMalformed)
	}
	return w, nil
}
