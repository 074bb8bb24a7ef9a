// Package chaincode is the contract API of the medshare ledger, shaped after
// Hyperledger Fabric's fabric-contract-api-go and shim, so that contracts read
// like Fabric chaincode and port to Fabric with a thin adapter.
//
// A contract is a Go type that embeds Contract; each exported method whose
// first parameter is a TransactionContext is a transaction function:
//
//	type Assets struct{ chaincode.Contract }
//
//	func (a *Assets) Create(ctx chaincode.TransactionContext, id string, size int) error {
//		return ctx.GetStub().PutState(id, []byte(strconv.Itoa(size)))
//	}
//
// New builds a chaincode from one or more contracts. The ledger runs one
// chaincode call per transaction through Execute, on every node, in block
// order. A call that returns an error fails its transaction: none of its
// writes or events are kept.
//
// # Determinism
//
// Every node re-executes every transaction and compares the resulting state
// hashes, so chaincode must compute the same writes, events and result from
// the same state and arguments on every node:
//   - take time only from GetTxTimestamp, never from the clock;
//   - take randomness only from the arguments (the client chooses it);
//   - do not depend on map iteration order, goroutine scheduling, the
//     environment, the file system or the network;
//   - keep no state outside the stub (no package variables that change);
//   - return errors whose text is as deterministic as the result: it goes
//     into the transaction's result, which the block's Merkle root covers.
//     Build messages from your own words and the values at fault, not from
//     a library's error text (encoding/json's, strconv's, protobuf's), which
//     may change between releases; quote input with %+q, not %q, whose
//     output follows the Go release's Unicode tables. The router and the
//     stub follow this rule themselves (a panic's value is not reported).
//
// Access control applies to every call, including one chaincode calling
// another (Invocation.Authorize): rules compare qualified names,
// "Contract:Function" (QualifiedFunction).
//
// Differences from Fabric: reads see the transaction's own earlier writes
// (Fabric reads committed state only), transactions in one block see the
// writes of the valid transactions before them (Fabric rejects such conflicts
// as MVCC errors), and a transaction may set several events.
package chaincode

import (
	"crypto/x509"
	"errors"
	"time"

	"github.com/medshare/medshare/network/identity"
	"github.com/medshare/medshare/network/state"
)

// Stub is what a transaction can see and change: its arguments and identity,
// and the world state of its chaincode's namespace. It mirrors Fabric's
// shim.ChaincodeStubInterface.
type Stub interface {
	// GetArgs returns the call's arguments; the first is the function name.
	GetArgs() [][]byte
	// GetStringArgs returns GetArgs as strings.
	GetStringArgs() []string
	// GetFunctionAndParameters splits the arguments into function and parameters.
	GetFunctionAndParameters() (string, []string)
	// GetTxID returns the transaction ID, H(nonce ‖ creator) in hex.
	GetTxID() string
	// GetChannelID returns the channel the transaction runs on.
	GetChannelID() string
	// GetTxTimestamp returns the timestamp the client signed into the
	// transaction: the only clock chaincode may use.
	GetTxTimestamp() (time.Time, error)
	// GetCreator returns the DER certificate of the transaction's creator.
	GetCreator() ([]byte, error)

	// GetState returns the value of key, or nil if it does not exist.
	GetState(key string) ([]byte, error)
	// PutState sets the value of key. Keys are non-empty UTF-8; keys that
	// start with 0x00 are composite keys made by CreateCompositeKey.
	PutState(key string, value []byte) error
	// DelState deletes key.
	DelState(key string) error
	// GetStateByRange iterates the simple keys in [startKey, endKey); empty
	// bounds are open.
	GetStateByRange(startKey, endKey string) (StateQueryIterator, error)
	// GetStateByRangeWithPagination returns at most pageSize keys of the range
	// starting at bookmark (or startKey when bookmark is empty); the metadata's
	// bookmark continues the query and is empty on the last page.
	GetStateByRangeWithPagination(startKey, endKey string, pageSize int32, bookmark string) (StateQueryIterator, *QueryResponseMetadata, error)

	// CreateCompositeKey joins an object type and attributes into one key.
	CreateCompositeKey(objectType string, attributes []string) (string, error)
	// SplitCompositeKey reverses CreateCompositeKey.
	SplitCompositeKey(compositeKey string) (string, []string, error)
	// GetStateByPartialCompositeKey iterates the composite keys of objectType
	// whose leading attributes equal keys.
	GetStateByPartialCompositeKey(objectType string, keys []string) (StateQueryIterator, error)
	// GetStateByPartialCompositeKeyWithPagination pages through
	// GetStateByPartialCompositeKey.
	GetStateByPartialCompositeKeyWithPagination(objectType string, keys []string, pageSize int32, bookmark string) (StateQueryIterator, *QueryResponseMetadata, error)

	// GetHistoryForKey returns the committed modifications of key, newest first.
	GetHistoryForKey(key string) (HistoryQueryIterator, error)

	// SetEvent emits a chaincode event, delivered to listeners when the
	// transaction commits as valid.
	SetEvent(name string, payload []byte) error

	// InvokeChaincode calls another chaincode on the same channel within this
	// transaction; channel must be empty or this channel. Its writes join this
	// transaction's if it succeeds and are dropped if it fails.
	InvokeChaincode(chaincodeName string, args [][]byte, channel string) ([]byte, error)
}

// KV is one result of a state query.
type KV struct {
	Namespace string
	Key       string
	Value     []byte
}

// KeyModification is one entry of a key's history.
type KeyModification = state.KeyModification

// QueryResponseMetadata describes one page of a paginated query.
type QueryResponseMetadata struct {
	FetchedRecordsCount int32
	Bookmark            string
}

// StateQueryIterator iterates over state query results.
type StateQueryIterator interface {
	HasNext() bool
	Next() (*KV, error)
	Close() error
}

// HistoryQueryIterator iterates over a key's history.
type HistoryQueryIterator interface {
	HasNext() bool
	Next() (*KeyModification, error)
	Close() error
}

// Event is a chaincode event set by a transaction.
type Event struct {
	Chaincode string
	Name      string
	Payload   []byte
}

// ClientIdentity describes the creator of a transaction, as Fabric's cid
// package does.
type ClientIdentity interface {
	// GetID returns the creator's unique name: "x509::<subject>::<issuer>".
	GetID() (string, error)
	// GetMSPID returns the creator's organisation.
	GetMSPID() (string, error)
	// GetAttributeValue returns a certificate attribute of the creator.
	GetAttributeValue(name string) (value string, found bool, err error)
	// AssertAttributeValue fails unless the attribute has the given value.
	AssertAttributeValue(name, value string) error
	// GetX509Certificate returns the creator's certificate.
	GetX509Certificate() (*x509.Certificate, error)
	// GetRole returns the creator's role in its organisation.
	GetRole() identity.Role
}

// TransactionContext is the first parameter of every transaction function.
type TransactionContext interface {
	GetStub() Stub
	GetClientIdentity() ClientIdentity
}

// Errors the stub returns.
var (
	// ErrReadOnly is returned by writes during an evaluation (a query).
	ErrReadOnly = errors.New("chaincode: write in a read-only evaluation")
	// ErrInvalidKey is returned for keys that are empty, too long, not UTF-8,
	// or simple keys that start with the composite-key prefix.
	ErrInvalidKey = errors.New("chaincode: invalid key")
	// ErrInvalidArgument is returned for malformed query or event arguments.
	ErrInvalidArgument = errors.New("chaincode: invalid argument")
)

// Limits the stub enforces.
const (
	// MaxKeyLen is the longest key, in bytes.
	MaxKeyLen = 2048
	// MaxValueLen is the largest value, in bytes.
	MaxValueLen = 4 << 20
	// MaxEventPayload is the largest event payload, in bytes.
	MaxEventPayload = 256 << 10
	// MaxCallDepth bounds nested InvokeChaincode calls.
	MaxCallDepth = 8
)
