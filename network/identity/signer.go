package identity

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"fmt"
)

// Signer is an identity together with its private key: what a client, an
// administrator or a node uses to sign transactions and blocks.
type Signer struct {
	*Identity
	key *ecdsa.PrivateKey
}

// NewSigner binds a certificate of organisation mspID to its private key. It
// checks that the key matches the certificate and that the certificate
// carries a role; it does not check the issuer (the network does that).
func NewSigner(mspID string, cert *x509.Certificate, key *ecdsa.PrivateKey) (*Signer, error) {
	id, err := newIdentity(mspID, cert)
	if err != nil {
		return nil, err
	}
	if !id.pub.Equal(&key.PublicKey) {
		return nil, fmt.Errorf("identity: private key does not match certificate %q", cert.Subject.CommonName)
	}
	return &Signer{Identity: id, key: key}, nil
}

// Sign returns a low-S ECDSA signature over SHA-256(msg).
func (s *Signer) Sign(msg []byte) ([]byte, error) {
	return Sign(rand.Reader, s.key, msg)
}

// SignDigest returns a low-S ECDSA signature over a SHA-256 digest.
func (s *Signer) SignDigest(digest []byte) ([]byte, error) {
	return SignDigest(rand.Reader, s.key, digest)
}

// PrivateKey exposes the signing key, for building TLS certificates.
func (s *Signer) PrivateKey() *ecdsa.PrivateKey { return s.key }
