package gateway

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/medshare/medshare/chaincode/txbuild"
	"github.com/medshare/medshare/gateway/api"
	"github.com/medshare/medshare/network/identity"
)

// Role is a REST role. A caller's role comes from its TLS client
// certificate, issued by a consortium organisation's CA:
//
//   - admin: the certificate's OrganizationalUnit is "admin" (the MSP's
//     administrator role);
//   - auditor: a client certificate with medshare.auditor=true or
//     medshare.role=auditor, whose identity the consortium's configuration
//     (the index's auditors on main, approved by a majority of the
//     organisations) names as an auditor — an organisation's own CA cannot
//     make an auditor by itself (the server checks this part);
//   - owner, user, authority: a client certificate with medshare.role set
//     to that value (data owner: a hospital's operators and its gateway;
//     data user: doctors, nurses, researchers; attribute authority
//     operators).
//
// Anything else — a node certificate, a client without medshare.role, an
// unknown value — has no REST role and is refused (403) on every route that
// needs one.
type Role string

// The REST roles.
const (
	RoleOwner     Role = "owner"
	RoleUser      Role = "user"
	RoleAuthority Role = "authority"
	RoleAuditor   Role = "auditor"
	RoleAdmin     Role = "admin"
)

// Roles lists every REST role, for the route × role matrix.
var Roles = []Role{RoleOwner, RoleUser, RoleAuthority, RoleAuditor, RoleAdmin}

// RoleAttribute is the certificate attribute that carries the REST role.
const RoleAttribute = api.RoleAttribute

// AuditorAttribute is the contracts' auditor attribute.
const AuditorAttribute = "medshare.auditor"

// RoleOf returns the REST role an identity's certificate gives it.
func RoleOf(id *identity.Identity) (Role, bool) {
	switch id.Role() {
	case identity.RoleAdmin:
		return RoleAdmin, true
	case identity.RoleClient:
	default:
		return "", false
	}
	if v, _ := id.Attribute(AuditorAttribute); v == "true" {
		return RoleAuditor, true
	}
	v, _ := id.Attribute(RoleAttribute)
	switch r := Role(v); r {
	case RoleOwner, RoleUser, RoleAuthority, RoleAuditor:
		return r, true
	}
	return "", false
}

// Principal is an authenticated caller.
type Principal struct {
	ID   *identity.Identity
	Role Role // "" when the certificate gives no REST role
	// TLSCert is the DER of the certificate the caller presented.
	TLSCert []byte
}

// View is the principal as GET /api/v1/whoami shows it.
func (p *Principal) View(gatewayMSP, recordPrefix string) api.Principal {
	return api.Principal{Role: string(p.Role), MSP: p.ID.MSPID(), Name: p.ID.Name(), ID: p.ID.ID(), Attributes: p.ID.Attributes(),
		Gateway: gatewayMSP, RecordPrefix: recordPrefix, User: txbuild.UserID(p.ID.ID())}
}

// errUnauthenticated and errNoMember are the two ways authentication fails.
var (
	errUnauthenticated = errors.New("no client certificate: the gateway needs mutual TLS with a certificate from a consortium CA")
	errNoMember        = errors.New("the client certificate was not issued by a consortium CA, or is not valid now")
)

// authenticate validates a TLS peer's certificate chain against the
// consortium's CAs and returns the principal.
func authenticate(m *identity.Membership, chain []*x509.Certificate, now time.Time) (*Principal, error) {
	if len(chain) == 0 {
		return nil, errUnauthenticated
	}
	var id *identity.Identity
	var err error
	if msp := issuerMSP(m, chain[0]); msp != "" {
		id, err = m.Validate(msp, chain[0].Raw, now)
	}
	if id == nil {
		id, err = m.Identify(chain[0].Raw, now)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errNoMember, err)
	}
	role, _ := RoleOf(id)
	return &Principal{ID: id, Role: role, TLSCert: chain[0].Raw}, nil
}

// issuerMSP returns the one member organisation with a root CA whose
// subject is cert's issuer, or "" when none or several have. It is only a
// hint of which organisation to validate cert against first (the full
// validation still decides): Membership.Identify tries every organisation
// in turn, and each one that did not issue the certificate costs a parse
// and a failed chain verification, on every request of its callers.
func issuerMSP(m *identity.Membership, cert *x509.Certificate) string {
	found := ""
	for _, id := range m.IDs() {
		msp, _ := m.MSP(id)
		for _, r := range msp.Roots() {
			if bytes.Equal(r.RawSubject, cert.RawIssuer) {
				if found != "" && found != id {
					return ""
				}
				found = id
			}
		}
	}
	return found
}

// Access is who may call a route: the roles, and whether the caller must
// belong to the gateway's own organisation (owner routes: a hospital's
// operators act only through their own hospital's gateway).
type Access struct {
	// Public routes need no certificate.
	Public bool
	Roles  []Role
	// OwnOrg restricts data owners and administrators to the gateway's own
	// organisation: a hospital's operators act only through their own
	// hospital's gateway, and only its administrators see its metrics.
	// Other roles are not affected.
	OwnOrg bool
	// OnlyAuthority routes exist only on the gateway serving the
	// attribute authority (elsewhere: 404).
	OnlyAuthority bool
}

// Allows reports whether a principal of the given role and organisation
// may call the route on a gateway of gatewayMSP. It is the single place the
// access policy is decided; docs/api.md lists its table.
func (a Access) Allows(p *Principal, gatewayMSP string) (status int, why string) {
	return a.allows(p, gatewayMSP)
}

func (a Access) allows(p *Principal, gatewayMSP string) (status int, why string) {
	if a.Public {
		return 0, ""
	}
	if p == nil {
		return 401, errUnauthenticated.Error()
	}
	if p.Role == "" {
		return 403, "the certificate carries no REST role (medshare.role) this gateway knows"
	}
	allowed := false
	for _, r := range a.Roles {
		allowed = allowed || r == p.Role
	}
	if !allowed {
		names := make([]string, len(a.Roles))
		for i, r := range a.Roles {
			names[i] = string(r)
		}
		return 403, fmt.Sprintf("role %s may not call this route (allowed: %s)", p.Role, strings.Join(names, ", "))
	}
	if a.OwnOrg && (p.Role == RoleOwner || p.Role == RoleAdmin) && p.ID.MSPID() != gatewayMSP {
		return 403, fmt.Sprintf("this route is for %s's own callers; %s's go through their own gateway", gatewayMSP, p.ID.MSPID())
	}
	return 0, ""
}

// auditorCache holds the consortium's auditors (the index configuration's
// auditors on main) for a short time.
type auditorCache struct {
	mu      sync.Mutex
	ids     []string
	fetched time.Time
}

// auditorsTTL is how long the auditors list is reused.
const auditorsTTL = 30 * time.Second

// isAuditor reports whether the consortium's configuration names id as an
// auditor. When the ledger cannot be read and nothing is cached, it answers
// no: the auditor role fails closed.
func (s *Server) isAuditor(ctx context.Context, id string) bool {
	a := &s.auditors
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.fetched.IsZero() || time.Since(a.fetched) > auditorsTTL {
		ids, err := s.chain.Auditors(ctx)
		if err != nil {
			s.log.Warn("cannot read the consortium's auditors", "err", err)
		} else {
			a.ids, a.fetched = ids, time.Now()
		}
	}
	return slices.Contains(a.ids, id)
}
