package medpkg

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/medshare/medshare/chaincode/txbuild"
)

// ErrKeyBinding: the requestor's signature binding its package key to its
// request does not verify.
var ErrKeyBinding = errors.New("medpkg: the package key is not bound to the request by the requestor's signature")

// KeyBindingDomain separates the key-binding digest from every other
// signed digest.
const KeyBindingDomain = "medshare/package/key-binding/v1"

// KeyBindingDigest is what the requestor signs with its request key (RID)
// to bind its package key to one request: SHA-256 of
//
//	lp(KeyBindingDomain) ‖ lp(channel) ‖ lp(requestID) ‖ lp(requestDigest[32]) ‖ lp(packageKey)
//
// with lp = 4-byte big-endian length, then the bytes, and requestDigest the
// provenance.RequestDigest the requestor signed. The provenance contract's
// request digest covers the report key but not the package key; without
// this signature, whoever relays the request (or the owner's gateway itself)
// could substitute a package key of its own and read the package. The
// owner's gateway verifies it (VerifyKeyBinding) before sealing.
func KeyBindingDigest(channel, requestID string, requestDigest [32]byte, packageKey []byte) [32]byte {
	h := sha256.New()
	for _, b := range [][]byte{[]byte(KeyBindingDomain), []byte(channel), []byte(requestID), requestDigest[:], packageKey} {
		var l [4]byte
		binary.BigEndian.PutUint32(l[:], uint32(len(b)))
		h.Write(l[:])
		h.Write(b)
	}
	var d [32]byte
	copy(d[:], h.Sum(nil))
	return d
}

// SignKeyBinding signs KeyBindingDigest with the requestor's key.
func SignKeyBinding(requestor txbuild.Signer, channel, requestID string, requestDigest [32]byte, packageKey *PublicKey) ([]byte, error) {
	if requestor == nil || packageKey == nil {
		return nil, fmt.Errorf("medpkg: key binding: no signer or no key")
	}
	d := KeyBindingDigest(channel, requestID, requestDigest, packageKey.Bytes())
	return requestor.SignDigest(d[:])
}

// VerifyKeyBinding checks the requestor's key-binding signature under its
// request key (PKIX DER, ECDSA P-256) and returns the package key.
func VerifyKeyBinding(requestorKey []byte, channel, requestID string, requestDigest [32]byte, packageKey, signature []byte) (*PublicKey, error) {
	pk, err := ParsePublicKey(packageKey)
	if err != nil {
		return nil, err
	}
	k, err := x509.ParsePKIXPublicKey(requestorKey)
	if err != nil {
		return nil, fmt.Errorf("%w: the request key is not a PKIX key", ErrKeyBinding)
	}
	ek, ok := k.(*ecdsa.PublicKey)
	if !ok || ek.Curve != elliptic.P256() {
		return nil, fmt.Errorf("%w: the request key is not ECDSA P-256", ErrKeyBinding)
	}
	d := KeyBindingDigest(channel, requestID, requestDigest, packageKey)
	if !ecdsa.VerifyASN1(ek, d[:], signature) {
		return nil, ErrKeyBinding
	}
	return pk, nil
}
