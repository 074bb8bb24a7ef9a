// Package caller describes the creator of a transaction as the medshare
// chaincodes use it: identity, organisation, role, signing key, and what
// audit data it may read.
//
// Audit data (logs, violations, provenance, request logs, record histories)
// is readable by the data's owner, by the data user it is about (a user is
// named by the identity hash of the enrolled identity the attribute
// authority bound its keys to, the same hash a transaction creator's
// IdentityHash gives), and by the auditors the chaincode's configuration
// names. That configuration is approved by a majority of the channel's
// organisations (package setup), so no organisation alone makes an auditor:
// neither an administrator role nor an attribute an organisation's own CA
// puts in a certificate grants audit reads.
package caller

import (
	"crypto/ecdsa"
	"fmt"
	"slices"
	"strings"

	"github.com/medshare/medshare/chaincode/ccerr"
	"github.com/medshare/medshare/chaincode/internal/statekey"
	"github.com/medshare/medshare/network/chaincode"
	"github.com/medshare/medshare/network/identity"
)

// MaxAuditors bounds the auditors a configuration names.
const MaxAuditors = 64

// Caller is the creator of the current transaction.
type Caller struct {
	// ID is the creator's unique name, "x509::<subject>::<issuer>".
	ID string
	// MSP is the creator's organisation.
	MSP string
	// Role is admin, client or node.
	Role identity.Role
	// Key is the public key of the creator's certificate.
	Key *ecdsa.PublicKey
	// Cert is the creator's certificate (DER).
	Cert []byte
}

// Of returns the creator of the transaction in ctx.
func Of(ctx chaincode.TransactionContext) (*Caller, error) {
	cid := ctx.GetClientIdentity()
	id, err := cid.GetID()
	if err != nil {
		return nil, ccerr.Forbidden("caller", "the transaction has no creator")
	}
	msp, err := cid.GetMSPID()
	if err != nil {
		return nil, ccerr.Forbidden("caller", "the transaction has no creator")
	}
	cert, err := cid.GetX509Certificate()
	if err != nil || cert == nil {
		return nil, ccerr.Forbidden("caller", "the transaction has no creator certificate")
	}
	key, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok {
		return nil, ccerr.Forbidden("caller", "the creator's certificate key is not ECDSA")
	}
	return &Caller{ID: id, MSP: msp, Role: cid.GetRole(), Key: key, Cert: cert.Raw}, nil
}

// OwnerHash is the identity hash of the caller (statekey.Identity): the
// name of its records' owner in state keys, and of the data user it is when
// the attribute authority bound a user's keys to this identity.
func (c *Caller) OwnerHash() string { return statekey.Identity(c.ID) }

// RequireClient refuses callers that are not client identities; what says
// what they tried to do.
func (c *Caller) RequireClient(what string) error {
	if c.Role != identity.RoleClient {
		return ccerr.Forbidden("caller", "only client identities may %s; the creator's role is %s", what, c.Role)
	}
	return nil
}

// RequireAdmin refuses callers that are not channel administrators.
func (c *Caller) RequireAdmin(what string) error {
	if c.Role != identity.RoleAdmin {
		return ccerr.Forbidden("caller", "only a channel admin (role admin) may %s; the creator's role is %s", what, c.Role)
	}
	return nil
}

// RequireOwner refuses callers other than owner (an identity's unique name).
func (c *Caller) RequireOwner(owner, what string) error {
	if c.ID != owner {
		return ccerr.Forbidden("caller", "only the owner may %s", what)
	}
	return nil
}

// RequireReader refuses callers other than the data's owner (an identity's
// unique name; "" when the data has none), the data user it is about (a
// user id; "" when none) and the auditors aud names.
func (c *Caller) RequireReader(owner, user string, aud Auditors, what string) error {
	if owner != "" && c.ID == owner || user != "" && c.OwnerHash() == user || aud.Has(c.ID) {
		return nil
	}
	switch {
	case owner != "" && user != "":
		return ccerr.Forbidden("caller", "only the owner, the user it concerns or an auditor the channel's configuration names may %s", what)
	case owner != "":
		return ccerr.Forbidden("caller", "only the owner or an auditor the channel's configuration names may %s", what)
	case user != "":
		return ccerr.Forbidden("caller", "only the user it concerns or an auditor the channel's configuration names may %s", what)
	}
	return c.RequireAuditor(aud, what)
}

// RequireAuditor refuses callers the configuration does not name as
// auditors.
func (c *Caller) RequireAuditor(aud Auditors, what string) error {
	if !aud.Has(c.ID) {
		return ccerr.Forbidden("caller", "only an auditor the channel's configuration names may %s", what)
	}
	return nil
}

// Auditors are the identities (unique names, "x509::<subject>::<issuer>")
// a chaincode's configuration names as auditors.
type Auditors []string

// Has reports whether id is one of the auditors.
func (a Auditors) Has(id string) bool { return slices.Contains(a, id) }

// Check validates a configuration's auditors field, named name: at most
// MaxAuditors distinct identity names of 8..1024 bytes starting "x509::".
func (a Auditors) Check(name string) error {
	if len(a) > MaxAuditors {
		return ccerr.Invalid(name, "must name at most %d auditors, got %d", MaxAuditors, len(a))
	}
	for i, id := range a {
		if len(id) < 8 || len(id) > 1024 || !strings.HasPrefix(id, "x509::") || strings.ContainsAny(id, "\x00\n") {
			return ccerr.Invalid(fmt.Sprintf("%s[%d]", name, i), "must be an identity's unique name, \"x509::<subject>::<issuer>\"")
		}
		if slices.Contains(a[:i], id) {
			return ccerr.Invalid(fmt.Sprintf("%s[%d]", name, i), "names %s twice", id)
		}
	}
	return nil
}
