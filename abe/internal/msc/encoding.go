package msc

import (
	"errors"
	"fmt"

	bls "github.com/cloudflare/circl/ecc/bls12381"
	"github.com/cloudflare/circl/ecc/bls12381/ff"

	"github.com/medshare/medshare/abe/internal/wire"
	"github.com/medshare/medshare/abe/policy"
	"github.com/medshare/medshare/abe/tag"
)

// ErrMalformed is returned (wrapped) by every decoder for truncated,
// oversized or otherwise invalid input, including points that are not in
// their group or are the identity.
var ErrMalformed = errors.New("msc: malformed encoding")

// Encodings (bodies only; the abe package adds the versioned envelope).
// Points are compressed (G1: 48 bytes, G2: 96 bytes), GT is 576 bytes,
// scalars 32 bytes, integers big-endian:
//
//	public key  h:G2 Y:GT
//	master key  α:Zr β:Zr
//	user key    D:G1 n:u16 (tag[16] D_j:G1 D'_j:G2){n}   tags strictly increasing
//	header      len:u32 record-policy (C_ℓ:G2 (C_y:G2 C'_y:G1){leaves of P_ℓ}){levels with conditions of their own}
//
// The header's levels are those with conditions of their own, low first;
// the leaves of each are those of its full predicate P_ℓ
// (policy.Record.Level) in preorder.
const (
	g1Len = bls.G1SizeCompressed
	g2Len = bls.G2SizeCompressed
	gtLen = bls.GtSize
	// PublicKeySize is the size of an encoded public key body.
	PublicKeySize = g2Len + gtLen
	// MasterKeySize is the size of an encoded master key body.
	MasterKeySize = 2 * bls.ScalarSize
	keyAttrSize   = tag.Size + g1Len + g2Len
	leafSize      = g2Len + g1Len
	// MaxHeaderLen bounds an encoded header.
	// Each level repeats the leaves of the levels below it, so a header
	// holds at most NumLevels·MaxLeaves leaves.
	MaxHeaderLen = 4 + 3*policy.MaxEncodedLen + policy.NumLevels*(g2Len+policy.MaxLeaves*leafSize)
	// MaxUserKeyLen bounds an encoded user key.
	MaxUserKeyLen = g1Len + 2 + MaxKeyAttrs*keyAttrSize
)

// decodeG1 decodes a compressed point, which must be in G1 and not the
// identity (SetBytes checks the curve equation and the subgroup).
func decodeG1(b []byte, p *bls.G1) error {
	if err := p.SetBytes(b); err != nil {
		return fmt.Errorf("invalid G1 point: %w", err)
	}
	if p.IsIdentity() {
		return errors.New("G1 identity")
	}
	return nil
}

// decodeG2 is decodeG1 for G2.
func decodeG2(b []byte, p *bls.G2) error {
	if err := p.SetBytes(b); err != nil {
		return fmt.Errorf("invalid G2 point: %w", err)
	}
	if p.IsIdentity() {
		return errors.New("G2 identity")
	}
	return nil
}

func readG1(r *wire.Reader, p *bls.G1) {
	if b := r.Bytes(g1Len); b != nil {
		if err := decodeG1(b, p); err != nil {
			r.Fail(err)
		}
	}
}

func readG2(r *wire.Reader, p *bls.G2) {
	if b := r.Bytes(g2Len); b != nil {
		if err := decodeG2(b, p); err != nil {
			r.Fail(err)
		}
	}
}

// pointJob is one point to decode in parallel.
type pointJob struct {
	b  []byte
	g1 *bls.G1
	g2 *bls.G2
}

// decodePoints decodes every job in parallel and returns the first error in
// job order.
func decodePoints(jobs []pointJob) error {
	errs := make([]error, len(jobs))
	parallel(len(jobs), minParallel, func(i int) {
		if j := &jobs[i]; j.g1 != nil {
			errs[i] = decodeG1(j.b, j.g1)
		} else {
			errs[i] = decodeG2(j.b, j.g2)
		}
	})
	for i, err := range errs {
		if err != nil {
			return fmt.Errorf("%w: point %d: %w", ErrMalformed, i, err)
		}
	}
	return nil
}

func readScalar(r *wire.Reader, s *bls.Scalar) {
	b := r.Bytes(bls.ScalarSize)
	if b == nil {
		return
	}
	if err := s.UnmarshalBinary(b); err != nil {
		r.Fail(fmt.Errorf("invalid scalar: %w", err))
		return
	}
	if s.IsZero() == 1 {
		r.Fail(errors.New("zero scalar"))
	}
}

func done(r *wire.Reader) error {
	if err := r.Done(); err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return nil
}

// MarshalBinary encodes the public key body.
func (pk *PublicKey) MarshalBinary() ([]byte, error) {
	y, err := pk.y.MarshalBinary()
	if err != nil {
		return nil, err
	}
	return append(pk.h.BytesCompressed(), y...), nil
}

// UnmarshalBinary decodes a public key body, checking that h is a non-trivial
// G2 point and Y a non-trivial element of the order-r subgroup of GT.
func (pk *PublicKey) UnmarshalBinary(b []byte) error {
	r := wire.NewReader(b)
	var out PublicKey
	readG2(r, &out.h)
	yb := r.Bytes(gtLen)
	if err := done(r); err != nil {
		return err
	}
	var u, ur ff.URoot
	if err := u.UnmarshalBinary(yb); err != nil {
		return fmt.Errorf("%w: Y: %w", ErrMalformed, err)
	}
	ur.Exp(&u, bls.Order())
	if ur.IsIdentity() != 1 || u.IsIdentity() == 1 {
		return fmt.Errorf("%w: Y is not a non-trivial element of GT", ErrMalformed)
	}
	if err := out.y.UnmarshalBinary(yb); err != nil {
		return fmt.Errorf("%w: Y: %w", ErrMalformed, err)
	}
	*pk = out
	return nil
}

// Equal reports whether two public keys are equal.
func (pk *PublicKey) Equal(o *PublicKey) bool { return pk.h.IsEqual(&o.h) && pk.y.IsEqual(&o.y) }

// MarshalBinary encodes the master key body. It is secret.
func (msk *MasterKey) MarshalBinary() ([]byte, error) {
	a, _ := msk.alpha.MarshalBinary()
	b, _ := msk.beta.MarshalBinary()
	return append(a, b...), nil
}

// UnmarshalBinary decodes a master key body (non-zero α and β).
func (msk *MasterKey) UnmarshalBinary(b []byte) error {
	r := wire.NewReader(b)
	var out MasterKey
	readScalar(r, &out.alpha)
	readScalar(r, &out.beta)
	if err := done(r); err != nil {
		return err
	}
	*msk = out
	return nil
}

// Equal reports whether two master keys are equal.
func (msk *MasterKey) Equal(o *MasterKey) bool {
	return msk.alpha.IsEqual(&o.alpha) == 1 && msk.beta.IsEqual(&o.beta) == 1
}

// MarshalBinary encodes the user key body. It is secret.
func (k *UserKey) MarshalBinary() ([]byte, error) {
	if len(k.attrs) == 0 || len(k.attrs) > MaxKeyAttrs {
		return nil, fmt.Errorf("%w: %d attributes", ErrInvalidKey, len(k.attrs))
	}
	b := make([]byte, 0, g1Len+2+len(k.attrs)*keyAttrSize)
	b = append(b, k.d.BytesCompressed()...)
	b = wire.AppendU16(b, uint16(len(k.attrs)))
	for i := range k.attrs {
		a := &k.attrs[i]
		b = append(b, a.t[:]...)
		b = append(b, a.dj.BytesCompressed()...)
		b = append(b, a.dj2.BytesCompressed()...)
	}
	return b, nil
}

// UnmarshalBinary decodes a user key body: 1..MaxKeyAttrs attributes with
// strictly increasing tags, every point valid and non-trivial.
func (k *UserKey) UnmarshalBinary(b []byte) error {
	if len(b) > MaxUserKeyLen {
		return fmt.Errorf("%w: %d bytes, at most %d", ErrMalformed, len(b), MaxUserKeyLen)
	}
	r := wire.NewReader(b)
	var out UserKey
	readG1(r, &out.d)
	n := int(r.U16())
	if r.Err() == nil && (n < 1 || n > MaxKeyAttrs || r.Remaining() != n*keyAttrSize) {
		r.Fail(fmt.Errorf("%d attributes in %d bytes", n, r.Remaining()))
	}
	if err := r.Err(); err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	out.attrs = make([]keyAttr, n)
	jobs := make([]pointJob, 0, 2*n)
	for i := range out.attrs {
		a := &out.attrs[i]
		copy(a.t[:], r.Bytes(tag.Size))
		if i > 0 && out.attrs[i-1].t.Compare(a.t) >= 0 {
			return fmt.Errorf("%w: tags not strictly increasing", ErrMalformed)
		}
		jobs = append(jobs, pointJob{b: r.Bytes(g1Len), g1: &a.dj}, pointJob{b: r.Bytes(g2Len), g2: &a.dj2})
	}
	if err := done(r); err != nil {
		return err
	}
	if err := decodePoints(jobs); err != nil {
		return err
	}
	*k = out
	return nil
}

// Equal reports whether two user keys are equal.
func (k *UserKey) Equal(o *UserKey) bool {
	if !k.d.IsEqual(&o.d) || len(k.attrs) != len(o.attrs) {
		return false
	}
	for i := range k.attrs {
		a, b := &k.attrs[i], &o.attrs[i]
		if a.t != b.t || !a.dj.IsEqual(&b.dj) || !a.dj2.IsEqual(&b.dj2) {
			return false
		}
	}
	return true
}

// MarshalBinary encodes the header.
func (h *Header) MarshalBinary() ([]byte, error) {
	pb, err := h.policy.MarshalBinary()
	if err != nil {
		return nil, err
	}
	b := make([]byte, 0, 4+len(pb)+len(h.leaves)*leafSize+policy.NumLevels*g2Len)
	b = wire.AppendVarBytes32(b, pb)
	for _, l := range policy.Levels {
		lc := h.lvl[l]
		if lc == nil {
			continue
		}
		b = append(b, lc.c.BytesCompressed()...)
		for i := range lc.tree.NumLeaves() {
			y := &h.leaves[lc.offset+i]
			b = append(b, y.c.BytesCompressed()...)
			b = append(b, y.cp.BytesCompressed()...)
		}
	}
	return b, nil
}

// UnmarshalHeader decodes a header. The policy must be hidden; the numbers
// of level and leaf elements follow from it and must match exactly.
func UnmarshalHeader(b []byte) (*Header, error) {
	if len(b) > MaxHeaderLen {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrMalformed, len(b), MaxHeaderLen)
	}
	r := wire.NewReader(b)
	pb := r.VarBytes32(3 * policy.MaxEncodedLen)
	if err := r.Err(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	rp, err := policy.UnmarshalRecord(pb)
	if err != nil {
		return nil, fmt.Errorf("%w: policy: %w", ErrMalformed, err)
	}
	if !rp.Hidden() {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, ErrNotHidden)
	}
	if err := validRecord(rp); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	hdr, err := newHeader(rp)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	want := len(hdr.leaves) * leafSize
	for _, lc := range hdr.lvl {
		if lc != nil {
			want += g2Len
		}
	}
	if r.Remaining() != want {
		return nil, fmt.Errorf("%w: %d bytes of group elements, want %d", ErrMalformed, r.Remaining(), want)
	}
	jobs := make([]pointJob, 0, 2*len(hdr.leaves)+policy.NumLevels)
	for _, l := range policy.Levels {
		lc := hdr.lvl[l]
		if lc == nil {
			continue
		}
		jobs = append(jobs, pointJob{b: r.Bytes(g2Len), g2: &lc.c})
		for i := range lc.tree.NumLeaves() {
			y := &hdr.leaves[lc.offset+i]
			jobs = append(jobs, pointJob{b: r.Bytes(g2Len), g2: &y.c}, pointJob{b: r.Bytes(g1Len), g1: &y.cp})
		}
	}
	if err := done(r); err != nil {
		return nil, err
	}
	if err := decodePoints(jobs); err != nil {
		return nil, err
	}
	return hdr, nil
}

func collectTags(n *policy.Node, out *[]leafCT) error {
	if n.IsLeaf() {
		t, err := tag.ParseTag(n.Leaf())
		if err != nil {
			return ErrNotHidden
		}
		*out = append(*out, leafCT{t: t})
		return nil
	}
	for i := range n.NumChildren() {
		if err := collectTags(n.Child(i), out); err != nil {
			return err
		}
	}
	return nil
}

// Equal reports whether two headers are equal.
func (h *Header) Equal(o *Header) bool {
	if !h.policy.Equal(o.policy) || len(h.leaves) != len(o.leaves) {
		return false
	}
	for i := range h.leaves {
		a, b := &h.leaves[i], &o.leaves[i]
		if a.t != b.t || !a.c.IsEqual(&b.c) || !a.cp.IsEqual(&b.cp) {
			return false
		}
	}
	for i := range h.lvl {
		if (h.lvl[i] == nil) != (o.lvl[i] == nil) || h.lvl[i] != nil && !h.lvl[i].c.IsEqual(&o.lvl[i].c) {
			return false
		}
	}
	return true
}
