// Package identity is medshare's membership service provider (MSP): the
// Fabric-shaped model of who may take part in the ledger network.
//
// Every organisation runs an X.509 certificate authority (ECDSA P-256). Nodes,
// administrators and users hold certificates issued by their organisation's CA.
// A certificate carries its holder's role in its OrganizationalUnit (as
// Fabric's NodeOUs do) and, optionally, attributes such as identity level,
// specialty or trust level in the same X.509 extension Fabric CA uses, so that
// chaincode can make attribute-based decisions from the transaction creator.
//
// Signatures are ECDSA P-256 over SHA-256, ASN.1-encoded and normalised to
// low-S; verification rejects high-S signatures so that a signed message has
// exactly one valid signature encoding (no malleability).
package identity

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"
)

// Role is what an identity may do in the network. It is carried in the
// certificate subject's OrganizationalUnit.
type Role string

// The roles an organisation's CA issues.
const (
	// RoleAdmin administers its organisation's nodes and channels.
	RoleAdmin Role = "admin"
	// RoleClient submits and evaluates transactions (hospitals, doctors, auditors).
	RoleClient Role = "client"
	// RoleNode orders, executes and stores blocks, and signs the blocks it cuts.
	RoleNode Role = "node"
)

// Valid reports whether r is one of the defined roles.
func (r Role) Valid() bool {
	switch r {
	case RoleAdmin, RoleClient, RoleNode:
		return true
	}
	return false
}

// AttributesOID is the X.509 extension that carries user attributes. It is the
// OID Fabric CA uses, with the same JSON payload ({"attrs":{"name":"value"}}),
// so certificates and chaincode attribute checks port between the two.
var AttributesOID = asn1.ObjectIdentifier{1, 2, 3, 4, 5, 6, 7, 8, 1}

// Errors returned when an identity or a signature is not acceptable.
var (
	// ErrBadSignature means a signature does not verify under the identity's key.
	ErrBadSignature = errors.New("identity: signature does not verify")
	// ErrUnknownMSP means no organisation with the given MSP ID is a member.
	ErrUnknownMSP = errors.New("identity: unknown MSP")
	// ErrNotMember means a certificate was not issued by its organisation's CA,
	// or is outside its validity period.
	ErrNotMember = errors.New("identity: certificate is not valid for the MSP")
	// ErrBadRole means a certificate carries no role, or an unknown one.
	ErrBadRole = errors.New("identity: certificate has no valid role")
)

// Identity is a validated member of an organisation: its certificate, role and
// attributes. Identities are immutable and safe for concurrent use.
type Identity struct {
	mspID string
	cert  *x509.Certificate
	pub   *ecdsa.PublicKey
	role  Role
	attrs map[string]string
	id    string
}

// newIdentity extracts role, attributes and key from cert. It does not check
// that cert was issued by the MSP's CA; MSP.Validate does.
func newIdentity(mspID string, cert *x509.Certificate) (*Identity, error) {
	pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return nil, fmt.Errorf("identity: certificate %q: key is not ECDSA P-256", cert.Subject.CommonName)
	}
	role, err := roleOf(cert)
	if err != nil {
		return nil, err
	}
	attrs, err := attributesOf(cert)
	if err != nil {
		return nil, err
	}
	return &Identity{
		mspID: mspID,
		cert:  cert,
		pub:   pub,
		role:  role,
		attrs: attrs,
		id:    "x509::" + cert.Subject.String() + "::" + cert.Issuer.String(),
	}, nil
}

func roleOf(cert *x509.Certificate) (Role, error) {
	var found Role
	for _, ou := range cert.Subject.OrganizationalUnit {
		r := Role(strings.ToLower(ou))
		if !r.Valid() {
			continue
		}
		if found != "" && found != r {
			return "", fmt.Errorf("%w: certificate %q has two roles", ErrBadRole, cert.Subject.CommonName)
		}
		found = r
	}
	if found == "" {
		return "", fmt.Errorf("%w: certificate %q", ErrBadRole, cert.Subject.CommonName)
	}
	return found, nil
}

type attrPayload struct {
	Attrs map[string]string `json:"attrs"`
}

func attributesOf(cert *x509.Certificate) (map[string]string, error) {
	for _, ext := range cert.Extensions {
		if !ext.Id.Equal(AttributesOID) {
			continue
		}
		var p attrPayload
		if err := json.Unmarshal(ext.Value, &p); err != nil {
			return nil, fmt.Errorf("identity: certificate %q: attribute extension: %w", cert.Subject.CommonName, err)
		}
		return p.Attrs, nil
	}
	return nil, nil
}

// MSPID is the identifier of the identity's organisation, e.g. "Hospital1MSP".
func (i *Identity) MSPID() string { return i.mspID }

// Certificate is the identity's X.509 certificate. Callers must not modify it.
func (i *Identity) Certificate() *x509.Certificate { return i.cert }

// Bytes is the DER encoding of the certificate: the serialised identity that
// transactions carry as their creator.
func (i *Identity) Bytes() []byte { return i.cert.Raw }

// PublicKey is the identity's signature verification key.
func (i *Identity) PublicKey() *ecdsa.PublicKey { return i.pub }

// Role is the identity's role in its organisation.
func (i *Identity) Role() Role { return i.role }

// ID is the identity's unique name within the network, in Fabric's client
// identity format: "x509::<subject DN>::<issuer DN>".
func (i *Identity) ID() string { return i.id }

// Name is the certificate's common name.
func (i *Identity) Name() string { return i.cert.Subject.CommonName }

// Attribute returns the value of the named certificate attribute.
func (i *Identity) Attribute(name string) (string, bool) {
	v, ok := i.attrs[name]
	return v, ok
}

// Attributes returns a copy of all certificate attributes.
func (i *Identity) Attributes() map[string]string { return maps.Clone(i.attrs) }

// Fingerprint is SHA-256 of the certificate's DER encoding.
func (i *Identity) Fingerprint() [32]byte { return sha256.Sum256(i.cert.Raw) }

// Verify checks that sig is a low-S ECDSA signature by this identity over
// SHA-256(msg).
func (i *Identity) Verify(msg, sig []byte) error {
	d := sha256.Sum256(msg)
	return VerifyDigest(i.pub, d[:], sig)
}

// String is the identity's MSP and common name, for logs.
func (i *Identity) String() string { return i.mspID + "/" + i.cert.Subject.CommonName }
