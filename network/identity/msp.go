package identity

import (
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"sort"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
)

// maxCertLen bounds a serialised certificate; real ones are well under 2 KiB.
const maxCertLen = 8 << 10

// identityCacheSize bounds how many validated certificates an MSP remembers.
const identityCacheSize = 4096

// MSP validates the certificates of one organisation: they must chain to the
// organisation's root CA, be within their validity period and carry a role.
// It caches parsed identities by certificate hash, so validating the same
// creator on every transaction costs one map lookup and a time comparison.
type MSP struct {
	id    string
	roots []*x509.Certificate
	pool  *x509.CertPool
	cache *lru.Cache[[32]byte, *Identity]
}

// NewMSP returns the MSP for the organisation id whose CAs are roots.
func NewMSP(id string, roots ...*x509.Certificate) (*MSP, error) {
	if id == "" {
		return nil, fmt.Errorf("identity: MSP ID is empty")
	}
	if len(roots) == 0 {
		return nil, fmt.Errorf("identity: MSP %q has no root CA", id)
	}
	pool := x509.NewCertPool()
	for _, r := range roots {
		if !r.IsCA {
			return nil, fmt.Errorf("identity: MSP %q: root %q is not a CA certificate", id, r.Subject.CommonName)
		}
		pool.AddCert(r)
	}
	cache, err := lru.New[[32]byte, *Identity](identityCacheSize)
	if err != nil {
		return nil, fmt.Errorf("identity: MSP %q: %w", id, err)
	}
	return &MSP{id: id, roots: roots, pool: pool, cache: cache}, nil
}

// ID is the MSP identifier, e.g. "Hospital1MSP".
func (m *MSP) ID() string { return m.id }

// Roots returns the organisation's root CA certificates.
func (m *MSP) Roots() []*x509.Certificate { return m.roots }

// Validate parses a DER certificate and checks that it was issued by this
// organisation, is valid at the given time, and carries a role.
func (m *MSP) Validate(der []byte, at time.Time) (*Identity, error) {
	if len(der) == 0 || len(der) > maxCertLen {
		return nil, fmt.Errorf("%w: certificate length %d", ErrNotMember, len(der))
	}
	key := sha256.Sum256(der)
	id, ok := m.cache.Get(key)
	if !ok {
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrNotMember, err)
		}
		// The validity period is checked below against the caller's time,
		// so the chain is verified at a time inside it.
		_, err = cert.Verify(x509.VerifyOptions{
			Roots:       m.pool,
			CurrentTime: cert.NotBefore,
			KeyUsages:   []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
		})
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrNotMember, m.id, err)
		}
		id, err = newIdentity(m.id, cert)
		if err != nil {
			return nil, err
		}
		m.cache.Add(key, id)
	}
	c := id.cert
	if at.Before(c.NotBefore) || at.After(c.NotAfter) {
		return nil, fmt.Errorf("%w: certificate %q is not valid at %s", ErrNotMember, c.Subject.CommonName, at.UTC().Format(time.RFC3339))
	}
	for _, r := range m.roots {
		if at.After(r.NotAfter) {
			return nil, fmt.Errorf("%w: CA %q expired", ErrNotMember, r.Subject.CommonName)
		}
	}
	return id, nil
}

// Membership is a set of organisations: the members of a channel.
type Membership struct {
	msps map[string]*MSP
}

// NewMembership returns the membership made of msps. MSP IDs must be unique.
func NewMembership(msps ...*MSP) (*Membership, error) {
	m := &Membership{msps: make(map[string]*MSP, len(msps))}
	for _, msp := range msps {
		if _, dup := m.msps[msp.id]; dup {
			return nil, fmt.Errorf("identity: duplicate MSP %q", msp.id)
		}
		m.msps[msp.id] = msp
	}
	return m, nil
}

// MSP returns the member organisation with the given ID.
func (m *Membership) MSP(id string) (*MSP, bool) {
	msp, ok := m.msps[id]
	return msp, ok
}

// IDs lists the member MSP IDs in sorted order.
func (m *Membership) IDs() []string {
	ids := make([]string, 0, len(m.msps))
	for id := range m.msps {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// Validate validates a certificate claimed to belong to organisation mspID.
func (m *Membership) Validate(mspID string, der []byte, at time.Time) (*Identity, error) {
	msp, ok := m.msps[mspID]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownMSP, mspID)
	}
	return msp.Validate(der, at)
}

// Identify finds which member organisation issued a certificate and validates
// it. It serves TLS peers, whose MSP is not stated separately.
func (m *Membership) Identify(der []byte, at time.Time) (*Identity, error) {
	for _, id := range m.IDs() {
		ident, err := m.msps[id].Validate(der, at)
		if err == nil {
			return ident, nil
		}
	}
	return nil, fmt.Errorf("%w: no member organisation issued this certificate", ErrNotMember)
}
