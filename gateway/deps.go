package gateway

import (
	"context"

	"github.com/medshare/medshare/abe"
	"github.com/medshare/medshare/abe/policy"
	"github.com/medshare/medshare/abe/tag"
	"github.com/medshare/medshare/gateway/api"
	"github.com/medshare/medshare/gateway/replicate"
)

// Replication is the replication follower as /readyz sees it
// (*replicate.Follower implements it).
type Replication interface {
	Status() replicate.Status
}

// Objects is the organisation's IPFS node as the gateway uses it. Add pins
// what it adds. Implementations wrap unreachability in ErrIPFSUnavailable
// and a missing object in ErrObjectNotFound.
type Objects interface {
	Add(ctx context.Context, data []byte) (cid string, err error)
	// AddTx adds and pins bytes the caller supplied (a pre-sealed
	// upload), which may be another record's object: undo, for an upload
	// that failed, unpins only a pin this call made and no other upload of
	// the same bytes holds or committed; commit ends it once the upload is
	// recorded. Exactly one of them is called.
	AddTx(ctx context.Context, data []byte) (cid string, commit func(), undo func(context.Context) error, err error)
	Cat(ctx context.Context, cid string) ([]byte, error)
	Unpin(ctx context.Context, cid string) error
	Ready(ctx context.Context) error
}

// Graded is a document graded into the three sensitivity levels: each
// level's plaintext (nil when no element went there) and how many elements
// went to each, and the document's kind (its FHIR resource type, or "json").
type Graded struct {
	Kind   string
	Levels [policy.NumLevels][]byte
	Counts [policy.NumLevels]int
}

// Grader grades a document. A document it refuses yields a *FieldError
// naming the offending path (document.<FHIR path>), which becomes a 422.
type Grader interface {
	Grade(doc []byte) (*Graded, error)
}

// Params are the attribute authority's public parameters, decoded.
type Params struct {
	Scheme    abe.Scheme
	PublicKey *abe.PublicKey
	Epoch     uint64
	Schema    *tag.Schema
	Raw       *api.AuthorityParams
}

// Keys is where an owner's gateway gets what it encrypts with: the
// authority's parameters and tag key, and its custodian key for an epoch.
// Implementations wrap unreachability in ErrAuthorityUnavailable.
type Keys interface {
	Params(ctx context.Context) (*Params, error)
	TagKey(ctx context.Context) (tag.Key, error)
	CustodianKey(ctx context.Context, epoch uint64) (*abe.UserKey, error)
}
