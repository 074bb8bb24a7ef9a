package credential

import (
	"crypto/ecdsa"
	"fmt"
	"time"

	"github.com/medshare/medshare/abe/internal/wire"
	"github.com/medshare/medshare/abe/tag"
)

// Proof discloses one tag: its salt, its leaf position and the sibling
// hashes from the leaf up to the root.
type Proof struct {
	Tag   tag.Tag
	Salt  [SaltSize]byte
	Index uint8 // leaf position, 0..MaxTags-1
	Path  [treeDepth][32]byte
}

// Disclosure is what a holder shows a verifier: the signed credential and
// proofs for the disclosed tags only.
type Disclosure struct {
	Credential Credential
	Proofs     []Proof
}

// Verify checks, in this order, that the credential is signed by aa
// (ErrBadSignature), that at lies in its validity window (ErrNotYetValid,
// ErrExpired), and that every proof leads to the signed root with no tag or
// position disclosed twice (ErrBadProof). It returns the disclosed tags in
// disclosure order. Errors wrap the sentinels, for errors.Is.
//
// Verify costs one ECDSA P-256 verification and 7 SHA-256 per disclosed tag;
// it is safe for concurrent use on distinct or shared disclosures.
func (d *Disclosure) Verify(aa *ecdsa.PublicKey, at time.Time) ([]tag.Tag, error) {
	if len(d.Proofs) == 0 || len(d.Proofs) > MaxTags {
		return nil, fmt.Errorf("%w: %d proofs, want 1..%d", ErrBadProof, len(d.Proofs), MaxTags)
	}
	if err := d.Credential.VerifySignature(aa); err != nil {
		return nil, err
	}
	if err := d.Credential.checkWindow(at); err != nil {
		return nil, err
	}
	out := make([]tag.Tag, len(d.Proofs))
	for i := range d.Proofs {
		p := &d.Proofs[i]
		if int(p.Index) >= MaxTags {
			return nil, fmt.Errorf("%w: position %d out of range", ErrBadProof, p.Index)
		}
		for j := range i {
			if d.Proofs[j].Tag == p.Tag || d.Proofs[j].Index == p.Index {
				return nil, fmt.Errorf("%w: tag %s or position %d disclosed twice", ErrBadProof, p.Tag, p.Index)
			}
		}
		if rootFromPath(leafHash(&p.Salt, p.Tag), p.Index, &p.Path) != d.Credential.Root {
			return nil, fmt.Errorf("%w: tag %s", ErrBadProof, p.Tag)
		}
		out[i] = p.Tag
	}
	return out, nil
}

// Binary formats, version 1 (integers big-endian, times as Unix seconds):
//
//	credential = subject_len:u16 subject epoch:u64 not_before:i64 not_after:i64
//	             root[32] sig_len:u8 sig
//	disclosure = 0x01 credential n:u8 (tag[16] salt[32] index:u8 path[6][32]){n}
const (
	disclosureVersion = 0x01
	proofSize         = tag.Size + SaltSize + 1 + treeDepth*32
	// MaxDisclosureLen is the longest encoded disclosure.
	MaxDisclosureLen = 1 + 2 + MaxSubjectLen + 24 + 32 + 1 + MaxSignatureLen + 1 + MaxTags*proofSize
)

func (c *Credential) appendBinary(b []byte) ([]byte, error) {
	if len(c.Subject) == 0 || len(c.Subject) > MaxSubjectLen {
		return nil, fmt.Errorf("%w: subject of %d bytes", ErrInvalid, len(c.Subject))
	}
	if len(c.Signature) == 0 || len(c.Signature) > MaxSignatureLen {
		return nil, fmt.Errorf("%w: signature of %d bytes", ErrInvalid, len(c.Signature))
	}
	b = wire.AppendVarBytes16(b, c.Subject)
	b = wire.AppendU64(b, c.Epoch)
	b = wire.AppendU64(b, uint64(c.NotBefore.Unix()))
	b = wire.AppendU64(b, uint64(c.NotAfter.Unix()))
	b = append(b, c.Root[:]...)
	b = append(b, byte(len(c.Signature)))
	return append(b, c.Signature...), nil
}

// readCredential reads a credential; errors are left in r. Subject and
// Signature are copied out of the input.
func readCredential(r *wire.Reader, c *Credential) {
	subj := r.VarBytes16(MaxSubjectLen)
	c.Epoch = r.U64()
	nb, na := int64(r.U64()), int64(r.U64())
	copy(c.Root[:], r.Bytes(32))
	sig := r.Bytes(int(r.U8()))
	if r.Err() != nil {
		return
	}
	if len(subj) == 0 {
		r.Fail(fmt.Errorf("empty subject"))
		return
	}
	if len(sig) < 8 || len(sig) > MaxSignatureLen {
		r.Fail(fmt.Errorf("signature of %d bytes", len(sig)))
		return
	}
	if nb >= na {
		r.Fail(fmt.Errorf("empty validity window"))
		return
	}
	c.Subject = append([]byte(nil), subj...)
	c.Signature = append([]byte(nil), sig...)
	c.NotBefore, c.NotAfter = time.Unix(nb, 0).UTC(), time.Unix(na, 0).UTC()
}

// MarshalBinary encodes the credential alone (without version byte it is
// the prefix shared by the wallet and disclosure encodings).
func (c *Credential) MarshalBinary() ([]byte, error) {
	return c.appendBinary([]byte{disclosureVersion})
}

// UnmarshalBinary decodes a credential encoded by MarshalBinary.
func (c *Credential) UnmarshalBinary(b []byte) error {
	r := wire.NewReader(b)
	if v := r.U8(); r.Err() == nil && v != disclosureVersion {
		return fmt.Errorf("%w: unknown credential version %d", ErrMalformed, v)
	}
	var out Credential
	readCredential(r, &out)
	if err := r.Done(); err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	*c = out
	return nil
}

// MarshalBinary encodes the disclosure.
func (d *Disclosure) MarshalBinary() ([]byte, error) {
	if len(d.Proofs) == 0 || len(d.Proofs) > MaxTags {
		return nil, fmt.Errorf("%w: %d proofs, want 1..%d", ErrInvalid, len(d.Proofs), MaxTags)
	}
	b := make([]byte, 0, 1+2+len(d.Credential.Subject)+57+len(d.Credential.Signature)+1+len(d.Proofs)*proofSize)
	b = append(b, disclosureVersion)
	b, err := d.Credential.appendBinary(b)
	if err != nil {
		return nil, err
	}
	b = append(b, byte(len(d.Proofs)))
	for i := range d.Proofs {
		p := &d.Proofs[i]
		b = append(b, p.Tag[:]...)
		b = append(b, p.Salt[:]...)
		b = append(b, p.Index)
		for _, h := range p.Path {
			b = append(b, h[:]...)
		}
	}
	return b, nil
}

// UnmarshalBinary decodes a disclosure, replacing d. See UnmarshalDisclosure.
func (d *Disclosure) UnmarshalBinary(b []byte) error {
	u, err := UnmarshalDisclosure(b)
	if err != nil {
		return err
	}
	*d = *u
	return nil
}

// UnmarshalDisclosure decodes a disclosure. It is strict: exact lengths,
// bounded by MaxDisclosureLen, 1..MaxTags proofs, positions in range, and no
// trailing bytes; it never panics. Decoding checks structure only: call
// [Disclosure.Verify].
func UnmarshalDisclosure(b []byte) (*Disclosure, error) {
	if len(b) > MaxDisclosureLen {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrMalformed, len(b), MaxDisclosureLen)
	}
	r := wire.NewReader(b)
	if v := r.U8(); r.Err() == nil && v != disclosureVersion {
		return nil, fmt.Errorf("%w: unknown disclosure version %d", ErrMalformed, v)
	}
	d := &Disclosure{}
	readCredential(r, &d.Credential)
	n := int(r.U8())
	if err := r.Err(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if n < 1 || n > MaxTags {
		return nil, fmt.Errorf("%w: %d proofs, want 1..%d", ErrMalformed, n, MaxTags)
	}
	if r.Remaining() != n*proofSize {
		return nil, fmt.Errorf("%w: %d bytes for %d proofs of %d bytes", ErrMalformed, r.Remaining(), n, proofSize)
	}
	// Every read below is in bounds.
	d.Proofs = make([]Proof, n)
	for i := range d.Proofs {
		p := &d.Proofs[i]
		p.Tag = tag.Tag(r.Bytes(tag.Size))
		p.Salt = [SaltSize]byte(r.Bytes(SaltSize))
		p.Index = r.U8()
		if int(p.Index) >= MaxTags {
			return nil, fmt.Errorf("%w: proof %d: position %d out of range", ErrMalformed, i, p.Index)
		}
		for lvl := range p.Path {
			p.Path[lvl] = [32]byte(r.Bytes(32))
		}
	}
	if err := r.Done(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return d, nil
}
