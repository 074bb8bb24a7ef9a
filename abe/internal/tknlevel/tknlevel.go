// Package tknlevel puts circl's tkn20 (the IND-CCA2 CP-ABE of Tomida,
// Kawahara and Nishimaki, PKC 2020, with the Boneh–Katz transform) behind the
// three-level KEM interface: one tkn20 ciphertext per level, each encrypting
// a fresh 32-byte seed under the full predicate of its level
// (low: L, medium: L∧M, high: L∧M∧H).
//
// Attributes are tags: a user key holds the tkn20 attribute "t<hex tag>"
// with value "1", and a leaf becomes "t<hex tag>: 1", so tkn20 ciphertexts,
// which carry their policy in clear, show tags only.
//
// tkn20's policy language has AND and OR but no thresholds; a k-of-n gate
// with 1 < k < n is expanded into the OR of all k-subsets, which is refused
// above MaxExpandedLeaves leaves.
package tknlevel

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/cloudflare/circl/abe/cpabe/tkn20"

	"github.com/medshare/medshare/abe/internal/wire"
	"github.com/medshare/medshare/abe/policy"
	"github.com/medshare/medshare/abe/tag"
)

// SeedSize is the size of the per-level seed each tkn20 ciphertext carries.
const SeedSize = 32

// Limits.
const (
	// MaxExpandedLeaves bounds a level's policy after threshold expansion.
	MaxExpandedLeaves = 1024
	// MaxKeyAttrs is the largest number of attributes in a user key.
	MaxKeyAttrs = 256
	// MaxCiphertextLen bounds one tkn20 ciphertext.
	MaxCiphertextLen = 4 << 20
	// MaxKeyLen bounds an encoded tkn20 attribute key.
	MaxKeyLen = 4 << 20
	// MaxPublicKeyLen bounds an encoded tkn20 public key.
	MaxPublicKeyLen = 64 << 10
)

var (
	// ErrMalformed is returned (wrapped) for invalid encodings.
	ErrMalformed = errors.New("tkn20: malformed encoding")
	// ErrNotSatisfied: the key's tags do not satisfy the level.
	ErrNotSatisfied = errors.New("tkn20: attributes do not satisfy the level")
	// ErrNotHidden: the record policy still has attribute names as leaves.
	ErrNotHidden = errors.New("tkn20: policy leaves must be tags (hide the policy first)")
	// ErrTooComplex: threshold expansion exceeds MaxExpandedLeaves.
	ErrTooComplex = errors.New("tkn20: policy too complex after threshold expansion")
	// ErrInvalidKey: a key is missing, empty, oversized or has repeated tags.
	ErrInvalidKey = errors.New("tkn20: invalid key")
)

// NotSatisfiedError says which level a key does not satisfy.
type NotSatisfiedError struct{ Level policy.Level }

// Error implements error.
func (e *NotSatisfiedError) Error() string {
	return fmt.Sprintf("tkn20: attributes do not satisfy level %s", e.Level)
}

// Is makes errors.Is(err, ErrNotSatisfied) hold.
func (e *NotSatisfiedError) Is(target error) bool { return target == ErrNotSatisfied }

// PublicKey wraps the tkn20 public key.
type PublicKey struct{ pk tkn20.PublicKey }

// MasterKey wraps the tkn20 system secret key.
type MasterKey struct{ msk tkn20.SystemSecretKey }

// UserKey is a tkn20 attribute key and the tags it was issued for.
type UserKey struct {
	tags []tag.Tag // sorted, distinct
	ak   tkn20.AttributeKey
}

// Tags returns the key's tags in ascending order.
func (k *UserKey) Tags() []tag.Tag { return slices.Clone(k.tags) }

// Header holds the hidden record policy and one tkn20 ciphertext per level.
type Header struct {
	policy *policy.Record
	cts    [policy.NumLevels][]byte
}

// Policy returns the hidden record policy.
func (h *Header) Policy() *policy.Record { return h.policy }

// guard turns a panic inside circl into an error: inputs here may be
// attacker-controlled and library code must not crash its caller.
func guard(err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("%w: tkn20 panicked: %v", ErrMalformed, r)
	}
}

// Setup generates a tkn20 public key and master key.
func Setup(rand io.Reader) (pk *PublicKey, msk *MasterKey, err error) {
	if rand == nil {
		return nil, nil, errors.New("tkn20: nil random source")
	}
	p, m, err := tkn20.Setup(rand)
	if err != nil {
		return nil, nil, fmt.Errorf("tkn20: setup: %w", err)
	}
	return &PublicKey{p}, &MasterKey{m}, nil
}

func label(t tag.Tag) string { return "t" + t.String() }

// KeyGen issues a tkn20 attribute key for tags.
func KeyGen(rand io.Reader, msk *MasterKey, tags []tag.Tag) (*UserKey, error) {
	if rand == nil {
		return nil, errors.New("tkn20: nil random source")
	}
	if msk == nil {
		return nil, fmt.Errorf("%w: nil master key", ErrInvalidKey)
	}
	if len(tags) == 0 || len(tags) > MaxKeyAttrs {
		return nil, fmt.Errorf("%w: %d attributes, want 1..%d", ErrInvalidKey, len(tags), MaxKeyAttrs)
	}
	sorted := slices.Clone(tags)
	slices.SortFunc(sorted, tag.Tag.Compare)
	m := make(map[string]string, len(sorted))
	for i, t := range sorted {
		if i > 0 && sorted[i-1] == t {
			return nil, fmt.Errorf("%w: tag %s repeated", ErrInvalidKey, t)
		}
		m[label(t)] = "1"
	}
	var attrs tkn20.Attributes
	attrs.FromMap(m)
	ak, err := msk.msk.KeyGen(rand, attrs)
	if err != nil {
		return nil, fmt.Errorf("tkn20: keygen: %w", err)
	}
	return &UserKey{tags: sorted, ak: ak}, nil
}

// dsl renders a hidden tree in tkn20's policy language.
func dsl(t *policy.Tree) (string, error) {
	var sb strings.Builder
	leaves := 0
	var walk func(n *policy.Node) error
	walk = func(n *policy.Node) error {
		if n.IsLeaf() {
			tg, err := tag.ParseTag(n.Leaf())
			if err != nil {
				return ErrNotHidden
			}
			leaves++
			if leaves > MaxExpandedLeaves {
				return ErrTooComplex
			}
			sb.WriteString(label(tg))
			sb.WriteString(": 1")
			return nil
		}
		k, num := n.Threshold(), n.NumChildren()
		op := " and "
		if k == 1 {
			op = " or "
		}
		if k == 1 || k == num {
			sb.WriteString("(")
			for i := range num {
				if i > 0 {
					sb.WriteString(op)
				}
				if err := walk(n.Child(i)); err != nil {
					return err
				}
			}
			sb.WriteString(")")
			return nil
		}
		// k of n, 1 < k < n: OR over all k-subsets.
		sb.WriteString("(")
		first := true
		var err error
		subsets(num, k, func(idx []int) bool {
			if !first {
				sb.WriteString(" or ")
			}
			first = false
			sb.WriteString("(")
			for j, i := range idx {
				if j > 0 {
					sb.WriteString(" and ")
				}
				if err = walk(n.Child(i)); err != nil {
					return false
				}
			}
			sb.WriteString(")")
			return true
		})
		if err != nil {
			return err
		}
		sb.WriteString(")")
		return nil
	}
	if err := walk(t.Root()); err != nil {
		return "", err
	}
	return sb.String(), nil
}

// subsets calls f with every k-subset of 0..n-1 in lexicographic order until
// f returns false.
func subsets(n, k int, f func([]int) bool) {
	idx := make([]int, k)
	for i := range idx {
		idx[i] = i
	}
	for {
		if !f(idx) {
			return
		}
		i := k - 1
		for i >= 0 && idx[i] == n-k+i {
			i--
		}
		if i < 0 {
			return
		}
		idx[i]++
		for j := i + 1; j < k; j++ {
			idx[j] = idx[j-1] + 1
		}
	}
}

// Encapsulate encrypts a fresh seed per level under that level's full
// predicate and returns the header and the three seeds.
func Encapsulate(rand io.Reader, pk *PublicKey, rp *policy.Record) (*Header, [policy.NumLevels][]byte, error) {
	var seeds [policy.NumLevels][]byte
	if rand == nil {
		return nil, seeds, errors.New("tkn20: nil random source")
	}
	if pk == nil || rp == nil {
		return nil, seeds, errors.New("tkn20: nil public key or policy")
	}
	if !rp.Hidden() {
		return nil, seeds, ErrNotHidden
	}
	hdr := &Header{policy: rp}
	for _, l := range policy.Levels {
		src, err := dsl(rp.Level(l))
		if err != nil {
			return nil, seeds, err
		}
		var pol tkn20.Policy
		if err := pol.FromString(src); err != nil {
			return nil, seeds, fmt.Errorf("tkn20: policy: %w", err)
		}
		seeds[l] = make([]byte, SeedSize)
		if _, err := io.ReadFull(rand, seeds[l]); err != nil {
			return nil, seeds, fmt.Errorf("tkn20: reading randomness: %w", err)
		}
		ct, err := pk.pk.Encrypt(rand, pol, seeds[l])
		if err != nil {
			return nil, seeds, fmt.Errorf("tkn20: encrypt: %w", err)
		}
		hdr.cts[l] = ct
	}
	return hdr, seeds, nil
}

func (k *UserKey) has(leaf string) bool {
	t, err := tag.ParseTag(leaf)
	if err != nil {
		return false
	}
	_, found := slices.BinarySearchFunc(k.tags, t, tag.Tag.Compare)
	return found
}

// Decapsulate returns the seed of level l.
func Decapsulate(uk *UserKey, hdr *Header, l policy.Level) (seed []byte, err error) {
	if uk == nil || hdr == nil || hdr.policy == nil {
		return nil, errors.New("tkn20: nil key or header")
	}
	if !l.Valid() {
		return nil, fmt.Errorf("%w: %d", policy.ErrInvalidLevel, uint8(l))
	}
	if !hdr.policy.Satisfied(l, uk.has) {
		return nil, &NotSatisfiedError{Level: l}
	}
	defer guard(&err)
	seed, err = uk.ak.Decrypt(hdr.cts[l])
	if err != nil {
		return nil, fmt.Errorf("tkn20: decrypt level %s: %w", l, err)
	}
	if len(seed) != SeedSize {
		return nil, fmt.Errorf("%w: level %s seed of %d bytes", ErrMalformed, l, len(seed))
	}
	return seed, nil
}

// DecapsulateAll returns the seeds of every level the key satisfies, lowest
// first, or a *NotSatisfiedError for Low.
func DecapsulateAll(uk *UserKey, hdr *Header) ([][]byte, error) {
	if uk == nil || hdr == nil || hdr.policy == nil {
		return nil, errors.New("tkn20: nil key or header")
	}
	top, ok := hdr.policy.Highest(uk.has)
	if !ok {
		return nil, &NotSatisfiedError{Level: policy.Low}
	}
	var out [][]byte
	for l := policy.Low; l <= top; l++ {
		s, err := Decapsulate(uk, hdr, l)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// --- encodings (bodies; the abe package adds the envelope) ---
//
//	public key  tkn20 public key bytes
//	master key  tkn20 system secret key bytes
//	user key    n:u16 tag[16]{n} (strictly increasing) len:u32 tkn20-attribute-key
//	header      len:u32 record-policy (len:u32 tkn20-ciphertext){3}

// MarshalBinary encodes the public key.
func (pk *PublicKey) MarshalBinary() ([]byte, error) { return pk.pk.MarshalBinary() }

// UnmarshalBinary decodes a public key.
func (pk *PublicKey) UnmarshalBinary(b []byte) (err error) {
	if len(b) > MaxPublicKeyLen {
		return fmt.Errorf("%w: public key of %d bytes", ErrMalformed, len(b))
	}
	defer guard(&err)
	var p tkn20.PublicKey
	if err := p.UnmarshalBinary(b); err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	pk.pk = p
	return nil
}

// Equal reports whether two public keys are equal.
func (pk *PublicKey) Equal(o *PublicKey) bool { return pk.pk.Equal(&o.pk) }

// MarshalBinary encodes the master key.
func (msk *MasterKey) MarshalBinary() ([]byte, error) { return msk.msk.MarshalBinary() }

// UnmarshalBinary decodes a master key.
func (msk *MasterKey) UnmarshalBinary(b []byte) (err error) {
	if len(b) > MaxPublicKeyLen {
		return fmt.Errorf("%w: master key of %d bytes", ErrMalformed, len(b))
	}
	defer guard(&err)
	var m tkn20.SystemSecretKey
	if err := m.UnmarshalBinary(b); err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	msk.msk = m
	return nil
}

// Equal reports whether two master keys are equal.
func (msk *MasterKey) Equal(o *MasterKey) bool { return msk.msk.Equal(&o.msk) }

// MarshalBinary encodes the user key.
func (k *UserKey) MarshalBinary() ([]byte, error) {
	ak, err := k.ak.MarshalBinary()
	if err != nil {
		return nil, err
	}
	b := wire.AppendU16(nil, uint16(len(k.tags)))
	for _, t := range k.tags {
		b = append(b, t[:]...)
	}
	return wire.AppendVarBytes32(b, ak), nil
}

// UnmarshalBinary decodes a user key.
func (k *UserKey) UnmarshalBinary(b []byte) (err error) {
	r := wire.NewReader(b)
	n := int(r.U16())
	if r.Err() == nil && (n < 1 || n > MaxKeyAttrs) {
		r.Fail(fmt.Errorf("%d attributes", n))
	}
	var out UserKey
	for i := 0; i < n && r.Err() == nil; i++ {
		raw := r.Bytes(tag.Size)
		if raw == nil {
			break
		}
		t := tag.Tag(raw)
		if i > 0 && out.tags[i-1].Compare(t) >= 0 {
			r.Fail(errors.New("tags not strictly increasing"))
		}
		out.tags = append(out.tags, t)
	}
	akb := r.VarBytes32(MaxKeyLen)
	if err := r.Done(); err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	defer guard(&err)
	if err := out.ak.UnmarshalBinary(akb); err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	*k = out
	return nil
}

// Equal reports whether two user keys are equal.
func (k *UserKey) Equal(o *UserKey) bool { return slices.Equal(k.tags, o.tags) && k.ak.Equal(&o.ak) }

// MarshalBinary encodes the header.
func (h *Header) MarshalBinary() ([]byte, error) {
	pb, err := h.policy.MarshalBinary()
	if err != nil {
		return nil, err
	}
	b := wire.AppendVarBytes32(nil, pb)
	for _, ct := range h.cts {
		b = wire.AppendVarBytes32(b, ct)
	}
	return b, nil
}

// UnmarshalHeader decodes a header and checks that each tkn20 ciphertext
// carries exactly the predicate of its level.
func UnmarshalHeader(b []byte) (hdr *Header, err error) {
	r := wire.NewReader(b)
	pb := r.VarBytes32(3 * policy.MaxEncodedLen)
	var cts [policy.NumLevels][]byte
	for i := range cts {
		cts[i] = r.VarBytes32(MaxCiphertextLen)
	}
	if err := r.Done(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	rp, err := policy.UnmarshalRecord(pb)
	if err != nil {
		return nil, fmt.Errorf("%w: policy: %w", ErrMalformed, err)
	}
	if !rp.Hidden() {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, ErrNotHidden)
	}
	defer guard(&err)
	hdr = &Header{policy: rp}
	for _, l := range policy.Levels {
		src, err := dsl(rp.Level(l))
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
		}
		var want, got tkn20.Policy
		if err := want.FromString(src); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
		}
		if err := got.ExtractFromCiphertext(cts[l]); err != nil {
			return nil, fmt.Errorf("%w: level %s: %w", ErrMalformed, l, err)
		}
		if !got.Equal(&want) {
			return nil, fmt.Errorf("%w: level %s ciphertext is not under the level's policy", ErrMalformed, l)
		}
		hdr.cts[l] = slices.Clone(cts[l])
	}
	return hdr, nil
}

// Equal reports whether two headers are equal.
func (h *Header) Equal(o *Header) bool {
	if !h.policy.Equal(o.policy) {
		return false
	}
	for i := range h.cts {
		if string(h.cts[i]) != string(o.cts[i]) {
			return false
		}
	}
	return true
}
