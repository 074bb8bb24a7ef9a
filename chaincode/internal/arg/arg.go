// Package arg validates the arguments of medshare chaincode functions. Every
// check returns a ccerr.ErrInvalidArgument refusal whose message names the
// argument and says what it must be, so that a failed transaction tells its
// sender exactly what to fix.
package arg

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/medshare/medshare/chaincode/ccerr"
)

// Limits shared by the chaincodes.
const (
	// MaxIDLen is the longest record, request or data id.
	MaxIDLen = 128
	// MaxSignatureLen is the longest ASN.1 ECDSA P-256 signature.
	MaxSignatureLen = 72
	// MaxPublicKeyLen bounds the PKIX DER encoding of a public key.
	MaxPublicKeyLen = 256
)

// idChars describes the characters of an id, for messages.
const idChars = "[A-Za-z0-9._:-]"

func isIDChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '.' || c == '_' || c == ':' || c == '-'
}

// ID checks a record, request or data id: 1..128 characters of
// [A-Za-z0-9._:-]. Ids are used in state keys, so the set excludes the
// separators and wildcards the chaincodes reserve.
func ID(name, s string) error {
	if len(s) == 0 || len(s) > MaxIDLen {
		return ccerr.Invalid(name, "must be 1..%d characters of %s", MaxIDLen, idChars)
	}
	for i := 0; i < len(s); i++ {
		if !isIDChar(s[i]) {
			return ccerr.Invalid(name, "must be 1..%d characters of %s", MaxIDLen, idChars)
		}
	}
	return nil
}

// Name checks a short lowercase name such as a channel or side chain name:
// 1..64 characters of [a-z0-9.-], starting with a letter or digit.
func Name(name, s string) error {
	ok := len(s) >= 1 && len(s) <= 64 && s[0] != '.' && s[0] != '-'
	for i := 0; ok && i < len(s); i++ {
		c := s[i]
		ok = c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-'
	}
	if !ok {
		return ccerr.Invalid(name, "must be 1..64 characters of [a-z0-9.-], starting with a letter or digit")
	}
	return nil
}

// Text checks free text: valid UTF-8 of min..max bytes without control
// characters.
func Text(name, s string, min, max int) error {
	if len(s) < min || len(s) > max || !utf8.ValidString(s) {
		return ccerr.Invalid(name, "must be %d..%d bytes of UTF-8 text", min, max)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return ccerr.Invalid(name, "must not contain control characters")
		}
	}
	return nil
}

// Base64 decodes standard, padded base64 and checks that the result has
// min..max bytes.
func Base64(name, s string, min, max int) ([]byte, error) {
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, ccerr.Invalid(name, "must be standard base64 with padding")
	}
	return b, Size(name, b, min, max)
}

// Size checks that b has min..max bytes.
func Size(name string, b []byte, min, max int) error {
	if len(b) < min || len(b) > max {
		if min == max {
			return ccerr.Invalid(name, "must be %d bytes, got %d", min, len(b))
		}
		return ccerr.Invalid(name, "must be %d..%d bytes, got %d", min, max, len(b))
	}
	return nil
}

// Hash decodes a SHA-256 digest written as 64 lowercase hexadecimal
// characters.
func Hash(name, s string) ([32]byte, error) {
	var h [32]byte
	if len(s) != 64 || strings.ToLower(s) != s {
		return h, ccerr.Invalid(name, "must be a SHA-256 digest as 64 lowercase hexadecimal characters")
	}
	if _, err := hex.Decode(h[:], []byte(s)); err != nil {
		return h, ccerr.Invalid(name, "must be a SHA-256 digest as 64 lowercase hexadecimal characters")
	}
	return h, nil
}

// TxID checks a ledger transaction id: 64 lowercase hexadecimal characters.
func TxID(name, s string) error {
	_, err := Hash(name, s)
	if err != nil {
		return ccerr.Invalid(name, "must be a transaction id: 64 lowercase hexadecimal characters")
	}
	return nil
}

// Time parses an RFC 3339 time (fractional seconds allowed) and returns it
// in UTC.
func Time(name, s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || t.Year() < 1970 || t.Year() > 2200 {
		return time.Time{}, ccerr.Invalid(name, "must be an RFC 3339 time between 1970 and 2200, such as 2026-01-02T15:04:05Z")
	}
	return t.UTC(), nil
}

// Duration parses a Go duration ("90s", "5m", "1h30m") within [min, max].
func Duration(name, s string, min, max time.Duration) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil || d < min || d > max {
		return 0, ccerr.Invalid(name, "must be a duration such as \"5m\" between %s and %s", min, max)
	}
	return d, nil
}

// PublicKey parses the PKIX DER encoding of an ECDSA P-256 public key.
func PublicKey(name string, der []byte) (*ecdsa.PublicKey, error) {
	if len(der) == 0 || len(der) > MaxPublicKeyLen {
		return nil, ccerr.Invalid(name, "must be the PKIX DER encoding of an ECDSA P-256 public key")
	}
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, ccerr.Invalid(name, "must be the PKIX DER encoding of an ECDSA P-256 public key")
	}
	ek, ok := k.(*ecdsa.PublicKey)
	if !ok || ek.Curve != elliptic.P256() {
		return nil, ccerr.Invalid(name, "must be an ECDSA P-256 public key")
	}
	return ek, nil
}

// PublicKeyBase64 decodes base64 and parses the PKIX DER P-256 key inside.
func PublicKeyBase64(name, s string) ([]byte, *ecdsa.PublicKey, error) {
	der, err := Base64(name, s, 1, MaxPublicKeyLen)
	if err != nil {
		return nil, nil, err
	}
	k, err := PublicKey(name, der)
	return der, k, err
}

// Signature decodes a base64 ASN.1 ECDSA signature and checks its size; the
// signature itself is verified by the caller.
func Signature(name, s string) ([]byte, error) {
	return Base64(name, s, 8, MaxSignatureLen)
}

// CID checks an IPFS content identifier: CIDv0 ("Qm" and 44 base58
// characters) or CIDv1 in lowercase base32 ("b" and 58..127 characters of
// [a-z2-7]).
func CID(name, s string) error {
	const msg = "must be an IPFS CID: CIDv0 (\"Qm\" and 44 base58 characters) or CIDv1 in base32 (\"b\" and 58..127 characters of [a-z2-7])"
	switch {
	case len(s) == 46 && strings.HasPrefix(s, "Qm"):
		for i := 2; i < len(s); i++ {
			if !strings.ContainsRune("123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz", rune(s[i])) {
				return ccerr.Invalid(name, msg)
			}
		}
		return nil
	case len(s) >= 59 && len(s) <= 128 && s[0] == 'b':
		for i := 1; i < len(s); i++ {
			c := s[i]
			if !(c >= 'a' && c <= 'z' || c >= '2' && c <= '7') {
				return ccerr.Invalid(name, msg)
			}
		}
		return nil
	}
	return ccerr.Invalid(name, msg)
}

// Levels are the sensitivity levels of the side chains, highest first.
var Levels = []string{"high", "medium", "low"}

// Level checks a sensitivity level: "high", "medium" or "low".
func Level(name, s string) error {
	for _, l := range Levels {
		if s == l {
			return nil
		}
	}
	return ccerr.Invalid(name, "must be one of high, medium, low")
}

// OneOf checks that s is one of the allowed values.
func OneOf(name, s string, allowed ...string) error {
	for _, a := range allowed {
		if s == a {
			return nil
		}
	}
	return ccerr.Invalid(name, "must be one of %s", strings.Join(allowed, ", "))
}

// Count checks that a list has min..max entries.
func Count(name string, n, min, max int) error {
	if n < min || n > max {
		return ccerr.Invalid(name, "must have %d..%d entries, got %d", min, max, n)
	}
	return nil
}

// ScopeLen is the length of the scope prefix of a scoped id: an identity
// hash (32 lowercase hexadecimal characters) and ":".
const ScopeLen = 33

// ScopedID checks an id that belongs to whoever's identity hash it starts
// with: "<scope>:<name>", the scope being 32 lowercase hexadecimal
// characters and the whole id an ID. Record ids are scoped to their owner
// and MeDShare request ids to their requestor, so that nobody can take, by
// storing it first, an id another party is about to use. whose says whose
// hash scope is, for the messages ("the caller", "the requestor").
func ScopedID(name, id, scope, whose string) error {
	if err := ID(name, id); err != nil {
		return err
	}
	if len(id) <= ScopeLen || id[ScopeLen-1] != ':' || !isHex32(id[:ScopeLen-1]) {
		return ccerr.Invalid(name, "must be \"<scope>:<name>\": the identity hash of %s (32 lowercase hexadecimal characters), \":\" and 1..%d characters of %s", whose, MaxIDLen-ScopeLen, idChars)
	}
	if id[:ScopeLen-1] != scope {
		return ccerr.Forbidden(name, "belongs to identity hash %s; ids of %s start with %s:", id[:ScopeLen-1], whose, scope)
	}
	return nil
}

func isHex32(s string) bool {
	if len(s) != ScopeLen-1 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
