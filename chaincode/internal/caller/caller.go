// Package caller describes the creator of a transaction as the medshare
// chaincodes use it: identity, organisation, role, signing key, and whether it
// may read audit data.
package caller

import (
	"crypto/ecdsa"
	"fmt"

	"github.com/medshare/medshare/chaincode/ccerr"
	"github.com/medshare/medshare/chaincode/internal/statekey"
	"github.com/medshare/medshare/network/chaincode"
	"github.com/medshare/medshare/network/identity"
)

// AuditorAttribute is the certificate attribute that lets a client identity
// read audit data (logs, violations, provenance) of every owner, when its
// value is "true". Admins may always read it.
const AuditorAttribute = "medshare.auditor"

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
	// Auditor is set for identities with AuditorAttribute=true.
	Auditor bool
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
	v, found, err := cid.GetAttributeValue(AuditorAttribute)
	if err != nil {
		return nil, fmt.Errorf("caller: %w", err)
	}
	return &Caller{ID: id, MSP: msp, Role: cid.GetRole(), Key: key, Auditor: found && v == "true"}, nil
}

// OwnerHash is the key-hash of the caller's identity (see statekey.Owner).
func (c *Caller) OwnerHash() string { return statekey.Owner(c.ID) }

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

// CanAudit reports whether the caller may read every owner's audit data:
// admins and auditors.
func (c *Caller) CanAudit() bool { return c.Role == identity.RoleAdmin || c.Auditor }

// RequireOwner refuses callers other than owner (an identity's unique name).
func (c *Caller) RequireOwner(owner, what string) error {
	if c.ID != owner {
		return ccerr.Forbidden("caller", "only the owner may %s", what)
	}
	return nil
}

// RequireReader refuses callers that are neither owner nor auditors.
func (c *Caller) RequireReader(owner, what string) error {
	if c.ID != owner && !c.CanAudit() {
		return ccerr.Forbidden("caller", "only the owner, an admin or an auditor (%s=true) may %s", AuditorAttribute, what)
	}
	return nil
}

// RequireAuditor refuses callers that are neither admins nor auditors.
func (c *Caller) RequireAuditor(what string) error {
	if !c.CanAudit() {
		return ccerr.Forbidden("caller", "only an admin or an auditor (%s=true) may %s", AuditorAttribute, what)
	}
	return nil
}
