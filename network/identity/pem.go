package identity

import (
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// EncodeCertPEM returns cert as a PEM "CERTIFICATE" block.
func EncodeCertPEM(cert *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
}

// EncodeKeyPEM returns key as a PKCS#8 PEM "PRIVATE KEY" block.
func EncodeKeyPEM(key *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("identity: encode key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// ParseCertPEM parses the first CERTIFICATE block of data.
func ParseCertPEM(data []byte) (*x509.Certificate, error) {
	for len(data) > 0 {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type == "CERTIFICATE" {
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("identity: parse certificate: %w", err)
			}
			return c, nil
		}
	}
	return nil, errors.New("identity: no CERTIFICATE PEM block")
}

// ParseKeyPEM parses a PKCS#8 or SEC 1 ECDSA private key.
func ParseKeyPEM(data []byte) (*ecdsa.PrivateKey, error) {
	b, _ := pem.Decode(data)
	if b == nil {
		return nil, errors.New("identity: no PEM block in key")
	}
	if k, err := x509.ParsePKCS8PrivateKey(b.Bytes); err == nil {
		ek, ok := k.(*ecdsa.PrivateKey)
		if !ok {
			return nil, errors.New("identity: key is not ECDSA")
		}
		return ek, nil
	}
	k, err := x509.ParseECPrivateKey(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("identity: parse key: %w", err)
	}
	return k, nil
}

// ReadCertFile reads a PEM certificate file.
func ReadCertFile(path string) (*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	c, err := ParseCertPEM(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// ReadKeyFile reads a PEM private key file.
func ReadKeyFile(path string) (*ecdsa.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	k, err := ParseKeyPEM(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// WriteCertFile writes cert as PEM to path (0644), creating parent directories.
func WriteCertFile(path string, cert *x509.Certificate) error {
	return writeFile(path, EncodeCertPEM(cert), 0o644)
}

// WriteKeyFile writes key as PKCS#8 PEM to path (0600), creating parent directories.
func WriteKeyFile(path string, key *ecdsa.PrivateKey) error {
	data, err := EncodeKeyPEM(key)
	if err != nil {
		return err
	}
	return writeFile(path, data, 0o600)
}

func writeFile(path string, data []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("identity: %w", err)
	}
	if err := os.WriteFile(path, data, mode); err != nil {
		return fmt.Errorf("identity: %w", err)
	}
	return nil
}

// Dir is the on-disk layout of one identity, as written by the crypto
// generator: a signing certificate and key, a TLS certificate and key, and the
// organisation's CA certificate.
type Dir string

// Paths of the files in an identity directory.
func (d Dir) CertFile() string    { return filepath.Join(string(d), "signcert.pem") }
func (d Dir) KeyFile() string     { return filepath.Join(string(d), "signkey.pem") }
func (d Dir) TLSCertFile() string { return filepath.Join(string(d), "tls", "cert.pem") }
func (d Dir) TLSKeyFile() string  { return filepath.Join(string(d), "tls", "key.pem") }
func (d Dir) CAFile() string      { return filepath.Join(string(d), "ca.pem") }
func (d Dir) MSPIDFile() string   { return filepath.Join(string(d), "mspid") }

// LoadSigner reads the signing identity stored in d.
func (d Dir) LoadSigner() (*Signer, error) {
	mspID, err := os.ReadFile(d.MSPIDFile())
	if err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	cert, err := ReadCertFile(d.CertFile())
	if err != nil {
		return nil, err
	}
	key, err := ReadKeyFile(d.KeyFile())
	if err != nil {
		return nil, err
	}
	return NewSigner(string(trimSpace(mspID)), cert, key)
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r' || b[len(b)-1] == ' ') {
		b = b[:len(b)-1]
	}
	return b
}
