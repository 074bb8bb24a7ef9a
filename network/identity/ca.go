package identity

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net"
	"time"
)

// CA is an organisation's certificate authority: it issues the certificates
// of the organisation's nodes, administrators and users.
type CA struct {
	mspID string
	cert  *x509.Certificate
	key   *ecdsa.PrivateKey
}

// NewCA creates a self-signed root CA for organisation mspID.
func NewCA(rnd io.Reader, mspID, org, commonName string, notBefore, notAfter time.Time) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rnd)
	if err != nil {
		return nil, fmt.Errorf("identity: CA key: %w", err)
	}
	serial, err := serialNumber(rnd)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: commonName, Organization: []string{org}},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
		SubjectKeyId:          keyID(&key.PublicKey),
	}
	der, err := x509.CreateCertificate(rnd, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("identity: create CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("identity: parse CA certificate: %w", err)
	}
	return &CA{mspID: mspID, cert: cert, key: key}, nil
}

// LoadCA rebuilds a CA from its certificate and key, e.g. read from disk.
func LoadCA(mspID string, cert *x509.Certificate, key *ecdsa.PrivateKey) (*CA, error) {
	if !cert.IsCA {
		return nil, fmt.Errorf("identity: %q is not a CA certificate", cert.Subject.CommonName)
	}
	pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok || !pub.Equal(&key.PublicKey) {
		return nil, fmt.Errorf("identity: CA key does not match certificate %q", cert.Subject.CommonName)
	}
	return &CA{mspID: mspID, cert: cert, key: key}, nil
}

// Certificate is the CA's self-signed certificate: the organisation's root of
// trust, which channel configurations embed.
func (ca *CA) Certificate() *x509.Certificate { return ca.cert }

// PrivateKey is the CA's signing key.
func (ca *CA) PrivateKey() *ecdsa.PrivateKey { return ca.key }

// MSPID is the organisation the CA serves.
func (ca *CA) MSPID() string { return ca.mspID }

// Request describes a certificate to issue.
type Request struct {
	// CommonName names the holder, e.g. "node0.hospital1.example" or "dr-alice".
	CommonName string
	// Role is the holder's role, written to the subject's OrganizationalUnit.
	Role Role
	// Attributes are optional name/value pairs for attribute-based decisions
	// (identity level, specialty, trust level, ...).
	Attributes map[string]string
	// TLS asks for a TLS certificate (server and client authentication)
	// rather than a signing certificate.
	TLS bool
	// Hosts are the DNS names and IP addresses a TLS server certificate is for.
	Hosts []string
	// NotBefore and NotAfter bound the certificate's validity.
	NotBefore, NotAfter time.Time
}

// Issue creates a key pair and a certificate for it signed by the CA.
func (ca *CA) Issue(rnd io.Reader, req Request) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	if req.CommonName == "" {
		return nil, nil, fmt.Errorf("identity: issue: empty common name")
	}
	if !req.Role.Valid() {
		return nil, nil, fmt.Errorf("identity: issue %q: invalid role %q", req.CommonName, req.Role)
	}
	if !req.NotAfter.After(req.NotBefore) {
		return nil, nil, fmt.Errorf("identity: issue %q: empty validity period", req.CommonName)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rnd)
	if err != nil {
		return nil, nil, fmt.Errorf("identity: issue %q: key: %w", req.CommonName, err)
	}
	serial, err := serialNumber(rnd)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{
			CommonName:         req.CommonName,
			Organization:       ca.cert.Subject.Organization,
			OrganizationalUnit: []string{string(req.Role)},
		},
		NotBefore:             req.NotBefore,
		NotAfter:              req.NotAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		SubjectKeyId:          keyID(&key.PublicKey),
		AuthorityKeyId:        ca.cert.SubjectKeyId,
	}
	if req.TLS {
		tmpl.KeyUsage |= x509.KeyUsageKeyEncipherment
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
		for _, h := range req.Hosts {
			if ip := net.ParseIP(h); ip != nil {
				tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
			} else {
				tmpl.DNSNames = append(tmpl.DNSNames, h)
			}
		}
	}
	if len(req.Attributes) > 0 {
		payload, err := json.Marshal(attrPayload{Attrs: req.Attributes})
		if err != nil {
			return nil, nil, fmt.Errorf("identity: issue %q: attributes: %w", req.CommonName, err)
		}
		tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, pkix.Extension{Id: AttributesOID, Value: payload})
	}
	der, err := x509.CreateCertificate(rnd, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return nil, nil, fmt.Errorf("identity: issue %q: %w", req.CommonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("identity: issue %q: parse: %w", req.CommonName, err)
	}
	return cert, key, nil
}

// IssueSigner issues a signing certificate and returns it as a Signer.
func (ca *CA) IssueSigner(rnd io.Reader, req Request) (*Signer, error) {
	req.TLS = false
	cert, key, err := ca.Issue(rnd, req)
	if err != nil {
		return nil, err
	}
	return NewSigner(ca.mspID, cert, key)
}

func serialNumber(rnd io.Reader) (*big.Int, error) {
	b := make([]byte, 16)
	if _, err := io.ReadFull(rnd, b); err != nil {
		return nil, fmt.Errorf("identity: serial number: %w", err)
	}
	b[0] &= 0x7f
	return new(big.Int).SetBytes(b), nil
}

func keyID(pub *ecdsa.PublicKey) []byte {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil
	}
	sum := sha256.Sum256(der)
	return sum[:20]
}
