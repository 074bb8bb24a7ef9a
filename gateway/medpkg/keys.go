package medpkg

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/cloudflare/circl/hpke"
	"github.com/cloudflare/circl/kem"
)

// Suite is an HPKE cipher suite a package may be sealed with.
type Suite struct {
	KEM  hpke.KEM
	KDF  hpke.KDF
	AEAD hpke.AEAD
}

// The suites. Every package key names its KEM; the KDF and AEAD are fixed
// per KEM.
var (
	// SuiteX25519 is the default: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256,
	// AES-256-GCM (RFC 9180; 32-byte keys and encapsulations).
	SuiteX25519 = Suite{hpke.KEM_X25519_HKDF_SHA256, hpke.KDF_HKDF_SHA256, hpke.AEAD_AES256GCM}
	// SuiteXWing is the post-quantum hybrid: X-Wing (X25519 + ML-KEM-768),
	// HKDF-SHA256, AES-256-GCM (1,216-byte keys, 1,120-byte encapsulations),
	// for records that must stay confidential beyond the reach of a future
	// quantum computer.
	SuiteXWing = Suite{hpke.KEM_XWING, hpke.KDF_HKDF_SHA256, hpke.AEAD_AES256GCM}
)

func suiteFor(k hpke.KEM) (Suite, bool) {
	switch k {
	case SuiteX25519.KEM:
		return SuiteX25519, true
	case SuiteXWing.KEM:
		return SuiteXWing, true
	}
	return Suite{}, false
}

func (s Suite) hpke() hpke.Suite { return hpke.NewSuite(s.KEM, s.KDF, s.AEAD) }

// keyFormat is the first byte of an encoded package key.
const keyFormat = 1

// PublicKey is a requestor's package key, as carried in its signed
// request: the owner seals the package to it.
type PublicKey struct {
	suite Suite
	key   kem.PublicKey
	raw   []byte // the encoding (format, KEM id, key)
}

// ParsePublicKey decodes a package key: one format byte (1), the HPKE KEM
// id (2 bytes, big-endian), the KEM's public key (exactly its size).
func ParsePublicKey(b []byte) (*PublicKey, error) {
	if len(b) < 3 || b[0] != keyFormat {
		return nil, fmt.Errorf("%w: not a format-%d package key", ErrInvalidKey, keyFormat)
	}
	suite, ok := suiteFor(hpke.KEM(binary.BigEndian.Uint16(b[1:3])))
	if !ok {
		return nil, fmt.Errorf("%w: KEM 0x%04x", ErrUnsupported, binary.BigEndian.Uint16(b[1:3]))
	}
	scheme := suite.KEM.Scheme()
	if len(b)-3 != scheme.PublicKeySize() {
		return nil, fmt.Errorf("%w: %d key bytes, want %d", ErrInvalidKey, len(b)-3, scheme.PublicKeySize())
	}
	k, err := scheme.UnmarshalBinaryPublicKey(b[3:])
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidKey, err)
	}
	return &PublicKey{suite: suite, key: k, raw: append([]byte(nil), b...)}, nil
}

// Bytes returns the key's encoding.
func (k *PublicKey) Bytes() []byte { return append([]byte(nil), k.raw...) }

// Suite returns the suite packages sealed to this key use.
func (k *PublicKey) Suite() Suite { return k.suite }

// ID is the key's fingerprint, carried in the envelope header so that a
// client tells "sealed to another key" from "altered":
// SHA-256("medshare/package/key/v1" ‖ encoding), first 16 bytes.
func (k *PublicKey) ID() [16]byte {
	h := sha256.New()
	h.Write([]byte("medshare/package/key/v1"))
	h.Write(k.raw)
	var id [16]byte
	copy(id[:], h.Sum(nil))
	return id
}

// PrivateKey is the requestor's private package key. It never leaves the
// requestor's client.
type PrivateKey struct {
	pub *PublicKey
	key kem.PrivateKey
}

// GenerateKey makes a package key pair for suite from rnd (the KEM's seed
// is read from it; pass crypto/rand.Reader).
func GenerateKey(rnd io.Reader, suite Suite) (*PrivateKey, error) {
	if _, ok := suiteFor(suite.KEM); !ok || suiteOf(suite.KEM) != suite {
		return nil, fmt.Errorf("%w: suite %v", ErrUnsupported, suite)
	}
	scheme := suite.KEM.Scheme()
	seed := make([]byte, scheme.SeedSize())
	if _, err := io.ReadFull(rnd, seed); err != nil {
		return nil, fmt.Errorf("medpkg: generate key: %w", err)
	}
	pk, sk := scheme.DeriveKeyPair(seed)
	return newPrivate(suite, pk, sk)
}

func suiteOf(k hpke.KEM) Suite {
	s, _ := suiteFor(k)
	return s
}

func newPrivate(suite Suite, pk kem.PublicKey, sk kem.PrivateKey) (*PrivateKey, error) {
	raw, err := pk.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidKey, err)
	}
	enc := binary.BigEndian.AppendUint16([]byte{keyFormat}, uint16(suite.KEM))
	return &PrivateKey{pub: &PublicKey{suite: suite, key: pk, raw: append(enc, raw...)}, key: sk}, nil
}

// Public returns the public half, for the request.
func (k *PrivateKey) Public() *PublicKey { return k.pub }

// MarshalBinary encodes the private key for the client's key store (keep it
// like any private key: 0600, never logged): format byte, KEM id, the KEM's
// private key.
func (k *PrivateKey) MarshalBinary() ([]byte, error) {
	raw, err := k.key.MarshalBinary()
	if err != nil {
		return nil, err
	}
	return append(binary.BigEndian.AppendUint16([]byte{keyFormat}, uint16(k.pub.suite.KEM)), raw...), nil
}

// ParsePrivateKey decodes MarshalBinary's encoding.
func ParsePrivateKey(b []byte) (*PrivateKey, error) {
	if len(b) < 3 || b[0] != keyFormat {
		return nil, fmt.Errorf("%w: not a format-%d private package key", ErrInvalidKey, keyFormat)
	}
	suite, ok := suiteFor(hpke.KEM(binary.BigEndian.Uint16(b[1:3])))
	if !ok {
		return nil, fmt.Errorf("%w: KEM 0x%04x", ErrUnsupported, binary.BigEndian.Uint16(b[1:3]))
	}
	scheme := suite.KEM.Scheme()
	if len(b)-3 != scheme.PrivateKeySize() {
		return nil, fmt.Errorf("%w: %d private key bytes, want %d", ErrInvalidKey, len(b)-3, scheme.PrivateKeySize())
	}
	sk, err := scheme.UnmarshalBinaryPrivateKey(b[3:])
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidKey, err)
	}
	return newPrivate(suite, sk.Public(), sk)
}
