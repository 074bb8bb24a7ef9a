package abe

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"fmt"

	"github.com/medshare/medshare/abe/internal/wire"
	"github.com/medshare/medshare/abe/policy"
)

// Domain-separation labels of the data-encapsulation layer.
const (
	demInfo = "medshare/abe/v2/dem-key"
	demAAD  = "medshare/abe/v2/level-aad"
)

// binding returns scheme ‖ level ‖ len(recordID) ‖ recordID.
func binding(s schemeID, l policy.Level, recordID []byte) []byte {
	b := []byte{byte(s), byte(l)}
	return append(wire.AppendU16(b, uint16(len(recordID))), recordID...)
}

// levelAEAD derives the AES-256-GCM key and nonce of one level from its key
// material: HKDF-SHA-256(ikm, info = label ‖ scheme ‖ level ‖ record id ‖
// SHA-256(header)). Binding the header hash makes any change to the ABE
// header change every level key, so tampering fails authentication. Each
// derived key seals exactly one message, so the derived nonce is never
// reused with it.
func levelAEAD(ikm []byte, s schemeID, l policy.Level, recordID []byte, headerHash *[32]byte) (cipher.AEAD, []byte, error) {
	info := append([]byte(demInfo), binding(s, l, recordID)...)
	info = append(info, headerHash[:]...)
	okm, err := hkdf.Key(sha256.New, ikm, nil, string(info), 32+12)
	if err != nil {
		return nil, nil, fmt.Errorf("abe: hkdf: %w", err)
	}
	block, err := aes.NewCipher(okm[:32])
	if err != nil {
		return nil, nil, fmt.Errorf("abe: aes: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, nil, fmt.Errorf("abe: gcm: %w", err)
	}
	return aead, okm[32:], nil
}

func aad(s schemeID, l policy.Level, recordID []byte) []byte {
	return append([]byte(demAAD), binding(s, l, recordID)...)
}

func sealLevel(ikm []byte, s schemeID, l policy.Level, recordID []byte, headerHash *[32]byte, pt []byte) ([]byte, error) {
	aead, nonce, err := levelAEAD(ikm, s, l, recordID, headerHash)
	if err != nil {
		return nil, err
	}
	return aead.Seal(nil, nonce, pt, aad(s, l, recordID)), nil
}

func openLevel(ikm []byte, s schemeID, l policy.Level, recordID []byte, headerHash *[32]byte, sealed []byte) ([]byte, error) {
	if sealed == nil {
		return nil, fmt.Errorf("%w: level %s", ErrMissingLevel, l)
	}
	aead, nonce, err := levelAEAD(ikm, s, l, recordID, headerHash)
	if err != nil {
		return nil, err
	}
	pt, err := aead.Open(nil, nonce, sealed, aad(s, l, recordID))
	if err != nil {
		return nil, fmt.Errorf("%w: level %s", ErrAuthentication, l)
	}
	if pt == nil {
		pt = []byte{}
	}
	return pt, nil
}
