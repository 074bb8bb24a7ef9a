// Package setup implements the Init function every medshare chaincode has:
// the chaincode's configuration, one JSON argument, which every other
// function refuses to run without.
//
// The configuration is governed as Fabric governs chaincode definitions: it
// is set, and changed, only by the init call of a chaincode definition that
// a majority of the channel's organisations approved and an administrator
// committed through the lifecycle ("_lifecycle"). Init checks, against the
// committed definition, that it runs as that definition's init call, with
// exactly its argument, and that the definition's sequence was not applied
// before; a direct Init call by any one administrator is refused. The
// lifecycle keeps each organisation's approval on chain, and the chaincode
// the sequence it applied.
package setup

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/medshare/medshare/chaincode/ccerr"
	"github.com/medshare/medshare/chaincode/internal/caller"
	"github.com/medshare/medshare/network/chaincode"
	"github.com/medshare/medshare/network/lifecycle"
	"github.com/medshare/medshare/network/pb"
)

// EventConfigured is the event Init emits; its payload is the stored
// configuration JSON.
const EventConfigured = "Configured"

// MaxConfigLen bounds the Init argument.
const MaxConfigLen = 64 << 10

// InitFunction is the name of the init function a chaincode definition must
// call to configure a medshare chaincode.
const InitFunction = "Init"

// stateKey is the composite key holding the configuration, and appliedKey
// the one holding the Applied record: composite keys never appear in
// simple-key range queries.
var (
	stateKey   = compositeKey("config")
	appliedKey = compositeKey("config~applied")
)

func compositeKey(obj string) string {
	k, _ := chaincode.CreateCompositeKey(obj, nil)
	return k
}

// Applied records which committed chaincode definition set the current
// configuration.
type Applied struct {
	// Sequence is the definition's lifecycle sequence.
	Sequence uint64 `json:"sequence"`
	// TxID and At are the committing transaction and its time.
	TxID string    `json:"txID"`
	At   time.Time `json:"at"`
}

// Config loads, checks and stores the configuration T of one chaincode
// instance. Check validates a configuration and fills its derived,
// unexported fields (parsed keys, loaded time zones); it must depend on the
// configuration alone. Update, when set, vets a change from old to new (for
// fields that may not change once set).
//
// Loaded configurations are cached by their exact stored bytes, which is
// deterministic-safe: the result is a pure function of those bytes.
type Config[T any] struct {
	// Name is the chaincode's name, for messages.
	Name string
	// Check validates cfg and fills its derived fields.
	Check func(cfg *T) error
	// Update vets a change of configuration; nil allows any change.
	Update func(old, cfg *T) error

	mu     sync.Mutex
	raw    []byte
	cached *T
}

// Init stores the configuration raw (a JSON object) for the channel. It
// runs only as the init call of a committed chaincode definition (see the
// package comment): the lifecycle's Commit, once a majority of the channel's
// organisations approved a definition carrying raw, calls it — first in the
// deploy transaction, later to change the configuration. It returns the
// stored configuration.
func (c *Config[T]) Init(ctx chaincode.TransactionContext, raw string) (*T, error) {
	who, err := caller.Of(ctx)
	if err != nil {
		return nil, err
	}
	if err := who.RequireAdmin("call Init"); err != nil {
		return nil, err
	}
	if len(raw) > MaxConfigLen {
		return nil, ccerr.Invalid("config", "must be at most %d bytes of JSON", MaxConfigLen)
	}
	cfg := new(T)
	if err := DecodeStrict("config", []byte(raw), cfg); err != nil {
		return nil, err
	}
	if err := c.Check(cfg); err != nil {
		return nil, err
	}
	stub := ctx.GetStub()
	applied, err := c.governed(stub, raw)
	if err != nil {
		return nil, err
	}
	if c.Update != nil {
		prev, err := stub.GetState(stateKey)
		if err != nil {
			return nil, err
		}
		if prev != nil {
			old, err := c.decode(prev)
			if err != nil {
				return nil, err
			}
			if err := c.Update(old, cfg); err != nil {
				return nil, err
			}
		}
	}
	stored, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	if err := stub.PutState(stateKey, stored); err != nil {
		return nil, err
	}
	b, err := json.Marshal(applied)
	if err != nil {
		return nil, err
	}
	if err := stub.PutState(appliedKey, b); err != nil {
		return nil, err
	}
	if err := stub.SetEvent(EventConfigured, stored); err != nil {
		return nil, err
	}
	return cfg, nil
}

// governed checks that this Init call is the init call of the chaincode's
// committed definition, with exactly raw as its argument, and that the
// definition's sequence is newer than the one that set the current
// configuration. It returns the record to store.
func (c *Config[T]) governed(stub chaincode.Stub, raw string) (*Applied, error) {
	out, err := stub.InvokeChaincode(lifecycle.Name, [][]byte{[]byte(lifecycle.FnQueryCommitted), []byte(c.Name)}, "")
	if err != nil {
		return nil, ccerr.Forbidden("caller", "%s is configured only through the chaincode lifecycle, by a definition a majority of the channel's organisations approved: %v", c.Name, err)
	}
	def := new(pb.ChaincodeDefinition)
	if err := proto.Unmarshal(out, def); err != nil {
		return nil, fmt.Errorf("%s: the committed chaincode definition is unreadable: %w", c.Name, err)
	}
	if def.GetInitFunction() != InitFunction || len(def.GetInitArgs()) != 1 || string(def.GetInitArgs()[0]) != raw {
		return nil, ccerr.Forbidden("config", "is not the init argument of %s's committed definition (sequence %d); after deployment the configuration changes only through a new definition whose init call %s carries it, approved by a majority of the channel's organisations and committed through the lifecycle", c.Name, def.GetSequence(), InitFunction)
	}
	var prev Applied
	if b, err := stub.GetState(appliedKey); err != nil {
		return nil, err
	} else if b != nil {
		if err := json.Unmarshal(b, &prev); err != nil {
			return nil, fmt.Errorf("%s: the applied configuration record is unreadable: %w", c.Name, err)
		}
	}
	if def.GetSequence() <= prev.Sequence {
		return nil, ccerr.Forbidden("config", "the committed definition of %s (sequence %d) was already applied; a change needs a new definition approved by a majority of the channel's organisations", c.Name, def.GetSequence())
	}
	now, err := stub.GetTxTimestamp()
	if err != nil {
		return nil, err
	}
	return &Applied{Sequence: def.GetSequence(), TxID: stub.GetTxID(), At: now}, nil
}

// Applied returns the record of the committed definition that set the
// current configuration, or an ErrNotInitialised refusal before Init.
func (c *Config[T]) Applied(ctx chaincode.TransactionContext) (*Applied, error) {
	b, err := ctx.GetStub().GetState(appliedKey)
	if err != nil {
		return nil, err
	}
	if b == nil {
		return nil, ccerr.NotInitialised(c.Name)
	}
	var a Applied
	if err := json.Unmarshal(b, &a); err != nil {
		return nil, fmt.Errorf("%s: the applied configuration record is unreadable: %w", c.Name, err)
	}
	return &a, nil
}

// Load returns the channel's configuration, or an ErrNotInitialised refusal
// before Init. The result is shared: callers must not modify it.
func (c *Config[T]) Load(ctx chaincode.TransactionContext) (*T, error) {
	b, err := ctx.GetStub().GetState(stateKey)
	if err != nil {
		return nil, err
	}
	if b == nil {
		return nil, ccerr.NotInitialised(c.Name)
	}
	return c.decode(b)
}

func (c *Config[T]) decode(b []byte) (*T, error) {
	c.mu.Lock()
	if c.cached != nil && bytes.Equal(c.raw, b) {
		v := c.cached
		c.mu.Unlock()
		return v, nil
	}
	c.mu.Unlock()
	cfg := new(T)
	if err := json.Unmarshal(b, cfg); err != nil {
		return nil, ccerr.Invalid("config", "stored configuration is unreadable: %v", err)
	}
	if err := c.Check(cfg); err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.raw, c.cached = bytes.Clone(b), cfg
	c.mu.Unlock()
	return cfg, nil
}

// Caller loads the configuration and the transaction's creator.
func (c *Config[T]) Caller(ctx chaincode.TransactionContext) (*T, *caller.Caller, error) {
	cfg, err := c.Load(ctx)
	if err != nil {
		return nil, nil, err
	}
	who, err := caller.Of(ctx)
	if err != nil {
		return nil, nil, err
	}
	return cfg, who, nil
}

// Client is Caller for functions only client identities may call; what
// says what they do, for the refusal.
func (c *Config[T]) Client(ctx chaincode.TransactionContext, what string) (*T, *caller.Caller, error) {
	cfg, who, err := c.Caller(ctx)
	if err != nil {
		return nil, nil, err
	}
	if err := who.RequireClient(what); err != nil {
		return nil, nil, err
	}
	return cfg, who, nil
}

// DecodeStrict decodes one JSON value into v, refusing unknown fields and
// trailing data, with errors that name arg.
func DecodeStrict(arg string, b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return ccerr.Invalid(arg, "invalid JSON: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	if dec.More() {
		return ccerr.Invalid(arg, "invalid JSON: trailing data after the object")
	}
	return nil
}
