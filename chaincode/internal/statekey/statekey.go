// Package statekey builds the parts of world-state keys the medshare
// chaincodes share: short hashes of identities and keys, and times that sort
// lexically in time order.
package statekey

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/medshare/medshare/chaincode/ccerr"
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

// Key returns the key-hash of a public key (PKIX DER).
func Key(der []byte) string { return Hash16(der) }

// Identity returns the identity hash of an identity's unique name
// ("x509::<subject>::<issuer>"). It names records' owners in state keys,
// and it is a data user's user id: the attribute authority binds a user's
// keys to the identity hash of the identity it enrolled.
func Identity(id string) string { return Hash16([]byte(id)) }

// Owner is Identity: the hash of a record owner's identity.
func Owner(id string) string { return Identity(id) }

// Time renders t as 20 decimal digits of Unix nanoseconds, so that keys sort
// in time order. Times before 1970 render as zero.
func Time(t time.Time) string {
	ns := t.UnixNano()
	if ns < 0 {
		ns = 0
	}
	return fmt.Sprintf("%020d", ns)
}

// IsHash reports whether s has the form of a Hash16: 32 lowercase
// hexadecimal characters.
func IsHash(s string) bool {
	if len(s) != HashLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// UserID checks a user argument: a user id, the identity hash of the
// enrolled identity the attribute authority bound the user's keys to (32
// lowercase hexadecimal characters).
func UserID(name, s string) error {
	if !IsHash(s) {
		return ccerr.Invalid(name, "must be a user id: the identity hash of the user's enrolled identity, 32 lowercase hexadecimal characters")
	}
	return nil
}
