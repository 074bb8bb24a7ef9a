// Package abe is medshare's hierarchical attribute-based encryption: a data
// owner encrypts a record once, under a record policy with three nested
// sensitivity levels (see package policy), and each reader decrypts exactly
// the levels their attributes allow.
//
// Two schemes sit behind one interface, selected by name:
//
//   - "msc" (default): the BSW07 CP-ABE scheme on circl's BLS12-381
//     pairing, one encapsulation per level under the level's full predicate
//     with an independent secret, all in one header (format version 2; the
//     paper's nested construction, version 1, let two keys combine across
//     levels and is refused).
//   - "tkn20": circl's CCA-secure tkn20 CP-ABE, one ciphertext per level,
//     the conservative alternative and the benchmark baseline.
//
// Both are used as a KEM: each level's key material (a pairing value, or a
// tkn20-encrypted seed) goes through HKDF-SHA-256, bound to the scheme, the
// level, the record id and a hash of the whole ABE header, and the level's
// data is sealed with AES-256-GCM with the record id and level as associated
// data. Every Encrypt draws fresh secrets, so no AES key — and therefore no
// (key, nonce) pair — is ever used twice.
//
// Policies must be hidden before encryption (policy.Record.Hide with the
// authority's tag key): ciphertexts carry tags, never attribute names. Keys
// are issued for tags (see package authority, which expands attributes and
// adds the epoch).
package abe

import (
	"errors"
	"fmt"
	"io"

	"github.com/medshare/medshare/abe/policy"
	"github.com/medshare/medshare/abe/tag"
)

// Scheme names, as used in configuration.
const (
	// MSC is BSW07 on BLS12-381 with one encapsulation per level ("msc").
	MSC = "msc"
	// TKN20 is circl's tkn20, one ciphertext per level ("tkn20").
	TKN20 = "tkn20"
)

// Limits.
const (
	// MaxRecordIDLen bounds the record id bound into every ciphertext.
	MaxRecordIDLen = 1024
	// MaxLevelDataLen bounds the plaintext of one level.
	MaxLevelDataLen = 64 << 20
)

var (
	// ErrNotAuthorized is matched (errors.Is) by every *NotAuthorizedError.
	ErrNotAuthorized = errors.New("abe: not authorised")
	// ErrAuthentication: a sealed level failed to authenticate — the
	// ciphertext was tampered with, the record id is wrong, or the key does
	// not belong to this system.
	ErrAuthentication = errors.New("abe: ciphertext authentication failed")
	// ErrMalformed: an encoding is truncated, oversized, of an unknown
	// version or kind, or contains invalid group elements.
	ErrMalformed = errors.New("abe: malformed encoding")
	// ErrUnsupportedVersion: an encoding of a format version this build
	// does not read, such as a version 1 ciphertext (the insecure nested
	// msc construction: re-encrypt the record). It comes wrapped together
	// with ErrMalformed, so errors.Is matches either.
	ErrUnsupportedVersion = errors.New("abe: unsupported format version")
	// ErrSchemeMismatch: a key or ciphertext belongs to another scheme.
	ErrSchemeMismatch = errors.New("abe: scheme mismatch")
	// ErrUnknownScheme: the configured scheme name is not "msc" or "tkn20".
	ErrUnknownScheme = errors.New("abe: unknown scheme")
	// ErrMissingLevel: the ciphertext was joined (JoinCiphertext) without
	// the sealed data of the level asked for.
	ErrMissingLevel = errors.New("abe: sealed level not present")
	// ErrInvalidInput: invalid arguments (nil keys, an unhidden policy, an
	// oversized record id or level, …).
	ErrInvalidInput = errors.New("abe: invalid input")
)

// NotAuthorizedError reports that a key does not satisfy the predicate of a
// level. Use errors.As to read the level, or errors.Is(err, ErrNotAuthorized).
type NotAuthorizedError struct{ Level policy.Level }

// Error returns "abe: not authorised for level <level>".
func (e *NotAuthorizedError) Error() string {
	return fmt.Sprintf("abe: not authorised for level %s", e.Level)
}

// Is makes errors.Is(err, ErrNotAuthorized) hold.
func (e *NotAuthorizedError) Is(target error) bool { return target == ErrNotAuthorized }

// Levels holds one byte string per sensitivity level, indexed by
// policy.Level (Low, Medium, High).
type Levels [policy.NumLevels][]byte

// Opened is the result of Decrypt: the data of every level the key opened.
// Top is the highest level the key is authorised for (levels are nested, so
// it is authorised for Low up to Top); Data[l] is nil above Top. When
// Decrypt returns a *PartialError, Data[l] is also nil for each level the
// error names; every other level up to Top opened (an empty level opens to
// a non-nil empty slice).
type Opened struct {
	Top  policy.Level
	Data Levels
}

// PartialError is returned by Decrypt, together with the levels that did
// open, when some of the levels the key is authorised for did not: a sealed
// level that fails authentication (tampered, or a wrong record id: matches
// ErrAuthentication) or that is absent from a joined ciphertext (matches
// ErrMissingLevel). Each level is sealed under its own key, so one damaged
// or unfetched level does not keep the reader from the others.
//
// errors.Is(err, ErrAuthentication) and errors.Is(err, ErrMissingLevel)
// see through it, so a caller that treats every error as a failure keeps
// working; a caller that wants the intact levels uses errors.As and reads
// Opened as documented there.
type PartialError struct {
	// Failed holds, for each level that did not open, why; nil for the
	// levels that opened and those the key is not authorised for.
	Failed [policy.NumLevels]error
}

// Levels returns the levels that did not open, lowest first.
func (e *PartialError) Levels() []policy.Level {
	var out []policy.Level
	for l, err := range e.Failed {
		if err != nil {
			out = append(out, policy.Level(l))
		}
	}
	return out
}

// Error names every level that did not open and why, e.g. "abe: levels
// did not open: abe: ciphertext authentication failed: level medium".
func (e *PartialError) Error() string {
	msg := "abe: levels did not open: "
	sep := ""
	for _, err := range e.Failed {
		if err != nil {
			msg += sep + err.Error()
			sep = "; "
		}
	}
	return msg
}

// Unwrap returns the error of each level that did not open.
func (e *PartialError) Unwrap() []error {
	var out []error
	for _, err := range e.Failed {
		if err != nil {
			out = append(out, err)
		}
	}
	return out
}

// openLevels opens the sealed levels Low…top with their key material (ikm
// nil: the level's encapsulation did not open) and gathers the failures in
// a *PartialError.
func openLevels(s schemeID, ct *Ciphertext, recordID []byte, top policy.Level, ikm func(policy.Level) ([]byte, error)) (Opened, error) {
	out := Opened{Top: top}
	var pe PartialError
	failed := false
	for l := policy.Low; l <= top; l++ {
		k, err := ikm(l)
		if err == nil {
			out.Data[l], err = openLevel(k, s, l, recordID, &ct.headerHash, ct.sealed[l])
		}
		if err != nil {
			pe.Failed[l], failed = err, true
		}
	}
	if failed {
		return out, &pe
	}
	return out, nil
}

// Scheme is a three-level attribute-based encryption scheme. Implementations
// are safe for concurrent use.
type Scheme interface {
	// Name returns the configuration name ("msc" or "tkn20").
	Name() string
	// Setup generates the system public key and the authority's master key.
	Setup(rand io.Reader) (*PublicKey, *MasterKey, error)
	// KeyGen issues a user key for a set of attribute tags.
	KeyGen(rand io.Reader, msk *MasterKey, tags []tag.Tag) (*UserKey, error)
	// Encrypt encrypts the three levels of a record under the hidden record
	// policy rp, bound to recordID.
	Encrypt(rand io.Reader, pk *PublicKey, rp *policy.Record, recordID []byte, data Levels) (*Ciphertext, error)
	// Decrypt opens every level the key is authorised for. It returns a
	// *NotAuthorizedError for Low if the key is authorised for no level. If
	// a level the key is authorised for fails authentication or is absent
	// from a joined ciphertext, it still opens the others and returns them
	// with a *PartialError naming the failed levels (which matches
	// ErrAuthentication or ErrMissingLevel); see Opened.
	Decrypt(uk *UserKey, ct *Ciphertext, recordID []byte) (Opened, error)
	// DecryptLevel opens one level, or returns a *NotAuthorizedError for it.
	DecryptLevel(uk *UserKey, ct *Ciphertext, recordID []byte, l policy.Level) ([]byte, error)
}

// Option configures a Scheme.
type Option func(*options)

type options struct{ cacheSize int }

// WithCacheSize sets how many hashed attribute points the msc scheme keeps
// (default 4096; 0 disables the cache). tkn20 ignores it.
func WithCacheSize(n int) Option { return func(o *options) { o.cacheSize = n } }

// New returns the scheme named name: "msc" (also "") or "tkn20".
func New(name string, opts ...Option) (Scheme, error) {
	o := options{cacheSize: defaultCacheSize}
	for _, f := range opts {
		f(&o)
	}
	switch name {
	case MSC, "":
		return newMSC(o), nil
	case TKN20:
		return tknScheme{}, nil
	}
	return nil, fmt.Errorf("%w: %q (want %q or %q)", ErrUnknownScheme, name, MSC, TKN20)
}

func checkEncryptArgs(rand io.Reader, pk *PublicKey, rp *policy.Record, recordID []byte, data Levels) error {
	switch {
	case rand == nil:
		return fmt.Errorf("%w: nil random source", ErrInvalidInput)
	case pk == nil:
		return fmt.Errorf("%w: nil public key", ErrInvalidInput)
	case rp == nil:
		return fmt.Errorf("%w: nil policy", ErrInvalidInput)
	case !rp.Hidden():
		return fmt.Errorf("%w: the policy is not hidden (call Hide with the tag key)", ErrInvalidInput)
	case len(recordID) > MaxRecordIDLen:
		return fmt.Errorf("%w: record id of %d bytes, at most %d", ErrInvalidInput, len(recordID), MaxRecordIDLen)
	}
	for l, d := range data {
		if len(d) > MaxLevelDataLen {
			return fmt.Errorf("%w: level %s data of %d bytes, at most %d", ErrInvalidInput, policy.Level(l), len(d), MaxLevelDataLen)
		}
	}
	return nil
}

func checkDecryptArgs(s schemeID, uk *UserKey, ct *Ciphertext, recordID []byte) error {
	switch {
	case uk == nil:
		return fmt.Errorf("%w: nil user key", ErrInvalidInput)
	case ct == nil:
		return fmt.Errorf("%w: nil ciphertext", ErrInvalidInput)
	case len(recordID) > MaxRecordIDLen:
		return fmt.Errorf("%w: record id of %d bytes, at most %d", ErrInvalidInput, len(recordID), MaxRecordIDLen)
	case uk.scheme != s || ct.scheme != s:
		return fmt.Errorf("%w: %s scheme, %s key, %s ciphertext", ErrSchemeMismatch, s, uk.scheme, ct.scheme)
	}
	return nil
}

// Authorized returns the highest level whose predicate the key's tags
// satisfy in the ciphertext's (hidden) policy, and false if not even the low
// level's. It does no cryptography: use it to decide what to request or
// which tags to disclose before decrypting.
func Authorized(uk *UserKey, ct *Ciphertext) (policy.Level, bool) {
	if uk == nil || ct == nil || ct.Policy() == nil {
		return policy.Low, false
	}
	held := map[string]bool{}
	for _, t := range uk.Tags() {
		held[t.String()] = true
	}
	return ct.Policy().Highest(func(leaf string) bool { return held[leaf] })
}
