// Package abebench measures the ABE schemes against the number of
// attributes: KeyGen, Encrypt of all three levels, and Decrypt of the top
// level, for "msc" and "tkn20" (one tkn20 ciphertext per level), plus the
// sizes of ciphertexts, user keys and public keys. It is used by the
// package's `go test -bench` benchmarks and by [Main], which prints a
// Markdown table and draws the PNG plot in docs/abe.md.
package abebench

import (
	"crypto/rand"
	"fmt"

	"github.com/medshare/medshare/abe"
	"github.com/medshare/medshare/abe/policy"
	"github.com/medshare/medshare/abe/tag"
)

// Payload is the plaintext of each level in the workload: a 32-byte data key,
// as when the gateway wraps per-level AES keys.
var Payload = abe.Levels{make([]byte, 32), make([]byte, 32), make([]byte, 32)}

// RecordID is the record id of the workload.
var RecordID = []byte("bench-record")

// Case is the workload for one scheme and one attribute count n: a user key
// with n attributes and a record policy whose high level is the AND of the
// same n attributes, spread over the levels round-robin (attribute i goes to
// low, medium, high for i mod 3 = 0, 1, 2), so decrypting the top level uses
// all n.
type Case struct {
	Scheme abe.Scheme
	N      int

	pk    *abe.PublicKey
	msk   *abe.MasterKey
	tags  []tag.Tag
	pol   *policy.Record
	uk    *abe.UserKey
	ctb   []byte
	sizes Sizes
}

// Sizes are the encoded sizes in bytes of one ciphertext (all three levels,
// Payload included), one user key and the public key.
type Sizes struct {
	Ciphertext, CiphertextHeader, UserKey, PublicKey int
}

// NewCase sets up the workload for scheme and n attributes (1..policy.MaxLeaves).
func NewCase(scheme abe.Scheme, n int) (*Case, error) {
	if n < 1 || n > policy.MaxLeaves {
		return nil, fmt.Errorf("abebench: %d attributes", n)
	}
	c := &Case{Scheme: scheme, N: n}
	var err error
	if c.pk, c.msk, err = scheme.Setup(rand.Reader); err != nil {
		return nil, err
	}
	var tk tag.Key
	if tk, err = tag.NewKey(rand.Reader); err != nil {
		return nil, err
	}
	var extra [policy.NumLevels][]*policy.Tree
	for i := range n {
		a := fmt.Sprintf("attr%02d=value%02d", i, i)
		c.tags = append(c.tags, tk.Tag(a))
		leaf, err := policy.Leaf(a)
		if err != nil {
			return nil, err
		}
		extra[i%3] = append(extra[i%3], leaf)
	}
	var trees [policy.NumLevels]*policy.Tree
	for l, ls := range extra {
		if len(ls) > 0 {
			if trees[l], err = policy.And(ls...); err != nil {
				return nil, err
			}
		}
	}
	rp, err := policy.NewRecord(trees[0], trees[1], trees[2])
	if err != nil {
		return nil, err
	}
	c.pol = rp.Hide(tk)
	if err := c.KeyGen(); err != nil {
		return nil, err
	}
	if err := c.Encrypt(); err != nil {
		return nil, err
	}
	ct, err := abe.ParseCiphertext(c.ctb)
	if err != nil {
		return nil, err
	}
	ukb, err := c.uk.MarshalBinary()
	if err != nil {
		return nil, err
	}
	pkb, err := c.pk.MarshalBinary()
	if err != nil {
		return nil, err
	}
	c.sizes = Sizes{Ciphertext: len(c.ctb), CiphertextHeader: ct.HeaderLen(), UserKey: len(ukb), PublicKey: len(pkb)}
	if err := c.Decrypt(); err != nil {
		return nil, err
	}
	return c, nil
}

// Sizes returns the encoded sizes.
func (c *Case) Sizes() Sizes { return c.sizes }

// KeyGen issues a user key for the n attributes.
func (c *Case) KeyGen() error {
	uk, err := c.Scheme.KeyGen(rand.Reader, c.msk, c.tags)
	if err != nil {
		return err
	}
	c.uk = uk
	return nil
}

// Encrypt encrypts all three levels and serialises the ciphertext.
func (c *Case) Encrypt() error {
	ct, err := c.Scheme.Encrypt(rand.Reader, c.pk, c.pol, RecordID, Payload)
	if err != nil {
		return err
	}
	c.ctb, err = ct.MarshalBinary()
	return err
}

// Decrypt parses the serialised ciphertext and decrypts the top level
// (tkn20's Decrypt also starts from bytes, so both include parsing).
func (c *Case) Decrypt() error {
	ct, err := abe.ParseCiphertext(c.ctb)
	if err != nil {
		return err
	}
	_, err = c.Scheme.DecryptLevel(c.uk, ct, RecordID, policy.High)
	return err
}

// DecryptAll parses the ciphertext and decrypts every level.
func (c *Case) DecryptAll() error {
	ct, err := abe.ParseCiphertext(c.ctb)
	if err != nil {
		return err
	}
	o, err := c.Scheme.Decrypt(c.uk, ct, RecordID)
	if err == nil && o.Top != policy.High {
		err = fmt.Errorf("abebench: opened up to %s only", o.Top)
	}
	return err
}

// Op names one measured operation.
type Op struct {
	Name string
	Run  func(*Case) error
}

// Ops are the measured operations, in table order.
var Ops = []Op{
	{"KeyGen", (*Case).KeyGen},
	{"Encrypt", (*Case).Encrypt},
	{"Decrypt", (*Case).Decrypt},
	{"DecryptAll", (*Case).DecryptAll},
}
