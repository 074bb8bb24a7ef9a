// Package statekey builds the parts of world-state keys the medshare
// chaincodes share: short hashes of identities and keys, and times that sort
// lexically in time order.
package statekey

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/medshare/medshare/chaincode/ccerr"
	"github.com/medshare/medshare/chaincode/internal/arg"
)

// HashLen is the length of a Hash16 string.
const HashLen = 32

// Hash16 returns the first 16 bytes of SHA-256(b) in lowercase hex: a compact,
// fixed-size stand-in for a long value (a public key, a certificate's
// identity) in state keys. 128 bits keep second preimages out of reach.
func Hash16(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// User returns the key-hash of a data user's public key (PKIX DER).
func User(bpk []byte) string { return Hash16(bpk) }

// Owner returns the key-hash of an identity's unique name ("x509::…").
func Owner(id string) string { return Hash16([]byte(id)) }

// Time renders t as 20 decimal digits of Unix nanoseconds, so that keys sort
// in time order. Times before 1970 render as zero.
func Time(t time.Time) string {
	ns := t.UnixNano()
	if ns < 0 {
		ns = 0
	}
	return fmt.Sprintf("%020d", ns)
}

// UserRef resolves a user argument given either as the 32-hexadecimal-digit
// key-hash the chaincodes list, or as the base64 PKIX DER public key itself.
// It returns the key-hash, and the key when it was given.
func UserRef(name, s string) (hash string, key []byte, err error) {
	if len(s) == HashLen {
		if _, err := hex.DecodeString(s); err == nil && s == strings.ToLower(s) {
			return s, nil, nil
		}
	}
	der, _, err := arg.PublicKeyBase64(name, s)
	if err != nil {
		return "", nil, ccerr.Invalid(name, "must be a user's key-hash (32 lowercase hexadecimal characters) or base64 PKIX DER ECDSA P-256 public key")
	}
	return User(der), der, nil
}
