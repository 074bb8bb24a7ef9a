package identity

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/big"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// maxSignatureLen bounds an ASN.1 P-256 signature: two 33-byte INTEGERs with
// their headers inside a SEQUENCE header.
const maxSignatureLen = 72

var (
	p256Order     = elliptic.P256().Params().N
	p256HalfOrder = new(big.Int).Rsh(p256Order, 1)
)

// SignDigest signs a SHA-256 digest with key and returns the ASN.1 signature
// normalised to low-S.
func SignDigest(rand io.Reader, key *ecdsa.PrivateKey, digest []byte) ([]byte, error) {
	sig, err := ecdsa.SignASN1(rand, key, digest)
	if err != nil {
		return nil, fmt.Errorf("identity: sign: %w", err)
	}
	r, s, err := parseSignature(sig)
	if err != nil {
		return nil, err
	}
	if s.Cmp(p256HalfOrder) <= 0 {
		return sig, nil
	}
	s.Sub(p256Order, s)
	return encodeSignature(r, s)
}

// Sign signs SHA-256(msg) with key; see SignDigest.
func Sign(rand io.Reader, key *ecdsa.PrivateKey, msg []byte) ([]byte, error) {
	d := sha256.Sum256(msg)
	return SignDigest(rand, key, d[:])
}

// VerifyDigest checks a low-S ASN.1 ECDSA signature over a SHA-256 digest. A
// high-S signature is rejected: it is a malleated copy of a valid one.
func VerifyDigest(pub *ecdsa.PublicKey, digest, sig []byte) error {
	if len(sig) == 0 || len(sig) > maxSignatureLen {
		return fmt.Errorf("%w: bad length %d", ErrBadSignature, len(sig))
	}
	_, s, err := parseSignature(sig)
	if err != nil {
		return err
	}
	if s.Cmp(p256HalfOrder) > 0 {
		return fmt.Errorf("%w: high-S signature", ErrBadSignature)
	}
	if !ecdsa.VerifyASN1(pub, digest, sig) {
		return ErrBadSignature
	}
	return nil
}

// Verify checks a signature over SHA-256(msg); see VerifyDigest.
func Verify(pub *ecdsa.PublicKey, msg, sig []byte) error {
	d := sha256.Sum256(msg)
	return VerifyDigest(pub, d[:], sig)
}

func parseSignature(sig []byte) (r, s *big.Int, err error) {
	r, s = new(big.Int), new(big.Int)
	var inner cryptobyte.String
	in := cryptobyte.String(sig)
	if !in.ReadASN1(&inner, cbasn1.SEQUENCE) || !in.Empty() ||
		!inner.ReadASN1Integer(r) || !inner.ReadASN1Integer(s) || !inner.Empty() {
		return nil, nil, fmt.Errorf("%w: malformed ASN.1", ErrBadSignature)
	}
	if r.Sign() <= 0 || s.Sign() <= 0 {
		return nil, nil, errors.Join(ErrBadSignature, errors.New("non-positive signature value"))
	}
	return r, s, nil
}

func encodeSignature(r, s *big.Int) ([]byte, error) {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1BigInt(r)
		b.AddASN1BigInt(s)
	})
	sig, err := b.Bytes()
	if err != nil {
		return nil, fmt.Errorf("identity: encode signature: %w", err)
	}
	return sig, nil
}
