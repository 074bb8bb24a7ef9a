package chaincode

import (
	"time"

	"github.com/medshare/medshare/network/identity"
)

// Members is what chaincode may learn about the organisations of its
// channel, from the channel's configuration: which organisations are members
// (for rules such as "a majority of the channel's organisations") and whether
// a certificate was issued by one of them (to check, for example, a
// signature recorded in the world state against the signer's certificate
// rather than against a key stored beside it). *identity.Membership
// implements it.
//
// Both are pure functions of the channel configuration, the certificate and
// the time given, so chaincode stays deterministic when it passes the
// transaction timestamp (or a time recorded in the world state) as at.
type Members interface {
	// IDs lists the member organisations' MSP IDs, sorted.
	IDs() []string
	// Validate checks that a DER certificate was issued by organisation
	// mspID, is valid at time at and carries a role, and returns the
	// identity it names.
	Validate(mspID string, der []byte, at time.Time) (*identity.Identity, error)
}

// ChannelMembers returns the membership of the channel the stub's
// transaction runs on. ok is false when the ledger running the chaincode
// does not provide it (a stub that is not this package's, or an invocation
// without Invocation.Members).
func ChannelMembers(stub Stub) (m Members, ok bool) {
	s, isTx := stub.(*txStub)
	if !isTx || s.inv.Members == nil {
		return nil, false
	}
	return s.inv.Members, true
}
