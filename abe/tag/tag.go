// Package tag maps attributes to opaque tags so that policies, ciphertexts and
// credentials never carry attribute names in clear.
//
// The attribute authority (AA) holds a secret tag [Key]. Every canonical
// attribute string (see [Condition] and [Schema]) is mapped to a 16-byte
// [Tag], the truncated HMAC-SHA-256 of the attribute under the tag key.
// Ciphertext leaves, hidden policies on the ledger and attribute credentials
// carry tags only; a party without the tag key cannot tell which attribute a
// tag stands for, but it can see when two tags are equal (tags are
// deterministic, so equal attributes are linkable across records).
//
// Ordered attributes (identity level, trust level, …) are represented as
// monotone sets: a user at trust level 3 holds "trust>=1", "trust>=2" and
// "trust>=3", so that a policy "trust >= 2" is a single leaf and higher
// levels include the lower ones.
package tag

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
)

// KeySize is the length in bytes of a tag key.
const KeySize = 32

// Size is the length in bytes of a tag.
const Size = 16

// domain separates tag computation from every other use of HMAC-SHA-256 with
// the same key.
const domain = "medshare/abe/tag/v1\x00"

// ErrMalformedTag is returned (wrapped) by [ParseTag] for strings that are not
// exactly 32 lowercase hexadecimal characters.
var ErrMalformedTag = errors.New("tag: malformed tag")

// Key is the attribute authority's secret tag key. Only holders of the key
// (the AA and the data owners who hide policies) can map attributes to tags.
type Key [KeySize]byte

// NewKey draws a fresh tag key from rand.
func NewKey(rand io.Reader) (Key, error) {
	var k Key
	if rand == nil {
		return k, errors.New("tag: nil random source")
	}
	if _, err := io.ReadFull(rand, k[:]); err != nil {
		return Key{}, fmt.Errorf("tag: reading random key: %w", err)
	}
	return k, nil
}

// Tag returns the tag of the canonical attribute string attr: the first 16
// bytes of HMAC-SHA-256(k, "medshare/abe/tag/v1" ‖ 0x00 ‖ attr).
//
// attr must already be canonical (see [Eq], [AtLeast], [Epoch] and
// [Schema.Expand]); Tag does not normalise it, so "Trust>=2" and "trust>=2"
// give different tags.
func (k Key) Tag(attr string) Tag {
	m := hmac.New(sha256.New, k[:])
	m.Write([]byte(domain))
	m.Write([]byte(attr))
	var sum [sha256.Size]byte
	var t Tag
	copy(t[:], m.Sum(sum[:0]))
	return t
}

// Tags maps every canonical attribute string in attrs to its tag, in order.
func (k Key) Tags(attrs []string) []Tag {
	out := make([]Tag, len(attrs))
	for i, a := range attrs {
		out[i] = k.Tag(a)
	}
	return out
}

// Tag is the opaque, deterministic stand-in for one canonical attribute.
type Tag [Size]byte

// String returns the tag as 32 lowercase hexadecimal characters. This is the
// form used as a leaf of a hidden policy tree.
func (t Tag) String() string { return hex.EncodeToString(t[:]) }

// MarshalText implements [encoding.TextMarshaler] with the [Tag.String] form.
func (t Tag) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// UnmarshalText implements [encoding.TextUnmarshaler]; it accepts exactly the
// [Tag.String] form.
func (t *Tag) UnmarshalText(b []byte) error {
	p, err := ParseTag(string(b))
	if err != nil {
		return err
	}
	*t = p
	return nil
}

// Compare orders tags bytewise; it returns -1, 0 or +1.
func (t Tag) Compare(u Tag) int {
	for i := range t {
		switch {
		case t[i] < u[i]:
			return -1
		case t[i] > u[i]:
			return 1
		}
	}
	return 0
}

// ParseTag parses the [Tag.String] form: exactly 32 lowercase hexadecimal
// characters. Uppercase is rejected so that every tag has one spelling.
func ParseTag(s string) (Tag, error) {
	var t Tag
	if len(s) != 2*Size {
		return t, fmt.Errorf("%w: length %d, want %d hex characters", ErrMalformedTag, len(s), 2*Size)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return t, fmt.Errorf("%w: invalid character %q at offset %d (want lowercase hex)", ErrMalformedTag, c, i)
		}
	}
	if _, err := hex.Decode(t[:], []byte(s)); err != nil {
		return Tag{}, fmt.Errorf("%w: %v", ErrMalformedTag, err)
	}
	return t, nil
}

// IsTagString reports whether s is in the [Tag.String] form. Canonical
// attribute strings always contain '=' and are never tag strings.
func IsTagString(s string) bool {
	_, err := ParseTag(s)
	return err == nil
}
